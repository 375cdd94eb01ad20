using System;
using System.Buffers.Binary;
using System.IO;
using System.Text;
using TransReID.Runtime.IO;

namespace TransReID.Runtime.Tests.IO;

/// <summary>Every malformed file is rejected by <see cref="SafetensorsFile.Open"/> with a message naming the file and the culprit.</summary>
public sealed class SafetensorsValidationTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private const string Ok = "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";

    /// <summary>Prefix + header + data bytes, the prefix holding the header's length unless overridden.</summary>
    private static byte[] Layout(byte[] header, int dataBytes, ulong? declaredLength = null)
    {
        var bytes = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredLength ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        return bytes;
    }

    private static byte[] Layout(string json, int dataBytes = 8) => Layout(Encoding.UTF8.GetBytes(json), dataBytes);

    /// <summary>(file name, file bytes, expected key or null, fragments the message must contain).</summary>
    public static TheoryData<string, byte[], string?, string[]> Cases => new()
    {
        { "too_short", [1, 0, 0, 0, 0], null, ["5 bytes", "8-byte"] },
        { "empty_file", [], null, ["0 bytes"] },
        { "header_past_end", Layout(Encoding.UTF8.GetBytes("{}"), 0, declaredLength: 1000), null, ["header length 1000", "10 bytes"] },
        { "header_absurd", Layout(Encoding.UTF8.GetBytes("{}"), 0, declaredLength: 200_000_000), null, ["200000000", "100000000"] },
        { "header_huge_u64", Layout(Encoding.UTF8.GetBytes("{}"), 0, declaredLength: ulong.MaxValue), null, ["18446744073709551615"] },
        { "header_zero", Layout([], 4), null, ["header length is 0"] },
        { "not_utf8", Layout([0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x3A, 0x31, 0x7D], 0), null, ["not valid UTF-8"] },
        { "not_json", Layout("{\"w\": ", 0), null, ["not valid JSON"] },
        { "trailing_garbage", Layout("{} xyz", 0), null, ["not valid JSON"] },
        { "not_object", Layout("[1, 2]", 0), null, ["must be a JSON object", "array [1, 2]"] },
        { "entry_not_object", Layout("{\"w\": 5}"), "w", ["number 5"] },
        { "missing_dtype", Layout("{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}"), "w", ["missing 'dtype'", "shape, data_offsets"] },
        { "missing_shape", Layout("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}"), "w", ["missing 'shape'"] },
        { "missing_offsets", Layout("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}"), "w", ["missing 'data_offsets'"] },
        { "unknown_dtype", Layout("{\"w\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}"), "w", ["unknown dtype 'F33'"] },
        { "lowercase_dtype", Layout("{\"w\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}"), "w", ["unknown dtype 'f32'"] },
        { "dtype_not_string", Layout("{\"w\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}"), "w", ["dtype must be a string", "number 4"] },
        { "negative_dim", Layout("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,-3],\"data_offsets\":[0,8]}}"), "w", ["negative dimension -3", "[2, -3]"] },
        { "fractional_dim", Layout("{\"w\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}"), "w", ["shape[0]", "2.5"] },
        { "shape_not_array", Layout("{\"w\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}"), "w", ["shape must be an array", "string \"2\""] },
        { "end_past_data", Layout("{\"w\":{\"dtype\":\"F32\",\"shape\":[10],\"data_offsets\":[0,40]}}", 8), "w", ["end 40", "8 bytes"] },
        { "begin_after_end", Layout("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8), "w", ["begin 8", "end 4"] },
        { "negative_offset", Layout("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 8), "w", ["[-4, 0]", "negative"] },
        { "three_offsets", Layout("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4,8]}}"), "w", ["3 value(s)", "[0, 4, 8]"] },
        { "length_mismatch", Layout("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 12), "w", ["byte length 8", "expected 3 × 4 = 12"] },
        { "length_mismatch_i64", Layout("{\"w\":{\"dtype\":\"I64\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 32), "w", ["byte length 16", "expected 4 × 8 = 32", "I64"] },
        { "overflowing_shape", Layout("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}"), "w", ["more than"] },
        { "duplicate_name", Layout("{\"w\":" + Ok + ",\"w\":" + Ok + "}"), "w", ["duplicate tensor name"] },
        { "duplicate_field", Layout("{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}"), "w", ["'dtype' appears more than once"] },
        {
            "overlap",
            Layout("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12),
            "b", ["overlap tensor 'a'", "[4, 12]"]
        },
        {
            "same_range",
            Layout("{\"a\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
            "b", ["overlap tensor 'a'"]
        },
        { "metadata_not_object", Layout("{\"__metadata__\":[1]}", 0), "__metadata__", ["array [1]"] },
        { "metadata_number", Layout("{\"__metadata__\":{\"epoch\":120}}", 0), "__metadata__.epoch", ["must be strings", "number 120"] },
        { "metadata_twice", Layout("{\"__metadata__\":{},\"__metadata__\":{}}", 0), "__metadata__", ["more than once"] },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Malformed_file_is_rejected_naming_file_and_key(string name, byte[] bytes, string? key, string[] fragments)
    {
        string path = _dir.File(name + ".safetensors");
        File.WriteAllBytes(path, bytes);

        var e = Assert.Throws<SafetensorsException>(() => SafetensorsFile.Open(path));

        Assert.Contains(name + ".safetensors", e.Message, StringComparison.Ordinal);
        Assert.Equal(Path.GetFullPath(path), e.FilePath);
        Assert.Equal(key, e.Key);
        if (key is not null) Assert.Contains($"key '{key}'", e.Message, StringComparison.Ordinal);
        foreach (string fragment in fragments) Assert.Contains(fragment, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejected_file_is_not_left_open()
    {
        string path = _dir.File("bad.safetensors");
        File.WriteAllBytes(path, Layout("{\"w\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}"));
        Assert.Throws<SafetensorsException>(() => SafetensorsFile.Open(path));

        // An exclusive open fails on Windows while any handle remains; on Unix deleting is the check that matters.
        using (new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None)) { }
        File.Delete(path);
        Assert.Empty(_dir.List());
    }

    [Theory]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[0,7],\"data_offsets\":[8,8]},\"v\":" + Ok + "}")] // empty inside another's range
    [InlineData("{\"w\":{\"dtype\":\"BOOL\",\"shape\":[],\"data_offsets\":[7,8]},\"v\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}")]
    [InlineData("{\"__metadata__\":null}")]
    [InlineData("    {}    ")]
    public void Edge_cases_that_are_valid_open(string json)
    {
        string path = _dir.File("valid.safetensors");
        File.WriteAllBytes(path, Layout(json, 8));
        using var file = SafetensorsFile.Open(path);
        Assert.Equal(16 + Encoding.UTF8.GetByteCount(json), new FileInfo(path).Length);
        Assert.Equal(8, file.DataLength);
    }

    [Fact]
    public void Missing_file_throws_FileNotFoundException()
    {
        string path = _dir.File("nope.safetensors");
        var e = Assert.Throws<FileNotFoundException>(() => SafetensorsFile.Open(path));
        Assert.Contains("nope.safetensors", e.Message, StringComparison.Ordinal);
    }
}
