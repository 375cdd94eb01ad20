using System;

namespace TransReID.Runtime.Model;

/// <summary>How a parameter tensor behaves in training and where the forward uses it.</summary>
[Flags]
public enum ParameterFlags
{
    /// <summary>Nothing special.</summary>
    None = 0,

    /// <summary>Receives a gradient and is updated by the optimiser.</summary>
    Trainable = 1,

    /// <summary>Name contains "bias": learning rate × the bias factor (official <c>BIAS_LR_FACTOR</c>).</summary>
    Bias = 2,

    /// <summary>A buffer, not a parameter (BatchNorm running statistics).</summary>
    Buffer = 4,

    /// <summary>In the official state dict but never used by the forward (backbone's last block with JPM, base.norm, base.fc).</summary>
    Unused = 8,

    /// <summary>A parameter with <c>requires_grad = False</c> (BNNeck biases).</summary>
    Frozen = 16,
}

/// <summary>How <c>Create</c> initialises a tensor, as the official code does from scratch.</summary>
public enum InitKind
{
    /// <summary>All zeros.</summary>
    Zeros,

    /// <summary>All ones.</summary>
    Ones,

    /// <summary>Truncated normal, std 0.02 (bounds ±2, effectively untruncated).</summary>
    TruncNormal002,

    /// <summary>Patch conv weight: Normal(0, sqrt(2 / (P·P·D))).</summary>
    PatchConvNormal,

    /// <summary>Patch conv bias: PyTorch's default Uniform(±1/sqrt(C·P·P)).</summary>
    PatchConvBiasUniform,

    /// <summary>Classifier weight: Normal(0, 0.001).</summary>
    Normal0001,

    /// <summary>A copy of another tensor (b1/b2 start as deep copies of the backbone's last block and norm).</summary>
    CopyOf,
}

/// <summary>
/// One tensor of a generated model's parameter table: its official checkpoint name, shape, offset and length in the
/// flat parameter buffer, flags and initialisation. Generated code holds one static array of these.
/// </summary>
/// <param name="Name">Official state-dict key, e.g. <c>base.blocks.0.attn.qkv.weight</c>.</param>
/// <param name="Shape">Shape as in the official checkpoint.</param>
/// <param name="Offset">Offset in floats into the flat parameter buffer.</param>
/// <param name="Count">Number of elements.</param>
/// <param name="Flags">Training behaviour.</param>
/// <param name="Init">Initialisation.</param>
/// <param name="FanIn">Fan-in for <see cref="InitKind.PatchConvBiasUniform"/>, fan for <see cref="InitKind.PatchConvNormal"/>.</param>
/// <param name="CopySource">Index of the source tensor for <see cref="InitKind.CopyOf"/>, else −1.</param>
public sealed record ParameterInfo(string Name, long[] Shape, long Offset, long Count, ParameterFlags Flags, InitKind Init, long FanIn = 0, int CopySource = -1)
{
    /// <summary>Whether the optimiser updates this tensor.</summary>
    public bool IsTrainable => (Flags & ParameterFlags.Trainable) != 0;

    /// <summary>Shape as text, e.g. [768, 3, 16, 16].</summary>
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}
