// The defaults of [TransReIDModel], compiled into both the runtime (the attribute's initial values) and the source
// generator (what the parser assumes for an argument that is not written), so the two cannot disagree. README.md lists
// them in a table that a test compares with this file. Values: the ViT-B/16 TransReID of the official code
// (docs/model.md).

namespace TransReID;

internal static class ModelDefaults
{
    public const int ImageHeight = 256;
    public const int ImageWidth = 128;
    public const int PatchSize = 16;
    public const int StrideY = 16;
    public const int StrideX = 16;
    public const int Depth = 12;
    public const int EmbedDim = 768;
    public const int Heads = 12;
    public const double MlpRatio = 4.0;
    public const bool QkvBias = true;
    public const double LayerNormEps = 1e-6;
    public const int Cameras = 0;
    public const int Views = 0;
    public const double SieCoefficient = 3.0;
    public const bool Jpm = true;
    public const int JpmParts = 4;
    public const int JpmShift = 5;
    public const int JpmShuffleGroups = 2;
    public const bool JpmRearrange = true;

    /// <summary>No default: the number of training identities must be given.</summary>
    public const int Classes = 0;

    /// <summary>NeckFeature.Before (0): the features before the BNNecks.</summary>
    public const int NeckFeature = 0;

    /// <summary>Every channel's mean when <c>PixelMean</c> is not given.</summary>
    public const double PixelMean = 0.5;

    /// <summary>Every channel's standard deviation when <c>PixelStd</c> is not given.</summary>
    public const double PixelStd = 0.5;
}
