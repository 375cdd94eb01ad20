using System;
using System.Collections.Generic;
using System.Linq;
using TransReID.Generators.Emit;
using TransReID.Generators.Model;

namespace TransReID.Generators.Tests;

/// <summary>
/// The planner on its own, from specs built by hand (no Roslyn): the arenas' buffers are aligned and no two that are
/// live at the same step share memory, every op of the Embed schedule finds its buffers live, the parameter table is
/// aligned, disjoint and in the official order, and the training layout (slots, stochastic depth, BNNeck saves) fits.
/// </summary>
public class PlannerTests
{
    internal static ModelSpec Spec(Func<ModelSpec, ModelSpec>? edit = null)
    {
        var spec = new ModelSpec
        {
            Namespace = "N",
            ClassName = "M",
            ContainingTypes = new EquatableArray<ContainingType>(Array.Empty<ContainingType>()),
            ImageHeight = ModelDefaults.ImageHeight,
            ImageWidth = ModelDefaults.ImageWidth,
            PatchSize = ModelDefaults.PatchSize,
            StrideY = ModelDefaults.StrideY,
            StrideX = ModelDefaults.StrideX,
            Depth = ModelDefaults.Depth,
            EmbedDim = ModelDefaults.EmbedDim,
            Heads = ModelDefaults.Heads,
            MlpRatio = ModelDefaults.MlpRatio,
            QkvBias = ModelDefaults.QkvBias,
            LayerNormEps = ModelDefaults.LayerNormEps,
            Cameras = ModelDefaults.Cameras,
            Views = ModelDefaults.Views,
            SieCoefficient = ModelDefaults.SieCoefficient,
            Jpm = ModelDefaults.Jpm,
            JpmParts = ModelDefaults.JpmParts,
            JpmShift = ModelDefaults.JpmShift,
            JpmShuffleGroups = ModelDefaults.JpmShuffleGroups,
            JpmRearrange = ModelDefaults.JpmRearrange,
            Classes = 10,
            NeckFeature = ModelDefaults.NeckFeature,
            PixelMean = new EquatableArray<double>(new[] { 0.5, 0.5, 0.5 }),
            PixelStd = new EquatableArray<double>(new[] { 0.5, 0.5, 0.5 }),
        };
        return edit is null ? spec : edit(spec);
    }

    public static TheoryData<string> Cases => new(Plans.Keys);

    private static readonly Dictionary<string, ModelPlan> Plans = new(StringComparer.Ordinal)
    {
        ["Market stride, SIE, JPM"] = new(Spec(s => s with { StrideY = 12, StrideX = 12, Cameras = 6, Classes = 751 })),
        ["ViT-B, no JPM"] = new(Spec(s => s with { Jpm = false, Classes = 751 })),
        ["small, cameras and views, neck after"] = new(Spec(s => s with { EmbedDim = 64, Heads = 4, Depth = 3, Cameras = 4, Views = 3, NeckFeature = 1 })),
        ["Depth 1 with JPM"] = new(Spec(s => s with { EmbedDim = 32, Heads = 2, Depth = 1 })),
        ["Depth 1 without JPM"] = new(Spec(s => s with { EmbedDim = 32, Heads = 2, Depth = 1, Jpm = false })),
        ["one part, fractional MLP, no qkv bias"] = new(Spec(s => s with { EmbedDim = 48, Heads = 3, Depth = 2, JpmParts = 1, MlpRatio = 2.5, QkvBias = false })),
        ["single patch"] = new(Spec(s => s with { ImageHeight = 16, ImageWidth = 16, EmbedDim = 32, Heads = 2, Depth = 2, Jpm = false })),
    };

    private static IEnumerable<ArenaPlan> Arenas(ModelPlan p) => new[] { p.Eval, p.Train };

    /// <summary>
    /// Embed's MLP hidden row stride: a whole number of 64-byte lines from the width on, padded only where 14
    /// consecutive rows would put more than 4 in one L1d set (ViT-B's 3072 all in one; 1024 and 2048 too).
    /// </summary>
    [Theory]
    [InlineData(3072, 3088)]
    [InlineData(2048, 2064)]
    [InlineData(1024, 1040)]
    [InlineData(768, 768)]
    [InlineData(64, 64)]
    [InlineData(120, 128)]
    [InlineData(1, 16)]
    public void The_hidden_row_stride_spreads_the_rows_over_the_cache_sets(int hidden, int stride) =>
        Assert.Equal(stride, ModelPlan.HiddenRowStride(hidden));

