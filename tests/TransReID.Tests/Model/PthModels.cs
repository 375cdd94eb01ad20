using TransReID;

namespace TransReID.Tests.Model;

// The configs of tests/reference/make_pth_fixtures.py (Fixtures/pth).

/// <summary>'pth_sie': 48×24, patch 8, stride 6 (grid 7×3, N = 21, odd), depth 2, width 16, camera SIE (2), JPM, 3 ids.</summary>
[TransReIDModel(ImageHeight = 48, ImageWidth = 24, PatchSize = 8, StrideY = 6, StrideX = 6, Depth = 2, EmbedDim = 16, Heads = 2, MlpRatio = 2.0,
    Cameras = 2, Jpm = true, Classes = 3)]
public sealed partial class PthSie;

/// <summary>'pth_sie' with 5 identities: the file's 3-class classifiers do not fit (fine-tuning on another dataset).</summary>
[TransReIDModel(ImageHeight = 48, ImageWidth = 24, PatchSize = 8, StrideY = 6, StrideX = 6, Depth = 2, EmbedDim = 16, Heads = 2, MlpRatio = 2.0,
    Cameras = 2, Jpm = true, Classes = 5)]
public sealed partial class PthSieFiveIds;

/// <summary>'pth_imagenet': 'pth_sie' without SIE; initialised from the tiny ImageNet files (4×4 position grid).</summary>
[TransReIDModel(ImageHeight = 48, ImageWidth = 24, PatchSize = 8, StrideY = 6, StrideX = 6, Depth = 2, EmbedDim = 16, Heads = 2, MlpRatio = 2.0,
    Jpm = true, Classes = 3)]
public sealed partial class PthImageNet;
