using System.Collections.Generic;
using System.Linq;
using TransReID.Runtime.Model;
using TransReID.Runtime.Onnx;
using TransReID.Shapes;

namespace TransReID.Tests.Onnx;

/// <summary>
/// The builder calls the generated <c>ExportOnnx</c> will make, in the order of <c>Embed</c> (stand-in until the
/// generator emits it; then the tests call <c>model.ExportOnnx</c> and this goes).
/// </summary>
internal static class OnnxExportSequence
{
    public static void Export(ITransReIDModel model, string path, OnnxExportOptions? options = null, float layerNormEps = 1e-6f)
    {
        var info = model.Info;
        bool qkvBias = model.ParameterTable.Any(p => p.Name == "base.blocks.0.attn.qkv.bias");
        var b = new OnnxGraphBuilder(info, model.Parameter, options ?? new OnnxExportOptions());
        int heads = info.Heads;
        float eps = layerNormEps;

        var images = b.Images();
        var sie = b.SieIndex();
        var patches = b.PatchEmbed(images, "base.patch_embed.proj.weight", "base.patch_embed.proj.bias", info.PatchSize, info.StrideY, info.StrideX);
        var x = b.TokenEmbed(patches, "base.cls_token", "base.pos_embed", info.SieRows > 0 ? "base.sie_embed" : null, sie, (float)info.SieCoefficient);
        for (int l = 0; l < info.Depth - 1; l++) x = b.Block($"base.blocks.{l}.", x, heads, eps, qkvBias);

        var branches = new List<OnnxValue>();
        if (info.Jpm)
        {
            var global = b.HeadBlock("b1.0.", x, heads, eps, qkvBias);
            branches.Add(b.LayerNorm(global, "b1.1.weight", "b1.1.bias", eps));
            int patchCount = info.TokenCount - 1;
            var parts = b.JpmParts(x, info.JpmParts, ShapeMath.PartLength(patchCount, info.JpmParts), info.JpmShift, info.JpmShuffleGroups, info.JpmRearrange);
            var partFeatures = b.HeadBlock("b2.0.", parts, heads, eps, qkvBias);
            partFeatures = b.LayerNorm(partFeatures, "b2.1.weight", "b2.1.bias", eps);
            for (int k = 0; k < info.JpmParts; k++) branches.Add(b.Branch(partFeatures, k, info.JpmParts));
        }
        else
        {
            var last = b.HeadBlock($"base.blocks.{info.Depth - 1}.", x, heads, eps, qkvBias);
            branches.Add(b.LayerNorm(last, "base.norm.weight", "base.norm.bias", eps));
        }

        if (info.NeckFeature == NeckFeature.After)
        {
            for (int i = 0; i < branches.Count; i++) branches[i] = b.BatchNormEval(branches[i], i == 0 ? "bottleneck" : $"bottleneck_{i}", 1e-5f);
        }

        var columns = new List<OnnxValue> { branches[0] };
        for (int k = 1; k < branches.Count; k++) columns.Add(b.Scale(branches[k], 1f / info.JpmParts));
        b.Features([.. columns]);
        b.Save(path);
    }
}
