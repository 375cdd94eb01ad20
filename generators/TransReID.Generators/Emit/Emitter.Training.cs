using System.Collections.Generic;
using System.Linq;
using TransReID.Generators.Emit;

namespace TransReID.Generators;

public sealed partial class TransReIDGenerator
{
    internal static partial class Emitter
    {
        private static string Slot(ModelPlan p, string slot, string coefExpr)
        {
            var a = p.Train;
            var layout = a.Slots[slot];
            long baseCoef = layout.Fields[0].Coefficient;
            string F(string field)
            {
                long c = layout.Fields.First(f => f.Field == field).Coefficient - baseCoef;
                return $"A + ({a.FixedSize}L + ({coefExpr} + {c}L) * b)";
            }

            return $"new BlockActs({F("Ln1")}, {F("Mean1")}, {F("Rstd1")}, {F("Qkv")}, {F("Probs")}, {F("Att")}, {F("Ln2")}, {F("Mean2")}, {F("Rstd2")}, {F("H")}, {F("G")}, {a.Ptr("branch")})";
        }

        private static string XMid(ModelPlan p, string slot, string coefExpr)
        {
            var a = p.Train;
            var layout = a.Slots[slot];
            long c = layout.Fields.First(f => f.Field == "XMid").Coefficient - layout.Fields[0].Coefficient;
            return $"A + ({a.FixedSize}L + ({coefExpr} + {c}L) * b)";
        }

