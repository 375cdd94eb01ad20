using System;
using System.Buffers.Binary;
using System.IO;
using System.Linq;
using System.Text;
using TransReID.Runtime.IO;

namespace TransReID.Runtime.Tests.IO;

public sealed class SafetensorsRoundTripTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static SafetensorsWriter SampleWriter()
    {
        var w = new SafetensorsWriter();
        w.AddMetadata("format", "pt");
        w.AddMetadata("epoch", "120");
        w.Add("base.pos_embed", Enumerable.Range(0, 2 * 3 * 4).Select(i => i * 0.25f - 1f).ToArray(), 2, 3, 4);
        w.Add("lr", [3.5e-4f]);                                 // F32 scalar, shape []
        w.Add("labels", [5, -7, int.MaxValue, int.MinValue], 4);
        w.Add("step", [1L << 40]);                               // I64 scalar
        w.Add("ids", [long.MinValue, 0L, long.MaxValue], 3, 1);
        w.Add("empty", ReadOnlySpan<float>.Empty, 0, 5);        // a 0 dimension: no bytes
        w.Add("special", [float.NaN, float.PositiveInfinity, -0f, float.Epsilon], 2, 2);
        return w;
    }

    [Fact]
    public void F32_I32_I64_scalars_and_metadata_round_trip()
    {
        string path = _dir.File("ckpt.safetensors");
        SampleWriter().Save(path);

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(Path.GetFullPath(path), file.Path);
        Assert.Equal(7, file.Entries.Count);
        Assert.Equal(2, file.Metadata.Count);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal("120", file.Metadata["epoch"]);

        SafetensorsEntry pos = file.Entries["base.pos_embed"];
        Assert.Equal(SafetensorsDtype.F32, pos.Dtype);
        Assert.Equal([2L, 3, 4], pos.Shape);
        Assert.Equal(24, pos.ElementCount);
        Assert.Equal(96, pos.ByteLength);
        Assert.Equal(Enumerable.Range(0, 24).Select(i => i * 0.25f - 1f), file.ReadF32("base.pos_embed"));

        Assert.Empty(file.Entries["lr"].Shape);
        Assert.Equal(1, file.Entries["lr"].ElementCount);
        Assert.Equal([3.5e-4f], file.ReadF32("lr"));

        Assert.Equal(SafetensorsDtype.I32, file.Entries["labels"].Dtype);
        Assert.Equal([5, -7, int.MaxValue, int.MinValue], file.ReadI32("labels"));

        Assert.Empty(file.Entries["step"].Shape);
        Assert.Equal([1L << 40], file.ReadI64("step"));
        Assert.Equal([3L, 1], file.Entries["ids"].Shape);
        Assert.Equal([long.MinValue, 0L, long.MaxValue], file.ReadI64("ids"));

        Assert.Equal([0L, 5], file.Entries["empty"].Shape);
        Assert.Equal(0, file.Entries["empty"].ElementCount);
        Assert.Empty(file.ReadF32("empty"));
        Assert.True(file.GetBytes("empty").IsEmpty);

        // Bit patterns survive: NaN, infinities, negative zero, denormals.
        float[] special = file.ReadF32("special");
        Assert.True(float.IsNaN(special[0]));
        Assert.Equal(float.PositiveInfinity, special[1]);
        Assert.True(float.IsNegative(special[2]) && special[2] == 0f);
        Assert.Equal(float.Epsilon, special[3]);
    }

    [Fact]
    public void Data_is_laid_out_in_insertion_order_after_a_header_padded_to_8()
    {
        string path = _dir.File("layout.safetensors");
        SampleWriter().Save(path);
        byte[] bytes = File.ReadAllBytes(path);

        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, n % 8);
        string header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.StartsWith("{\"__metadata__\":{\"format\":\"pt\",\"epoch\":\"120\"},\"base.pos_embed\":", header, StringComparison.Ordinal);
        Assert.EndsWith("}", header.TrimEnd(' '), StringComparison.Ordinal);
        Assert.DoesNotContain("\n", header, StringComparison.Ordinal);

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(8 + (long)n, file.DataOffset);
        string[] order = ["base.pos_embed", "lr", "labels", "step", "ids", "empty", "special"];
        long expectedBegin = 0;
        foreach (string name in order)
        {
            SafetensorsEntry e = file.Entries[name];
            Assert.Equal(expectedBegin, e.Begin);
            expectedBegin = e.End;
        }
        Assert.Equal(bytes.Length - 8 - (long)n, expectedBegin);
        Assert.Equal(expectedBegin, file.DataLength);
    }

    [Fact]
    public void Writer_output_is_byte_identical_across_saves_and_writers()
    {
        string a = _dir.File("a.safetensors"), b = _dir.File("b.safetensors"), c = _dir.File("c.safetensors");
        SafetensorsWriter writer = SampleWriter();
        writer.Save(a);
        writer.Save(b);
        SampleWriter().Save(c);

        byte[] first = File.ReadAllBytes(a);
        Assert.Equal(first, File.ReadAllBytes(b));
        Assert.Equal(first, File.ReadAllBytes(c));

        var memory = new MemoryStream();
        writer.WriteTo(memory);
        Assert.Equal(first, memory.ToArray());
    }

    [Fact]
    public void Writer_produces_exactly_the_bytes_the_format_prescribes()
    {
        var w = new SafetensorsWriter();
        w.Add("x", [1f, -2f], 2);
        var memory = new MemoryStream();
        w.WriteTo(memory);

        const string json = "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}"; // 54 bytes -> padded to 56
        byte[] expected = [56, 0, 0, 0, 0, 0, 0, 0, .. Encoding.ASCII.GetBytes(json), 32, 32,
            0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0];
        Assert.Equal(expected, memory.ToArray());
    }

    [Fact]
    public void File_written_by_hand_without_padding_is_read()
    {
        // Another writer's layout: tensors not in header order, an F16 tensor, a scalar, an empty tensor sharing an
        // offset with a real one, a gap of 4 alignment bytes, metadata last, an unknown extra field, no padding.
        const string json =
            "{\"b\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[16,32]}," +
            "\"a\":{\"dtype\":\"F32\",\"shape\":[1,3],\"data_offsets\":[0,12],\"extra\":true}," +
            "\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[32,36]}," +
            "\"s\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[36,40]}," +
            "\"z\":{\"dtype\":\"F32\",\"shape\":[4,0],\"data_offsets\":[16,16]}," +
            "\"__metadata__\":{\"source\":\"hand\"}}";
        byte[] header = Encoding.UTF8.GetBytes(json);
        Assert.NotEqual(0, header.Length % 8);
        var data = new byte[40];
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(0), 1.5f);
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(4), -2.25f);
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(8), 1e-30f);
        data.AsSpan(12, 4).Fill(0xEE); // gap
        BinaryPrimitives.WriteInt64LittleEndian(data.AsSpan(16), -3);
        BinaryPrimitives.WriteInt64LittleEndian(data.AsSpan(24), 9_000_000_000);
        BinaryPrimitives.WriteHalfLittleEndian(data.AsSpan(32), (Half)0.5f);
        BinaryPrimitives.WriteHalfLittleEndian(data.AsSpan(34), (Half)(-4f));
        BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(36), 751);
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        string path = _dir.File("hand.safetensors");
        File.WriteAllBytes(path, bytes);

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(5, file.Entries.Count);
        Assert.Equal("hand", file.Metadata["source"]);
        Assert.Equal([1.5f, -2.25f, 1e-30f], file.ReadF32("a"));
        Assert.Equal([-3L, 9_000_000_000], file.ReadI64("b"));
        Assert.Equal(SafetensorsDtype.F16, file.Entries["h"].Dtype);
        ReadOnlySpan<byte> half = file.GetBytes("h");
        Assert.Equal((Half)0.5f, BinaryPrimitives.ReadHalfLittleEndian(half));
        Assert.Equal((Half)(-4f), BinaryPrimitives.ReadHalfLittleEndian(half[2..]));
        Assert.Equal([751], file.ReadI32("s"));
        Assert.Empty(file.ReadF32("z"));
        Assert.Equal(new SafetensorsEntry("z", SafetensorsDtype.F32, [4, 0], 16, 16), file.Entries["z"]);
    }

    [Fact]
    public void Span_overloads_fill_the_destination_and_check_its_length()
    {
        string path = _dir.File("span.safetensors");
        SampleWriter().Save(path);
        using var file = SafetensorsFile.Open(path);

        var labels = new int[4];
        file.ReadI32("labels", labels);
        Assert.Equal([5, -7, int.MaxValue, int.MinValue], labels);
        var ids = new long[3];
        file.ReadI64("ids", ids);
        Assert.Equal([long.MinValue, 0L, long.MaxValue], ids);
        var window = new float[30];
        file.ReadF32("base.pos_embed", window.AsSpan(3, 24));
        Assert.Equal(-1f, window[3]);
        Assert.Equal(0f, window[2]);
        Assert.Equal(0f, window[27]);

        var e = Assert.Throws<ArgumentException>(() => file.ReadF32("base.pos_embed", new float[23]));
        Assert.Contains("base.pos_embed", e.Message, StringComparison.Ordinal);
        Assert.Contains("24", e.Message, StringComparison.Ordinal);
        Assert.Contains("23", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("labels", "I32", "F32")]
    [InlineData("base.pos_embed", "F32", "I64")]
    [InlineData("step", "I64", "I32")]
    public void Reading_with_the_wrong_dtype_names_key_and_both_dtypes(string key, string actual, string requested)
    {
        string path = _dir.File("dtype.safetensors");
        SampleWriter().Save(path);
        using var file = SafetensorsFile.Open(path);

        var e = Assert.Throws<SafetensorsException>(() =>
        {
            _ = requested switch
            {
                "F32" => (Array)file.ReadF32(key),
                "I32" => file.ReadI32(key),
                _ => file.ReadI64(key),
            };
        });
        Assert.Contains("dtype.safetensors", e.Message, StringComparison.Ordinal);
        Assert.Contains($"'{key}'", e.Message, StringComparison.Ordinal);
        Assert.Contains(actual, e.Message, StringComparison.Ordinal);
        Assert.Contains(requested, e.Message, StringComparison.Ordinal);
        Assert.Equal(key, e.Key);
    }

    [Fact]
    public void Missing_tensor_names_key_and_file()
    {
        string path = _dir.File("missing.safetensors");
        SampleWriter().Save(path);
        using var file = SafetensorsFile.Open(path);

        var e = Assert.Throws<SafetensorsException>(() => file.GetBytes("base.cls_token"));
        Assert.Contains("missing.safetensors", e.Message, StringComparison.Ordinal);
        Assert.Contains("'base.cls_token'", e.Message, StringComparison.Ordinal);
        Assert.Equal(Path.GetFullPath(path), e.FilePath);
    }

    [Fact]
    public void Raw_bytes_overload_round_trips_other_dtypes_and_non_ascii_names()
    {
        var w = new SafetensorsWriter();
        byte[] bf16 = [0x80, 0x3F, 0x00, 0xC0, 0x49, 0x40];
        w.Add("gewichte.μ", SafetensorsDtype.BF16, bf16, 3);
        w.Add("mask", SafetensorsDtype.BOOL, [1, 0], 2);
        w.AddMetadata("note", "quote \" backslash \\ tab \t ünï");
        string path = _dir.File("raw.safetensors");
        w.Save(path);

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(SafetensorsDtype.BF16, file.Entries["gewichte.μ"].Dtype);
        Assert.Equal(bf16, file.GetBytes("gewichte.μ").ToArray());
        Assert.Equal(new byte[] { 1, 0 }, file.GetBytes("mask").ToArray());
        Assert.Equal("quote \" backslash \\ tab \t ünï", file.Metadata["note"]);
    }

    [Fact]
    public void Writer_copies_data_when_added()
    {
        float[] data = [1f, 2f];
        var w = new SafetensorsWriter();
        w.Add("w", data, 2);
        data[0] = 99f;
        string path = _dir.File("copy.safetensors");
        w.Save(path);
        using var file = SafetensorsFile.Open(path);
        Assert.Equal([1f, 2f], file.ReadF32("w"));
    }

    [Fact]
    public void Writer_rejects_bad_tensors_naming_them()
    {
        var w = new SafetensorsWriter();
        w.Add("a", [1f], 1);
        w.AddMetadata("k", "v");

        AssertArgument(() => w.Add("a", [2f], 1), "'a'", "already");
        AssertArgument(() => w.Add("b", [1f, 2f, 3f], 2, 2), "'b'", "[2, 2]", "4", "3");
        AssertArgument(() => w.Add("c", [1, 2], -1, -2), "'c'", "-1");
        AssertArgument(() => w.Add("__metadata__", [1L]), "__metadata__");
        AssertArgument(() => w.Add("d", SafetensorsDtype.F16, new byte[3], 2), "'d'", "4", "3");
        AssertArgument(() => w.AddMetadata("k", "again"), "'k'");
        Assert.Equal(1, w.Count);

        static void AssertArgument(Action act, params string[] fragments)
        {
            var e = Assert.Throws<ArgumentException>(act);
            foreach (string f in fragments) Assert.Contains(f, e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Empty_writer_writes_a_valid_empty_file()
    {
        string path = _dir.File("empty.safetensors");
        new SafetensorsWriter().Save(path);
        Assert.Equal(16, new FileInfo(path).Length); // "{}" padded to 8
        using var file = SafetensorsFile.Open(path);
        Assert.Empty(file.Entries);
        Assert.Empty(file.Metadata);
    }

    [Fact]
    public void Failed_save_leaves_no_temp_file_and_no_target()
    {
        string missingDir = Path.Combine(_dir.Path, "missing", "deeper");
        Assert.Throws<DirectoryNotFoundException>(() => SampleWriter().Save(Path.Combine(missingDir, "x.safetensors")));
        Assert.Empty(_dir.List());
    }

    [Fact]
    public void Open_file_keeps_reading_old_data_while_a_save_replaces_it()
    {
        string path = _dir.File("live.safetensors");
        var w1 = new SafetensorsWriter();
        w1.Add("w", [1f, 2f, 3f], 3);
        w1.Save(path);

        using var old = SafetensorsFile.Open(path);
        var w2 = new SafetensorsWriter();
        w2.Add("w", [4f, 5f], 2);
        w2.Save(path);

        Assert.Equal([1f, 2f, 3f], old.ReadF32("w"));
        using var fresh = SafetensorsFile.Open(path);
        Assert.Equal([4f, 5f], fresh.ReadF32("w"));
        Assert.Equal(["live.safetensors"], _dir.List());
    }

    [Fact]
    public void Reads_after_dispose_throw()
    {
        string path = _dir.File("disposed.safetensors");
        SampleWriter().Save(path);
        var file = SafetensorsFile.Open(path);
        file.Dispose();
        file.Dispose(); // idempotent
        Assert.Throws<ObjectDisposedException>(() => file.GetBytes("lr"));
        Assert.Throws<ObjectDisposedException>(() => file.ReadF32("lr"));
    }

    [Fact]
    public void Entries_compare_by_value_including_shape()
    {
        var a = new SafetensorsEntry("w", SafetensorsDtype.F32, [2, 3], 0, 24);
        var b = new SafetensorsEntry("w", SafetensorsDtype.F32, [2, 3], 0, 24);
        var c = new SafetensorsEntry("w", SafetensorsDtype.F32, [3, 2], 0, 24);
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, c);
        Assert.Equal("w F32 [2, 3] @ [0, 24)", a.ToString());
        Assert.Equal(6, a.ElementCount);
    }

    [Fact]
    public void Dtype_names_and_sizes_match_the_format()
    {
        foreach (SafetensorsDtype d in Enum.GetValues<SafetensorsDtype>())
        {
            Assert.True(SafetensorsDtypeInfo.TryParse(d.ToHeaderName(), out SafetensorsDtype parsed));
            Assert.Equal(d, parsed);
            Assert.Equal(d.ToString(), d.ToHeaderName());
        }
        Assert.Equal(4, SafetensorsDtype.F32.SizeInBytes());
        Assert.Equal(2, SafetensorsDtype.BF16.SizeInBytes());
        Assert.Equal(8, SafetensorsDtype.I64.SizeInBytes());
        Assert.Equal(1, SafetensorsDtype.BOOL.SizeInBytes());
        Assert.False(SafetensorsDtypeInfo.TryParse("f32", out _));
        Assert.False(SafetensorsDtypeInfo.TryParse("0", out _));
    }
}
