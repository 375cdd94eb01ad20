using System;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace TransReID.Runtime.Cpu;

/// <summary>
/// Exact (erf) GELU, 0.5·x·(1 + erf(x/√2)), and its derivative Φ(x) + x·φ(x) (docs/model.md#transformer-block). .NET has no erf, so it is
/// built here: float in, float out, the polynomials evaluated in double vector lanes (exp(−x²) comes from
/// TensorPrimitives.Exp in float, which only scales the small erfc tail), so that the error left is essentially the
/// final rounding to float (max abs error over [−10, 10] measured by GeluTests: 3.1e-8).
/// <para>
/// erf(t), t = |x| ≥ 0, from two polynomials fitted (Chebyshev interpolation, converted to monomials of a mapped
/// variable) for this file:
/// t &lt; 2: erf(t) = t + t·A(y), y = t²/2 − 1 ∈ [−1, 1], A of degree 10 (fit error 7.3e-10);
/// 2 ≤ t &lt; 4: erf(t) = 1 − exp(−t²)·B(y), y = t − 3 ∈ [−1, 1], B ≈ erfc(t)·exp(t²) of degree 8 (fit error 1.3e-10);
/// t ≥ 4: erf(t) = 1 (erfc(4) = 1.5e-8, below half a float ulp of 1). erf is odd.
/// </para>
/// </summary>
internal static unsafe class CpuGelu
{
    private const double A0 = -0.3250667639603452, A1 = -0.26111186553852017, A2 = 0.11947913930161715,
        A3 = -0.04866268540045726, A4 = 0.017128330749283598, A5 = -0.005235389916394888, A6 = 0.0014051686472388403,
        A7 = -0.0003339748824367141, A8 = 7.162533504951278e-05, A9 = -1.5101127420858905e-05, A10 = 2.6496655940051865e-06;

    private const double B0 = 0.17900115118139004, B1 = -0.05437221097160338, B2 = 0.015884359715072245,
        B3 = -0.004480082207890831, B4 = 0.001223191062123035, B5 = -0.00032180661538181197, B6 = 8.301259536638541e-05,
        B7 = -2.4003793473189223e-05, B8 = 5.851073644949325e-06;

    private const double InvSqrt2 = 0.70710678118654752440;
    private const double InvSqrt2Pi = 0.39894228040143267794;

    /// <summary>y = GELU(x) elementwise; y may equal x.</summary>
    public static void Forward(CpuParallel par, float* x, float* y, long n)
    {
        var a = new Args { X = x, Y = y };
        par.For(n, 32768, &ForwardBody, &a);
    }

    /// <summary>dx = dy·GELU'(x); dx may equal dy.</summary>
    public static void Backward(CpuParallel par, float* dy, float* x, float* dx, long n)
    {
        var a = new Args { Dy = dy, X = x, Y = dx };
        par.For(n, 32768, &BackwardBody, &a);
    }

    /// <summary>erf of every element (single-threaded; for tests and callers that need erf itself).</summary>
    public static void Erf(ReadOnlySpan<float> x, Span<float> y)
    {
        if (y.Length < x.Length) throw new ArgumentException($"Erf: destination has {y.Length} elements, source {x.Length}.", nameof(y));
        fixed (float* px = x)
        fixed (float* py = y)
        {
            var a = new Args { X = px, Y = py };
            ErfBody(&a, 0, 0, x.Length);
        }
    }

    private struct Args
    {
        public float* X, Y, Dy;
    }

    /// <summary>
    /// erf(x) for double lanes, given e = exp(−x²) (computed for a whole block by TensorPrimitives.Exp: the vector Exp
    /// of System.Numerics is a scalar fallback for double, several times slower).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> ErfSigned(Vector<double> x, Vector<double> expNegX2)
    {
        var t = Vector.Abs(x);
        var u = t * t;
        var y = Vector.FusedMultiplyAdd(u, new Vector<double>(0.5), new Vector<double>(-1.0));
        var p = new Vector<double>(A10);
        p = Vector.FusedMultiplyAdd(p, y, new Vector<double>(A9));
        p = Vector.FusedMultiplyAdd(p, y, new Vector<double>(A8));
        p = Vector.FusedMultiplyAdd(p, y, new Vector<double>(A7));
        p = Vector.FusedMultiplyAdd(p, y, new Vector<double>(A6));
        p = Vector.FusedMultiplyAdd(p, y, new Vector<double>(A5));
        p = Vector.FusedMultiplyAdd(p, y, new Vector<double>(A4));
        p = Vector.FusedMultiplyAdd(p, y, new Vector<double>(A3));
        p = Vector.FusedMultiplyAdd(p, y, new Vector<double>(A2));
        p = Vector.FusedMultiplyAdd(p, y, new Vector<double>(A1));
        p = Vector.FusedMultiplyAdd(p, y, new Vector<double>(A0));
        var e = Vector.FusedMultiplyAdd(t, p, t);
        var two = new Vector<double>(2.0);
        if (!Vector.LessThanAll(t, two))
        {
            // some lane has t ≥ 2 (or is NaN): the erfc form
            var yb = t - new Vector<double>(3.0);
            var q = new Vector<double>(B8);
            q = Vector.FusedMultiplyAdd(q, yb, new Vector<double>(B7));
            q = Vector.FusedMultiplyAdd(q, yb, new Vector<double>(B6));
            q = Vector.FusedMultiplyAdd(q, yb, new Vector<double>(B5));
            q = Vector.FusedMultiplyAdd(q, yb, new Vector<double>(B4));
            q = Vector.FusedMultiplyAdd(q, yb, new Vector<double>(B3));
            q = Vector.FusedMultiplyAdd(q, yb, new Vector<double>(B2));
            q = Vector.FusedMultiplyAdd(q, yb, new Vector<double>(B1));
            q = Vector.FusedMultiplyAdd(q, yb, new Vector<double>(B0));
            var far = Vector<double>.One - expNegX2 * q;
            e = Vector.ConditionalSelect(Vector.LessThan(t, two), e, far);
            e = Vector.ConditionalSelect(Vector.GreaterThanOrEqual(t, new Vector<double>(4.0)), Vector<double>.One, e);
        }
        return Vector.ConditionalSelect(Vector.LessThan(x, Vector<double>.Zero), -e, e);
    }

