using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace TransReID.Runtime.Cpu;

/// <summary>
/// Exact (erf) GELU, 0.5·x·(1 + erf(x/√2)), and its derivative Φ(x) + x·φ(x) (docs/model.md#transformer-block). .NET has no erf, so it is
/// built here, evaluated entirely in float lanes: Vector256 with FMA, else Vector128 with FMA, else scalar
/// MathF.FusedMultiplyAdd (also the tail of each range). Every path runs the same float operations, so results do not
/// depend on the path, the thread count or the partition. Measured against a float64 reference on 10⁶ points of
/// [−10, 10] (GeluTests): GELU max |error|/max(1, |GELU|) 1.3e-7 (the plain absolute maximum, 2.4e-7 at x = 4.42, is
/// the float result's own half ulp on [4, 8)), GELU' 1.4e-7 absolute (1.2e-7 relative, at x = 1.13 where GELU' = 1.08),
/// erf 6.6e-8 absolute. Single-threaded on a Zen 3 core (211×3072 floats): about 0.6–1.0 ns per element forward and
/// 0.7–1.3 backward for activation-like inputs (N(0, 1) to N(−1, 1.5)), about 2 and 2.5 for uniform [−10, 10]; the
/// float64-lane code this replaced took 7–8 and 9–11.
/// <para>
/// With t = |x|/√2 (|x| for erf) and u = t², from polynomials fitted for this file (weighted minimax with the
/// coefficients rounded to float; the errors quoted are relative, coefficients rounded):
/// near, u &lt; 4 (t &lt; 2, |x| &lt; 2.83): GELU(x) = x/2 + u·K(y), GELU'(x) = 1/2 + x·H(y), y = u/2 − 1 ∈ [−1, 1],
/// K = erf(t)/(√2·t) (degree 9, 1.6e-8), H = erf(t)/(2√2·t) + e^{−u}/√(2π) (degree 10, 3.4e-8); erf itself switches
/// at u &lt; 2.25 (t &lt; 1.5), where its polynomial is still accurate to an ulp: erf(t) = t + t·A(y), y = u/1.125 − 1,
/// A = erf(t)/t − 1 (degree 8, 4.6e-9), with u's rounding error put back into y.
/// far, the rest: erfc(t) = e^{−u}·Q(s)·s, s = 1/t for t clamped to [1.5, 9], Q ≈ t·e^{t²}·erfc(t) (degree 7 in s
/// mapped to [−1, 1], 5.2e-8), so GELU(x) = max(x, 0) − e^{−u}·Q/√2, GELU'(x) = (x &lt; 0 ? −D : 1 + D) with
/// D = e^{−u}·(t/√π − Q·s/2), and erf = 1 − erfc: no cancellation on the negative tail. e^{−u} is a float exp of
/// −(u + lo), lo the rounding error of u from an FMA (Cody–Waite reduction, degree-5 polynomial, 1.2e-7), and 0 for
/// u ≥ 81, where GELU is x or 0 (|x| ≥ 12.7) and erf is ±1.
/// </para>
/// <para>
/// Work is done in blocks of <see cref="Block"/>: every vector gets the near formula, and the lanes it does not cover
/// are packed (a permutation table under AVX2, so no branch on the data) into a dense buffer that the far formula then
/// runs on, its results written back by index. NaN propagates; GELU(+∞) = +∞, GELU(−∞) = 0 (the float64-lane code gave
/// NaN), GELU'(+∞) = 1, GELU'(−∞) = 0; GELU(−0) = +0.
/// </para>
/// </summary>
internal static unsafe class CpuGelu
{
    private const float A0 = -0.183163822f, A1 = -0.225252554f, A2 = 0.0659087077f, A3 = -0.0162874702f, A4 = 0.00338540273f,
        A5 = -0.000601572916f, A6 = 9.25778877e-05f, A7 = -1.29336986e-05f, A8 = 1.76467029e-06f;

