using System;
using System.Buffers.Binary;
using System.Collections.Frozen;
using System.Collections.Generic;
using System.IO;
using Microsoft.Win32.SafeHandles;

namespace TransReID.Runtime.IO;

/// <summary>
/// A safetensors file opened for reading: 8-byte little-endian header length N, N bytes of UTF-8 JSON, then the
/// tensor data (https://github.com/huggingface/safetensors). <see cref="Open"/> validates the whole header before
/// returning; tensor data is memory-mapped, so only the pages that are read are loaded.
/// </summary>
/// <remarks>
/// Spans from <see cref="GetBytes"/> point into the mapping and are valid until <see cref="Dispose"/>. The file is
/// opened with <see cref="FileShare.Read"/> | <see cref="FileShare.Delete"/>: <see cref="AtomicFile"/> may replace it
/// (by rename) while it is open, and this object keeps reading the old contents. Truncating a mapped file in place
/// makes reads fault, which is why writers here never do that. There is no finalizer (a finalizer could unmap memory
/// that a live span still points to), so an undisposed file stays mapped until the process exits: dispose it.
/// Little-endian hosts only (every .NET 10 platform).
/// </remarks>
public sealed unsafe class SafetensorsFile : IDisposable
{
    private readonly MappedFile _file;
    private readonly byte* _data;

    private SafetensorsFile(string path, SafetensorsHeader header, long dataOffset, long dataLength,
        MappedFile file, byte* data)
    {
        Path = path;
        Entries = header.Entries.ToFrozenDictionary(StringComparer.Ordinal);
        Metadata = header.Metadata.ToFrozenDictionary(StringComparer.Ordinal);
        DataOffset = dataOffset;
        DataLength = dataLength;
        _file = file;
        _data = data;
    }

    /// <summary>Full path of the file.</summary>
    public string Path { get; }

    /// <summary>The tensors by name (ordinal).</summary>
    public IReadOnlyDictionary<string, SafetensorsEntry> Entries { get; }

    /// <summary>The <c>__metadata__</c> object of the header (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Where the data region starts in the file: 8 + N.</summary>
    public long DataOffset { get; }

    /// <summary>Bytes in the data region.</summary>
    public long DataLength { get; }

    /// <summary>Opens <paramref name="path"/> and validates its header; throws <see cref="SafetensorsException"/> on a malformed file.</summary>
    public static SafetensorsFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("Safetensors reading needs a little-endian host.");
        string full = System.IO.Path.GetFullPath(path);

