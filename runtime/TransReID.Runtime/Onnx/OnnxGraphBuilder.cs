using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Reflection;
using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;
using TransReID.Runtime.IO;
using TransReID.Runtime.Model;
using TransReID.Shapes;

namespace TransReID.Runtime.Onnx;

/// <summary>
/// Builds the ONNX graph of a model's eval forward, op by op, in the order the generated <c>ExportOnnx</c> calls it
/// (the same order as <c>Embed</c>): standard ONNX ops only (Conv, LayerNormalization, MatMul, Add, Softmax, Erf GELU,
/// Gather with constant indices, BatchNormalization, Concat, Reshape, Transpose), weights as float32 initializers
/// under their official names (Linear weights transposed to [in, out] and named <c>NAME.T</c>).
/// </summary>
/// <remarks>
/// Inputs: <c>images</c> float32 [N, 3, H, W] (normalised) or, with
/// <see cref="OnnxExportOptions.IncludePreprocessing"/>, uint8 [N, H, W, 3] RGB; <c>cameras</c>/<c>views</c> int64 [N]
/// where the model uses that side information and it is not fixed. Output <c>features</c> float32 [N, FeatureDim].
/// A camera or view id outside its range makes ONNX Runtime's Gather fail (the index is pushed out of the SIE table),
/// rather than wrap around as a negative Gather index would.
/// </remarks>
public sealed class OnnxGraphBuilder
{
    private const int FloatType = 1, UInt8Type = 2, Int64Type = 7, BoolType = 9;
    private const string BatchDim = "N";

    private readonly ModelInfo _info;
    private readonly Func<string, float[]> _parameter;
    private readonly OnnxExportOptions _options;
    private readonly GraphProto _graph = new();
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, OnnxValue> _weights = new(StringComparer.Ordinal);
    private readonly Dictionary<string, OnnxValue> _partViews = new(StringComparer.Ordinal);
    private int _nodes;
    private float? _layerNormEps;

