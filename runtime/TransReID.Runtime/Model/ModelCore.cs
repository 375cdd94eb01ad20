using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using TransReID.Runtime.IO;

namespace TransReID.Runtime.Model;

/// <summary>
/// The host-side state of one generated model instance: the backend, the flat parameter and gradient buffers laid out
/// by the generated parameter table, optimiser state, activation arenas per (batch size, mode), and the BatchNorm step
/// counters. It holds no layers and runs no ops of the model: the generated code does that, with constants.
/// </summary>
public sealed partial class ModelCore : IDisposable
{
    private readonly ParameterInfo[] _table;
    private readonly Dictionary<string, int> _index;
    private readonly Dictionary<(int Batch, int Mode), DeviceBuffer> _arenas = new();
    private readonly string[] _batchNorms;
    private DeviceBuffer? _state0, _state1;
    private Optimizer? _stateOwner;
    private bool _disposed;

    /// <summary>Allocates the buffers of a model.</summary>
    public ModelCore(IBackend backend, IReadOnlyList<ParameterInfo> table, long parameterCount, IReadOnlyList<string> batchNorms, string modelName)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(batchNorms);
        Backend = backend;
        _table = table.ToArray();
        _index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < _table.Length; i++) _index.Add(_table[i].Name, i);
        _batchNorms = batchNorms.ToArray();
        NumBatchesTracked = new long[_batchNorms.Length];
        ModelName = modelName;
        ParameterCount = parameterCount;
        Parameters = backend.Allocate(parameterCount);
        Gradients = backend.Allocate(parameterCount);
    }

    /// <summary>The backend every op runs on.</summary>
    public IBackend Backend { get; }

    /// <summary>The model's name (for messages and kernel caches).</summary>
    public string ModelName { get; }

    /// <summary>Floats in the parameter buffer.</summary>
    public long ParameterCount { get; }

    /// <summary>
    /// The flat parameter buffer (parameters and BatchNorm running statistics). Code that writes parameters into it other
    /// than through this class must call <see cref="ParametersChanged"/> afterwards (the running statistics, which the
    /// training forward updates in place, need not: no backend derives anything from them).
    /// </summary>
    public DeviceBuffer Parameters { get; }

    /// <summary>
    /// Changes whenever this class writes the parameters (initialisation, loading, <see cref="WriteParameter"/>, an
    /// optimiser step) or <see cref="ParametersChanged"/> is called: what <see cref="ConstantParameters"/> declares.
    /// </summary>
    public long ParameterVersion { get; private set; }

    /// <summary>Records a write into <see cref="Parameters"/> made from outside this class.</summary>
    public void ParametersChanged() => ParameterVersion++;

    /// <summary>
    /// Declares the parameters constant at the current <see cref="ParameterVersion"/> until the scope is disposed
    /// (<see cref="IBackend.DeclareConstantWeights"/>): the generated <c>Embed</c> runs inside one, so the CPU backend
    /// packs each Linear weight once and reuses it in every later Embed until the parameters change.
    /// </summary>
    public ConstantParametersScope ConstantParameters()
    {
        Backend.DeclareConstantWeights(Parameters.Ptr, ParameterCount, ParameterVersion);
        return new ConstantParametersScope(Backend);
    }

    /// <summary>The flat gradient buffer, same layout.</summary>
    public DeviceBuffer Gradients { get; }

    /// <summary><c>num_batches_tracked</c> of each BNNeck, in the order the model lists them.</summary>
    public long[] NumBatchesTracked { get; }

    /// <summary>Optimiser steps taken.</summary>
    public long Step { get; set; }

    /// <summary>The parameter table.</summary>
    public IReadOnlyList<ParameterInfo> Table => _table;

    /// <summary>An arena of <paramref name="floats"/> for a batch size and mode (cached; reallocated only for a new key).</summary>
    public DevicePtr Arena(int batch, int mode, long floats)
    {
        if (!_arenas.TryGetValue((batch, mode), out DeviceBuffer? buffer))
        {
            // keep at most one arena per mode: a new batch size replaces the old one
            foreach (var key in _arenas.Keys.Where(k => k.Mode == mode).ToArray())
            {
                _arenas[key].Dispose();
                _arenas.Remove(key);
            }

            buffer = AllocateArena(batch, floats);
            _arenas.Add((batch, mode), buffer);
        }

        return buffer.Ptr;
    }

    /// <summary>Allocates an arena; out of device memory, the error says how large a batch would fit.</summary>
    private DeviceBuffer AllocateArena(int batch, long floats)
    {
        try
        {
            return Backend.Allocate(floats);
        }
        catch (Interop.CudaException e) when (e.StatusName == "CUDA_ERROR_OUT_OF_MEMORY" && Backend is Cuda.CudaBackend cuda)
        {
            long bytes = floats * sizeof(float);
            long free = cuda.MemoryInfo().Free;
            long fit = batch * (free / (double)bytes) is var f && f >= 1 ? (long)f : 0;
            string advice = fit >= 1
                ? string.Create(CultureInfo.InvariantCulture, $"try a batch of at most {fit}")
                : "even a batch of 1 does not fit: free device memory (other processes, other models) or use a smaller model";
            throw new Interop.CudaException(e.Library, e.Function, e.Status, e.StatusName, string.Create(CultureInfo.InvariantCulture,
                $"out of device memory: the activations of {ModelName} for a batch of {batch} need {bytes:N0} bytes and {free:N0} bytes are free on {cuda.DeviceName}; {advice} ({e.Message})"));
        }
    }

    /// <summary>Index of a tensor in the table.</summary>
    public int IndexOf(string name) =>
        _index.TryGetValue(name, out int i) ? i : throw new KeyNotFoundException($"the model {ModelName} has no tensor '{name}'");

    /// <summary>Initialises every tensor as the official code does from scratch, deterministically from <paramref name="seed"/>.</summary>
    public void Initialize(int seed)
    {
        Backend.Upload(ScratchValues(seed), Parameters.Ptr);
        ParameterVersion++;
        Array.Clear(NumBatchesTracked);
        Step = 0;
    }

    /// <summary>The whole flat buffer as <see cref="Initialize"/> fills it, on the host.</summary>
    private float[] ScratchValues(int seed)
    {
        var rng = new Rng(unchecked((ulong)seed) ^ 0x5452_4944_0000_0001UL);
        var host = new float[ParameterCount];
        foreach (var p in _table)
        {
            Span<float> dst = host.AsSpan(checked((int)p.Offset), checked((int)p.Count));
            switch (p.Init)
            {
                case InitKind.Zeros: dst.Clear(); break;
                case InitKind.Ones: dst.Fill(1f); break;
                case InitKind.TruncNormal002:
                    for (int i = 0; i < dst.Length; i++) dst[i] = (float)rng.NextTruncatedNormal(0.02, -2, 2);
                    break;
                case InitKind.PatchConvNormal:
                    double std = Math.Sqrt(2.0 / p.FanIn);
                    for (int i = 0; i < dst.Length; i++) dst[i] = (float)(rng.NextGaussian() * std);
                    break;
                case InitKind.PatchConvBiasUniform:
                    double bound = 1.0 / Math.Sqrt(p.FanIn);
                    for (int i = 0; i < dst.Length; i++) dst[i] = (float)((rng.NextDouble() * 2 - 1) * bound);
                    break;
                case InitKind.Normal0001:
                    for (int i = 0; i < dst.Length; i++) dst[i] = (float)(rng.NextGaussian() * 0.001);
                    break;
                case InitKind.CopyOf:
                    var src = _table[p.CopySource];
                    host.AsSpan(checked((int)src.Offset), checked((int)src.Count)).CopyTo(dst);
                    break;
                default: throw new InvalidOperationException($"unknown init {p.Init} for {p.Name}");
            }
        }

        return host;
    }

    /// <summary>Reads one tensor's values to the host.</summary>
    public float[] ReadParameter(string name) => ReadFrom(Parameters, name);

    /// <summary>Reads one tensor's gradient (of the last step) to the host.</summary>
    public float[] ReadGradient(string name) => ReadFrom(Gradients, name);

    private float[] ReadFrom(DeviceBuffer buffer, string name)
    {
        var p = _table[IndexOf(name)];
        var values = new float[p.Count];
        Backend.Download(buffer.Ptr + p.Offset, values);
        return values;
    }

    /// <summary>Overwrites one tensor's values.</summary>
    public void WriteParameter(string name, ReadOnlySpan<float> values)
    {
        var p = _table[IndexOf(name)];
        if (values.Length != p.Count) throw new ArgumentException($"'{name}' has {p.Count} values ({p.ShapeText}), got {values.Length}", nameof(values));
        Backend.Upload(values, Parameters.Ptr + p.Offset);
        ParameterVersion++;
    }

    /// <summary>Saves every tensor under its official name (F32; <c>num_batches_tracked</c> as I64 scalars), atomically.</summary>
    public void Save(string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var host = new float[ParameterCount];
        Backend.Download(Parameters.Ptr, host);
        var writer = new SafetensorsWriter();
        writer.AddMetadata("format", "pt");
        writer.AddMetadata("transreid.model", ModelName);
        if (metadata != null)
        {
            foreach (var (k, v) in metadata) writer.AddMetadata(k, v);
        }

        foreach (var p in _table) writer.Add(p.Name, host.AsSpan(checked((int)p.Offset), checked((int)p.Count)), p.Shape);
        for (int i = 0; i < _batchNorms.Length; i++) writer.Add(_batchNorms[i] + ".num_batches_tracked", new[] { NumBatchesTracked[i] });
        writer.Save(path);
    }

    /// <summary>Zeroes the gradient buffer.</summary>
    public void ZeroGradients() => Backend.Zero(Gradients.Ptr, ParameterCount);

    /// <summary>Applies one optimiser update to every trainable tensor (frozen and unused tensors are left as they are).</summary>
    public void ApplyOptimizer(Optimizer optimizer)
    {
        bool fresh = _stateOwner is null || _stateOwner.GetType() != optimizer.GetType();
        PrepareOptimizer(optimizer);
        if (fresh) Step = 0;

        Step++;
        ParameterVersion++;
        foreach (var p in _table)
        {
            if (!p.IsTrainable) continue;
            bool bias = (p.Flags & ParameterFlags.Bias) != 0;
            double lr = optimizer.LearningRate * (bias ? optimizer.BiasLearningRateFactor : 1.0);
            double wd = bias ? optimizer.WeightDecayBias : optimizer.WeightDecay;
            optimizer.Apply(Backend, Parameters.Ptr + p.Offset, Gradients.Ptr + p.Offset, _state0!.Ptr + p.Offset,
                _state1 is null ? DevicePtr.Null : _state1.Ptr + p.Offset, p.Count, (float)lr, (float)wd, Step);
        }
    }

    /// <summary>Optimiser state buffers for checkpoints (null before the first step).</summary>
    public (DeviceBuffer? First, DeviceBuffer? Second) OptimizerState => (_state0, _state1);

    /// <summary>Ensures optimiser state exists for <paramref name="optimizer"/> (used when resuming from a checkpoint).</summary>
    public void PrepareOptimizer(Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        if (_stateOwner is null || _stateOwner.GetType() != optimizer.GetType())
        {
            _state0?.Dispose();
            _state1?.Dispose();
            _state0 = Backend.Allocate(ParameterCount);
            _state1 = optimizer.StateBuffers > 1 ? Backend.Allocate(ParameterCount) : null;
            _stateOwner = optimizer;
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var a in _arenas.Values) a.Dispose();
        _arenas.Clear();
        _state0?.Dispose();
        _state1?.Dispose();
        Parameters.Dispose();
        Gradients.Dispose();
        Backend.Dispose();
    }
}
