using TransReID.Generators.Emit;

namespace TransReID.Generators;

public sealed partial class TransReIDGenerator
{
    internal static partial class Emitter
    {
        /// <summary>Backward from the features to the patch embedding, then the one host read (the losses) and the result.</summary>
        private static void EmitBackward(SourceWriter w, ModelPlan p)
        {
            var s = p.Spec;
            int nb = p.BackboneBlocks;
            string last = $"Stream({nb})";
            w.Line("// ---- backward ----");
            if (s.Jpm)
            {
                var (b1Att, b1Mlp, b2Att, b2Mlp) = p.HeadDropPath!.Value;
                w.Line("// b1: LayerNorm on token 0, scatter into the token-0 rows of grad, block");
                w.Line("_b.LayerNormBackward(dfeat, tok, P + O_b1_1_weight, tokMean, tokRstd, dtok, G + O_b1_1_weight, G + O_b1_1_bias,");
                w.Line("    batch, EmbedDim, false);");
                w.Line("_b.Zero(grad, b * TokenCount * EmbedDim);");
                w.Line("_b.CopyRows(dtok, EmbedDim, grad, (long)TokenCount * EmbedDim, batch, EmbedDim, 1f, false);");
                w.Line($"BlockBackward(O_B1, {last}, b1Acts + BlockSlot.XMid * b, BlockSlotActs(b1Acts, b, branch), scratch, grad, batch, TokenCount,");
                w.Line($"    DropPathAt({L(b1Att.Offset)}), DropPathAt({L(b1Mlp.Offset)}));");
                w.Line("// b2 and the JPM scatter back onto the patch tokens (accumulating into the b1 gradient)");
                w.Line("_b.LayerNormBackward(dfeat + b * EmbedDim, tok + b * EmbedDim, P + O_b2_1_weight, tokMean + b, tokRstd + b,");
                w.Line($"    dtok + b * EmbedDim, G + O_b2_1_weight, G + O_b2_1_bias, {Rows(p.K)}, EmbedDim, false);");
                w.Line("_b.Zero(gradParts, b * JpmParts * PartTokens * EmbedDim);");
                w.Line($"_b.CopyRows(dtok + b * EmbedDim, EmbedDim, gradParts, (long)PartTokens * EmbedDim, {Rows(p.K)}, EmbedDim, 1f, false);");
                w.Line($"BlockBackward(O_B2, parts, b2Acts + PartSlot.XMid * b, PartSlotActs(b2Acts, b, branch), scratch, gradParts,");
                w.Line($"    {Rows(p.K)}, PartTokens, DropPathAt({L(b2Att.Offset)}), DropPathAt({L(b2Mlp.Offset)}));");
                w.Line("_b.JpmGatherBackward(gradParts, grad, batch, PatchCount, EmbedDim,");
                w.Line("    JpmParts, PartLength, JpmShift, JpmShuffleGroups, JpmRearrange);");
            }
            else
            {
                w.Line("// final LayerNorm on token 0, scattered into the token-0 rows of grad");
                w.Line("_b.LayerNormBackward(dfeat, tok, P + O_base_norm_weight, tokMean, tokRstd, dtok,");
                w.Line("    G + O_base_norm_weight, G + O_base_norm_bias, batch, EmbedDim, false);");
                w.Line("_b.Zero(grad, b * TokenCount * EmbedDim);");
                w.Line("_b.CopyRows(dtok, EmbedDim, grad, (long)TokenCount * EmbedDim, batch, EmbedDim, 1f, false);");
            }

            if (nb > 0)
            {
                w.Line("// backbone, last block first");
                using (w.Block($"for (int l = {nb - 1}; l >= 0; l--)"))
                {
                    w.Line("var slot = Slot(l);");
                    w.Line("BlockBackward(O_Blocks + l * BlockStride, Stream(l), slot + BlockSlot.XMid * b, BlockSlotActs(slot, b, branch), scratch,");
                    w.Line("    grad, batch, TokenCount, DropPathAt(2L * l), DropPathAt(2L * l + 1));");
                }
            }

            string sie = p.SieRows > 0 ? "G + O_base_sie_embed, sieIndex" : $"{None}, {None}";
            w.Line("// token assembly and patch embedding (weights only: images need no gradient)");
            w.Line($"_b.TokenEmbedBackward(grad, dpatches, G + O_base_cls_token, G + O_base_pos_embed, {sie}, {F(s.SieCoefficient)},");
            w.Line("    batch, TokenCount, EmbedDim);");
            w.Line("_b.PatchEmbedBackward(dpatches, cols, G + O_base_patch_embed_proj_weight, G + O_base_patch_embed_proj_bias,");
            w.Line($"    batch * PatchCount, {p.Cpp}, EmbedDim);");
            w.Line();
            w.Line("// ---- the only host read: the loss components ----");
            w.Line($"var lossValues = new float[{2 * p.Branches}];");
            w.Line("_b.Download(losses, lossValues);");
            w.Line("if (!triplet) global::System.Array.Clear(lossValues, Branches, Branches);");
            using (w.Block("try"))
            {
                w.Line($"{Rt}.InputValidation.FiniteLosses(lossValues, s_lossNames);");
            }

            using (w.Block("catch (global::System.ArithmeticException)"))
            {
                w.Line("// restore the running statistics and drop the gradients: the step did not happen");
                w.Nested("for (int h = 0; h < Branches; h++)", "_b.Copy(bnSaved + h * RunningStatsStride, P + s_branches[h].RunningMean, RunningStatsFloats);");
                w.Line("_core.ZeroGradients();");
                w.Line("throw;");
            }

            w.Line();
            w.Line("if (training) for (int i = 0; i < Branches; i++) _core.NumBatchesTracked[i]++;");
            if (s.Jpm)
            {
                w.Line("float idParts = 0, triParts = 0;");
                using (w.Block("for (int k = 1; k < Branches; k++)"))
                {
                    w.Line("idParts += lossValues[k];");
                    w.Line("triParts += lossValues[Branches + k];");
                }

                w.Line("idParts /= JpmParts;");
                w.Line("triParts /= JpmParts;");
                w.Line("float total = (float)(options.IdWeight * (options.GlobalWeight * lossValues[0] + options.PartsWeight * idParts)");
                w.Line("    + options.TripletWeight * (options.GlobalWeight * lossValues[Branches] + options.PartsWeight * triParts));");
                w.Line($"return new {Rt}.TrainStepResult(lossValues[0], idParts, lossValues[Branches], triParts, total);");
            }
            else
            {
                w.Line("float total = (float)(options.IdWeight * lossValues[0] + options.TripletWeight * lossValues[1]);");
                w.Line($"return new {Rt}.TrainStepResult(lossValues[0], 0f, lossValues[1], 0f, total);");
            }
        }
    }
}
