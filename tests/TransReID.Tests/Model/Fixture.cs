using System;
using System.IO;
using System.Linq;
using TransReID.Runtime.IO;

namespace TransReID.Tests.Model;

/// <summary>A committed PyTorch-reference fixture (tests/reference/make_fixtures.py): weights, inputs, expected outputs.</summary>
internal sealed class Fixture : IDisposable
{
    private Fixture(string name)
    {
        Directory = Path.Combine(AppContext.BaseDirectory, "Fixtures", name);
        WeightsPath = Path.Combine(Directory, "weights.safetensors");
        Inputs = SafetensorsFile.Open(Path.Combine(Directory, "inputs.safetensors"));
        Expected = SafetensorsFile.Open(Path.Combine(Directory, "expected.safetensors"));
    }

    public string Directory { get; }
    public string WeightsPath { get; }
    public SafetensorsFile Inputs { get; }
    public SafetensorsFile Expected { get; }

    public float[] Images => Inputs.ReadF32("images");
    public int[] Cameras => Inputs.ReadI32("cameras");
    public int[] Views => Inputs.ReadI32("views");
    public int[] Labels => Inputs.ReadI32("labels");

    public static Fixture Open(string name) => new(name);

    public float Loss(string name) => Expected.ReadF32("loss." + name)[0];

    public void Dispose()
    {
        Inputs.Dispose();
        Expected.Dispose();
    }

    /// <summary>‖a − b‖ / max(‖b‖, floor) in float64.</summary>
    public static double RelativeL2(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, double floor = 0)
    {
        if (actual.Length != expected.Length) throw new ArgumentException($"length {actual.Length} vs {expected.Length}");
        double num = 0, den = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double d = (double)actual[i] - expected[i];
            num += d * d;
            den += (double)expected[i] * expected[i];
        }

        double scale = Math.Max(Math.Sqrt(den), floor);
        return scale == 0 ? Math.Sqrt(num) : Math.Sqrt(num) / scale;
    }

    public string[] GradientNames => Expected.Entries.Keys.Where(k => k.StartsWith("grad.", StringComparison.Ordinal)).Select(k => k["grad.".Length..]).Order(StringComparer.Ordinal).ToArray();
}
