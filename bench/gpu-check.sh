#!/usr/bin/env bash
# Retort on a real GPU: times the reference workloads W1–W3 on tfjs's webgpu backend (Dawn over
# Vulkan) and, beside them, the same workloads in PyTorch on CUDA when PyTorch is installed.
#
# Runs from the self-contained gpu-bundle/ (built by bench/gpu/build-bundle.sh; needs no Node.js
# and no network on the GPU machine), or from a Retort checkout with Node.js and node_modules.
#
#   ./gpu-check.sh [--batch 128] [--seconds 4] [--only W1,W2,W3] [--allow-software]
#                  [--bundled-vulkan] [--no-torch]
#
# --allow-software  accept a software adapter (Mesa llvmpipe/lavapipe) instead of failing; for
#                   testing the bundle on a machine without a GPU.
# --bundled-vulkan  use the bundle's libvulkan.so.1 even when the host has one.
#
# Needs on the GPU machine: the NVIDIA driver with its Vulkan ICD (nvidia_icd.json and
# libGLX_nvidia.so.0; in a container, NVIDIA_DRIVER_CAPABILITIES must include "graphics"),
# python3 for the summary table, and xz or python3 to unpack the bundle.
set -euo pipefail

batch=128 seconds=4 only="W1,W2,W3" allow_software=0 bundled_vulkan=0 torch=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --batch) batch="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --allow-software) allow_software=1; shift ;;
    --bundled-vulkan) bundled_vulkan=1; shift ;;
    --no-torch) torch=0; shift ;;
    -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "gpu-check: unknown option $1" >&2; exit 2 ;;
  esac
done

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="$(command -v python3 || true)"

unxz_to() { # unxz_to SRC DEST
  if command -v xz >/dev/null; then
    xz -dc "$1" >"$2.tmp"
  elif [[ -n "$python" ]]; then
    "$python" -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2.tmp"
  else
    echo "gpu-check: need xz or python3 to unpack $1" >&2
    exit 1
  fi
  mv "$2.tmp" "$2"
}

# --- how to run the Retort side -------------------------------------------------------------
if [[ -f "$here/bench.mjs" && -f "$here/node.xz" ]]; then
  mode=bundle
  stamp="$(cksum <"$here/MANIFEST" | cut -d' ' -f1)"
  run="${RETORT_GPU_RUNDIR:-${TMPDIR:-/tmp}/retort-gpu-$stamp}"
  if [[ ! -x "$run/node" || ! -f "$run/node_modules/webgpu/dist/linux-x64/dawn.node" ]]; then
    echo "unpacking the bundle into $run"
    mkdir -p "$run/node_modules/webgpu/dist/linux-x64"
    unxz_to "$here/node.xz" "$run/node"
    chmod +x "$run/node"
    cp "$here/webgpu/"* "$run/node_modules/webgpu/"
    unxz_to "$here/dawn.node.xz" "$run/node_modules/webgpu/dist/linux-x64/dawn.node"
  fi
  cp "$here/bench.mjs" "$run/bench.mjs"
  retort=("$run/node" "$run/bench.mjs")
  vulkan_lib="$here/lib"
  peer="$here/torch_peer.py"
elif [[ -f "$here/gpu/bench.ts" ]] && command -v node >/dev/null; then
  mode=checkout
  repo="$(cd "$here/.." && pwd)"
  retort=(node "$repo/node_modules/tsx/dist/cli.mjs" "$repo/bench/gpu/bench.ts")
  vulkan_lib=""
  peer="$here/gpu/torch_peer.py"
else
  echo "gpu-check: run it from gpu-bundle/ (bench/gpu/build-bundle.sh) or from a checkout with Node.js" >&2
  exit 1
fi

