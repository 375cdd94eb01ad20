using System;
using System.Collections;
using System.Collections.Generic;
using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using System.Numerics;
using Razorvine.Pickle;

namespace TransReID.Runtime.IO;

/// <summary>
/// The Python globals a PyTorch state dict may name, and what each becomes here. Everything is data: a storage type is
/// a marker carrying its dtype, <c>_rebuild_tensor_v2</c> yields a <see cref="PickledTensor"/> description (no tensor
/// data is read while unpickling), <c>OrderedDict</c> an insertion-ordered table. Any other global is refused by
/// <see cref="PickleScanner"/> before the unpickler starts.
/// </summary>
internal static class TorchGlobals
{
    private static readonly (string Name, SafetensorsDtype? Dtype)[] s_storages =
    [
        ("FloatStorage", SafetensorsDtype.F32), ("HalfStorage", SafetensorsDtype.F16), ("BFloat16Storage", SafetensorsDtype.BF16),
        ("DoubleStorage", SafetensorsDtype.F64), ("LongStorage", SafetensorsDtype.I64), ("IntStorage", SafetensorsDtype.I32),
        ("ShortStorage", SafetensorsDtype.I16), ("CharStorage", SafetensorsDtype.I8), ("ByteStorage", SafetensorsDtype.U8),
        ("BoolStorage", SafetensorsDtype.BOOL), ("UntypedStorage", SafetensorsDtype.U8),
        // storage types of dtypes a model's weights never have: allowed as names, refused as an unknown dtype per tensor
        ("ComplexFloatStorage", null), ("ComplexDoubleStorage", null), ("QInt8Storage", null), ("QUInt8Storage", null),
        ("QInt32Storage", null), ("QUInt4x2Storage", null), ("QUInt2x4Storage", null),
    ];

    /// <summary>Full name ("module.name") → what the unpickler pushes for it.</summary>
    public static FrozenDictionary<string, IObjectConstructor> Constructors { get; } = Build();

    /// <summary>Whether <paramref name="module"/>.<paramref name="name"/> is on the allow-list.</summary>
    public static bool IsAllowed(string module, string name) => Constructors.ContainsKey(module + "." + name);

    private static FrozenDictionary<string, IObjectConstructor> Build()
    {
        var map = new Dictionary<string, IObjectConstructor>(StringComparer.Ordinal)
        {
            ["collections.OrderedDict"] = new OrderedDictConstructor(),
            ["torch._utils._rebuild_tensor_v2"] = new RebuildTensorConstructor(),
            ["torch._utils._rebuild_parameter"] = new RebuildParameterConstructor(),
            ["torch._utils._rebuild_parameter_with_state"] = new RebuildParameterConstructor(),
        };
        foreach (var (name, dtype) in s_storages)
        {
            map["torch." + name] = new StorageType("torch." + name, dtype);
            map["torch.cuda." + name] = new StorageType("torch.cuda." + name, dtype);
            // the spelling of the typed-storage classes in torch >= 1.13 modules
            map["torch.storage." + name] = new StorageType("torch.storage." + name, dtype);
        }

        return map.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>Puts the allow-listed constructors into Razorvine's (process-wide) table once.</summary>
    public static void Register()
    {
        lock (Constructors)
        {
            if (s_registered) return;
            foreach (var (key, ctor) in Constructors)
            {
                int dot = key.LastIndexOf('.');
                Unpickler.registerConstructor(key[..dot], key[(dot + 1)..], ctor);
            }

            s_registered = true;
        }
    }

    private static bool s_registered;

    private sealed class OrderedDictConstructor : IObjectConstructor
    {
        public object construct(object[] args) =>
            args.Length == 0 ? new OrderedHashtable() : throw new PickleException("collections.OrderedDict is rebuilt without arguments here");
    }

    private sealed class RebuildTensorConstructor : IObjectConstructor
    {
        // Tensors are rebuilt in the order the pickle holds them; the unpickler's SETITEMS adds a batch of dict items in
        // reverse, so this sequence (increasing, process-wide) is what gives the state dict its file order back.
        private static long s_sequence;

        // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
        public object construct(object[] args)
        {
            if (args.Length is < 4 or > 7) throw new PickleException($"_rebuild_tensor_v2 with {args.Length} arguments");
            if (args[0] is not PickledStorage storage) throw new PickleException("_rebuild_tensor_v2: the first argument is not a storage");
            long offset = ToLong(args[1], "storage offset");
            long[] size = ToLongs(args[2], "size");
            long[] stride = ToLongs(args[3], "stride");
            return new PickledTensor(storage, offset, size, stride, System.Threading.Interlocked.Increment(ref s_sequence));
        }
    }

    private sealed class RebuildParameterConstructor : IObjectConstructor
    {
        // _rebuild_parameter(data, requires_grad, backward_hooks[, state])
        public object construct(object[] args) =>
            args.Length >= 1 && args[0] is PickledTensor t ? t : throw new PickleException("_rebuild_parameter: the first argument is not a tensor");
    }

    internal static long ToLong(object? value, string what) => value switch
    {
        int i => i,
        long l => l,
        BigInteger b when b >= long.MinValue && b <= long.MaxValue => (long)b,
        _ => throw new PickleException($"the tensor's {what} is not an integer ({value?.GetType().Name ?? "None"})"),
    };

    private static long[] ToLongs(object? value, string what)
    {
        if (value is not object[] items) throw new PickleException($"the tensor's {what} is not a tuple");
        var result = new long[items.Length];
        for (int i = 0; i < items.Length; i++) result[i] = ToLong(items[i], what);
        return result;
    }
}

/// <summary>A storage type named by the pickle (<c>torch.FloatStorage</c> …): a marker, never called.</summary>
internal sealed class StorageType(string name, SafetensorsDtype? dtype) : IObjectConstructor
{
    public string Name { get; } = name;

