using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Microsoft.ML.OnnxRuntime;
using TransReID.Runtime.Model;
using TransReID.Runtime.Onnx;

namespace TransReID.Tests.Onnx;

/// <summary>ONNX Runtime sessions, random weights and inputs, the error measure.</summary>
internal static class OnnxTestKit
{
    /// <summary>A session with every graph optimisation (what a deployment uses), 2 intra-op threads.</summary>
    public static InferenceSession Open(string path)
    {
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            IntraOpNumThreads = 2,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL, // failures reach the tests as exceptions; no log lines
        };
        return new InferenceSession(path, options);
    }

    /// <summary>Runs <c>features</c> with named inputs (float[], long[] or byte[] with their shapes).</summary>
    public static float[] Run(InferenceSession session, params (string Name, Array Data, long[] Shape)[] inputs)
    {
        var values = new List<OrtValue>();
        try
        {
            foreach (var (_, data, shape) in inputs)
            {
                values.Add(data switch
                {
                    float[] f => OrtValue.CreateTensorValueFromMemory(f, shape),
                    long[] l => OrtValue.CreateTensorValueFromMemory(l, shape),
                    byte[] b => OrtValue.CreateTensorValueFromMemory(b, shape),
                    double[] d => OrtValue.CreateTensorValueFromMemory(d, shape),
                    int[] i => OrtValue.CreateTensorValueFromMemory(i, shape),
                    _ => throw new ArgumentException($"unsupported input array {data.GetType()}"),
                });
            }

            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, inputs.Select(i => i.Name).ToArray(), values, session.OutputNames);
            return outputs[0].GetTensorDataAsSpan<float>().ToArray();
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }

    /// <summary>
    /// Every tensor moved off its from-scratch init (zero biases, unit LayerNorm and BatchNorm) so that a wrong or
    /// missing bias, scale or statistic shows: + up to ±0.05 (running_var: uniform 0.5..1.5).
    /// </summary>
    public static void Randomize(ITransReIDModel model, int seed)
    {
        var rng = new Random(seed);
        foreach (var p in model.ParameterTable)
        {
            float[] v = model.Parameter(p.Name);
            bool variance = p.Name.EndsWith(".running_var", StringComparison.Ordinal);
            for (int i = 0; i < v.Length; i++)
                v[i] = variance ? 0.5f + (float)rng.NextDouble() : v[i] + (0.05f * ((2f * (float)rng.NextDouble()) - 1f));
            model.Core.WriteParameter(p.Name, v);
        }
    }

    /// <summary>Normalised-range images (about ±2), deterministic.</summary>
    public static float[] Images(ModelInfo info, int batch, int seed)
    {
        var rng = new Random(seed);
        var x = new float[(long)batch * info.ImageFloats];
        for (long i = 0; i < x.LongLength; i++) x[i] = (float)((rng.NextDouble() * 4) - 2);
        return x;
    }

    /// <summary>Ids 0..count−1 cycling from an offset.</summary>
    public static int[] Ids(int batch, int count, int offset) =>
        count > 1 ? [.. Enumerable.Range(0, batch).Select(i => (i + offset) % count)] : [];

    public static long[] Longs(int[] ids) => [.. ids.Select(i => (long)i)];

    /// <summary>ONNX Runtime's features for a model exported without fixed ids.</summary>
    public static float[] RunModel(InferenceSession session, ModelInfo info, float[] images, int[] cameras, int[] views)
    {
        int batch = images.Length / info.ImageFloats;
        var inputs = new List<(string, Array, long[])> { ("images", images, [batch, 3, info.ImageHeight, info.ImageWidth]) };
        if (info.UsesCameras) inputs.Add(("cameras", Longs(cameras), [batch]));
        if (info.UsesViews) inputs.Add(("views", Longs(views), [batch]));
        return Run(session, [.. inputs]);
    }
}
