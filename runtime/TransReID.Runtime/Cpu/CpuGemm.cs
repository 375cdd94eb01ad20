namespace TransReID.Runtime.Cpu;

/// <summary>Single-precision GEMM on the CPU (placeholder body: replaced by the packed SIMD kernel).</summary>
internal static unsafe class CpuGemm
{
    /// <summary>
    /// C[M,N] = alpha · op(A)[M,K] · op(B)[K,N] + beta · C, row-major with leading dimensions (elements per row).
    /// op(A) = A ([M,K], lda ≥ K) or Aᵀ when <paramref name="transA"/> (A is [K,M], lda ≥ M); likewise B.
    /// beta = 0 ignores the old contents of C (NaN-safe). <paramref name="parallel"/> = false runs on the calling
    /// thread only (for callers that already parallelise, e.g. attention over batch × heads).
    /// </summary>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, float* a, int lda, float* b, int ldb,
        float beta, float* c, int ldc, bool parallel = true)
    {
        _ = parallel;
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                float s = 0;
                for (int p = 0; p < k; p++)
                {
                    float av = transA ? a[(long)p * lda + i] : a[(long)i * lda + p];
                    float bv = transB ? b[(long)j * ldb + p] : b[(long)p * ldb + j];
                    s += av * bv;
                }
                float* cij = c + (long)i * ldc + j;
                *cij = beta == 0 ? alpha * s : alpha * s + beta * *cij;
            }
        }
    }
}
