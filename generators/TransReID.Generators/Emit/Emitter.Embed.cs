using System;
using System.Linq;
using TransReID.Generators.Emit;

namespace TransReID.Generators;

public sealed partial class TransReIDGenerator
{
    internal static partial class Emitter
    {
        /// <summary>Embed: the eval schedule (<see cref="ModelPlan.EvalOps"/>) as backend calls, one comment per op.</summary>
        private static void EmitEmbed(SourceWriter w, ModelPlan p)
        {
            var s = p.Spec;
            string features = s.Jpm ? $"the global feature, then each of the {p.K} part features divided by {p.K}" : "the global feature";
            w.Line("// ---- Embed: eval-mode forward ----");
            w.Lines($$"""
                /// <summary>Embeds a batch of normalised NCHW images; returns (B, FeatureDim) row-major.</summary>
                public float[] Embed(
                    global::System.ReadOnlySpan<float> images,
                    global::System.ReadOnlySpan<int> cameras = default,
                    global::System.ReadOnlySpan<int> views = default)
                {
                    int batch = {{Rt}}.InputValidation.BatchFromImages(ImageFloats, images.Length, ImageHeight, ImageWidth);
                    var features = new float[(long)batch * FeatureDim];
                    Embed(images, cameras, views, features);
                    return features;
                }

                /// <summary>
                /// Embeds a batch: images (B, 3, {{s.ImageHeight}}, {{s.ImageWidth}}) normalised, camera/view indices (0-based)
                /// where the model uses side information; writes (B, {{p.FeatureDim}}) features: {{features}},
                /// {{(s.NeckFeature == 1 ? "after" : "before")}} the BNNecks.
                /// </summary>
                """);
            using (w.Block("public void Embed(\n    global::System.ReadOnlySpan<float> images,\n    global::System.ReadOnlySpan<int> cameras,\n"
                + "    global::System.ReadOnlySpan<int> views,\n    global::System.Span<float> features)"))
            {
                w.Lines($$"""
                    int batch = {{Rt}}.InputValidation.BatchFromImages(ImageFloats, images.Length, ImageHeight, ImageWidth);
                    if (features.Length != (long)batch * FeatureDim)
                    {
                        throw new global::System.ArgumentException(
                            $"features must hold {batch} x {FeatureDim} floats, got {features.Length}", nameof(features));
                    }

                    int[] sieRows = {{Rt}}.InputValidation.SieIndices(cameras, views, batch, Cameras, Views);
                    var _b = _core.Backend;
                    {{Ptr}} P = _core.Parameters.Ptr;
                    {{Ptr}} A = _core.Arena(batch, 0, EmbedArenaFloats(batch));
                    long b = batch;
                    // the parameters are constant during Embed: the backend may reuse forms it derived from them
                    // in earlier calls (the CPU backend's packed Linear weights) until they change
                    using var constants = _core.ConstantParameters();
                    """);
                w.Line("// the arena's buffers (table EmbedArena above)");
                foreach (var buf in p.Eval.Buffers) w.Line($"var {buf.Name} = A + EmbedArena.{buf.ConstantName} * b;");
                w.Line("// the work buffers every block of Embed reuses (LN2, GELU in place on the LN1 and MLP buffers)");
                w.Line("var work = new BlockActs(");
                w.Line("    Ln1: ln, Mean1: mean, Rstd1: rstd, Qkv: qkv, Probs: probs, Att: att,");
                w.Line("    Ln2: ln, Mean2: mean, Rstd2: rstd, H: h, G: h, Branch: branch, KeepProbs: false,");
                w.Line("    HiddenStride: EmbedHiddenStride);");
                foreach (var op in p.EvalOps) EmitEvalOp(w, p, op);
            }

            w.Line();
        }

