using System;
using System.Collections.Generic;
using System.Threading;
using CsCheck;
using TransReID.Runtime.Cpu;

namespace TransReID.Runtime.Tests.Cpu;

/// <summary>
/// CpuGemm against a naive float64 reference: every transpose combination, edge tiles, KC/MC/NC block boundaries,
/// padded leading dimensions (padding filled with NaN, so reading it poisons the result; C's padding must stay
/// untouched), alpha/beta (beta = 0 with a NaN-filled C), serial and parallel, every managed kernel family and OpenBLAS.
/// Tests that switch the provider, kernel family or parallel threshold hold <see cref="Switch"/>, so they never
/// interleave. parallel = true cases set the threshold to 0, so even 1×1×1 goes through the threaded path.
/// </summary>
[Collection(GlobalGemmSwitches.Name)]
public class GemmTests
{
    private const float Eps = 1.1920929e-7f; // float machine epsilon, 2^-23 (float.Epsilon is the smallest denormal)
    private const float Sentinel = 12345.5f;
    private static readonly Lock Switch = new();

    private const string NoOpenBlas = "libopenblas.so.0 is not installed (apt-get install libopenblas0-pthread); the OpenBLAS path is untestable here.";

    // m, n, k: unit, primes, edge tiles around MR (14/4/4) and NR (32/24/8), K across KC (768 for AVX-512, 256 for the
    // narrower kernels; K is cut into equal slices), k below the 8-wide packing transposes. Each runs serial and
    // parallel, with (alpha 1, beta 0, tight strides) and (alpha -0.75, beta 0.5, padded strides).
    private static readonly (int M, int N, int K)[] SmallShapes =
    [
        (1, 1, 1), (4, 24, 3), (9, 49, 260), (37, 53, 29), (1, 300, 17), (300, 1, 17), (14, 32, 8), (15, 33, 257), (13, 31, 1), (15, 33, 800), (16, 64, 7),
    ];

    // Larger, each run once: M across MC (336 rows for AVX-512) on one thread, several row tasks, K across KC in
    // parallel, few rows (column tasks), one column.
    private static readonly (int M, int N, int K, bool Parallel)[] LargeShapes =
    [
        (470, 40, 60, false), (130, 150, 70, true), (29, 37, 1100, true), (3, 700, 200, true), (700, 3, 200, true),
    ];

    // Kernel families as ints: theory parameters of a public test must be public types.
    public static TheoryData<int, bool, bool> ManagedCases()
    {
        var data = new TheoryData<int, bool, bool>();
        foreach (GemmKernelKind kind in Enum.GetValues<GemmKernelKind>())
        {
            if (kind > GemmDriver.BestKernel) continue; // a kernel wider than the hardware would run in software: slow, not informative
            foreach (bool ta in (bool[])[false, true])
                foreach (bool tb in (bool[])[false, true])
                    data.Add((int)kind, ta, tb);
        }
        return data;
    }

    public static TheoryData<bool, bool> Transposes() => new() { { false, false }, { false, true }, { true, false }, { true, true } };

    [Theory]
    [MemberData(nameof(ManagedCases))]
    public void Managed_matches_reference_for_all_shapes(int kernelKind, bool transA, bool transB)
    {
        var kind = (GemmKernelKind)kernelKind;
        RunShapes(GemmProvider.Managed, kind, transA, transB, 1);
    }

    [Theory]
    [MemberData(nameof(Transposes))]
    public void OpenBlas_matches_reference_for_all_shapes(bool transA, bool transB)
    {
        Assert.SkipUnless(CpuGemm.OpenBlasAvailable, NoOpenBlas);
        RunShapes(GemmProvider.OpenBlas, GemmDriver.BestKernel, transA, transB, 1000);
    }

