using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TransReID.Runtime.Interop;
using TransReID.Shapes;

namespace TransReID.Runtime.Cuda;

/// <summary>
/// The CUDA backend: the device's primary context, one non-blocking stream on which every call is queued in order,
/// cuBLAS (fp32, CUBLAS_DEFAULT_MATH: no TF32 unless <c>allowTf32</c>) for every GEMM, and our own NVRTC-compiled
/// kernels (<c>Kernels/*.cu</c>, CUBIN for the device's <c>sm_XY</c>, cached on disk) for everything else. Arguments
/// are checked by <see cref="BackendBase"/>, as on every backend (values that live on the device, labels and SIE
/// indices, are not read). Not thread-safe: one thread at a time (any thread; the
/// context is made current on entry).
/// </summary>
public sealed class CudaBackend : BackendBase, IKernelSpecializer
{
    private const int RowsPerChunk = 256;
    private const int MaxTripletRows = 2048;

    private readonly SafeCudaContextHandle _context;
    private readonly SafeCudaStreamHandle _stream;
    private readonly SafeCublasHandle _blas;
    private readonly CudaKernels _kernels;
    private readonly LaunchTracker _launch;
    private readonly nint _s;   // raw stream
    private readonly nint _h;   // raw cuBLAS handle
    private readonly AllocationCounter _allocations = new();
    private CudaBuffer? _workspace;
    private bool _disposed;

