using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;

namespace TransReID.Tests.IO;

/// <summary>
/// Writes a float32 state dict the way <c>torch.save</c> does (zip container, protocol-2 pickle of an OrderedDict of
/// <c>_rebuild_tensor_v2</c> calls over <c>torch.FloatStorage</c> persistent ids), so that tests can make .pth files of
/// any model without Python. Only what the tests need: contiguous F32 tensors.
/// </summary>
internal static class TorchZipWriter
{
    public static void Save(string path, IEnumerable<(string Name, float[] Values, long[] Shape)> tensors, string archive = "archive")
    {
        var pickle = new MemoryStream();
        void B(params byte[] b) => pickle.Write(b);
        void Text(string s) => pickle.Write(Encoding.UTF8.GetBytes(s));
        void Unicode(string s)
        {
            byte[] utf8 = Encoding.UTF8.GetBytes(s);
            B((byte)'X');
            Span<byte> n = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(n, utf8.Length);
            pickle.Write(n);
            pickle.Write(utf8);
        }

        void Int(long v)
        {
            B((byte)'J');
            Span<byte> n = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(n, checked((int)v));
            pickle.Write(n);
        }

        void Tuple(long[] values)
        {
            B((byte)'(');
            foreach (long v in values) Int(v);
            B((byte)'t');
        }

        var storages = new List<float[]>();
        B(0x80, 2);
        Text("ccollections\nOrderedDict\n");
        B((byte)')', (byte)'R', (byte)'(');
        foreach (var (name, values, shape) in tensors)
        {
            var stride = new long[shape.Length];
            long s = 1;
            for (int d = shape.Length - 1; d >= 0; d--)
            {
                stride[d] = s;
                s *= shape[d];
            }

            if (s != values.Length) throw new ArgumentException($"{name}: {values.Length} values for shape [{string.Join(", ", shape)}]");
            Unicode(name);
            Text("ctorch._utils\n_rebuild_tensor_v2\n");
            B((byte)'(', (byte)'(');
            Unicode("storage");
            Text("ctorch\nFloatStorage\n");
            Unicode(storages.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Unicode("cpu");
            Int(values.Length);
            B((byte)'t', (byte)'Q');
            Int(0);
            Tuple(shape);
            Tuple(stride);
            B(0x89);
            Text("ccollections\nOrderedDict\n");
            B((byte)')', (byte)'R', (byte)'t', (byte)'R');
            storages.Add(values);
        }

        B((byte)'u', (byte)'.');

        using var zip = new ZipArchive(File.Create(path), ZipArchiveMode.Create);
        void Entry(string name, ReadOnlySpan<byte> data)
        {
            using var stream = zip.CreateEntry(archive + "/" + name, CompressionLevel.NoCompression).Open();
            stream.Write(data);
        }

        Entry("data.pkl", pickle.ToArray());
        for (int i = 0; i < storages.Count; i++) Entry("data/" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), MemoryMarshal.AsBytes(storages[i].AsSpan()));
        Entry("version", "3\n"u8);
    }
}
