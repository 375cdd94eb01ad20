using System;
using System.Collections.Generic;
using System.Linq;
using TransReID.Generators.Model;
using TransReID.Shapes;

namespace TransReID.Generators.Emit;

/// <summary>One tensor of the parameter table as the planner lays it out (offsets in floats, padded to 16).</summary>
internal sealed record PlannedTensor(string Name, long[] Shape, long Offset, long Count, string Flags, string Init, long FanIn, int CopySource);

/// <summary>
/// Everything the emitter needs beyond the spec, computed once: derived dimensions, the parameter table with
/// offsets, the Embed schedule with its arena, and the training layout (arena, block slots, stochastic-depth entries,
/// BNNeck saves). Arena offsets are Fixed + PerSample·B, so one plan serves every batch size. Pure arithmetic; no
/// Roslyn types; the emitter only formats what is here.
/// <para>
/// Legend of the one-letter dimensions (as docs/model.md and the generated comments use them): B batch; N patches
/// (GridY·GridX); T = N + 1 tokens; D embedding width; H attention heads; Dh = D/H head width; Hd MLP hidden width;
/// C classes; K JPM parts; L = N/K patches per part; Tp = L + 1 tokens per part. "Branches" are the BNNeck/classifier
/// branches (1 + K with JPM), not attention heads.
/// </para>
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
        Hs = HiddenRowStride(Hd);
        C = s.Classes;
        SieRows = ShapeMath.SieRows(s.Cameras, s.Views);
        K = s.Jpm ? s.JpmParts : 0;
        L = s.Jpm ? ShapeMath.PartLength(N, K) : 0;
        Tp = L + 1;
        BackboneBlocks = s.Jpm ? s.Depth - 1 : s.Depth;
        FeatureDim = s.Jpm ? D * (1 + K) : D;
        Branches = s.Jpm ? 1 + K : 1;
        Cpp = 3 * s.PatchSize * s.PatchSize;
        RowsPerSample = s.Jpm ? Math.Max(T, K * Tp) : T;
        ProbsPerSample = s.Jpm ? Math.Max((long)H * T * T, (long)K * H * Tp * Tp) : (long)H * T * T;
        BuildParameters();
        BuildEmbed();
        BuildTraining();
    }

    /// <summary>
    /// The row stride of Embed's MLP hidden buffer: the first multiple of 16 floats (a 64-byte line) from
    /// <paramref name="hidden"/> on at which 14 consecutive rows (the CPU's 14-row kernels) put at most 4 rows in any
    /// set of a 64-set L1d (addresses 4 KiB apart share a set). At 3072 floats every row falls in one set, so the CPU
    /// would have to pack fc2's input; 3088 spreads them and fc2 reads it in place (docs/benchmarks.md). The rule is the
    /// runtime's PackedGemm.RowsSpreadOverSets, which decides at run time (the generator does not reference the runtime;
    /// PlannerTests and PackedGemmTests pin both at 3088).
    /// </summary>
    internal static int HiddenRowStride(int hidden)
    {
        const int Rows = 14, Sets = 64, LineFloats = 16, MostPerSet = 4;
        for (int stride = (hidden + LineFloats - 1) / LineFloats * LineFloats; ; stride += LineFloats)
        {
            var count = new int[Sets];
            bool spread = true;
            for (int r = 0; r < Rows && spread; r++) spread = ++count[(int)((long)r * stride / LineFloats % Sets)] <= MostPerSet;
            if (spread) return stride;
        }
    }

    public ModelSpec Spec { get; }
    public int GridY { get; }
    public int GridX { get; }
    public int N { get; }                // patches
    public int T { get; }                // tokens: N + 1
    public int D { get; }                // embedding width
    public int H { get; }                // attention heads
    public int Dh { get; }               // head width D/H
    public int Hd { get; }               // MLP hidden width
    public int Hs { get; }               // floats between the rows of Embed's MLP hidden buffer (≥ Hd)
    public int C { get; }                // classes
    public int SieRows { get; }          // rows of the SIE table (0: off)
    public int K { get; }                // JPM parts (0 without JPM)
    public int L { get; }                // patches per part
    public int Tp { get; }               // tokens per part: L + 1
    public int BackboneBlocks { get; }   // blocks run on the whole stream (Depth − 1 with JPM)
    public int FeatureDim { get; }       // D·(1 + K)
    public int Branches { get; }         // BNNeck/classifier branches: 1 + K
    public int Cpp { get; }              // im2col row: 3·P·P
    public int RowsPerSample { get; }    // block rows per sample: max(T, K·Tp)
    public long ProbsPerSample { get; }  // attention probabilities per sample

    public List<PlannedTensor> Tensors { get; } = new();
    public long BufferLength { get; private set; }
    public long ParameterCount { get; private set; }     // state-dict parameters (buffers excluded), as docs/model.md#parameter-table counts
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

        for (int k = 0; k < Branches; k++)
        {
            string bn = k == 0 ? "bottleneck" : $"bottleneck_{k}";
            BatchNorms.Add(bn);
            Add(bn + ".weight", new long[] { D }, "Trainable", "Ones");
            Add(bn + ".bias", new long[] { D }, "Frozen", "Zeros");
            Add(bn + ".running_mean", new long[] { D }, "Buffer", "Zeros");
            Add(bn + ".running_var", new long[] { D }, "Buffer", "Ones");
        }

        for (int k = 0; k < Branches; k++)
        {
            string cls = k == 0 ? "classifier" : $"classifier_{k}";
            Add(cls + ".weight", new long[] { C, D }, "Trainable", "Normal0001");
        }

        BufferLength = offset;
    }

    // ---- Embed: the eval schedule and its arena (buffers reused once dead) ----

    /// <summary>The ops of <c>Embed</c> in order.</summary>
    public IReadOnlyList<EvalOp> EvalOps { get; private set; } = null!;

    public ArenaPlan Eval { get; private set; } = null!;

    // ---- training ----

    public ArenaPlan Train { get; private set; } = null!;

    /// <summary>Activations a backbone block (and b1) keeps for backward: T tokens per sample.</summary>
    public SlotLayout BlockSlot { get; private set; } = null!;

    /// <summary>Activations b2 keeps for backward: K parts of L+1 tokens per sample; null without JPM.</summary>
    public SlotLayout? PartSlot { get; private set; }

    /// <summary>Stochastic-depth scale entries, in arena order (offsets in units of B floats).</summary>
    public List<DropPathEntry> DropPath { get; } = new();

    /// <summary>The entries of b1 and b2 (attention, MLP each); null without JPM.</summary>
    public (DropPathEntry B1Attention, DropPathEntry B1Mlp, DropPathEntry B2Attention, DropPathEntry B2Mlp)? HeadDropPath { get; private set; }

    /// <summary>Floats per sample of the stochastic-depth scales.</summary>
    public long DropPathPerSample { get; private set; }

    /// <summary>Where each BNNeck's running statistics are saved during a step (to restore on a non-finite loss).</summary>
    public List<BatchNormSave> BatchNormSaves { get; } = new();

    /// <summary>Floats between the saved running statistics of consecutive branches (mean, padding, var, padding).</summary>
    public long BatchNormSaveStride => 2 * Pad(D);

    /// <summary>Floats between consecutive token-stream snapshots of the training forward (x0 … x{BackboneBlocks}).</summary>
    public long StreamStride => Pad((long)T * D);

    private void BuildEmbed()
    {
        var s = Spec;
        var ops = new List<EvalOp> { new UploadOp("input") };
        if (SieRows > 0) ops.Add(new UploadOp("sieIndex"));
        ops.Add(new PatchEmbedOp());
        ops.Add(new TokenEmbedOp(SieRows > 0));
        if (s.Jpm)
        {
            ops.Add(new BlocksOp(BackboneBlocks)); // with Depth 1 none: only its comment is emitted
            ops.Add(new HeadBlockOp("b1.0.", "O_B1", "x", 1, T, 0));
            ops.Add(new NormOp("b1.1.", 0, 1));
            ops.Add(new JpmOp());
            ops.Add(new HeadBlockOp("b2.0.", "O_B2", "parts", K, Tp, 1));
            ops.Add(new NormOp("b2.1.", 1, K));
        }
        else
        {
            if (BackboneBlocks > 1) ops.Add(new BlocksOp(BackboneBlocks - 1));
            int final = BackboneBlocks - 1;
            ops.Add(new HeadBlockOp($"base.blocks.{final}.", BlockBase(final), "x", 1, T, 0));
            ops.Add(new NormOp("base.norm.", 0, 1));
        }

        string source = s.NeckFeature == 1 ? "bnout" : "feat";
        if (s.NeckFeature == 1)
        {
            for (int k = 0; k < Branches; k++) ops.Add(new NeckOp(BatchNorms[k], k));
        }

        for (int k = 0; k < Branches; k++) ops.Add(new OutputOp(source, k, k == 0 ? 1.0 : 1.0 / K));
        ops.Add(new DownloadOp());
        EvalOps = ops;

        // liveness: each buffer from the first op that touches it to the last
        var first = new Dictionary<string, int>(StringComparer.Ordinal);
        var last = new Dictionary<string, int>(StringComparer.Ordinal);
        var order = new List<string>();
        for (int i = 0; i < ops.Count; i++)
        {
            foreach (var name in ops[i].Buffers)
            {
                if (!first.ContainsKey(name))
                {
                    first[name] = i;
                    order.Add(name);
                }

                last[name] = i;
            }
        }

        long r = RowsPerSample;
        var sizes = new Dictionary<string, (long Size, string Contents)>(StringComparer.Ordinal)
        {
            ["input"] = (3L * s.ImageHeight * s.ImageWidth, $"images (B, 3, {s.ImageHeight}, {s.ImageWidth})"),
            ["sieIndex"] = (1, "SIE row per image, int32 (B)"),
            ["cols"] = ((long)N * Cpp, $"im2col patches (B·{N}, {Cpp})"),
            ["patches"] = ((long)N * D, $"patch embeddings (B, {N}, {D})"),
            ["x"] = ((long)T * D, $"token stream (B, {T}, {D})"),
            ["ln"] = (r * D, $"LayerNorm out (rows, {D})"),
            ["mean"] = (r, "LayerNorm means (rows)"),
            ["rstd"] = (r, "LayerNorm 1/std (rows)"),
            ["qkv"] = (r * 3 * D, $"q, k, v (rows, {3 * D})"),
            ["probs"] = (ProbsPerSample, $"attention probabilities ({H} heads)"),
            ["att"] = (r * D, $"attention out (rows, {D})"),
            ["branch"] = (r * D, $"block branch out (rows, {D})"),
            ["h"] = (r * Hs, Hs == Hd ? $"MLP hidden (rows, {Hd})" : $"MLP hidden (rows, {Hd}), rows {Hs} floats apart"),
            ["parts"] = ((long)K * Tp * D, $"JPM parts ({K}·B, {Tp}, {D})"),
            ["tok"] = ((long)Branches * D, $"token 0 per branch ({Branches}, B, {D})"),
            ["att0"] = ((long)Branches * D, "token-0 attention out"),
            ["ln0"] = ((long)Branches * D, "token-0 LayerNorm 2 out"),
            ["h0"] = ((long)Branches * Hd, "token-0 MLP hidden"),
            ["feat"] = ((long)Branches * D, $"features per branch ({Branches}, B, {D})"),
            ["bnout"] = ((long)Branches * D, "BNNeck outputs per branch"),
            ["output"] = (FeatureDim, $"features (B, {FeatureDim})"),
        };
        var arena = new ArenaPlan("Embed", ops.Select(o => o.GetType().Name.Replace("Op", "")).ToList());
        foreach (var name in order)
        {
            var (size, contents) = sizes[name];
            arena.Sample(name, size, first[name], last[name], contents);
        }

        Eval = arena;
    }

    /// <summary>Training steps of the arena: a buffer's liveness is the phases it is used in.</summary>
    internal static class Phase
    {
        public const int Upload = 0, Forward = 1, Losses = 2, Backward = 3, Finish = 4;
        public static readonly string[] Names = { "upload", "forward", "losses", "backward", "finish" };
    }

    private void BuildTraining()
    {
        var s = Spec;
        int nb = BackboneBlocks;

        // stochastic depth: entry 2l, 2l+1 = block l's attention and MLP branches; b1 and b2 use the last block's rate
        long at = 0;
        DropPathEntry Entry(string name, int block, int samples)
        {
            var entry = new DropPathEntry(name, at, samples, block);
            DropPath.Add(entry);
            at += samples;
            return entry;
        }

        for (int l = 0; l < nb; l++)
        {
            Entry($"block {l} attention", l, 1);
            Entry($"block {l} MLP", l, 1);
        }

        if (s.Jpm)
        {
            HeadDropPath = (Entry("b1 attention", -1, 1), Entry("b1 MLP", -1, 1), Entry("b2 attention", -1, K), Entry("b2 MLP", -1, K));
        }

        DropPathPerSample = at;

        // BNNeck running statistics: mean and var are adjacent in the parameter table, saved together
        long pd = Pad(D);
        for (int k = 0; k < Branches; k++)
        {
            string bn = BatchNorms[k];
            if (Offsets[bn + ".running_var"] != Offsets[bn + ".running_mean"] + pd)
                throw new InvalidOperationException($"{bn}: running_var must follow running_mean in the parameter table");
            BatchNormSaves.Add(new BatchNormSave(k, bn, k * BatchNormSaveStride, pd + D));
        }

        BlockSlot = new SlotLayout("BlockSlot", T, 1, D, H, Hd);
        if (s.Jpm) PartSlot = new SlotLayout("PartSlot", Tp, K, D, H, Hd);

        const int up = Phase.Upload, fw = Phase.Forward, hd = Phase.Losses, bw = Phase.Backward, fin = Phase.Finish;
        long r = RowsPerSample;
        var t = new ArenaPlan("Train", Phase.Names);
        t.Fixed("bnMean", (long)Branches * D, hd, bw, "BNNeck batch means (branches, D)");
        t.Fixed("bnRstd", (long)Branches * D, hd, bw, "BNNeck batch 1/std (branches, D)");
        t.Fixed("bnSaved", Branches * 2 * pd, up, fin, "running statistics saved at the start");
        t.Fixed("losses", 2L * Branches, hd, fin, "ID losses, then triplet losses, per branch");
        t.Sample("input", 3L * s.ImageHeight * s.ImageWidth, up, fw, $"images (B, 3, {s.ImageHeight}, {s.ImageWidth})");
        if (SieRows > 0) t.Sample("sieIndex", 1, up, bw, "SIE row per image, int32 (B)");
        t.Sample("labelIds", 1, up, hd, "identity per image, int32 (B)");
        t.Sample("dropPathScales", DropPathPerSample, up, bw, "stochastic-depth scales (table DropPath)");
        t.Sample("cols", (long)N * Cpp, fw, bw, $"im2col patches (B·{N}, {Cpp})");
        t.Sample("patches", (long)N * D, fw, fw, $"patch embeddings (B, {N}, {D})");
        t.Sample("stream", (nb + 1) * StreamStride, fw, bw, $"token stream x0..x{nb}, each (B, {T}, {D})");
        if (nb > 0) t.Sample("blockActs", nb * BlockSlot.Size, fw, bw, $"what blocks 0..{nb - 1} keep for backward (BlockSlot each)");
        if (s.Jpm)
        {
            t.Sample("b1Acts", BlockSlot.Size, fw, bw, "what b1 keeps for backward (BlockSlot)");
            t.Sample("y1", (long)T * D, fw, fw, $"b1 out (B, {T}, {D})");
            t.Sample("parts", (long)K * Tp * D, fw, bw, $"JPM parts ({K}·B, {Tp}, {D})");
            t.Sample("b2Acts", PartSlot!.Size, fw, bw, "what b2 keeps for backward (PartSlot)");
            t.Sample("y2", (long)K * Tp * D, fw, fw, $"b2 out ({K}·B, {Tp}, {D})");
        }

        t.Sample("tok", (long)Branches * D, fw, bw, "token 0 per branch");
        t.Sample("tokMean", Branches, fw, bw, "final LayerNorm means");
        t.Sample("tokRstd", Branches, fw, bw, "final LayerNorm 1/std");
        t.Sample("feat", (long)Branches * D, fw, hd, $"features per branch ({Branches}, B, {D})");
        t.Sample("bnout", (long)Branches * D, hd, hd, "BNNeck outputs");
        t.Sample("logits", (long)Branches * C, hd, hd, $"classifier logits ({Branches}, B, {C})");
        t.Sample("dlogits", (long)Branches * C, hd, hd, "d loss / d logits");
        t.Sample("dbn", (long)Branches * D, hd, hd, "d loss / d BNNeck out");
        t.Sample("dfeat", (long)Branches * D, hd, bw, "d loss / d features");
        t.Sample("dtok", (long)Branches * D, bw, bw, "d loss / d token 0");
        t.Sample("grad", (long)T * D, bw, bw, $"d loss / d token stream (B, {T}, {D})");
        if (s.Jpm) t.Sample("gradParts", (long)K * Tp * D, bw, bw, $"d loss / d parts ({K}·B, {Tp}, {D})");
        t.Sample("branch", r * D, fw, bw, $"block branch out (rows, {D})");
        t.Sample("dbranch", r * D, bw, bw, "backward scratch: scaled branch gradient");
        t.Sample("tmpD", r * D, bw, bw, $"backward scratch (rows, {D})");
        t.Sample("tmpD2", r * D, bw, bw, $"backward scratch (rows, {D})");
        t.Sample("tmpH", r * Hd, bw, bw, $"backward scratch (rows, {Hd})");
        t.Sample("tmp3D", r * 3 * D, bw, bw, $"backward scratch (rows, {3 * D})");
        t.Sample("attScratch", ProbsPerSample, bw, bw, "attention backward scratch");
        t.Sample("dpatches", (long)N * D, bw, bw, $"d loss / d patch embeddings (B, {N}, {D})");
        Train = t;
    }

    /// <summary>The parameter offset expression of backbone block <paramref name="index"/>.</summary>
    public static string BlockBase(int index) => index == 0 ? "O_Blocks" : $"O_Blocks + {index} * BlockStride";
}

