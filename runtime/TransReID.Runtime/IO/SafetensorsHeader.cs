using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text.Json;
using System.Text.Unicode;

namespace TransReID.Runtime.IO;

/// <summary>
/// The parsed and validated JSON header of a safetensors file. Parsing checks everything that can be checked without
/// reading tensor data: field presence and types, dtypes, shapes, offsets against the data size, byte length against
/// element count × dtype size, duplicate names and overlapping byte ranges. Gaps between tensors are allowed (some
/// writers align tensors); trailing bytes after the last tensor are allowed too.
/// </summary>
internal sealed class SafetensorsHeader
{
    /// <summary>Name of the optional string→string metadata object in the header.</summary>
    public const string MetadataKey = "__metadata__";

    /// <summary>Largest header accepted, as in the reference implementation.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private SafetensorsHeader(Dictionary<string, SafetensorsEntry> entries, Dictionary<string, string> metadata)
    {
        Entries = entries;
        Metadata = metadata;
    }

    public Dictionary<string, SafetensorsEntry> Entries { get; }

    public Dictionary<string, string> Metadata { get; }

    /// <summary>Parses <paramref name="json"/>, the header bytes (trailing space padding allowed).</summary>
    /// <param name="filePath">Named in every error.</param>
    /// <param name="json">The N header bytes.</param>
    /// <param name="dataLength">Bytes after the header: file length − 8 − N.</param>
    public static SafetensorsHeader Parse(string filePath, ReadOnlyMemory<byte> json, long dataLength)
    {
        if (!Utf8.IsValid(json.Span))
            throw new SafetensorsException(filePath, null, "the header is not valid UTF-8.");

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new SafetensorsException(filePath, null,
                $"the header is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}): {e.Message}", e);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new SafetensorsException(filePath, null, $"the header must be a JSON object, found {Describe(root)}.");

            var entries = new Dictionary<string, SafetensorsEntry>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            bool sawMetadata = false;
            foreach (JsonProperty property in root.EnumerateObject())
            {
                string name = property.Name;
                if (name == MetadataKey)
                {
                    if (sawMetadata) throw new SafetensorsException(filePath, name, "appears more than once in the header.");
                    sawMetadata = true;
                    ParseMetadata(filePath, property.Value, metadata);
                    continue;
                }
                if (entries.ContainsKey(name))
                    throw new SafetensorsException(filePath, name, "duplicate tensor name in the header.");
                entries.Add(name, ParseEntry(filePath, name, property.Value, dataLength));
            }

            CheckOverlaps(filePath, entries.Values);
            return new SafetensorsHeader(entries, metadata);
        }
    }

    private static void ParseMetadata(string filePath, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind == JsonValueKind.Null) return;
        if (value.ValueKind != JsonValueKind.Object)
            throw new SafetensorsException(filePath, MetadataKey, $"must be an object of strings, found {Describe(value)}.");
        foreach (JsonProperty item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
                throw new SafetensorsException(filePath, $"{MetadataKey}.{item.Name}",
                    $"metadata values must be strings, found {Describe(item.Value)}.");
            if (!metadata.TryAdd(item.Name, item.Value.GetString()!))
                throw new SafetensorsException(filePath, $"{MetadataKey}.{item.Name}", "duplicate metadata key.");
        }
    }

    private static SafetensorsEntry ParseEntry(string filePath, string name, JsonElement value, long dataLength)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new SafetensorsException(filePath, name,
                $"a tensor entry must be an object with dtype, shape and data_offsets, found {Describe(value)}.");

        JsonElement? dtypeElement = null, shapeElement = null, offsetsElement = null;
        foreach (JsonProperty field in value.EnumerateObject())
        {
            switch (field.Name)
            {
                case "dtype": Set(ref dtypeElement, field); break;
                case "shape": Set(ref shapeElement, field); break;
                case "data_offsets": Set(ref offsetsElement, field); break;
                default: break; // Unknown fields are ignored, for forward compatibility.
            }
        }

        void Set(ref JsonElement? slot, JsonProperty field)
        {
            if (slot.HasValue) throw new SafetensorsException(filePath, name, $"field '{field.Name}' appears more than once.");
            slot = field.Value;
        }

        if (dtypeElement is not { } dtypeJson) throw Missing("dtype");
        if (shapeElement is not { } shapeJson) throw Missing("shape");
        if (offsetsElement is not { } offsetsJson) throw Missing("data_offsets");

        if (dtypeJson.ValueKind != JsonValueKind.String)
            throw new SafetensorsException(filePath, name, $"dtype must be a string, found {Describe(dtypeJson)}.");
        string dtypeName = dtypeJson.GetString()!;
        if (!SafetensorsDtypeInfo.TryParse(dtypeName, out SafetensorsDtype dtype))
            throw new SafetensorsException(filePath, name,
                $"unknown dtype '{dtypeName}' (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL, F8_E4M3, F8_E5M2).");

        long[] shape = ReadIntegers(filePath, name, "shape", shapeJson);
        if (!SafetensorsShape.TryElementCount(shape, out long count, out string? shapeError))
            throw new SafetensorsException(filePath, name, shapeError + ".");

        long[] offsets = ReadIntegers(filePath, name, "data_offsets", offsetsJson);
        if (offsets.Length != 2)
            throw new SafetensorsException(filePath, name,
                $"data_offsets must be [begin, end], found {offsets.Length} value(s) {SafetensorsShape.Format(offsets)}.");
        long begin = offsets[0], end = offsets[1];
        if (begin < 0 || end < 0)
            throw new SafetensorsException(filePath, name, $"data_offsets [{begin}, {end}] are negative.");
        if (begin > end)
            throw new SafetensorsException(filePath, name, $"data_offsets begin {begin} is after end {end}.");
        if (end > dataLength)
            throw new SafetensorsException(filePath, name,
                $"data_offsets end {end} is beyond the data region of {dataLength} bytes.");

        int size = dtype.SizeInBytes();
        if (count > long.MaxValue / size)
            throw new SafetensorsException(filePath, name, $"shape {SafetensorsShape.Format(shape)} is too large.");
        long expected = count * size;
        if (end - begin != expected)
            throw new SafetensorsException(filePath, name,
                $"byte length {end - begin} (data_offsets [{begin}, {end}]) does not match shape {SafetensorsShape.Format(shape)} " +
                $"of {dtypeName}: expected {count} × {size} = {expected} bytes.");

        return new SafetensorsEntry(name, dtype, shape, begin, end);

        SafetensorsException Missing(string field) =>
            new(filePath, name, $"tensor entry is missing '{field}' (has: {string.Join(", ", FieldNames(value))}).");
    }

    private static long[] ReadIntegers(string filePath, string name, string field, JsonElement array)
    {
        if (array.ValueKind != JsonValueKind.Array)
            throw new SafetensorsException(filePath, name, $"{field} must be an array of integers, found {Describe(array)}.");
        var values = new long[array.GetArrayLength()];
        int i = 0;
        foreach (JsonElement item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out long v))
                throw new SafetensorsException(filePath, name,
                    $"{field}[{i}] must be an integer, found {Describe(item)}.");
            values[i++] = v;
        }
        return values;
    }

    /// <summary>Non-empty byte ranges must not share a byte; empty tensors (a 0 dimension) overlap nothing.</summary>
    private static void CheckOverlaps(string filePath, IEnumerable<SafetensorsEntry> entries)
    {
        var ranges = new List<SafetensorsEntry>();
        foreach (SafetensorsEntry e in entries)
        {
            if (e.End > e.Begin) ranges.Add(e);
        }
        ranges.Sort(static (a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        for (int i = 1; i < ranges.Count; i++)
        {
            SafetensorsEntry previous = ranges[i - 1], current = ranges[i];
            if (current.Begin < previous.End)
                throw new SafetensorsException(filePath, current.Name,
                    $"data_offsets [{current.Begin}, {current.End}] overlap tensor '{previous.Name}' at [{previous.Begin}, {previous.End}).");
        }
    }

    private static List<string> FieldNames(JsonElement obj)
    {
        var names = new List<string>();
        foreach (JsonProperty p in obj.EnumerateObject()) names.Add(p.Name);
        return names;
    }

    /// <summary>A short description of a JSON value for error messages, e.g. <c>string "F33"</c>.</summary>
    private static string Describe(JsonElement value)
    {
        string raw = value.GetRawText();
        if (raw.Length > 60) raw = string.Concat(raw.AsSpan(0, 57), "...");
        string kind = value.ValueKind switch
        {
            JsonValueKind.Object => "object",
            JsonValueKind.Array => "array",
            JsonValueKind.String => "string",
            JsonValueKind.Number => "number",
            JsonValueKind.True or JsonValueKind.False => "boolean",
            JsonValueKind.Null => "null",
            _ => value.ValueKind.ToString(),
        };
        return string.Create(CultureInfo.InvariantCulture, $"{kind} {raw}");
    }
}
