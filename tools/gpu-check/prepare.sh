#!/usr/bin/env bash
# Stages everything the GPU check needs into .device/ at the repository root (git-ignored; carry [".device"]):
#   .device/dotnet-rt.tar.xz     this machine's .NET runtime, packed (the GPU machine has no .NET and no network)
#   .device/app/cli/             Release publishes for linux-x64, framework-dependent, native assets of other platforms
#                                removed: the CLI and the benchmark program (cuda-info, weights, compare) together
#   .device/app/tests/           the CUDA test assembly, with its app host (xunit.v3 test projects require one)
#   .device/gpu-check.sh         the check itself (tools/gpu-check/gpu-check.sh)
# The working tree and the carried paths together must stay under 64 MiB; this refuses to stage more than 55 MiB.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
limit_mib=${GPU_STAGE_LIMIT_MIB:-55}
grep -qxF '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >> .git/info/exclude
mkdir -p .device/app
dotnet_dir=$(dirname "$(readlink -f "$(command -v dotnet)")")
if [ ! -s .device/dotnet-rt.tar.xz ]; then
    echo "packing the .NET runtime from $dotnet_dir"
    (cd "$dotnet_dir" && tar -cf - dotnet host/fxr shared/Microsoft.NETCore.App) | xz -T0 -6 > .device/dotnet-rt.tar.xz.tmp
    mv .device/dotnet-rt.tar.xz.tmp .device/dotnet-rt.tar.xz
fi
# The CLI and the benchmark program share one folder: the same assemblies (and SkiaSharp's 11 MB of natives) once.
publish() {
    local project=$1 dir=$2
    echo "publishing $(basename "$project" .csproj) into .device/app/$dir"
    dotnet publish "$project" -c Release -r linux-x64 --self-contained false -o ".device/app/$dir" --nologo -v quiet
}
rm -rf .device/app/cli .device/app/tests
publish src/TransReID.Cli/TransReID.Cli.csproj cli
publish bench/TransReID.Benchmarks/TransReID.Benchmarks.csproj cli
publish tests/TransReID.Cuda.Tests/TransReID.Cuda.Tests.csproj tests
find .device/app -mindepth 3 -maxdepth 3 -path '*/runtimes/*' ! -name linux-x64 -exec rm -rf {} +
# ONNX Runtime (28 MB) serves only `bench --peer onnxruntime`, a CPU comparison the GPU check does not run; it is loaded
# when a session is created, so the CLI works without it (the peer then fails with a clear message).
rm -f .device/app/cli/*onnxruntime* .device/app/cli/runtimes/*/native/*onnxruntime*
cp tools/gpu-check/gpu-check.sh .device/gpu-check.sh
size=$(du -sm .device | cut -f1)
tree=$(git ls-files -z | xargs -0 du -cm 2>/dev/null | tail -1 | cut -f1)
echo "staged .device: ${size} MiB (working tree about ${tree} MiB; carry limit 64 MiB in all)"
if [ "$size" -gt "$limit_mib" ]; then
    echo "error: .device is ${size} MiB, over the ${limit_mib} MiB staging limit" >&2
    exit 1
fi
echo "device command: bash .device/gpu-check.sh   (carry [\".device\"], timeout about 500 s)"
