using System;

namespace TransReID.Runtime.Cpu;

/// <summary>Which implementation <see cref="CpuGemm.Sgemm"/> uses for calls with parallel = true.</summary>
internal enum GemmProvider
{
    /// <summary>The managed packed SIMD kernel (<see cref="GemmDriver"/>).</summary>
    Managed,

    /// <summary>OpenBLAS <c>cblas_sgemm</c> (<see cref="OpenBlas"/>), multi-threaded by OpenBLAS itself.</summary>
    OpenBlas,
}

/// <summary>
/// Single-precision GEMM on the CPU. Dispatches to OpenBLAS when it loads and knows this CPU (unless TRANSREID_BLAS=managed), otherwise to
/// the managed packed kernel. Calls with parallel = false always run the managed kernel on the calling thread, so that
/// callers that already parallelise (attention over batch × heads) never nest OpenBLAS's threads inside their own.
/// </summary>
internal static unsafe class CpuGemm
{
    /// <summary>Environment variable selecting the provider: "managed", "openblas" or "auto" (default).</summary>
    public const string ProviderVariable = "TRANSREID_BLAS";

    private static GemmProvider? s_provider;

    /// <summary>True when libopenblas.so.0 loads and exports cblas_sgemm.</summary>
    public static bool OpenBlasAvailable => OpenBlas.IsAvailable;

    /// <summary>
    /// Provider for parallel calls. Defaults from <see cref="ProviderVariable"/>: unset or "auto" → OpenBLAS when
    /// available and its kernels are not older than this CPU (<see cref="OpenBlas.LagsThisCpu"/>), else managed; "managed" → managed; "openblas" → OpenBLAS (error if it does not load).
    /// Setting <see cref="GemmProvider.OpenBlas"/> without the library throws.
    /// </summary>
    internal static GemmProvider Provider
    {
        get => s_provider ??= DefaultProvider();
        set
        {
            if (value == GemmProvider.OpenBlas && !OpenBlasAvailable)
                throw new InvalidOperationException($"GEMM provider OpenBlas requested but {OpenBlas.LibraryName} could not be loaded (install libopenblas0-pthread).");
            s_provider = value;
        }
    }

    /// <summary>The provider in use, e.g. "managed AVX-512 14×32 micro-kernel, KC=768, MC=336 (2 threads)" or the OpenBLAS build.</summary>
    internal static string Describe() => Provider == GemmProvider.OpenBlas
        ? OpenBlas.Describe()
        : $"managed {GemmDriver.DescribeKernel()} ({GemmDriver.ThreadCount} threads)"
          + (OpenBlas.LagsThisCpu ? $"; OpenBLAS not used: it runs its {OpenBlas.CoreName ?? "unnamed"} kernels on this CPU" : "");

    /// <summary>
    /// C[M,N] = alpha · op(A)[M,K] · op(B)[K,N] + beta · C, row-major with leading dimensions (elements per row).
    /// op(A) = A ([M,K], lda ≥ K) or Aᵀ when <paramref name="transA"/> (A is [K,M], lda ≥ M); likewise B
    /// (op(B) = B stored [K,N], ldb ≥ N, or Bᵀ with B stored [N,K], ldb ≥ K); ldc ≥ N.
    /// beta = 0 ignores the old contents of C (NaN-safe); alpha = 0 or k = 0 only scales C by beta.
    /// <paramref name="parallel"/> = false runs on the calling thread only (for callers that already parallelise,
    /// e.g. attention over batch × heads).
    /// </summary>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, float* a, int lda, float* b, int ldb,
        float beta, float* c, int ldc, bool parallel = true)
    {
        Validate(transA, transB, m, n, k, alpha, a, lda, b, ldb, c, ldc);
        if (m == 0 || n == 0) return;
        if (k == 0 || alpha == 0)
        {
            ScaleC(m, n, beta, c, ldc);
            return;
        }
        if (parallel && Provider == GemmProvider.OpenBlas)
            OpenBlas.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        else
            GemmDriver.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, parallel);
    }

    private static void Validate(bool transA, bool transB, int m, int n, int k, float alpha, float* a, int lda, float* b, int ldb,
        float* c, int ldc)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        if (m == 0 || n == 0) return;
        if (ldc < n) throw new ArgumentOutOfRangeException(nameof(ldc), ldc, $"ldc ({ldc}) must be at least n ({n}).");
        if (c == null) throw new ArgumentNullException(nameof(c), $"C is null for a {m}×{n} product.");
        if (k == 0 || alpha == 0) return;
        int aCols = transA ? m : k, bCols = transB ? k : n;
        if (lda < aCols)
            throw new ArgumentOutOfRangeException(nameof(lda), lda,
                $"lda ({lda}) must be at least {aCols} ({(transA ? "m, A is stored [K,M]" : "k, A is stored [M,K]")}).");
        if (ldb < bCols)
            throw new ArgumentOutOfRangeException(nameof(ldb), ldb,
                $"ldb ({ldb}) must be at least {bCols} ({(transB ? "k, B is stored [N,K]" : "n, B is stored [K,N]")}).");
        if (a == null) throw new ArgumentNullException(nameof(a), $"A is null for m={m}, k={k}.");
        if (b == null) throw new ArgumentNullException(nameof(b), $"B is null for k={k}, n={n}.");
    }

    /// <summary>C = beta·C; beta = 0 writes zeros without reading C.</summary>
    private static void ScaleC(int m, int n, float beta, float* c, int ldc)
    {
        if (beta == 1) return;
        for (int i = 0; i < m; i++)
        {
            var row = new Span<float>(c + (nint)i * ldc, n);
            if (beta == 0) row.Clear();
            else for (int j = 0; j < n; j++) row[j] *= beta;
        }
    }

    private static GemmProvider DefaultProvider() => ParseProvider(Environment.GetEnvironmentVariable(ProviderVariable));

    /// <summary>Maps a <see cref="ProviderVariable"/> value to a provider (see <see cref="Provider"/>).</summary>
    internal static GemmProvider ParseProvider(string? value)
    {
        if (string.IsNullOrWhiteSpace(value) || value.Equals("auto", StringComparison.OrdinalIgnoreCase))
            return OpenBlasAvailable && !OpenBlas.LagsThisCpu ? GemmProvider.OpenBlas : GemmProvider.Managed;
        if (value.Equals("managed", StringComparison.OrdinalIgnoreCase)) return GemmProvider.Managed;
        if (value.Equals("openblas", StringComparison.OrdinalIgnoreCase))
        {
            return OpenBlasAvailable ? GemmProvider.OpenBlas
                : throw new InvalidOperationException($"{ProviderVariable}=openblas but {OpenBlas.LibraryName} could not be loaded (install libopenblas0-pthread).");
        }
        throw new InvalidOperationException($"{ProviderVariable}='{value}' is not one of: managed, openblas, auto.");
    }
}