    /// <summary>Creates the backend on CUDA device <paramref name="ordinal"/>.</summary>
    /// <param name="ordinal">The device (0-based).</param>
    /// <param name="allowTf32">Let cuBLAS use TF32 tensor cores for fp32 GEMMs (faster, about 1e-3 relative error).</param>
    /// <param name="kernelCacheDirectory">Where compiled kernels are cached; null = the default folder, "" = no disk cache.</param>
    public unsafe CudaBackend(int ordinal = 0, bool allowTf32 = false, string? kernelCacheDirectory = null)
    {
        if (!CudaProbe.IsAvailable(ordinal, out string? reason)) throw new InvalidOperationException($"CUDA device {ordinal} is not usable: {reason}");
        if (LaunchTracker.StickyFault is { } fault)
        {
            throw new CudaException($"the CUDA context of this process is unusable after an earlier fault, so no new backend can work until the process ends: {fault}");
        }

        int device;
        CudaDriver.Check(CudaDriver.cuDeviceGet(&device, ordinal), "cuDeviceGet");
        Ordinal = ordinal;
        DeviceName = QueryName(device);
        ComputeCapability = Attribute(device, CudaDriver.AttributeComputeCapabilityMajor) * 10
            + Attribute(device, CudaDriver.AttributeComputeCapabilityMinor);
        MultiprocessorCount = Attribute(device, CudaDriver.AttributeMultiprocessorCount);
        int driverVersion;
        CudaDriver.Check(CudaDriver.cuDriverGetVersion(&driverVersion), "cuDriverGetVersion");

        _context = SafeCudaContextHandle.Retain(device);
        try
        {
            _context.MakeCurrent();
            nint stream;
            CudaDriver.Check(CudaDriver.cuStreamCreate(&stream, CudaDriver.StreamNonBlocking), "cuStreamCreate");
            _stream = new SafeCudaStreamHandle();
            _stream.Attach(stream, _context);
            _s = stream;
            var limits = new LaunchLimits(Attribute(device, CudaDriver.AttributeMaxThreadsPerBlock),
                Attribute(device, CudaDriver.AttributeMaxGridDimX), Attribute(device, CudaDriver.AttributeMaxGridDimY));
            _launch = new LaunchTracker(stream, limits, LaunchTracker.SyncRequestedByEnvironment);

            nint blas;
            Cublas.Check(Cublas.cublasCreate_v2(&blas), "cublasCreate_v2");
            _blas = new SafeCublasHandle();
            _blas.Attach(blas, _context);
            _h = blas;
            Cublas.Check(Cublas.cublasSetStream_v2(blas, stream), "cublasSetStream_v2");
            Cublas.Check(Cublas.cublasSetMathMode(blas, allowTf32 ? Cublas.Tf32TensorOpMath : Cublas.DefaultMath), "cublasSetMathMode");
            int cublasVersion;
            Cublas.Check(Cublas.cublasGetVersion_v2(blas, &cublasVersion), "cublasGetVersion_v2");
            AllowTf32 = allowTf32;

            (int nvMajor, int nvMinor) = KernelCompiler.NvrtcVersion();
            (string target, bool cubin) = KernelCompiler.TargetFor(ComputeCapability, KernelCompiler.SupportedArchitectures());
            KernelTarget = target;
            _kernels = new CudaKernels(_context, new KernelCompiler(kernelCacheDirectory), target, cubin);
            Name = string.Create(CultureInfo.InvariantCulture,
                $"CUDA {ordinal}: {DeviceName} (sm_{ComputeCapability}, {MultiprocessorCount} SMs, driver {driverVersion / 1000}.{driverVersion % 1000 / 10}, NVRTC {nvMajor}.{nvMinor} -> {target}, cuBLAS {cublasVersion}{(allowTf32 ? ", TF32" : "")}{(_launch.SynchronizeEachLaunch ? ", synchronised after every launch" : "")})");
        }
        catch
        {
            _blas?.Dispose();
            _stream?.Dispose();
            _context.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public override string Name { get; }

    /// <summary>The device ordinal.</summary>
    public int Ordinal { get; }

    /// <summary>The device's name, e.g. "NVIDIA H100 80GB HBM3".</summary>
    public string DeviceName { get; }

    /// <summary>Compute capability as major·10 + minor, e.g. 90.</summary>
    public int ComputeCapability { get; }

    /// <summary>Streaming multiprocessors.</summary>
    public int MultiprocessorCount { get; }

    /// <summary>The NVRTC target, e.g. <c>sm_90</c> (CUBIN) or <c>compute_90</c> (PTX for the driver to finish).</summary>
    public string KernelTarget { get; }

    /// <summary>Whether cuBLAS may use TF32 for fp32 GEMMs.</summary>
    public bool AllowTf32 { get; }

    /// <summary>The model the kernels are specialised for, or null (generic kernels).</summary>
    public string? SpecializedFor { get; private set; }

    /// <summary>
    /// Bytes of device memory allocated through <see cref="Allocate"/> (each rounded up to at least 256) and not yet
    /// disposed. cuBLAS's workspace and the driver's own memory are not included: <see cref="MemoryInfo"/> sees them.
    /// </summary>
    public long AllocatedBytes => _allocations.Current;

    /// <summary>The largest <see cref="AllocatedBytes"/> since the backend was created.</summary>
    public long PeakAllocatedBytes => _allocations.Peak;

    /// <summary>The device's grid and block limits every launch is checked against.</summary>
    public string LaunchLimits => string.Create(CultureInfo.InvariantCulture,
        $"{_launch.Limits.MaxThreadsPerBlock} threads per block, grid up to ({_launch.Limits.MaxGridX}, {_launch.Limits.MaxGridY})");

    /// <summary>Whether the stream is synchronised after every launch (<c>TRANSREID_CUDA_SYNC=1</c>).</summary>
    public bool SynchronizesEachLaunch => _launch.SynchronizeEachLaunch;

    internal CudaKernels Kernels => _kernels;

    // ---- specialisation -----------------------------------------------------------------------------------

    /// <inheritdoc/>
    public void Specialize(string modelName, IReadOnlyList<KeyValuePair<string, long>> constants)
    {
        ArgumentNullException.ThrowIfNull(modelName);
        ArgumentNullException.ThrowIfNull(constants);
        foreach (KeyValuePair<string, long> c in constants) KernelCompiler.ValidateDefineName(c.Key);
        var duplicate = constants.GroupBy(c => c.Key, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate != null) throw new ArgumentException($"kernel constant '{duplicate.Key}' is given {duplicate.Count()} times", nameof(constants));
        Enter();
        Synchronize(); // modules are unloaded below: nothing queued may still use them
        _kernels.Reset(constants);
        SpecializedFor = modelName;
    }

    /// <summary>Compiles (or loads from the cache) every kernel now rather than on first use.</summary>
    public void LoadAllKernels()
    {
        Enter();
        _kernels.LoadAll();
    }

    // ---- memory -------------------------------------------------------------------------------------------

    /// <inheritdoc/>
    protected override unsafe DeviceBuffer AllocateCore(long elements)
    {
        long bytes = Math.Max(checked(elements * 4), 256);
        ulong p;
        int r = CudaDriver.cuMemAlloc_v2(&p, (nuint)bytes);
        if (r != CudaDriver.Success)
        {
            string detail = string.Create(CultureInfo.InvariantCulture, $"asked for {bytes:N0} bytes ({elements:N0} floats) on CUDA device {Ordinal} ({DeviceName})");
            if (r == CudaDriver.ErrorOutOfMemory)
            {
                nuint free, total;
                if (CudaDriver.cuMemGetInfo_v2(&free, &total) == CudaDriver.Success)
                    detail += string.Create(CultureInfo.InvariantCulture, $", {(ulong)free:N0} of {(ulong)total:N0} bytes free");
            }

            throw CudaDriver.Failure(r, "cuMemAlloc_v2", detail);
        }

        var memory = new SafeCudaMemoryHandle();
        memory.Attach((nint)p, _context);
        var buffer = new CudaBuffer(memory, elements, bytes, _allocations);
        CudaDriver.Check(CudaDriver.cuMemsetD32Async(p, 0, (nuint)(bytes / 4), _s), "cuMemsetD32Async");
        return buffer;
    }

    /// <inheritdoc/>
    protected override void UploadCore(ReadOnlySpan<float> source, DevicePtr destination) => UploadBytes(MemoryMarshal.AsBytes(source), destination);

    /// <inheritdoc/>
    protected override void UploadCore(ReadOnlySpan<int> source, DevicePtr destination) => UploadBytes(MemoryMarshal.AsBytes(source), destination);

    private unsafe void UploadBytes(ReadOnlySpan<byte> source, DevicePtr destination)
    {
        fixed (byte* p = source)
        {
            // From pageable memory the driver stages the bytes before returning, so the span may change afterwards.
            CudaDriver.Check(CudaDriver.cuMemcpyHtoDAsync_v2((ulong)destination.Address, p, (nuint)source.Length, _s), "cuMemcpyHtoDAsync_v2");
        }
    }

    /// <inheritdoc/>
    protected override unsafe void DownloadCore(DevicePtr source, Span<float> destination)
    {
        fixed (float* p = destination)
        {
            CudaDriver.Check(CudaDriver.cuMemcpyDtoHAsync_v2(p, (ulong)source.Address, (nuint)((long)destination.Length * 4), _s), "cuMemcpyDtoHAsync_v2");
            _launch.Synchronize();
        }
    }

    /// <inheritdoc/>
    protected override void ZeroCore(DevicePtr destination, long elements) =>
        CudaDriver.Check(CudaDriver.cuMemsetD32Async((ulong)destination.Address, 0, (nuint)elements, _s), "cuMemsetD32Async");

    /// <inheritdoc/>
    protected override void CopyCore(DevicePtr source, DevicePtr destination, long elements) =>
        CudaDriver.Check(CudaDriver.cuMemcpyDtoDAsync_v2((ulong)destination.Address, (ulong)source.Address, (nuint)(elements * 4), _s),
            "cuMemcpyDtoDAsync_v2");

    /// <inheritdoc/>
    protected override void SynchronizeCore() => _launch.Synchronize();

    /// <summary>
    /// Runs <paramref name="work"/> between two events on the stream and returns the GPU time between them in
    /// milliseconds (waits for the work).
    /// </summary>
    public unsafe float TimeMilliseconds(Action work)
    {
        ArgumentNullException.ThrowIfNull(work);
        Enter();
        using SafeCudaEventHandle start = CreateEvent(), end = CreateEvent();
        CudaDriver.Check(CudaDriver.cuEventRecord(start.DangerousGetHandle(), _s), "cuEventRecord");
        work();
        Enter();
        CudaDriver.Check(CudaDriver.cuEventRecord(end.DangerousGetHandle(), _s), "cuEventRecord");
        CudaDriver.Check(CudaDriver.cuEventSynchronize(end.DangerousGetHandle()), "cuEventSynchronize");
        float ms;
        CudaDriver.Check(CudaDriver.EventElapsedTime(&ms, start.DangerousGetHandle(), end.DangerousGetHandle()), "cuEventElapsedTime");
        return ms;
    }

    private unsafe SafeCudaEventHandle CreateEvent()
    {
        nint e;
        CudaDriver.Check(CudaDriver.cuEventCreate(&e, CudaDriver.EventDefault), "cuEventCreate");
        var handle = new SafeCudaEventHandle();
        handle.Attach(e, _context);
        return handle;
    }

    /// <summary>Free and total device memory in bytes.</summary>
    public unsafe (long Free, long Total) MemoryInfo()
    {
        Enter();
        nuint free, total;
        CudaDriver.Check(CudaDriver.cuMemGetInfo_v2(&free, &total), "cuMemGetInfo_v2");
        return ((long)free, (long)total);
    }

    // ---- dense layers -------------------------------------------------------------------------------------

    /// <inheritdoc/>
    protected override void LinearCore(DevicePtr x, int ldx, DevicePtr w, DevicePtr b, DevicePtr y, int ldy, int m, int k, int n)
    {
        float beta = 0f;
        if (!b.IsNull)
        {
            Run(Kernel.BiasBroadcast, Launch.GridFor((long)m * n), Launch.Block,
                [Launch.P(b), Launch.P(y), Launch.L(m), Launch.I(n), Launch.I(ldy)]);
            beta = 1f;
        }

        Gemm(false, true, m, n, k, 1f, x, ldx, w, k, beta, y, ldy);
    }

    /// <inheritdoc/>
    protected override void LinearBackwardCore(DevicePtr dy, DevicePtr x, DevicePtr w, DevicePtr dx, DevicePtr dw, DevicePtr db, int m, int k, int n, bool accumulateDx)
    {
        if (!dx.IsNull) Gemm(false, false, m, k, n, 1f, dy, n, w, k, accumulateDx ? 1f : 0f, dx, k);
        if (!dw.IsNull) Gemm(true, false, n, k, m, 1f, dy, n, x, k, 1f, dw, k);
        if (!db.IsNull) BiasGrad(dy, db, m, n);
    }

    private void BiasGrad(DevicePtr dy, DevicePtr db, long rows, int n)
    {
        (int rowsPerChunk, int chunks) = Chunking(rows);
        DevicePtr partial = chunks > 1 ? Workspace((long)chunks * n) : DevicePtr.Null;
        Run(Kernel.BiasGradPartial, Launch.CeilDiv(n, 32), (uint)chunks, 32, 8, 0,
            [Launch.P(dy), Launch.L(rows), Launch.I(n), Launch.I(rowsPerChunk), Launch.P(partial), Launch.P(db)]);
        if (chunks > 1)
            Run(Kernel.BiasGradFinish, Launch.GridFor(n), Launch.Block, [Launch.P(partial), Launch.I(chunks), Launch.I(n), Launch.P(db)]);
    }

    private static (int RowsPerChunk, int Chunks) Chunking(long rows)
    {
        long perChunk = Math.Max(RowsPerChunk, (rows + 65534) / 65535); // grid.y is at most 65535
        return ((int)perChunk, (int)((rows + perChunk - 1) / perChunk));
    }

    // ---- patch embedding ----------------------------------------------------------------------------------

    /// <inheritdoc/>
    protected override void PatchEmbedCore(DevicePtr images, DevicePtr cols, DevicePtr w, DevicePtr b, DevicePtr y,
        int batch, int channels, int height, int width, int patch, int strideY, int strideX, int gridY, int gridX, int dim)
    {
        long rows = (long)batch * gridY * gridX;
        int colsPerRow = checked(channels * patch * patch);
        Run(Kernel.Im2Col, Launch.GridFor(rows * colsPerRow), Launch.Block,
        [
            Launch.P(images), Launch.P(cols), Launch.I(batch), Launch.I(channels), Launch.I(height), Launch.I(width), Launch.I(patch),
            Launch.I(strideY), Launch.I(strideX), Launch.I(gridY), Launch.I(gridX),
        ]);
        LinearCore(cols, colsPerRow, w, b, y, dim, checked((int)rows), colsPerRow, dim);
    }

    /// <inheritdoc/>
    protected override void PatchEmbedBackwardCore(DevicePtr dy, DevicePtr cols, DevicePtr dw, DevicePtr db, int rows, int colsPerRow, int dim)
    {
        Gemm(true, false, dim, colsPerRow, rows, 1f, dy, dim, cols, colsPerRow, 1f, dw, colsPerRow);
        if (!db.IsNull) BiasGrad(dy, db, rows, dim);
    }

    /// <inheritdoc/>
    protected override void TokenEmbedCore(DevicePtr patches, DevicePtr cls, DevicePtr pos, DevicePtr sie, DevicePtr sieIndex, float coef,
        DevicePtr x, int batch, int tokens, int dim)
    {
        Run(Kernel.TokenEmbedForward, Launch.GridFor((long)batch * tokens * dim), Launch.Block,
        [
            Launch.P(patches), Launch.P(cls), Launch.P(pos), Launch.P(sie), Launch.P(sieIndex), Launch.F(coef),
            Launch.P(x), Launch.I(batch), Launch.I(tokens), Launch.I(dim),
        ]);
    }

    /// <inheritdoc/>
    protected override void TokenEmbedBackwardCore(DevicePtr dx, DevicePtr dpatches, DevicePtr dcls, DevicePtr dpos, DevicePtr dsie, DevicePtr sieIndex,
        float coef, int batch, int tokens, int dim)
    {
        if (!dpatches.IsNull)
        {
            Run(Kernel.TokenEmbedPatchGrad, Launch.GridFor((long)batch * (tokens - 1) * dim), Launch.Block,
                [Launch.P(dx), Launch.P(dpatches), Launch.I(batch), Launch.I(tokens), Launch.I(dim)]);
        }

        if (!dpos.IsNull || !dcls.IsNull)
        {
            Run(Kernel.TokenEmbedPosGrad, Launch.GridFor((long)tokens * dim), Launch.Block,
                [Launch.P(dx), Launch.P(dpos), Launch.P(dcls), Launch.I(batch), Launch.I(tokens), Launch.I(dim)]);
        }

        if (!dsie.IsNull)
        {
            DevicePtr work = Workspace((long)batch * dim);
            Run(Kernel.TokenEmbedSampleSums, Launch.CeilDiv(dim, 32), checked((uint)batch), 32, 8, 0,
                [Launch.P(dx), Launch.P(work), Launch.I(tokens), Launch.I(dim)]);
            Run(Kernel.TokenEmbedSieScatter, Launch.GridFor(dim), Launch.Block,
                [Launch.P(work), Launch.P(sieIndex), Launch.F(coef), Launch.P(dsie), Launch.I(batch), Launch.I(dim)]);
        }
    }

    // ---- normalisation ------------------------------------------------------------------------------------

    /// <inheritdoc/>
    protected override void LayerNormCore(DevicePtr x, DevicePtr gamma, DevicePtr beta, DevicePtr y, DevicePtr mean, DevicePtr rstd, int rows, int dim, float eps)
    {
        Run(Kernel.LayerNormForward, Launch.CeilDiv(rows, 8), Launch.Block,
        [
            Launch.P(x), Launch.P(gamma), Launch.P(beta), Launch.P(y), Launch.P(mean), Launch.P(rstd), Launch.L(rows), Launch.I(dim), Launch.F(eps),
        ]);
    }

    /// <inheritdoc/>
    protected override void LayerNormBackwardCore(DevicePtr dy, DevicePtr x, DevicePtr gamma, DevicePtr mean, DevicePtr rstd, DevicePtr dx,
        DevicePtr dgamma, DevicePtr dbeta, int rows, int dim, bool accumulateDx)
    {
        if (!dgamma.IsNull || !dbeta.IsNull)
        {
            // Parameter gradients first: dx may alias dy.
            (int rowsPerChunk, int chunks) = Chunking(rows);
            DevicePtr partial = chunks > 1 ? Workspace(2L * chunks * dim) : DevicePtr.Null;
            Run(Kernel.LayerNormBackwardDParams, Launch.CeilDiv(dim, 32), (uint)chunks, 32, 8, 0,
            [
                Launch.P(dy), Launch.P(x), Launch.P(mean), Launch.P(rstd), Launch.L(rows), Launch.I(dim), Launch.I(rowsPerChunk),
                Launch.P(partial), Launch.P(dgamma), Launch.P(dbeta),
            ]);
            if (chunks > 1)
            {
                Run(Kernel.LayerNormBackwardFinish, Launch.GridFor(dim), Launch.Block,
                    [Launch.P(partial), Launch.I(chunks), Launch.I(dim), Launch.P(dgamma), Launch.P(dbeta)]);
            }
        }

        Run(Kernel.LayerNormBackwardDx, Launch.CeilDiv(rows, 8), Launch.Block,
        [
            Launch.P(dy), Launch.P(x), Launch.P(gamma), Launch.P(mean), Launch.P(rstd), Launch.P(dx), Launch.L(rows), Launch.I(dim),
            Launch.B(accumulateDx),
        ]);
    }

    /// <inheritdoc/>
    protected override void BatchNormTrainCore(DevicePtr x, DevicePtr gamma, DevicePtr beta, DevicePtr y, DevicePtr mean, DevicePtr rstd,
        DevicePtr runningMean, DevicePtr runningVar, int rows, int channels, float eps, float momentum)
    {
        Run(Kernel.BatchNormTrain, Launch.CeilDiv(channels, 32), 1, 32, 8, 0,
        [
            Launch.P(x), Launch.P(gamma), Launch.P(beta), Launch.P(y), Launch.P(mean), Launch.P(rstd), Launch.P(runningMean),
            Launch.P(runningVar), Launch.I(rows), Launch.I(channels), Launch.F(eps), Launch.F(momentum),
        ]);
    }

    /// <inheritdoc/>
    protected override void BatchNormEvalCore(DevicePtr x, DevicePtr gamma, DevicePtr beta, DevicePtr runningMean, DevicePtr runningVar, DevicePtr y,
        int rows, int channels, float eps)
    {
        Run(Kernel.BatchNormEval, Launch.GridFor((long)rows * channels), Launch.Block,
        [
            Launch.P(x), Launch.P(gamma), Launch.P(beta), Launch.P(runningMean), Launch.P(runningVar), Launch.P(y), Launch.I(rows),
            Launch.I(channels), Launch.F(eps),
        ]);
    }

    /// <inheritdoc/>
    protected override void BatchNormEvalBackwardCore(DevicePtr dy, DevicePtr x, DevicePtr gamma, DevicePtr runningMean, DevicePtr runningVar, DevicePtr dx,
        DevicePtr dgamma, DevicePtr dbeta, int rows, int channels, float eps, bool accumulateDx)
    {
        Run(Kernel.BatchNormEvalBackward, Launch.CeilDiv(channels, 128), 1, 128, 1, 0,
        [
            Launch.P(dy), Launch.P(x), Launch.P(gamma), Launch.P(runningMean), Launch.P(runningVar), Launch.P(dx), Launch.P(dgamma),
            Launch.P(dbeta), Launch.I(rows), Launch.I(channels), Launch.F(eps), Launch.B(accumulateDx),
        ]);
    }

    /// <inheritdoc/>
    protected override void BatchNormBackwardCore(DevicePtr dy, DevicePtr x, DevicePtr gamma, DevicePtr mean, DevicePtr rstd, DevicePtr dx,
        DevicePtr dgamma, DevicePtr dbeta, int rows, int channels, bool accumulateDx)
    {
        Run(Kernel.BatchNormBackward, Launch.CeilDiv(channels, 32), 1, 32, 8, 0,
        [
            Launch.P(dy), Launch.P(x), Launch.P(gamma), Launch.P(mean), Launch.P(rstd), Launch.P(dx), Launch.P(dgamma), Launch.P(dbeta),
            Launch.I(rows), Launch.I(channels), Launch.B(accumulateDx),
        ]);
    }

    // ---- attention and MLP --------------------------------------------------------------------------------

    /// <summary>
    /// An operand of the per-(sample, head) GEMMs of attention: a base address and the element strides from one
    /// sample to the next and from one head to the next. qkv-like [B,T,3D]: (T·3D, dh); probs-like [B,H,T,T]:
    /// (H·T², T²); y-like [B,T,D]: (T·D, dh).
    /// </summary>
    private readonly record struct HeadOperand(DevicePtr Base, long SampleStride, long HeadStride);

    /// <summary>
    /// B·H GEMMs, one per (sample, head), as min(B, H) strided-batched cuBLAS calls: a loop over samples batching
    /// the heads, or a loop over heads batching the samples.
    /// </summary>
    private void HeadGemms(int batch, int heads, bool transA, bool transB, int m, int n, int k, float alpha, HeadOperand a, int lda,
        HeadOperand b, int ldb, float beta, HeadOperand c, int ldc, [CallerMemberName] string op = "")
    {
        if (batch <= heads)
        {
            for (int s = 0; s < batch; s++)
            {
                Blas.GemmStridedBatched(_h, transA, transB, m, n, k, alpha, a.Base + s * a.SampleStride, lda, a.HeadStride,
                    b.Base + s * b.SampleStride, ldb, b.HeadStride, beta, c.Base + s * c.SampleStride, ldc, c.HeadStride, heads);
                _launch.Library("cublasSgemmStridedBatched", OpName(op));
            }
        }
        else
        {
            for (int h = 0; h < heads; h++)
            {
                Blas.GemmStridedBatched(_h, transA, transB, m, n, k, alpha, a.Base + h * a.HeadStride, lda, a.SampleStride,
                    b.Base + h * b.HeadStride, ldb, b.SampleStride, beta, c.Base + h * c.HeadStride, ldc, c.SampleStride, batch);
                _launch.Library("cublasSgemmStridedBatched", OpName(op));
            }
        }
    }

    /// <inheritdoc/>
    /// <remarks>The probabilities are always written: probs is the batched GEMMs' operand (keepProbs changes nothing here).</remarks>
    protected override void AttentionCore(DevicePtr qkv, DevicePtr probs, DevicePtr y, int batch, int tokens, int queries, int heads, int headDim,
        float scale, bool keepProbs)
    {
        int t = tokens, nq = queries, dh = headDim, d = checked(heads * headDim), ld = checked(3 * d);
        long qt = (long)nq * t;
        var q = new HeadOperand(qkv, (long)t * ld, dh);
        var kk = new HeadOperand(qkv + d, (long)t * ld, dh);
        var v = new HeadOperand(qkv + 2L * d, (long)t * ld, dh);
        var p = new HeadOperand(probs, heads * qt, qt);
        var yy = new HeadOperand(y, (long)nq * d, dh);
        HeadGemms(batch, heads, false, true, nq, t, dh, scale, q, ld, kk, ld, 0f, p, t);       // S = scale·Q·Kᵀ (the first nq rows)
        long rows = (long)batch * heads * nq;
        Run(Kernel.SoftmaxForward, Launch.CeilDiv(rows, 8), Launch.Block, [Launch.P(probs), Launch.L(rows), Launch.I(t)]);
        HeadGemms(batch, heads, false, false, nq, dh, t, 1f, p, t, v, ld, 0f, yy, d);          // Y = P·V
    }

    /// <inheritdoc/>
    protected override void AttentionBackwardCore(DevicePtr dy, DevicePtr qkv, DevicePtr probs, DevicePtr dqkv, DevicePtr scratch,
        int batch, int tokens, int heads, int headDim, float scale)
    {
        int t = tokens, dh = headDim, d = checked(heads * headDim), ld = checked(3 * d);
        long tt = (long)t * t;
        var q = new HeadOperand(qkv, (long)t * ld, dh);
        var kk = new HeadOperand(qkv + d, (long)t * ld, dh);
        var v = new HeadOperand(qkv + 2L * d, (long)t * ld, dh);
        var dq = new HeadOperand(dqkv, (long)t * ld, dh);
        var dk = new HeadOperand(dqkv + d, (long)t * ld, dh);
        var dv = new HeadOperand(dqkv + 2L * d, (long)t * ld, dh);
        var p = new HeadOperand(probs, heads * tt, tt);
        var ds = new HeadOperand(scratch, heads * tt, tt);
        var dyy = new HeadOperand(dy, (long)t * d, dh);
        HeadGemms(batch, heads, true, false, t, dh, t, 1f, p, t, dyy, d, 0f, dv, ld);           // dV = Pᵀ·dY
        HeadGemms(batch, heads, false, true, t, t, dh, 1f, dyy, d, v, ld, 0f, ds, t);           // dP = dY·Vᵀ
        long rows = (long)batch * heads * t;
        Run(Kernel.SoftmaxBackward, Launch.CeilDiv(rows, 8), Launch.Block, [Launch.P(probs), Launch.P(scratch), Launch.L(rows), Launch.I(t)]);
        HeadGemms(batch, heads, false, false, t, dh, t, scale, ds, t, kk, ld, 0f, dq, ld);      // dQ = scale·dS·K
        HeadGemms(batch, heads, true, false, t, dh, t, scale, ds, t, q, ld, 0f, dk, ld);        // dK = scale·dSᵀ·Q
    }

    /// <inheritdoc/>
    protected override void GeluCore(DevicePtr x, DevicePtr y, long n)
    {
        Run(Kernel.GeluForward, Launch.GridFor(n), Launch.Block, [Launch.P(x), Launch.P(y), Launch.L(n)]);
    }

    /// <inheritdoc/>
    protected override void GeluBackwardCore(DevicePtr dy, DevicePtr x, DevicePtr dx, long n)
    {
        Run(Kernel.GeluBackward, Launch.GridFor(n), Launch.Block, [Launch.P(dy), Launch.P(x), Launch.P(dx), Launch.L(n)]);
    }

    // ---- elementwise and data movement --------------------------------------------------------------------

    /// <inheritdoc/>
    protected override void ResidualCore(DevicePtr x, DevicePtr branch, DevicePtr scale, DevicePtr y, int batch, long rowLength)
    {
        Run(Kernel.Residual, Launch.GridFor(batch * rowLength), Launch.Block,
            [Launch.P(x), Launch.P(branch), Launch.P(scale), Launch.P(y), Launch.I(batch), Launch.L(rowLength)]);
    }

    /// <inheritdoc/>
    protected override void ScaleRowsCore(DevicePtr src, DevicePtr scale, DevicePtr dst, int batch, long rowLength)
    {
        if (scale.IsNull && src == dst) return;
        Run(Kernel.ScaleRows, Launch.GridFor(batch * rowLength), Launch.Block,
            [Launch.P(src), Launch.P(scale), Launch.P(dst), Launch.I(batch), Launch.L(rowLength)]);
    }

    /// <inheritdoc/>
    protected override void CopyRowsCore(DevicePtr src, long srcStride, DevicePtr dst, long dstStride, int rows, int rowLength, float alpha, bool accumulate)
    {
        Run(Kernel.CopyRows, Launch.GridFor((long)rows * rowLength), Launch.Block,
        [
            Launch.P(src), Launch.L(srcStride), Launch.P(dst), Launch.L(dstStride), Launch.I(rows), Launch.I(rowLength), Launch.F(alpha),
            Launch.B(accumulate),
        ]);
    }

    /// <inheritdoc/>
    protected override void JpmGatherCore(DevicePtr x, DevicePtr parts, int batch, int patchCount, int dim, int partCount, int partLength,
        int shift, int groups, bool rearrange)
    {
        Run(Kernel.JpmGather, Launch.GridFor((long)partCount * batch * (partLength + 1) * dim), Launch.Block,
        [
            Launch.P(x), Launch.P(parts), Launch.I(batch), Launch.I(patchCount), Launch.I(dim), Launch.I(partCount), Launch.I(partLength),
            Launch.I(shift), Launch.I(groups), Launch.B(rearrange),
        ]);
    }

    /// <inheritdoc/>
    protected override void JpmGatherBackwardCore(DevicePtr dparts, DevicePtr dx, int batch, int patchCount, int dim, int partCount, int partLength,
        int shift, int groups, bool rearrange)
    {
        Run(Kernel.JpmGatherBackward, Launch.GridFor((long)batch * dim), Launch.Block,
        [
            Launch.P(dparts), Launch.P(dx), Launch.I(batch), Launch.I(patchCount), Launch.I(dim), Launch.I(partCount), Launch.I(partLength),
            Launch.I(shift), Launch.I(groups), Launch.B(rearrange),
        ]);
    }

    // ---- losses -------------------------------------------------------------------------------------------

    /// <inheritdoc/>
    /// <remarks>Labels live on the device and are not range-checked: a label outside [0, classes) gives NaN.</remarks>
    protected override void CrossEntropyCore(DevicePtr logits, DevicePtr labels, DevicePtr loss, DevicePtr dlogits, int rows, int classes,
        float smoothing, float gradScale)
    {
        Run(Kernel.CrossEntropy, 1, 1024,
        [
            Launch.P(logits), Launch.P(labels), Launch.P(loss), Launch.P(dlogits), Launch.I(rows), Launch.I(classes), Launch.F(smoothing),
            Launch.F(gradScale),
        ]);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Labels live on the device and are not checked: an anchor with no other label in the batch adds 0 to the loss
    /// and no gradient (the CPU backend throws). At most 2048 rows.
    /// </remarks>
    protected override void TripletCore(DevicePtr x, DevicePtr labels, DevicePtr loss, DevicePtr dx, DevicePtr scratch, int rows, int dim,
        float margin, bool normalize, float gradScale, bool accumulateDx)
    {
        if (rows > MaxTripletRows)
        {
            throw new ArgumentOutOfRangeException(nameof(rows), rows,
                $"{nameof(Triplet)}: the CUDA triplet loss handles at most {MaxTripletRows} rows per call.");
        }

        long nn = (long)rows * rows;
        DevicePtr work = scratch + nn;
        Gemm(false, true, rows, rows, dim, 1f, x, dim, x, dim, 0f, scratch, rows);   // Gram matrix
        Run(Kernel.TripletMine, 1, Launch.Block,
        [
            Launch.P(scratch), Launch.P(labels), Launch.P(loss), Launch.P(work), Launch.I(rows), Launch.F(margin), Launch.B(normalize),
            Launch.F(gradScale),
        ]);
        Run(Kernel.TripletGrad, (uint)rows, 1, Launch.Block, 1, (uint)(5 * rows * sizeof(float)),
        [
            Launch.P(x), Launch.P(scratch), Launch.P(work), Launch.P(dx), Launch.I(rows), Launch.I(dim), Launch.B(normalize),
            Launch.B(accumulateDx),
        ]);
    }

    // ---- optimiser ----------------------------------------------------------------------------------------

    /// <inheritdoc/>
    protected override void SgdStepCore(DevicePtr param, DevicePtr grad, DevicePtr momentumBuffer, long n, float lr, float momentum, float weightDecay, bool firstStep)
    {
        Run(Kernel.SgdStep, Launch.GridFor(n), Launch.Block,
        [
            Launch.P(param), Launch.P(grad), Launch.P(momentumBuffer), Launch.L(n), Launch.F(lr),
            Launch.F(momentum), Launch.F(weightDecay), Launch.B(firstStep),
        ]);
    }

    /// <inheritdoc/>
    protected override void AdamWStepCore(DevicePtr param, DevicePtr grad, DevicePtr m, DevicePtr v, long n, float lr, float beta1, float beta2,
        float eps, float weightDecay, int step)
    {
        // Scalars in double, as Python computes them, then rounded to float (same as the CPU backend).
        double bc1 = 1 - Math.Pow(beta1, step), bc2 = 1 - Math.Pow(beta2, step);
        float decay = (float)(1 - (double)lr * weightDecay), stepSize = (float)(lr / bc1), bc2Sqrt = (float)Math.Sqrt(bc2);
        Run(Kernel.AdamWStep, Launch.GridFor(n), Launch.Block,
        [
            Launch.P(param), Launch.P(grad), Launch.P(m), Launch.P(v), Launch.L(n), Launch.F(beta1), Launch.F(beta2), Launch.F(eps),
            Launch.F(decay), Launch.F(stepSize), Launch.F(bc2Sqrt),
        ]);
    }

    // ---- lifetime -----------------------------------------------------------------------------------------

    /// <summary>
    /// Waits for queued work (when the context is still healthy), then releases the kernels, the workspace, cuBLAS,
    /// the stream and this backend's reference on the context. Buffers still alive keep the context until they are
    /// disposed. Idempotent.
    /// </summary>
    protected override void Dispose(bool disposing)
    {
        if (_disposed) return;
        _disposed = true;
        if (!_context.IsClosed && CudaDriver.cuCtxSetCurrent(_context.DangerousGetHandle()) == CudaDriver.Success)
            CudaDriver.cuStreamSynchronize(_s);
        _kernels.Dispose();
        _workspace?.Dispose();
        _blas.Dispose();
        _stream.Dispose();
        _context.Dispose();
    }

    // ---- helpers ------------------------------------------------------------------------------------------

    /// <summary>Throws once disposed; makes the context current on this thread.</summary>
    protected override void Enter()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _context.MakeCurrent();
    }

    /// <summary>A scratch area of at least <paramref name="elements"/> floats, owned by the backend (contents undefined).</summary>
    private DevicePtr Workspace(long elements)
    {
        if (_workspace == null || _workspace.Length < elements)
        {
            if (_workspace != null)
            {
                // Work queued earlier may still read the old workspace.
                _launch.Synchronize();
                _workspace.Dispose();
                _workspace = null;
            }

            _workspace = (CudaBuffer)Allocate(Math.Max(elements, 1 << 16));
        }

        return _workspace.Ptr;
    }

    private void Run(Kernel kernel, uint grid, int block, ReadOnlySpan<ulong> args, [CallerMemberName] string op = "") =>
        Run(kernel, grid, 1, (uint)block, 1, 0, args, op);

    private void Run(Kernel kernel, uint gridX, uint gridY, uint blockX, uint blockY, uint sharedBytes, ReadOnlySpan<ulong> args,
        [CallerMemberName] string op = "")
    {
        if (gridX == 0 || gridY == 0) return; // an empty tensor: nothing to launch (and no module to load)
        _launch.Kernel(_kernels[kernel], CudaKernels.NameOf(kernel), CudaKernels.MaxThreadsOf(kernel), gridX, gridY, blockX, blockY,
            sharedBytes, args, OpName(op));
    }

    /// <summary>The op a launch belongs to, for fault reports: the IBackend name of the core it is made from.</summary>
    private static string OpName(string member) => member.EndsWith("Core", StringComparison.Ordinal) ? member[..^4] : member;

    /// <summary>A row-major GEMM on cuBLAS (<see cref="Blas.Gemm"/>), recorded for fault reports.</summary>
    private void Gemm(bool transA, bool transB, int m, int n, int k, float alpha, DevicePtr a, int lda, DevicePtr b, int ldb, float beta,
        DevicePtr c, int ldc, [CallerMemberName] string op = "")
    {
        Blas.Gemm(_h, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        _launch.Library("cublasSgemm_v2", OpName(op));
    }

    private static unsafe string QueryName(int device)
    {
        byte* name = stackalloc byte[256];
        CudaDriver.Check(CudaDriver.cuDeviceGetName(name, 256, device), "cuDeviceGetName");
        return Marshal.PtrToStringUTF8((nint)name) ?? $"device {device}";
    }

    private static unsafe int Attribute(int device, int attribute)
    {
        int value;
        CudaDriver.Check(CudaDriver.cuDeviceGetAttribute(&value, attribute, device), "cuDeviceGetAttribute");
        return value;
    }
}
