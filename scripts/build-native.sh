#!/usr/bin/env bash
# Builds Retort's native kernel addon (native/build/Release/retort_native.node) from the sources
# in native/ (its own sgemm, convolutions and thread pool; no BLAS library, nothing downloaded).
#
# Needs what node-gyp needs: a C++17 compiler, make and python3. Uses the node-gyp bundled with
# npm and the headers of the installed Node (--nodedir), so it works offline. `npm install` runs
# it (scripts/install-native.mjs); without the addon Retort runs on pure wasm kernels. Set
# RETORT_NATIVE=0 to force that even when the addon is built, RETORT_NATIVE_MARCH to build for
# another CPU than this one (default -march=native, e.g. RETORT_NATIVE_MARCH=-march=x86-64-v3).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/native"

node_bin="$(command -v node)"
nodedir="${RETORT_NODEDIR:-$(dirname "$(dirname "$node_bin")")}"
if [ ! -f "$nodedir/include/node/node_api.h" ]; then
  echo "build-native: no Node headers under $nodedir/include/node (set RETORT_NODEDIR)" >&2
  exit 1
fi

gyp=""
if [ -f "$root/node_modules/node-gyp/bin/node-gyp.js" ]; then
  gyp="$root/node_modules/node-gyp/bin/node-gyp.js"
else
  npm_root="$(npm prefix -g)/lib/node_modules/npm"
  if [ -f "$npm_root/node_modules/node-gyp/bin/node-gyp.js" ]; then
    gyp="$npm_root/node_modules/node-gyp/bin/node-gyp.js"
  fi
fi
if [ -z "$gyp" ]; then
  echo "build-native: node-gyp not found (it ships with npm)" >&2
  exit 1
fi
for tool in "${CXX:-c++}" make python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "build-native: $tool not found (node-gyp needs a C++ compiler, make and python3)" >&2
    exit 1
  fi
done

node "$gyp" rebuild --nodedir="$nodedir" --loglevel=warn
# -march=native code may not run on another CPU: record this one's instruction-set flags so that
# Retort refuses to load the addon on a CPU that lacks one (instead of dying of SIGILL).
cpu_file="$root/native/build/Release/retort_native.cpu"
rm -f "$cpu_file"
if [ -z "${RETORT_NATIVE_MARCH:-}" ] && [ -r /proc/cpuinfo ]; then
  grep -m1 -E '^(flags|Features)' /proc/cpuinfo | sed 's/^[^:]*: *//' > "$cpu_file" || rm -f "$cpu_file"
fi
echo "build-native: built $root/native/build/Release/retort_native.node"
