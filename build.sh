#!/usr/bin/env bash
# One entry point for the two jobs in README.md:
#   ./build.sh quickstart   synthetic data -> train -> evaluate (the main job, CPU or GPU)
#   ./build.sh test         build with warnings as errors, then every test project (GPU tests skip without a device)
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
      dotnet test --project "$t" -c Release --no-build || status=1
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
  gpu-prepare)
    # stage .device/ for the one-call GPU check (tools/gpu-check/gpu-check.sh; docs/gpu.md)
    bash tools/gpu-check/prepare.sh
    ;;
  gpu-dry-run)
    # the staged GPU check, run here on the CPU emulator of the CUDA API (no GPU needed)
    bash tools/gpu-check/dry-run.sh
    ;;
  *)
    echo "usage: ./build.sh test|quickstart|gpu-prepare|gpu-dry-run [args]" >&2
    exit 2
    ;;
esac