    private static void RunShapes(GemmProvider provider, GemmKernelKind kind, bool transA, bool transB, int seed)
    {
        foreach (var (m, n, k) in SmallShapes)
        {
            foreach (bool parallel in (bool[])[false, true])
            {
                Check(provider, kind, transA, transB, m, n, k, 1f, 0f, 0, 0, 0, parallel, seed++);
                Check(provider, kind, transA, transB, m, n, k, -0.75f, 0.5f, 3, 5, 7, parallel, seed++);
            }
        }
        foreach (var (m, n, k, parallel) in LargeShapes)
        {
            if (seed % 2 == 0) Check(provider, kind, transA, transB, m, n, k, 1f, 0f, 0, 0, 0, parallel, seed++);
            else Check(provider, kind, transA, transB, m, n, k, -0.75f, 0.5f, 3, 5, 7, parallel, seed++);
        }
    }

    /// <summary>Kernel families this CPU runs in hardware, as ints.</summary>
    public static TheoryData<int> Kinds()
    {
        var data = new TheoryData<int>();
        foreach (GemmKernelKind kind in Enum.GetValues<GemmKernelKind>())
            if (kind <= GemmDriver.BestKernel) data.Add((int)kind);
        return data;
    }

    // Every row count of a last, partial MR-row tile (the edge kernel's groups, a short last group, the scratch tile),
    // with whole NR panels and with a column edge too, alpha and beta general and beta = 0.
    [Theory]
    [MemberData(nameof(Kinds))]
    public void Every_row_remainder_of_the_last_tile_matches_reference(int kernelKind)
    {
        var kind = (GemmKernelKind)kernelKind;
        var micro = GemmDriver.Micro(kind);
        int seed = 500;
        for (int rows = 1; rows < micro.Mr; rows++)
        {
            foreach (int n in (int[])[2 * micro.Nr, 2 * micro.Nr + 3])
            {
                Check(GemmProvider.Managed, kind, false, true, micro.Mr + rows, n, 37, -0.75f, 0.5f, 1, 2, 3, false, seed++);
                Check(GemmProvider.Managed, kind, true, false, rows, n, 37, 1f, 0f, 0, 0, 0, false, seed++);
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Beta_one_accumulates_and_alpha_scales(bool openBlas)
    {
        var provider = openBlas ? GemmProvider.OpenBlas : GemmProvider.Managed;
        Assert.SkipWhen(provider == GemmProvider.OpenBlas && !CpuGemm.OpenBlasAvailable, NoOpenBlas);
        Check(provider, GemmDriver.BestKernel, false, true, 45, 70, 300, 0.25f, 1f, 2, 2, 2, true, 7);
        Check(provider, GemmDriver.BestKernel, true, false, 45, 70, 300, 3f, -2f, 0, 1, 0, false, 8);
    }

    [Fact]
    public void Column_blocks_beyond_the_packed_B_budget_are_handled()
    {
        lock (Switch)
        {
            long saved = GemmDriver.PackedBBudget;
            try
            {
                GemmDriver.PackedBBudget = 64 * 40; // k = 300 → NC = NR: every NR panel is its own column block
                foreach (var (ta, tb) in (ReadOnlySpan<(bool, bool)>)[(false, false), (true, true)])
                {
                    Check(GemmProvider.Managed, GemmDriver.BestKernel, ta, tb, 50, 130, 300, 1f, 0.5f, 1, 1, 1, true, 21);
                    Check(GemmProvider.Managed, GemmDriver.BestKernel, ta, tb, 50, 130, 300, 1f, 0f, 0, 0, 0, false, 22);
                }
            }
            finally
            {
                GemmDriver.PackedBBudget = saved;
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public unsafe void K_zero_or_alpha_zero_scales_C_by_beta_without_reading_A_or_B(bool openBlas)
    {
        var provider = openBlas ? GemmProvider.OpenBlas : GemmProvider.Managed;
        Assert.SkipWhen(provider == GemmProvider.OpenBlas && !CpuGemm.OpenBlasAvailable, NoOpenBlas);
        float[] c = [1, 2, 3, 4, 5, 6];
        float[] nan = [float.NaN, float.NaN, float.NaN, float.NaN, float.NaN, float.NaN];
        lock (Switch)
        {
            var saved = CpuGemm.Provider;
            CpuGemm.Provider = provider;
            try
            {
                fixed (float* pc = c, pn = nan)
                {
                    CpuGemm.Sgemm(false, false, 2, 3, 0, 1f, null, 0, null, 0, 2f, pc, 3);
                    Assert.Equal([2, 4, 6, 8, 10, 12], c);
                    CpuGemm.Sgemm(false, false, 2, 3, 3, 0f, pn, 3, pn, 3, 0.5f, pc, 3);
                    Assert.Equal([1, 2, 3, 4, 5, 6], c);
                    CpuGemm.Sgemm(true, true, 2, 3, 0, 1f, null, 0, null, 0, 0f, pn, 3);
                    Assert.Equal([0, 0, 0, 0, 0, 0], nan);
                    CpuGemm.Sgemm(false, false, 0, 3, 5, 1f, null, 0, null, 0, 0f, null, 0); // m = 0: nothing to do, nothing read
                }
            }
            finally
            {
                CpuGemm.Provider = saved;
            }
        }
    }

    [Fact]
    public unsafe void Invalid_arguments_throw_with_the_offending_value()
    {
        float* p = stackalloc float[16];
        var lda = Assert.Throws<ArgumentOutOfRangeException>(() => CpuGemm.Sgemm(false, false, 2, 2, 3, 1f, p, 2, p, 2, 0f, p, 2));
        Assert.Equal("lda", lda.ParamName);
        Assert.Contains("lda (2) must be at least 3", lda.Message, StringComparison.Ordinal);
        var ldb = Assert.Throws<ArgumentOutOfRangeException>(() => CpuGemm.Sgemm(false, true, 2, 2, 3, 1f, p, 3, p, 2, 0f, p, 2));
        Assert.Contains("ldb (2) must be at least 3", ldb.Message, StringComparison.Ordinal);
        var ldc = Assert.Throws<ArgumentOutOfRangeException>(() => CpuGemm.Sgemm(true, false, 2, 4, 3, 1f, p, 2, p, 4, 0f, p, 3));
        Assert.Contains("ldc (3) must be at least n (4)", ldc.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => CpuGemm.Sgemm(false, false, -1, 2, 3, 1f, p, 3, p, 2, 0f, p, 2));
        Assert.Throws<ArgumentNullException>(() => CpuGemm.Sgemm(false, false, 2, 2, 3, 1f, null, 3, p, 2, 0f, p, 2));
    }

    /// <summary>
    /// OpenBLAS lags when its core has no AVX2 kernels and the CPU has AVX2 + FMA, or when its kernels are AVX2 and the
    /// managed kernel runs 512-bit vectors at full speed; AVX-512 cores never lag.
    /// </summary>
    [Theory]
    [InlineData((int)GemmKernelKind.Vector512, "Prescott", true)] // Debian 0.3.21 on Emerald Rapids
    [InlineData((int)GemmKernelKind.Vector512, "Haswell", true)] // Debian 0.3.21 on Zen 5
    [InlineData((int)GemmKernelKind.Vector512, "zen", true)]
    [InlineData((int)GemmKernelKind.Vector512, "Cooperlake", false)] // Debian 0.3.21 on Zen 4
    [InlineData((int)GemmKernelKind.Vector512, "SkylakeX", false)]
    [InlineData((int)GemmKernelKind.Vector256, "Haswell", false)]
    [InlineData((int)GemmKernelKind.Vector256, "SapphireRapids", false)]
    [InlineData((int)GemmKernelKind.Vector256, "Prescott", true)]
    [InlineData((int)GemmKernelKind.Vector256, null, true)]
    [InlineData((int)GemmKernelKind.Vector128, "Prescott", false)]
    public void OpenBlas_lags_when_its_kernels_are_narrower_than_the_managed_one(int best, string? core, bool lags) =>
        Assert.Equal(lags, OpenBlas.Lags((GemmKernelKind)best, core));

    [Fact]
    public void OpenBlas_lags_this_cpu_by_its_core_name_and_says_so()
    {
        Assert.SkipUnless(CpuGemm.OpenBlasAvailable, NoOpenBlas);
        Assert.False(string.IsNullOrEmpty(OpenBlas.CoreName), "libopenblas.so.0 exports openblas_get_corename");
        Assert.Equal(OpenBlas.Lags(GemmDriver.BestKernel, OpenBlas.CoreName), OpenBlas.LagsThisCpu);
        if (OpenBlas.LagsThisCpu) Assert.Contains($"runs its {OpenBlas.CoreName} kernels", CpuGemm.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void Provider_variable_is_parsed_and_bad_values_are_named()
    {
        Assert.Equal(GemmProvider.Managed, CpuGemm.ParseProvider("managed"));
        Assert.Equal(GemmProvider.Managed, CpuGemm.ParseProvider("MANAGED"));
        // auto: OpenBLAS unless it is missing or runs older kernels than this CPU's managed one (e.g. "Prescott" on a new Xeon)
        var auto = CpuGemm.OpenBlasAvailable && !OpenBlas.LagsThisCpu ? GemmProvider.OpenBlas : GemmProvider.Managed;
        Assert.Equal(auto, CpuGemm.ParseProvider(null));
        Assert.Equal(auto, CpuGemm.ParseProvider("auto"));
        if (CpuGemm.OpenBlasAvailable) Assert.Equal(GemmProvider.OpenBlas, CpuGemm.ParseProvider("openblas"));
        else Assert.Throws<InvalidOperationException>(() => CpuGemm.ParseProvider("openblas"));
        var bad = Assert.Throws<InvalidOperationException>(() => CpuGemm.ParseProvider("mkl"));
        Assert.Contains("TRANSREID_BLAS='mkl'", bad.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Describe_names_the_provider()
    {
        lock (Switch)
        {
            var saved = CpuGemm.Provider;
            try
            {
                CpuGemm.Provider = GemmProvider.Managed;
                Assert.StartsWith("managed ", CpuGemm.Describe(), StringComparison.Ordinal);
                if (CpuGemm.OpenBlasAvailable)
                {
                    CpuGemm.Provider = GemmProvider.OpenBlas;
                    Assert.Contains("OpenBLAS", CpuGemm.Describe(), StringComparison.Ordinal);
                }
                else
                {
                    Assert.Throws<InvalidOperationException>(() => CpuGemm.Provider = GemmProvider.OpenBlas);
                }
            }
            finally
            {
                CpuGemm.Provider = saved;
            }
        }
    }

    [Fact]
    public void Random_shapes_transposes_and_strides_match_reference()
    {
        var providers = CpuGemm.OpenBlasAvailable ? new[] { GemmProvider.Managed, GemmProvider.OpenBlas } : [GemmProvider.Managed];
        var gen = Gen.Select(
            Gen.Select(Gen.Bool, Gen.Bool, Gen.Bool),
            Gen.Select(Gen.Int[1, 90], Gen.Int[1, 90], Gen.Int[1, 300]),
            Gen.Select(Gen.Int[0, 3], Gen.Int[0, 3], Gen.Int[0, 3]),
            Gen.Select(Gen.OneOfConst(0f, 1f, -0.5f), Gen.OneOfConst(1f, -2f, 0.125f), Gen.Int[0, providers.Length - 1], Gen.Int[0, 1 << 30]));
        gen.Sample(t =>
        {
            var ((ta, tb, parallel), (m, n, k), (pa, pb, pc), (beta, alpha, p, seed)) = t;
            Check(providers[p], GemmDriver.BestKernel, ta, tb, m, n, k, alpha, beta, pa, pb, pc, parallel, seed);
        }, iter: 150, threads: 1);
    }

    /// <summary>
    /// Runs one product with the given provider and kernel family and compares with a float64 reference.
    /// A is [rowsA, lda] with rowsA = transA ? k : m, lda = (transA ? m : k) + padA; B likewise; C is [m, n + padC].
    /// Tolerance: 32·eps·sqrt(k)·(|alpha|·sqrt(k)·max|A|·max|B|) + 4·eps·|beta|·max|C₀| — the scale of a length-k dot
    /// product of random entries times the growth of its rounding error.
    /// </summary>
    private static unsafe void Check(GemmProvider provider, GemmKernelKind kind, bool transA, bool transB, int m, int n, int k,
        float alpha, float beta, int padA, int padB, int padC, bool parallel, int seed)
    {
        var rng = new Random(seed);
        int lda = (transA ? m : k) + padA, ldb = (transB ? k : n) + padB, ldc = n + padC;
        int rowsA = transA ? k : m, rowsB = transB ? n : k;
        float[] a = Fill(rng, rowsA, lda, transA ? m : k, float.NaN);
        float[] b = Fill(rng, rowsB, ldb, transB ? k : n, float.NaN);
        float[] c = Fill(rng, m, ldc, n, Sentinel);
        if (beta == 0)
        {
            for (int i = 0; i < m; i++) c.AsSpan(i * ldc, n).Fill(float.NaN);
        }
        float[] c0 = (float[])c.Clone();

        lock (Switch)
        {
            var savedProvider = CpuGemm.Provider;
            var savedKind = GemmDriver.KernelKind;
            double savedThreshold = GemmDriver.ParallelThreshold;
            try
            {
                CpuGemm.Provider = provider;
                GemmDriver.KernelKind = kind;
                if (parallel) GemmDriver.ParallelThreshold = 0;
                fixed (float* pa = a, pb = b, pc = c)
                    CpuGemm.Sgemm(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, parallel);
            }
            finally
            {
                CpuGemm.Provider = savedProvider;
                GemmDriver.KernelKind = savedKind;
                GemmDriver.ParallelThreshold = savedThreshold;
            }
        }

        double maxA = MaxAbs(a), maxB = MaxAbs(b), maxC = beta == 0 ? 0 : MaxAbs(c0);
        double tol = 32 * Eps * Math.Sqrt(k) * Math.Abs(alpha) * Math.Sqrt(k) * maxA * maxB + 4 * Eps * Math.Abs(beta) * maxC + 1e-30;
        string what = $"{provider}/{kind} transA={transA} transB={transB} m={m} n={n} k={k} alpha={alpha} beta={beta} " +
                      $"lda={lda} ldb={ldb} ldc={ldc} parallel={parallel} seed={seed}";
        // op(A) as [m, k] and op(B)ᵀ as [n, k] in float64, so the reference dot products read contiguously.
        var opA = new double[m * k];
        var opBt = new double[n * k];
        for (int i = 0; i < m; i++)
            for (int p = 0; p < k; p++) opA[i * k + p] = transA ? a[p * lda + i] : a[i * lda + p];
        for (int j = 0; j < n; j++)
            for (int p = 0; p < k; p++) opBt[j * k + p] = transB ? b[j * ldb + p] : b[p * ldb + j];
        int bad = 0;
        var failures = new List<string>();
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < ldc; j++)
            {
                float got = c[i * ldc + j];
                if (j >= n)
                {
                    if (BitConverter.SingleToInt32Bits(got) != BitConverter.SingleToInt32Bits(Sentinel) && bad++ < 5)
                        failures.Add($"C padding [{i},{j}] overwritten with {got}");
                    continue;
                }
                double s = 0;
                for (int p = 0; p < k; p++) s += opA[i * k + p] * opBt[j * k + p];
                double expected = alpha * s + (beta == 0 ? 0 : beta * (double)c0[i * ldc + j]);
                if (!(Math.Abs(got - expected) <= tol) && bad++ < 5)
                    failures.Add($"C[{i},{j}] = {got}, expected {expected} (diff {Math.Abs(got - expected):E2} > tol {tol:E2})");
            }
        }
        Assert.True(bad == 0, $"{what}: {bad} mismatches, first: {string.Join("; ", failures)}");
    }

    /// <summary>[rows, ld] with the first <paramref name="cols"/> columns uniform in [-1, 1) and the rest <paramref name="pad"/>.</summary>
    private static float[] Fill(Random rng, int rows, int ld, int cols, float pad)
    {
        var x = new float[Math.Max(1, rows * ld)];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < ld; j++)
                x[i * ld + j] = j < cols ? 2 * rng.NextSingle() - 1 : pad;
        return x;
    }

    private static double MaxAbs(float[] x)
    {
        double max = 0;
        foreach (float v in x)
            if (float.IsFinite(v) && v != Sentinel) max = Math.Max(max, Math.Abs(v));
        return max;
    }
}
