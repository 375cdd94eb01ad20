using System.Collections.Generic;

namespace TransReID.Generators.Emit;

/// <summary>
/// The eval forward as data: the ops of <c>Embed</c> in order, each naming the arena buffers it reads and writes.
/// The planner derives the Embed arena's liveness from it; the emitter formats it twice, as backend calls
/// (<c>Embed</c>) and as ONNX graph-builder calls (<c>ExportOnnx</c>), so the export is the same ops in the same order.
/// </summary>
internal abstract record EvalOp
{
    /// <summary>Arena buffers the op reads or writes (scratch included); their liveness covers this step.</summary>
    public abstract IEnumerable<string> Buffers { get; }
}

/// <summary>The block-loop work buffers (reused by every block of Embed).</summary>
internal static class EvalWork
{
    public static readonly string[] Names = { "ln", "mean", "rstd", "qkv", "probs", "att", "branch", "h" };
}

/// <summary>Host → arena copy of the images ("input") or the SIE row indices ("sieIndex").</summary>
internal sealed record UploadOp(string Buffer) : EvalOp
{
    public override IEnumerable<string> Buffers => new[] { Buffer };
}

/// <summary>Overlapping patch embedding: input → cols (im2col scratch) → patches.</summary>
internal sealed record PatchEmbedOp : EvalOp
{
    public override IEnumerable<string> Buffers => new[] { "input", "cols", "patches" };
}

/// <summary>Token assembly: cls, patches, + pos, + λ·sie[index] → the token stream x.</summary>
internal sealed record TokenEmbedOp(bool Sie) : EvalOp
{
    public override IEnumerable<string> Buffers => Sie ? new[] { "patches", "sieIndex", "x" } : new[] { "patches", "x" };
}

/// <summary>Backbone blocks 0..Count−1, in place on x.</summary>
internal sealed record BlocksOp(int Count) : EvalOp
{
    public override IEnumerable<string> Buffers
    {
        get
        {
            yield return "x";
            foreach (var w in EvalWork.Names) yield return w;
        }
    }
}

/// <summary>
/// A block whose output is read at token 0 only: attention over all tokens of <see cref="Input"/>, then the rest on
/// token 0; writes rows of <c>tok</c> from branch <see cref="Branch"/> on. <see cref="Parts"/> samples per image
/// (1, or K for b2). <see cref="Prefix"/> is the official name prefix of its weights.
/// </summary>
internal sealed record HeadBlockOp(string Prefix, string ParamBase, string Input, int Parts, int Tokens, int Branch) : EvalOp
{
    public override IEnumerable<string> Buffers
    {
        get
        {
            yield return Input;
            foreach (var w in EvalWork.Names) yield return w;
            yield return "att0";
            yield return "ln0";
            yield return "h0";
            yield return "tok";
        }
    }
}

/// <summary>The final LayerNorm (official name prefix <see cref="Prefix"/>) on tok → feat, branches Branch..Branch+Count−1.</summary>
internal sealed record NormOp(string Prefix, int Branch, int Count) : EvalOp
{
    public override IEnumerable<string> Buffers => new[] { "tok", "mean", "rstd", "feat" };
}

/// <summary>JPM shift, shuffle and split of x into (K·B, L+1, D) parts.</summary>
internal sealed record JpmOp : EvalOp
{
    public override IEnumerable<string> Buffers => new[] { "x", "parts" };
}

/// <summary>BNNeck of one branch with running statistics: feat → bnout (NeckFeature.After).</summary>
internal sealed record NeckOp(string Prefix, int Branch) : EvalOp
{
    public override IEnumerable<string> Buffers => new[] { "feat", "bnout" };
}

/// <summary>Branch <see cref="Branch"/> of <see cref="Source"/> (feat or bnout), scaled, into its columns of output.</summary>
internal sealed record OutputOp(string Source, int Branch, double Scale) : EvalOp
{
    public override IEnumerable<string> Buffers => new[] { Source, "output" };
}

/// <summary>Arena → host copy of the features.</summary>
internal sealed record DownloadOp : EvalOp
{
    public override IEnumerable<string> Buffers => new[] { "output" };
}
