using System;
using System.Collections.Generic;
using TransReID.Generators.Emit;

namespace TransReID.Generators;

public sealed partial class TransReIDGenerator
{
    internal static partial class Emitter
    {
        private const string Onnx = "global::TransReID.Runtime.Onnx";

        /// <summary>
        /// ExportOnnx: the same eval schedule as <see cref="EmitEmbed"/>, op for op, as calls on the runtime's ONNX graph
        /// builder. Each arena buffer of Embed becomes a graph value; a buffer that holds several branches (tok, feat) is
        /// one value per group of branches the schedule writes together.
        /// </summary>
        private static void EmitExportOnnx(SourceWriter w, ModelPlan p)
        {
            w.Line("// ---- ONNX export: the Embed schedule above, op for op, as an ONNX graph with the weights as initializers ----");
            w.Line("/// <summary>");
            w.Line("/// Writes this model as an ONNX file (opset 17 by default): input <c>images</c> (N, 3, H, W) float32"
                + (p.SieRows > 0 ? "," : ";"));
            if (p.SieRows > 0) w.Line("/// the side information <c>cameras</c>/<c>views</c> int64 (N) that the model uses, unless fixed in the options;");
            w.Line($"/// output <c>features</c> (N, {p.FeatureDim}), what <c>Embed</c> returns for the same inputs.");
            w.Line("/// </summary>");
            using (w.Block($"public void ExportOnnx(string path, {Onnx}.OnnxExportOptions? options = null)"))
            {
                w.Line("global::System.ArgumentNullException.ThrowIfNull(path);");
                w.Line($"var g = new {Onnx}.OnnxGraphBuilder(");
                w.Line($"    ModelInfo, _core.ReadParameter, options ?? new {Onnx}.OnnxExportOptions());");
                // the graph value of each (buffer, first branch) the schedule has written
                var values = new Dictionary<string, string>(StringComparer.Ordinal);
                var columns = new List<string>();
                foreach (var op in p.EvalOps) EmitOnnxOp(w, p, op, values, columns);
            }

            w.Line();
        }

        private static void EmitOnnxOp(SourceWriter w, ModelPlan p, EvalOp op, Dictionary<string, string> values, List<string> columns)
        {
            var s = p.Spec;
            // a value is keyed "buffer/branch", or "buffer/parts" for the (K·N, D) rows of all parts together
            string Value(string buffer, int branch)
            {
                // a branch of a value that holds the K part rows (K·N, D): its rows for part branch − first
                if (values.TryGetValue($"{buffer}/{branch}", out var v)) return v;
                if (branch >= 1 && values.TryGetValue($"{buffer}/parts", out var partRows))
                {
                    string name = $"{buffer}{branch}";
                    w.Line($"var {name} = g.Branch({partRows}, {branch - 1}, JpmParts);");
                    values[$"{buffer}/{branch}"] = name;
                    return name;
                }

                throw new InvalidOperationException($"no ONNX value for {buffer} branch {branch}");
            }

            void Define(string key, string name, string expression)
            {
                w.Line($"var {name} = {expression};");
                values[key] = name;
            }

            switch (op)
            {
                case UploadOp { Buffer: "input" }:
                    w.Line("// inputs");
                    Define("input/0", "input", "g.Images()");
                    break;
                case UploadOp:
                    Define("sieIndex/0", "sieIndex", "g.SieIndex()");
                    break;
                case PatchEmbedOp:
                    w.Line($"// patch embedding (Conv, stride ({s.StrideY}, {s.StrideX})) -> (N, {p.N}, {p.D})");
                    Define("patches/0", "patches",
                        "g.PatchEmbed(input, \"base.patch_embed.proj.weight\", \"base.patch_embed.proj.bias\", PatchSize, StrideY, StrideX)");
                    break;
                case TokenEmbedOp t:
                    w.Line($"// + cls, pos{(t.Sie ? ", λ · sie[index]" : "")} -> (N, {p.T}, {p.D})");
                    string sie = t.Sie ? "\"base.sie_embed\", sieIndex" : "null, null";
                    Define("x/0", "x", $"g.TokenEmbed(patches, \"base.cls_token\", \"base.pos_embed\", {sie}, {F(s.SieCoefficient)})");
                    break;
                case BlocksOp { Count: 0 }:
                    break;
                case BlocksOp blocks:
                    w.Line($"// backbone: blocks 0..{blocks.Count - 1}");
                    w.Nested($"for (int l = 0; l < {blocks.Count}; l++)", $"x = g.Block($\"base.blocks.{{l}}.\", x, Heads, {Eps(p)}, QkvBias);");
                    break;
                case HeadBlockOp head:
                    w.Line($"// {HeadName(head)}: token 0 only{(head.Parts == 1 ? "" : $", rows (part, N) of the {p.K} parts")}");
                    Define(head.Branch == 0 ? "tok/0" : "tok/parts", head.Branch == 0 ? "tok" : "tokParts",
                        $"g.HeadBlock({Q(head.Prefix)}, {values[head.Input + "/0"]}, Heads, {Eps(p)}, QkvBias)");
                    break;
                case NormOp norm:
                    Define(norm.Branch == 0 ? "feat/0" : "feat/parts", norm.Branch == 0 ? "feat" : "featParts",
                        $"g.LayerNorm({values[norm.Branch == 0 ? "tok/0" : "tok/parts"]}, {Q(norm.Prefix + "weight")}, {Q(norm.Prefix + "bias")}, {Eps(p)})");
                    break;
                case JpmOp:
                    w.Line($"// JPM: constant-index Gather -> ({p.K}·N, {p.Tp}, {p.D})");
                    Define("parts/0", "parts", "g.JpmParts(x, JpmParts, PartLength, JpmShift, JpmShuffleGroups, JpmRearrange)");
                    break;
                case NeckOp neck:
                    if (neck.Branch == 0) w.Line("// BNNecks with running statistics");
                    string feat = Value("feat", neck.Branch);
                    Define($"bnout/{neck.Branch}", "bn" + neck.Branch, $"g.BatchNormEval({feat}, {Q(neck.Prefix)}, 1E-05f)");
                    break;
                case OutputOp o:
                    if (o.Branch == 0) w.Line($"// output (N, {p.FeatureDim}): global{(s.Jpm ? $", then parts / {p.K}" : "")}");
                    string src = Value(o.Source, o.Branch);
                    if (o.Scale == 1.0)
                    {
                        columns.Add(src);
                    }
                    else
                    {
                        string name = $"out{o.Branch}";
                        w.Line($"var {name} = g.Scale({src}, {F(o.Scale)});");
                        columns.Add(name);
                    }

                    break;
                case DownloadOp:
                    w.Line($"g.Features({string.Join(", ", columns)});");
                    w.Line("g.Save(path);");
                    break;
                default:
                    throw new InvalidOperationException("no ONNX emission for " + op.GetType().Name);
            }
        }
    }
}