    /// <summary>The element type, or null for a storage type whose dtype this reader does not convert.</summary>
    public SafetensorsDtype? Dtype { get; } = dtype;

    public object construct(object[] args) => throw new PickleException($"{Name} is a storage type and cannot be called here");

    public override string ToString() => Name;
}

/// <summary>One storage a persistent id refers to: its key (zip entry or legacy key), type, element count, and for a legacy view its root.</summary>
internal sealed record PickledStorage(string Key, StorageType Type, long Elements, string RootKey, long ViewOffset);

/// <summary>What <c>_rebuild_tensor_v2</c> describes: a strided view into a storage (no data yet).</summary>
internal sealed record PickledTensor(PickledStorage Storage, long Offset, long[] Size, long[] Stride, long Sequence);

/// <summary>A Python dict that keeps insertion order (state dicts are <c>OrderedDict</c>s).</summary>
[SuppressMessage("Design", "CA1010", Justification = "the unpickler needs a Hashtable")]
[SuppressMessage("Naming", "CA1710", Justification = "named after the Python type it stands for")]
internal sealed class OrderedHashtable : Hashtable
{
    private readonly List<object> _order = [];

    public OrderedHashtable()
        : base(StringAwareComparer.Instance)
    {
    }

    /// <summary>Keys in insertion order.</summary>
    public IReadOnlyList<object> OrderedKeys => _order;

    public override object? this[object key]
    {
        get => base[key];
        set
        {
            if (!ContainsKey(key)) _order.Add(key);
            base[key] = value;
        }
    }

    public override void Add(object key, object? value)
    {
        base.Add(key, value);
        _order.Add(key);
    }

    /// <summary>BUILD of an OrderedDict with instance attributes (a state dict's <c>_metadata</c>): ignored.</summary>
#pragma warning disable CA1707, IDE1006, CA1822 // the name and shape the unpickler looks up by reflection
    public void __setstate__(Hashtable state) => GC.KeepAlive(state);
#pragma warning restore CA1707, IDE1006, CA1822

    private sealed class StringAwareComparer : IEqualityComparer
    {
        public static readonly StringAwareComparer Instance = new();

        public new bool Equals(object? x, object? y) => x is string a && y is string b ? string.Equals(a, b, StringComparison.Ordinal) : object.Equals(x, y);

        public int GetHashCode(object obj) => obj is string s ? StringComparer.Ordinal.GetHashCode(s) : obj.GetHashCode();
    }
}

/// <summary>Razorvine's unpickler with torch's persistent ids: <c>('storage', type, key, location, numel[, view])</c>.</summary>
internal sealed class TorchUnpickler : Unpickler
{
    private readonly Dictionary<string, PickledStorage> _storages = new(StringComparer.Ordinal);

    static TorchUnpickler() => TorchGlobals.Register();

    /// <summary>Every storage the pickle referred to, by key.</summary>
    public IReadOnlyDictionary<string, PickledStorage> Storages => _storages;

    protected override object persistentLoad(object pid)
    {
        if (pid is not object[] t || t.Length < 5 || t[0] is not string kind)
            throw new PickleException("a persistent id that is not a ('storage', ...) tuple");
        if (kind != "storage") throw new PickleException($"a persistent id of kind '{kind}' (only 'storage' is supported)");
        if (t[1] is not StorageType type) throw new PickleException("a persistent id whose storage type is not a torch storage type");
        if (t[2] is not string key) throw new PickleException("a persistent id whose key is not a string");
        long elements = TorchGlobals.ToLong(t[4], "storage size");
        if (elements < 0) throw new PickleException($"storage '{key}' has a negative size {elements}");
        var root = new PickledStorage(key, type, elements, key, 0);
        root = Remember(root);
        if (t.Length >= 6 && t[5] is object[] view)
        {
            // legacy format: (view_key, offset, view_size) into the root storage
            if (view.Length != 3 || view[0] is not string viewKey) throw new PickleException($"storage '{key}' has malformed view metadata");
            long offset = TorchGlobals.ToLong(view[1], "view offset");
            long size = TorchGlobals.ToLong(view[2], "view size");
            if (offset < 0 || size < 0 || offset > root.Elements - size)
                throw new PickleException($"view '{viewKey}' [{offset}, {offset + size}) lies outside its storage '{key}' of {root.Elements} elements");
            return Remember(new PickledStorage(viewKey, type, size, key, offset));
        }

        return root;
    }

    private PickledStorage Remember(PickledStorage storage)
    {
        if (_storages.TryGetValue(storage.Key, out var known))
        {
            if (known.Type.Dtype != storage.Type.Dtype || known.Elements != storage.Elements || known.RootKey != storage.RootKey || known.ViewOffset != storage.ViewOffset)
                throw new PickleException($"storage '{storage.Key}' is described twice, differently");
            return known;
        }

        _storages.Add(storage.Key, storage);
        return storage;
    }
}
