using System;
using System.Collections.Generic;
using System.Linq;
using TransReID.Runtime;
using TransReID.Runtime.Model;

namespace TransReID.Cli.Presets;

/// <summary>
/// A named model compiled into the CLI by the same generator a user's project runs: <see cref="Create"/> makes it on a
/// device, <see cref="CreateOn"/> on a backend the caller configured (e.g. CUDA with TF32; the model then owns it).
/// </summary>
internal sealed record Preset(string Name, string Description, ModelInfo Info, Func<Device, int, ITransReIDModel> Create,
    Func<IBackend, int, ITransReIDModel> CreateOn);

/// <summary>The presets the CLI offers (<c>transreid presets</c> lists them).</summary>
internal static class PresetRegistry
{
    public static IReadOnlyList<Preset> All { get; } =
    [
        Make<MarketVitTransReIDStride>("market-vit-transreid-stride", "Market-1501 TransReID: stride 12, camera SIE, JPM (configs/Market/vit_transreid_stride.yml)"),
        Make<MarketVitTransReID>("market-vit-transreid", "Market-1501 TransReID: stride 16, camera SIE, JPM (configs/Market/vit_transreid.yml)"),
        Make<MarketVitBase>("market-vit-base", "Market-1501 ViT-B/16 baseline: stride 16, no SIE, no JPM (configs/Market/vit_base.yml)"),
        Make<DukeVitTransReIDStride>("duke-vit-transreid-stride", "DukeMTMC-reID TransReID stride 12 (8 cameras, 702 ids)"),
        Make<Msmt17VitTransReIDStride>("msmt17-vit-transreid-stride", "MSMT17 TransReID stride 12 (15 cameras, 1041 ids)"),
        Make<VeriVitTransReIDStride>("veri-vit-transreid-stride", "VeRi-776 TransReID stride 12, 256x256, camera+view SIE (20 x 8), shift 8"),
        Make<MarketDeitTransReIDStride>("market-deit-transreid-stride", "Market-1501 DeiT-B/16 TransReID stride 12 (configs/Market/deit_transreid_stride.yml; start from DeiT-B distilled weights)"),
        Make<DukeDeitTransReIDStride>("duke-deit-transreid-stride", "DukeMTMC-reID DeiT-B/16 TransReID stride 12 (8 cameras, 702 ids)"),
        Make<Msmt17DeitTransReIDStride>("msmt17-deit-transreid-stride", "MSMT17 DeiT-B/16 TransReID stride 12 (15 cameras, 1041 ids; official LR 0.005)"),
        Make<VeriDeitTransReIDStride>("veri-deit-transreid-stride", "VeRi-776 DeiT-B/16 TransReID stride 12, 256x256, camera+view SIE, shift 8, ImageNet mean/std"),
        Make<VehicleIdDeitTransReIDStride>("vehicleid-deit-transreid-stride", "VehicleID DeiT-B/16 TransReID stride 12, 256x256, no SIE, shift 8, 13164 ids, ImageNet mean/std"),
        Make<TinyDemo>("tiny-demo", "A tiny TransReID (64x32, depth 3, width 48, 3 cameras, JPM, 30 ids: synth's defaults) for trying the CLI in seconds"),
    ];

    private static Preset Make<T>(string name, string description)
        where T : ITransReIDModel<T> =>
        new(name, description, T.ModelInfo, (device, seed) => T.Create(device, seed), (backend, seed) => T.Create(backend, seed));

    public static Preset Find(string name) =>
        All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new CliException($"unknown preset '{name}'; presets: {string.Join(", ", All.Select(p => p.Name))}");
}
