using System.Linq;
using TransReID.Generators.Emit;

namespace TransReID.Generators;

public sealed partial class TransReIDGenerator
{
    internal static partial class Emitter
    {
        private static string Eps(ModelPlan p) => F(p.Spec.LayerNormEps);

        private static string Scale(ModelPlan p) => F(1.0 / System.Math.Sqrt(p.Dh));

        /// <summary>Patch embedding and token assembly, shared by Embed and the training forward.</summary>
        private static void EmitStem(SourceWriter w, ModelPlan p, ArenaLayout a, string x)
        {
            var s = p.Spec;
            w.Line($"// patch embedding: (B, 3, {s.ImageHeight}, {s.ImageWidth}) -> (B, {p.N}, {p.D}); grid {p.GridY} x {p.GridX}, stride ({s.StrideY}, {s.StrideX})");
            w.Line($"_b.PatchEmbed({a.Ptr("images")}, {a.Ptr("cols")}, P + O_base_patch_embed_proj_weight, P + O_base_patch_embed_proj_bias, {a.Ptr("patches")}, batch, 3, {s.ImageHeight}, {s.ImageWidth}, {s.PatchSize}, {s.StrideY}, {s.StrideX}, {p.GridY}, {p.GridX}, {p.D});");
            string sie = p.SieRows > 0 ? "P + O_base_sie_embed" : NullPtr;
            string sieIdx = p.SieRows > 0 ? a.Ptr("sieIndex") : NullPtr;
            w.Line($"// + cls, pos{(p.SieRows > 0 ? $", {D(s.SieCoefficient)} * sie[index]" : "")}: (B, {p.T}, {p.D})");
            w.Line($"_b.TokenEmbed({a.Ptr("patches")}, P + O_base_cls_token, P + O_base_pos_embed, {sie}, {sieIdx}, {F(s.SieCoefficient)}, {x}, batch, {p.T}, {p.D});");
        }

        private static void EmitUploads(SourceWriter w, ModelPlan p, ArenaLayout a)
        {
            w.Line($"_b.Upload(images, {a.Ptr("images")});");
            if (p.SieRows > 0) w.Line($"_b.Upload(sie, {a.Ptr("sieIndex")});");
        }

