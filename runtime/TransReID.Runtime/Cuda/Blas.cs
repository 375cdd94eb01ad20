using System;
using TransReID.Runtime.Interop;

namespace TransReID.Runtime.Cuda;

/// <summary>
/// Row-major fp32 GEMMs on cuBLAS (column-major). A row-major matrix is its column-major transpose, so
/// C = op(A)·op(B) (row-major) is computed as Cᵀ = op(B)ᵀ·op(A)ᵀ: cuBLAS gets B first, A second, n and m swapped,
/// and the same transpose flags. Examples: Linear y = x·wᵀ is <c>Gemm(false, true, M, N, K, x, K, w, K, y, N)</c>.
/// Math mode is CUBLAS_DEFAULT_MATH (no TF32) unless the handle was created with TF32 allowed.
/// </summary>
internal static unsafe class Blas
{
    /// <summary>
    /// C[M,N] = alpha·op(A)[M,K]·op(B)[K,N] + beta·C, row-major with leading dimensions in elements.
    /// op(A) = A ([M,K], lda ≥ K) or Aᵀ when <paramref name="transA"/> (A is [K,M], lda ≥ M); likewise B.
    /// </summary>
    public static void Gemm(nint handle, bool transA, bool transB, int m, int n, int k, float alpha, DevicePtr a, int lda,
        DevicePtr b, int ldb, float beta, DevicePtr c, int ldc)
    {
        if (m == 0 || n == 0) return;
        CheckLeading(transA, m, k, lda, nameof(lda));
        CheckLeading(transB, k, n, ldb, nameof(ldb));
        if (ldc < n) throw new ArgumentOutOfRangeException(nameof(ldc), ldc, $"ldc must be at least N = {n}");
        Cublas.Check(Cublas.cublasSgemm_v2(handle, transB ? Cublas.OpT : Cublas.OpN, transA ? Cublas.OpT : Cublas.OpN, n, m, k,
            &alpha, (ulong)b.Address, ldb, (ulong)a.Address, lda, &beta, (ulong)c.Address, ldc), "cublasSgemm_v2");
    }

    /// <summary>
    /// <paramref name="batch"/> row-major GEMMs as <see cref="Gemm"/>, the i-th on A + i·strideA, B + i·strideB,
    /// C + i·strideC (strides in elements).
    /// </summary>
    public static void GemmStridedBatched(nint handle, bool transA, bool transB, int m, int n, int k, float alpha,
        DevicePtr a, int lda, long strideA, DevicePtr b, int ldb, long strideB, float beta, DevicePtr c, int ldc, long strideC, int batch)
    {
        if (m == 0 || n == 0 || batch == 0) return;
        CheckLeading(transA, m, k, lda, nameof(lda));
        CheckLeading(transB, k, n, ldb, nameof(ldb));
        if (ldc < n) throw new ArgumentOutOfRangeException(nameof(ldc), ldc, $"ldc must be at least N = {n}");
        Cublas.Check(Cublas.cublasSgemmStridedBatched(handle, transB ? Cublas.OpT : Cublas.OpN, transA ? Cublas.OpT : Cublas.OpN, n, m, k,
            &alpha, (ulong)b.Address, ldb, strideB, (ulong)a.Address, lda, strideA, &beta, (ulong)c.Address, ldc, strideC, batch),
            "cublasSgemmStridedBatched");
    }

    private static void CheckLeading(bool trans, int rows, int cols, int ld, string name)
    {
        int min = trans ? rows : cols;
        if (ld < Math.Max(1, min)) throw new ArgumentOutOfRangeException(name, ld, $"{name} must be at least {min}");
    }
}
