using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Text;

namespace TransReID.Runtime.IO;

/// <summary>
/// The central directory of a zip archive in memory (zip64 included), reduced to what a PyTorch checkpoint needs:
/// for each stored (uncompressed) entry, where its bytes start in the file and how many there are. torch writes every
/// entry uncompressed (and 64-byte aligned), so tensor data can be read straight from the memory-mapped file.
/// </summary>
internal static unsafe class ZipDirectory
{
    private const uint EndSignature = 0x06054b50, End64Signature = 0x06064b50, Locator64Signature = 0x07064b50;
    private const uint CentralSignature = 0x02014b50, LocalSignature = 0x04034b50;

    /// <summary>An entry: data range in the file, and its compression method (0 = stored).</summary>
    public readonly record struct Entry(long DataOffset, long Size, int Method);

    public static Dictionary<string, Entry> Read(byte* file, long length, string path)
    {
        // end of central directory: 22 bytes plus a comment of up to 65535 bytes, at the end of the file
        long eocd = -1;
        for (long p = length - 22; p >= Math.Max(0, length - 22 - 65535); p--)
        {
            if (U32(file, p) == EndSignature)
            {
                eocd = p;
                break;
            }
        }

        if (eocd < 0) throw Error(path, "no end-of-central-directory record (truncated or not a zip archive)");
        long entries = U16(file, eocd + 10);
        long cdSize = U32(file, eocd + 12);
        long cdOffset = U32(file, eocd + 16);
        if (entries == 0xFFFF || cdSize == 0xFFFFFFFF || cdOffset == 0xFFFFFFFF)
        {
            long locator = eocd - 20;
            if (locator < 0 || U32(file, locator) != Locator64Signature) throw Error(path, "zip64 archive without a zip64 end-of-central-directory locator");
            long end64 = I64(file, locator + 8, length, path);
            if (end64 < 0 || end64 > length - 56 || U32(file, end64) != End64Signature) throw Error(path, "zip64 end-of-central-directory record is missing or outside the file");
            entries = I64(file, end64 + 32, length, path);
            cdSize = I64(file, end64 + 40, length, path);
            cdOffset = I64(file, end64 + 48, length, path);
        }

        if (cdOffset < 0 || cdSize < 0 || cdOffset > length || cdSize > length - cdOffset)
            throw Error(path, $"central directory [{cdOffset}, {cdOffset + cdSize}) lies outside the file ({length} bytes; truncated?)");
        if (entries < 0 || entries > cdSize / 46) throw Error(path, $"central directory claims {entries} entries in {cdSize} bytes");

        var result = new Dictionary<string, Entry>(StringComparer.Ordinal);
        long pos = cdOffset, end = cdOffset + cdSize;
        for (long i = 0; i < entries; i++)
        {
            if (end - pos < 46 || U32(file, pos) != CentralSignature) throw Error(path, $"central directory entry {i} is malformed");
            int flags = U16(file, pos + 8);
            int method = U16(file, pos + 10);
            long compressed = U32(file, pos + 20);
            long size = U32(file, pos + 24);
            int nameLength = U16(file, pos + 28), extraLength = U16(file, pos + 30), commentLength = U16(file, pos + 32);
            long local = U32(file, pos + 42);
            long next = pos + 46 + nameLength + extraLength + commentLength;
            if (next > end) throw Error(path, $"central directory entry {i} runs past the directory");
            string name = Name(file, pos + 46, nameLength, path);

            // zip64 extra field: the 8-byte values, in this order, of the fields that are 0xFFFFFFFF
            long extra = pos + 46 + nameLength, extraEnd = extra + extraLength;
            while (extraEnd - extra >= 4)
            {
                int id = U16(file, extra), len = U16(file, extra + 2);
                long body = extra + 4;
                if (len > extraEnd - body) throw Error(path, $"entry '{name}' has a malformed extra field");
                if (id == 1)
                {
                    long q = body, qEnd = body + len;
                    if (size == 0xFFFFFFFF) size = Take64(file, ref q, qEnd, name, path);
                    if (compressed == 0xFFFFFFFF) compressed = Take64(file, ref q, qEnd, name, path);
                    if (local == 0xFFFFFFFF) local = Take64(file, ref q, qEnd, name, path);
                }

                extra = body + len;
            }

            if ((flags & 1) != 0) throw Error(path, $"entry '{name}' is encrypted");
            if (local < 0 || local > length - 30 || U32(file, local) != LocalSignature) throw Error(path, $"entry '{name}': its local header is missing or outside the file");
            long data = local + 30 + U16(file, local + 26) + U16(file, local + 28);
            if (compressed < 0 || data > length || compressed > length - data)
                throw Error(path, $"entry '{name}': its {compressed} bytes at {data} run past the end of the file ({length} bytes; truncated?)");
            if (method == 0 && compressed != size) throw Error(path, $"entry '{name}' is stored with {compressed} bytes but claims {size}");
            if (!result.TryAdd(name, new Entry(data, compressed, method))) throw Error(path, $"entry '{name}' appears twice");
            pos = next;
        }

        return result;
    }

    private static long Take64(byte* file, ref long q, long end, string name, string path)
    {
        if (end - q < 8) throw Error(path, $"entry '{name}' has a short zip64 extra field");
        long v = BinaryPrimitives.ReadInt64LittleEndian(new ReadOnlySpan<byte>(file + q, 8));
        q += 8;
        return v;
    }

    private static string Name(byte* file, long at, int length, string path)
    {
        try
        {
            return new UTF8Encoding(false, true).GetString(file + at, length);
        }
        catch (DecoderFallbackException e)
        {
            throw new PthException(path, null, "a zip entry name is not valid UTF-8", e);
        }
    }

    private static int U16(byte* file, long at) => BinaryPrimitives.ReadUInt16LittleEndian(new ReadOnlySpan<byte>(file + at, 2));

    private static uint U32(byte* file, long at) => BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(file + at, 4));

    private static long I64(byte* file, long at, long length, string path) =>
        at >= 0 && at <= length - 8 ? BinaryPrimitives.ReadInt64LittleEndian(new ReadOnlySpan<byte>(file + at, 8)) : throw Error(path, "zip64 record outside the file");

    private static PthException Error(string path, string detail) => new(path, null, "zip container: " + detail);
}
