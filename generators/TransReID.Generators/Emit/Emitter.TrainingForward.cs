using System.Globalization;
using TransReID.Generators.Emit;

namespace TransReID.Generators;

public sealed partial class TransReIDGenerator
{
    internal static partial class Emitter
    {
        /// <summary>TrainStep and ComputeGradients: set-up and forward here, then <see cref="EmitLosses"/> and <see cref="EmitBackward"/>.</summary>
        private static void EmitTraining(SourceWriter w, ModelPlan p)
        {
            var s = p.Spec;
            w.Line("// ---- training: forward keeping activations, losses, backward, optimiser ----");
            w.Lines($$"""
                /// <summary>
                /// One training step: forward in training mode (BatchNorm batch statistics, stochastic depth; see
                /// <see cref="Training"/>), ID and triplet losses{{(s.Jpm ? " with the JPM combination" : "")}}, backward, then
                /// <paramref name="optimizer"/> updates the weights in place. Bad labels or a non-finite loss throw and leave the
                /// weights as they were.
                /// </summary>
                public {{Rt}}.TrainStepResult TrainStep(
                    global::System.ReadOnlySpan<float> images,
                    global::System.ReadOnlySpan<int> labels,
                    global::System.ReadOnlySpan<int> cameras,
                    global::System.ReadOnlySpan<int> views,
                    {{Rt}}.Optimizer optimizer)
                {
                    global::System.ArgumentNullException.ThrowIfNull(optimizer);
                    var result = ComputeGradients(images, labels, cameras, views);
                    _core.ApplyOptimizer(optimizer);
                    return result;
                }

                /// <summary>
                /// Forward and backward of one training step without updating the weights: the losses are returned and the
                /// gradients of the total can be read with <see cref="Gradient"/>. BatchNorm running statistics are updated
                /// as in the official training forward (and restored if the loss is not finite).
                /// </summary>
                """);
            using (w.Block($"public {Rt}.TrainStepResult ComputeGradients(\n    global::System.ReadOnlySpan<float> images,\n"
                + "    global::System.ReadOnlySpan<int> labels,\n    global::System.ReadOnlySpan<int> cameras,\n    global::System.ReadOnlySpan<int> views)"))
            {
                w.Lines($$"""
                    var options = Losses;
                    bool triplet = options.TripletWeight != 0;
                    int batch = {{Rt}}.InputValidation.BatchFromImages(ImageFloats, images.Length, ImageHeight, ImageWidth);
                    {{Rt}}.InputValidation.Labels(labels, batch, Classes, triplet);
                    int[] sieRows = {{Rt}}.InputValidation.SieIndices(cameras, views, batch, Cameras, Views);
                    double rate = DropPathRate;
                    if (!(rate >= 0 && rate < 1)) throw new global::System.InvalidOperationException($"DropPathRate {rate} must be in [0, 1)");
                    bool training = Training;
                    bool dropPath = training && rate > 0;
                    var _b = _core.Backend;
                    {{Ptr}} P = _core.Parameters.Ptr;
                    {{Ptr}} G = _core.Gradients.Ptr;
                    {{Ptr}} A = _core.Arena(batch, 1, TrainArenaFloats(batch));
                    long b = batch;
                    """);
                w.Line("// the arena's buffers (table TrainArena above); the per-sample part starts at S");
                w.Line("var S = A + TrainArena.Fixed;");
                foreach (var buf in p.Train.Buffers)
                    w.Line(buf.IsFixed ? $"var {buf.Name} = A + TrainArena.{buf.ConstantName};" : $"var {buf.Name} = S + TrainArena.{buf.ConstantName} * b;");
                w.Line("// the triplet scratch (B² + 4B floats) after the per-sample part");
                w.Line("var tripletScratch = S + TrainArena.PerSample * b;");
                w.Line("var scratch = new BlockScratch(dbranch, tmpD, tmpD2, tmpH, tmp3D, attScratch);");
                w.Line("// x_l, the input of block l (x0: the embedded tokens)");
                w.Line($"{Ptr} Stream(int l) => stream + l * TrainArena.StreamStride * b;");
                if (p.BackboneBlocks > 0)
                {
                    w.Line("// what block l keeps for backward");
                    w.Line($"{Ptr} Slot(int l) => blockActs + l * BlockSlot.Size * b;");
                }

                w.Line("// the stochastic-depth scales of an entry of s_dropPath (none when stochastic depth is off)");
                w.Line($"{Ptr} DropPathAt(long offset) => dropPath ? dropPathScales + offset * b : {None};");
                w.Line();
                EmitDropPathScales(w, p);
                w.Line("_b.Upload(labels, labelIds);");
                w.Line("_b.Upload(images, input);");
                if (p.SieRows > 0) w.Line("_b.Upload(sieRows, sieIndex);");
                w.Line("_core.ZeroGradients();");
                w.Line("// keep the running statistics, to restore them if the loss turns out not finite");
                w.Nested("for (int h = 0; h < Branches; h++)", "_b.Copy(P + s_branches[h].RunningMean, bnSaved + h * RunningStatsStride, RunningStatsFloats);");
                w.Line();
                EmitTrainingForward(w, p);
                w.Line();
                EmitLosses(w, p);
                w.Line();
                EmitBackward(w, p);
            }

            w.Line();
        }