    /// <summary>GELU(x) given g = exp(−x²/2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> GeluD(Vector<double> x, Vector<double> g)
    {
        var e = ErfSigned(x * new Vector<double>(InvSqrt2), g);
        var h = x * new Vector<double>(0.5);
        return Vector.FusedMultiplyAdd(h, e, h);
    }

    /// <summary>dy·GELU'(x) = dy·(Φ(x) + x·φ(x)) given g = exp(−x²/2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> GeluGradD(Vector<double> x, Vector<double> dy, Vector<double> g)
    {
        var half = new Vector<double>(0.5);
        var cdf = Vector.FusedMultiplyAdd(ErfSigned(x * new Vector<double>(InvSqrt2), g), half, half);
        var pdf = g * new Vector<double>(InvSqrt2Pi);
        return dy * Vector.FusedMultiplyAdd(x, pdf, cdf);
    }

    /// <summary>Elements per block: the block's exp(−k·x²) values live on the stack.</summary>
    private const int Block = 1024;

    private enum Kind
    {
        Gelu,
        GeluGrad,
        Erf,
    }

    private static void ForwardBody(void* p, int chunk, long start, long end) => Run(ref *(Args*)p, start, end, Kind.Gelu);

    private static void BackwardBody(void* p, int chunk, long start, long end) => Run(ref *(Args*)p, start, end, Kind.GeluGrad);

    private static void ErfBody(void* p, int chunk, long start, long end) => Run(ref *(Args*)p, start, end, Kind.Erf);

    /// <summary>
    /// Blocks of <see cref="Block"/> elements: exp(−k·x²) for the block in float (k = 1/2 for GELU, 1 for erf; its
    /// relative error, ~1e-7·(1 + k·x²), only scales erfc ≤ 0.005 and φ), then double lanes for the rest. The last
    /// partial vector of the range goes through a zero-padded stack copy.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Run(ref Args a, long start, long end, Kind kind)
    {
        int vf = Vector<float>.Count;
        float* ex = stackalloc float[Block];
        float* pad = stackalloc float[3 * vf];
        float k = kind == Kind.Erf ? -1f : -0.5f;
        for (long b0 = start; b0 < end; b0 += Block)
        {
            int n = (int)Math.Min(Block, end - b0);
            float* x = a.X + b0, y = a.Y + b0, dy = kind == Kind.GeluGrad ? a.Dy + b0 : null;
            var exs = new Span<float>(ex, n);
            var xs = new ReadOnlySpan<float>(x, n);
            TensorPrimitives.Multiply(xs, xs, exs);
            TensorPrimitives.Multiply(exs, k, exs);
            TensorPrimitives.Exp(exs, exs);
            int i = 0;
            for (; i <= n - vf; i += vf) Step(x + i, ex + i, dy is null ? null : dy + i, y + i, kind);
            if (i < n)
            {
                int rest = n - i;
                new Span<float>(pad, 3 * vf).Clear();
                new ReadOnlySpan<float>(x + i, rest).CopyTo(new Span<float>(pad, rest));
                new ReadOnlySpan<float>(ex + i, rest).CopyTo(new Span<float>(pad + vf, rest));
                if (dy is not null) new ReadOnlySpan<float>(dy + i, rest).CopyTo(new Span<float>(pad + 2 * vf, rest));
                Step(pad, pad + vf, dy is null ? null : pad + 2 * vf, pad, kind);
                new ReadOnlySpan<float>(pad, rest).CopyTo(new Span<float>(y + i, rest));
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step(float* x, float* ex, float* dy, float* y, Kind kind)
    {
        Vector.Widen(Vector.Load(x), out Vector<double> xlo, out Vector<double> xhi);
        Vector.Widen(Vector.Load(ex), out Vector<double> elo, out Vector<double> ehi);
        Vector<double> lo, hi;
        switch (kind)
        {
            case Kind.Gelu:
                lo = GeluD(xlo, elo);
                hi = GeluD(xhi, ehi);
                break;
            case Kind.GeluGrad:
                Vector.Widen(Vector.Load(dy), out Vector<double> glo, out Vector<double> ghi);
                lo = GeluGradD(xlo, glo, elo);
                hi = GeluGradD(xhi, ghi, ehi);
                break;
            default:
                lo = ErfSigned(xlo, elo);
                hi = ErfSigned(xhi, ehi);
                break;
        }
        Vector.Store(Vector.Narrow(lo, hi), y);
    }
}
