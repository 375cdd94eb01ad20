#!/usr/bin/env bash
# One entry point for the two jobs in README.md:
#   ./build.sh quickstart   synthetic data -> train -> evaluate (the main job, CPU or GPU)
#   ./build.sh test         build with warnings as errors, then every test project (GPU tests skip without a device)
#   ./build.sh install [PREFIX]   the transreid command in PREFIX/bin (default ~/.local, /usr/local as root)
#   ./build.sh gpu-prepare  stage .device/ for the one-call GPU check; ./build.sh gpu-dry-run runs it on the emulator
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# OpenBLAS (Debian libopenblas0-pthread) gives the CPU backend its fast GEMM path; without it the managed SIMD kernel
# runs everywhere. Best effort, only where apt-get and root are available; the tests cover both paths.
setup_openblas() {
  if ! ldconfig -p 2>/dev/null | grep -q 'libopenblas.so.0' && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenblas0-pthread) >/dev/null 2>&1 \
      || echo "note: could not install libopenblas0-pthread; using the managed GEMM" >&2
  fi
}

# The probe the Gpu tests use (TestEnvironment.RequireGpu): one Gpu test is run; when it is skipped (MTP exit code 8,
# zero tests ran) no CUDA device is usable and its skip reason is printed. Passed, failed or not found: a device (or
# doubt), and the Gpu tests run as usual.
cuda_dll=tests/TransReID.Cuda.Tests/bin/Release/net10.0/TransReID.Cuda.Tests.dll
no_cuda_reason() {
  local out rc=0
  out="$(dotnet "$cuda_dll" --filter-method "TransReID.Cuda.Tests.DeviceTests.With_cuda_a_missing_ordinal_is_named" 2>&1)" || rc=$?
  [ $rc = 8 ] && grep -q '^skipped TransReID\.Cuda\.Tests\.DeviceTests\.' <<<"$out" || return 1
  sed -n '/^skipped /{n;s/^ *//;s/ (every Gpu test.*//;s/\.$//;p;q}' <<<"$out"
}

case "${1:-test}" in
  test)
    setup_openblas
    # NVRTC needs no GPU: with it the CUDA kernels are compile-checked here too (Debian non-free, ~16 MB; best effort)
    bash tests/TransReID.Cuda.Tests/get-nvrtc.sh >/dev/null 2>&1 || echo "note: NVRTC not available; kernel compile tests skip" >&2
    # warnings are errors through Directory.Build.props (TreatWarningsAsErrors; NU1603 of ApprovalTests excepted)
    dotnet build TransReID.Compiler.sln -c Release --nologo -v minimal
    status=0
    for t in tests/TransReID.Generators.Tests tests/TransReID.Runtime.Tests tests/TransReID.Tests tests/TransReID.Cuda.Tests; do
      echo "== $t"
      args=()
      if [ "$t" = tests/TransReID.Cuda.Tests ] && reason="$(no_cuda_reason)"; then
        # without a usable device every Gpu test would print its own skip line: one note instead, with the real count
        n="$(dotnet "$cuda_dll" --list-tests --filter-trait "Category=Gpu" | sed -n 's/.*found \([0-9][0-9]*\) test(s).*/\1/p')" || true
        echo "note: ${n:-the} Gpu tests not run here (${reason:-no usable CUDA device}); they run below on the CPU emulator"
        args=(-- --filter-not-trait "Category=Gpu")
      fi
      dotnet test --project "$t" -c Release --no-build ${args[@]+"${args[@]}"} || status=1
    done
    # The Gpu tests once more on the CPU emulator of the CUDA driver, cuBLAS and the kernels, in both scheduling orders
    # (tests/TransReID.Cuda.Tests/Emulator/README.md); without g++ or NVRTC one note: line and nothing else.
    echo "== tests/TransReID.Cuda.Tests, Category=Gpu, on the CPU emulator"
    bash tests/TransReID.Cuda.Tests/Emulator/run-gpu-tests.sh --no-build --skip-if-unavailable --both-orders || status=1
    exit $status
    ;;
  quickstart)
    shift
    setup_openblas
    dotnet run --project samples/QuickStart -c Release -- "$@"
    ;;
  install)
    # ./build.sh install [PREFIX]: the transreid CLI, framework-dependent, in PREFIX/lib/transreid with a wrapper
    # PREFIX/bin/transreid (PREFIX: /usr/local as root, else ~/.local). Idempotent; the new build is published to a
    # temporary folder beside the old one and swapped in by renames, so a failed build leaves the old install working.
    if [ "$(id -u)" = 0 ]; then default_prefix=/usr/local; else default_prefix="$HOME/.local"; fi
    prefix="${2:-$default_prefix}"
    mkdir -p "$prefix/lib" "$prefix/bin"
    prefix="$(cd "$prefix" && pwd)"
    lib="$prefix/lib/transreid"
    dotnet_host="$(command -v dotnet)"
    dotnet_host="$(readlink -f "$dotnet_host" 2>/dev/null || echo "$dotnet_host")"
    stage="$(mktemp -d "$prefix/lib/.transreid-new.XXXXXX")"
    trap 'rm -rf "$stage" "$prefix/bin/.transreid-new.$$"' EXIT
    dotnet publish src/TransReID.Cli -c Release --nologo -v quiet -p:UseAppHost=false -o "$stage"
    # native libraries (ONNX Runtime, SkiaSharp) of other systems: this is a Linux install (about 390 MB of them otherwise)
    if [ -d "$stage/runtimes" ]; then find "$stage/runtimes" -mindepth 1 -maxdepth 1 ! -name 'linux-*' -exec rm -rf {} +; fi
    cat > "$prefix/bin/.transreid-new.$$" <<EOF
#!/bin/sh
# transreid: written by ./build.sh install from $(pwd); the CLI itself is $lib/TransReID.Cli.dll
if command -v dotnet >/dev/null 2>&1; then exec dotnet "$lib/TransReID.Cli.dll" "\$@"; fi
exec "$dotnet_host" "$lib/TransReID.Cli.dll" "\$@"
EOF
    chmod 755 "$prefix/bin/.transreid-new.$$" "$stage"
    old=""
    if [ -e "$lib" ]; then old="$prefix/lib/.transreid-old.$$"; mv "$lib" "$old"; fi
    mv "$stage" "$lib"
    mv -f "$prefix/bin/.transreid-new.$$" "$prefix/bin/transreid"
    [ -n "$old" ] && rm -rf "$old"
    echo "installed transreid: $prefix/bin/transreid -> $lib"
    case ":$PATH:" in *":$prefix/bin:"*) ;; *) echo "note: $prefix/bin is not on PATH; add it (export PATH=\"$prefix/bin:\$PATH\")" >&2 ;; esac
    ;;
  gpu-prepare)
    # stage .device/ for the one-call GPU check (tools/gpu-check/gpu-check.sh; docs/gpu.md)
    bash tools/gpu-check/prepare.sh
    ;;
  gpu-dry-run)
    # the staged GPU check, run here on the CPU emulator of the CUDA API (no GPU needed)
    bash tools/gpu-check/dry-run.sh
    ;;
  *)
    echo "usage: ./build.sh test|quickstart|install [PREFIX]|gpu-prepare|gpu-dry-run [args]" >&2
    exit 2
    ;;
esac
