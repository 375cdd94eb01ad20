using System;

namespace TransReID;

/// <summary>Which features <c>Embed</c> returns: the raw part/global features (official configs) or the BNNeck outputs.</summary>
public enum NeckFeature
{
    /// <summary>Before the BNNecks (<c>TEST.NECK_FEAT = 'before'</c>, every shipped config).</summary>
    Before = 0,

    /// <summary>After the BNNecks, with running statistics (<c>TEST.NECK_FEAT = 'after'</c>).</summary>
    After = 1,
}

/// <summary>
/// Declares a TransReID model. Put it on a <c>partial</c> class; the TransReID source generator emits the model
/// (constants, parameter table, <c>Create</c>, <c>Load</c>/<c>Save</c>, <c>Embed</c>, <c>TrainStep</c>) into it.
/// Defaults (ModelDefaults, shared with the generator) are the ViT-B/16 numbers of the official code; see
/// <c>docs/model.md</c> (<c>#configuration-keys</c>).
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class TransReIDModelAttribute : Attribute
{
    /// <summary>Input height in pixels.</summary>
    public int ImageHeight { get; set; } = ModelDefaults.ImageHeight;

    /// <summary>Input width in pixels.</summary>
    public int ImageWidth { get; set; } = ModelDefaults.ImageWidth;

    /// <summary>Square patch (convolution kernel) size.</summary>
    public int PatchSize { get; set; } = ModelDefaults.PatchSize;

    /// <summary>Vertical patch stride (overlapping when smaller than the patch size).</summary>
    public int StrideY { get; set; } = ModelDefaults.StrideY;

    /// <summary>Horizontal patch stride.</summary>
    public int StrideX { get; set; } = ModelDefaults.StrideX;

    /// <summary>Transformer blocks of the backbone (with JPM the last one is copied into the two heads).</summary>
    public int Depth { get; set; } = ModelDefaults.Depth;

    /// <summary>Embedding width.</summary>
    public int EmbedDim { get; set; } = ModelDefaults.EmbedDim;

    /// <summary>Attention heads; must divide <see cref="EmbedDim"/>.</summary>
    public int Heads { get; set; } = ModelDefaults.Heads;

    /// <summary>MLP hidden width as a multiple of <see cref="EmbedDim"/>.</summary>
    public double MlpRatio { get; set; } = ModelDefaults.MlpRatio;

    /// <summary>Whether the qkv projection has a bias.</summary>
    public bool QkvBias { get; set; } = ModelDefaults.QkvBias;

    /// <summary>LayerNorm epsilon of the transformer.</summary>
    public double LayerNormEps { get; set; } = ModelDefaults.LayerNormEps;

    /// <summary>Cameras for camera SIE; 0 (or 1) turns camera side information off.</summary>
    public int Cameras { get; set; } = ModelDefaults.Cameras;

    /// <summary>Views for view SIE; 0 (or 1) turns view side information off.</summary>
    public int Views { get; set; } = ModelDefaults.Views;

    /// <summary>SIE coefficient λ.</summary>
    public double SieCoefficient { get; set; } = ModelDefaults.SieCoefficient;

    /// <summary>Jigsaw patch module on or off.</summary>
    public bool Jpm { get; set; } = ModelDefaults.Jpm;

    /// <summary>JPM parts K.</summary>
    public int JpmParts { get; set; } = ModelDefaults.JpmParts;

    /// <summary>JPM <c>SHIFT_NUM</c> m (the effective roll is m − 1).</summary>
    public int JpmShift { get; set; } = ModelDefaults.JpmShift;

    /// <summary>JPM patch-shuffle groups.</summary>
    public int JpmShuffleGroups { get; set; } = ModelDefaults.JpmShuffleGroups;

    /// <summary>JPM shift and shuffle (<c>RE_ARRANGE</c>); off gives contiguous stripes.</summary>
    public bool JpmRearrange { get; set; } = ModelDefaults.JpmRearrange;

    /// <summary>Training identities (classifier rows). Required.</summary>
    public int Classes { get; set; } = ModelDefaults.Classes;

    /// <summary>Features returned by <c>Embed</c>.</summary>
    public NeckFeature NeckFeature { get; set; } = (NeckFeature)ModelDefaults.NeckFeature;

    /// <summary>
    /// Per-channel (R, G, B) mean of the input normalisation <c>(x/255 − mean)/std</c> (<c>INPUT.PIXEL_MEAN</c>); null =
    /// 0.5 on every channel, as the person configs. The VeRi/VehicleID DeiT configs use ImageNet's (0.485, 0.456, 0.406).
    /// </summary>
#pragma warning disable CA1819 // an attribute argument can only be an array
    public double[]? PixelMean { get; set; }

    /// <summary>Per-channel (R, G, B) standard deviation of the input normalisation (<c>INPUT.PIXEL_STD</c>); null = 0.5 each (ImageNet: 0.229, 0.224, 0.225).</summary>
    public double[]? PixelStd { get; set; }
#pragma warning restore CA1819
}