    /// <summary>The ViT-B plan pads its 3072-wide MLP hidden rows to 3088 floats for Embed.</summary>
    [Fact]
    public void The_ViT_B_plan_pads_its_hidden_rows()
    {
        var plan = new ModelPlan(Spec(s => s with { StrideY = 12, StrideX = 12 }));
        Assert.Equal(3088, plan.Hs);
        Assert.Equal(3072, plan.Hd);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Arena_buffers_are_aligned_and_inside_their_part(string name)
    {
        foreach (var arena in Arenas(Plans[name]))
        {
            foreach (var buffer in arena.Buffers)
            {
                Assert.True(buffer.Offset % ModelPlan.Align == 0, $"{arena.Name}.{buffer.Name} at {buffer.Offset} is not 64-byte aligned");
                long end = buffer.Offset + buffer.Size;
                Assert.True(end <= (buffer.IsFixed ? arena.FixedSize : arena.PerSample), $"{arena.Name}.{buffer.Name} ends at {end}, past its part");
            }

            Assert.Equal(0, arena.FixedSize % ModelPlan.Align);
            Assert.Equal(0, arena.PerSample % ModelPlan.Align);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void No_two_live_buffers_share_memory(string name)
    {
        foreach (var arena in Arenas(Plans[name]))
        {
            var buffers = arena.Buffers;
            for (int i = 0; i < buffers.Count; i++)
            {
                for (int j = i + 1; j < buffers.Count; j++)
                {
                    var (a, b) = (buffers[i], buffers[j]);
                    if (a.IsFixed != b.IsFixed || !a.LiveWith(b)) continue;
                    bool disjoint = a.Offset + a.Size <= b.Offset || b.Offset + b.Size <= a.Offset;
                    Assert.True(disjoint, $"{arena.Name}: {a.Name} [{a.Offset}, +{a.Size}) and {b.Name} [{b.Offset}, +{b.Size}) are live together and overlap");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Every_op_of_Embed_finds_its_buffers_live(string name)
    {
        var p = Plans[name];
        for (int step = 0; step < p.EvalOps.Count; step++)
        {
            foreach (var buffer in p.EvalOps[step].Buffers)
            {
                var b = p.Eval[buffer];
                Assert.InRange(step, b.FirstUse, b.LastUse);
            }
        }

        // every buffer of the Embed arena is used by some op, and the schedule starts and ends on the host copies
        Assert.All(p.Eval.Buffers, b => Assert.Contains(p.EvalOps, op => op.Buffers.Contains(b.Name)));
        Assert.IsType<UploadOp>(p.EvalOps[0]);
        Assert.IsType<DownloadOp>(p.EvalOps[^1]);
    }

    [Fact]
    public void Embed_reuses_the_memory_of_dead_buffers()
    {
        var p = Plans["Market stride, SIE, JPM"];
        long unshared = p.Eval.Buffers.Sum(b => ModelPlan.Pad(b.Size));
        Assert.True(p.Eval.PerSample < unshared, $"no reuse: {p.Eval.PerSample} floats per sample, {unshared} without reuse");

        // cols dies after the patch embedding: the LayerNorm buffer of the blocks takes its place at offset 0
        Assert.Equal(0, p.Eval["input"].Offset);
        Assert.True(p.Eval["ln"].Offset < p.Eval["cols"].Offset + p.Eval["cols"].Size);
        Assert.False(p.Eval["ln"].LiveWith(p.Eval["cols"]));
    }

    [Fact]
    public void First_fit_fills_the_gap_a_dead_buffer_leaves()
    {
        var arena = new ArenaPlan("Test", new[] { "0", "1", "2" });
        var a = arena.Sample("a", 100, 0, 0, "");
        var b = arena.Sample("b", 20, 0, 2, "");
        var c = arena.Sample("c", 90, 1, 2, "");   // a is dead at step 1: c fits into its place
        var d = arena.Sample("d", 200, 1, 1, "");  // does not fit below b: goes after c and b
        Assert.Equal(0, a.Offset);
        Assert.Equal(112, b.Offset);               // after a, padded to 16 floats
        Assert.Equal(0, c.Offset);
        Assert.Equal(144, d.Offset);               // b ends at 112 + 32
        Assert.Equal(144 + 208, arena.PerSample);
        Assert.Throws<ArgumentException>(() => arena.Sample("a", 1, 0, 0, ""));
        Assert.Throws<ArgumentException>(() => arena.Sample("e", 1, 2, 1, ""));
        Assert.Throws<ArgumentOutOfRangeException>(() => arena.Sample("f", 0, 0, 0, ""));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Parameter_table_is_aligned_disjoint_and_in_order(string name)
    {
        var p = Plans[name];
        long next = 0;
        foreach (var t in p.Tensors)
        {
            Assert.Equal(0, t.Offset % ModelPlan.Align);
            Assert.True(t.Offset >= next, $"{t.Name} at {t.Offset} overlaps the tensor before (ends {next})");
            Assert.Equal(t.Shape.Aggregate(1L, (x, y) => x * y), t.Count);
            next = t.Offset + t.Count;
        }

        Assert.Equal(ModelPlan.Pad(next), p.BufferLength);
        Assert.Equal("base.cls_token", p.Tensors[0].Name);
        Assert.Equal(0, p.Offsets["base.cls_token"]);
        Assert.Equal(ModelPlan.Pad(p.D), p.Offsets["base.pos_embed"]);

        // block tensors: base + index · stride + local offset
        for (int i = 0; i < p.Spec.Depth; i++)
        {
            foreach (var (local, offset) in p.BlockLocal)
                Assert.Equal(p.Offsets["blocks"] + i * p.BlockStride + offset, p.Offsets[$"base.blocks.{i}.{local}"]);
        }

        Assert.Equal(p.Spec.QkvBias, p.BlockLocal.ContainsKey("attn.qkv.bias"));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Training_layout_fits(string name)
    {
        var p = Plans[name];

        // block slots: fields in order, disjoint, the slot size their padded sum
        foreach (var slot in new[] { p.BlockSlot, p.PartSlot }.OfType<SlotLayout>())
        {
            long next = 0;
            foreach (var f in slot.Fields)
            {
                Assert.Equal(next, f.Offset);
                next += ModelPlan.Pad(f.Size);
            }

            Assert.Equal(next, slot.Size);
        }

        Assert.Equal(p.Spec.Jpm, p.PartSlot is not null);

        // stochastic depth: two entries per backbone block (+ b1, b2), contiguous, rates of the right blocks
        Assert.Equal(2 * p.BackboneBlocks + (p.Spec.Jpm ? 4 : 0), p.DropPath.Count);
        long at = 0;
        foreach (var e in p.DropPath)
        {
            Assert.Equal(at, e.Offset);
            at += e.Samples;
        }

        Assert.Equal(at, p.DropPathPerSample);
        Assert.Equal(p.DropPathPerSample, p.Train["dropPathScales"].Size);
        for (int l = 0; l < p.BackboneBlocks; l++) Assert.Equal(l, p.DropPath[2 * l + 1].Block);
        if (p.Spec.Jpm) Assert.Equal(p.K, p.DropPath[^1].Samples);

        // BNNeck saves: running_mean, padding, running_var, one stride per branch, inside bnSaved
        Assert.Equal(p.Branches, p.BatchNormSaves.Count);
        foreach (var save in p.BatchNormSaves)
        {
            Assert.Equal(save.Branch * p.BatchNormSaveStride, save.Offset);
            Assert.Equal(p.Offsets[save.Prefix + ".running_var"] + p.D, p.Offsets[save.Prefix + ".running_mean"] + save.Count);
            Assert.True(save.Offset + save.Count <= p.Train["bnSaved"].Size);
        }

        // the stream holds x0..x_nb and each backbone block has a slot
        Assert.Equal((p.BackboneBlocks + 1) * p.StreamStride, p.Train["stream"].Size);
        Assert.Equal(p.BackboneBlocks > 0, p.Train.Has("blockActs"));
    }

    [Fact]
    public void Schedule_of_the_JPM_model_is_the_official_eval_order()
    {
        var p = Plans["Market stride, SIE, JPM"];
        var kinds = p.EvalOps.Select(o => o switch
        {
            UploadOp u => "Upload " + u.Buffer,
            HeadBlockOp h => "HeadBlock " + h.Prefix,
            NormOp n => "Norm " + n.Prefix,
            BlocksOp b => "Blocks " + b.Count,
            OutputOp o2 => $"Output {o2.Branch} x{o2.Scale}",
            _ => o.GetType().Name,
        }).ToArray();
        Assert.Equal(new[]
        {
            "Upload input", "Upload sieIndex", "PatchEmbedOp", "TokenEmbedOp", "Blocks 11", "HeadBlock b1.0.", "Norm b1.1.", "JpmOp",
            "HeadBlock b2.0.", "Norm b2.1.", "Output 0 x1", "Output 1 x0.25", "Output 2 x0.25", "Output 3 x0.25", "Output 4 x0.25",
            "DownloadOp",
        }, kinds);
    }
}
