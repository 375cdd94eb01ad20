#!/usr/bin/env bash
# gpu-check.sh: the whole GPU check of the CUDA backend in ONE device call, inside a hard budget (BUDGET_S, default
# 420 s). The GPU machine is lent rarely and briefly, so every part runs, each in its own process (a kernel fault
# poisons the CUDA context of its process, never the next part), and nothing stops at the first failure.
#
#   here:        ./build.sh gpu-prepare           stages .device/ (runtime, CLI, test assembly, helpers, this script)
#   the device:  bash .device/gpu-check.sh         with carry [".device"]; allow BUDGET_S + about 60 s
#   dry run:     ./build.sh gpu-dry-run            the same script here, on the CPU emulator of the CUDA API
#
# Writes under $OUT: one log per step, xUnit TRX reports, bench.json, kernel-cache/ and summary.txt (a verdict line per
# step plus the lines that matter: test totals, parity numbers, img/s).
#
# Knobs: ONLY=regex of step names (rerun what failed), BUDGET_S, SYNC=1 (TRANSREID_CUDA_SYNC=1 and
# CUDA_LAUNCH_BLOCKING=1: every launch is synchronised, so a fault names its kernel and op), PRESET (default
# market-vit-transreid-stride; the dry run uses tiny-demo), BENCH_STEPS (default 10).
#
# Steps:
#   00-env         nvidia-smi, driver and CUDA library files, compute-sanitizer, .NET runtime
#   01-info        CUDA backend (device, driver, NVRTC, cuBLAS), memory, launch limits; NVRTC header probe
#                  (cuda_bf16.h, cuda_fp16.h, mma.h, cuda/std) with and without an include path
#   02-gpu-tests   every Category=Gpu test except the whole-model ones (each op, CUDA vs CPU; cache; OOM; faults)
#   03-model-tests ModelCudaTests: tiny models (Embed + every gradient, SGD steps) and the Market stride Embed
#   04-nvrtc-tests the assembly's other tests (every kernel compiles warning-free with this NVRTC; library probing)
#   05-cli         `transreid embed` of the preset with the same random weights on cpu and on cuda, the same 40
#                  synthetic images, batch 16 (short last batch of 8) and batch 7 on cuda: relative L2 <= 1e-4
#                  (cpu vs cuda) and <= 1e-5 (cuda batch 16 vs 7)
#   06-bench       `transreid bench` of the preset on cuda, fp32: TrainStep batch 64, Embed batch 256
#   07-sanitizer   compute-sanitizer memcheck / racecheck / synccheck on op tests, with the time that is left
set -uo pipefail

D=$(cd "$(dirname "$0")" && pwd)          # .device
OUT=${OUT:-/tmp/gpu-check-out}
mkdir -p "$OUT"
BUDGET_S=${BUDGET_S:-420}
PRESET=${PRESET:-market-vit-transreid-stride}
BENCH_STEPS=${BENCH_STEPS:-10}
T0=$(date +%s)
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"

# The .NET runtime travels packed (the device has none); CUDA's libraries are found through LD_LIBRARY_PATH.
if [ ! -x /tmp/dotnet/dotnet ]; then mkdir -p /tmp/dotnet && tar -xJf "$D/dotnet-rt.tar.xz" -C /tmp/dotnet; fi
export DOTNET_ROOT=/tmp/dotnet PATH=/tmp/dotnet:$PATH
export PATH=$PATH:/usr/local/cuda/bin
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export LD_LIBRARY_PATH=/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export TRANSREID_CACHE=${TRANSREID_CACHE:-/tmp/gpu-check-cache}   # kernel CUBIN cache (copied to $OUT at the end)
unset NVIDIA_TF32_OVERRIDE                                         # fp32 parity: the environment never turns TF32 on
if [ "${SYNC:-0}" = 1 ]; then export TRANSREID_CUDA_SYNC=1 CUDA_LAUNCH_BLOCKING=1; fi

TESTS="$D/app/tests/TransReID.Cuda.Tests.dll"
CLI="$D/app/cli/TransReID.Cli.dll"
TOOLS="$D/app/cli/TransReID.Benchmarks.dll"
TOPTS=(--no-progress --no-ansi --output Detailed --results-directory "$OUT")
export TESTS CLI TOOLS PRESET OUT BENCH_STEPS

left() { echo $(( BUDGET_S - ($(date +%s) - T0) )); }

