#!/usr/bin/env bash
# Stages everything the GPU check needs into .device/ at the repository root (git-ignored; carry [".device"]):
#   .device/dotnet-rt.tar.xz     this machine's .NET runtime, packed (the GPU machine has no .NET and no network)
#   .device/app/<project>/       Release publishes for linux-x64, framework-dependent, with their app hosts (xunit.v3
#                                test projects require one), native assets of other platforms removed:
#                                the CLI, the CUDA test assembly, the benchmark program (cuda-info, weights, compare)
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
for project in src/TransReID.Cli/TransReID.Cli.csproj tests/TransReID.Cuda.Tests/TransReID.Cuda.Tests.csproj \
               bench/TransReID.Benchmarks/TransReID.Benchmarks.csproj; do
    name=$(basename "$project" .csproj)
    rm -rf ".device/app/$name"
    echo "publishing $name"
    dotnet publish "$project" -c Release -r linux-x64 --self-contained false -o ".device/app/$name" --nologo -v quiet
    if [ -d ".device/app/$name/runtimes" ]; then
        find ".device/app/$name/runtimes" -mindepth 1 -maxdepth 1 ! -name linux-x64 -exec rm -rf {} +
    fi
    rm -f ".device/app/$name"/*.pdb.tmp
done
cp tools/gpu-check/gpu-check.sh .device/gpu-check.sh
size=$(du -sm .device | cut -f1)
tree=$(git ls-files -z | xargs -0 du -cm 2>/dev/null | tail -1 | cut -f1)
echo "staged .device: ${size} MiB (working tree about ${tree} MiB; carry limit 64 MiB in all)"
if [ "$size" -gt "$limit_mib" ]; then
    echo "error: .device is ${size} MiB, over the ${limit_mib} MiB staging limit" >&2
    exit 1
fi
echo "device command: bash .device/gpu-check.sh   (carry [\".device\"], timeout about 500 s)"
