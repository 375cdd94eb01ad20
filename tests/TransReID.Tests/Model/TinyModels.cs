using TransReID;

namespace TransReID.Tests.Model;

// The tiny configs of tests/reference/make_fixtures.py, compiled by the generator exactly as a user's class would be.

/// <summary>64×32, patch 8, stride 6 (grid 10×5, N = 50, L = 12, two tokens dropped), camera SIE, JPM 4.</summary>
[TransReIDModel(ImageHeight = 64, ImageWidth = 32, PatchSize = 8, StrideY = 6, StrideX = 6, Depth = 3, EmbedDim = 48, Heads = 3,
    Cameras = 3, Jpm = true, JpmParts = 4, JpmShift = 5, JpmShuffleGroups = 2, Classes = 5, NeckFeature = NeckFeature.Before)]
public sealed partial class TinyJpmSie;

/// <summary>32×16, patch 8, stride 8, plain ViT (no SIE, no JPM), features after the BNNeck.</summary>
[TransReIDModel(ImageHeight = 32, ImageWidth = 16, PatchSize = 8, StrideY = 8, StrideX = 8, Depth = 2, EmbedDim = 32, Heads = 2,
    Jpm = false, Classes = 3, NeckFeature = NeckFeature.After)]
public sealed partial class TinyBase;

/// <summary>56×40 (grid 7×5 = 35, odd: the shuffle appends a token), camera × view SIE, JPM 3, no qkv bias, MLP ratio 2.</summary>
[TransReIDModel(ImageHeight = 56, ImageWidth = 40, PatchSize = 8, StrideY = 8, StrideX = 8, Depth = 2, EmbedDim = 32, Heads = 4,
    MlpRatio = 2.0, QkvBias = false, Cameras = 2, Views = 3, SieCoefficient = 1.5, Jpm = true, JpmParts = 3, JpmShift = 3, JpmShuffleGroups = 2,
    Classes = 4, NeckFeature = NeckFeature.After)]
public sealed partial class TinyViewOdd;