    private const float K0 = 0.477249861f, K1 = -0.18463397f, K2 = 0.0844845846f, K3 = -0.0344098173f, K4 = 0.0121118752f,
        K5 = -0.00370142818f, K6 = 0.000991223264f, K7 = -0.00023704546f, K8 = 5.45086477e-05f, K9 = -1.0235075e-05f;

    private const float H0 = 0.292615891f, H1 = -0.200298905f, H2 = 0.150224537f, H3 = -0.0891929865f, H4 = 0.042047821f,
        H5 = -0.016248757f, H6 = 0.00529982476f, H7 = -0.00148612331f, H8 = 0.000364729931f, H9 = -8.71599914e-05f,
        H10 = 1.77990059e-05f;

    private const float Q0 = 0.528737724f, Q1 = -0.0427891947f, Q2 = -0.00654205913f, Q3 = 0.0036607238f,
        Q4 = -0.000707613246f, Q5 = -4.08377055e-05f, Q6 = 8.57422419e-05f, Q7 = -2.63851689e-05f;

    /// <summary>e^{−r} for |r| ≤ 1.02·ln2/2.</summary>
    private const float X0 = 1.00000012f, X1 = -1.00000012f, X2 = 0.499984682f, X3 = -0.1666556f, X4 = 0.0419578142f,
        X5 = -0.00845995545f;

    /// <summary>u below this: the polynomial branch of GELU and GELU' (t &lt; 2, |x| &lt; 2.83), y = u/2 − 1.</summary>
    private const float UA = 4f;

    /// <summary>u below this: the polynomial branch of erf (t &lt; 1.5), y = u·YErf − 1.</summary>
    private const float UErf = 2.25f, YErf = 2f / 2.25f;

    /// <summary>u at or above this: e^{−u} = 0 (t ≥ 9).</summary>
    private const float UMax = 81f;

    /// <summary>s = 1/t ∈ [1/9, 2/3] mapped to [−1, 1]: y = s·SM1 + SM0.</summary>
    private const float SM1 = 3.6f, SM0 = -1.4f;

    private const float InvSqrt2 = 0.707106781f, InvSqrtPi = 0.564189584f;
    private const float Log2E = 1.44269504f, Ln2Hi = 0.693359375f, Ln2Lo = -2.12194442e-4f;

    /// <summary>1.5·2²³: adding it rounds to an integer held in the low mantissa bits.</summary>
    private const float Magic = 12582912f;

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

    private static void ForwardBody(void* p, int chunk, long start, long end) => Run<GeluOp>(ref *(Args*)p, start, end);

    private static void BackwardBody(void* p, int chunk, long start, long end) => Run<GeluGradOp>(ref *(Args*)p, start, end);

    private static void ErfBody(void* p, int chunk, long start, long end) => Run<ErfOp>(ref *(Args*)p, start, end);

    /// <summary>Whole vectors of the widest accelerated width with FMA, then the rest one element at a time.</summary>
    private static void Run<TOp>(ref Args a, long start, long end)
        where TOp : struct, IOp
    {
        float* x = a.X + start, y = a.Y + start, dy = TOp.UsesDy ? a.Dy + start : null;
        long n = end - start, done = 0;
        if (Vector256.IsHardwareAccelerated && Fma.IsSupported)
            done = Blocks<Vector256<float>, Lanes256, TOp>(x, dy, y, n);
        else if (Vector128.IsHardwareAccelerated && (Fma.IsSupported || AdvSimd.IsSupported))
            done = Blocks<Vector128<float>, Lanes128, TOp>(x, dy, y, n);
        Blocks<float, Lanes1, TOp>(x + done, TOp.UsesDy ? dy + done : null, y + done, n - done);
    }

    /// <summary>Elements per block: the block's far lanes are gathered on the stack.</summary>
    private const int Block = 512;

