using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using TransReID.Generators.Emit;

namespace TransReID.Generators;

public sealed partial class TransReIDGenerator
{
    internal static partial class Emitter
    {
        /// <summary>The model's numbers as public constants.</summary>
        private static void EmitConstants(SourceWriter w, ModelPlan p)
        {
            var s = p.Spec;
            w.Line($"// ---- the model's numbers ({ModelReference}) ----");
            w.Line($"public const int ImageHeight = {s.ImageHeight};");
            w.Line($"public const int ImageWidth = {s.ImageWidth};");
            w.Line($"public const int PatchSize = {s.PatchSize};");
            w.Line($"public const int StrideY = {s.StrideY};");
            w.Line($"public const int StrideX = {s.StrideX};");
            w.Line($"public const int Depth = {s.Depth};");
            w.Line($"public const int EmbedDim = {s.EmbedDim};");
            w.Line($"public const int Heads = {s.Heads};");
            w.Line($"public const int HeadDim = {p.Dh};");
            w.Line($"public const double MlpRatio = {D(s.MlpRatio)};");
            w.Line($"public const int MlpHidden = {p.Hd};");
            w.Line(p.Hs == p.Hd
                ? "/// <summary>Floats between the rows of Embed's MLP hidden buffer: MlpHidden (its rows already spread over the CPU's L1d sets).</summary>"
                : $"/// <summary>Floats between the rows of Embed's MLP hidden buffer: MlpHidden and {p.Hs - p.Hd} more, so that the CPU reads the rows in place.</summary>");
            w.Line($"public const int EmbedHiddenStride = {p.Hs};");
            w.Line($"public const bool QkvBias = {B(s.QkvBias)};");
            w.Line($"public const double LayerNormEps = {D(s.LayerNormEps)};");
            w.Line($"public const int Cameras = {s.Cameras};");
            w.Line($"public const int Views = {s.Views};");
            w.Line($"public const int SieRows = {p.SieRows};");
            w.Line($"public const double SieCoefficient = {D(s.SieCoefficient)};");
            w.Line($"public const bool Jpm = {B(s.Jpm)};");
            w.Line($"public const int JpmParts = {p.K};");
            w.Line($"public const int JpmShift = {s.JpmShift};");
            w.Line($"public const int JpmShuffleGroups = {s.JpmShuffleGroups};");
            w.Line($"public const bool JpmRearrange = {B(s.JpmRearrange)};");
            w.Line($"public const int Classes = {s.Classes};");
            w.Line($"public const global::TransReID.NeckFeature NeckFeature = global::TransReID.NeckFeature.{(s.NeckFeature == 1 ? "After" : "Before")};");
            w.Line("/// <summary>Input normalisation <c>(x/255 − mean)/std</c> per channel R, G, B (INPUT.PIXEL_MEAN, PIXEL_STD).</summary>");
            w.Line($"public const float PixelMeanR = {F(s.PixelMean[0])}, PixelMeanG = {F(s.PixelMean[1])}, PixelMeanB = {F(s.PixelMean[2])};");
            w.Line($"public const float PixelStdR = {F(s.PixelStd[0])}, PixelStdG = {F(s.PixelStd[1])}, PixelStdB = {F(s.PixelStd[2])};");
            w.Line($"public const int PatchGridY = {p.GridY};");
            w.Line($"public const int PatchGridX = {p.GridX};");
            w.Line($"public const int PatchCount = {p.N};");
            w.Line($"public const int TokenCount = {p.T};");
            w.Line($"public const int PartLength = {p.L};");
            w.Line("/// <summary>Tokens of one JPM part: its patches and the cls token.</summary>");
            w.Line($"public const int PartTokens = {p.Tp};");
            w.Line("/// <summary>Blocks run on the whole token stream (with JPM the last block is copied into b1 and b2 instead).</summary>");
            w.Line($"public const int BackboneBlocks = {p.BackboneBlocks};");
            w.Line($"public const int FeatureDim = {p.FeatureDim};");
            w.Line("/// <summary>BNNeck/classifier branches: the global one, then one per JPM part.</summary>");
            w.Line($"public const int Branches = {p.Branches};");
            w.Line($"public const int ImageFloats = {3L * s.ImageHeight * s.ImageWidth};");
            w.Line("/// <summary>Parameters in the official state dict (BatchNorm running statistics excluded).</summary>");
            w.Line($"public const long ParameterCount = {L(p.ParameterCount)};");
            w.Line("/// <summary>Parameters the optimiser updates.</summary>");
            w.Line($"public const long TrainableParameterCount = {L(p.TrainableCount)};");
            w.Line("/// <summary>Floats of the flat parameter buffer (running statistics and 64-byte padding included).</summary>");
            w.Line($"public const long ParameterBufferLength = {L(p.BufferLength)};");
            w.Line();
            w.Line("/// <summary>Floats of the activation arena that <c>Embed</c> uses for a batch.</summary>");
            w.Line("public static long EmbedArenaFloats(int batch) => EmbedArena.Fixed + EmbedArena.PerSample * batch;");
            w.Line("/// <summary>Floats of the activation arena of a training step (the triplet scratch grows with batch²).</summary>");
            w.Line("public static long TrainArenaFloats(int batch) =>");
            w.Line("    TrainArena.Fixed + TrainArena.PerSample * batch + (long)batch * batch + 4L * batch;");
            w.Line();
            w.Line($"private static readonly {Ptr} {None} = {Ptr}.Null;");
            w.Line();
        }

