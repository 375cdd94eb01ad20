using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.OnnxRuntime;
using TransReID.Runtime;
using TransReID.Runtime.Cpu;
using TransReID.Runtime.Model;
using TransReID.Runtime.Onnx;
using TransReID.Shapes;
using TransReID.Tests.Model;
using Xunit;

namespace TransReID.Tests.Onnx;

/// <summary>
/// One op of <see cref="OnnxGraphBuilder"/> at a time, as a one-op graph run by ONNX Runtime, against the CPU
/// backend's op on the same inputs (relative L2 ≤ 1e-5). Sizes are TinyJpmSie's (64×32, patch 8, stride 6, D 48, 3 heads).
/// </summary>
public sealed class OnnxOpTests : IDisposable
{
    private const double Tolerance = 1e-5;
    private const int Batch = 3;

    private static readonly ModelInfo Info = TinyJpmSie.ModelInfo;
    private static readonly int D = Info.EmbedDim, T = Info.TokenCount, N = Info.TokenCount - 1, Hidden = Info.MlpHidden;

    private readonly CpuRig _rig = new(2);
    private readonly Dictionary<string, float[]> _weights = new(StringComparer.Ordinal);
    private int _seed = 1;

    public void Dispose() => _rig.Dispose();

    [Theory]
    [InlineData(1)]
    [InlineData(Batch)]
    public void PatchEmbed_is_Conv_then_tokens_in_raster_order(int batch)
    {
        float[] images = Rand(batch * Info.ImageFloats, 1);
        float[] w = Weight("w", D * 3 * 8 * 8, 0.05), bias = Weight("b", D, 0.1);
        int gy = Info.PatchGridY, gx = Info.PatchGridX;
        var expected = Cpu(batch * N * D, y => _rig.Backend.PatchEmbed(_rig.Up(images), _rig.Alloc((long)batch * N * 3 * 64), _rig.Up(w), _rig.Up(bias), y,
            batch, 3, Info.ImageHeight, Info.ImageWidth, 8, 6, 6, gy, gx, D));
        var actual = Onnx(b => b.PatchEmbed(b.Images(), "w", "b", 8, 6, 6),
            ("images", images, [batch, 3, Info.ImageHeight, Info.ImageWidth]));
        Close(actual, expected, "PatchEmbed");
    }

    [Fact]
    public void TokenEmbed_adds_cls_pos_and_scaled_sie_row()
    {
        float[] patches = Rand(Batch * N * D, 1);
        float[] cls = Weight("cls", D, 0.5), pos = Weight("pos", T * D, 0.5), sie = Weight("sie", Info.SieRows * D, 0.5);
        int[] cameras = [2, 0, 1];
        var expected = Cpu(Batch * T * D, x => _rig.Backend.TokenEmbed(_rig.Up(patches), _rig.Up(cls), _rig.Up(pos), _rig.Up(sie), _rig.Up(cameras), 3f, x, Batch, T, D));
        var actual = Onnx(b => b.TokenEmbed(b.Input("patches", OnnxValue.Dynamic, N, D), "cls", "pos", "sie", b.SieIndex(), 3f),
            ("patches", patches, [Batch, N, D]), ("cameras", cameras.Select(c => (long)c).ToArray(), [Batch]));
        Close(actual, expected, "TokenEmbed");
    }

    [Fact]
    public void TokenEmbed_without_sie()
    {
        float[] patches = Rand(Batch * N * D, 1);
        float[] cls = Weight("cls", D, 0.5), pos = Weight("pos", T * D, 0.5);
        var expected = Cpu(Batch * T * D, x => _rig.Backend.TokenEmbed(_rig.Up(patches), _rig.Up(cls), _rig.Up(pos), DevicePtr.Null, DevicePtr.Null, 3f, x, Batch, T, D));
        var actual = Onnx(b => b.TokenEmbed(b.Input("patches", OnnxValue.Dynamic, N, D), "cls", "pos", null, null, 3f), ("patches", patches, [Batch, N, D]));
        Close(actual, expected, "TokenEmbed (no SIE)");
    }