        FileStream stream = MappedFile.OpenRead(full);
        MappedFile? file = null;
        try
        {
            long fileLength = stream.Length;
            (SafetensorsHeader header, long dataOffset) = ReadHeader(stream.SafeFileHandle, full, fileLength);
            file = MappedFile.Map(stream);
            return new SafetensorsFile(full, header, dataOffset, fileLength - dataOffset, file, file.Pointer + dataOffset);
        }
        catch
        {
            if (file != null) file.Dispose();
            else stream.Dispose();
            throw;
        }
    }

    private static (SafetensorsHeader Header, long DataOffset) ReadHeader(SafeFileHandle handle, string path, long fileLength)
    {
        if (fileLength < 8)
            throw new SafetensorsException(path, null,
                $"file is {fileLength} bytes, shorter than the 8-byte header length prefix.");

        Span<byte> prefix = stackalloc byte[8];
        ReadExactly(handle, prefix, 0, path);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength == 0)
            throw new SafetensorsException(path, null, "header length is 0; the header must be a JSON object.");
        if (headerLength > SafetensorsHeader.MaxHeaderBytes)
            throw new SafetensorsException(path, null,
                $"header length {headerLength} exceeds the limit of {SafetensorsHeader.MaxHeaderBytes} bytes (corrupt or not a safetensors file).");
        if ((long)headerLength > fileLength - 8)
            throw new SafetensorsException(path, null,
                $"header length {headerLength} runs past the end of the file ({fileLength} bytes, {fileLength - 8} after the prefix).");

        var json = new byte[(int)headerLength];
        ReadExactly(handle, json, 8, path);
        long dataOffset = 8 + (long)headerLength;
        return (SafetensorsHeader.Parse(path, json, fileLength - dataOffset), dataOffset);
    }

    private static void ReadExactly(SafeFileHandle handle, Span<byte> buffer, long offset, string path)
    {
        while (!buffer.IsEmpty)
        {
            int n = RandomAccess.Read(handle, buffer, offset);
            if (n == 0) throw new SafetensorsException(path, null, $"file ended early at byte {offset}.");
            buffer = buffer[n..];
            offset += n;
        }
    }

    /// <summary>The entry for <paramref name="name"/>; throws <see cref="SafetensorsException"/> when absent.</summary>
    public SafetensorsEntry GetEntry(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (Entries.TryGetValue(name, out SafetensorsEntry? entry)) return entry;
        throw new SafetensorsException(Path, name, $"no such tensor (the file has {Entries.Count}).");
    }

    /// <summary>The raw little-endian bytes of tensor <paramref name="name"/>, valid until <see cref="Dispose"/>.</summary>
    public ReadOnlySpan<byte> GetBytes(string name)
    {
        SafetensorsEntry entry = GetEntry(name);
        ObjectDisposedException.ThrowIf(_file.IsDisposed, this);
        if (entry.ByteLength > int.MaxValue)
            throw new SafetensorsException(Path, name,
                $"tensor is {entry.ByteLength} bytes, too large for one span; read it with ReadF32/ReadI32/ReadI64 into a Span.");
        return new ReadOnlySpan<byte>(_data + entry.Begin, (int)entry.ByteLength);
    }

    /// <summary>Reads an F32 tensor into a new array.</summary>
    public float[] ReadF32(string name) => ReadArray<float>(name, SafetensorsDtype.F32);

    /// <summary>Reads an F32 tensor into <paramref name="destination"/>, whose length must be the element count.</summary>
    public void ReadF32(string name, Span<float> destination) => ReadInto(name, SafetensorsDtype.F32, destination);

    /// <summary>Reads an I32 tensor into a new array.</summary>
    public int[] ReadI32(string name) => ReadArray<int>(name, SafetensorsDtype.I32);

    /// <summary>Reads an I32 tensor into <paramref name="destination"/>, whose length must be the element count.</summary>
    public void ReadI32(string name, Span<int> destination) => ReadInto(name, SafetensorsDtype.I32, destination);

    /// <summary>Reads an I64 tensor into a new array.</summary>
    public long[] ReadI64(string name) => ReadArray<long>(name, SafetensorsDtype.I64);

    /// <summary>Reads an I64 tensor into <paramref name="destination"/>, whose length must be the element count.</summary>
    public void ReadI64(string name, Span<long> destination) => ReadInto(name, SafetensorsDtype.I64, destination);

    private T[] ReadArray<T>(string name, SafetensorsDtype dtype) where T : unmanaged
    {
        SafetensorsEntry entry = RequireDtype(name, dtype);
        if (entry.ElementCount > Array.MaxLength)
            throw new SafetensorsException(Path, name, $"{entry.ElementCount} elements do not fit in one array.");
        var result = new T[entry.ElementCount];
        Copy(entry, result);
        return result;
    }

    private void ReadInto<T>(string name, SafetensorsDtype dtype, Span<T> destination) where T : unmanaged
    {
        SafetensorsEntry entry = RequireDtype(name, dtype);
        if (destination.Length != entry.ElementCount)
            throw new ArgumentException(
                $"Tensor '{name}' in '{Path}' has {entry.ElementCount} elements (shape {SafetensorsShape.Format(entry.Shape)}), " +
                $"but the destination holds {destination.Length}.", nameof(destination));
        Copy(entry, destination);
    }

    private SafetensorsEntry RequireDtype(string name, SafetensorsDtype dtype)
    {
        SafetensorsEntry entry = GetEntry(name);
        if (entry.Dtype != dtype)
            throw new SafetensorsException(Path, name,
                $"tensor has dtype {entry.Dtype.ToHeaderName()}, but {dtype.ToHeaderName()} was requested.");
        return entry;
    }

    private void Copy<T>(SafetensorsEntry entry, Span<T> destination) where T : unmanaged
    {
        ObjectDisposedException.ThrowIf(_file.IsDisposed, this);
        fixed (T* target = destination)
        {
            Buffer.MemoryCopy(_data + entry.Begin, target, entry.ByteLength, entry.ByteLength);
        }
    }

    /// <summary>Unmaps the file and closes it. Spans from <see cref="GetBytes"/> must not be used afterwards.</summary>
    public void Dispose() => _file.Dispose();

    /// <inheritdoc/>
    public override string ToString() => $"{Path} ({Entries.Count} tensors, {DataLength} data bytes)";
}