# step NAME TIMEOUT_S COMMAND...: runs with min(TIMEOUT_S, budget left), logs to $OUT/NAME.log, adds a verdict line
# and the log's key lines to the summary. Never stops the script.
step() {
    local name=$1 limit=$2; shift 2
    if [ -n "${ONLY:-}" ] && ! [[ $name =~ $ONLY ]]; then return 0; fi
    local rest; rest=$(left)
    if [ "$rest" -lt 20 ]; then echo "SKIP  $name (budget spent)" | tee -a "$SUMMARY"; return 0; fi
    [ "$limit" -gt "$rest" ] && limit=$rest
    local s; s=$(date +%s)
    timeout --kill-after=10 "$limit" "$@" > "$OUT/$name.log" 2>&1
    local rc=$?
    local verdict=PASS
    [ $rc -ne 0 ] && verdict="FAIL rc=$rc"
    [ $rc -eq 124 ] && verdict="TIMEOUT after ${limit}s"
    printf '%-5s %-15s %4ss  %s\n' "${verdict%% *}" "$name" "$(( $(date +%s) - s ))" "$verdict" | tee -a "$SUMMARY"
    grep -E "^(  )?(total:|failed:|succeeded:|skipped:)|^failed |RESULT |compare |header probe|^backend:|^memory:|^limits:|^error:|^bench " \
        "$OUT/$name.log" | cut -c1-300 | sed 's/^/      /' | tee -a "$SUMMARY"
    return 0
}

# 00 environment
{
    date -u; uname -a
    nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.used,memory.total,clocks.max.sm --format=csv 2>&1 || true
    ls -l /usr/local/cuda/lib64/libnvrtc.so.* /usr/local/cuda/lib64/libcublas.so.* /usr/local/cuda/lib64/libcublasLt.so.* 2>&1
    ls -l /usr/local/nvidia/lib64/libcuda.so.1 /usr/lib/x86_64-linux-gnu/libcuda.so.1 2>&1
    ls /usr/local/cuda/include/cuda_bf16.h /usr/local/cuda/include/mma.h 2>&1
    command -v compute-sanitizer || echo "compute-sanitizer: not on PATH"
    dotnet --info | head -8
    env | grep -E '^TRANSREID_|^CUDA_' | sort
} > "$OUT/00-env.log" 2>&1
if grep -q '^name, driver' "$OUT/00-env.log"; then
    echo "env   $(grep -A1 '^name, driver' "$OUT/00-env.log" | tail -1)" | tee -a "$SUMMARY"
else
    echo "env   nvidia-smi not available (${TRANSREID_CUDA_DRIVER_PATH:+driver: $TRANSREID_CUDA_DRIVER_PATH})" | tee -a "$SUMMARY"
fi

# 01 backend + NVRTC headers
step 01-info 60 dotnet "$TOOLS" cuda-info

# 02 every op on CUDA vs the CPU backend (+ cache, OOM, lifetimes, events, TF32 opt-in, fault reports)
step 02-gpu-tests 150 dotnet "$TESTS" --filter-trait "Category=Gpu" --filter-not-class "TransReID.Cuda.Tests.ModelCudaTests" \
    "${TOPTS[@]}" --report-xunit-trx --report-xunit-trx-filename gpu-tests.trx

# 03 whole generated models on CUDA vs the CPU
step 03-model-tests 150 dotnet "$TESTS" --filter-class "TransReID.Cuda.Tests.ModelCudaTests" \
    "${TOPTS[@]}" --report-xunit-trx --report-xunit-trx-filename model-tests.trx

# 04 the rest of the assembly (this NVRTC compiles every kernel with an empty log; resolver; device selection)
step 04-nvrtc-tests 60 dotnet "$TESTS" --filter-not-trait "Category=Gpu" \
    "${TOPTS[@]}" --report-xunit-trx --report-xunit-trx-filename other-tests.trx