        private static void EmitEvalOp(SourceWriter w, ModelPlan p, EvalOp op)
        {
            var s = p.Spec;
            switch (op)
            {
                case UploadOp { Buffer: "input" }:
                    w.Line("_b.Upload(images, input);");
                    break;
                case UploadOp:
                    w.Line("_b.Upload(sieRows, sieIndex);");
                    break;
                case PatchEmbedOp:
                    EmitPatchEmbed(w, p, $"grid {p.GridY} x {p.GridX}, stride ({s.StrideY}, {s.StrideX})");
                    break;
                case TokenEmbedOp:
                    EmitTokenEmbed(w, p, "x", ":");
                    break;
                case BlocksOp blocks:
                    string copied = s.Jpm ? $" (block {s.Depth - 1} is copied into b1/b2 and not run here)" : "";
                    if (blocks.Count == 0)
                    {
                        w.Line("// backbone: no block runs on the whole stream" + copied);
                        break;
                    }

                    w.Line($"// backbone: blocks 0..{blocks.Count - 1} in place on x" + copied);
                    w.Nested($"for (int l = 0; l < {blocks.Count}; l++)", $"BlockForward(O_Blocks + l * BlockStride, x, x, x, work, batch, TokenCount, {None}, {None});");
                    break;
                case HeadBlockOp head:
                    w.Line(head.Parts == 1
                        ? $"// {HeadName(head)}: only token 0 is read, so after attention it runs on token 0 alone -> tok (B, {p.D})"
                        : $"// {HeadName(head)}: one block shared by the {p.K} parts, batched; token 0 of each part -> tok rows 1..{p.K}");
                    w.Line($"HeadBlockEval({head.ParamBase}, {head.Input}, work, att0, ln0, h0, {Branch("tok", head.Branch, "EmbedDim")}, "
                        + $"{Rows(head.Parts)}, {(head.Parts == 1 ? "TokenCount" : "PartTokens")});");
                    break;
                case NormOp norm:
                    string w0 = Param("P", norm.Prefix + "weight"), b0 = Param("P", norm.Prefix + "bias");
                    w.Line($"// final LayerNorm ({norm.Prefix.TrimEnd('.')}) -> feat{(norm.Count == 1 ? "" : $" rows {norm.Branch}..{norm.Branch + norm.Count - 1}")}");
                    w.Line($"_b.LayerNorm({Branch("tok", norm.Branch, "EmbedDim")}, {w0}, {b0}, {Branch("feat", norm.Branch, "EmbedDim")}, mean, rstd,");
                    w.Line($"    {Rows(norm.Count)}, EmbedDim, {Eps(p)});");
                    break;
                case JpmOp:
                    EmitJpmGather(w, p, "x");
                    break;
                case NeckOp neck:
                    string bn = "P + O_" + Ident(neck.Prefix);
                    if (neck.Branch == 0) w.Line("// NeckFeature.After: the BNNecks with running statistics");
                    w.Line($"_b.BatchNormEval({Branch("feat", neck.Branch, "EmbedDim")}, {bn}_weight, {bn}_bias, {bn}_running_mean, {bn}_running_var,");
                    w.Line($"    {Branch("bnout", neck.Branch, "EmbedDim")}, batch, EmbedDim, 1E-05f);");
                    break;
                case OutputOp o:
                    if (o.Branch == 0) w.Line($"// output (B, {p.FeatureDim}): global{(s.Jpm ? $", then parts / {p.K}" : "")}");
                    string columns = o.Branch == 0 ? "output" : $"output + {o.Branch} * EmbedDim";
                    w.Line($"_b.CopyRows({Branch(o.Source, o.Branch, "EmbedDim")}, EmbedDim, {columns}, FeatureDim, batch, EmbedDim, {F(o.Scale)}, false);");
                    break;
                case DownloadOp:
                    w.Line("_b.Download(output, features);");
                    break;
                default:
                    throw new InvalidOperationException("no emission for " + op.GetType().Name);
            }
        }

        private static string HeadName(HeadBlockOp head) => head.Prefix switch
        {
            "b1.0." => "global branch b1",
            "b2.0." => "part branch b2",
            _ => $"last block ({head.Prefix.TrimEnd('.')})",
        };
    }
}
