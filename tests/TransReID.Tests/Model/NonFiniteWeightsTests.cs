using System;
using System.IO;
using System.Linq;
using TransReID.Runtime;
using TransReID.Runtime.IO;
using TransReID.Tests.IO;

namespace TransReID.Tests.Model;

/// <summary>A NaN or infinity in a weights file is refused at load, naming the tensor and the first bad index.</summary>
public sealed class NonFiniteWeightsTests : IDisposable
{
    private static readonly string s_weights = Path.Combine(AppContext.BaseDirectory, "Fixtures", "tiny_jpm_sie", "weights.safetensors");
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>The fixture's tensors with <paramref name="value"/> written at flat index 7 of <paramref name="key"/>.</summary>
    private static (string Name, float[] Values, long[] Shape)[] Poisoned(string key, float value)
    {
        using var file = SafetensorsFile.Open(s_weights);
        return file.Entries.Values.OrderBy(e => e.Begin).Where(e => e.Dtype == SafetensorsDtype.F32).Select(e =>
        {
            float[] v = file.ReadF32(e.Name);
            if (e.Name == key) v[7] = value;
            return (e.Name, v, e.Shape);
        }).ToArray();
    }

    [Theory]
    [InlineData(float.NaN, "NaN")]
    [InlineData(float.PositiveInfinity, "+Inf")]
    [InlineData(float.NegativeInfinity, "-Inf")]
    public void Safetensors_with_a_non_finite_value_is_refused_naming_tensor_and_index(float value, string text)
    {
        var writer = new SafetensorsWriter();
        using (var source = SafetensorsFile.Open(s_weights))
        {
            foreach (var entry in source.Entries.Values.Where(x => x.Dtype != SafetensorsDtype.F32))
            {
                writer.Add(entry.Name, source.ReadI64(entry.Name), entry.Shape);
            }
        }

        foreach (var (name, values, shape) in Poisoned("base.blocks.1.attn.qkv.weight", value)) writer.Add(name, values, shape);
        string path = _dir.File("nan.safetensors");
        writer.Save(path);

        using var model = TinyJpmSie.Create(Device.Cpu, 0);
        float before = model.Core.ReadParameter("base.blocks.1.attn.qkv.weight")[7];
        var e = Assert.Throws<SafetensorsException>(() => model.Load(path));
        Assert.Equal("base.blocks.1.attn.qkv.weight", e.Key);
        Assert.Contains("value [0, 7] (flat index 7) is " + text, e.Message, StringComparison.Ordinal);
        Assert.Equal(before, model.Core.ReadParameter("base.blocks.1.attn.qkv.weight")[7]); // nothing was loaded
    }

    [Fact]
    public void Pth_with_a_NaN_is_refused_naming_tensor_and_index()
    {
        string path = _dir.File("nan.pth");
        TorchZipWriter.Save(path, Poisoned("base.pos_embed", float.NaN));
        using var model = TinyJpmSie.Create(Device.Cpu, 0);
        var e = Assert.Throws<PthException>(() => model.Load(path));
        Assert.Equal("base.pos_embed", e.Key);
        Assert.Contains("value [0, 0, 7] (flat index 7) is NaN", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ImageNet_pth_with_an_infinity_is_refused_by_LoadPretrained()
    {
        string path = _dir.File("inf.pth");
        string key;
        using (var file = PthFile.Open(PthFixtures.File("imagenet_zip.pth")))
        {
            key = file.Tensors.First(t => t.Name.StartsWith("blocks.0.", StringComparison.Ordinal) && t.ElementCount > 3).Name;
            TorchZipWriter.Save(path, file.Tensors.Where(t => t.Dtype is SafetensorsDtype.F32 or SafetensorsDtype.F16 or SafetensorsDtype.BF16 or SafetensorsDtype.F64).Select(t =>
            {
                float[] v = file.ReadF32(t.Name);
                if (t.Name == key) v[3] = float.PositiveInfinity;
                return (t.Name, v, t.Shape);
            }).ToArray());
        }

        using var model = PthImageNet.Create(Device.Cpu, 0);
        var e = Assert.Throws<PthException>(() => model.LoadPretrained(path, 0));
        Assert.Equal(key, e.Key);
        Assert.Contains("(flat index 3) is +Inf", e.Message, StringComparison.Ordinal);
    }
}
