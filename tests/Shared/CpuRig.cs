// Linked into the test projects (TransReID.Runtime.Tests, TransReID.Tests): the one CPU test rig.
using System;
using System.Collections.Generic;
using TransReID.Runtime;
using TransReID.Runtime.Cpu;

namespace TransReID.TestShared;

/// <summary>A CPU backend plus the buffers a test allocated on it, all freed on dispose.</summary>
internal sealed class CpuRig : IDisposable
{
    private readonly List<DeviceBuffer> _buffers = [];

    public CpuRig(int threads = 2) => Backend = new CpuBackend(threads);

    public CpuBackend Backend { get; }

    public DevicePtr Alloc(long elements)
    {
        DeviceBuffer b = Backend.Allocate(elements);
        _buffers.Add(b);
        return b.Ptr;
    }

    public DevicePtr Up(float[] data)
    {
        DevicePtr p = Alloc(data.Length);
        Backend.Upload(data, p);
        return p;
    }

    public DevicePtr Up(int[] data)
    {
        DevicePtr p = Alloc(data.Length);
        Backend.Upload(data, p);
        return p;
    }

    /// <summary>Uploads, or returns <see cref="DevicePtr.Null"/> for null.</summary>
    public DevicePtr UpOrNull(float[]? data) => data is null ? DevicePtr.Null : Up(data);

    public float[] Down(DevicePtr p, long elements)
    {
        var r = new float[elements];
        Backend.Download(p, r);
        return r;
    }

    public void Dispose()
    {
        foreach (DeviceBuffer b in _buffers) b.Dispose();
        Backend.Dispose();
    }
}