        private static void EmitTraining(SourceWriter w, ModelPlan p)
        {
            var s = p.Spec;
            var a = p.Train;
            int nb = p.BackboneBlocks;
            long slot0 = nb > 0 ? a.Slots["s0"].Fields[0].Coefficient : 0;
            long slotStride = nb > 1 ? a.Slots["s1"].Fields[0].Coefficient - slot0 : 0;
            long x0 = a.Map["x0"].Offset;
            long xStride = ModelPlan.Pad((long)p.T * p.D);
            string X(string l) => $"A + ({a.FixedSize}L + ({x0}L + {l} * {xStride}L) * b)";
            string SlotAt(string l) => Slot(p, "s0", $"{slot0}L + {l} * {slotStride}L");
            string XMidAt(string l) => XMid(p, "s0", $"{slot0}L + {l} * {slotStride}L");
            string DropPath(int entry) => $"dropPath ? {a.Ptr("dropPath")} + b * {entry}L : {NullPtr}";
            string scratch = $"new BlockScratch({a.Ptr("dbranch")}, {a.Ptr("tmpD")}, {a.Ptr("tmpD2")}, {a.Ptr("tmpH")}, {a.Ptr("tmp3D")}, {a.Ptr("attScratch")})";
            string tripletScratch = $"A + ({a.FixedSize}L + {a.PerSample}L * b)";

            // drop-path probabilities: linspace(0, rate, Depth); the head copies use the last block's rate
            var probs = new List<string>();
            var counts = new List<string>();
            for (int l = 0; l < nb; l++)
            {
                string pr = s.Depth > 1 ? $"rate * {l} / {s.Depth - 1}.0" : "0.0";
                probs.Add(pr); probs.Add(pr);
                counts.Add("batch"); counts.Add("batch");
            }

            if (s.Jpm)
            {
                string last = s.Depth > 1 ? "rate" : "0.0";
                probs.Add(last); probs.Add(last); probs.Add(last); probs.Add(last);
                counts.Add("batch"); counts.Add("batch"); counts.Add($"{p.K} * batch"); counts.Add($"{p.K} * batch");
            }

            w.Line("// ---- training: forward keeping activations, losses, backward, optimiser ----");
            w.Lines($$"""
                /// <summary>
                /// One training step: forward in training mode (BatchNorm batch statistics, stochastic depth; see
                /// <see cref="Training"/>), ID and triplet
                /// losses{{(s.Jpm ? " with the JPM combination" : "")}}, backward, then <paramref name="optimizer"/> updates the weights in place.
                /// Bad labels or a non-finite loss throw and leave the weights as they were.
                /// </summary>
                public {{Rt}}.TrainStepResult TrainStep(global::System.ReadOnlySpan<float> images, global::System.ReadOnlySpan<int> labels, global::System.ReadOnlySpan<int> cameras, global::System.ReadOnlySpan<int> views, {{Rt}}.Optimizer optimizer)
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
                public {{Rt}}.TrainStepResult ComputeGradients(global::System.ReadOnlySpan<float> images, global::System.ReadOnlySpan<int> labels, global::System.ReadOnlySpan<int> cameras, global::System.ReadOnlySpan<int> views)
                {
                    var options = Losses;
                    bool triplet = options.TripletWeight != 0;
                    int batch = {{Rt}}.InputValidation.BatchFromImages(ImageFloats, images.Length, ImageHeight, ImageWidth);
                    {{Rt}}.InputValidation.Labels(labels, batch, Classes, triplet);
                    int[] sie = {{Rt}}.InputValidation.SieIndices(cameras, views, batch, Cameras, Views);
                    double rate = DropPathRate;
                    if (!(rate >= 0 && rate < 1)) throw new global::System.InvalidOperationException($"DropPathRate {rate} must be in [0, 1)");
                    bool training = Training;
                    bool dropPath = training && rate > 0;
                    var _b = _core.Backend;
                    {{Ptr}} P = _core.Parameters.Ptr;
                    {{Ptr}} G = _core.Gradients.Ptr;
                    {{Ptr}} A = _core.Arena(batch, 1, TrainArenaFloats(batch));
                    long b = batch;
                    if (dropPath)
                    {
                        var scales = new float[{{a.SampleEntries.First(e => e.Name == "dropPath").Size}}L * b];
                        {{Rt}}.InputValidation.DropPathScales(_dropPathRng, scales, new double[] { {{string.Join(", ", probs)}} }, new int[] { {{string.Join(", ", counts)}} });
                        _b.Upload(scales, {{a.Ptr("dropPath")}});
                    }

                    _b.Upload(labels, {{a.Ptr("labels")}});
                """);
            using (new Indent(w))
            {
                EmitUploads(w, p, a);
                w.Line("_core.ZeroGradients();");
                w.Line("// keep the running statistics, to restore them if the loss turns out not finite");
                for (int h = 0; h < p.Heads; h++)
                {
                    string bn = "O_" + Ident(p.BatchNorms[h]);
                    w.Line($"_b.Copy(P + {bn}_running_mean, {a.Ptr("bnSaved")} + {(long)h * 2 * ModelPlan.Pad(p.D)}L, {ModelPlan.Pad(p.D) + p.D}L);");
                }

                w.Line();
                w.Line("// ---- forward ----");
                EmitStem(w, p, a, X("0"));
                if (nb > 0)
                {
                    w.Line($"for (int l = 0; l < {nb}; l++)");
                    w.Line($"    BlockForward({BlockBase("l")}, {X("l")}, {XMidAt("l")}, {X("(l + 1)")}, {SlotAt("l")}, batch, {p.T}, {DropPathAt("l", 0)}, {DropPathAt("l", 1)});");
                }

                string xLast = X(nb.ToString(System.Globalization.CultureInfo.InvariantCulture));
                string sb1Mid = "", sb1Acts = "", sb2Mid = "", sb2Acts = "";
                if (s.Jpm)
                {
                    string sb1At = $"{a.Slots["sb1"].Fields[0].Coefficient}L", sb2At = $"{a.Slots["sb2"].Fields[0].Coefficient}L";
                    (sb1Mid, sb1Acts, sb2Mid, sb2Acts) = (XMid(p, "sb1", sb1At), Slot(p, "sb1", sb1At), XMid(p, "sb2", sb2At), Slot(p, "sb2", sb2At));
                    w.Line("// b1 (global branch)");
                    w.Line($"BlockForward(O_B1, {xLast}, {sb1Mid}, {a.Ptr("y1")}, {sb1Acts}, batch, {p.T}, {DropPath(2 * nb)}, {DropPath(2 * nb + 1)});");
                    w.Line($"_b.CopyRows({a.Ptr("y1")}, {(long)p.T * p.D}L, {a.Ptr("tok")}, {p.D}L, batch, {p.D}, 1f, false);");
                    w.Line($"_b.LayerNorm({a.Ptr("tok")}, P + O_b1_1_weight, P + O_b1_1_bias, {a.Ptr("feat")}, {a.Ptr("tokMean")}, {a.Ptr("tokRstd")}, batch, {p.D}, {Eps(p)});");
                    w.Line("// JPM rearrangement and b2 (shared by all parts, batched)");
                    w.Line($"_b.JpmGather({xLast}, {a.Ptr("parts")}, batch, {p.N}, {p.D}, {p.K}, {p.L}, {s.JpmShift}, {s.JpmShuffleGroups}, {B(s.JpmRearrange)});");
                    w.Line($"BlockForward(O_B2, {a.Ptr("parts")}, {sb2Mid}, {a.Ptr("y2")}, {sb2Acts}, {p.K} * batch, {p.Tp}, {DropPath(2 * nb + 2)}, {DropPath(2 * nb + 2 + p.K)});");
                    w.Line($"_b.CopyRows({a.Ptr("y2")}, {(long)p.Tp * p.D}L, {a.Ptr("tok")} + b * {p.D}L, {p.D}L, {p.K} * batch, {p.D}, 1f, false);");
                    w.Line($"_b.LayerNorm({a.Ptr("tok")} + b * {p.D}L, P + O_b2_1_weight, P + O_b2_1_bias, {a.Ptr("feat")} + b * {p.D}L, {a.Ptr("tokMean")} + b, {a.Ptr("tokRstd")} + b, {p.K} * batch, {p.D}, {Eps(p)});");
                }
                else
                {
                    w.Line($"_b.CopyRows({xLast}, {(long)p.T * p.D}L, {a.Ptr("tok")}, {p.D}L, batch, {p.D}, 1f, false);");
                    w.Line($"_b.LayerNorm({a.Ptr("tok")}, P + O_base_norm_weight, P + O_base_norm_bias, {a.Ptr("feat")}, {a.Ptr("tokMean")}, {a.Ptr("tokRstd")}, batch, {p.D}, {Eps(p)});");
                }

                w.Line();
                w.Line("// ---- BNNecks, classifiers, losses (each writes its gradient scaled by its weight in the total) ----");
                if (s.Jpm)
                {
                    w.Line("float idGlobal = (float)(options.IdWeight * options.GlobalWeight), idPart = (float)(options.IdWeight * options.PartsWeight / JpmParts);");
                    w.Line("float triGlobal = (float)(options.TripletWeight * options.GlobalWeight), triPart = (float)(options.TripletWeight * options.PartsWeight / JpmParts);");
                }
                else
                {
                    w.Line("float idGlobal = (float)options.IdWeight, triGlobal = (float)options.TripletWeight;");
                }

                for (int h = 0; h < p.Heads; h++)
                {
                    string bn = "O_" + Ident(p.BatchNorms[h]);
                    string cls = "O_" + Ident(h == 0 ? "classifier.weight" : $"classifier_{h}.weight");
                    string feat = $"{a.Ptr("feat")} + b * {(long)h * p.D}L";
                    string bnout = $"{a.Ptr("bnout")} + b * {(long)h * p.D}L";
                    string logits = $"{a.Ptr("logits")} + b * {(long)h * p.C}L";
                    string dlogits = $"{a.Ptr("dlogits")} + b * {(long)h * p.C}L";
                    string idScale = h == 0 ? "idGlobal" : "idPart", triScale = h == 0 ? "triGlobal" : "triPart";
                    w.Line($"// branch {h}{(h == 0 ? " (global)" : $" (part {h - 1})")}");
                    w.Line($"if (training) _b.BatchNormTrain({feat}, P + {bn}_weight, P + {bn}_bias, {bnout}, {a.Ptr("bnMean")} + {(long)h * p.D}L, {a.Ptr("bnRstd")} + {(long)h * p.D}L, P + {bn}_running_mean, P + {bn}_running_var, batch, {p.D}, 1E-05f, 0.1f);");
                    w.Line($"else _b.BatchNormEval({feat}, P + {bn}_weight, P + {bn}_bias, P + {bn}_running_mean, P + {bn}_running_var, {bnout}, batch, {p.D}, 1E-05f);");
                    w.Line($"_b.Linear({bnout}, P + {cls}, {NullPtr}, {logits}, batch, {p.D}, {p.C});");
                    w.Line($"_b.CrossEntropy({logits}, {a.Ptr("labels")}, {a.Ptr("losses")} + {h}L, {dlogits}, batch, {p.C}, (float)options.LabelSmoothing, {idScale});");
                    w.Line($"if (triplet) _b.Triplet({feat}, {a.Ptr("labels")}, {a.Ptr("losses")} + {p.Heads + h}L, {a.Ptr("dfeat")} + b * {(long)h * p.D}L, {tripletScratch}, batch, {p.D}, (float)options.TripletMargin, options.NormalizeTripletFeatures, {triScale}, false);");
                    w.Line($"_b.LinearBackward({dlogits}, {bnout}, P + {cls}, {a.Ptr("dbn")} + b * {(long)h * p.D}L, G + {cls}, {NullPtr}, batch, {p.D}, {p.C}, false);");
                    w.Line($"if (training) _b.BatchNormBackward({a.Ptr("dbn")} + b * {(long)h * p.D}L, {feat}, P + {bn}_weight, {a.Ptr("bnMean")} + {(long)h * p.D}L, {a.Ptr("bnRstd")} + {(long)h * p.D}L, {a.Ptr("dfeat")} + b * {(long)h * p.D}L, G + {bn}_weight, {NullPtr}, batch, {p.D}, triplet);");
                    w.Line($"else _b.BatchNormEvalBackward({a.Ptr("dbn")} + b * {(long)h * p.D}L, {feat}, P + {bn}_weight, P + {bn}_running_mean, P + {bn}_running_var, {a.Ptr("dfeat")} + b * {(long)h * p.D}L, G + {bn}_weight, {NullPtr}, batch, {p.D}, 1E-05f, triplet);");
                }

                w.Line();
                w.Line("// ---- backward ----");
                string g = a.Ptr("g");
                if (s.Jpm)
                {
                    w.Line("// b1: LayerNorm on token 0, scatter into the token-0 rows, block");
                    w.Line($"_b.LayerNormBackward({a.Ptr("dfeat")}, {a.Ptr("tok")}, P + O_b1_1_weight, {a.Ptr("tokMean")}, {a.Ptr("tokRstd")}, {a.Ptr("dtok")}, G + O_b1_1_weight, G + O_b1_1_bias, batch, {p.D}, false);");
                    w.Line($"_b.Zero({g}, b * {(long)p.T * p.D}L);");
                    w.Line($"_b.CopyRows({a.Ptr("dtok")}, {p.D}L, {g}, {(long)p.T * p.D}L, batch, {p.D}, 1f, false);");
                    w.Line($"BlockBackward(O_B1, {xLast}, {sb1Mid}, {sb1Acts}, {scratch}, {g}, batch, {p.T}, {DropPath(2 * nb)}, {DropPath(2 * nb + 1)});");
                    w.Line("// b2 and the JPM scatter back onto the patch tokens (accumulating into the b1 gradient)");
                    string g2 = a.Ptr("g2");
                    w.Line($"_b.LayerNormBackward({a.Ptr("dfeat")} + b * {p.D}L, {a.Ptr("tok")} + b * {p.D}L, P + O_b2_1_weight, {a.Ptr("tokMean")} + b, {a.Ptr("tokRstd")} + b, {a.Ptr("dtok")} + b * {p.D}L, G + O_b2_1_weight, G + O_b2_1_bias, {p.K} * batch, {p.D}, false);");
                    w.Line($"_b.Zero({g2}, b * {(long)p.K * p.Tp * p.D}L);");
                    w.Line($"_b.CopyRows({a.Ptr("dtok")} + b * {p.D}L, {p.D}L, {g2}, {(long)p.Tp * p.D}L, {p.K} * batch, {p.D}, 1f, false);");
                    w.Line($"BlockBackward(O_B2, {a.Ptr("parts")}, {sb2Mid}, {sb2Acts}, {scratch}, {g2}, {p.K} * batch, {p.Tp}, {DropPath(2 * nb + 2)}, {DropPath(2 * nb + 2 + p.K)});");
                    w.Line($"_b.JpmGatherBackward({g2}, {g}, batch, {p.N}, {p.D}, {p.K}, {p.L}, {s.JpmShift}, {s.JpmShuffleGroups}, {B(s.JpmRearrange)});");
                }
                else
                {
                    w.Line($"_b.LayerNormBackward({a.Ptr("dfeat")}, {a.Ptr("tok")}, P + O_base_norm_weight, {a.Ptr("tokMean")}, {a.Ptr("tokRstd")}, {a.Ptr("dtok")}, G + O_base_norm_weight, G + O_base_norm_bias, batch, {p.D}, false);");
                    w.Line($"_b.Zero({g}, b * {(long)p.T * p.D}L);");
                    w.Line($"_b.CopyRows({a.Ptr("dtok")}, {p.D}L, {g}, {(long)p.T * p.D}L, batch, {p.D}, 1f, false);");
                }

                if (nb > 0)
                {
                    w.Line($"for (int l = {nb - 1}; l >= 0; l--)");
                    w.Line($"    BlockBackward({BlockBase("l")}, {X("l")}, {XMidAt("l")}, {SlotAt("l")}, {scratch}, {g}, batch, {p.T}, {DropPathAt("l", 0)}, {DropPathAt("l", 1)});");
                }

                string sie = p.SieRows > 0 ? "G + O_base_sie_embed" : NullPtr;
                string sieIdx = p.SieRows > 0 ? a.Ptr("sieIndex") : NullPtr;
                w.Line($"_b.TokenEmbedBackward({g}, {a.Ptr("dpatches")}, G + O_base_cls_token, G + O_base_pos_embed, {sie}, {sieIdx}, {F(s.SieCoefficient)}, batch, {p.T}, {p.D});");
                w.Line($"_b.PatchEmbedBackward({a.Ptr("dpatches")}, {a.Ptr("cols")}, G + O_base_patch_embed_proj_weight, G + O_base_patch_embed_proj_bias, batch * {p.N}, {p.Cpp}, {p.D});");
                w.Line();
                w.Line("// ---- the only host read: the loss components ----");
                w.Line($"var losses = new float[{2 * p.Heads}];");
                w.Line($"_b.Download({a.Ptr("losses")}, losses);");
                w.Line("if (!triplet) global::System.Array.Clear(losses, Branches, Branches);");
                w.Line("try");
                w.Line("{");
                w.Line($"    {Rt}.InputValidation.FiniteLosses(losses, s_lossNames);");
                w.Line("}");
                w.Line("catch (global::System.ArithmeticException)");
                w.Line("{");
                for (int h = 0; h < p.Heads; h++)
                {
                    string bn = "O_" + Ident(p.BatchNorms[h]);
                    w.Line($"    _b.Copy({a.Ptr("bnSaved")} + {(long)h * 2 * ModelPlan.Pad(p.D)}L, P + {bn}_running_mean, {ModelPlan.Pad(p.D) + p.D}L);");
                }

                w.Line("    _core.ZeroGradients();");
                w.Line("    throw;");
                w.Line("}");
                w.Line();
                w.Line("if (training) for (int i = 0; i < Branches; i++) _core.NumBatchesTracked[i]++;");
                if (s.Jpm)
                {
                    w.Line("float idParts = 0, triParts = 0;");
                    w.Line("for (int k = 1; k < Branches; k++) { idParts += losses[k]; triParts += losses[Branches + k]; }");
                    w.Line("idParts /= JpmParts;");
                    w.Line("triParts /= JpmParts;");
                    w.Line("float total = (float)(options.IdWeight * (options.GlobalWeight * losses[0] + options.PartsWeight * idParts) + options.TripletWeight * (options.GlobalWeight * losses[Branches] + options.PartsWeight * triParts));");
                    w.Line($"return new {Rt}.TrainStepResult(losses[0], idParts, losses[Branches], triParts, total);");
                }
                else
                {
                    w.Line("float total = (float)(options.IdWeight * losses[0] + options.TripletWeight * losses[1]);");
                    w.Line($"return new {Rt}.TrainStepResult(losses[0], 0f, losses[1], 0f, total);");
                }
            }

            w.Line("}");
            w.Line();

            string DropPathAt(string l, int branch) => $"dropPath ? {a.Ptr("dropPath")} + b * (2L * {l} + {branch}L) : {NullPtr}";
        }

