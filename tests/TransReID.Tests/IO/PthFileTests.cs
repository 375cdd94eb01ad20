using System;
using System.IO;
using System.Linq;
using TransReID.Runtime.IO;

namespace TransReID.Tests.IO;

/// <summary>The PyTorch checkpoint reader against files written by torch 1.13 (zip and legacy containers).</summary>
public sealed class PthFileTests
{
    public static TheoryData<string> Containers => new() { "tensors_zip.pth", "tensors_legacy.pth" };

    [Theory]
    [MemberData(nameof(Containers))]
    public void Special_tensors_read_as_torch_wrote_them(string name)
    {
        using var expected = SafetensorsFile.Open(PthFixtures.File("tensors_expected.safetensors"));
        using var file = PthFile.Open(PthFixtures.File(name));
        Assert.Equal(name.Contains("zip", StringComparison.Ordinal) ? "zip" : "legacy", file.Format);
        // the legacy file wraps the state dict with an epoch and an optimizer (whose momentum buffer is not a weight)
        // in the order torch wrote them (the expected file lists them in the same dict order)
        Assert.Equal(expected.Entries.Values.OrderBy(e => e.Begin).Select(e => e.Name), file.Tensors.Select(t => t.Name));
        foreach (var (key, entry) in expected.Entries)
        {
            var t = file.GetTensor(key);
            Assert.Equal(entry.Shape, t.Shape);
            if (key == "count")
            {
                Assert.Equal(SafetensorsDtype.I64, t.Dtype);
                Assert.Equal(expected.ReadI64(key), file.ReadI64(key));
                continue;
            }

            Assert.Equal(expected.ReadF32(key), file.ReadF32(key));
        }

        Assert.Equal(SafetensorsDtype.F16, file.GetTensor("f16").Dtype);
        Assert.Equal(SafetensorsDtype.BF16, file.GetTensor("bf16").Dtype);
        Assert.Equal(SafetensorsDtype.F64, file.GetTensor("f64").Dtype);
        Assert.False(file.GetTensor("transposed").IsContiguous);
        Assert.Equal(12, file.GetTensor("shared_row").StorageOffset);
        Assert.Equal(file.GetTensor("shared_full").StorageKey, file.GetTensor("transposed").StorageKey);
        Assert.Equal([1L, 0L], file.GetTensor("expanded").Strides);
    }

    public static TheoryData<string, string?, string> BadFiles => new()
    {
        { "forbidden_global.pth", null, "'argparse.Namespace'" },
        { "evil_reduce.pth", null, "'posix.system'" },
        { "unknown_dtype.pth", "w", "unknown dtype: storage type torch.ComplexFloatStorage" },
        { "missing_storage.pth", "b", "/data/1' is missing from the archive" },
        { "past_storage.pth", "a", "past the end of its storage '0' of 6 elements" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void Bad_files_give_one_error_naming_file_and_key(string name, string? key, string fragment)
    {
        string path = PthFixtures.File(name);
        var e = Assert.Throws<PthException>(() => PthFile.Open(path));
        Assert.Equal(path, e.FilePath);
        Assert.Equal(key, e.Key);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains(fragment, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tensors_zip.pth")]
    [InlineData("tensors_legacy.pth")]
    [InlineData("transreid_zip.pth")]
    public void Every_truncation_is_a_PthException(string name)
    {
        byte[] bytes = File.ReadAllBytes(PthFixtures.File(name));
        using var dir = new TempDirectory();
        string path = dir.File("cut.pth");
        // the zip's directory is at the end, the legacy storages too: every cut must be noticed
        foreach (int length in new[] { 0, 1, 7, 8, 30, 100, bytes.Length / 3, bytes.Length / 2, bytes.Length - 200, bytes.Length - 23, bytes.Length - 1 })
        {
            File.WriteAllBytes(path, bytes[..Math.Max(0, length)]);
            var e = Assert.Throws<PthException>(() => PthFile.Open(path));
            Assert.Contains(path, e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Text_and_tar_are_not_checkpoints()
    {
        using var dir = new TempDirectory();
        string text = dir.File("notes.pth");
        File.WriteAllText(text, "these are not the weights you are looking for");
        Assert.Contains("not a PyTorch checkpoint", Assert.Throws<PthException>(() => PthFile.Open(text)).Message, StringComparison.Ordinal);
        var tar = new byte[1024];
        "ustar"u8.CopyTo(tar.AsSpan(257));
        string old = dir.File("old.pth");
        File.WriteAllBytes(old, tar);
        Assert.Contains("tar container", Assert.Throws<PthException>(() => PthFile.Open(old)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_stack_global_is_checked_like_a_global()
    {
        // protocol 4: SHORT_BINUNICODE 'posix', MEMOIZE, SHORT_BINUNICODE 'system', MEMOIZE, STACK_GLOBAL
        byte[] pickle = [0x80, 4, 0x8c, 5, .. "posix"u8, 0x94, 0x8c, 6, .. "system"u8, 0x94, 0x93, (byte)'.'];
        var e = Assert.Throws<PthException>(() => PickleScanner.Scan(pickle, "f.pth", "data.pkl", TorchGlobals.IsAllowed));
        Assert.Contains("'posix.system'", e.Message, StringComparison.Ordinal);
        byte[] computed = [0x80, 4, 0x8c, 5, .. "posix"u8, (byte)'2', 0x93, (byte)'.'];
        Assert.Contains("computed", Assert.Throws<PthException>(() => PickleScanner.Scan(computed, "f.pth", "data.pkl", TorchGlobals.IsAllowed)).Message, StringComparison.Ordinal);
        byte[] allowed = [0x80, 4, 0x8c, 11, .. "collections"u8, 0x94, 0x8c, 11, .. "OrderedDict"u8, 0x94, 0x93, (byte)')', (byte)'R', (byte)'.'];
        Assert.Equal(allowed.Length, PickleScanner.Scan(allowed, "f.pth", "data.pkl", TorchGlobals.IsAllowed));
    }
}
