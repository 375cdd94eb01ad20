using System;
using System.Buffers.Binary;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Text;
using Razorvine.Pickle;

namespace TransReID.Runtime.IO;

/// <summary>One tensor of a PyTorch state dict: element type, shape, strides and offset (in elements) into its storage.</summary>
public sealed record PthTensor(string Name, SafetensorsDtype Dtype, long[] Shape, long[] Strides, long StorageOffset, string StorageKey)
{
    /// <summary>Product of the dimensions.</summary>
    public long ElementCount => SafetensorsShape.ElementCount(Shape);

    /// <summary>Whether the strides are those of a row-major contiguous tensor.</summary>
    public bool IsContiguous
    {
        get
        {
            long expected = 1;
            for (int d = Shape.Length - 1; d >= 0; d--)
            {
                if (Shape[d] != 1 && Strides[d] != expected) return false;
                expected *= Shape[d];
            }

            return true;
        }
    }

    internal long DataOffset { get; init; }
}

/// <summary>
/// A PyTorch checkpoint opened for reading: the zip container of <c>torch.save</c> since torch 1.6 (any archive folder
/// name: <c>*/data.pkl</c>, <c>*/data/&lt;key&gt;</c>, <c>*/byteorder</c>) or the legacy stream of older torch (magic
/// number, protocol, system info, the pickled object, the storage keys, then each storage's element count and raw
/// bytes). The object may be the state dict itself or a dict that wraps it under <c>model</c> and/or
/// <c>state_dict</c>; other entries (epoch, optimizer…) are ignored, as are its non-tensor values.
/// </summary>
/// <remarks>
/// <para><see cref="Open"/> checks everything before it returns: the container, every opcode and global of the
/// pickles (<see cref="PickleScanner"/>; only a state dict's globals are allowed and nothing else is instantiated), and
/// every tensor of the state dict (known dtype, storage present, inside the file, every element the strides reach
/// inside the storage). A problem is one <see cref="PthException"/> naming the file and key. Tensor data is
/// memory-mapped and read once, when asked for, converted to float32 (F32, F16, BF16, F64) with offsets and strides
/// honoured (non-contiguous views and storages shared by several tensors are normal).</para>
/// <para>Little-endian hosts and files only. As <see cref="SafetensorsFile"/>: no finalizer, dispose it.</para>
/// </remarks>
public sealed unsafe class PthFile : IDisposable
{
    private static readonly BigInteger s_legacyMagic = BigInteger.Parse("119547037146038801333356", System.Globalization.CultureInfo.InvariantCulture);
    private readonly MappedFile _file;
    private readonly byte* _base;
    private readonly long _length;
    private readonly Dictionary<string, PthTensor> _byName;

    private PthFile(string path, string format, List<PthTensor> tensors, MappedFile file, byte* basePtr, long length)
    {
        Path = path;
        Format = format;
        Tensors = tensors;
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        _file = file;
        _base = basePtr;
        _length = length;
    }

    /// <summary>Full path of the file.</summary>
    public string Path { get; }

    /// <summary>"zip" (torch ≥ 1.6) or "legacy".</summary>
    public string Format { get; }

    /// <summary>The state dict's tensors in file order.</summary>
    public IReadOnlyList<PthTensor> Tensors { get; }

    /// <summary>Whether the first bytes look like a PyTorch checkpoint (a zip archive or a pickle stream).</summary>
    public static bool LooksLikePth(ReadOnlySpan<byte> head) =>
        (head.Length >= 4 && head[0] == (byte)'P' && head[1] == (byte)'K' && head[2] == 3 && head[3] == 4) || (head.Length >= 2 && head[0] == 0x80);