        private static void EmitBlocks(SourceWriter w, ModelPlan p)
        {
            string qkvBias(string buf) => p.Spec.QkvBias ? $"{buf} + (pw + L_attn_qkv_bias)" : NullPtr;
            w.Lines($$"""
                // ---- one transformer block (pre-norm): x -> x + DropPath(Attn(LN1(x))) -> + DropPath(MLP(LN2(.))) ----
                // widths: D = {{p.D}}, heads {{p.H}} x {{p.Dh}}, MLP hidden {{p.Hd}}, LayerNorm eps {{D(p.Spec.LayerNormEps)}}, attention scale {{D(1.0 / System.Math.Sqrt(p.Dh))}}

                /// <summary>Activations of one block (kept for backward in training; reused work buffers in Embed).</summary>
                private readonly record struct BlockActs({{Ptr}} Ln1, {{Ptr}} Mean1, {{Ptr}} Rstd1, {{Ptr}} Qkv, {{Ptr}} Probs, {{Ptr}} Att, {{Ptr}} Ln2, {{Ptr}} Mean2, {{Ptr}} Rstd2, {{Ptr}} H, {{Ptr}} G, {{Ptr}} Branch);

                /// <summary>Work buffers of a block's backward.</summary>
                private readonly record struct BlockScratch({{Ptr}} DBranch, {{Ptr}} TmpD, {{Ptr}} TmpD2, {{Ptr}} TmpH, {{Ptr}} Tmp3D, {{Ptr}} AttScratch);

                /// <summary>The attention half shared by every block kind: a.Ln1 = LN1(x), a.Qkv, a.Probs, a.Att (all tokens).</summary>
                private void AttendAll(long pw, {{Ptr}} x, in BlockActs a, int samples, int tokens)
                {
                    var _b = _core.Backend;
                    {{Ptr}} P = _core.Parameters.Ptr;
                    int rows = samples * tokens;
                    _b.LayerNorm(x, P + (pw + L_norm1_weight), P + (pw + L_norm1_bias), a.Ln1, a.Mean1, a.Rstd1, rows, {{p.D}}, {{Eps(p)}});
                    _b.Linear(a.Ln1, P + (pw + L_attn_qkv_weight), {{qkvBias("P")}}, a.Qkv, rows, {{p.D}}, {{3 * p.D}});
                    _b.Attention(a.Qkv, a.Probs, a.Att, samples, tokens, {{p.H}}, {{p.Dh}}, {{Scale(p)}});
                }

                /// <summary>x (samples, tokens, {{p.D}}) -> y; xmid receives the stream after the attention residual (may equal x, y in eval).</summary>
                private void BlockForward(long pw, {{Ptr}} x, {{Ptr}} xmid, {{Ptr}} y, in BlockActs a, int samples, int tokens, {{Ptr}} dropPath1, {{Ptr}} dropPath2)
                {
                    var _b = _core.Backend;
                    {{Ptr}} P = _core.Parameters.Ptr;
                    int rows = samples * tokens;
                    AttendAll(pw, x, a, samples, tokens);
                    _b.Linear(a.Att, P + (pw + L_attn_proj_weight), P + (pw + L_attn_proj_bias), a.Branch, rows, {{p.D}}, {{p.D}});
                    _b.Residual(x, a.Branch, dropPath1, xmid, samples, (long)tokens * {{p.D}});
                    _b.LayerNorm(xmid, P + (pw + L_norm2_weight), P + (pw + L_norm2_bias), a.Ln2, a.Mean2, a.Rstd2, rows, {{p.D}}, {{Eps(p)}});
                    _b.Linear(a.Ln2, P + (pw + L_mlp_fc1_weight), P + (pw + L_mlp_fc1_bias), a.H, rows, {{p.D}}, {{p.Hd}});
                    _b.Gelu(a.H, a.G, (long)rows * {{p.Hd}});
                    _b.Linear(a.G, P + (pw + L_mlp_fc2_weight), P + (pw + L_mlp_fc2_bias), a.Branch, rows, {{p.Hd}}, {{p.D}});
                    _b.Residual(xmid, a.Branch, dropPath2, y, samples, (long)tokens * {{p.D}});
                }

                /// <summary>
                /// Eval only, for a block whose output is read at token 0 alone (b1, b2, or the last block without JPM):
                /// LayerNorm, qkv and attention over every token (token 0 attends to all keys and values), then the
                /// projection, residuals and MLP on token 0 only; y0 receives (samples, {{p.D}}).
                /// </summary>
                private void HeadBlockEval(long pw, {{Ptr}} x, in BlockActs a, {{Ptr}} att0, {{Ptr}} ln0, {{Ptr}} h0, {{Ptr}} y0, int samples, int tokens)
                {
                    var _b = _core.Backend;
                    {{Ptr}} P = _core.Parameters.Ptr;
                    AttendAll(pw, x, a, samples, tokens);
                    _b.CopyRows(a.Att, (long)tokens * {{p.D}}, att0, {{p.D}}L, samples, {{p.D}}, 1f, false);
                    _b.CopyRows(x, (long)tokens * {{p.D}}, y0, {{p.D}}L, samples, {{p.D}}, 1f, false);
                    _b.Linear(att0, P + (pw + L_attn_proj_weight), P + (pw + L_attn_proj_bias), a.Branch, samples, {{p.D}}, {{p.D}});
                    _b.Residual(y0, a.Branch, {{NullPtr}}, y0, samples, {{p.D}}L);
                    _b.LayerNorm(y0, P + (pw + L_norm2_weight), P + (pw + L_norm2_bias), ln0, a.Mean2, a.Rstd2, samples, {{p.D}}, {{Eps(p)}});
                    _b.Linear(ln0, P + (pw + L_mlp_fc1_weight), P + (pw + L_mlp_fc1_bias), h0, samples, {{p.D}}, {{p.Hd}});
                    _b.Gelu(h0, h0, (long)samples * {{p.Hd}});
                    _b.Linear(h0, P + (pw + L_mlp_fc2_weight), P + (pw + L_mlp_fc2_bias), a.Branch, samples, {{p.Hd}}, {{p.D}});
                    _b.Residual(y0, a.Branch, {{NullPtr}}, y0, samples, {{p.D}}L);
                }

                /// <summary>Backward of <see cref="BlockForward"/>: grad holds dL/dy on entry and dL/dx on return; parameter gradients accumulate.</summary>
                private void BlockBackward(long pw, {{Ptr}} x, {{Ptr}} xmid, in BlockActs a, in BlockScratch s, {{Ptr}} grad, int samples, int tokens, {{Ptr}} dropPath1, {{Ptr}} dropPath2)
                {
                    var _b = _core.Backend;
                    {{Ptr}} P = _core.Parameters.Ptr;
                    {{Ptr}} G = _core.Gradients.Ptr;
                    int rows = samples * tokens;
                    long rowLength = (long)tokens * {{p.D}};
                    {{Ptr}} dy = grad;
                    if (!dropPath2.IsNull)
                    {
                        _b.ScaleRows(grad, dropPath2, s.DBranch, samples, rowLength);
                        dy = s.DBranch;
                    }

                    _b.LinearBackward(dy, a.G, P + (pw + L_mlp_fc2_weight), s.TmpH, G + (pw + L_mlp_fc2_weight), G + (pw + L_mlp_fc2_bias), rows, {{p.Hd}}, {{p.D}}, false);
                    _b.GeluBackward(s.TmpH, a.H, s.TmpH, (long)rows * {{p.Hd}});
                    _b.LinearBackward(s.TmpH, a.Ln2, P + (pw + L_mlp_fc1_weight), s.TmpD, G + (pw + L_mlp_fc1_weight), G + (pw + L_mlp_fc1_bias), rows, {{p.D}}, {{p.Hd}}, false);
                    _b.LayerNormBackward(s.TmpD, xmid, P + (pw + L_norm2_weight), a.Mean2, a.Rstd2, grad, G + (pw + L_norm2_weight), G + (pw + L_norm2_bias), rows, {{p.D}}, true);
                    dy = grad;
                    if (!dropPath1.IsNull)
                    {
                        _b.ScaleRows(grad, dropPath1, s.DBranch, samples, rowLength);
                        dy = s.DBranch;
                    }

                    _b.LinearBackward(dy, a.Att, P + (pw + L_attn_proj_weight), s.TmpD2, G + (pw + L_attn_proj_weight), G + (pw + L_attn_proj_bias), rows, {{p.D}}, {{p.D}}, false);
                    _b.AttentionBackward(s.TmpD2, a.Qkv, a.Probs, s.Tmp3D, s.AttScratch, samples, tokens, {{p.H}}, {{p.Dh}}, {{Scale(p)}});
                    _b.LinearBackward(s.Tmp3D, a.Ln1, P + (pw + L_attn_qkv_weight), s.TmpD, G + (pw + L_attn_qkv_weight), {{qkvBias("G")}}, rows, {{p.D}}, {{3 * p.D}}, false);
                    _b.LayerNormBackward(s.TmpD, x, P + (pw + L_norm1_weight), a.Mean1, a.Rstd1, grad, G + (pw + L_norm1_weight), G + (pw + L_norm1_bias), rows, {{p.D}}, true);
                }
                """);
        }
    }
}