    /// <summary>A builder for a model with numbers <paramref name="info"/> whose tensors <paramref name="parameter"/> reads by official name.</summary>
    /// <exception cref="ArgumentException">An option does not fit the model (opset out of range, a fixed camera or view it does not use or out of range).</exception>
    public OnnxGraphBuilder(ModelInfo info, Func<string, float[]> parameter, OnnxExportOptions options)
    {
        ArgumentNullException.ThrowIfNull(info);
        ArgumentNullException.ThrowIfNull(parameter);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Opset < OnnxExportOptions.MinOpset || options.Opset > OnnxExportOptions.MaxOpset)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"opset {options.Opset} is not supported: use {OnnxExportOptions.MinOpset} to {OnnxExportOptions.MaxOpset} (LayerNormalization needs 17)"), nameof(options));
        }

        CheckFixed(options.FixedCamera, info.UsesCameras, info.Cameras, "camera");
        CheckFixed(options.FixedView, info.UsesViews, info.Views, "view");
        _info = info;
        _parameter = parameter;
        _options = options;
        _graph.Name = info.Name;
    }

    /// <summary>The model's numbers.</summary>
    public ModelInfo Info => _info;

    /// <summary>The options.</summary>
    public OnnxExportOptions Options => _options;

    // ---- inputs ---------------------------------------------------------------------------------------------

    /// <summary>
    /// The image input: <c>images</c> float32 [N, 3, H, W], or with preprocessing uint8 [N, H, W, 3] RGB followed by
    /// /255, −PixelMean, /PixelStd (divide, subtract, divide, as the CLI's loader) and the move to NCHW.
    /// </summary>
    public OnnxValue Images()
    {
        int h = _info.ImageHeight, w = _info.ImageWidth;
        if (!_options.IncludePreprocessing) return Input("images", OnnxElementType.Float, OnnxValue.Dynamic, 3, h, w);
        var raw = Input("images", OnnxElementType.UInt8, OnnxValue.Dynamic, h, w, 3);
        var x = Node("Cast", "pixels", OnnxElementType.Float, raw.Shape, [raw], a => a.Add(Int("to", FloatType)));
        x = Binary("Div", x, ScalarF(255f), "pixels01");
        x = Binary("Sub", x, ConstF([3], _info.PixelMean), "pixels_centred");
        x = Binary("Div", x, ConstF([3], _info.PixelStd), "pixels_normalised");
        return Transpose(x, [0, 3, 1, 2], "images_nchw");
    }

    /// <summary>
    /// The SIE row per sample, int64 [N] = ShapeMath.SieIndex(cameras, views, camera, view), from the <c>cameras</c> and
    /// <c>views</c> inputs the model uses; a fixed camera or view is a constant instead of an input (both fixed: a
    /// constant [1] that broadcasts over the batch). Null when the model has no SIE.
    /// </summary>
    public OnnxValue? SieIndex()
    {
        if (_info.SieRows == 0) return null;
        bool cam = _info.UsesCameras, view = _info.UsesViews;
        OnnxValue? cameras = cam && _options.FixedCamera is null ? CheckedIds(Input("cameras", OnnxElementType.Int64, OnnxValue.Dynamic), _info.Cameras) : null;
        OnnxValue? views = view && _options.FixedView is null ? CheckedIds(Input("views", OnnxElementType.Int64, OnnxValue.Dynamic), _info.Views) : null;
        if (cam && view)
        {
            // cam·V + view, with constants where fixed
            if (cameras is null && views is null)
                return ConstI64([1], [ShapeMath.SieIndex(_info.Cameras, _info.Views, _options.FixedCamera!.Value, _options.FixedView!.Value)]);
            OnnxValue camPart = cameras is null
                ? ScalarI64((long)_options.FixedCamera!.Value * _info.Views)
                : Binary("Mul", cameras, ScalarI64(_info.Views), "camera_rows");
            OnnxValue viewPart = views ?? ScalarI64(_options.FixedView!.Value);
            return Binary("Add", camPart, viewPart, "sie_index");
        }

        if (cam) return cameras ?? ConstI64([1], [_options.FixedCamera!.Value]);
        return views ?? ConstI64([1], [_options.FixedView!.Value]);
    }

    /// <summary>A float32 graph input (for one-op graphs); <see cref="OnnxValue.Dynamic"/> dimensions become the batch dimension N.</summary>
    public OnnxValue Input(string name, params long[] shape) => Input(name, OnnxElementType.Float, shape);

    /// <summary>A graph input of any element type; <see cref="OnnxValue.Dynamic"/> dimensions become the batch dimension N.</summary>
    public OnnxValue Input(string name, OnnxElementType elementType, params long[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        Claim(name);
        _graph.Input.Add(ValueInfo(name, elementType, shape));
        return new OnnxValue(name, elementType, shape);
    }

    // ---- layers ---------------------------------------------------------------------------------------------

    /// <summary>Overlapping patch embedding: Conv (kernel P, stride (sy, sx), no padding, bias) → [N, GridY·GridX, D], patch p = py·gx + px.</summary>
    public OnnxValue PatchEmbed(OnnxValue images, string weight, string bias, int patch, int strideY, int strideX)
    {
        ArgumentNullException.ThrowIfNull(images);
        images.RequireRank(4, "PatchEmbed");
        int d = _info.EmbedDim;
        long channels = images.Shape[1], h = images.Shape[2], w = images.Shape[3];
        int gy = ShapeMath.GridSize((int)h, patch, strideY), gx = ShapeMath.GridSize((int)w, patch, strideX);
        var wv = Weight(weight, d, channels, patch, patch);
        var bv = Weight(bias, d);
        var conv = Node("Conv", "patch_conv", OnnxElementType.Float, [OnnxValue.Dynamic, d, gy, gx], [images, wv, bv], a =>
        {
            a.Add(Ints("kernel_shape", patch, patch));
            a.Add(Ints("strides", strideY, strideX));
            a.Add(Ints("pads", 0, 0, 0, 0));
        });
        var flat = Reshape(conv, [0, d, (long)gy * gx], [OnnxValue.Dynamic, d, (long)gy * gx], "patch_flat");
        return Transpose(flat, [0, 2, 1], "patches");
    }

    /// <summary>
    /// Tokens [N, T, D]: cat(cls, patches) + pos + coefficient·sie[index] (IBackend.TokenEmbed); sie and sieIndex
    /// are null without SIE.
    /// </summary>
    public OnnxValue TokenEmbed(OnnxValue patches, string cls, string pos, string? sie, OnnxValue? sieIndex, float coefficient)
    {
        ArgumentNullException.ThrowIfNull(patches);
        patches.RequireRank(3, "TokenEmbed");
        int d = _info.EmbedDim;
        long t = patches.Shape[1] + 1;
        var clsValue = Weight(cls, 1, 1, d);
        var posValue = Weight(pos, 1, t, d);
        var batch = Node("Shape", "batch_size", OnnxElementType.Int64, [1], [patches], a =>
        {
            a.Add(Int("start", 0));
            a.Add(Int("end", 1));
        });
        var clsShape = Node("Concat", "cls_shape", OnnxElementType.Int64, [3], [batch, ConstI64([2], [1, d])], a => a.Add(Int("axis", 0)));
        var clsRows = Node("Expand", "cls_rows", OnnxElementType.Float, [OnnxValue.Dynamic, 1, d], [clsValue, clsShape]);
        var x = Node("Concat", "tokens_raw", OnnxElementType.Float, [OnnxValue.Dynamic, t, d], [clsRows, patches], a => a.Add(Int("axis", 1)));
        x = Binary("Add", x, posValue, "tokens_pos");
        if (sie is null) return x;
        if (sieIndex is null) throw new ArgumentNullException(nameof(sieIndex), "TokenEmbed with an SIE table needs the SIE index (SieIndex())");
        var table = Weight(sie, _info.SieRows, 1, d);
        var rows = Node("Gather", "sie_rows", OnnxElementType.Float, [sieIndex.Shape[0], 1, d], [table, sieIndex], a => a.Add(Int("axis", 0)));
        rows = Binary("Mul", rows, ScalarF(coefficient), "sie_scaled");
        return Binary("Add", x, rows, "tokens");
    }

    /// <summary>Pre-norm ViT block (official timm names under <paramref name="prefix"/>): x [S, T, D] → [S, T, D].</summary>
    public OnnxValue Block(string prefix, OnnxValue x, int heads, float eps, bool qkvBias)
    {
        ArgumentNullException.ThrowIfNull(x);
        x.RequireRank(3, "Block");
        var att = Attend(prefix, x, heads, eps, qkvBias);
        var y = Binary("Add", x, Linear(att, prefix + "attn.proj", _info.EmbedDim, _info.EmbedDim, true), prefix + "attn_residual");
        return Binary("Add", y, Mlp(prefix, LayerNorm(y, prefix + "norm2.weight", prefix + "norm2.bias", eps)), prefix + "out");
    }

    /// <summary>
    /// The block whose output is read at token 0 only: LayerNorm, K and V over every token, Q and the attention of
    /// token 0 alone, then the projection, residuals and MLP on token 0 → [S, D].
    /// </summary>
    public OnnxValue HeadBlock(string prefix, OnnxValue x, int heads, float eps, bool qkvBias)
    {
        ArgumentNullException.ThrowIfNull(x);
        x.RequireRank(3, "HeadBlock");
        var att0 = AttendToken0(prefix, x, heads, eps, qkvBias);
        var x0 = Token0(x, prefix + "x0");
        var y = Binary("Add", x0, Linear(att0, prefix + "attn.proj", _info.EmbedDim, _info.EmbedDim, true), prefix + "attn_residual0");
        return Binary("Add", y, Mlp(prefix, LayerNorm(y, prefix + "norm2.weight", prefix + "norm2.bias", eps)), prefix + "out0");
    }

    /// <summary>LayerNormalization over the last axis (biased variance, affine).</summary>
    public OnnxValue LayerNorm(OnnxValue x, string weight, string bias, float eps)
    {
        ArgumentNullException.ThrowIfNull(x);
        long d = x.Shape[^1];
        _layerNormEps ??= eps;
        var g = Weight(weight, d);
        var b = Weight(bias, d);
        return Node("LayerNormalization", Hint(weight), OnnxElementType.Float, x.Shape, [x, g, b], a =>
        {
            a.Add(Int("axis", -1));
            a.Add(Float("epsilon", eps));
        });
    }

    /// <summary>
    /// JPM parts: x [N, T, D] → [K·N, L+1, D], rows part-major (k·N + n), row 0 of each part the cls token, then the
    /// patches ShapeMath.JpmSource(k·L + i) (shift, shuffle in groups, or raster order), as IBackend.JpmGather.
    /// </summary>
    public OnnxValue JpmParts(OnnxValue x, int parts, int partLength, int shift, int groups, bool rearrange)
    {
        ArgumentNullException.ThrowIfNull(x);
        x.RequireRank(3, "JpmParts");
        int n = (int)x.Shape[1] - 1;
        long d = x.Shape[2];
        if (parts < 1 || partLength < 1 || (long)parts * partLength > n)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"JpmParts: {parts} parts of {partLength} patches do not fit {n} patches"), nameof(partLength));
        }

        var index = new long[parts * (partLength + 1)];
        for (int k = 0; k < parts; k++)
        {
            index[k * (partLength + 1)] = 0;
            for (int i = 0; i < partLength; i++)
                index[(k * (partLength + 1)) + 1 + i] = 1 + ShapeMath.JpmSource((k * partLength) + i, n, shift, groups, rearrange);
        }

        var idx = ConstI64([parts, partLength + 1], index, "jpm_index");
        var gathered = Node("Gather", "jpm_gathered", OnnxElementType.Float, [OnnxValue.Dynamic, parts, partLength + 1, d], [x, idx],
            a => a.Add(Int("axis", 1)));
        var partMajor = Transpose(gathered, [1, 0, 2, 3], "jpm_part_major");
        return Reshape(partMajor, [-1, partLength + 1, d], [OnnxValue.Dynamic, partLength + 1, d], "jpm_parts");
    }

    /// <summary>Rows of part <paramref name="k"/> of part-major rows [K·N, D] → [N, D].</summary>
    public OnnxValue Branch(OnnxValue partRows, int k, int parts)
    {
        ArgumentNullException.ThrowIfNull(partRows);
        partRows.RequireRank(2, "Branch");
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(k, parts);
        long d = partRows.Shape[1];
        string key = string.Create(CultureInfo.InvariantCulture, $"{partRows.Name}/{parts}");
        if (!_partViews.TryGetValue(key, out var byPart))
        {
            byPart = Reshape(partRows, [parts, -1, d], [parts, OnnxValue.Dynamic, d], "part_rows");
            _partViews[key] = byPart;
        }

        return Node("Gather", string.Create(CultureInfo.InvariantCulture, $"part{k}"), OnnxElementType.Float, [OnnxValue.Dynamic, d],
            [byPart, ScalarI64(k)], a => a.Add(Int("axis", 0)));
    }

    /// <summary>BatchNorm1d with running statistics (prefix.weight/.bias/.running_mean/.running_var) on x [N, D].</summary>
    public OnnxValue BatchNormEval(OnnxValue x, string prefix, float eps)
    {
        ArgumentNullException.ThrowIfNull(x);
        x.RequireRank(2, "BatchNormEval");
        long d = x.Shape[1];
        OnnxValue[] inputs =
        [
            x, Weight(prefix + ".weight", d), Weight(prefix + ".bias", d), Weight(prefix + ".running_mean", d), Weight(prefix + ".running_var", d),
        ];
        return Node("BatchNormalization", prefix, OnnxElementType.Float, x.Shape, inputs, a => a.Add(Float("epsilon", eps)));
    }

    /// <summary>x · factor.</summary>
    public OnnxValue Scale(OnnxValue x, float factor)
    {
        ArgumentNullException.ThrowIfNull(x);
        return Binary("Mul", x, ScalarF(factor), x.Name + "_scaled");
    }

    /// <summary>The output <c>features</c> float32 [N, FeatureDim]: the columns concatenated along axis 1.</summary>
    public void Features(params OnnxValue[] columns)
    {
        ArgumentNullException.ThrowIfNull(columns);
        if (columns.Length == 0) throw new ArgumentException("Features needs at least one column", nameof(columns));
        foreach (var c in columns) c.RequireRank(2, "Features");
        long width = columns.Sum(c => c.Shape[1]);
        if (width != _info.FeatureDim)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"the feature columns add up to {width}, the model's FeatureDim is {_info.FeatureDim}"), nameof(columns));
        }

        if (columns.Length == 1)
        {
            Output(columns[0], "features");
            return;
        }

        Claim("features");
        AddNode("Concat", [.. columns.Select(c => c.Name)], "features", a => a.Add(Int("axis", 1)));
        _graph.Output.Add(ValueInfo("features", OnnxElementType.Float, [OnnxValue.Dynamic, width]));
    }

    /// <summary>Makes <paramref name="value"/> a graph output named <paramref name="name"/> (an Identity node).</summary>
    public void Output(OnnxValue value, string name)
    {
        ArgumentNullException.ThrowIfNull(value);
        Claim(name);
        AddNode("Identity", [value.Name], name, null);
        _graph.Output.Add(ValueInfo(name, value.ElementType, value.Shape));
    }

    // ---- the model ------------------------------------------------------------------------------------------

    /// <summary>Writes the model to <paramref name="path"/> atomically (temporary file, then rename).</summary>
    /// <exception cref="InvalidOperationException">The graph has no output yet (<see cref="Features"/> not called).</exception>
    public void Save(string path)
    {
        var model = BuildModel();
        AtomicFile.Write(path, stream => model.WriteTo(stream));
    }

    /// <summary>The model message: opset import, producer, metadata, the graph.</summary>
    internal ModelProto BuildModel()
    {
        if (_graph.Output.Count == 0) throw new InvalidOperationException("the ONNX graph has no output yet: call Features (or Output) before Save");
        var model = new ModelProto
        {
            IrVersion = IrVersion(_options.Opset),
            ProducerName = "TransReID.Compiler",
            ProducerVersion = ProducerVersion(),
            Domain = "ai.transreid",
            ModelVersion = 1,
            DocString = Doc(),
            Graph = _graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = _options.Opset });
        foreach (var (key, value) in Metadata()) model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return model;
    }

    /// <summary>The metadata the model carries: preset, every ModelInfo number, input normalisation, export options.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Metadata()
    {
        var i = _info;
        var list = new List<KeyValuePair<string, string>>();
        void Add(string key, object? value) => list.Add(new("transreid." + key, Format(value)));
        Add("preset", _options.Preset ?? string.Empty);
        Add("model", i.Name);
        Add("image_height", i.ImageHeight);
        Add("image_width", i.ImageWidth);
        Add("patch_size", i.PatchSize);
        Add("stride_y", i.StrideY);
        Add("stride_x", i.StrideX);
        Add("depth", i.Depth);
        Add("embed_dim", i.EmbedDim);
        Add("heads", i.Heads);
        Add("mlp_hidden", i.MlpHidden);
        Add("cameras", i.Cameras);
        Add("views", i.Views);
        Add("sie_rows", i.SieRows);
        Add("sie_coefficient", i.SieCoefficient);
        Add("jpm", i.Jpm);
        Add("jpm_parts", i.JpmParts);
        Add("jpm_shift", i.JpmShift);
        Add("jpm_shuffle_groups", i.JpmShuffleGroups);
        Add("jpm_rearrange", i.JpmRearrange);
        Add("classes", i.Classes);
        Add("neck_feature", i.NeckFeature.ToString());
        Add("patch_grid_y", i.PatchGridY);
        Add("patch_grid_x", i.PatchGridX);
        Add("token_count", i.TokenCount);
        Add("feature_dim", i.FeatureDim);
        Add("parameter_count", i.ParameterCount);
        Add("trainable_parameter_count", i.TrainableParameterCount);
        if (_layerNormEps is float eps) Add("layer_norm_eps", eps);
        Add("pixel_mean", string.Join(",", i.PixelMean.Select(v => Format(v))));
        Add("pixel_std", string.Join(",", i.PixelStd.Select(v => Format(v))));
        Add("preprocessing", _options.IncludePreprocessing ? "inside" : "outside");
        Add("images_input", _options.IncludePreprocessing
            ? string.Create(CultureInfo.InvariantCulture, $"uint8 [N,{i.ImageHeight},{i.ImageWidth},3] RGB; the graph divides by 255, subtracts pixel_mean, divides by pixel_std")
            : string.Create(CultureInfo.InvariantCulture, $"float32 [N,3,{i.ImageHeight},{i.ImageWidth}] RGB, already (x/255 - pixel_mean)/pixel_std"));
        Add("fixed_camera", _options.FixedCamera?.ToString(CultureInfo.InvariantCulture) ?? string.Empty);
        Add("fixed_view", _options.FixedView?.ToString(CultureInfo.InvariantCulture) ?? string.Empty);
        Add("opset", _options.Opset);
        return list;
    }

    // ---- pieces of a block ----------------------------------------------------------------------------------

    /// <summary>LN1, qkv, softmax(Q Kᵀ·scale)·V per head, heads concatenated: [S, T, D] (before the projection).</summary>
    private OnnxValue Attend(string prefix, OnnxValue x, int heads, float eps, bool qkvBias)
    {
        int d = _info.EmbedDim;
        long s = x.Shape[0], t = x.Shape[1];
        var ln = LayerNorm(x, prefix + "norm1.weight", prefix + "norm1.bias", eps);
        var qkv = Linear(ln, prefix + "attn.qkv", 3 * d, d, qkvBias);
        var perHead = PerHead(qkv, 3, heads, prefix + "qkv");
        var o = Heads(prefix, HeadPart(perHead, 0, prefix + "q"), HeadPart(perHead, 1, prefix + "k"), HeadPart(perHead, 2, prefix + "v"), "");
        var ot = Transpose(o, [0, 2, 1, 3], prefix + "att_tokens");
        return Reshape(ot, [0, 0, d], [s, t, d], prefix + "att");
    }

    /// <summary>
    /// LN1 over every token, K and V of every token and Q of token 0 (column slices of the one qkv initializer, which
    /// ONNX Runtime folds at load), softmax(q₀ Kᵀ·scale)·V per head, heads concatenated: [S, D] (before the projection).
    /// </summary>
    private OnnxValue AttendToken0(string prefix, OnnxValue x, int heads, float eps, bool qkvBias)
    {
        int d = _info.EmbedDim, dh = HeadWidth(heads);
        long s = x.Shape[0];
        var ln = LayerNorm(x, prefix + "norm1.weight", prefix + "norm1.bias", eps);
        var w = WeightTransposed(prefix + "attn.qkv.weight", 3 * d, d);
        var bias = qkvBias ? Weight(prefix + "attn.qkv.bias", 3 * d) : null;
        OnnxValue Columns(OnnxValue v, int axis, long from, long to, string hint)
        {
            var shape = v.Shape.ToArray();
            shape[axis] = to - from;
            return Node("Slice", prefix + hint, v.ElementType, shape,
                [v, ConstI64([1], [from]), ConstI64([1], [to]), ConstI64([1], [axis])]);
        }
        OnnxValue Project(OnnxValue input, long from, long to, string hint) =>
            Affine(input, Columns(w, 1, from, to, hint + "_w"), bias is null ? null : Columns(bias, 0, from, to, hint + "_b"), prefix + hint);
        var kv = PerHead(Project(ln, d, 3 * d, "kv"), 2, heads, prefix + "kv");
        var q0 = Project(Token0(ln, prefix + "ln0"), 0, d, "q0");
        var q = Reshape(q0, [0, heads, 1, dh], [s, heads, 1, dh], prefix + "q0_heads");
        var o = Heads(prefix, q, HeadPart(kv, 0, prefix + "k"), HeadPart(kv, 1, prefix + "v"), "0");
        return Reshape(o, [0, d], [s, d], prefix + "att0");
    }

    /// <summary>The width of one of <paramref name="heads"/> heads (which must divide the model's width).</summary>
    private int HeadWidth(int heads)
    {
        int d = _info.EmbedDim;
        if (heads < 1 || d % heads != 0) throw new ArgumentException($"{heads} heads do not divide the width {d}", nameof(heads));
        return d / heads;
    }

    /// <summary>[S, T, parts·D] (parts of D columns each, heads inside each) → [parts, S, H, T, dh].</summary>
    private OnnxValue PerHead(OnnxValue x, int parts, int heads, string hint)
    {
        long s = x.Shape[0], t = x.Shape[1], dh = HeadWidth(heads);
        var split = Reshape(x, [0, 0, parts, heads, dh], [s, t, parts, heads, dh], hint + "_heads");
        return Transpose(split, [2, 0, 3, 1, 4], hint + "_per_head");
    }

    /// <summary>Part <paramref name="which"/> of <see cref="PerHead"/>'s output: [S, H, T, dh].</summary>
    private OnnxValue HeadPart(OnnxValue perHead, int which, string hint) =>
        Node("Gather", hint, OnnxElementType.Float, perHead.Shape.Skip(1).ToArray(), [perHead, ScalarI64(which)], a => a.Add(Int("axis", 0)));

    /// <summary>softmax(q kᵀ / √dh)·v per head: q [S, H, Q, dh], k and v [S, H, T, dh] → [S, H, Q, dh].</summary>
    private OnnxValue Heads(string prefix, OnnxValue q, OnnxValue k, OnnxValue v, string tag)
    {
        long s = q.Shape[0], h = q.Shape[1], nq = q.Shape[2], dh = q.Shape[3], t = k.Shape[2];
        var kt = Transpose(k, [0, 1, 3, 2], prefix + "k_t");
        var scores = Node("MatMul", prefix + "scores" + tag + "_raw", OnnxElementType.Float, [s, h, nq, t], [q, kt]);
        scores = Binary("Mul", scores, ScalarF(1f / MathF.Sqrt(dh)), prefix + "scores" + tag);
        var probs = Node("Softmax", prefix + "probs" + tag, OnnxElementType.Float, scores.Shape, [scores], a => a.Add(Int("axis", -1)));
        return Node("MatMul", prefix + "att" + tag + "_heads", OnnxElementType.Float, [s, h, nq, dh], [probs, v]);
    }

    /// <summary>fc1, exact GELU 0.5·x·(1 + erf(x/√2)), fc2.</summary>
    private OnnxValue Mlp(string prefix, OnnxValue x)
    {
        var h = Linear(x, prefix + "mlp.fc1", _info.MlpHidden, _info.EmbedDim, true);
        var g = Gelu(h, prefix + "gelu");
        return Linear(g, prefix + "mlp.fc2", _info.EmbedDim, _info.MlpHidden, true);
    }

    /// <summary>Exact GELU as Div, Erf, Add, Mul, Mul.</summary>
    internal OnnxValue Gelu(OnnxValue x, string hint)
    {
        var scaled = Binary("Div", x, ScalarF(MathF.Sqrt(2f)), hint + "_div");
        var erf = Node("Erf", hint + "_erf", OnnxElementType.Float, x.Shape, [scaled]);
        var onePlus = Binary("Add", erf, ScalarF(1f), hint + "_1p");
        var times = Binary("Mul", x, onePlus, hint + "_mul");
        return Binary("Mul", times, ScalarF(0.5f), hint);
    }

    /// <summary>y = x · wᵀ + b with w [out, in] (nn.Linear) as a MatMul by the transposed initializer NAME.weight.T.</summary>
    private OnnxValue Linear(OnnxValue x, string name, int outFeatures, int inFeatures, bool bias) =>
        Affine(x, WeightTransposed(name + ".weight", outFeatures, inFeatures), bias ? Weight(name + ".bias", outFeatures) : null, name);

    /// <summary>x · w (+ b): x [..., in], w [in, out], b [out] or null; the result is named <paramref name="name"/> (its MatMul NAME_mm when a bias follows).</summary>
    private OnnxValue Affine(OnnxValue x, OnnxValue w, OnnxValue? bias, string name)
    {
        var shape = x.Shape.Take(x.Rank - 1).Append(w.Shape[1]).ToArray();
        var y = Node("MatMul", name + (bias is null ? string.Empty : "_mm"), OnnxElementType.Float, shape, [x, w]);
        return bias is null ? y : Binary("Add", y, bias, name);
    }

    /// <summary>x[:, 0] of [S, T, D] → [S, D].</summary>
    private OnnxValue Token0(OnnxValue x, string hint) =>
        Node("Gather", hint, OnnxElementType.Float, [x.Shape[0], x.Shape[2]], [x, ScalarI64(0)], a => a.Add(Int("axis", 1)));

    private OnnxValue CheckedIds(OnnxValue ids, int count)
    {
        // ids outside [0, count) become SieRows, so that the SIE Gather fails instead of wrapping (negative) or
        // landing on another camera's row (cam·V + view with a view out of range).
        var low = Node("Less", ids.Name + "_below", OnnxElementType.Bool, ids.Shape, [ids, ScalarI64(0)]);
        var high = Node("GreaterOrEqual", ids.Name + "_above", OnnxElementType.Bool, ids.Shape, [ids, ScalarI64(count)]);
        var bad = Node("Or", ids.Name + "_out_of_range", OnnxElementType.Bool, ids.Shape, [low, high]);
        return Node("Where", ids.Name + "_checked", OnnxElementType.Int64, ids.Shape, [bad, ScalarI64(_info.SieRows), ids]);
    }

    // ---- graph plumbing -------------------------------------------------------------------------------------

    private OnnxValue Binary(string op, OnnxValue a, OnnxValue b, string hint) =>
        Node(op, hint, a.ElementType, Broadcast(a.Shape, b.Shape), [a, b]);

    private OnnxValue Transpose(OnnxValue x, long[] perm, string hint) =>
        Node("Transpose", hint, x.ElementType, [.. perm.Select(p => x.Shape[(int)p])], [x], a => a.Add(Ints("perm", perm)));

    private OnnxValue Reshape(OnnxValue x, long[] target, long[] shape, string hint) =>
        Node("Reshape", hint, x.ElementType, shape, [x, ConstI64([target.Length], target)]);

    private static long[] Broadcast(IReadOnlyList<long> a, IReadOnlyList<long> b)
    {
        int rank = Math.Max(a.Count, b.Count);
        var r = new long[rank];
        for (int i = 0; i < rank; i++)
        {
            long x = i - (rank - a.Count) >= 0 ? a[i - (rank - a.Count)] : 1;
            long y = i - (rank - b.Count) >= 0 ? b[i - (rank - b.Count)] : 1;
            r[i] = x == 1 ? y : x;
        }

        return r;
    }

    private OnnxValue Node(string op, string hint, OnnxElementType type, IReadOnlyList<long> shape, OnnxValue[] inputs,
        Action<Google.Protobuf.Collections.RepeatedField<AttributeProto>>? attributes = null)
    {
        string output = Fresh(hint);
        AddNode(op, [.. inputs.Select(i => i.Name)], output, attributes);
        return new OnnxValue(output, type, [.. shape]);
    }

    private void AddNode(string op, string[] inputs, string output, Action<Google.Protobuf.Collections.RepeatedField<AttributeProto>>? attributes)
    {
        var node = new NodeProto { OpType = op, Name = string.Create(CultureInfo.InvariantCulture, $"{op}_{_nodes++}") };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        attributes?.Invoke(node.Attribute);
        _graph.Node.Add(node);
    }

    /// <summary>A model tensor as an initializer (once per name), checked against the shape the graph needs.</summary>
    private OnnxValue Weight(string name, params long[] dims)
    {
        if (_weights.TryGetValue(name, out var known)) return known;
        float[] values = Read(name, dims);
        return AddInitializer(name, dims, FloatBytes(values), OnnxElementType.Float, cache: name);
    }

    /// <summary>A [rows, cols] model tensor stored transposed, [cols, rows], as NAME.T.</summary>
    private OnnxValue WeightTransposed(string name, int rows, int cols)
    {
        string key = name + ".T";
        if (_weights.TryGetValue(key, out var known)) return known;
        float[] values = Read(name, rows, cols);
        var t = new float[values.Length];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++) t[((long)c * rows) + r] = values[((long)r * cols) + c];
        }

        return AddInitializer(key, [cols, rows], FloatBytes(t), OnnxElementType.Float, cache: key);
    }

    private float[] Read(string name, params long[] dims)
    {
        float[] values = _parameter(name) ?? throw new InvalidOperationException($"the model has no tensor '{name}'");
        long expected = dims.Aggregate(1L, (a, b) => a * b);
        if (values.LongLength != expected)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"tensor '{name}' holds {values.LongLength} values, the ONNX graph needs [{string.Join(", ", dims)}] = {expected}"));
        }

        return values;
    }

    private OnnxValue ScalarF(float value) => AddInitializer(Fresh("const"), [], FloatBytes([value]), OnnxElementType.Float, cache: null);

    private OnnxValue ScalarI64(long value) => ConstI64([], [value]);

    private OnnxValue ConstF(long[] dims, float[] values) => AddInitializer(Fresh("const"), dims, FloatBytes(values), OnnxElementType.Float, cache: null);

    private OnnxValue ConstI64(long[] dims, long[] values, string hint = "const") =>
        AddInitializer(Fresh(hint), dims, MemoryMarshal.AsBytes(values.AsSpan()).ToArray(), OnnxElementType.Int64, cache: null);

    private OnnxValue AddInitializer(string name, long[] dims, byte[] raw, OnnxElementType type, string? cache)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX raw tensor data is little-endian; this machine is not");
        if (cache is not null) Claim(name);
        var tensor = new TensorProto { Name = name, DataType = ElementCode(type), RawData = UnsafeByteOperations.UnsafeWrap(raw) };
        tensor.Dims.AddRange(dims);
        _graph.Initializer.Add(tensor);
        var value = new OnnxValue(name, type, dims);
        if (cache is not null) _weights[cache] = value;
        return value;
    }

    private static byte[] FloatBytes(float[] values)
    {
        var bytes = new byte[values.LongLength * sizeof(float)];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        return bytes;
    }

    private static ValueInfoProto ValueInfo(string name, OnnxElementType type, IReadOnlyList<long> shape)
    {
        var tensorShape = new TensorShapeProto();
        foreach (long d in shape)
        {
            tensorShape.Dim.Add(d == OnnxValue.Dynamic
                ? new TensorShapeProto.Types.Dimension { DimParam = BatchDim }
                : new TensorShapeProto.Types.Dimension { DimValue = d });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = ElementCode(type), Shape = tensorShape } },
        };
    }

    private static int ElementCode(OnnxElementType type) => type switch
    {
        OnnxElementType.Float => FloatType,
        OnnxElementType.Int64 => Int64Type,
        OnnxElementType.UInt8 => UInt8Type,
        OnnxElementType.Bool => BoolType,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown element type"),
    };

    private static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    private static AttributeProto Float(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    private static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    private void Claim(string name)
    {
        if (!_names.Add(name)) throw new InvalidOperationException($"the ONNX graph already has a value named '{name}'");
    }

    private string Fresh(string hint)
    {
        string name = hint;
        for (int i = 1; !_names.Add(name); i++) name = string.Create(CultureInfo.InvariantCulture, $"{hint}_{i}");
        return name;
    }

    private static string Hint(string weightName) =>
        weightName.EndsWith(".weight", StringComparison.Ordinal) ? weightName[..^".weight".Length] : weightName;

    private static void CheckFixed(int? value, bool used, int count, string what)
    {
        if (value is not int v) return;
        if (!used)
            throw new ArgumentException($"the model has no {what} side information, so a fixed {what} has no meaning", nameof(value));
        if (v < 0 || v >= count)
            throw new ArgumentOutOfRangeException(nameof(value), v, $"the fixed {what} must be in [0, {count})");
    }

    private static long IrVersion(int opset) => opset switch
    {
        <= 18 => 8,
        <= 20 => 9,
        _ => 10,
    };

    private static string ProducerVersion()
    {
        var assembly = typeof(OnnxGraphBuilder).Assembly;
        string? informational = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        return informational ?? assembly.GetName().Version?.ToString() ?? "0.0.0";
    }

    private string Doc()
    {
        var i = _info;
        var inputs = new List<string>
        {
            _options.IncludePreprocessing
                ? string.Create(CultureInfo.InvariantCulture, $"images uint8 [N,{i.ImageHeight},{i.ImageWidth},3] RGB (normalised inside)")
                : string.Create(CultureInfo.InvariantCulture, $"images float32 [N,3,{i.ImageHeight},{i.ImageWidth}] normalised"),
        };
        if (i.UsesCameras && _options.FixedCamera is null) inputs.Add(string.Create(CultureInfo.InvariantCulture, $"cameras int64 [N] in [0,{i.Cameras})"));
        if (i.UsesViews && _options.FixedView is null) inputs.Add(string.Create(CultureInfo.InvariantCulture, $"views int64 [N] in [0,{i.Views})"));
        return string.Create(CultureInfo.InvariantCulture,
            $"TransReID {i.Name}{(_options.Preset is null ? string.Empty : " (preset " + _options.Preset + ")")}: inputs {string.Join("; ", inputs)}; output features float32 [N,{i.FeatureDim}] ({i.NeckFeature} the BNNecks)");
    }

    private static string Format(object? value) => value switch
    {
        null => string.Empty,
        bool b => b ? "true" : "false",
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? string.Empty,
    };
}
