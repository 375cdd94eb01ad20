{
    /// <summary>Prefetches a C tile into L1: the first, middle and last element of each of its rows (nr floats, ldc apart).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchTile(float* c, nint ldc, int rows, int nr)
    {
        if (!Sse.IsSupported) return;
        for (int r = 0; r < rows; r++)
        {
            float* row = c + r * ldc;
            Sse.Prefetch0(row); Sse.Prefetch0(row + nr / 2); Sse.Prefetch0(row + nr - 1);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Update(float* c, Vector512<float> x, Vector512<float> va, Vector512<float> vb, int mode)
    {
        if (mode == 0) Vector512.Store(x * va, c);
        else if (mode == 1) Vector512.Store(Vector512.FusedMultiplyAdd(x, va, Vector512.Load(c)), c);
        else Vector512.Store(Vector512.FusedMultiplyAdd(x, va, Vector512.Load(c) * vb), c);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Update(float* c, Vector256<float> x, Vector256<float> va, Vector256<float> vb, int mode)
    {
        if (mode == 0) Vector256.Store(x * va, c);
        else if (mode == 1) Vector256.Store(Vector256.FusedMultiplyAdd(x, va, Vector256.Load(c)), c);
        else Vector256.Store(Vector256.FusedMultiplyAdd(x, va, Vector256.Load(c) * vb), c);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Update(float* c, Vector128<float> x, Vector128<float> va, Vector128<float> vb, int mode)
    {
        if (mode == 0) Vector128.Store(x * va, c);
        else if (mode == 1) Vector128.Store(Vector128.FusedMultiplyAdd(x, va, Vector128.Load(c)), c);
        else Vector128.Store(Vector128.FusedMultiplyAdd(x, va, Vector128.Load(c) * vb), c);
    }

