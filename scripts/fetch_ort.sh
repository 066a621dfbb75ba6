#!/usr/bin/env bash
# Installs ONNX Runtime 1.30 (npm package onnxruntime-node, CPU library inside) under
# ${ORT_DIR:-build/ort}/node_modules, for bench/ort_bench.js: the reference iris's runtime is
# measured against. Not a build dependency. Each tarball is checked against a pinned sha256.
# Idempotent: an install made from the pinned tarballs stays.
#
# The package's postinstall step only downloads the optional CUDA/TensorRT libraries, which
# ONNXRUNTIME_NODE_INSTALL=skip turns off; extracting the tarballs here is that install, without
# npm resolving that step's own unpinned dependencies (adm-zip, global-agent).
set -euo pipefail

cd "$(dirname "$0")/.."
dest=${ORT_DIR:-build/ort}
# package -> sha256 of its npm tarball (its npm integrity, sha512, matches as well)
declare -A packages=(
  [onnxruntime-node@1.30.0]=6e3390d6b783e7be946fad629292799da28d0b42f84856e50d2c1b0383291e75
  [onnxruntime-common@1.30.0]=7906c439e0d3e0f4048caa23b64cdfadc0f455c377f579ce1ab2a4b778f07d5f
)
stamp="$dest/node_modules/.iris-pinned"
want=$(for p in "${!packages[@]}"; do echo "$p ${packages[$p]}"; done | sort)
[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && exit 0

command -v npm >/dev/null || { echo "fetch_ort: needs npm; run scripts/deps.sh" >&2; exit 1; }
# Only this machine's native binding is kept: the tarball holds every platform's (113 MB).
platform=$(node -p 'process.platform + "/" + process.arch')
echo "ort: fetching ${!packages[*]} from the npm registry"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -rf "$dest/node_modules"
mkdir -p "$dest/node_modules"
for p in "${!packages[@]}"; do
  name=${p%@*}
  (cd "$tmp" && npm pack --silent "$p" >/dev/null)
  tarball=$(ls "$tmp/$name"-*.tgz)
  [ "$(sha256sum "$tarball" | cut -d' ' -f1)" = "${packages[$p]}" ] || {
    echo "fetch_ort: $p does not match its pinned sha256 ${packages[$p]}; refusing it" >&2
    exit 1
  }
  mkdir -p "$tmp/$name"
  if [ "$name" = onnxruntime-node ]; then
    tar -xzf "$tarball" -C "$tmp/$name" package/package.json package/dist \
      "package/bin/napi-v6/$platform" || {
      echo "fetch_ort: $p has no native binding for $platform" >&2
      exit 1
    }
  else
    tar -xzf "$tarball" -C "$tmp/$name"
  fi
  mv "$tmp/$name/package" "$dest/node_modules/$name"
done
echo "$want" > "$stamp"
echo "ort: installed in $dest/node_modules ($platform)"
