using System;
using System.Collections.Generic;
using TransReID.Generators.Model;
using TransReID.Shapes;

namespace TransReID.Generators.Emit;

/// <summary>One tensor of the parameter table as the planner lays it out (offsets in floats, padded to 16).</summary>
internal sealed record PlannedTensor(string Name, long[] Shape, long Offset, long Count, string Flags, string Init, long FanIn, int CopySource);

/// <summary>
/// Everything the emitter needs beyond the spec, computed once: derived dimensions, the parameter table with
/// offsets, block-local offsets, and the activation arenas (offsets are Fixed + PerSample·B, so one plan serves every
/// batch size). Pure arithmetic; no Roslyn types.
/// </summary>
internal sealed class ModelPlan
{
    public const int Align = 16; // floats: 64-byte alignment of every tensor and activation

    public ModelPlan(ModelSpec s)
    {
        Spec = s;
        GridY = ShapeMath.GridSize(s.ImageHeight, s.PatchSize, s.StrideY);
        GridX = ShapeMath.GridSize(s.ImageWidth, s.PatchSize, s.StrideX);
        N = GridY * GridX;
        T = N + 1;
        D = s.EmbedDim;
        H = s.Heads;
        Dh = D / H;
        Hd = (int)(D * s.MlpRatio);
        C = s.Classes;
        SieRows = ShapeMath.SieRows(s.Cameras, s.Views);
        K = s.Jpm ? s.JpmParts : 0;
        L = s.Jpm ? ShapeMath.PartLength(N, K) : 0;
        Tp = L + 1;
        BackboneBlocks = s.Jpm ? s.Depth - 1 : s.Depth;
        FeatureDim = s.Jpm ? D * (1 + K) : D;
        Heads = s.Jpm ? 1 + K : 1;
        Cpp = 3 * s.PatchSize * s.PatchSize;
        RowsPerSample = s.Jpm ? Math.Max(T, K * Tp) : T;
        ProbsPerSample = s.Jpm ? Math.Max((long)H * T * T, (long)K * H * Tp * Tp) : (long)H * T * T;
        BuildParameters();
        BuildArenas();
    }

    public ModelSpec Spec { get; }
    public int GridY { get; }
    public int GridX { get; }
    public int N { get; }
    public int T { get; }
    public int D { get; }
    public int H { get; }
    public int Dh { get; }
    public int Hd { get; }
    public int C { get; }
    public int SieRows { get; }
    public int K { get; }
    public int L { get; }
    public int Tp { get; }
    public int BackboneBlocks { get; }
    public int FeatureDim { get; }
    public int Heads { get; }        // BNNeck/classifier heads: 1 + K with JPM
    public int Cpp { get; }
    public int RowsPerSample { get; }
    public long ProbsPerSample { get; }

    public List<PlannedTensor> Tensors { get; } = new();
    public long BufferLength { get; private set; }
    public long ParameterCount { get; private set; }     // state-dict parameters (buffers excluded), as the spec counts
    public long TrainableCount { get; private set; }
    public Dictionary<string, long> BlockLocal { get; } = new(StringComparer.Ordinal);
    public long BlockStride { get; private set; }
    public Dictionary<string, long> Offsets { get; } = new(StringComparer.Ordinal);
    public List<string> BatchNorms { get; } = new();

    public static long Pad(long n) => (n + Align - 1) / Align * Align;

    private static readonly string[] BlockTensorNames =
    {
        "norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight", "attn.proj.bias",
        "norm2.weight", "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias",
    };

    private long[] BlockShape(string local) => local switch
    {
        "norm1.weight" or "norm1.bias" or "norm2.weight" or "norm2.bias" or "attn.proj.bias" or "mlp.fc2.bias" => new long[] { D },
        "attn.qkv.weight" => new long[] { 3L * D, D },
        "attn.qkv.bias" => new long[] { 3L * D },
        "attn.proj.weight" => new long[] { D, D },
        "mlp.fc1.weight" => new long[] { Hd, D },
        "mlp.fc1.bias" => new long[] { Hd },
        "mlp.fc2.weight" => new long[] { D, Hd },
        _ => throw new ArgumentException(local),
    };

    private static string BlockInit(string local) => local switch
    {
        "norm1.weight" or "norm2.weight" => "Ones",
        _ when local.EndsWith(".bias", StringComparison.Ordinal) => "Zeros",
        _ => "TruncNormal002",
    };

