using System;
using System.Runtime.InteropServices;
using TransReID.Runtime.Cpu;

namespace TransReID.Runtime.Tests.Cpu;

/// <summary>
/// <see cref="PackedGemm"/> (Linear with the weight packed once) against a float64 reference, through every task plan:
/// serial, column tasks sharing one packed x or reading x in place (few rows), row tasks packing their own rows (many rows), K in several
/// slices, edge tiles in both directions, no bias, one row; every managed kernel family the hardware runs. y starts
/// as NaN: the first slice must overwrite it. Then <see cref="ConstantWeights"/> through <see cref="CpuBackend"/>: what
/// is packed, when it is reused, and that a new version or an ended declaration reads the weight as it is.
/// </summary>
[Collection(GlobalGemmSwitches.Name)]
public unsafe class PackedGemmTests
{
    // (m, n, k, kc): one tile; primes across MR/NR; K = 600 in 3 slices of 200 (kc 256); k below the 8-wide transposes;
    // m·n·k ≥ the parallel threshold with few rows (column tasks, shared x) and with many (row tasks); M = 1 with a
    // weight big enough to go parallel; N = 3072 fc1-like at batch 1; and per kernel family every partial last tile.
    public static TheoryData<int, int, int, int, int> Cases()
    {
        var data = new TheoryData<int, int, int, int, int>();
        (int M, int N, int K, int Kc)[] shapes =
        [
            (1, 1, 1, 256), (37, 53, 29, 256), (7, 33, 600, 256), (13, 31, 5, 8), (211, 300, 600, 256), (1300, 40, 100, 64),
            (700, 45, 300, 128), (1, 3072, 768, 256), (211, 3072, 64, 256),
        ];
        foreach (GemmKernelKind kind in Enum.GetValues<GemmKernelKind>())
        {
            if (kind > GemmDriver.BestKernel) continue;
            foreach (var (m, n, k, kc) in shapes) data.Add((int)kind, m, n, k, kc);
            // every row count of the last, partial tile (M = 2·MR + r), over whole panels
            var micro = GemmDriver.Micro(kind);
            for (int r = 1; r < micro.Mr; r++) data.Add((int)kind, 2 * micro.Mr + r, 2 * micro.Nr, 40, 256);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Packed_linear_matches_reference(int kernelKind, int m, int n, int k, int kc)
    {
        var par = new CpuParallel(2);
        var rng = new Random(m * 31 + n * 7 + k);
        float[] x = Values(rng, m * k), w = Values(rng, n * k), b = Values(rng, n);
        foreach (bool withBias in (bool[])[true, false])
        {
            float[] y = new float[m * n];
            Array.Fill(y, float.NaN);
            fixed (float* px = x, pw = w, pb = b, py = y)
            {
                using var packed = new PackedWeight(pw, n, k, (GemmKernelKind)kernelKind, kc, par);
                Assert.True(packed.KcStep <= kc && packed.Panels * packed.Nr >= n);
                PackedGemm.Linear(par, px, m, packed, withBias ? pb : null, py);
                // the prefetching differs, the arithmetic does not: the streaming kernel and the plain one agree bit for bit
                float[] bursts = new float[m * n];
                fixed (float* pbursts = bursts)
                {
                    PackedGemm.StreamPrefetch = false;
                    try
                    {
                        PackedGemm.Linear(par, px, m, packed, withBias ? pb : null, pbursts);
                    }
                    finally
                    {
                        PackedGemm.StreamPrefetch = true;
                    }
                }
                Assert.Equal(y, bursts);
            }
            AssertMatches(x, w, withBias ? b : null, y, m, n, k, $"kernel {(GemmKernelKind)kernelKind}, {m}×{n}×{k}, kc {kc}, bias {withBias}");
        }
    }

    /// <summary>
    /// The few-rows plan (threads claim pieces of x to pack, then take weight panels from their own range and steal from
    /// the others') against the serial plan: bit for bit equal (same kernel, same slice order per tile), with more threads
    /// than cores (so a thread often starts late, is descheduled mid-call and has its range stolen), one row task or
    /// several, K in one slice or three, fewer panels than threads.
    /// </summary>
    [Theory]
    [InlineData(211, 300, 600, 2)]
    [InlineData(211, 300, 600, 3)]
    [InlineData(211, 3072, 64, 3)]
    [InlineData(700, 45, 300, 4)]
    [InlineData(1, 3072, 768, 3)]
    [InlineData(211, 64, 600, 6)]
    public void Few_rows_plan_equals_the_serial_plan(int m, int n, int k, int threads)
    {
        var rng = new Random(m + n + k);
        float[] w = Values(rng, n * k), b = Values(rng, n);
        var one = new CpuParallel(1);
        var many = new CpuParallel(threads);
        fixed (float* pw = w, pb = b)
        {
            using var packed = new PackedWeight(pw, n, k, GemmDriver.BestKernel, 256, one);
            // a new x each run: a kernel call that read the shared packed x before its piece was packed would see the last run's
            for (int run = 0; run < 200; run++)
            {
                float[] x = Values(rng, m * k), serial = new float[m * n], y = new float[m * n];
                Array.Fill(y, float.NaN);
                fixed (float* px = x, ps = serial, py = y)
                {
                    PackedGemm.Linear(one, px, m, packed, pb, ps);
                    PackedGemm.Linear(many, px, m, packed, pb, py);
                }
                Assert.Equal(serial, y);
                if (run == 0) AssertMatches(x, w, b, serial, m, n, k, $"serial {m}×{n}×{k}");
            }
        }
    }

    /// <summary>
    /// The few-rows plan reading x in place with the row-major kernels against packing x first: bit for bit equal (the
    /// same FMAs over k per element), for every row count of the last row panel (the 4-, 2- and 1-row kernels in turn),
    /// a partial last column panel (through the scratch tile), K in one slice or three, and M = 1.
    /// </summary>
    [Theory]
    [MemberData(nameof(RowMajorCases))]
    public void Few_rows_plan_reading_x_in_place_equals_packing_it(int m, int n, int k)
    {
        if (!GemmDriver.Micro(GemmDriver.BestKernel).Rows.Available) Assert.Skip("the row-major kernels are AVX-512 ones");
        var par = new CpuParallel(2);
        var rng = new Random(m * 13 + n + k);
        float[] x = Values(rng, m * k), w = Values(rng, n * k), b = Values(rng, n), inPlace = new float[m * n], packedX = new float[m * n];
        Array.Fill(inPlace, float.NaN);
        Array.Fill(packedX, float.NaN);
        Assert.True((double)Math.Max(m, 8) * n * k >= GemmDriver.ParallelThreshold, "the case must take a parallel plan");
        fixed (float* px = x, pw = w, pb = b, pi = inPlace, pp = packedX)
        {
            using var packed = new PackedWeight(pw, n, k, GemmDriver.BestKernel, 256, par);
            PackedGemm.Linear(par, px, m, packed, pb, pi);
            PackedGemm.RowMajorA = false;
            try
            {
                PackedGemm.Linear(par, px, m, packed, pb, pp);
            }
            finally
            {
                PackedGemm.RowMajorA = true;
            }
        }
        Assert.Equal(packedX, inPlace);
        AssertMatches(x, w, b, inPlace, m, n, k, $"x in place {m}×{n}×{k}");
    }

    public static TheoryData<int, int, int> RowMajorCases()
    {
        var data = new TheoryData<int, int, int>();
        // M = 2·14 + r: every last-panel row count; N = 3072 keeps it parallel at K = 64
        for (int r = 1; r < 14; r++) data.Add(28 + r, 3072, 64);
        data.Add(211, 300, 600);
        data.Add(211, 2304, 768);
        data.Add(1, 3072, 768);
        return data;
    }

    /// <summary>
    /// x is read in place only when its 14 rows spread over the L1d sets: K = 768 yes, the aliasing 1024 and 3072 no,
    /// 3072 padded to 3088 (Embed's MLP hidden rows) yes.
    /// </summary>
    [Theory]
    [InlineData(768, true)]
    [InlineData(384, true)]
    [InlineData(600, true)]
    [InlineData(64, true)]
    [InlineData(1024, false)]
    [InlineData(3072, false)]
    [InlineData(2048, false)]
    [InlineData(3088, true)]
    public void Rows_are_read_in_place_only_when_they_spread_over_the_cache_sets(int k, bool expected) =>
        Assert.Equal(expected, PackedGemm.RowsSpreadOverSets(k, 14));

    [Fact]
    public void Declared_weights_are_packed_once_and_dropped_with_a_new_version()
    {
        const int m = 9, n = 40, k = 24;
        using var backend = new CpuBackend(2);
        var rng = new Random(5);
        float[] x = Values(rng, m * k), w = Values(rng, n * k), b = Values(rng, n), w2 = Values(rng, n * k);
        using var weights = backend.Allocate(n * k + n + 16);
        using var bufX = backend.Allocate(m * k);
        using var bufY = backend.Allocate(m * n);
        var pw = weights.Ptr;
        var pb = weights.Ptr + n * k;
        backend.Upload(w, pw);
        backend.Upload(b, pb);
        backend.Upload(x, bufX.Ptr);
        float[] Run()
        {
            backend.Linear(bufX.Ptr, pw, pb, bufY.Ptr, m, k, n);
            var y = new float[m * n];
            backend.Download(bufY.Ptr, y);
            return y;
        }

        // not declared: nothing packed
        AssertMatches(x, w, b, Run(), m, n, k, "undeclared");
        Assert.Equal(0, backend.PackedWeightFloats);

        // declared: packed on first use, the same copy reused
        backend.DeclareConstantWeights(weights.Ptr, n * k + n + 16, 1);
        AssertMatches(x, w, b, Run(), m, n, k, "declared, first use");
        long packedFloats = backend.PackedWeightFloats;
        Assert.True(packedFloats >= n * k, $"packed {packedFloats} floats");
        AssertMatches(x, w, b, Run(), m, n, k, "declared, reused");
        Assert.Equal(packedFloats, backend.PackedWeightFloats);

        // the declaration ended: the weight is read as it is, though its packed copy is kept
        backend.DeclareConstantWeights(DevicePtr.Null, 0, 0);
        backend.Upload(w2, pw);
        AssertMatches(x, w2, b, Run(), m, n, k, "after the declaration ended");
        Assert.Equal(packedFloats, backend.PackedWeightFloats);

        // a new version drops the old copy and packs the new weight
        backend.DeclareConstantWeights(weights.Ptr, n * k + n + 16, 2);
        Assert.Equal(0, backend.PackedWeightFloats);
        AssertMatches(x, w2, b, Run(), m, n, k, "new version");
        Assert.Equal(packedFloats, backend.PackedWeightFloats);
        backend.DeclareConstantWeights(DevicePtr.Null, 0, 0);

        // a weight outside the declared range is not packed
        backend.DeclareConstantWeights(weights.Ptr + n * k, n + 16, 3);
        AssertMatches(x, w2, b, Run(), m, n, k, "weight outside the range");
        Assert.Equal(0, backend.PackedWeightFloats);
        backend.DeclareConstantWeights(DevicePtr.Null, 0, 0);
    }

    /// <summary>
    /// Linear on row-strided x and y (<see cref="IBackend.Linear(DevicePtr, int, DevicePtr, DevicePtr, DevicePtr, int, int, int, int)"/>)
    /// through <see cref="CpuBackend"/>, with the weight packed once (declared) and read as it is (undeclared): the
    /// same y as on dense rows, bit for bit, against the float64 reference, and the padding columns of y left as they
    /// were. The fc2 shape of ViT-B at batch 1 with Embed's padding (3072 + 16) is read in place where the dense rows
    /// are packed: the row-major kernels and the packed ones agree.
    /// </summary>
    [Theory]
    [InlineData(211, 768, 3072, 16, 0)]
    [InlineData(211, 3072, 768, 0, 16)]
    [InlineData(37, 53, 29, 3, 5)]
    [InlineData(1, 300, 40, 1, 7)]
    public void Strided_rows_give_the_dense_result_and_leave_the_padding(int m, int n, int k, int padX, int padY)
    {
        int ldx = k + padX, ldy = n + padY;
        using var backend = new CpuBackend(2);
        var rng = new Random(m + 3 * n + 7 * k);
        float[] x = Values(rng, m * k), w = Values(rng, n * k), b = Values(rng, n);
        float[] xs = new float[m * ldx];
        Array.Fill(xs, float.NaN); // the padding of x is never read
        for (int i = 0; i < m; i++) Array.Copy(x, i * k, xs, i * ldx, k);
        using var weights = backend.Allocate(n * k + n);
        using var bufX = backend.Allocate(m * k);
        using var bufXs = backend.Allocate(m * ldx);
        using var bufY = backend.Allocate(m * n);
        using var bufYs = backend.Allocate(m * ldy);
        backend.Upload(w, weights.Ptr);
        backend.Upload(b, weights.Ptr + n * k);
        backend.Upload(x, bufX.Ptr);
        backend.Upload(xs, bufXs.Ptr);
        foreach (bool declared in (bool[])[false, true])
        {
            if (declared) backend.DeclareConstantWeights(weights.Ptr, n * k + n, 1);
            float[] sentinel = new float[m * ldy];
            Array.Fill(sentinel, 12345f);
            backend.Upload(sentinel, bufYs.Ptr);
            backend.Linear(bufX.Ptr, weights.Ptr, weights.Ptr + n * k, bufY.Ptr, m, k, n);
            backend.Linear(bufXs.Ptr, ldx, weights.Ptr, weights.Ptr + n * k, bufYs.Ptr, ldy, m, k, n);
            float[] dense = new float[m * n], strided = new float[m * ldy], rows = new float[m * n];
            backend.Download(bufY.Ptr, dense);
            backend.Download(bufYs.Ptr, strided);
            for (int i = 0; i < m; i++)
            {
                Array.Copy(strided, i * ldy, rows, i * n, n);
                for (int j = n; j < ldy; j++) Assert.Equal(12345f, strided[i * ldy + j]);
            }
            Assert.Equal(dense, rows);
            AssertMatches(x, w, b, rows, m, n, k, $"strided {m}×{n}×{k}, ldx {ldx}, ldy {ldy}, declared {declared}");
            if (declared) Assert.True(backend.PackedWeightFloats >= n * k);
        }
        backend.DeclareConstantWeights(DevicePtr.Null, 0, 0);
    }

    [Fact]
    public void Rows_closer_than_their_length_are_refused()
    {
        using var backend = new CpuBackend(1);
        using var buf = backend.Allocate(64);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => backend.Linear(buf.Ptr, 3, buf.Ptr, DevicePtr.Null, buf.Ptr, 4, 2, 4, 4));
        Assert.Equal("ldx", e.ParamName);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => backend.Linear(buf.Ptr, 4, buf.Ptr, DevicePtr.Null, buf.Ptr, 3, 2, 4, 4));
        Assert.Equal("ldy", e.ParamName);
    }

    private static float[] Values(Random rng, int count)
    {
        var v = new float[count];
        for (int i = 0; i < count; i++) v[i] = rng.NextSingle() * 2 - 1;
        return v;
    }

    /// <summary>|y − ref| ≤ (k + 2)·ε·(Σ|x·w| + |b|) elementwise, ref = x·Wᵀ + b in float64.</summary>
    private static void AssertMatches(float[] x, float[] w, float[]? b, float[] y, int m, int n, int k, string what)
    {
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double r = b is null ? 0 : b[j], mag = b is null ? 0 : Math.Abs(b[j]);
                for (int p = 0; p < k; p++)
                {
                    double t = (double)x[i * k + p] * w[j * k + p];
                    r += t;
                    mag += Math.Abs(t);
                }
                double tol = (k + 2) * 1.1920929e-7 * mag + 1e-30;
                float got = y[i * n + j];
                if (!(Math.Abs(got - r) <= tol))
                    Assert.Fail($"{what}: y[{i},{j}] = {got}, reference {r} (tolerance {tol:E2})");
            }
        }
    }
}
