using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using TransReID.Runtime.Model;

namespace TransReID.Benchmarks;

/// <summary>
/// <c>profile --onnxruntime</c>: ONNX Runtime (CPU, all graph optimisations, the same thread count) on the model
/// <c>ExportOnnx</c> writes, with ONNX Runtime's own profiler on; its kernel time per operator type after the fused
/// graph is built (MatMul, BiasGelu, FusedMatMul, ...), each call alternating with one of ours so both see the same
/// machine state. The first run of each is a warm-up and is not counted.
/// </summary>
internal sealed class OrtProfile : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"transreid-ortprofile-{Guid.NewGuid():N}");
    private readonly InferenceSession _session;
    private readonly OrtValue[] _inputs;
    private readonly string[] _names;
    private readonly RunOptions _runOptions = new();

    public OrtProfile(ITransReIDModel model, int threads, float[] images, int[] cameras, int batch)
    {
        ArgumentNullException.ThrowIfNull(model);
        Directory.CreateDirectory(_dir);
        string path = Path.Combine(_dir, "model.onnx");
        model.ExportOnnx(path);
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
            // the prefix first: setting EnableProfiling starts the profiler with the prefix set at that moment
            ProfileOutputPathPrefix = Path.Combine(_dir, "profile"),
            EnableProfiling = true,
        };
        _session = new InferenceSession(path, options);
        var info = model.Info;
        _inputs = info.UsesCameras
            ? [OrtValue.CreateTensorValueFromMemory(images, [batch, 3, info.ImageHeight, info.ImageWidth]),
                OrtValue.CreateTensorValueFromMemory(cameras.Select(c => (long)c).ToArray(), [batch])]
            : [OrtValue.CreateTensorValueFromMemory(images, [batch, 3, info.ImageHeight, info.ImageWidth])];
        _names = info.UsesCameras ? ["images", "cameras"] : ["images"];
    }

    /// <summary>One ONNX Runtime call.</summary>
    public void Run()
    {
        using var results = _session.Run(_runOptions, _names, _inputs, _session.OutputNames);
    }

    /// <summary>Ends profiling; seconds per counted run by operator type, and the number of counted runs.</summary>
    public (List<(string Op, double Seconds, int Nodes)> ByOp, int Runs) Finish()
    {
        string file = _session.EndProfiling();
        using var doc = JsonDocument.Parse(File.ReadAllText(file));
        var events = doc.RootElement.EnumerateArray().ToList();
        var runStarts = events.Where(e => e.GetProperty("name").GetString() == "model_run")
            .Select(e => e.GetProperty("ts").GetDouble()).Order().ToList();
        if (runStarts.Count < 2) return ([], 0);
        double countedFrom = runStarts[1];
        var byOp = new Dictionary<string, (double Us, int Nodes)>(StringComparer.Ordinal);
        foreach (var e in events)
        {
            if (e.GetProperty("cat").GetString() != "Node" || e.GetProperty("ts").GetDouble() < countedFrom) continue;
            if (!(e.GetProperty("name").GetString() ?? "").EndsWith("_kernel_time", StringComparison.Ordinal)) continue;
            string op = e.GetProperty("args").GetProperty("op_name").GetString() ?? "?";
            var (us, nodes) = byOp.GetValueOrDefault(op);
            byOp[op] = (us + e.GetProperty("dur").GetDouble(), nodes + 1);
        }
        int runs = runStarts.Count - 1;
        return (byOp.OrderByDescending(kv => kv.Value.Us).Select(kv => (kv.Key, kv.Value.Us / 1e6 / runs, kv.Value.Nodes / runs)).ToList(), runs);
    }

    public void Dispose()
    {
        _session.Dispose();
        _runOptions.Dispose();
        foreach (var v in _inputs) v.Dispose();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // a leftover temporary folder is not worth failing a benchmark over
        }
    }
}