/// <summary>
/// One stochastic-depth entry: the keep scales of one residual branch for <see cref="Samples"/>·B rows, at
/// <c>dropPath + Offset·B</c>. Rate: <c>rate·Block/(Depth−1)</c>, or the last block's rate when Block is −1.
/// </summary>
internal sealed record DropPathEntry(string Name, long Offset, int Samples, int Block);

/// <summary>Branch <see cref="Branch"/>'s running mean and var (<see cref="Count"/> floats from running_mean) saved at <see cref="Offset"/> of bnSaved.</summary>
internal sealed record BatchNormSave(int Branch, string Prefix, long Offset, long Count);

/// <summary>
/// The activations one block keeps for backward, for <see cref="Samples"/>·B sequences of <see cref="Tokens"/>
/// tokens: each field at <c>slot + Offset·B</c>.
/// </summary>
internal sealed class SlotLayout
{
    public SlotLayout(string name, int tokens, int samples, int d, int heads, int hidden)
    {
        Name = name;
        Tokens = tokens;
        Samples = samples;
        long r = (long)samples * tokens;
        long offset = 0;
        foreach (var (field, size) in new[]
        {
            ("Ln1", r * d), ("Mean1", r), ("Rstd1", r), ("Qkv", r * 3 * d), ("Probs", (long)samples * heads * tokens * tokens),
            ("Att", r * d), ("XMid", r * d), ("Ln2", r * d), ("Mean2", r), ("Rstd2", r), ("H", r * hidden), ("G", r * hidden),
        })
        {
            Fields.Add(new SlotField(field, offset, size));
            offset += ModelPlan.Pad(size);
        }

        Size = offset;
    }

    public string Name { get; }
    public int Tokens { get; }
    public int Samples { get; }
    public List<SlotField> Fields { get; } = new();

    /// <summary>Floats per sample of one slot.</summary>
    public long Size { get; }
}

/// <summary>A field of a block slot: per-sample offset from the slot's start, and floats per sample.</summary>
internal sealed record SlotField(string Name, long Offset, long Size);