        /// <summary>The parameter table, the names the runtime needs, the kernel constants and the parameter offsets.</summary>
        private static void EmitParameterTable(SourceWriter w, ModelPlan p)
        {
            w.Line("// ---- parameter table: official checkpoint names, shapes, offsets into the flat buffer ----");
            w.Line("// columns: name, shape, offset, floats, flags, initialisation, fan-in, index of the tensor it copies (-1: none)");
            foreach (var f in p.Tensors.Select(t => t.Flags).Distinct())
            {
                string value = string.Join(" | ", f.Split('|').Select(x => $"{Rt}.ParameterFlags.{x}"));
                w.Line($"private const {Rt}.ParameterFlags Flags{f.Replace("|", "")} =");
                w.Line($"    {value};");
            }

            foreach (var i in p.Tensors.Select(t => t.Init).Distinct()) w.Lines($"private const {Rt}.InitKind Init{i} =\n    {Rt}.InitKind.{i};");
            w.Line();
            using (w.Block($"private static readonly {Rt}.ParameterInfo[] s_parameters =", ";"))
            {
                foreach (var t in p.Tensors)
                {
                    w.Line($"new({Q(t.Name)}, {Arr(t.Shape)}, {L(t.Offset)}, {L(t.Count)}, Flags{t.Flags.Replace("|", "")}, Init{t.Init}, {L(t.FanIn)}, {t.CopySource}),");
                }
            }

            w.Line();
            w.Line("private static readonly string[] s_batchNorms = { " + string.Join(", ", p.BatchNorms.Select(Q)) + " };");
            w.Line("/// <summary>Loss components as <see cref=\"ComputeGradients\"/> reads them: ID per branch, then triplet per branch.</summary>");
            using (w.Block("private static readonly string[] s_lossNames =", ";"))
            {
                foreach (var kind in new[] { "id", "triplet" })
                    w.Line(string.Join(", ", p.BatchNorms.Select(bn => Q(kind + "." + bn.Replace("bottleneck", "branch")))) + ",");
            }

            w.Line();
            w.Line("/// <summary>The numbers the CUDA kernels may be specialised with (#define NAME value).</summary>");
            using (w.Block("private static readonly global::System.Collections.Generic.KeyValuePair<string, long>[] s_kernelConstants =", ";"))
            {
                foreach (var (k, v) in new (string, long)[]
                {
                    ("TOKENS", p.T), ("PATCHES", p.N), ("DIM", p.D), ("HEADS", p.H), ("HEAD_DIM", p.Dh), ("MLP_HIDDEN", p.Hd),
                    ("PARTS", p.K), ("PART_TOKENS", p.Tp), ("CLASSES", p.C), ("FEATURE_DIM", p.FeatureDim), ("GRID_Y", p.GridY),
                    ("GRID_X", p.GridX), ("PATCH", p.Spec.PatchSize), ("STRIDE_Y", p.Spec.StrideY), ("STRIDE_X", p.Spec.StrideX),
                })
                {
                    w.Line($"new({Q(k)}, {L(v)}),");
                }
            }

            w.Line();
            w.Line("/// <summary>Every tensor of the model: official name, shape, offset in the flat buffer, flags.</summary>");
            w.Line($"public static global::System.Collections.Generic.IReadOnlyList<{Rt}.ParameterInfo> Parameters =>");
            w.Line("    s_parameters;");
            w.Line();
            w.Line("// parameter offsets (floats) of the tensors the schedule touches; a block's tensor is at");
            w.Line("// its block's base (O_Blocks + index · BlockStride, O_B1, O_B2) + its block-local offset L_…");
            foreach (var kv in p.Offsets.OrderBy(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal))
            {
                string name = kv.Key;
                if (name.Contains(".blocks.") || name.StartsWith("b1.0.", StringComparison.Ordinal) || name.StartsWith("b2.0.", StringComparison.Ordinal)
                    || name.StartsWith("base.fc", StringComparison.Ordinal)) continue;
                if (name.StartsWith("base.norm", StringComparison.Ordinal) && p.Spec.Jpm) continue;
                string id = name switch { "blocks" => "Blocks", "b1" => "B1", "b2" => "B2", _ => Ident(name) };
                w.Line($"private const long O_{id} = {L(kv.Value)};");
            }

            w.Line($"private const long BlockStride = {L(p.BlockStride)};");
            foreach (var kv in p.BlockLocal.OrderBy(kv => kv.Value)) w.Line($"private const long L_{Ident(kv.Key)} = {L(kv.Value)};");
            w.Line();
        }

