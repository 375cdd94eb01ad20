using System;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace TransReID.Runtime.Cpu;

/// <summary>
/// Residual adds with stochastic-depth row scales (docs/model.md#transformer-block), their backward (row scaling) and strided row copies. Rows
/// may be longer than int: the flat index range is cut into chunks and each chunk into per-row segments.
/// </summary>
internal static unsafe class CpuElementwise
{
    private const long Grain = 32768;

    /// <summary>Longest span one TensorPrimitives call gets.</summary>
    private const long MaxSegment = 1 << 30;

    /// <summary>y[b,:] = x[b,:] + branch[b,:]·scale[b] (scale may be null: plain add). y may equal x.</summary>
    public static void Residual(CpuParallel par, float* x, float* branch, float* scale, float* y, int batch, long rowLength)
    {
        var a = new RowArgs { Src = branch, Other = x, Scale = scale, Dst = y, RowLength = rowLength };
        par.For(batch * rowLength, Grain, &ResidualBody, &a);
    }

    /// <summary>dst[b,:] = src[b,:]·scale[b], or a copy when scale is null. dst may equal src.</summary>
    public static void ScaleRows(CpuParallel par, float* src, float* scale, float* dst, int batch, long rowLength)
    {
        if (scale is null && src == dst) return;
        var a = new RowArgs { Src = src, Scale = scale, Dst = dst, RowLength = rowLength };
        par.For(batch * rowLength, Grain, &ScaleBody, &a);
    }

    /// <summary>dst[r·dstStride + c] (+)= alpha·src[r·srcStride + c].</summary>
    public static void CopyRows(CpuParallel par, float* src, long srcStride, float* dst, long dstStride, int rows, int rowLength,
        float alpha, bool accumulate)
    {
        var a = new CopyArgs { Src = src, SrcStride = srcStride, Dst = dst, DstStride = dstStride, RowLength = rowLength, Alpha = alpha, Accumulate = accumulate };
        par.For(rows, Math.Max(1, Grain / Math.Max(rowLength, 1)), &CopyBody, &a);
    }

    /// <summary>dst[i] = src[i] for i &lt; n (parallel memcpy; the ranges must not overlap).</summary>
    public static void Copy(CpuParallel par, float* src, float* dst, long n)
    {
        var a = new RowArgs { Src = src, Dst = dst };
        par.For(n, 1 << 18, &CopyFlatBody, &a);
    }

    /// <summary>dst[i] = 0 for i &lt; n.</summary>
    public static void Zero(CpuParallel par, float* dst, long n)
    {
        var a = new RowArgs { Dst = dst };
        par.For(n, 1 << 18, &ZeroBody, &a);
    }

    private struct RowArgs
    {
        public float* Src, Other, Scale, Dst;
        public long RowLength;
    }

    private struct CopyArgs
    {
        public float* Src, Dst;
        public long SrcStride, DstStride;
        public int RowLength;
        public float Alpha;
        public bool Accumulate;
    }

    private static void ResidualBody(void* p, int chunk, long start, long end)
    {
        ref RowArgs a = ref *(RowArgs*)p;
        for (long i = start; i < end;)
        {
            long row = i / a.RowLength;
            long len = Math.Min(Math.Min(end, (row + 1) * a.RowLength) - i, MaxSegment);
            var br = new ReadOnlySpan<float>(a.Src + i, (int)len);
            var x = new ReadOnlySpan<float>(a.Other + i, (int)len);
            var y = new Span<float>(a.Dst + i, (int)len);
            if (a.Scale is null) TensorPrimitives.Add(x, br, y);
            else TensorPrimitives.MultiplyAdd(br, a.Scale[row], x, y);
            i += len;
        }
    }

    private static void ScaleBody(void* p, int chunk, long start, long end)
    {
        ref RowArgs a = ref *(RowArgs*)p;
        for (long i = start; i < end;)
        {
            long row = i / a.RowLength;
            long len = Math.Min(Math.Min(end, (row + 1) * a.RowLength) - i, MaxSegment);
            var s = new ReadOnlySpan<float>(a.Src + i, (int)len);
            var d = new Span<float>(a.Dst + i, (int)len);
            if (a.Scale is null) s.CopyTo(d);
            else TensorPrimitives.Multiply(s, a.Scale[row], d);
            i += len;
        }
    }

    private static void CopyBody(void* p, int chunk, long start, long end)
    {
        ref CopyArgs a = ref *(CopyArgs*)p;
        for (long r = start; r < end; r++)
        {
            var s = new ReadOnlySpan<float>(a.Src + r * a.SrcStride, a.RowLength);
            var d = new Span<float>(a.Dst + r * a.DstStride, a.RowLength);
            if (a.Accumulate)
            {
                if (a.Alpha == 1f) TensorPrimitives.Add(d, s, d);
                else TensorPrimitives.MultiplyAdd(s, a.Alpha, d, d);
            }
            else if (a.Alpha == 1f) s.CopyTo(d);
            else TensorPrimitives.Multiply(s, a.Alpha, d);
        }
    }

    private static void CopyFlatBody(void* p, int chunk, long start, long end)
    {
        ref RowArgs a = ref *(RowArgs*)p;
        long bytes = (end - start) * sizeof(float);
        Buffer.MemoryCopy(a.Src + start, a.Dst + start, bytes, bytes);
    }

    private static void ZeroBody(void* p, int chunk, long start, long end)
    {
        ref RowArgs a = ref *(RowArgs*)p;
        NativeMemory.Clear(a.Dst + start, (nuint)((end - start) * sizeof(float)));
    }
}
