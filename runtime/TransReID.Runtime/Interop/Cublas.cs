using System.Runtime.InteropServices;

namespace TransReID.Runtime.Interop;

/// <summary>
/// cuBLAS entry points (blittable <c>[LibraryImport]</c>, raw <c>cublasStatus_t</c>) and <see cref="Check"/>.
/// All matrices are column-major as cuBLAS sees them; <see cref="TransReID.Runtime.Cuda.Blas"/> maps row-major calls.
/// </summary>
internal static unsafe partial class Cublas
{
    public const int Success = 0;
    public const int OpN = 0;
    public const int OpT = 1;
    public const int DefaultMath = 0;
    public const int Tf32TensorOpMath = 3;

    static Cublas() => Libraries.EnsureResolver();

    /// <summary>Throws a <see cref="CudaException"/> when <paramref name="status"/> is not CUBLAS_STATUS_SUCCESS.</summary>
    public static void Check(int status, string function)
    {
        if (status == Success) return;
        string name = StatusName(status);
        string text = StatusString(status);
        throw new CudaException("cuBLAS", function, status, name, $"{function} failed with {name} ({status}): {text}");
    }

    /// <summary>The cublasStatus_t name (table of cublas_api.h, so it works even when cublasGetStatusName is absent).</summary>
    public static string StatusName(int status) => status switch
    {
        0 => "CUBLAS_STATUS_SUCCESS",
        1 => "CUBLAS_STATUS_NOT_INITIALIZED",
        3 => "CUBLAS_STATUS_ALLOC_FAILED",
        7 => "CUBLAS_STATUS_INVALID_VALUE",
        8 => "CUBLAS_STATUS_ARCH_MISMATCH",
        11 => "CUBLAS_STATUS_MAPPING_ERROR",
        13 => "CUBLAS_STATUS_EXECUTION_FAILED",
        14 => "CUBLAS_STATUS_INTERNAL_ERROR",
        15 => "CUBLAS_STATUS_NOT_SUPPORTED",
        16 => "CUBLAS_STATUS_LICENSE_ERROR",
        _ => $"cublasStatus {status}",
    };

    private static string StatusString(int status)
    {
        try
        {
            byte* s = cublasGetStatusString(status);
            if (s != null) return Marshal.PtrToStringUTF8((nint)s) ?? "unknown status";
        }
        catch (System.EntryPointNotFoundException)
        {
        }

        return "unknown status";
    }

    [LibraryImport(Libraries.Cublas)]
    public static partial int cublasCreate_v2(nint* handle);

    [LibraryImport(Libraries.Cublas)]
    public static partial int cublasDestroy_v2(nint handle);

    [LibraryImport(Libraries.Cublas)]
    public static partial int cublasGetVersion_v2(nint handle, int* version);

    [LibraryImport(Libraries.Cublas)]
    public static partial int cublasSetStream_v2(nint handle, nint stream);

    [LibraryImport(Libraries.Cublas)]
    public static partial int cublasSetMathMode(nint handle, int mode);

    [LibraryImport(Libraries.Cublas)]
    public static partial byte* cublasGetStatusString(int status);

    [LibraryImport(Libraries.Cublas)]
    public static partial int cublasSgemm_v2(nint handle, int transA, int transB, int m, int n, int k, float* alpha,
        ulong a, int lda, ulong b, int ldb, float* beta, ulong c, int ldc);

    [LibraryImport(Libraries.Cublas)]
    public static partial int cublasSgemmStridedBatched(nint handle, int transA, int transB, int m, int n, int k, float* alpha,
        ulong a, int lda, long strideA, ulong b, int ldb, long strideB, float* beta, ulong c, int ldc, long strideC, int batchCount);
}
