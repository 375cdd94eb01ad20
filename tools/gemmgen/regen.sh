#!/bin/bash
set -e
here=$(cd "$(dirname "$0")" && pwd)
out="$here/../../runtime/TransReID.Runtime/Cpu/GemmKernels.cs"
{
cat $here/header.cs
cat $here/updates.cs
cat <<'CS'
    /// <summary>AVX-512 kernel: MR = 14, NR = 32 (two zmm per row); <see cref="Kernel14x32Stream"/> with its own B panel as the stream.</summary>
    public static void Kernel14x32(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta) =>
        Kernel14x32Stream(kc, a, b, c, ldc, alpha, beta, (byte*)b);

CS
python3 $here/gen.py Kernel14x32Stream Vector512 16 14 2 "AVX-512 kernel: MR = 14, NR = 32 (two zmm per row), that also prefetches a stream (pf) into L2, one line per 8 k steps: for packed weights the next panel, spread over the loop instead of issued in bursts; the C tile is prefetched 64 k steps before the store." - 8 64
echo
python3 $here/gen.py Kernel4x32Of14 Vector512 16 4 2 "AVX-512 edge kernel: 4 rows × 32 of a 14-row packed A panel (a advances 14 per k), for the last rows of M: a 1-row remainder costs a third of a 14-row call instead of a whole one." 14
echo
python3 $here/gen.py Kernel14x32Rows Vector512 16 14 2 "AVX-512 kernel of <see cref=\"Kernel14x32Stream\"/> over a row-major A (14 rows lda floats apart, not packed) and streaming pf: for few-rows products, whose x is read in place instead of packed." 0 8 64
echo
for r in 4 2 1; do
python3 $here/gen.py Kernel${r}x32Rows Vector512 16 $r 2 "AVX-512 edge kernel: $r row(s) × 32 of a row-major A (rows lda floats apart), for the last rows of M in <see cref=\"Kernel14x32Rows\"/>'s products." 0
echo
done
python3 $here/gen.py Kernel4x24 Vector256 8 4 3 "AVX2 kernel: MR = 4, NR = 24 (three ymm per row; 12 accumulators + 3 B vectors + 1 broadcast = all 16 registers)."
echo
python3 $here/gen.py Kernel4x8 Vector128 4 4 2 "Vector128 kernel (SSE/NEON, or software where neither exists): MR = 4, NR = 8."
echo '}'
} > $out
