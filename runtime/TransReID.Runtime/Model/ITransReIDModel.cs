using System;
using System.Collections.Generic;

namespace TransReID.Runtime.Model;

/// <summary>The numbers of a generated model, for tools that handle several models (CLI presets, reports).</summary>
public sealed record ModelInfo(
    string Name, int ImageHeight, int ImageWidth, int PatchSize, int StrideY, int StrideX, int Depth, int EmbedDim, int Heads,
    int MlpHidden, int Cameras, int Views, int SieRows, double SieCoefficient, bool Jpm, int JpmParts, int JpmShift,
    int JpmShuffleGroups, bool JpmRearrange, int Classes, NeckFeature NeckFeature, int PatchGridY, int PatchGridX,
    int TokenCount, int FeatureDim, long ParameterCount, long TrainableParameterCount, float[] PixelMean, float[] PixelStd)
{
    /// <summary>Floats per input image (3·H·W).</summary>
    public int ImageFloats => 3 * ImageHeight * ImageWidth;

    /// <summary>Whether camera side information is on.</summary>
    public bool UsesCameras => Cameras > 1;

    /// <summary>Whether view side information is on.</summary>
    public bool UsesViews => Views > 1;

    /// <summary>Forward multiply-accumulate count per image ×2 (FLOPs), GEMMs and attention only.</summary>
    public double ForwardFlopsPerImage
    {
        get
        {
            double d = EmbedDim, t = TokenCount, n = TokenCount - 1, hd = MlpHidden;
            double Block(double tokens) => 2 * tokens * d * (3 * d + d + 2 * hd) + 4 * tokens * tokens * d;
            double backbone = Jpm ? Depth - 1 : Depth;
            double flops = 2 * n * d * 3 * PatchSize * PatchSize + backbone * Block(t);
            if (Jpm) flops += Block(t) + JpmParts * Block(n / JpmParts + 1);
            return flops;
        }
    }
}

/// <summary>What every generated model offers, so that tools can drive any of them.</summary>
public interface ITransReIDModel : IDisposable
{
    /// <summary>The model's numbers.</summary>
    ModelInfo Info { get; }

    /// <summary>Buffers and backend.</summary>
    ModelCore Core { get; }

    /// <summary>Train (default) or eval mode of training steps: BNNeck statistics and stochastic depth.</summary>
    bool Training { get; set; }

    /// <summary>Stochastic-depth rate of the last block.</summary>
    double DropPathRate { get; set; }

    /// <summary>Loss settings.</summary>
    LossOptions Losses { get; set; }

    /// <summary>The generator of stochastic-depth masks.</summary>
    Rng DropPathRng { get; }

    /// <summary>Loads official-name TransReID weights (safetensors or a PyTorch checkpoint).</summary>
    LoadReport Load(string path);

    /// <summary>Initialises the backbone from ImageNet ViT/DeiT weights, the rest as from scratch with <paramref name="seed"/>.</summary>
    LoadReport LoadPretrained(string path, int seed);

    /// <summary>Saves the weights under official names.</summary>
    void Save(string path);

    /// <summary>Embeds a batch of normalised NCHW images into (B, FeatureDim).</summary>
    void Embed(ReadOnlySpan<float> images, ReadOnlySpan<int> cameras, ReadOnlySpan<int> views, Span<float> features);

    /// <summary>Writes the eval forward of <see cref="Embed"/> as an ONNX model (weights as initializers).</summary>
    void ExportOnnx(string path, Onnx.OnnxExportOptions? options = null);

    /// <summary>Forward and backward of a training step without an update.</summary>
    TrainStepResult ComputeGradients(ReadOnlySpan<float> images, ReadOnlySpan<int> labels, ReadOnlySpan<int> cameras, ReadOnlySpan<int> views);

    /// <summary>One training step with an update.</summary>
    TrainStepResult TrainStep(ReadOnlySpan<float> images, ReadOnlySpan<int> labels, ReadOnlySpan<int> cameras, ReadOnlySpan<int> views, Optimizer optimizer);

    /// <summary>A tensor by official name.</summary>
    float[] Parameter(string name);

    /// <summary>A tensor's gradient of the last step by official name.</summary>
    float[] Gradient(string name);

    /// <summary>The parameter table.</summary>
    IReadOnlyList<ParameterInfo> ParameterTable { get; }
}

/// <summary>A generated model type with a static factory.</summary>
public interface ITransReIDModel<TSelf> : ITransReIDModel
    where TSelf : ITransReIDModel<TSelf>
{
    /// <summary>A new model on a device, initialised from scratch with a seed.</summary>
    static abstract TSelf Create(Device device, int seed);

    /// <summary>A new model on a backend the caller made (e.g. CUDA with TF32); the model owns and disposes it.</summary>
    static abstract TSelf Create(IBackend backend, int seed);

    /// <summary>The model's numbers.</summary>
    static abstract ModelInfo ModelInfo { get; }
}
