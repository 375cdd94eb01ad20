using TransReID.Runtime;

namespace TransReID.Cli.Presets;

/// <summary>
/// <c>configs/Market/vit_transreid_stride.yml</c>: ViT-B/16 at 256×128 with overlapping patches (stride 12), camera SIE
/// (6 cameras, λ = 3.0), JPM (4 parts, shift 5, 2 groups), 751 identities; test feature before the BNNecks.
/// </summary>
[TransReIDModel(StrideY = 12, StrideX = 12, Cameras = 6, SieCoefficient = 3.0, Jpm = true, Classes = 751)]
public sealed partial class MarketVitTransReIDStride;

/// <summary><c>configs/Market/vit_transreid.yml</c>: as the stride preset with non-overlapping patches (stride 16).</summary>
[TransReIDModel(Cameras = 6, Jpm = true, Classes = 751)]
public sealed partial class MarketVitTransReID;

/// <summary><c>configs/Market/vit_base.yml</c>: the plain ViT-B/16 baseline (stride 16, no SIE, no JPM), 751 identities.</summary>
[TransReIDModel(Jpm = false, Classes = 751)]
public sealed partial class MarketVitBase;

/// <summary><c>configs/DukeMTMC/vit_transreid_stride.yml</c>: the stride model with 8 cameras and 702 identities.</summary>
[TransReIDModel(StrideY = 12, StrideX = 12, Cameras = 8, Jpm = true, Classes = 702)]
public sealed partial class DukeVitTransReIDStride;

/// <summary><c>configs/MSMT17/vit_transreid_stride.yml</c>: the stride model with 15 cameras and 1041 identities.</summary>
[TransReIDModel(StrideY = 12, StrideX = 12, Cameras = 15, Jpm = true, Classes = 1041)]
public sealed partial class Msmt17VitTransReIDStride;

/// <summary><c>configs/VeRi/vit_transreid_stride.yml</c>: 256×256 vehicles, camera and view SIE (20 × 8), shift 8, 576 identities.</summary>
[TransReIDModel(ImageHeight = 256, ImageWidth = 256, StrideY = 12, StrideX = 12, Cameras = 20, Views = 8, Jpm = true, JpmShift = 8, Classes = 576)]
public sealed partial class VeriVitTransReIDStride;

// DeiT-B/16 is ViT-B/16's architecture: the official DeiT configs differ in the ImageNet weights they start from
// (deit_base_distilled_patch16_224, 'train --pretrained'), random erasing 0.8 and, for vehicles, the normalisation.

/// <summary><c>configs/Market/deit_transreid_stride.yml</c>: DeiT-B/16 TransReID, stride 12, camera SIE (6), JPM, 751 identities.</summary>
[TransReIDModel(StrideY = 12, StrideX = 12, Cameras = 6, Jpm = true, Classes = 751)]
public sealed partial class MarketDeitTransReIDStride;

/// <summary><c>configs/DukeMTMC/deit_transreid_stride.yml</c>: DeiT-B/16 TransReID stride 12, 8 cameras, 702 identities.</summary>
[TransReIDModel(StrideY = 12, StrideX = 12, Cameras = 8, Jpm = true, Classes = 702)]
public sealed partial class DukeDeitTransReIDStride;

/// <summary><c>configs/MSMT17/deit_transreid_stride.yml</c>: DeiT-B/16 TransReID stride 12, 15 cameras, 1041 identities (base LR 0.005).</summary>
[TransReIDModel(StrideY = 12, StrideX = 12, Cameras = 15, Jpm = true, Classes = 1041)]
public sealed partial class Msmt17DeitTransReIDStride;

/// <summary>
/// <c>configs/VeRi/deit_transreid_stride.yml</c>: DeiT-B/16, 256×256, stride 12, camera and view SIE (20 × 8), shift 8,
/// 576 identities; the config keeps the ImageNet normalisation (no PIXEL_MEAN/STD override).
/// </summary>
[TransReIDModel(ImageHeight = 256, ImageWidth = 256, StrideY = 12, StrideX = 12, Cameras = 20, Views = 8, Jpm = true, JpmShift = 8, Classes = 576,
    PixelMean = new[] { 0.485, 0.456, 0.406 }, PixelStd = new[] { 0.229, 0.224, 0.225 })]
public sealed partial class VeriDeitTransReIDStride;

/// <summary>
/// <c>configs/VehicleID/deit_transreid_stride.yml</c>: DeiT-B/16, 256×256, stride 12, no SIE, JPM with shift 8, 13 164
/// identities, ImageNet normalisation.
/// </summary>
[TransReIDModel(ImageHeight = 256, ImageWidth = 256, StrideY = 12, StrideX = 12, Jpm = true, JpmShift = 8, Classes = 13164,
    PixelMean = new[] { 0.485, 0.456, 0.406 }, PixelStd = new[] { 0.229, 0.224, 0.225 })]
public sealed partial class VehicleIdDeitTransReIDStride;

/// <summary>
/// A tiny model for trying the CLI in seconds and for its tests: 64×32 images, patch 8, stride 6, depth 3, width 48,
/// 3 heads, camera SIE (3 cameras), JPM, 30 identities: the train split of <c>transreid synth</c>'s defaults (60 ids, 3
/// cameras). The backbone is the tiny_jpm_sie test fixture's (its 5-class classifiers are skipped on load).
/// </summary>
[TransReIDModel(ImageHeight = 64, ImageWidth = 32, PatchSize = 8, StrideY = 6, StrideX = 6, Depth = 3, EmbedDim = 48, Heads = 3, Cameras = 3, Jpm = true, Classes = 30)]
public sealed partial class TinyDemo;
