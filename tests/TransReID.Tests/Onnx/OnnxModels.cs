using TransReID;

namespace TransReID.Tests.Onnx;

// Small models for the ONNX export tests: the configurations the tiny fixture models (Model/TinyModels.cs) leave out.

/// <summary>View SIE only (4 views), JPM in raster order (no rearrangement), 3 parts, features before the BNNecks.</summary>
[TransReIDModel(ImageHeight = 32, ImageWidth = 24, PatchSize = 8, StrideY = 6, StrideX = 8, Depth = 2, EmbedDim = 32, Heads = 2,
    Views = 4, Jpm = true, JpmParts = 3, JpmRearrange = false, Classes = 3, NeckFeature = NeckFeature.Before)]
public sealed partial class OnnxViewRaster;

/// <summary>Camera SIE (4 cameras), no JPM, features before the BNNeck, ImageNet normalisation.</summary>
[TransReIDModel(ImageHeight = 32, ImageWidth = 16, PatchSize = 8, StrideY = 8, StrideX = 8, Depth = 2, EmbedDim = 24, Heads = 3,
    Cameras = 4, Jpm = false, Classes = 3, NeckFeature = NeckFeature.Before,
    PixelMean = new[] { 0.485, 0.456, 0.406 }, PixelStd = new[] { 0.229, 0.224, 0.225 })]
public sealed partial class OnnxCameraPlain;
