using TransReID.Generators.Emit;

namespace TransReID.Generators;

public sealed partial class TransReIDGenerator
{
    internal static partial class Emitter
    {
        /// <summary>The block methods (pre-norm transformer block, its token-0 eval variant, its backward) and their buffer records.</summary>
        private static void EmitBlocks(SourceWriter w, ModelPlan p)
        {
            string qkvBias(string buf) => p.Spec.QkvBias ? $"{buf} + (pw + L_attn_qkv_bias)" : None;
            // the K and V rows of the qkv weight and bias (rows D..3D): Q is rows 0..D
            string kvBias = p.Spec.QkvBias ? "P + (pw + L_attn_qkv_bias + EmbedDim)" : None;
            w.Lines($$"""
                // ---- one transformer block (pre-norm): x -> x + DropPath(Attn(LN1(x))) -> + DropPath(MLP(LN2(.))) ----
                // D = {{p.D}}, heads {{p.H}} x {{p.Dh}}, MLP hidden {{p.Hd}}, LayerNorm eps {{D(p.Spec.LayerNormEps)}}, attention scale {{D(1.0 / System.Math.Sqrt(p.Dh))}}
                // pw: the block's base offset in the parameter buffer; its tensors at pw + L_…

                /// <summary>
                /// Activations of one block (kept for backward in training; reused work buffers in Embed, where
                /// KeepProbs is false: the attention probabilities need not be written, no backward reads them).
                /// H and G have rows HiddenStride floats apart: MlpHidden in training, EmbedHiddenStride in Embed.
                /// </summary>
                private readonly record struct BlockActs(
                    {{Ptr}} Ln1, {{Ptr}} Mean1, {{Ptr}} Rstd1,
                    {{Ptr}} Qkv, {{Ptr}} Probs, {{Ptr}} Att,
                    {{Ptr}} Ln2, {{Ptr}} Mean2, {{Ptr}} Rstd2,
                    {{Ptr}} H, {{Ptr}} G, {{Ptr}} Branch,
                    bool KeepProbs, int HiddenStride);

                /// <summary>Work buffers of a block's backward.</summary>
                private readonly record struct BlockScratch(
                    {{Ptr}} DBranch, {{Ptr}} TmpD,
                    {{Ptr}} TmpD2, {{Ptr}} TmpH,
                    {{Ptr}} Tmp3D, {{Ptr}} AttScratch);

                """);
            EmitSlotActs(w, p.BlockSlot);
            if (p.PartSlot is { } parts) EmitSlotActs(w, parts);
            w.Lines($$"""
                /// <summary>x (samples, tokens, D) -> y; xmid receives the stream after the attention residual (may equal x, y in eval).</summary>
                private void BlockForward(long pw,
                    {{Ptr}} x, {{Ptr}} xmid, {{Ptr}} y,
                    in BlockActs a, int samples, int tokens,
                    {{Ptr}} dropPath1, {{Ptr}} dropPath2)
                {
                    var _b = _core.Backend;
                    {{Ptr}} P = _core.Parameters.Ptr;
                    int rows = samples * tokens;
                    long rowLength = (long)tokens * EmbedDim;
                    // attention half: a.Ln1 = LN1(x), a.Qkv, a.Probs, a.Att (all tokens)
                    _b.LayerNorm(x, P + (pw + L_norm1_weight), P + (pw + L_norm1_bias), a.Ln1, a.Mean1, a.Rstd1, rows, EmbedDim, {{Eps(p)}});
                    _b.Linear(a.Ln1, P + (pw + L_attn_qkv_weight), {{qkvBias("P")}}, a.Qkv, rows, EmbedDim, 3 * EmbedDim);
                    _b.Attention(a.Qkv, a.Probs, a.Att, samples, tokens, Heads, HeadDim, {{Scale(p)}}, a.KeepProbs);
                    _b.Linear(a.Att, P + (pw + L_attn_proj_weight), P + (pw + L_attn_proj_bias), a.Branch, rows, EmbedDim, EmbedDim);
                    _b.Residual(x, a.Branch, dropPath1, xmid, samples, rowLength);
                    _b.LayerNorm(xmid, P + (pw + L_norm2_weight), P + (pw + L_norm2_bias), a.Ln2, a.Mean2, a.Rstd2, rows, EmbedDim, {{Eps(p)}});
                    _b.Linear(a.Ln2, EmbedDim, P + (pw + L_mlp_fc1_weight), P + (pw + L_mlp_fc1_bias), a.H, a.HiddenStride, rows, EmbedDim, MlpHidden);
                    // GELU over whole rows of the stride (the padding columns hold no value anyone reads)
                    _b.Gelu(a.H, a.G, (long)rows * a.HiddenStride);
                    _b.Linear(a.G, a.HiddenStride, P + (pw + L_mlp_fc2_weight), P + (pw + L_mlp_fc2_bias), a.Branch, EmbedDim, rows, MlpHidden, EmbedDim);
                    _b.Residual(xmid, a.Branch, dropPath2, y, samples, rowLength);
                }

                /// <summary>
                /// Eval only, for a block whose output is read at token 0 alone (b1, b2, or the last block without JPM):
                /// LayerNorm, K and V over every token, Q and the attention of token 0 alone (it attends to all keys and
                /// values), then the projection, residuals and MLP on token 0 only; y0 receives (samples, D).
                /// </summary>
                private void HeadBlockEval(long pw, {{Ptr}} x, in BlockActs a,
                    {{Ptr}} att0, {{Ptr}} ln0, {{Ptr}} h0,
                    {{Ptr}} y0, int samples, int tokens)
                {
                    var _b = _core.Backend;
                    {{Ptr}} P = _core.Parameters.Ptr;
                    int rows = samples * tokens;
                    int rowLength = tokens * EmbedDim;
                    _b.LayerNorm(x, P + (pw + L_norm1_weight), P + (pw + L_norm1_bias), a.Ln1, a.Mean1, a.Rstd1, rows, EmbedDim, {{Eps(p)}});
                    // K and V of every token (weight rows D..3D) into columns D..3D of a.Qkv
                    _b.Linear(a.Ln1, EmbedDim, P + (pw + L_attn_qkv_weight + EmbedDim * EmbedDim), {{kvBias}},
                        a.Qkv + EmbedDim, 3 * EmbedDim, rows, EmbedDim, 2 * EmbedDim);
                    // Q of token 0 alone (weight rows 0..D): LN1 row 0 of each sample into a.Qkv row 0 of each sample
                    _b.Linear(a.Ln1, rowLength, P + (pw + L_attn_qkv_weight), {{qkvBias("P")}},
                        a.Qkv, 3 * rowLength, samples, EmbedDim, EmbedDim);
                    // token 0 attends to every token -> att0 (samples, D)
                    _b.AttentionQueries(a.Qkv, a.Probs, att0, samples, tokens, 1, Heads, HeadDim, {{Scale(p)}});
                    _b.CopyRows(x, rowLength, y0, EmbedDim, samples, EmbedDim, 1f, false);
                    _b.Linear(att0, P + (pw + L_attn_proj_weight), P + (pw + L_attn_proj_bias), a.Branch, samples, EmbedDim, EmbedDim);
                    _b.Residual(y0, a.Branch, {{None}}, y0, samples, EmbedDim);
                    _b.LayerNorm(y0, P + (pw + L_norm2_weight), P + (pw + L_norm2_bias), ln0, a.Mean2, a.Rstd2, samples, EmbedDim, {{Eps(p)}});
                    _b.Linear(ln0, P + (pw + L_mlp_fc1_weight), P + (pw + L_mlp_fc1_bias), h0, samples, EmbedDim, MlpHidden);
                    _b.Gelu(h0, h0, (long)samples * MlpHidden);
                    _b.Linear(h0, P + (pw + L_mlp_fc2_weight), P + (pw + L_mlp_fc2_bias), a.Branch, samples, MlpHidden, EmbedDim);
                    _b.Residual(y0, a.Branch, {{None}}, y0, samples, EmbedDim);
                }

                /// <summary>
                /// Backward of <see cref="BlockForward"/>: grad holds dL/dy on entry and dL/dx on return; parameter gradients
                /// accumulate.
                /// </summary>
                private void BlockBackward(long pw, {{Ptr}} x, {{Ptr}} xmid,
                    in BlockActs a, in BlockScratch s,
                    {{Ptr}} grad, int samples, int tokens,
                    {{Ptr}} dropPath1, {{Ptr}} dropPath2)
                {
                    var _b = _core.Backend;
                    {{Ptr}} P = _core.Parameters.Ptr;
                    {{Ptr}} G = _core.Gradients.Ptr;
                    int rows = samples * tokens;
                    long rowLength = (long)tokens * EmbedDim;
                    // MLP half: dy (after the drop-path scale) -> fc2 -> GELU -> fc1 -> LN2, adding into grad
                    {{Ptr}} dy = grad;
                    if (!dropPath2.IsNull)
                    {
                        _b.ScaleRows(grad, dropPath2, s.DBranch, samples, rowLength);
                        dy = s.DBranch;
                    }

                    _b.LinearBackward(dy, a.G, P + (pw + L_mlp_fc2_weight), s.TmpH,
                        G + (pw + L_mlp_fc2_weight), G + (pw + L_mlp_fc2_bias), rows, MlpHidden, EmbedDim, false);
                    _b.GeluBackward(s.TmpH, a.H, s.TmpH, (long)rows * MlpHidden);
                    _b.LinearBackward(s.TmpH, a.Ln2, P + (pw + L_mlp_fc1_weight), s.TmpD,
                        G + (pw + L_mlp_fc1_weight), G + (pw + L_mlp_fc1_bias), rows, EmbedDim, MlpHidden, false);
                    _b.LayerNormBackward(s.TmpD, xmid, P + (pw + L_norm2_weight), a.Mean2, a.Rstd2, grad,
                        G + (pw + L_norm2_weight), G + (pw + L_norm2_bias), rows, EmbedDim, true);
                    // attention half: proj -> attention -> qkv -> LN1, adding into grad
                    dy = grad;
                    if (!dropPath1.IsNull)
                    {
                        _b.ScaleRows(grad, dropPath1, s.DBranch, samples, rowLength);
                        dy = s.DBranch;
                    }

                    _b.LinearBackward(dy, a.Att, P + (pw + L_attn_proj_weight), s.TmpD2,
                        G + (pw + L_attn_proj_weight), G + (pw + L_attn_proj_bias), rows, EmbedDim, EmbedDim, false);
                    _b.AttentionBackward(s.TmpD2, a.Qkv, a.Probs, s.Tmp3D, s.AttScratch, samples, tokens, Heads, HeadDim, {{Scale(p)}});
                    _b.LinearBackward(s.Tmp3D, a.Ln1, P + (pw + L_attn_qkv_weight), s.TmpD,
                        G + (pw + L_attn_qkv_weight), {{qkvBias("G")}}, rows, EmbedDim, 3 * EmbedDim, false);
                    _b.LayerNormBackward(s.TmpD, x, P + (pw + L_norm1_weight), a.Mean1, a.Rstd1, grad,
                        G + (pw + L_norm1_weight), G + (pw + L_norm1_bias), rows, EmbedDim, true);
                }
                """);
        }

        /// <summary>The BlockActs of a slot (training), from the slot's field offsets.</summary>
        private static void EmitSlotActs(SourceWriter w, SlotLayout slot)
        {
            string F(string field) => $"slot + {slot.Name}.{field} * b";
            w.Line($"/// <summary>The activations kept in a {slot.Name} at <paramref name=\"slot\"/> (fields at slot + {slot.Name}.Field · B).</summary>");
            w.Line($"private static BlockActs {slot.Name}Acts(");
            w.Line($"    {Ptr} slot, long b, {Ptr} branch) => new(");
            w.Line($"    Ln1: {F("Ln1")}, Mean1: {F("Mean1")}, Rstd1: {F("Rstd1")},");
            w.Line($"    Qkv: {F("Qkv")}, Probs: {F("Probs")}, Att: {F("Att")},");
            w.Line($"    Ln2: {F("Ln2")}, Mean2: {F("Mean2")}, Rstd2: {F("Rstd2")},");
            w.Line($"    H: {F("H")}, G: {F("G")}, Branch: branch, KeepProbs: true, HiddenStride: MlpHidden);");
            w.Line();
        }
    }
}