    /// <summary>
    /// Elements [0, n − n mod width), block by block: every vector gets the near (polynomial) formula, and its far lanes
    /// (u ≥ the near bound, or NaN) are packed, with their indices, into dense stack buffers without a branch; then the
    /// far formula runs on those vectors only and its results are written back over the near ones. So the cost of the
    /// far branch follows the number of far elements, not of vectors holding one. Returns how many were done.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static long Blocks<TV, TL, TOp>(float* x, float* dy, float* y, long n)
        where TV : struct
        where TL : struct, ILanes<TV>
        where TOp : struct, IOp
    {
        if (n < TL.Count) return 0;
        int w = TL.Count;
        float* fx = stackalloc float[Block + 8];
        float* fdy = stackalloc float[TOp.UsesDy ? Block + 8 : 0];
        float* fr = stackalloc float[Block + 8];
        int* fi = stackalloc int[Block + 8];
        byte* table = PackTable;
        long whole = n - n % w;
        for (long b0 = 0; b0 < whole; b0 += Block)
        {
            int m = (int)Math.Min(Block, whole - b0);
            int count = NearPass<TV, TL, TOp>(x + b0, TOp.UsesDy ? dy + b0 : null, y + b0, m, fx, fdy, fi, table);
            FarPass<TV, TL, TOp>(fx, fdy, fr, fi, count, y + b0);
        }
        return whole;
    }

    /// <summary>The near formula for m elements (a multiple of the width), packing the far lanes; returns their count.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int NearPass<TV, TL, TOp>(float* x, float* dy, float* y, int m, float* fx, float* fdy, int* fi, byte* table)
        where TV : struct
        where TL : struct, ILanes<TV>
        where TOp : struct, IOp
    {
        int count = 0;
        for (int i = 0; i < m; i += TL.Count)
        {
            TV v = TL.Load(x + i);
            TV g = TOp.UsesDy ? TL.Load(dy + i) : v;
            TL.Store(TOp.Near<TV, TL>(v, g, out TV near), y + i);
            count += TL.PackFar(near, v, g, TOp.UsesDy, i, fx + count, fdy + count, fi + count, table);
        }
        return count;
    }

    /// <summary>The far formula for the count packed lanes (in whole vectors: the lanes past count are ignored), written back at y[fi[j]].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FarPass<TV, TL, TOp>(float* fx, float* fdy, float* fr, int* fi, int count, float* y)
        where TV : struct
        where TL : struct, ILanes<TV>
        where TOp : struct, IOp
    {
        for (int j = 0; j < count; j += TL.Count)
            TL.Store(TOp.Far<TV, TL>(TL.Load(fx + j), TOp.UsesDy ? TL.Load(fdy + j) : default), fr + j);
        for (int j = 0; j < count; j++) y[fi[j]] = fr[j];
    }

    /// <summary>e^{−(u + lo)} for 0 ≤ u &lt; <see cref="UMax"/>, 0 for u ≥ UMax (and for NaN).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV ExpNeg<TV, TL>(TV u, TV lo)
        where TV : struct
        where TL : struct, ILanes<TV>
    {
        TV uc = TL.Min(u, TL.Splat(UMax));
        TV z = TL.Fma(uc, TL.Splat(-Log2E), TL.Splat(Magic)); // Magic + k, k = round(−u·log2 e) ∈ [−117, 0]
        TV k = TL.Sub(z, TL.Splat(Magic));
        // r = u + lo + k·ln2, e^{−u−lo} = 2^k·e^{−r}; u + k·Ln2Hi is exact
        TV r = TL.Add(TL.Fma(k, TL.Splat(Ln2Hi), uc), TL.Fma(k, TL.Splat(Ln2Lo), lo));
        TV r2 = TL.Mul(r, r);
        TV p = TL.Fma(TL.Fma(TL.Fma(TL.Splat(X5), r, TL.Splat(X4)), r2, TL.Fma(TL.Splat(X3), r, TL.Splat(X2))), r2,
            TL.Fma(TL.Splat(X1), r, TL.Splat(X0)));
        return TL.And(TL.Less(u, TL.Splat(UMax)), TL.Mul(p, TL.Pow2(z)));
    }

