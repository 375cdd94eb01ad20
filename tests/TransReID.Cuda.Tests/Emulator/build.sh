#!/usr/bin/env bash
# Builds the CPU emulator of the CUDA driver + cuBLAS + every kernel in runtime/TransReID.Runtime/Kernels into
# Emulator/bin/libtransreid-fakecuda.so (bin/ is git-ignored) and prints its path. Needs the .NET SDK (the .cu -> C++
# translator is tools/CudaEmulatorGen) and g++ with C++20 on x86-64 Linux. Incremental: only translation units whose
# sources or headers changed are recompiled (g++ -MMD), in parallel.
#   build.sh [kernels dir [out dir]]   (defaults: runtime/TransReID.Runtime/Kernels, Emulator/bin; other folders are
#                                      for trying the emulator on an edited copy of the kernels)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
kernels="$(cd "${1:-$repo/runtime/TransReID.Runtime/Kernels}" && pwd)"
out="$(mkdir -p "${2:-$here/bin}" && cd "${2:-$here/bin}" && pwd)"
mkdir -p "$out/gen" "$out/obj"

# 1. Kernels/*.cu -> bin/gen/*.cpp. The Release build of the solution (./build.sh test) already built the tool; run
#    that dll unless a source of the tool is newer, else build and run it.
tool="$repo/tools/CudaEmulatorGen"
dll="$tool/bin/Release/net10.0/CudaEmulatorGen.dll"
if [ -f "$dll" ] && [ -z "$(find "$tool" -maxdepth 1 \( -name '*.cs' -o -name '*.csproj' \) -newer "$dll")" ]; then
  dotnet "$dll" "$kernels" "$out/gen"
else
  dotnet run --project "$tool" -c Release -v q -- "$kernels" "$out/gen"
fi

# 2. Compile what changed, then link.
flags=(-std=c++20 -O2 -fPIC -fvisibility=hidden -pthread -fno-strict-aliasing -ffp-contract=off
       -Wall -Wno-unused-function -Wno-unused-variable -Wno-unknown-pragmas -I"$here" -I"$kernels")
stale() { # object: missing, or older than one of the files its .d lists
  local o="$1" d="${1%.o}.d" dep
  [ -f "$o" ] && [ -f "$d" ] || return 0
  for dep in $(sed -e 's/^[^:]*://' -e 's/\\$//' "$d"); do
    [ "$dep" -nt "$o" ] && return 0
  done
  return 1
}
todo=()
objects=()
for src in "$here/fake_driver.cpp" "$here/emu_runtime.cpp" "$out"/gen/*.cpp; do
  o="$out/obj/$(basename "${src%.cpp}").o"
  objects+=("$o")
  if stale "$o"; then todo+=("$src"); fi
done
# an object whose kernel file was deleted must not be linked
for o in "$out"/obj/*.o; do
  case " ${objects[*]} " in *" $o "*) ;; *) rm -f "$o" "${o%.o}.d" ;; esac
done
if [ ${#todo[@]} -gt 0 ]; then
  export out
  printf '%s\n' "${todo[@]}" | xargs -P "$(nproc)" -I{} sh -c 'src="$1"; shift; exec g++ "$@" -MMD -c "$src" -o "$out/obj/$(basename "$src" .cpp).o"' sh {} "${flags[@]}"
fi
lib="$out/libtransreid-fakecuda.so"
if [ ${#todo[@]} -gt 0 ] || [ ! -f "$lib" ]; then
  g++ -shared -pthread "${objects[@]}" -o "$lib.tmp"
  mv "$lib.tmp" "$lib"
fi
echo "$lib"
