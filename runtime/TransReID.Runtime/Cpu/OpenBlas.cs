using System;
using System.Runtime.InteropServices;

namespace TransReID.Runtime.Cpu;

/// <summary>
/// Binding to OpenBLAS's <c>cblas_sgemm</c> (Debian package libopenblas0-pthread, soname
/// <c>libopenblas.so.0</c>). The library is probed once with <see cref="NativeLibrary.TryLoad(string, out IntPtr)"/>;
/// when it or the symbol is missing, <see cref="IsAvailable"/> is false and nothing here throws
/// <see cref="DllNotFoundException"/>, because callers check it before calling <see cref="Sgemm"/>.
/// </summary>
internal static unsafe partial class OpenBlas
{
    /// <summary>The soname probed and bound; the unversioned <c>libopenblas.so</c> exists only with the -dev package.</summary>
    public const string LibraryName = "libopenblas.so.0";

    // CBLAS enums (cblas.h).
    private const int CblasRowMajor = 101;
    private const int CblasNoTrans = 111;
    private const int CblasTrans = 112;

    private static readonly IntPtr Handle = Probe();

    /// <summary>True when <see cref="LibraryName"/> loads and exports <c>cblas_sgemm</c>.</summary>
    public static bool IsAvailable => Handle != IntPtr.Zero;

    /// <summary>
    /// Row-major <c>cblas_sgemm</c>. Arguments must already be validated (OpenBLAS reports bad arguments
    /// through xerbla on stderr instead of failing), and <see cref="IsAvailable"/> must be true.
    /// </summary>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, float* a, int lda, float* b, int ldb,
        float beta, float* c, int ldc) =>
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    /// <summary>
    /// One line naming the build, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64 (pthreads, 2 threads)";
    /// "unavailable" when the library is missing. Uses the optional exports <c>openblas_get_config</c>,
    /// <c>openblas_get_parallel</c> and <c>openblas_get_num_threads</c> when present.
    /// </summary>
    public static string Describe()
    {
        if (!IsAvailable) return $"OpenBLAS unavailable ({LibraryName} not loadable)";
        string config = "OpenBLAS";
        if (NativeLibrary.TryGetExport(Handle, "openblas_get_config", out IntPtr getConfig))
        {
            var fn = (delegate* unmanaged<byte*>)getConfig;
            config = Marshal.PtrToStringUTF8((IntPtr)fn())?.Trim() ?? config;
        }
        string threading = "unknown threading";
        if (NativeLibrary.TryGetExport(Handle, "openblas_get_parallel", out IntPtr getParallel))
        {
            threading = ((delegate* unmanaged<int>)getParallel)() switch
            {
                0 => "sequential",
                1 => "pthreads",
                2 => "OpenMP",
                int other => $"threading mode {other}",
            };
        }
        int threads = GetThreadCount();
        if (threads > 0) threading += $", {threads} threads";
        return $"{config} ({threading})";
    }

    /// <summary>
    /// The core OpenBLAS picked its kernels for (<c>openblas_get_corename</c>, e.g. "Haswell", "SkylakeX"), or null when
    /// the library or the export is missing. A DYNAMIC_ARCH build that does not know the CPU falls back to an old core:
    /// Debian's 0.3.21 names an Emerald Rapids Xeon "Prescott" and runs SSE3 kernels there.
    /// </summary>
    public static string? CoreName { get; } = IsAvailable && NativeLibrary.TryGetExport(Handle, "openblas_get_corename", out IntPtr fn)
        ? Marshal.PtrToStringUTF8((IntPtr)((delegate* unmanaged<byte*>)fn)())?.Trim()
        : null;

    /// <summary>OpenBLAS cores whose SGEMM kernels use AVX2 + FMA (256-bit vectors).</summary>
    private static readonly string[] Avx2Cores = ["Haswell", "Zen", "Excavator"];

    /// <summary>OpenBLAS cores whose SGEMM kernels use AVX-512.</summary>
    private static readonly string[] Avx512Cores = ["SkylakeX", "Cooperlake", "SapphireRapids"];

    /// <summary>
    /// Whether OpenBLAS's kernels are narrower than the managed kernel this CPU runs:
    /// <list type="bullet">
    /// <item>it picked a core without AVX2 kernels (or did not say which) while the CPU has AVX2 + FMA. Measured on such a
    /// machine (docs/benchmarks.md): the managed kernel 2–5× faster on every model GEMM shape;</item>
    /// <item>or it picked an AVX2 core while the runtime runs 512-bit vectors at full speed (the managed AVX-512 kernel).
    /// Debian's 0.3.21 names Zen 5 "Haswell"; there TrainStep ran 1.65× faster on the managed kernel.</item>
    /// </list>
    /// </summary>
    public static bool LagsThisCpu => IsAvailable && Lags(GemmDriver.BestKernel, CoreName);

    /// <summary><see cref="LagsThisCpu"/> for a CPU whose best managed kernel is <paramref name="best"/> and an OpenBLAS core name.</summary>
    internal static bool Lags(GemmKernelKind best, string? coreName)
    {
        bool Named(string[] cores) => Array.Exists(cores, c => string.Equals(c, coreName, StringComparison.OrdinalIgnoreCase));
        if (best >= GemmKernelKind.Vector512 && Named(Avx2Cores)) return true;
        return best >= GemmKernelKind.Vector256 && !Named(Avx2Cores) && !Named(Avx512Cores);
    }

    /// <summary>OpenBLAS's thread count (<c>openblas_get_num_threads</c>), or 0 when unavailable.</summary>
    public static int GetThreadCount() =>
        IsAvailable && NativeLibrary.TryGetExport(Handle, "openblas_get_num_threads", out IntPtr fn) ? ((delegate* unmanaged<int>)fn)() : 0;

    /// <summary>
    /// Sets OpenBLAS's thread count for later calls (<c>openblas_set_num_threads</c>, process-wide); false when the
    /// library or the export is missing. Benchmarks use it to compare one core against the managed serial path.
    /// </summary>
    public static bool TrySetThreadCount(int threads)
    {
        if (!IsAvailable || !NativeLibrary.TryGetExport(Handle, "openblas_set_num_threads", out IntPtr fn)) return false;
        ((delegate* unmanaged<int, void>)fn)(threads);
        return true;
    }

    private static IntPtr Probe()
    {
        if (!NativeLibrary.TryLoad(LibraryName, out IntPtr handle)) return IntPtr.Zero;
        return NativeLibrary.TryGetExport(handle, "cblas_sgemm", out _) ? handle : IntPtr.Zero;
    }

    // void cblas_sgemm(order, transA, transB, blasint M, N, K, float alpha, const float* A, blasint lda,
    //                  const float* B, blasint ldb, float beta, float* C, blasint ldc); blasint = int32 in libopenblas0.
    [LibraryImport(LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    private static partial void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc);
}