        private static void EmitEmbed(SourceWriter w, ModelPlan p)
        {
            var s = p.Spec;
            var a = p.Eval;
            w.Line("// ---- Embed: eval-mode forward; buffers reused block after block (in place on the token stream) ----");
            w.Lines($$"""
                /// <summary>Embeds a batch of normalised NCHW images; returns (B, FeatureDim) row-major.</summary>
                public float[] Embed(global::System.ReadOnlySpan<float> images, global::System.ReadOnlySpan<int> cameras = default, global::System.ReadOnlySpan<int> views = default)
                {
                    int batch = {{Rt}}.InputValidation.BatchFromImages(ImageFloats, images.Length, ImageHeight, ImageWidth);
                    var features = new float[(long)batch * FeatureDim];
                    Embed(images, cameras, views, features);
                    return features;
                }

                /// <summary>
                /// Embeds a batch: images (B, 3, {{s.ImageHeight}}, {{s.ImageWidth}}) normalised, camera/view indices (0-based) where the
                /// model uses side information; writes (B, {{p.FeatureDim}}) features: {{(s.Jpm ? $"the global feature, then each of the {p.K} part features divided by {p.K}" : "the global feature")}}, {{(s.NeckFeature == 1 ? "after" : "before")}} the BNNecks.
                /// </summary>
                public void Embed(global::System.ReadOnlySpan<float> images, global::System.ReadOnlySpan<int> cameras, global::System.ReadOnlySpan<int> views, global::System.Span<float> features)
                {
                    int batch = {{Rt}}.InputValidation.BatchFromImages(ImageFloats, images.Length, ImageHeight, ImageWidth);
                    if (features.Length != (long)batch * FeatureDim)
                        throw new global::System.ArgumentException($"features must hold {batch} x {FeatureDim} floats, got {features.Length}", nameof(features));
                    int[] sie = {{Rt}}.InputValidation.SieIndices(cameras, views, batch, Cameras, Views);
                    var _b = _core.Backend;
                    {{Ptr}} P = _core.Parameters.Ptr;
                    {{Ptr}} A = _core.Arena(batch, 0, EmbedArenaFloats(batch));
                    long b = batch;
                    var work = new BlockActs({{a.Ptr("ln")}}, {{a.Ptr("mean")}}, {{a.Ptr("rstd")}}, {{a.Ptr("qkv")}}, {{a.Ptr("probs")}}, {{a.Ptr("att")}}, {{a.Ptr("ln")}}, {{a.Ptr("mean")}}, {{a.Ptr("rstd")}}, {{a.Ptr("h")}}, {{a.Ptr("h")}}, {{a.Ptr("branch")}});
                """);
            using (new Indent(w))
            {
                EmitUploads(w, p, a);
                EmitStem(w, p, a, a.Ptr("x"));
                string x = a.Ptr("x");
                string head0 = $"{a.Ptr("att0")}, {a.Ptr("ln0")}, {a.Ptr("h0")}";
                int full = s.Jpm ? p.BackboneBlocks : p.BackboneBlocks - 1;
                w.Line($"// backbone: blocks 0..{p.BackboneBlocks - 1}{(s.Jpm ? $" (block {s.Depth - 1} is copied into b1/b2 and not run here)" : "")}");
                if (full > 0)
                    w.Line($"for (int l = 0; l < {full}; l++) BlockForward({BlockBase("l")}, {x}, {x}, {x}, work, batch, {p.T}, {NullPtr}, {NullPtr});");
                if (s.Jpm)
                {
                    w.Line($"// global branch b1 = block + LayerNorm; only token 0 is read, so after attention it runs on token 0 alone");
                    w.Line($"HeadBlockEval(O_B1, {x}, work, {head0}, {a.Ptr("tok")}, batch, {p.T});");
                    w.Line($"_b.LayerNorm({a.Ptr("tok")}, P + O_b1_1_weight, P + O_b1_1_bias, {a.Ptr("feat")}, {a.Ptr("mean")}, {a.Ptr("rstd")}, batch, {p.D}, {Eps(p)});");
                    w.Line($"// JPM: shift by {s.JpmShift - 1}, shuffle in {s.JpmShuffleGroups} groups{(s.JpmRearrange ? "" : " (off: raster order)")}, {p.K} parts of {p.L} patches + cls -> ({p.K}·B, {p.Tp}, {p.D})");
                    w.Line($"_b.JpmGather({x}, {a.Ptr("parts")}, batch, {p.N}, {p.D}, {p.K}, {p.L}, {s.JpmShift}, {s.JpmShuffleGroups}, {B(s.JpmRearrange)});");
                    w.Line($"// b2: one shared block + LayerNorm for all parts, batched; token 0 of each part");
                    w.Line($"HeadBlockEval(O_B2, {a.Ptr("parts")}, work, {head0}, {a.Ptr("tok")} + b * {p.D}L, {p.K} * batch, {p.Tp});");
                    w.Line($"_b.LayerNorm({a.Ptr("tok")} + b * {p.D}L, P + O_b2_1_weight, P + O_b2_1_bias, {a.Ptr("feat")} + b * {p.D}L, {a.Ptr("mean")}, {a.Ptr("rstd")}, {p.K} * batch, {p.D}, {Eps(p)});");
                }
                else
                {
                    w.Line($"// the last block's output is only read at token 0 (then the final LayerNorm, per token)");
                    w.Line($"HeadBlockEval({BlockBase(full.ToString(System.Globalization.CultureInfo.InvariantCulture))}, {x}, work, {head0}, {a.Ptr("tok")}, batch, {p.T});");
                    w.Line($"_b.LayerNorm({a.Ptr("tok")}, P + O_base_norm_weight, P + O_base_norm_bias, {a.Ptr("feat")}, {a.Ptr("mean")}, {a.Ptr("rstd")}, batch, {p.D}, {Eps(p)});");
                }

                string src = a.Ptr("feat");
                if (s.NeckFeature == 1)
                {
                    w.Line("// NeckFeature.After: BNNecks with running statistics");
                    for (int h = 0; h < p.Heads; h++)
                    {
                        string bn = "O_" + Ident(p.BatchNorms[h]);
                        w.Line($"_b.BatchNormEval({a.Ptr("feat")} + b * {(long)h * p.D}L, P + {bn}_weight, P + {bn}_bias, P + {bn}_running_mean, P + {bn}_running_var, {a.Ptr("bnout")} + b * {(long)h * p.D}L, batch, {p.D}, 1E-05f);");
                    }

                    src = a.Ptr("bnout");
                }

                w.Line($"// output (B, {p.FeatureDim}): global{(s.Jpm ? $", then parts / {p.K}" : "")}");
                w.Line($"_b.CopyRows({src}, {p.D}L, {a.Ptr("out")}, {p.FeatureDim}L, batch, {p.D}, 1f, false);");
                for (int k = 0; k < p.K; k++)
                    w.Line($"_b.CopyRows({src} + b * {(long)(1 + k) * p.D}L, {p.D}L, {a.Ptr("out")} + {(long)(1 + k) * p.D}L, {p.FeatureDim}L, batch, {p.D}, {F(1.0 / p.K)}, false);");
                w.Line($"_b.Download({a.Ptr("out")}, features);");
            }

            w.Line("}");
            w.Line();
        }

        private sealed class Indent : System.IDisposable
        {
            private readonly SourceWriter _w;

            public Indent(SourceWriter w)
            {
                _w = w;
                _w.Push();
            }

            public void Dispose() => _w.Pop();
        }
    }
}
