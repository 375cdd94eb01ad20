using System;
using static TransReID.Runtime.Tests.Cpu.Reference;

namespace TransReID.Runtime.Tests.Cpu;

/// <summary>Residual with drop-path scales, ScaleRows (its backward), CopyRows, and the memory ops.</summary>
public class ElementwiseTests
{
    private const int Batch = 3;
    private static readonly float[] DropPath = [0f, 1f / 0.9f, 1f / 0.9f]; // sample 0 dropped, the others kept at 1/keep

    private static double[] ResidualRef(double[] x, double[] br, float[]? scale, long rowLength)
    {
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++) y[i] = x[i] + br[i] * (scale is null ? 1 : scale[i / rowLength]);
        return y;
    }

    [Theory]
    [InlineData(true, 37)]
    [InlineData(false, 37)]
    [InlineData(true, 40_000)]
    public void Residual_matches_reference(bool dropPath, int rowLength)
    {
        int n = Batch * rowLength;
        using var rig = new CpuRig();
        float[] x = Random(1, n), br = Random(2, n);
        DevicePtr y = rig.Alloc(n);
        rig.Backend.Residual(rig.Up(x), rig.Up(br), dropPath ? rig.Up(DropPath) : DevicePtr.Null, y, Batch, rowLength);
        AssertClose(ResidualRef(D(x), D(br), dropPath ? DropPath : null, rowLength), rig.Down(y, n), 1e-6, "y");
    }

    [Fact]
    public void Residual_in_place()
    {
        const int rowLength = 50, n = Batch * rowLength;
        using var rig = new CpuRig();
        float[] x = Random(3, n), br = Random(4, n);
        DevicePtr xp = rig.Up(x);
        rig.Backend.Residual(xp, rig.Up(br), rig.Up(DropPath), xp, Batch, rowLength);
        AssertClose(ResidualRef(D(x), D(br), DropPath, rowLength), rig.Down(xp, n), 1e-6, "x");
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, false)]
    [InlineData(true, true)]
    [InlineData(false, true)]
    public void ScaleRows_is_the_residual_branch_gradient(bool dropPath, bool inPlace)
    {
        const int rowLength = 29, n = Batch * rowLength;
        using var rig = new CpuRig();
        float[] x = Random(5, n), br = Random(6, n), r = Random(7, n);
        DevicePtr src = rig.Up(r), dst = inPlace ? src : rig.Alloc(n);
        rig.Backend.ScaleRows(src, dropPath ? rig.Up(DropPath) : DevicePtr.Null, dst, Batch, rowLength);
        double[] xd = D(x), bd = D(br), rd = D(r);
        double Loss() => Dot(rd, ResidualRef(xd, bd, dropPath ? DropPath : null, rowLength));
        GradCheck.AssertClose(GradCheck.Numeric(Loss, bd), rig.Down(dst, n), "dbranch");
        GradCheck.AssertClose(GradCheck.Numeric(Loss, xd), r, "dx (identity)");
    }

    [Theory]
    [InlineData(1f, false)]
    [InlineData(0.25f, false)]
    [InlineData(1f, true)]
    [InlineData(-0.5f, true)]
    public void CopyRows_strided(float alpha, bool accumulate)
    {
        const int rows = 4, rowLength = 5, srcStride = 9, dstStride = 7;
        using var rig = new CpuRig();
        float[] src = Random(8, rows * srcStride), dst0 = Random(9, rows * dstStride);
        DevicePtr dst = rig.Up(dst0);
        rig.Backend.CopyRows(rig.Up(src), srcStride, dst, dstStride, rows, rowLength, alpha, accumulate);
        double[] expected = D(dst0);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < rowLength; c++)
                expected[r * dstStride + c] = (accumulate ? dst0[r * dstStride + c] : 0) + (double)alpha * src[r * srcStride + c];
        AssertClose(expected, rig.Down(dst, rows * dstStride), 1e-6, "dst");
    }

    [Fact]
    public void Allocate_upload_download_zero_copy()
    {
        using var rig = new CpuRig();
        using DeviceBuffer buf = rig.Backend.Allocate(1_000_003);
        Assert.Equal(1_000_003, buf.Length);
        Assert.Equal(0, buf.Ptr.Address % 64);
        float[] zeros = rig.Down(buf.Ptr, buf.Length);
        Assert.True(Array.TrueForAll(zeros, v => v == 0f), "a fresh buffer is zeroed");
        float[] data = Random(10, buf.Length);
        rig.Backend.Upload(data, buf.Ptr);
        AssertEqual(data, rig.Down(buf.Ptr, buf.Length), "round trip");
        DevicePtr copy = rig.Alloc(buf.Length);
        rig.Backend.Copy(buf.Ptr, copy, buf.Length);
        AssertEqual(data, rig.Down(copy, buf.Length), "copy");
        rig.Backend.Zero(buf.Ptr + 1, buf.Length - 2);
        float[] z = rig.Down(buf.Ptr, buf.Length);
        Assert.Equal(data[0], z[0]);
        Assert.Equal(data[^1], z[^1]);
        Assert.True(Array.TrueForAll(z[1..^1], v => v == 0f), "Zero cleared the range");
        int[] ints = [3, -1, 7];
        rig.Backend.Upload(ints, copy);
        unsafe
        {
            Assert.Equal(-1, copy.I[1]);
        }
    }

    [Fact]
    public void Disposed_buffer_refuses_its_pointer_and_null_arguments_are_named()
    {
        using var rig = new CpuRig(threads: 1);
        DeviceBuffer buf = rig.Backend.Allocate(16);
        buf.Dispose();
        buf.Dispose();
        Assert.Throws<ObjectDisposedException>(() => buf.Ptr);
        var e = Assert.Throws<ArgumentNullException>(() => rig.Backend.Linear(DevicePtr.Null, rig.Alloc(4), DevicePtr.Null, rig.Alloc(4), 2, 2, 2));
        Assert.Contains("Linear: x must not be null", e.Message, StringComparison.Ordinal);
        Assert.StartsWith("CPU (1 thread,", rig.Backend.Name, StringComparison.Ordinal);
    }
}
