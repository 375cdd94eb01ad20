using TransReID;

namespace TransReID.Tests.Training;

// Small models for the trainer tests, compiled by the generator like a user's class.

/// <summary>32×16, patch 8, stride 8 (grid 4×2 = 8 patches), camera SIE (2 cameras), JPM with 2 parts, 4 classes.</summary>
[TransReIDModel(ImageHeight = 32, ImageWidth = 16, PatchSize = 8, StrideY = 8, StrideX = 8, Depth = 2, EmbedDim = 32, Heads = 2,
    Cameras = 2, Jpm = true, JpmParts = 2, JpmShift = 2, JpmShuffleGroups = 2, Classes = 4)]
public sealed partial class TrainerTinyJpm;

/// <summary>The same backbone without SIE and JPM, 3 classes (fewer than the synthetic set's 4 train identities).</summary>
[TransReIDModel(ImageHeight = 32, ImageWidth = 16, PatchSize = 8, StrideY = 8, StrideX = 8, Depth = 1, EmbedDim = 16, Heads = 2,
    Jpm = false, Classes = 3)]
public sealed partial class TrainerTinyThreeClasses;
