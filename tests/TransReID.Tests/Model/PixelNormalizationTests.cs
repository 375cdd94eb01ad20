using TransReID.Cli.Presets;

namespace TransReID.Tests.Model;

/// <summary><c>PixelMean</c>/<c>PixelStd</c> of the attribute: constants on the class, values in <c>ModelInfo</c> (used by embed, eval, train).</summary>
public sealed class PixelNormalizationTests
{
    [Fact]
    public void Default_is_half_on_every_channel()
    {
        Assert.Equal(0.5f, TinyJpmSie.PixelMeanR);
        Assert.Equal(0.5f, TinyJpmSie.PixelStdB);
        Assert.Equal([0.5f, 0.5f, 0.5f], TinyJpmSie.ModelInfo.PixelMean);
        Assert.Equal([0.5f, 0.5f, 0.5f], TinyJpmSie.ModelInfo.PixelStd);
    }

    [Fact]
    public void Vehicle_DeiT_presets_use_the_ImageNet_normalisation()
    {
        Assert.Equal([0.485f, 0.456f, 0.406f], PresetRegistry.Find("veri-deit-transreid-stride").Info.PixelMean);
        Assert.Equal([0.229f, 0.224f, 0.225f], PresetRegistry.Find("vehicleid-deit-transreid-stride").Info.PixelStd);
        Assert.Equal(0.224f, VeriDeitTransReIDStride.PixelStdG);
        Assert.Equal([0.5f, 0.5f, 0.5f], PresetRegistry.Find("market-deit-transreid-stride").Info.PixelMean);
        Assert.Equal(MarketVitTransReIDStride.ParameterCount, MarketDeitTransReIDStride.ParameterCount);
    }
}
