#!/usr/bin/env bash
# Builds Retort's optional native kernel addon (native/build/Release/retort_native.node).
#
# Needs a C++ compiler and OpenBLAS headers (Debian/Ubuntu: apt-get install -y libopenblas-dev).
# Uses the node-gyp bundled with npm and the headers of the installed Node (--nodedir), so it
# works offline. Without the addon Retort runs on pure wasm kernels; set RETORT_NATIVE=0 to
# force that even when the addon is built.
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

if ! printf '#include <cblas.h>\n' | ${CXX:-c++} -E -x c++ -I/usr/include/x86_64-linux-gnu/openblas-pthread -I/usr/include/openblas - >/dev/null 2>&1; then
  echo "build-native: OpenBLAS headers missing (apt-get install -y libopenblas-dev)" >&2
  exit 1
fi

node "$gyp" rebuild --nodedir="$nodedir" --loglevel=warn
echo "build-native: built $root/native/build/Release/retort_native.node"
