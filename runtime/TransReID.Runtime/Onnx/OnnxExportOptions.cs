namespace TransReID.Runtime.Onnx;

/// <summary>Options of an ONNX export (<see cref="OnnxGraphBuilder"/>, the generated <c>ExportOnnx</c>, <c>transreid export</c>).</summary>
public sealed record OnnxExportOptions
{
    /// <summary>The default opset import: LayerNormalization needs 17.</summary>
    public const int DefaultOpset = 17;

    /// <summary>Lowest opset the exporter writes.</summary>
    public const int MinOpset = 17;

    /// <summary>Highest opset the exporter writes (the ops it uses have the same meaning from 17 to 21).</summary>
    public const int MaxOpset = 21;

    /// <summary>The ONNX opset of the default domain; <see cref="MinOpset"/> to <see cref="MaxOpset"/>.</summary>
    public int Opset { get; init; } = DefaultOpset;

    /// <summary>A camera index baked into the graph (no <c>cameras</c> input); only for a model with camera SIE.</summary>
    public int? FixedCamera { get; init; }

    /// <summary>A view index baked into the graph (no <c>views</c> input); only for a model with view SIE.</summary>
    public int? FixedView { get; init; }

    /// <summary>
    /// Whether the graph takes raw uint8 RGB images [N, H, W, 3] and normalises them itself (/255, −mean, /std, to
    /// NCHW) instead of normalised float32 [N, 3, H, W].
    /// </summary>
    public bool IncludePreprocessing { get; init; }

    /// <summary>The CLI preset name, recorded in the metadata.</summary>
    public string? Preset { get; init; }
}
