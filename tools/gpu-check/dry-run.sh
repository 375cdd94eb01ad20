#!/usr/bin/env bash
# A dry run of the GPU check on this machine: the staged .device/ (./build.sh gpu-prepare) runs gpu-check.sh against
# the CPU emulator of the CUDA driver, cuBLAS and our kernels (tests/TransReID.Cuda.Tests/Emulator), with the tiny-demo
# preset instead of the Market one (the emulator runs a ViT-B far too slowly). It shows every step producing its log
# and summary line before a GPU session spends device time on it. Output: $OUT (default /tmp/gpu-check-dry-run).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
[ -x "$repo/.device/gpu-check.sh" ] || [ -f "$repo/.device/gpu-check.sh" ] || { echo "error: run ./build.sh gpu-prepare first" >&2; exit 2; }
emulator=$("$repo/tests/TransReID.Cuda.Tests/Emulator/build.sh" | tail -1)
nvrtc=${TRANSREID_NVRTC_PATH:-$(find "$repo/.nvrtc" -name 'libnvrtc.so.*' ! -name '*builtins*' 2>/dev/null | sort | tail -1)}
[ -n "$nvrtc" ] || { echo "error: no NVRTC: run tests/TransReID.Cuda.Tests/get-nvrtc.sh first" >&2; exit 2; }
export OUT=${OUT:-/tmp/gpu-check-dry-run}
rm -rf "$OUT" /tmp/gpu-check-cache
export TRANSREID_CUDA_DRIVER_PATH=$emulator TRANSREID_CUBLAS_PATH=$emulator TRANSREID_NVRTC_PATH=$nvrtc
export PRESET=${PRESET:-tiny-demo} BENCH_STEPS=${BENCH_STEPS:-3} BUDGET_S=${BUDGET_S:-900}
bash "$repo/.device/gpu-check.sh" || true
echo "dry run output: $OUT"
cat "$OUT/summary.txt"