    private void BuildParameters()
    {
        long offset = 0;
        var index = new Dictionary<string, int>(StringComparer.Ordinal);

        void Add(string name, long[] shape, string flags, string init, long fanIn = 0, string? copyOf = null)
        {
            long count = 1;
            foreach (var d in shape) count *= d;
            bool bias = name.Contains("bias");
            string f = flags;
            if (bias && !f.Contains("Bias")) f += "|Bias";
            index[name] = Tensors.Count;
            Tensors.Add(new PlannedTensor(name, shape, offset, count, f, init, fanIn, copyOf is null ? -1 : index[copyOf]));
            Offsets[name] = offset;
            if (!f.Contains("Buffer")) ParameterCount += count;
            if (f.Contains("Trainable")) TrainableCount += count;
            offset += Pad(count);
        }

        var s = Spec;
        Add("base.cls_token", new long[] { 1, 1, D }, "Trainable", "TruncNormal002");
        Add("base.pos_embed", new long[] { 1, T, D }, "Trainable", "TruncNormal002");
        if (SieRows > 0) Add("base.sie_embed", new long[] { SieRows, 1, D }, "Trainable", "TruncNormal002");
        Add("base.patch_embed.proj.weight", new long[] { D, 3, s.PatchSize, s.PatchSize }, "Trainable", "PatchConvNormal", (long)s.PatchSize * s.PatchSize * D);
        Add("base.patch_embed.proj.bias", new long[] { D }, "Trainable", "PatchConvBiasUniform", Cpp);

        // block-local layout (identical for backbone blocks and the b1/b2 copies)
        long local = 0;
        foreach (var t in BlockTensorNames)
        {
            if (t == "attn.qkv.bias" && !s.QkvBias) continue;
            var shape = BlockShape(t);
            long count = 1;
            foreach (var d in shape) count *= d;
            BlockLocal[t] = local;
            local += Pad(count);
        }

        BlockStride = local;

        void AddBlock(string prefix, string flags, string? copyPrefix)
        {
            foreach (var t in BlockTensorNames)
            {
                if (t == "attn.qkv.bias" && !s.QkvBias) continue;
                Add(prefix + t, BlockShape(t), flags, copyPrefix is null ? BlockInit(t) : "CopyOf", 0, copyPrefix is null ? null : copyPrefix + t);
            }
        }

        Offsets["blocks"] = offset;
        for (int i = 0; i < s.Depth; i++)
        {
            bool unused = s.Jpm && i == s.Depth - 1;
            AddBlock($"base.blocks.{i}.", unused ? "Unused" : "Trainable", null);
        }

        Add("base.norm.weight", new long[] { D }, s.Jpm ? "Unused" : "Trainable", "Ones");
        Add("base.norm.bias", new long[] { D }, s.Jpm ? "Unused" : "Trainable", "Zeros");
        Add("base.fc.weight", new long[] { 1000, D }, "Unused", "TruncNormal002");
        Add("base.fc.bias", new long[] { 1000 }, "Unused", "Zeros");

        if (s.Jpm)
        {
            string last = $"base.blocks.{s.Depth - 1}.";
            Offsets["b1"] = offset;
            AddBlock("b1.0.", "Trainable", last);
            Add("b1.1.weight", new long[] { D }, "Trainable", "CopyOf", 0, "base.norm.weight");
            Add("b1.1.bias", new long[] { D }, "Trainable", "CopyOf", 0, "base.norm.bias");
            Offsets["b2"] = offset;
            AddBlock("b2.0.", "Trainable", last);
            Add("b2.1.weight", new long[] { D }, "Trainable", "CopyOf", 0, "base.norm.weight");
            Add("b2.1.bias", new long[] { D }, "Trainable", "CopyOf", 0, "base.norm.bias");
        }

        for (int k = 0; k < Heads; k++)
        {
            string bn = k == 0 ? "bottleneck" : $"bottleneck_{k}";
            BatchNorms.Add(bn);
            Add(bn + ".weight", new long[] { D }, "Trainable", "Ones");
            Add(bn + ".bias", new long[] { D }, "Frozen", "Zeros");
            Add(bn + ".running_mean", new long[] { D }, "Buffer", "Zeros");
            Add(bn + ".running_var", new long[] { D }, "Buffer", "Ones");
        }

        for (int k = 0; k < Heads; k++)
        {
            string cls = k == 0 ? "classifier" : $"classifier_{k}";
            Add(cls + ".weight", new long[] { C, D }, "Trainable", "Normal0001");
        }

        BufferLength = offset;
    }

    // ---- activation arenas: offset = Fixed + PerSample·B (+ B² terms at the very end) ----

    public ArenaLayout Eval { get; private set; } = null!;
    public ArenaLayout Train { get; private set; } = null!;