    [Fact]
    public void LayerNorm_over_the_last_axis()
    {
        float[] x = Rand(Batch * T * D, 2, offset: 0.3);
        float[] g = Weight("g", D, 0.5, 1), beta = Weight("beta", D, 0.5);
        var expected = Cpu(Batch * T * D, y => _rig.Backend.LayerNorm(_rig.Up(x), _rig.Up(g), _rig.Up(beta), y, _rig.Alloc(Batch * T), _rig.Alloc(Batch * T), Batch * T, D, 1e-6f));
        var actual = Onnx(b => b.LayerNorm(b.Input("x", OnnxValue.Dynamic, T, D), "g", "beta", 1e-6f), ("x", x, [Batch, T, D]));
        Close(actual, expected, "LayerNorm");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Block_is_the_pre_norm_ViT_block(bool qkvBias)
    {
        float[] x = Rand(Batch * T * D, 1);
        BlockWeights("blk.", qkvBias);
        var expected = CpuBlock("blk.", x, Batch, T, qkvBias);
        var actual = Onnx(b => b.Block("blk.", b.Input("x", OnnxValue.Dynamic, T, D), Info.Heads, 1e-6f, qkvBias), ("x", x, [Batch, T, D]));
        Close(actual, expected, "Block");
    }

    [Fact]
    public void HeadBlock_is_token_0_of_the_block()
    {
        float[] x = Rand(Batch * T * D, 1);
        BlockWeights("head.", true);
        float[] full = CpuBlock("head.", x, Batch, T, true);
        var expected = new float[Batch * D];
        for (int s = 0; s < Batch; s++) Array.Copy(full, (long)s * T * D, expected, (long)s * D, D);
        var actual = Onnx(b => b.HeadBlock("head.", b.Input("x", OnnxValue.Dynamic, T, D), Info.Heads, 1e-6f, true), ("x", x, [Batch, T, D]));
        Close(actual, expected, "HeadBlock");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void JpmParts_equals_JpmGather(bool rearrange)
    {
        float[] x = Rand(Batch * T * D, 1);
        int k = Info.JpmParts, l = ShapeMath.PartLength(N, k);
        var expected = Cpu((long)k * Batch * (l + 1) * D, p => _rig.Backend.JpmGather(_rig.Up(x), p, Batch, N, D, k, l, Info.JpmShift, Info.JpmShuffleGroups, rearrange));
        var actual = Onnx(b => b.JpmParts(b.Input("x", OnnxValue.Dynamic, T, D), k, l, Info.JpmShift, Info.JpmShuffleGroups, rearrange), ("x", x, [Batch, T, D]));
        Assert.Equal(expected, actual); // a gather: exact
    }

    [Fact]
    public void BatchNormEval_uses_running_statistics()
    {
        float[] x = Rand(Batch * D, 1);
        float[] g = Weight("bn.weight", D, 0.5, 1), beta = Weight("bn.bias", D, 0.5), mean = Weight("bn.running_mean", D, 0.5), variance = Weight("bn.running_var", D, 0.4, 1);
        var expected = Cpu(Batch * D, y => _rig.Backend.BatchNormEval(_rig.Up(x), _rig.Up(g), _rig.Up(beta), _rig.Up(mean), _rig.Up(variance), y, Batch, D, 1e-5f));
        var actual = Onnx(b => b.BatchNormEval(b.Input("x", OnnxValue.Dynamic, D), "bn", 1e-5f), ("x", x, [Batch, D]));
        Close(actual, expected, "BatchNormEval");
    }

    [Fact]
    public void Gelu_is_exact_erf_gelu()
    {
        float[] x = Rand(Batch * Hidden, 1, scale: 4);
        var expected = Cpu(Batch * Hidden, y => _rig.Backend.Gelu(_rig.Up(x), y, Batch * Hidden));
        var actual = Onnx(b => b.Gelu(b.Input("x", OnnxValue.Dynamic, Hidden), "gelu"), ("x", x, [Batch, Hidden]));
        Close(actual, expected, "GELU");
    }

    [Fact]
    public void Branch_Scale_and_Features_lay_out_global_then_parts_over_K()
    {
        int k = Info.JpmParts;
        float[] global = Rand(Batch * D, 1), parts = Rand(k * Batch * D, 2);
        var expected = Cpu(Batch * Info.FeatureDim, f =>
        {
            _rig.Backend.CopyRows(_rig.Up(global), D, f, Info.FeatureDim, Batch, D, 1f, false);
            var p = _rig.Up(parts);
            for (int i = 0; i < k; i++) _rig.Backend.CopyRows(p + ((long)i * Batch * D), D, f + ((long)(i + 1) * D), Info.FeatureDim, Batch, D, 1f / k, false);
        });
        var builder = Builder();
        var g = builder.Input("global", OnnxValue.Dynamic, D);
        var pr = builder.Input("parts", OnnxValue.Dynamic, D);
        builder.Features([g, .. Enumerable.Range(0, k).Select(i => builder.Scale(builder.Branch(pr, i, k), 1f / k))]);
        var actual = Run(builder, ("global", global, [Batch, D]), ("parts", parts, [k * Batch, D]));
        Close(actual, expected, "Features");
    }

    // ---- plumbing -------------------------------------------------------------------------------------------

    private void BlockWeights(string p, bool qkvBias)
    {
        Weight(p + "norm1.weight", D, 0.3, 1);
        Weight(p + "norm1.bias", D, 0.3);
        Weight(p + "attn.qkv.weight", 3 * D * D, 0.15);
        if (qkvBias) Weight(p + "attn.qkv.bias", 3 * D, 0.1);
        Weight(p + "attn.proj.weight", D * D, 0.15);
        Weight(p + "attn.proj.bias", D, 0.1);
        Weight(p + "norm2.weight", D, 0.3, 1);
        Weight(p + "norm2.bias", D, 0.3);
        Weight(p + "mlp.fc1.weight", Hidden * D, 0.15);
        Weight(p + "mlp.fc1.bias", Hidden, 0.1);
        Weight(p + "mlp.fc2.weight", D * Hidden, 0.08);
        Weight(p + "mlp.fc2.bias", D, 0.1);
    }

    /// <summary>The CPU backend's block: LN, Linear, Attention, Linear, Residual, LN, Linear, GELU, Linear, Residual.</summary>
    private float[] CpuBlock(string p, float[] input, int samples, int tokens, bool qkvBias)
    {
        int rows = samples * tokens, heads = Info.Heads, dh = D / heads;
        var W = (string name) => _rig.Up(_weights[p + name]);
        var x = _rig.Up(input);
        var ln = _rig.Alloc(rows * D);
        var qkv = _rig.Alloc(rows * 3 * D);
        var probs = _rig.Alloc((long)samples * heads * tokens * tokens);
        var att = _rig.Alloc(rows * D);
        var branch = _rig.Alloc(rows * D);
        var mid = _rig.Alloc(rows * D);
        var h = _rig.Alloc((long)rows * Hidden);
        var y = _rig.Alloc(rows * D);
        var stats = _rig.Alloc(2 * rows);
        _rig.Backend.LayerNorm(x, W("norm1.weight"), W("norm1.bias"), ln, stats, stats + rows, rows, D, 1e-6f);
        _rig.Backend.Linear(ln, W("attn.qkv.weight"), qkvBias ? W("attn.qkv.bias") : DevicePtr.Null, qkv, rows, D, 3 * D);
        _rig.Backend.Attention(qkv, probs, att, samples, tokens, heads, dh, 1f / MathF.Sqrt(dh), keepProbs: false);
        _rig.Backend.Linear(att, W("attn.proj.weight"), W("attn.proj.bias"), branch, rows, D, D);
        _rig.Backend.Residual(x, branch, DevicePtr.Null, mid, samples, (long)tokens * D);
        _rig.Backend.LayerNorm(mid, W("norm2.weight"), W("norm2.bias"), ln, stats, stats + rows, rows, D, 1e-6f);
        _rig.Backend.Linear(ln, W("mlp.fc1.weight"), W("mlp.fc1.bias"), h, rows, D, Hidden);
        _rig.Backend.Gelu(h, h, (long)rows * Hidden);
        _rig.Backend.Linear(h, W("mlp.fc2.weight"), W("mlp.fc2.bias"), branch, rows, Hidden, D);
        _rig.Backend.Residual(mid, branch, DevicePtr.Null, y, samples, (long)tokens * D);
        var r = new float[rows * D];
        _rig.Backend.Download(y, r);
        return r;
    }

    private OnnxGraphBuilder Builder() =>
        new(Info, name => _weights.TryGetValue(name, out var v) ? v : throw new KeyNotFoundException(name), new OnnxExportOptions());

    private float[] Onnx(Func<OnnxGraphBuilder, OnnxValue> op, params (string Name, Array Data, long[] Shape)[] inputs)
    {
        var builder = Builder();
        builder.Output(op(builder), "y");
        return Run(builder, inputs);
    }

    private static float[] Run(OnnxGraphBuilder builder, params (string Name, Array Data, long[] Shape)[] inputs)
    {
        using var fileDir = new TempDirectory();
        string file = fileDir.File("model.onnx");
        builder.Save(file);
        using InferenceSession session = OnnxTestKit.Open(file);
        return OnnxTestKit.Run(session, inputs);
    }

    private float[] Cpu(long outputs, Action<DevicePtr> op)
    {
        var y = _rig.Alloc(outputs);
        op(y);
        return _rig.Down(y, outputs);
    }

    private float[] Weight(string name, int n, double scale, double offset = 0)
    {
        float[] v = Rand(n, _seed++, scale, offset);
        _weights[name] = v;
        return v;
    }

    private static float[] Rand(int n, int seed, double scale = 1, double offset = 0)
    {
        var rng = new Random(seed);
        var r = new float[n];
        for (int i = 0; i < n; i++) r[i] = (float)(offset + (scale * ((2 * rng.NextDouble()) - 1)));
        return r;
    }

    private static void Close(float[] actual, float[] expected, string what)
    {
        double err = Fixture.RelativeL2(actual, expected);
        Assert.True(err <= Tolerance, $"{what}: ONNX Runtime vs CPU backend relative L2 {err:E3} > {Tolerance:E0}");
    }
}