# --- the Vulkan loader and the NVIDIA ICD -------------------------------------------------------
if [[ -n "$vulkan_lib" ]] && { ((bundled_vulkan)) || ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1 '; }; then
  export LD_LIBRARY_PATH="$vulkan_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "vulkan loader: bundled (Debian libvulkan1)"
else
  echo "vulkan loader: $(ldconfig -p 2>/dev/null | grep -m1 'libvulkan\.so\.1 ' | sed 's/.*=> //' || echo none)"
fi
icd=""
for dir in ${XDG_CONFIG_DIRS:-/etc/xdg} /etc /usr/local/share /usr/share ${XDG_DATA_DIRS:-}; do
  for f in "$dir"/vulkan/icd.d/nvidia_icd*.json; do
    [[ -f "$f" ]] && icd="$f" && break 2
  done
done
if [[ -z "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" && -z "$icd" ]]; then
  glx="$(ldconfig -p 2>/dev/null | grep -m1 'libGLX_nvidia\.so\.0 ' | sed 's/.*=> //' || true)"
  if [[ -n "$glx" ]]; then
    icd="${TMPDIR:-/tmp}/retort-nvidia_icd.json"
    printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' "$glx" >"$icd"
    export VK_ICD_FILENAMES="$icd"
    echo "nvidia vulkan ICD: none installed; using $glx through $icd"
  else
    echo "nvidia vulkan ICD: NOT FOUND (no nvidia_icd.json, no libGLX_nvidia.so.0)." >&2
    echo "  In a container, start it with NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics (or all)." >&2
  fi
else
  echo "nvidia vulkan ICD: ${VK_ICD_FILENAMES:-${VK_DRIVER_FILES:-$icd}}"
fi
if command -v nvidia-smi >/dev/null; then
  echo "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1)"
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# --- Retort (tfjs webgpu) ---------------------------------------------------------------------
echo
echo "== Retort: tfjs webgpu (Dawn), batch $batch, $mode"
args=(--backend webgpu --only "$only" --batch "$batch" --seconds "$seconds")
((allow_software)) || args+=(--require-hardware)
status=0
"${retort[@]}" "${args[@]}" | tee "$tmp/retort.jsonl" || status=$?

# --- PyTorch (CUDA) ---------------------------------------------------------------------------
if ((torch)) && [[ -n "$python" ]] && "$python" -c "import torch" 2>/dev/null; then
  device=cpu
  "$python" -c "import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)" && device=cuda
  echo
  echo "== PyTorch $("$python" -c 'import torch; print(torch.__version__)') on $device, batch $batch"
  "$python" "$peer" --device "$device" --only "$only" --batch "$batch" --seconds "$seconds" --threads "$(nproc)" |
    tee "$tmp/torch.jsonl" || true
elif ((torch)); then
  echo
  echo "== PyTorch: not installed for ${python:-python3}; skipped"
fi

# --- side by side -----------------------------------------------------------------------------
if [[ -n "$python" ]]; then
  echo
  "$python" - "$tmp/retort.jsonl" "$tmp/torch.jsonl" <<'PY'
import json, sys, os
def rows(path):
    if not os.path.exists(path):
        return {}
    out = {}
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            r = json.loads(line)
            out[r["workload"]] = r
    return out
retort, torch = rows(sys.argv[1]), rows(sys.argv[2])
names = sorted(set(retort) | set(torch))
if not names:
    sys.exit(0)
print(f"{'workload':<9}{'retort webgpu ms/step':>23}{'pytorch ms/step':>18}{'retort/pytorch':>16}")
for n in names:
    r, t = retort.get(n, {}).get("ms_per_step"), torch.get(n, {}).get("ms_per_step")
    ratio = f"{r / t:.1f}x" if r and t else "-"
    fmt = lambda v: f"{v:.2f}" if v is not None else "-"
    print(f"{n:<9}{fmt(r):>23}{fmt(t):>18}{ratio:>16}")
if retort:
    first = next(iter(retort.values()))
    print(f"adapter: {first.get('adapter')}")
if torch:
    first = next(iter(torch.values()))
    print(f"pytorch device: {first.get('device')}")
PY
fi
exit "$status"
