using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using TransReID.Runtime;

namespace TransReID.Cuda.Tests;

/// <summary>A tensor that exists twice: once in the reference backend, once in the candidate, with the same contents.</summary>
public sealed class TwinBuffer(DeviceBuffer reference, DeviceBuffer candidate, long length)
{
    public DeviceBuffer Reference { get; } = reference;
    public DeviceBuffer Candidate { get; } = candidate;
    public long Length { get; } = length;
}

/// <summary>
/// Runs the same op on a reference backend (the CPU) and a candidate (CUDA, or the CPU with other settings) on the
/// same inputs, then compares outputs elementwise: |c − r| ≤ rtol·(|r| + mean|r|), NaN only where the reference
/// has NaN. On failure the message gives the max error, where it is, and the first mismatches (llm.c's check_tensor).
/// </summary>
public sealed class Twin(IBackend reference, IBackend candidate) : IDisposable
{
    private readonly List<TwinBuffer> _buffers = [];

    public IBackend ReferenceBackend { get; } = reference;
    public IBackend CandidateBackend { get; } = candidate;

    /// <summary>Normal(0, scale) floats from a seeded generator (Box–Muller).</summary>
    public static float[] Normal(int seed, long n, float scale = 1f, float mean = 0f)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (long i = 0; i < n; i++)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            a[i] = mean + scale * (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }

        return a;
    }

    /// <summary>Uniform floats in [lo, hi) from a seeded generator.</summary>
    public static float[] Uniform(int seed, long n, float lo, float hi)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (long i = 0; i < n; i++) a[i] = lo + (hi - lo) * (float)rng.NextDouble();
        return a;
    }

    public TwinBuffer Floats(float[] data)
    {
        TwinBuffer b = Zeros(data.Length);
        ReferenceBackend.Upload(data, b.Reference.Ptr);
        CandidateBackend.Upload(data, b.Candidate.Ptr);
        return b;
    }

    public TwinBuffer Ints(int[] data)
    {
        TwinBuffer b = Zeros(data.Length);
        ReferenceBackend.Upload(data, b.Reference.Ptr);
        CandidateBackend.Upload(data, b.Candidate.Ptr);
        return b;
    }

    public TwinBuffer Zeros(long n)
    {
        var b = new TwinBuffer(ReferenceBackend.Allocate(n), CandidateBackend.Allocate(n), n);
        _buffers.Add(b);
        return b;
    }

    /// <summary>Runs <paramref name="op"/> on both backends; <c>p(buffer)</c> gives the buffer's address there (null → DevicePtr.Null).</summary>
    public void Run(Action<IBackend, Func<TwinBuffer?, DevicePtr>> op)
    {
        op(ReferenceBackend, b => b == null ? DevicePtr.Null : b.Reference.Ptr);
        op(CandidateBackend, b => b == null ? DevicePtr.Null : b.Candidate.Ptr);
    }

    public (float[] Reference, float[] Candidate) Download(TwinBuffer b)
    {
        var r = new float[b.Length];
        var c = new float[b.Length];
        ReferenceBackend.Download(b.Reference.Ptr, r);
        CandidateBackend.Download(b.Candidate.Ptr, c);
        return (r, c);
    }

    public void AssertClose(TwinBuffer b, string name, double rtol = 1e-5)
    {
        (float[] r, float[] c) = Download(b);
        AssertClose(r, c, name, rtol);
    }

    public static void AssertClose(float[] reference, float[] candidate, string name, double rtol = 1e-5)
    {
        Assert.Equal(reference.Length, candidate.Length);
        double meanAbs = reference.Length == 0 ? 0 : reference.Where(float.IsFinite).Select(v => Math.Abs((double)v)).DefaultIfEmpty(0).Average();
        double maxErr = 0, maxDiff = 0;
        long worst = -1;
        var bad = new List<long>();
        for (long i = 0; i < reference.Length; i++)
        {
            float r = reference[i], c = candidate[i];
            if (float.IsNaN(r) || float.IsNaN(c))
            {
                if (float.IsNaN(r) != float.IsNaN(c)) bad.Add(i);
                continue;
            }

            double diff = Math.Abs((double)c - r);
            double err = diff / (Math.Abs((double)r) + meanAbs + 1e-30);
            if (err > maxErr)
            {
                maxErr = err;
                worst = i;
            }

            maxDiff = Math.Max(maxDiff, diff);
            if (err > rtol) bad.Add(i);
        }

        if (bad.Count == 0) return;
        var message = new StringBuilder();
        message.Append(CultureInfo.InvariantCulture,
            $"{name}: {bad.Count} of {reference.Length} elements differ by more than {rtol:g3} (relative to |ref| + mean|ref| = {meanAbs:g4}); max error {maxErr:g4} at [{worst}], max |diff| {maxDiff:g4}. First mismatches:");
        foreach (long i in bad.Take(5)) message.Append(CultureInfo.InvariantCulture, $"\n  [{i}] reference {reference[i]:R} candidate {candidate[i]:R}");
        Assert.Fail(message.ToString());
    }

    public void Dispose()
    {
        foreach (TwinBuffer b in _buffers)
        {
            b.Reference.Dispose();
            b.Candidate.Dispose();
        }

        _buffers.Clear();
    }
}