# 05 CLI: one preset, the same weights and the same 40 images on cpu and cuda
cli_check() {
    set -e
    local w=/tmp/gpu-check-cli model=market cameras=6
    [ "$PRESET" = tiny-demo ] && { model=tiny; cameras=3; }
    rm -rf "$w"; mkdir -p "$w/images"
    dotnet "$CLI" synth --out "$w/data" --ids 30 --cameras $cameras --images-per-camera 2 --seed 3
    find "$w/data/bounding_box_test" -type f | sort | head -40 | xargs -I{} cp {} "$w/images/"
    echo "images: $(ls "$w/images" | wc -l)"
    dotnet "$TOOLS" weights "$w/weights.safetensors" 1 "$model"
    local e=(embed --preset "$PRESET" --weights "$w/weights.safetensors" --images "$w/images")
    dotnet "$CLI" "${e[@]}" --output "$w/cpu.safetensors" --batch 16 --device cpu
    dotnet "$CLI" "${e[@]}" --output "$w/cuda.safetensors" --batch 16 --device cuda
    dotnet "$CLI" "${e[@]}" --output "$w/cuda-b7.safetensors" --batch 7 --device cuda
    local rc=0
    dotnet "$TOOLS" compare "$w/cpu.safetensors" "$w/cuda.safetensors" 1e-4 || rc=1
    dotnet "$TOOLS" compare "$w/cuda.safetensors" "$w/cuda-b7.safetensors" 1e-5 || rc=1
    return $rc
}
export -f cli_check
step 05-cli 120 bash -c cli_check

# 06 throughput: the preset on cuda, fp32 (no TF32)
bench_cuda() {
    local b=64 e=256
    [ "$PRESET" = tiny-demo ] && { b=8; e=16; }
    dotnet "$CLI" bench --preset "$PRESET" --device cuda --batch $b --embed-batch $e --steps "$BENCH_STEPS" --warmup 2 \
        --precision fp32 --json "$OUT/bench.json"
    local rc=$?
    # one RESULT line per workload from bench.json (no jq or Python needed)
    [ -f "$OUT/bench.json" ] && awk -F': ' '
        /"call"/ { gsub(/[",]/, "", $2); call = $2 }
        /"median_ms"/ { gsub(/,/, "", $2); ms = $2 }
        /"images_per_second"/ { gsub(/,/, "", $2); ips = $2 }
        /"flops_per_second"/ && !/peak/ { gsub(/,/, "", $2); fl = $2 }
        /"fraction_of_peak"/ { gsub(/,/, "", $2); frac = $2 }
        /"peak_memory_bytes"/ { gsub(/,/, "", $2);
            printf "RESULT %s: %.1f img/s, median %.1f ms, %.1f TFLOP/s, %.1f%% of peak, peak memory %.0f MiB\n", call, ips, ms, fl / 1e12, 100 * frac, $2 / 1048576 }
        ' "$OUT/bench.json"
    nvidia-smi --query-gpu=memory.used,memory.total --format=csv,noheader 2>/dev/null || true
    return $rc
}
export -f bench_cuda
step 06-bench 150 bash -c bench_cuda

# 07 compute-sanitizer (out-of-bounds accesses, shared-memory races, bad barriers: what the emulator cannot see),
# with the time that is left
if command -v compute-sanitizer >/dev/null; then
    SAN=(--filter-class "TransReID.Cuda.Tests.CudaMatchesCpuTests" --no-progress --no-ansi)
    step 07-memcheck 100 compute-sanitizer --tool memcheck --error-exitcode 9 --print-limit 20 dotnet "$TESTS" "${SAN[@]}"
    step 07-racecheck 60 compute-sanitizer --tool racecheck --error-exitcode 9 --print-limit 20 dotnet "$TESTS" "${SAN[@]}" \
        --filter-method "*BatchNorm*" --filter-method "*LayerNorm*" --filter-method "*Triplet*" --filter-method "*CrossEntropy*" \
        --filter-method "*Linear*"
    step 07-synccheck 45 compute-sanitizer --tool synccheck --error-exitcode 9 --print-limit 20 dotnet "$TESTS" "${SAN[@]}" \
        --filter-method "*Attention*" --filter-method "*LayerNorm*" --filter-method "*Triplet*"
else
    echo "SKIP  07-sanitizer    (compute-sanitizer not on PATH)" | tee -a "$SUMMARY"
fi

mkdir -p "$OUT/kernel-cache" && cp -r "$TRANSREID_CACHE"/. "$OUT/kernel-cache/" 2>/dev/null || true
fails=$(grep -cE '^(FAIL|TIMEOUT)' "$SUMMARY")
echo "total $(( $(date +%s) - T0 ))s of ${BUDGET_S}s budget; steps failed: $fails" | tee -a "$SUMMARY"
[ "$fails" -eq 0 ]
