#!/usr/bin/env bash
# Runs the Gpu tests of TransReID.Cuda.Tests on the CPU emulator (no GPU needed): the real CudaBackend, the real
# NVRTC (kernels still compiled to CUBIN, then checked and discarded by the fake driver), the emulated kernels and a
# loop-based cuBLAS. Takes a few minutes on two cores. Extra arguments go to the test executable
# (e.g. --filter-method "*Attention*").
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
"$here/build.sh" >/dev/null
nvrtc="${TRANSREID_NVRTC_PATH:-$(find "$repo/.nvrtc" -name 'libnvrtc.so.*' ! -name '*builtins*' 2>/dev/null | sort | tail -1)}"
[ -n "$nvrtc" ] || { echo "no NVRTC: run tests/TransReID.Cuda.Tests/get-nvrtc.sh first" >&2; exit 1; }
dotnet build "$repo/tests/TransReID.Cuda.Tests" -nologo -v q
cache="$(mktemp -d)"
trap 'rm -rf "$cache"' EXIT
TRANSREID_CUDA_DRIVER_PATH="$here/bin/libtransreid-fakecuda.so" TRANSREID_CUBLAS_PATH="$here/bin/libtransreid-fakecuda.so" \
TRANSREID_NVRTC_PATH="$nvrtc" TRANSREID_CACHE="$cache" \
    dotnet "$repo/tests/TransReID.Cuda.Tests/bin/Debug/net10.0/TransReID.Cuda.Tests.dll" --filter-trait "Category=Gpu" "$@"