    /// <summary>Q(s) ≈ t·e^{t²}·erfc(t) with s = 1/t, t clamped to [1.5, 9] (returned in tb, s in s).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Tail<TV, TL>(TV t, out TV tb, out TV s)
        where TV : struct
        where TL : struct, ILanes<TV>
    {
        tb = TL.Min(TL.Max(t, TL.Splat(1.5f)), TL.Splat(9f));
        s = TL.Div(TL.Splat(1f), tb);
        TV y = TL.Fma(s, TL.Splat(SM1), TL.Splat(SM0));
        TV y2 = TL.Mul(y, y);
        return Estrin8<TV, TL>(y, y2, TL.Mul(y2, y2), Q0, Q1, Q2, Q3, Q4, Q5, Q6, Q7);
    }

    /// <summary>
    /// c0 + c1·y + … + c7·y⁷ by Estrin's scheme, given y² and y⁴: three dependent FMA levels instead of seven (both
    /// passes are bound by the latency of their longest chain more than by FMA throughput, measured).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Estrin8<TV, TL>(TV y, TV y2, TV y4, float c0, float c1, float c2, float c3, float c4, float c5, float c6, float c7)
        where TV : struct
        where TL : struct, ILanes<TV>
    {
        TV lo = TL.Fma(TL.Fma(TL.Splat(c3), y, TL.Splat(c2)), y2, TL.Fma(TL.Splat(c1), y, TL.Splat(c0)));
        TV hi = TL.Fma(TL.Fma(TL.Splat(c7), y, TL.Splat(c6)), y2, TL.Fma(TL.Splat(c5), y, TL.Splat(c4)));
        return TL.Fma(hi, y4, lo);
    }

    /// <summary>
    /// One elementwise function of x (and dy), in two formulas: Near for small |x| (its mask says which lanes it is
    /// right for: not NaN, and u below the bound) and Far for the rest (right for any lane the near mask leaves out).
    /// </summary>
    private interface IOp
    {
        static abstract bool UsesDy { get; }

        static abstract TV Near<TV, TL>(TV x, TV dy, out TV near)
            where TV : struct
            where TL : struct, ILanes<TV>;

        static abstract TV Far<TV, TL>(TV x, TV dy)
            where TV : struct
            where TL : struct, ILanes<TV>;
    }