        private static string Offset(string buffer, long offset) => offset == 0 ? buffer : $"{buffer} + {L(offset)}";

        /// <summary>The stochastic-depth scales, drawn on the host from the table s_dropPath and uploaded once.</summary>
        private static void EmitDropPathScales(SourceWriter w, ModelPlan p)
        {
            string probability = p.Spec.Depth > 1
                ? $"block < 0 ? rate : rate * block / {(p.Spec.Depth - 1).ToString(CultureInfo.InvariantCulture)}.0"
                : "0.0";
            w.Line("// stochastic depth: a keep scale per sample and residual branch (table s_dropPath)");
            using (w.Block("if (dropPath)"))
            {
                w.Line($"var scales = new float[{L(p.DropPathPerSample)} * b];");
                w.Line("var probabilities = new double[s_dropPath.Length];");
                w.Line("var counts = new int[s_dropPath.Length];");
                using (w.Block("for (int i = 0; i < s_dropPath.Length; i++)"))
                {
                    w.Line("var (block, samples, _) = s_dropPath[i];");
                    w.Line($"probabilities[i] = {probability};");
                    w.Line("counts[i] = samples * batch;");
                }

                w.Line($"{Rt}.InputValidation.DropPathScales(_dropPathRng, scales, probabilities, counts);");
                w.Line("_b.Upload(scales, dropPathScales);");
            }

            w.Line();
        }

        /// <summary>The training forward: stem, backbone blocks, b1/JPM/b2 or the final norm, keeping what backward needs.</summary>
        private static void EmitTrainingForward(SourceWriter w, ModelPlan p)
        {
            var s = p.Spec;
            int nb = p.BackboneBlocks;
            string last = $"Stream({nb})";
            w.Line("// ---- forward ----");
            EmitPatchEmbed(w, p, "cols kept for the weight gradient");
            EmitTokenEmbed(w, p, "Stream(0)", " -> x0");
            if (nb > 0)
            {
                w.Line($"// backbone: block l reads x_l, writes x_(l+1), keeps its activations in Slot(l)");
                using (w.Block($"for (int l = 0; l < {nb}; l++)"))
                {
                    w.Line("var slot = Slot(l);");
                    w.Line("BlockForward(O_Blocks + l * BlockStride, Stream(l), slot + BlockSlot.XMid * b, Stream(l + 1),");
                    w.Line("    BlockSlotActs(slot, b, branch), batch, TokenCount, DropPathAt(2L * l), DropPathAt(2L * l + 1));");
                }
            }

            if (s.Jpm)
            {
                var (b1Att, b1Mlp, b2Att, b2Mlp) = p.HeadDropPath!.Value;
                w.Line("// b1 (global branch): the last block's copy on the whole stream, then token 0 and its LayerNorm");
                w.Line($"BlockForward(O_B1, {last}, b1Acts + BlockSlot.XMid * b, y1, BlockSlotActs(b1Acts, b, branch), batch, TokenCount,");
                w.Line($"    DropPathAt({L(b1Att.Offset)}), DropPathAt({L(b1Mlp.Offset)}));");
                w.Line("_b.CopyRows(y1, (long)TokenCount * EmbedDim, tok, EmbedDim, batch, EmbedDim, 1f, false);");
                w.Line($"_b.LayerNorm(tok, P + O_b1_1_weight, P + O_b1_1_bias, feat, tokMean, tokRstd, batch, EmbedDim, {Eps(p)});");
                EmitJpmGather(w, p, last);
                w.Line("// b2: one block shared by the parts, batched; token 0 of each part and its LayerNorm -> branches 1..K");
                w.Line($"BlockForward(O_B2, parts, b2Acts + PartSlot.XMid * b, y2, PartSlotActs(b2Acts, b, branch), {Rows(p.K)}, PartTokens,");
                w.Line($"    DropPathAt({L(b2Att.Offset)}), DropPathAt({L(b2Mlp.Offset)}));");
                w.Line($"_b.CopyRows(y2, (long)PartTokens * EmbedDim, tok + b * EmbedDim, EmbedDim, {Rows(p.K)}, EmbedDim, 1f, false);");
                w.Line("_b.LayerNorm(tok + b * EmbedDim, P + O_b2_1_weight, P + O_b2_1_bias, feat + b * EmbedDim, tokMean + b, tokRstd + b,");
                w.Line($"    {Rows(p.K)}, EmbedDim, {Eps(p)});");
            }
            else
            {
                w.Line("// token 0 of the last block's output and the final LayerNorm");
                w.Line($"_b.CopyRows({last}, (long)TokenCount * EmbedDim, tok, EmbedDim, batch, EmbedDim, 1f, false);");
                w.Line($"_b.LayerNorm(tok, P + O_base_norm_weight, P + O_base_norm_bias, feat, tokMean, tokRstd, batch, EmbedDim, {Eps(p)});");
            }
        }
    }
}
