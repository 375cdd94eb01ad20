using System;
using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace TransReID.Runtime.IO;

/// <summary>
/// Collects tensors and metadata, then writes one safetensors file. Output is deterministic: <c>__metadata__</c>
/// first (when there is any), then tensors in insertion order, data laid out back to back in the same order, and the
/// JSON header padded with spaces so that the data region starts at a multiple of 8 bytes. Data is copied when added,
/// so later changes to the caller's buffers do not affect the file.
/// </summary>
/// <example>
/// <code>
/// var writer = new SafetensorsWriter();
/// writer.AddMetadata("format", "pt");
/// writer.Add("blocks.0.norm1.weight", gamma, 768);
/// writer.Add("step", [1234L]);                    // shape omitted: a scalar
/// writer.Save("checkpoint.safetensors");          // atomic: the old file stays intact if this fails
/// </code>
/// </example>
public sealed class SafetensorsWriter
{
    private readonly List<Pending> _tensors = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly List<KeyValuePair<string, string>> _metadata = [];
    private readonly HashSet<string> _metadataKeys = new(StringComparer.Ordinal);

    /// <summary>Number of tensors added so far.</summary>
    public int Count => _tensors.Count;

    /// <summary>Adds an F32 tensor. An empty <paramref name="shape"/> means a scalar (one element).</summary>
    public void Add(string name, ReadOnlySpan<float> data, params long[] shape) =>
        AddTyped(name, SafetensorsDtype.F32, data, shape);

    /// <summary>Adds an I32 tensor. An empty <paramref name="shape"/> means a scalar (one element).</summary>
    public void Add(string name, ReadOnlySpan<int> data, params long[] shape) =>
        AddTyped(name, SafetensorsDtype.I32, data, shape);

    /// <summary>Adds an I64 tensor. An empty <paramref name="shape"/> means a scalar (one element).</summary>
    public void Add(string name, ReadOnlySpan<long> data, params long[] shape) =>
        AddTyped(name, SafetensorsDtype.I64, data, shape);

    /// <summary>
    /// Adds a tensor of any dtype from its raw little-endian bytes; <paramref name="data"/> must hold element count ×
    /// dtype size bytes.
    /// </summary>
    public void Add(string name, SafetensorsDtype dtype, ReadOnlySpan<byte> data, params long[] shape)
    {
        long count = CheckNameAndShape(name, shape);
        long expected = count * dtype.SizeInBytes();
        if (data.Length != expected)
            throw new ArgumentException(
                $"Tensor '{name}': shape {SafetensorsShape.Format(shape)} of {dtype.ToHeaderName()} needs {expected} bytes, got {data.Length}.",
                nameof(data));
        Commit(name, dtype, shape, new Payload<byte>(data.ToArray()));
    }

    /// <summary>Adds a <c>__metadata__</c> entry. Keys are unique; values are stored as given.</summary>
    public void AddMetadata(string key, string value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        if (!_metadataKeys.Add(key))
            throw new ArgumentException($"Metadata key '{key}' was already added.", nameof(key));
        _metadata.Add(new(key, value));
    }

    /// <summary>Writes the file atomically (see <see cref="AtomicFile.Write"/>): either the whole new file or the old one.</summary>
    public void Save(string path) => AtomicFile.Write(path, WriteTo);

    /// <summary>Writes the file's bytes to <paramref name="stream"/>.</summary>
    public void WriteTo(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        byte[] header = BuildHeader();
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        stream.Write(prefix);
        stream.Write(header);
        foreach (Pending tensor in _tensors) tensor.Data.WriteTo(stream);
        stream.Flush();
    }

    /// <summary>The JSON header, padded with spaces to a multiple of 8 bytes.</summary>
    private byte[] BuildHeader()
    {
        var buffer = new ArrayBufferWriter<byte>();
        // Relaxed escaping keeps non-ASCII names readable (as the Rust writer does); the output is still strict JSON.
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (_metadata.Count > 0)
            {
                json.WriteStartObject(SafetensorsHeader.MetadataKey);
                foreach ((string key, string value) in _metadata) json.WriteString(key, value);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (Pending tensor in _tensors)
            {
                json.WriteStartObject(tensor.Name);
                json.WriteString("dtype", tensor.Dtype.ToHeaderName());
                json.WriteStartArray("shape");
                foreach (long d in tensor.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                offset += tensor.Data.ByteLength;
                json.WriteNumberValue(offset);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }

        int padded = checked((buffer.WrittenCount + 7) / 8 * 8);
        if (padded > SafetensorsHeader.MaxHeaderBytes)
            throw new InvalidOperationException(
                $"The header would be {padded} bytes, over the {SafetensorsHeader.MaxHeaderBytes}-byte limit readers enforce.");
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }

    private void AddTyped<T>(string name, SafetensorsDtype dtype, ReadOnlySpan<T> data, long[] shape) where T : unmanaged
    {
        long count = CheckNameAndShape(name, shape);
        if (data.Length != count)
            throw new ArgumentException(
                $"Tensor '{name}': shape {SafetensorsShape.Format(shape)} has {count} elements, but {data.Length} {dtype.ToHeaderName()} values were given.",
                nameof(data));
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("Safetensors writing needs a little-endian host.");
        Commit(name, dtype, shape, new Payload<T>(data.ToArray()));
    }

    private long CheckNameAndShape(string name, long[] shape)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(shape);
        if (name == SafetensorsHeader.MetadataKey)
            throw new ArgumentException($"'{SafetensorsHeader.MetadataKey}' is reserved and cannot name a tensor.", nameof(name));
        if (_names.Contains(name))
            throw new ArgumentException($"Tensor '{name}' was already added.", nameof(name));
        if (!SafetensorsShape.TryElementCount(shape, out long count, out string? error))
            throw new ArgumentException($"Tensor '{name}': {error}.", nameof(shape));
        return count;
    }

    private void Commit(string name, SafetensorsDtype dtype, long[] shape, Payload data)
    {
        _names.Add(name);
        _tensors.Add(new Pending(name, dtype, (long[])shape.Clone(), data));
    }

    private sealed record Pending(string Name, SafetensorsDtype Dtype, long[] Shape, Payload Data);

    private abstract class Payload
    {
        public abstract long ByteLength { get; }

        public abstract void WriteTo(Stream stream);
    }

    /// <summary>A copy of the caller's elements, written in chunks so that tensors over 2 GiB of bytes work.</summary>
    private sealed class Payload<T>(T[] elements) : Payload where T : unmanaged
    {
        private const int ChunkBytes = 1 << 20;

        public override long ByteLength => (long)elements.Length * Unsafe.SizeOf<T>();

        public override void WriteTo(Stream stream)
        {
            int chunk = ChunkBytes / Unsafe.SizeOf<T>();
            for (int start = 0, n; start < elements.Length; start += n)
            {
                n = Math.Min(chunk, elements.Length - start);
                stream.Write(MemoryMarshal.AsBytes(elements.AsSpan(start, n)));
            }
        }
    }
}