    private readonly struct GeluOp : IOp
    {
        public static bool UsesDy => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Near<TV, TL>(TV x, TV dy, out TV near)
            where TV : struct
            where TL : struct, ILanes<TV>
        {
            TV h = TL.Mul(x, TL.Splat(0.5f));
            TV u = TL.Mul(h, x);
            near = TL.Less(u, TL.Splat(UA));
            TV y = TL.Fma(u, TL.Splat(0.5f), TL.Splat(-1f));
            TV y2 = TL.Mul(y, y);
            TV p = Estrin8<TV, TL>(y, y2, TL.Mul(y2, y2), K2, K3, K4, K5, K6, K7, K8, K9); // the last steps by Horner, for accuracy
            p = TL.Fma(TL.Fma(p, y, TL.Splat(K1)), y, TL.Splat(K0));
            return TL.Fma(u, p, h);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Far<TV, TL>(TV x, TV dy)
            where TV : struct
            where TL : struct, ILanes<TV>
        {
            TV h = TL.Mul(x, TL.Splat(0.5f));
            TV u = TL.Mul(h, x);
            TV e = ExpNeg<TV, TL>(u, TL.Fma(h, x, TL.Neg(u)));
            TV q = TL.Mul(Tail<TV, TL>(TL.Mul(TL.Abs(x), TL.Splat(InvSqrt2)), out _, out _), TL.Splat(-InvSqrt2));
            return TL.Select(TL.Equal(x, x), TL.Fma(e, q, TL.Max(x, TL.Splat(0f))), x);
        }
    }

    private readonly struct GeluGradOp : IOp
    {
        public static bool UsesDy => true;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Near<TV, TL>(TV x, TV dy, out TV near)
            where TV : struct
            where TL : struct, ILanes<TV>
        {
            TV u = TL.Mul(TL.Mul(x, TL.Splat(0.5f)), x);
            near = TL.Less(u, TL.Splat(UA));
            TV y = TL.Fma(u, TL.Splat(0.5f), TL.Splat(-1f));
            TV y2 = TL.Mul(y, y);
            TV p = Estrin8<TV, TL>(y, y2, TL.Mul(y2, y2), H3, H4, H5, H6, H7, H8, H9, H10);
            p = TL.Fma(TL.Fma(TL.Fma(p, y, TL.Splat(H2)), y, TL.Splat(H1)), y, TL.Splat(H0));
            return TL.Mul(dy, TL.Fma(x, p, TL.Splat(0.5f)));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Far<TV, TL>(TV x, TV dy)
            where TV : struct
            where TL : struct, ILanes<TV>
        {
            TV h = TL.Mul(x, TL.Splat(0.5f));
            TV u = TL.Mul(h, x);
            TV e = ExpNeg<TV, TL>(u, TL.Fma(h, x, TL.Neg(u)));
            TV q = Tail<TV, TL>(TL.Mul(TL.Abs(x), TL.Splat(InvSqrt2)), out TV tb, out TV s);
            TV d = TL.Mul(e, TL.Fma(TL.Mul(s, q), TL.Splat(-0.5f), TL.Mul(tb, TL.Splat(InvSqrtPi))));
            TV g = TL.Select(TL.Less(x, TL.Splat(0f)), TL.Neg(d), TL.Add(d, TL.Splat(1f)));
            return TL.Mul(dy, TL.Select(TL.Equal(x, x), g, x));
        }
    }

    private readonly struct ErfOp : IOp
    {
        public static bool UsesDy => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Near<TV, TL>(TV x, TV dy, out TV near)
            where TV : struct
            where TL : struct, ILanes<TV>
        {
            TV t = TL.Abs(x);
            TV u = TL.Mul(x, x);
            near = TL.Less(u, TL.Splat(UErf));
            TV lo = TL.Fma(x, x, TL.Neg(u)); // x² = u + lo exactly: t is exact, so erf need not inherit u's rounding
            TV y = TL.Fma(lo, TL.Splat(YErf), TL.Fma(u, TL.Splat(YErf), TL.Splat(-1f)));
            TV p = TL.Fma(TL.Splat(A8), y, TL.Splat(A7));
            p = TL.Fma(p, y, TL.Splat(A6));
            p = TL.Fma(p, y, TL.Splat(A5));
            p = TL.Fma(p, y, TL.Splat(A4));
            p = TL.Fma(p, y, TL.Splat(A3));
            p = TL.Fma(p, y, TL.Splat(A2));
            p = TL.Fma(p, y, TL.Splat(A1));
            p = TL.Fma(p, y, TL.Splat(A0));
            return TL.Xor(TL.Fma(t, p, t), TL.And(x, TL.Splat(-0f))); // erf is odd: the sign of x
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Far<TV, TL>(TV x, TV dy)
            where TV : struct
            where TL : struct, ILanes<TV>
        {
            TV t = TL.Abs(x);
            TV u = TL.Mul(x, x);
            TV e = ExpNeg<TV, TL>(u, TL.Fma(x, x, TL.Neg(u)));
            TV q = Tail<TV, TL>(t, out _, out TV s);
            TV r = TL.Select(TL.Equal(x, x), TL.Sub(TL.Splat(1f), TL.Mul(TL.Mul(e, s), q)), x);
            return TL.Xor(r, TL.And(x, TL.Splat(-0f)));
        }
    }

    /// <summary>
    /// The lane operations the kernels use, for one vector width. Masks are lanes of all one bits or all zero bits;
    /// Min/Max may return either operand when one is NaN (NaN lanes are replaced at the end).
    /// </summary>
    private interface ILanes<TV>
        where TV : struct
    {
        static abstract int Count { get; }

        static abstract TV Load(float* p);

        static abstract void Store(TV v, float* p);

        static abstract TV Splat(float c);

        static abstract TV Add(TV a, TV b);

        static abstract TV Sub(TV a, TV b);

        static abstract TV Mul(TV a, TV b);

        static abstract TV Div(TV a, TV b);

        /// <summary>a·b + c, rounded once.</summary>
        static abstract TV Fma(TV a, TV b, TV c);

        static abstract TV Neg(TV a);

        static abstract TV Abs(TV a);

        static abstract TV Min(TV a, TV b);

        static abstract TV Max(TV a, TV b);

        static abstract TV Less(TV a, TV b);

        static abstract TV Equal(TV a, TV b);

        static abstract TV Select(TV mask, TV a, TV b);

        static abstract TV And(TV a, TV b);

        static abstract TV Xor(TV a, TV b);

        /// <summary>2^k from z = <see cref="Magic"/> + k, k ∈ [−126, 127].</summary>
        static abstract TV Pow2(TV z);

        /// <summary>
        /// Appends the lanes of x (and dy) that <paramref name="near"/> leaves out, in order, at fx (fdy), and their
        /// indices index + lane at fi; returns how many. May write up to <see cref="Count"/> elements at each.
        /// </summary>
        static abstract int PackFar(TV near, TV x, TV dy, bool withDy, int index, float* fx, float* fdy, int* fi, byte* table);
    }

    private readonly struct Lanes256 : ILanes<Vector256<float>>
    {
        public static int Count => Vector256<float>.Count;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Load(float* p) => Vector256.Load(p);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Store(Vector256<float> v, float* p) => v.Store(p);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Splat(float c) => Vector256.Create(c);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Sub(Vector256<float> a, Vector256<float> b) => a - b;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Mul(Vector256<float> a, Vector256<float> b) => a * b;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Div(Vector256<float> a, Vector256<float> b) => a / b;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Neg(Vector256<float> a) => -a;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Abs(Vector256<float> a) => Vector256.Abs(a);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Min(Vector256<float> a, Vector256<float> b) => Vector256.MinNative(a, b);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Max(Vector256<float> a, Vector256<float> b) => Vector256.MaxNative(a, b);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Less(Vector256<float> a, Vector256<float> b) => Vector256.LessThan(a, b);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Equal(Vector256<float> a, Vector256<float> b) => Vector256.Equals(a, b);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Select(Vector256<float> mask, Vector256<float> a, Vector256<float> b) => Vector256.ConditionalSelect(mask, a, b);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> And(Vector256<float> a, Vector256<float> b) => a & b;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Xor(Vector256<float> a, Vector256<float> b) => a ^ b;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Pow2(Vector256<float> z) => Vector256.ShiftLeft(z.AsInt32() + Vector256.Create(127), 23).AsSingle();

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static int PackFar(Vector256<float> near, Vector256<float> x, Vector256<float> dy, bool withDy, int index, float* fx, float* fdy, int* fi, byte* table)
        {
            uint far = ~near.ExtractMostSignificantBits() & 0xFF;
            if (!Avx2.IsSupported) return PackBits(far, x, dy, withDy, index, fx, fdy, fi);
            Vector256<int> perm = Avx2.ConvertToVector256Int32(table + 8 * far); // the far lanes first
            Avx2.PermuteVar8x32(x, perm).Store(fx);
            if (withDy) Avx2.PermuteVar8x32(dy, perm).Store(fdy);
            (perm + Vector256.Create(index)).Store(fi);
            return BitOperations.PopCount(far);
        }
    }

    private readonly struct Lanes128 : ILanes<Vector128<float>>
    {
        public static int Count => Vector128<float>.Count;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Load(float* p) => Vector128.Load(p);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Store(Vector128<float> v, float* p) => v.Store(p);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Splat(float c) => Vector128.Create(c);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Add(Vector128<float> a, Vector128<float> b) => a + b;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Sub(Vector128<float> a, Vector128<float> b) => a - b;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Mul(Vector128<float> a, Vector128<float> b) => a * b;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Div(Vector128<float> a, Vector128<float> b) => a / b;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Fma(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.FusedMultiplyAdd(a, b, c);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Neg(Vector128<float> a) => -a;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Abs(Vector128<float> a) => Vector128.Abs(a);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Min(Vector128<float> a, Vector128<float> b) => Vector128.MinNative(a, b);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Max(Vector128<float> a, Vector128<float> b) => Vector128.MaxNative(a, b);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Less(Vector128<float> a, Vector128<float> b) => Vector128.LessThan(a, b);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Equal(Vector128<float> a, Vector128<float> b) => Vector128.Equals(a, b);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Select(Vector128<float> mask, Vector128<float> a, Vector128<float> b) => Vector128.ConditionalSelect(mask, a, b);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> And(Vector128<float> a, Vector128<float> b) => a & b;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Xor(Vector128<float> a, Vector128<float> b) => a ^ b;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Pow2(Vector128<float> z) => Vector128.ShiftLeft(z.AsInt32() + Vector128.Create(127), 23).AsSingle();

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static int PackFar(Vector128<float> near, Vector128<float> x, Vector128<float> dy, bool withDy, int index, float* fx, float* fdy, int* fi, byte* table) =>
            PackBits(~near.ExtractMostSignificantBits() & 0xF, x, dy, withDy, index, fx, fdy, fi);
    }

    /// <summary>One element; masks are floats whose bits are all one (a NaN) or all zero.</summary>
    private readonly struct Lanes1 : ILanes<float>
    {
        private static readonly float AllBits = BitConverter.Int32BitsToSingle(-1);

        public static int Count => 1;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Load(float* p) => *p;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Store(float v, float* p) => *p = v;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Splat(float c) => c;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Add(float a, float b) => a + b;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Sub(float a, float b) => a - b;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Mul(float a, float b) => a * b;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Div(float a, float b) => a / b;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Fma(float a, float b, float c) => MathF.FusedMultiplyAdd(a, b, c);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Neg(float a) => -a;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Abs(float a) => MathF.Abs(a);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Min(float a, float b) => a < b ? a : b;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Max(float a, float b) => a > b ? a : b;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Less(float a, float b) => a < b ? AllBits : 0f;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Equal(float a, float b) => a == b ? AllBits : 0f;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Select(float mask, float a, float b) => BitConverter.SingleToInt32Bits(mask) != 0 ? a : b;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float And(float a, float b) => BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(a) & BitConverter.SingleToInt32Bits(b));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Xor(float a, float b) => BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(a) ^ BitConverter.SingleToInt32Bits(b));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Pow2(float z) => BitConverter.Int32BitsToSingle((BitConverter.SingleToInt32Bits(z) + 127) << 23);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static int PackFar(float near, float x, float dy, bool withDy, int index, float* fx, float* fdy, int* fi, byte* table)
        {
            *fx = x;
            if (withDy) *fdy = dy;
            *fi = index;
            return BitConverter.SingleToInt32Bits(near) == 0 ? 1 : 0;
        }
    }

    /// <summary>PackFar one set bit of <paramref name="far"/> at a time (without AVX2).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int PackBits<TV>(uint far, TV x, TV dy, bool withDy, int index, float* fx, float* fdy, int* fi)
        where TV : struct
    {
        int count = 0;
        for (; far != 0; far &= far - 1)
        {
            int lane = BitOperations.TrailingZeroCount(far);
            fx[count] = Unsafe.Add(ref Unsafe.As<TV, float>(ref x), lane);
            if (withDy) fdy[count] = Unsafe.Add(ref Unsafe.As<TV, float>(ref dy), lane);
            fi[count++] = index + lane;
        }
        return count;
    }

    /// <summary>
    /// For each 8-bit mask, the lane indices with the mask's set lanes first (in order), one byte each: the permutation
    /// that packs an 8-lane vector's far lanes.
    /// </summary>
    private static readonly byte* PackTable = BuildPackTable();

    private static byte* BuildPackTable()
    {
        var t = (byte*)NativeMemory.Alloc(256 * 8);
        for (int mask = 0; mask < 256; mask++)
        {
            int k = 0;
            for (int lane = 0; lane < 8; lane++)
                if ((mask >> lane & 1) != 0) t[8 * mask + k++] = (byte)lane;
            while (k < 8) t[8 * mask + k++] = 0;
        }
        return t;
    }
}
