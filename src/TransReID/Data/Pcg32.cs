using System;

namespace TransReID.Data;

/// <summary>
/// PCG-XSH-RR 32-bit generator (O'Neill 2014): small, fast and identical on every platform and .NET version, so seeded
/// augmentation and sampling are reproducible. A value type: copy it to snapshot the state. It is not the model's
/// <see cref="TransReID.Runtime.Model.Rng"/> (xoshiro256**, checkpointed with the model): the two are different
/// algorithms, and the data pipeline's streams (per sample, per epoch) must stay what they are for seeded runs to repeat.
/// </summary>
public struct Pcg32
{
    private const ulong Multiplier = 6364136223846793005UL;

    private ulong _state;
    private readonly ulong _increment;
    private double _spareGaussian;
    private bool _hasSpareGaussian;

    /// <summary>Creates a generator from a seed and a stream selector (any values; different streams are independent).</summary>
    public Pcg32(ulong seed, ulong stream = 0)
    {
        _state = 0;
        _increment = (stream << 1) | 1UL;
        _spareGaussian = 0;
        _hasSpareGaussian = false;
        NextUInt();
        _state += seed;
        NextUInt();
    }

    /// <summary>
    /// The generator for one sample of one epoch: the same (seed, epoch, index) always gives the same sequence, whatever
    /// thread or order the samples are processed in.
    /// </summary>
    public static Pcg32 ForSample(int seed, int epoch, long index) =>
        new(Mix(((ulong)(uint)seed << 32) | (uint)epoch), Mix((ulong)index ^ 0x9E3779B97F4A7C15UL));

    /// <summary>SplitMix64 (<see cref="TransReID.Runtime.Model.Rng.SplitMix64"/>): spreads nearby integers over the whole 64-bit range.</summary>
    public static ulong Mix(ulong x) => TransReID.Runtime.Model.Rng.SplitMix64(x);

    /// <summary>Uniform 32-bit value.</summary>
    public uint NextUInt()
    {
        ulong old = _state;
        _state = unchecked((old * Multiplier) + _increment);
        uint xorShifted = (uint)(((old >> 18) ^ old) >> 27);
        int rot = (int)(old >> 59);
        return (xorShifted >> rot) | (xorShifted << ((-rot) & 31));
    }

    /// <summary>Uniform integer in [0, <paramref name="maxExclusive"/>), unbiased (Lemire's multiply-and-reject).</summary>
    public int NextInt(int maxExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxExclusive, 1);
        uint range = (uint)maxExclusive;
        ulong m = (ulong)NextUInt() * range;
        uint low = (uint)m;
        if (low < range)
        {
            uint threshold = (uint)(-range) % range;
            while (low < threshold)
            {
                m = (ulong)NextUInt() * range;
                low = (uint)m;
            }
        }

        return (int)(m >> 32);
    }

    /// <summary>Uniform integer in [<paramref name="minInclusive"/>, <paramref name="maxInclusive"/>] (Python's randint).</summary>
    public int NextIntInclusive(int minInclusive, int maxInclusive)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxInclusive, minInclusive);
        return minInclusive + NextInt(maxInclusive - minInclusive + 1);
    }

    /// <summary>Uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble()
    {
        ulong bits = ((ulong)NextUInt() << 21) ^ (NextUInt() >> 11);
        return (bits & ((1UL << 53) - 1)) * (1.0 / (1UL << 53));
    }

    /// <summary>Uniform double in [<paramref name="min"/>, <paramref name="max"/>).</summary>
    public double NextDouble(double min, double max) => min + ((max - min) * NextDouble());

    /// <summary>Standard normal N(0, 1) (Box–Muller; the second value of each pair is kept for the next call).</summary>
    public double NextGaussian()
    {
        if (_hasSpareGaussian)
        {
            _hasSpareGaussian = false;
            return _spareGaussian;
        }

        double u1 = 1.0 - NextDouble(); // (0, 1]: log is finite
        double u2 = NextDouble();
        double radius = Math.Sqrt(-2.0 * Math.Log(u1));
        double angle = 2.0 * Math.PI * u2;
        _spareGaussian = radius * Math.Sin(angle);
        _hasSpareGaussian = true;
        return radius * Math.Cos(angle);
    }

    /// <summary>Fisher–Yates shuffle in place.</summary>
    public void Shuffle<T>(Span<T> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}