    private void BuildArenas()
    {
        var s = Spec;
        long R = RowsPerSample;

        var e = new ArenaLayout();
        e.Sample("images", 3L * s.ImageHeight * s.ImageWidth);
        e.Sample("sieIndex", 1);
        e.Sample("cols", (long)N * Cpp);
        e.Sample("patches", (long)N * D);
        e.Sample("x", (long)T * D);
        e.Sample("ln", R * D);
        e.Sample("mean", R);
        e.Sample("rstd", R);
        e.Sample("qkv", R * 3 * D);
        e.Sample("probs", ProbsPerSample);
        e.Sample("att", R * D);
        e.Sample("branch", R * D);
        e.Sample("h", R * Hd);
        if (s.Jpm) e.Sample("parts", (long)K * Tp * D);
        e.Sample("tok", (long)Heads * D);
        e.Sample("att0", (long)Heads * D);
        e.Sample("ln0", (long)Heads * D);
        e.Sample("h0", (long)Heads * Hd);
        e.Sample("feat", (long)Heads * D);
        e.Sample("bnout", (long)Heads * D);
        e.Sample("out", FeatureDim);
        Eval = e;

        var t = new ArenaLayout();
        t.Fixed("bnMean", (long)Heads * D);
        t.Fixed("bnRstd", (long)Heads * D);
        t.Fixed("bnSaved", (long)Heads * 2 * Pad(D));
        t.Fixed("losses", 2L * Heads);
        t.Sample("images", 3L * s.ImageHeight * s.ImageWidth);
        t.Sample("sieIndex", 1);
        t.Sample("labels", 1);
        t.Sample("dropPath", 2L * (BackboneBlocks + (s.Jpm ? 1 + K : 0)));
        t.Sample("cols", (long)N * Cpp);
        t.Sample("patches", (long)N * D);
        for (int l = 0; l <= BackboneBlocks; l++) t.Sample($"x{l}", (long)T * D);
        for (int l = 0; l < BackboneBlocks; l++) t.Slot($"s{l}", T, 1, this);
        if (s.Jpm)
        {
            t.Slot("sb1", T, 1, this);
            t.Sample("y1", (long)T * D);
            t.Sample("parts", (long)K * Tp * D);
            t.Slot("sb2", Tp, K, this);
            t.Sample("y2", (long)K * Tp * D);
        }

        t.Sample("tok", (long)Heads * D);
        t.Sample("tokMean", Heads);
        t.Sample("tokRstd", Heads);
        t.Sample("feat", (long)Heads * D);
        t.Sample("bnout", (long)Heads * D);
        t.Sample("logits", (long)Heads * C);
        t.Sample("dlogits", (long)Heads * C);
        t.Sample("dbn", (long)Heads * D);
        t.Sample("dfeat", (long)Heads * D);
        t.Sample("dtok", (long)Heads * D);
        t.Sample("g", (long)T * D);
        if (s.Jpm) t.Sample("g2", (long)K * Tp * D);
        t.Sample("branch", R * D);
        t.Sample("dbranch", R * D);
        t.Sample("tmpD", R * D);
        t.Sample("tmpD2", R * D);
        t.Sample("tmpH", R * Hd);
        t.Sample("tmp3D", R * 3 * D);
        t.Sample("attScratch", ProbsPerSample);
        t.Sample("dpatches", (long)N * D);
        Train = t;
    }
}

/// <summary>
/// Offsets of one arena. Fixed entries come first; per-sample entries follow at Fixed + coefficient·B; the triplet
/// scratch (B² + 4B floats) is appended after all of them.
/// </summary>
internal sealed class ArenaLayout
{
    public List<(string Name, long Size)> FixedEntries { get; } = new();
    public List<(string Name, long Coefficient, long Size)> SampleEntries { get; } = new();
    public Dictionary<string, (bool IsFixed, long Offset)> Map { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, SlotLayout> Slots { get; } = new(StringComparer.Ordinal);
    public long FixedSize { get; private set; }
    public long PerSample { get; private set; }

    public void Fixed(string name, long size)
    {
        if (PerSample > 0) throw new InvalidOperationException("fixed entries come first");
        Map[name] = (true, FixedSize);
        FixedEntries.Add((name, size));
        FixedSize += ModelPlan.Pad(size);
    }

    public void Sample(string name, long perSample)
    {
        Map[name] = (false, PerSample);
        SampleEntries.Add((name, PerSample, perSample));
        PerSample += ModelPlan.Pad(perSample);
    }

    /// <summary>The activations one block keeps for backward, for <paramref name="mult"/>·B samples of <paramref name="tokens"/> tokens.</summary>
    public void Slot(string name, int tokens, int mult, ModelPlan p)
    {
        long r = (long)mult * tokens;
        var slot = new SlotLayout(name, tokens, mult);
        foreach (var (field, size) in new[]
        {
            ("Ln1", r * p.D), ("Mean1", r), ("Rstd1", r), ("Qkv", r * 3 * p.D), ("Probs", (long)mult * p.H * tokens * tokens),
            ("Att", r * p.D), ("XMid", r * p.D), ("Ln2", r * p.D), ("Mean2", r), ("Rstd2", r), ("H", r * p.Hd), ("G", r * p.Hd),
        })
        {
            slot.Fields.Add((field, PerSample));
            Sample(name + "." + field, size);
        }

        Slots[name] = slot;
    }

    /// <summary>The C# expression of an entry's address, given locals A (arena base) and b (batch, long).</summary>
    public string Ptr(string name)
    {
        var (isFixed, offset) = Map[name];
        return isFixed ? $"A + {offset}L" : $"A + ({FixedSize}L + {offset}L * b)";
    }
}

internal sealed class SlotLayout
{
    public SlotLayout(string name, int tokens, int mult)
    {
        Name = name;
        Tokens = tokens;
        Mult = mult;
    }

    public string Name { get; }
    public int Tokens { get; }
    public int Mult { get; }
    public List<(string Field, long Coefficient)> Fields { get; } = new();
}
