using TransReID;

namespace QuickStart;

/// <summary>
/// The user's own model: a small TransReID for 64×32 images. Overlapping 8×8 patches with stride 6 (a 10×5 grid, the
/// "stride" idea of TransReID), 4 blocks of width 96 with 3 heads, camera side information for the 4 synthetic cameras,
/// and the jigsaw patch module (JPM, 4 parts). Classes is the number of training identities of the synthetic set that
/// <see cref="Program"/> generates (100 identities, the first 50 for training). The generator reads this attribute at
/// build time and writes the whole model, with every shape a constant, into a partial class next to this one.
/// </summary>
[TransReIDModel(ImageHeight = 64, ImageWidth = 32, PatchSize = 8, StrideY = 6, StrideX = 6, Depth = 4, EmbedDim = 96, Heads = 3,
    Cameras = 4, Jpm = true, Classes = Program.TrainIdentities)]
public sealed partial class QuickStartModel;
