#!/usr/bin/env bash
# One entry point for the two jobs in README.md:
#   ./build.sh quickstart   synthetic data -> train -> evaluate (the main job, CPU or GPU)
#   ./build.sh test         build with warnings as errors, then every test project (GPU tests skip without a device)
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
case "${1:-test}" in
  test)
    dotnet build TransReID.Compiler.sln -c Release -warnaserror --nologo -v minimal
    status=0
    for t in tests/TransReID.Generators.Tests tests/TransReID.Runtime.Tests tests/TransReID.Tests tests/TransReID.Cuda.Tests; do
      echo "== $t"
      dotnet test --project "$t" -c Release --no-build || status=1
    done
    exit $status
    ;;
  quickstart)
    shift
    dotnet run --project samples/QuickStart -c Release -- "$@"
    ;;
  *)
    echo "usage: ./build.sh test|quickstart [args]" >&2
    exit 2
    ;;
esac