        /// <summary>The arenas' size tables (as comments) and offset constants; the block slots; the stochastic-depth table.</summary>
        private static void EmitArenaTables(SourceWriter w, ModelPlan p)
        {
            EmitArena(w, p.Eval, "Embed: buffers are reused once dead; live = the Embed steps that touch the buffer", p);
            EmitArena(w, p.Train, "a training step: live = the phases that use the buffer", p);
            EmitSlot(w, p.BlockSlot, "a backbone block (and b1) keeps for backward", p);
            if (p.PartSlot is { } parts) EmitSlot(w, parts, "b2 keeps for backward, for all parts at once", p);

            w.Line("// ---- stochastic depth: one entry per residual branch, at dropPathScales + Offset · B ----");
            w.Line("// rate of an entry: DropPathRate · Block / (Depth − 1); Block −1 is b1/b2, which take the last block's rate");
            using (w.Block("private static readonly (int Block, int Samples, long Offset)[] s_dropPath =", ";"))
            {
                foreach (var e in p.DropPath) w.Line($"({e.Block}, {e.Samples}, {L(e.Offset)}), // {e.Name}");
            }

            w.Line();
            EmitBranchTable(w, p);
            w.Line("/// <summary>Floats of a BNNeck's running statistics saved per step: running_mean, its padding, running_var.</summary>");
            w.Line($"private const long RunningStatsFloats = {L(p.BatchNormSaves[0].Count)};");
            w.Line("/// <summary>Floats between the saved running statistics of consecutive branches in bnSaved.</summary>");
            w.Line($"private const long RunningStatsStride = {L(p.BatchNormSaveStride)};");
            w.Line();
        }

        private static void EmitArena(SourceWriter w, ArenaPlan a, string what, ModelPlan p)
        {
            var rows = a.Buffers.Select(buf => new[]
            {
                buf.ConstantName, buf.IsFixed ? "fixed" : "per sample", buf.Offset.ToString(CultureInfo.InvariantCulture),
                buf.Size.ToString(CultureInfo.InvariantCulture),
                buf.FirstUse == buf.LastUse ? Step(a, buf.FirstUse) : $"{Step(a, buf.FirstUse)} .. {Step(a, buf.LastUse)}",
                buf.Contents,
            }).ToList();
            var header = new[] { "buffer", "part", "offset", "floats", "live", "contents" };
            var widths = Enumerable.Range(0, header.Length).Select(i => rows.Select(r => r[i].Length).Append(header[i].Length).Max()).ToArray();
            string Row(string[] cells) => string.Join("  ", cells.Select((c, i) => i is 2 or 3 ? c.PadLeft(widths[i]) : c.PadRight(widths[i]))).TrimEnd();

            w.Line($"// ---- activation arena of {what} ----");
            w.Line($"// a buffer is at arena + Offset (fixed part) or arena + {a.Name}Arena.Fixed + Offset · B (per sample), floats per sample");
            if (a.Name == "Embed")
            {
                var steps = a.Steps.Select((s, i) => $"{i} {s}").ToList();
                for (int i = 0; i < steps.Count; i += 8) w.Line((i == 0 ? "// steps: " : "//        ") + string.Join(", ", steps.Skip(i).Take(8)));
            }

            w.Line("// " + Row(header));
            foreach (var r in rows) w.Line("// " + Row(r));
            w.Line($"/// <summary>Offsets (floats) of the {a.Name.ToLowerInvariant()} arena's buffers; see the table above.</summary>");
            using (w.Block($"private static class {a.Name}Arena"))
            {
                w.Line("/// <summary>Floats of the fixed part, which comes first.</summary>");
                w.Line($"internal const long Fixed = {L(a.FixedSize)};");
                w.Line("/// <summary>Floats per sample of the per-sample part.</summary>");
                w.Line($"internal const long PerSample = {L(a.PerSample)};");
                foreach (var buf in a.Buffers) w.Line($"internal const long {buf.ConstantName} = {L(buf.Offset)};");
                if (a.Name == "Train")
                {
                    w.Line("/// <summary>Floats per sample between the token-stream snapshots x0, x1, … in Stream.</summary>");
                    w.Line($"internal const long StreamStride = {L(p.StreamStride)};");
                }
            }

            w.Line();
        }

        private static string Step(ArenaPlan a, int step) => a.Name == "Embed" ? step.ToString(CultureInfo.InvariantCulture) : a.Steps[step];

        private static void EmitSlot(SourceWriter w, SlotLayout slot, string what, ModelPlan p)
        {
            w.Line($"/// <summary>");
            w.Line($"/// What {what}: {slot.Samples}·B sequences of {slot.Tokens} tokens;");
            w.Line("/// each field at slot + Offset · B (floats).");
            w.Line("/// </summary>");
            using (w.Block($"private static class {slot.Name}"))
            {
                foreach (var f in slot.Fields) w.Line($"internal const long {f.Name} = {L(f.Offset)};");
                w.Line("/// <summary>Floats per sample of one slot.</summary>");
                w.Line($"internal const long Size = {L(slot.Size)};");
            }

            w.Line();
        }
    }
}
