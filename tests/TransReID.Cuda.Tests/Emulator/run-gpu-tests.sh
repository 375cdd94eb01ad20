#!/usr/bin/env bash
# Runs the Gpu tests of TransReID.Cuda.Tests on the CPU emulator (no GPU needed): the real CudaBackend, the real
# NVRTC (kernels still compiled to CUBIN, then checked and discarded by the fake driver), the emulated kernels and a
# loop-based cuBLAS. `./build.sh test` runs exactly this, as `run-gpu-tests.sh --no-build --skip-if-unavailable
# --both-orders`.
#
#   run-gpu-tests.sh [--no-build] [--skip-if-unavailable] [--both-orders] [--kernels DIR] [test arguments...]
#
#   --no-build              use the Release build of the test project that is already there (./build.sh test made it)
#   --skip-if-unavailable   without g++ or NVRTC, print one note: line and exit 0 instead of failing
#   --both-orders           run the tests twice, with TRANSREID_EMU_ORDER=0 and =1 (every scheduling direction
#                           reversed, so each pair of threads of a phase runs in both orders; see README.md);
#                           otherwise once, with TRANSREID_EMU_ORDER as set (default 0)
#   --kernels DIR           emulate the .cu files of DIR (e.g. an edited copy of runtime/TransReID.Runtime/Kernels,
#                           to see that a test catches a bug) instead of the repository's; NVRTC still compiles the
#                           repository's kernels, the emulator is built in a temporary folder
#   test arguments          go to the test executable after --filter-trait "Category=Gpu",
#                           e.g. --filter-method "*Attention*" or --filter-class "TransReID.Cuda.Tests.ModelCudaTests"
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
build=1 skip=0 orders="${TRANSREID_EMU_ORDER:-0}" kernels=""
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0; shift ;;
    --skip-if-unavailable) skip=1; shift ;;
    --both-orders) orders="0 1"; shift ;;
    --kernels) kernels="$(cd "$2" && pwd)"; shift 2 ;;
    *) break ;;
  esac
done
unavailable() {
  if [ $skip = 1 ]; then echo "note: $1; the emulated Gpu tests are skipped" >&2; exit 0; fi
  echo "error: $1" >&2
  exit 1
}

[ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || unavailable "the CPU emulator of CUDA runs on x86-64 Linux only (this is $(uname -s)-$(uname -m))"
command -v g++ >/dev/null 2>&1 || unavailable "g++ is not installed (the CPU emulator of CUDA is built with it)"
nvrtc="${TRANSREID_NVRTC_PATH:-$(find "$repo/.nvrtc" -name 'libnvrtc.so.*' ! -name '*builtins*' 2>/dev/null | sort | tail -1)}"
[ -n "$nvrtc" ] && [ -f "$nvrtc" ] || unavailable "NVRTC not found (run tests/TransReID.Cuda.Tests/get-nvrtc.sh or set TRANSREID_NVRTC_PATH)"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/transreid-emu.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS
if [ -n "$kernels" ]; then lib="$("$here/build.sh" "$kernels" "$tmp/emu" | tail -1)"; else lib="$("$here/build.sh" | tail -1)"; fi
echo "emulator built in $((SECONDS - start)) s: $lib"
if [ $build = 1 ]; then dotnet build "$repo/tests/TransReID.Cuda.Tests" -c Release --nologo -v q; fi
dll="$repo/tests/TransReID.Cuda.Tests/bin/Release/net10.0/TransReID.Cuda.Tests.dll"
[ -f "$dll" ] || { echo "error: $dll is missing (build the solution in Release first, or drop --no-build)" >&2; exit 1; }

# A private kernel cache (shared by the runs of this invocation only), removed at the end.
cache="$tmp/cache"
mkdir -p "$cache"
status=0
for order in $orders; do
  start=$SECONDS
  rc=0
  TRANSREID_CUDA_DRIVER_PATH="$lib" TRANSREID_CUBLAS_PATH="$lib" TRANSREID_NVRTC_PATH="$nvrtc" TRANSREID_CACHE="$cache" \
    TRANSREID_EMU_ORDER="$order" dotnet "$dll" --filter-trait "Category=Gpu" "$@" || rc=$?
  echo "emulated Gpu tests, TRANSREID_EMU_ORDER=$order: $((SECONDS - start)) s, exit code $rc"
  [ $rc = 0 ] || status=$rc
done
exit $status