    /// <summary>Opens and validates <paramref name="path"/>; throws <see cref="PthException"/> on anything malformed or not allowed.</summary>
    public static PthFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("PyTorch checkpoint reading needs a little-endian host.");
        string full = System.IO.Path.GetFullPath(path);
        FileStream stream = MappedFile.OpenRead(full);
        MappedFile? file = null;
        try
        {
            long length = stream.Length;
            if (length < 8) throw new PthException(full, null, $"file is {length} bytes, too short for a PyTorch checkpoint");
            file = MappedFile.Map(stream);
            byte* basePtr = file.Pointer;
            var head = new ReadOnlySpan<byte>(basePtr, (int)Math.Min(length, 512));
            (string format, List<PthTensor> tensors) = head[0] == (byte)'P' && head[1] == (byte)'K'
                ? ("zip", ReadZip(full, basePtr, length))
                : head[0] == 0x80
                    ? ("legacy", ReadLegacy(full, basePtr, length))
                    : throw new PthException(full, null, head.Length > 262 && head.Slice(257, 5).SequenceEqual("ustar"u8)
                        ? "this is the tar container of torch < 0.4, which is not supported: load it with torch and save it again"
                        : "not a PyTorch checkpoint (neither a zip archive nor a pickle stream)");
            return new PthFile(full, format, tensors, file, basePtr, length);
        }
        catch
        {
            if (file != null) file.Dispose();
            else stream.Dispose();
            throw;
        }
    }

    private static List<PthTensor> ReadZip(string path, byte* file, long length)
    {
        var entries = ZipDirectory.Read(file, length, path);
        var pickles = entries.Keys.Where(k => k.EndsWith("data.pkl", StringComparison.Ordinal)
            && (k == "data.pkl" || (k.Length > "/data.pkl".Length && k.EndsWith("/data.pkl", StringComparison.Ordinal) && k.IndexOf('/', StringComparison.Ordinal) == k.Length - "/data.pkl".Length))).ToList();
        if (pickles.Count == 0) throw new PthException(path, null, "the zip archive has no '<folder>/data.pkl' entry, so it is not a torch.save file");
        if (pickles.Count > 1) throw new PthException(path, null, $"the zip archive has several data.pkl entries ({string.Join(", ", pickles)})");
        string prefix = pickles[0][..^"data.pkl".Length];
        if (entries.TryGetValue(prefix + "byteorder", out var order))
        {
            string text = order.Method == 0 && order.Size <= 16 ? Encoding.ASCII.GetString(file + order.DataOffset, (int)order.Size) : "?";
            if (text != "little") throw new PthException(path, null, $"byte order '{text}' is not supported (little-endian files only)");
        }

        byte[] pickle = EntryBytes(entries[pickles[0]], pickles[0], path, file);
        var unpickler = new TorchUnpickler();
        object root = Unpickle(pickle, path, "data.pkl", unpickler);

        // storages: <prefix>data/<key>, stored uncompressed
        var storageData = new Dictionary<string, (long Offset, long Elements)>(StringComparer.Ordinal);
        var missing = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var s in unpickler.Storages.Values)
        {
            string entryName = prefix + "data/" + s.RootKey;
            if (!entries.TryGetValue(entryName, out var e)) missing[s.Key] = $"its storage '{entryName}' is missing from the archive (truncated or corrupt)";
            else if (e.Method != 0) missing[s.Key] = $"its storage '{entryName}' is compressed (method {e.Method}); torch writes storages uncompressed";
            else if (s.Type.Dtype is { } dt && e.Size < checked(s.Elements * dt.SizeInBytes()))
                missing[s.Key] = $"its storage '{entryName}' has {e.Size} bytes, fewer than its {s.Elements} elements of {dt.ToHeaderName()} need";
            else storageData[s.Key] = (e.DataOffset, s.Elements);
        }

        return Complete(path, ValidateTensors(path, root, storageData, missing), missing);
    }

    private static List<PthTensor> ReadLegacy(string path, byte* file, long length)
    {
        long pos = 0;
        object magic = NextPickle(path, file, length, ref pos, "the magic number", null);
        if (!(magic is BigInteger b && b == s_legacyMagic))
            throw new PthException(path, null, "the first pickle is not torch's magic number: not a PyTorch checkpoint (or a plain pickle file)");
        object protocol = NextPickle(path, file, length, ref pos, "the protocol version", null);
        if (protocol is not int and not long || Convert.ToInt64(protocol, System.Globalization.CultureInfo.InvariantCulture) != 1001)
            throw new PthException(path, null, $"legacy protocol version {protocol} is not 1001");
        object sysInfo = NextPickle(path, file, length, ref pos, "the system info", null);
        if (sysInfo is Hashtable info && info["little_endian"] is false)
            throw new PthException(path, null, "the checkpoint was written on a big-endian machine, which is not supported");
        var unpickler = new TorchUnpickler();
        object root = NextPickle(path, file, length, ref pos, "the pickled object", unpickler);
        object keysObject = NextPickle(path, file, length, ref pos, "the storage key list", null);
        if (keysObject is not ArrayList keys) throw new PthException(path, null, "the storage key list is not a list");

        // each storage: int64 element count, then the raw elements
        var roots = unpickler.Storages.Values.Where(s => s.Key == s.RootKey).ToDictionary(s => s.Key, StringComparer.Ordinal);
        var rootData = new Dictionary<string, (long Offset, long Elements)>(StringComparer.Ordinal);
        var missing = new Dictionary<string, string>(StringComparer.Ordinal);
        string? truncatedAt = null;
        foreach (object k in keys)
        {
            if (k is not string key) throw new PthException(path, null, "a storage key in the key list is not a string");
            if (!roots.TryGetValue(key, out var storage)) throw new PthException(path, key, "the key list names a storage that no tensor refers to, so its element size is unknown");
            if (truncatedAt is not null) break;
            if (length - pos < 8)
            {
                truncatedAt = key;
                break;
            }

            long count = BinaryPrimitives.ReadInt64LittleEndian(new ReadOnlySpan<byte>(file + pos, 8));
            pos += 8;
            int size = storage.Type.Dtype?.SizeInBytes() ?? 1;
            if (count != storage.Elements) throw new PthException(path, key, $"storage has {count} elements in the data but {storage.Elements} in the pickle");
            if (count < 0 || count > (length - pos) / size)
            {
                truncatedAt = key;
                break;
            }

            rootData[key] = (pos, count);
            pos += count * size;
        }

        var storageData = new Dictionary<string, (long Offset, long Elements)>(StringComparer.Ordinal);
        foreach (var s in unpickler.Storages.Values)
        {
            if (rootData.TryGetValue(s.RootKey, out var r))
            {
                int size = s.Type.Dtype?.SizeInBytes() ?? 1;
                storageData[s.Key] = (r.Offset + s.ViewOffset * size, s.Elements);
            }
            else
            {
                missing[s.Key] = truncatedAt is not null
                    ? $"its storage '{s.RootKey}' is missing: the file ends early (truncated)"
                    : $"its storage '{s.RootKey}' is not in the file's storage list";
            }
        }

        return Complete(path, ValidateTensors(path, root, storageData, missing), missing);
    }

    /// <summary>A storage that the pickle refers to outside the state dict (an optimizer's) must be whole too: the file is truncated or corrupt.</summary>
    private static List<PthTensor> Complete(string path, List<PthTensor> tensors, Dictionary<string, string> missing)
    {
        if (missing.Count > 0)
        {
            var (key, why) = missing.OrderBy(kv => kv.Key, StringComparer.Ordinal).First();
            throw new PthException(path, null, $"storage '{key}' (used outside the state dict): {why.Replace("its storage", "storage", StringComparison.Ordinal)}");
        }

        return tensors;
    }

    private static object NextPickle(string path, byte* file, long length, ref long pos, string what, Unpickler? unpickler)
    {
        if (pos >= length) throw new PthException(path, null, $"the file ends before {what} (truncated)");
        var rest = new ReadOnlySpan<byte>(file + pos, (int)Math.Min(length - pos, int.MaxValue));
        int n = PickleScanner.Scan(rest, path, what, TorchGlobals.IsAllowed);
        byte[] bytes = rest[..n].ToArray();
        pos += n;
        return Unpickle(bytes, path, what, unpickler ?? new TorchUnpickler());
    }

    private static byte[] EntryBytes(ZipDirectory.Entry e, string name, string path, byte* file)
    {
        if (e.Method != 0) throw new PthException(path, null, $"'{name}' is compressed (method {e.Method}); torch writes it uncompressed");
        if (e.Size > int.MaxValue) throw new PthException(path, null, $"'{name}' is {e.Size} bytes, too large");
        return new ReadOnlySpan<byte>(file + e.DataOffset, (int)e.Size).ToArray();
    }

    private static object Unpickle(byte[] pickle, string path, string what, Unpickler unpickler)
    {
        PickleScanner.Scan(pickle, path, what, TorchGlobals.IsAllowed);
        try
        {
            return unpickler.loads(pickle) ?? throw new PthException(path, null, $"{what} is None");
        }
        catch (Exception e) when (e is not PthException and not OutOfMemoryException)
        {
            // Razorvine reports malformed input as PickleException, InvalidCastException, index errors… all are "corrupt pickle"
            throw new PthException(path, null, $"{what} cannot be unpickled as a state dict: {e.Message}", e);
        }
    }

    /// <summary>The state dict inside <paramref name="root"/>, validated tensor by tensor.</summary>
    private static List<PthTensor> ValidateTensors(string path, object root, Dictionary<string, (long Offset, long Elements)> storages, Dictionary<string, string> missing)
    {
        object dict = root;
        if (dict is Hashtable h1 && h1["model"] is Hashtable model) dict = model;
        if (dict is Hashtable h2 && h2["state_dict"] is Hashtable stateDict) dict = stateDict;
        if (dict is not Hashtable table) throw new PthException(path, null, $"the pickled object is a {Describe(root)}, not a state dict");

        // file order: the order the tensors were rebuilt in (a stable sort keeps tied weights in insertion order)
        IEnumerable<object> keys = (table is OrderedHashtable ordered ? ordered.OrderedKeys : table.Keys.Cast<object>())
            .OrderBy(k => table[k] is PickledTensor t ? t.Sequence : long.MaxValue);
        var result = new List<PthTensor>();
        foreach (object k in keys)
        {
            if (table[k] is not PickledTensor t) continue; // epoch numbers, nested dicts, … are not weights
            if (k is not string name) throw new PthException(path, null, $"a tensor's key is a {Describe(k)}, not a string");
            if (missing.TryGetValue(t.Storage.Key, out string? why)) throw new PthException(path, name, why);
            if (t.Storage.Type.Dtype is not { } dtype) throw new PthException(path, name, $"unknown dtype: storage type {t.Storage.Type.Name} is not one this reader converts (F32, F16, BF16, F64 and integers)");
            if (t.Size.Length != t.Stride.Length) throw new PthException(path, name, $"shape {SafetensorsShape.Format(t.Size)} and stride {SafetensorsShape.Format(t.Stride)} differ in rank");
            if (!SafetensorsShape.TryElementCount(t.Size, out long count, out string? error)) throw new PthException(path, name, error!);
            if (t.Offset < 0) throw new PthException(path, name, $"negative storage offset {t.Offset}");
            if (t.Stride.Any(s => s < 0)) throw new PthException(path, name, $"negative stride {SafetensorsShape.Format(t.Stride)}");
            var (offset, elements) = storages[t.Storage.Key];
            if (count > 0)
            {
                Int128 last = t.Offset;
                for (int d = 0; d < t.Size.Length; d++) last += (Int128)(t.Size[d] - 1) * t.Stride[d];
                if (last >= elements)
                {
                    throw new PthException(path, name,
                        $"the tensor (shape {SafetensorsShape.Format(t.Size)}, stride {SafetensorsShape.Format(t.Stride)}, offset {t.Offset}) reaches element {last}, past the end of its storage '{t.Storage.Key}' of {elements} elements");
                }
            }

            result.Add(new PthTensor(name, dtype, t.Size, t.Stride, t.Offset, t.Storage.Key) { DataOffset = offset });
        }

        if (result.Count == 0) throw new PthException(path, null, "the state dict holds no tensors");
        return result;
    }

    private static string Describe(object? o) => o switch
    {
        null => "None",
        Hashtable => "dict",
        ArrayList => "list",
        object[] => "tuple",
        string => "string",
        _ => o.GetType().Name,
    };

    /// <summary>The tensor <paramref name="name"/>; throws <see cref="PthException"/> when absent.</summary>
    public PthTensor GetTensor(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _byName.TryGetValue(name, out var t) ? t : throw new PthException(Path, name, $"no such tensor (the state dict has {Tensors.Count})");
    }

    /// <summary>Reads a floating-point tensor (F32, F16, BF16 or F64) as float32 in row-major order into a new array.</summary>
    public float[] ReadF32(string name)
    {
        var t = GetTensor(name);
        if (t.ElementCount > Array.MaxLength) throw new PthException(Path, name, $"{t.ElementCount} elements do not fit in one array");
        var values = new float[t.ElementCount];
        ReadF32(name, values);
        return values;
    }

    /// <summary>Reads a floating-point tensor as float32 in row-major order into <paramref name="destination"/> (length = element count).</summary>
    public void ReadF32(string name, Span<float> destination)
    {
        ObjectDisposedException.ThrowIf(_file.IsDisposed, this);
        var t = GetTensor(name);
        if (t.Dtype is not (SafetensorsDtype.F32 or SafetensorsDtype.F16 or SafetensorsDtype.BF16 or SafetensorsDtype.F64))
            throw new PthException(Path, name, $"dtype {t.Dtype.ToHeaderName()} is not a floating-point type");
        if (destination.Length != t.ElementCount)
            throw new ArgumentException($"Tensor '{name}' in '{Path}' has {t.ElementCount} elements (shape {SafetensorsShape.Format(t.Shape)}), but the destination holds {destination.Length}.", nameof(destination));
        byte* data = _base + t.DataOffset;
        int size = t.Dtype.SizeInBytes();
        if (t.IsContiguous)
        {
            byte* src = data + (t.StorageOffset * size);
            if (t.Dtype == SafetensorsDtype.F32)
            {
                fixed (float* dst = destination) Buffer.MemoryCopy(src, dst, destination.Length * 4L, destination.Length * 4L);
            }
            else
            {
                for (int i = 0; i < destination.Length; i++) destination[i] = Element(src, t.Dtype, i);
            }

            return;
        }

        int rank = t.Shape.Length;
        var index = new long[rank];
        long at = t.StorageOffset;
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = Element(data, t.Dtype, at);
            for (int d = rank - 1; d >= 0; d--)
            {
                at += t.Strides[d];
                if (++index[d] < t.Shape[d]) break;
                at -= t.Strides[d] * t.Shape[d];
                index[d] = 0;
            }
        }
    }

    /// <summary>Reads an integer (or bool) tensor as int64 in row-major order.</summary>
    public long[] ReadI64(string name)
    {
        ObjectDisposedException.ThrowIf(_file.IsDisposed, this);
        var t = GetTensor(name);
        if (t.Dtype is not (SafetensorsDtype.I64 or SafetensorsDtype.I32 or SafetensorsDtype.I16 or SafetensorsDtype.I8 or SafetensorsDtype.U8 or SafetensorsDtype.BOOL))
            throw new PthException(Path, name, $"dtype {t.Dtype.ToHeaderName()} is not an integer type");
        if (t.ElementCount > Array.MaxLength) throw new PthException(Path, name, $"{t.ElementCount} elements do not fit in one array");
        var values = new long[t.ElementCount];
        byte* data = _base + t.DataOffset;
        int rank = t.Shape.Length;
        var index = new long[rank];
        long at = t.StorageOffset;
        for (int i = 0; i < values.Length; i++)
        {
            byte* p = data + (at * t.Dtype.SizeInBytes());
            values[i] = t.Dtype switch
            {
                SafetensorsDtype.I64 => Unsafe.ReadUnaligned<long>(p),
                SafetensorsDtype.I32 => Unsafe.ReadUnaligned<int>(p),
                SafetensorsDtype.I16 => Unsafe.ReadUnaligned<short>(p),
                SafetensorsDtype.I8 => *(sbyte*)p,
                _ => *p,
            };
            for (int d = rank - 1; d >= 0; d--)
            {
                at += t.Strides[d];
                if (++index[d] < t.Shape[d]) break;
                at -= t.Strides[d] * t.Shape[d];
                index[d] = 0;
            }
        }

        return values;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Element(byte* data, SafetensorsDtype dtype, long index) => dtype switch
    {
        SafetensorsDtype.F32 => Unsafe.ReadUnaligned<float>(data + (index * 4)),
        SafetensorsDtype.F16 => (float)Unsafe.ReadUnaligned<Half>(data + (index * 2)),
        SafetensorsDtype.BF16 => BitConverter.Int32BitsToSingle(Unsafe.ReadUnaligned<ushort>(data + (index * 2)) << 16),
        _ => (float)Unsafe.ReadUnaligned<double>(data + (index * 8)),
    };

    /// <summary>Unmaps and closes the file.</summary>
    public void Dispose() => _file.Dispose();

    /// <inheritdoc/>
    public override string ToString() => $"{Path} ({Format}, {Tensors.Count} tensors, {_length} bytes)";
}
