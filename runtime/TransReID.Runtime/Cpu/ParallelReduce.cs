using System;
using System.Numerics.Tensors;

namespace TransReID.Runtime.Cpu;

/// <summary>Reductions over rows shared by several op families (bias gradients, position-embedding gradients).</summary>
internal static unsafe class CpuReduce
{
    /// <summary>Column tile width: the tile's running sums stay in L1.</summary>
    private const int Tile = 512;

    /// <summary>Rows summed into a block partial before it is added to the tile total (two-level summation).</summary>
    private const int RowBlock = 128;

    /// <summary>dst[c] += Σ_r src[r·ld + c] for c &lt; cols, r &lt; rows; parallel over column ranges.</summary>
    public static void AddColumnSums(CpuParallel par, float* src, long ld, float* dst, int rows, int cols)
    {
        if (rows <= 0 || cols <= 0) return;
        var a = new ColumnSumArgs { Src = src, Ld = ld, Dst = dst, Rows = rows };
        // A chunk is at least 64 columns and enough rows·columns to be worth a thread.
        long grain = Math.Max(64, 32768 / Math.Max(rows, 1));
        par.For(cols, grain, &ColumnSumBody, &a);
    }

    private struct ColumnSumArgs
    {
        public float* Src;
        public long Ld;
        public float* Dst;
        public int Rows;
    }

    private static void ColumnSumBody(void* p, int chunk, long start, long end)
    {
        ref ColumnSumArgs a = ref *(ColumnSumArgs*)p;
        float* total = stackalloc float[Tile];
        float* block = stackalloc float[Tile];
        for (long c0 = start; c0 < end; c0 += Tile)
        {
            int w = (int)Math.Min(Tile, end - c0);
            var tot = new Span<float>(total, w);
            var blk = new Span<float>(block, w);
            tot.Clear();
            for (int r0 = 0; r0 < a.Rows; r0 += RowBlock)
            {
                int r1 = Math.Min(a.Rows, r0 + RowBlock);
                new ReadOnlySpan<float>(a.Src + r0 * a.Ld + c0, w).CopyTo(blk);
                for (int r = r0 + 1; r < r1; r++)
                    TensorPrimitives.Add(blk, new ReadOnlySpan<float>(a.Src + r * a.Ld + c0, w), blk);
                TensorPrimitives.Add(tot, blk, tot);
            }
            var d = new Span<float>(a.Dst + c0, w);
            TensorPrimitives.Add(d, tot, d);
        }
    }
}
