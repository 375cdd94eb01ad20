#!/usr/bin/env bash
# Builds the CPU emulator of the CUDA driver + cuBLAS + every kernel in runtime/TransReID.Runtime/Kernels into
# Emulator/bin/libtransreid-fakecuda.so (bin/ is git-ignored). Needs g++ with C++20 and python3.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
out="$here/bin"
mkdir -p "$out/gen"
python3 "$here/gen_kernels.py" "$repo/runtime/TransReID.Runtime/Kernels" "$out/gen"
g++ -std=c++20 -O2 -fPIC -shared -pthread -Wall -Wno-unused-function -Wno-unused-variable -Wno-unknown-pragmas \
    -I"$here" -I"$repo/runtime/TransReID.Runtime/Kernels" \
    "$here/fake_driver.cpp" "$out"/gen/*.cpp -o "$out/libtransreid-fakecuda.so"
echo "$out/libtransreid-fakecuda.so"
