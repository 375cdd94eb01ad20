using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace TransReID.Runtime.IO;

/// <summary>
/// Walks the opcodes of one pickle (protocols 0–5, as Python's <c>pickletools.genops</c> does) without executing any
/// of them: it finds where the pickle ends (the byte after its <c>STOP</c>), checks that every opcode's argument lies
/// inside the data, and checks every global the pickle names (<c>GLOBAL</c>, <c>INST</c>, <c>STACK_GLOBAL</c>)
/// against an allow-list. Only a pickle that passes is handed to the unpickler, so nothing outside the list is ever
/// looked up, let alone constructed.
/// </summary>
/// <remarks>
/// <c>STACK_GLOBAL</c> takes its module and name from the stack; they are accepted only when the two opcodes just
/// before it (memo puts aside) pushed string literals or memoised string literals, which is how Python's pickler
/// writes them. Extension codes (<c>EXT1/2/4</c>) and out-of-band buffers name objects indirectly and are refused.
/// </remarks>
internal static class PickleScanner
{
    /// <summary>Scans the pickle that starts at <paramref name="data"/>[0]; returns its length in bytes (through STOP).</summary>
    public static int Scan(ReadOnlySpan<byte> data, string path, string what, Func<string, string, bool> isAllowed)
    {
        var memo = new Dictionary<long, string?>();
        string? top = null, below = null; // the last two pushed string literals (null: not a known string)
        int pos = 0;
        while (true)
        {
            if (pos >= data.Length) throw Error(path, what, $"ends at byte {pos} without a STOP opcode (truncated)");
            int at = pos;
            byte op = data[pos++];
            string? pushed = null;
            bool keep = false;
            switch (op)
            {
                case (byte)'.': // STOP
                    return pos;

                // no argument
                case (byte)'(': case (byte)'0': case (byte)'1': case (byte)'2': case (byte)'N': case (byte)'Q': case (byte)'R':
                case (byte)'a': case (byte)'b': case (byte)'d': case (byte)'}': case (byte)'e': case (byte)'l': case (byte)']':
                case (byte)'o': case (byte)'s': case (byte)'t': case (byte)')': case (byte)'u': case 0x81: case 0x85: case 0x86:
                case 0x87: case 0x88: case 0x89: case 0x8f: case 0x90: case 0x91: case 0x92: case 0x98:
                    break;

                // fixed-size arguments
                case (byte)'J': Skip(data, ref pos, 4, path, what, at); break;            // BININT
                case (byte)'K': Skip(data, ref pos, 1, path, what, at); break;            // BININT1
                case (byte)'M': Skip(data, ref pos, 2, path, what, at); break;            // BININT2
                case (byte)'G': Skip(data, ref pos, 8, path, what, at); break;            // BINFLOAT
                case 0x80: Skip(data, ref pos, 1, path, what, at); break;                 // PROTO
                case 0x95: Skip(data, ref pos, 8, path, what, at); break;                 // FRAME

                // memo
                case (byte)'h': pushed = Get(memo, Fixed(data, ref pos, 1, path, what, at), out keep); break; // BINGET
                case (byte)'j': pushed = Get(memo, Fixed(data, ref pos, 4, path, what, at), out keep); break; // LONG_BINGET
                case (byte)'g': pushed = Get(memo, ParseLong(Line(data, ref pos, path, what, at), path, what, at), out keep); break; // GET
                case (byte)'q': memo[Fixed(data, ref pos, 1, path, what, at)] = top; continue;                // BINPUT
                case (byte)'r': memo[Fixed(data, ref pos, 4, path, what, at)] = top; continue;                // LONG_BINPUT
                case (byte)'p': memo[ParseLong(Line(data, ref pos, path, what, at), path, what, at)] = top; continue; // PUT
                case 0x94: memo[memo.Count] = top; continue;                                                  // MEMOIZE

                // line arguments
                case (byte)'F': case (byte)'I': case (byte)'L': case (byte)'S': case (byte)'V': case (byte)'P':
                    Line(data, ref pos, path, what, at);
                    break;

                // length-prefixed arguments
                case (byte)'T': Counted(data, ref pos, 4, path, what, at); break;         // BINSTRING
                case (byte)'U': Counted(data, ref pos, 1, path, what, at); break;         // SHORT_BINSTRING
                case (byte)'B': Counted(data, ref pos, 4, path, what, at); break;         // BINBYTES
                case (byte)'C': Counted(data, ref pos, 1, path, what, at); break;         // SHORT_BINBYTES
                case 0x8e: Counted(data, ref pos, 8, path, what, at); break;              // BINBYTES8
                case 0x96: Counted(data, ref pos, 8, path, what, at); break;              // BYTEARRAY8
                case 0x8a: Counted(data, ref pos, 1, path, what, at); break;              // LONG1
                case 0x8b: Counted(data, ref pos, 4, path, what, at); break;              // LONG4
                case (byte)'X': pushed = Utf8(Counted(data, ref pos, 4, path, what, at), path, what, at); keep = true; break; // BINUNICODE
                case 0x8c: pushed = Utf8(Counted(data, ref pos, 1, path, what, at), path, what, at); keep = true; break;      // SHORT_BINUNICODE
                case 0x8d: pushed = Utf8(Counted(data, ref pos, 8, path, what, at), path, what, at); keep = true; break;      // BINUNICODE8

                // globals
                case (byte)'c': // GLOBAL
                case (byte)'i': // INST
                {
                    string module = Utf8(Line(data, ref pos, path, what, at), path, what, at);
                    string name = Utf8(Line(data, ref pos, path, what, at), path, what, at);
                    Check(module, name, isAllowed, path, what, at);
                    break;
                }

                case 0x93: // STACK_GLOBAL
                    if (top is null || below is null)
                        throw Error(path, what, $"STACK_GLOBAL at byte {at} takes its module and name from computed values, which this reader does not allow");
                    Check(below, top, isAllowed, path, what, at);
                    break;

                case 0x82: case 0x83: case 0x84:
                    throw Error(path, what, $"extension-registry opcode 0x{op:x2} at byte {at} names an object indirectly, which this reader does not allow");
                case 0x97:
                    throw Error(path, what, $"out-of-band buffer opcode at byte {at} is not supported");
                default:
                    throw Error(path, what, $"invalid pickle opcode 0x{op:x2} at byte {at}");
            }

            below = keep ? top : null;
            top = keep ? pushed : null;
        }
    }

    private static string? Get(Dictionary<long, string?> memo, long index, out bool known)
    {
        known = memo.TryGetValue(index, out string? value) && value is not null;
        return known ? value : null;
    }

    private static void Check(string module, string name, Func<string, string, bool> isAllowed, string path, string what, int at)
    {
        if (!isAllowed(module, name))
            throw new PthException(path, null, $"{what} uses the Python global '{module}.{name}' (byte {at}), which is not on the allow-list of a state dict; nothing was loaded");
    }

    private static void Skip(ReadOnlySpan<byte> data, ref int pos, int n, string path, string what, int at)
    {
        if (data.Length - pos < n) throw Truncated(path, what, at);
        pos += n;
    }

    private static long Fixed(ReadOnlySpan<byte> data, ref int pos, int n, string path, string what, int at)
    {
        if (data.Length - pos < n) throw Truncated(path, what, at);
        long value = n switch
        {
            1 => data[pos],
            2 => BinaryPrimitives.ReadUInt16LittleEndian(data[pos..]),
            4 => BinaryPrimitives.ReadInt32LittleEndian(data[pos..]),
            _ => BinaryPrimitives.ReadInt64LittleEndian(data[pos..]),
        };
        pos += n;
        return value;
    }

    private static ReadOnlySpan<byte> Counted(ReadOnlySpan<byte> data, ref int pos, int prefix, string path, string what, int at)
    {
        long n = Fixed(data, ref pos, prefix, path, what, at);
        if (prefix == 4) n = (uint)n;
        if (n < 0 || n > data.Length - pos) throw Truncated(path, what, at);
        var slice = data.Slice(pos, (int)n);
        pos += (int)n;
        return slice;
    }

    private static ReadOnlySpan<byte> Line(ReadOnlySpan<byte> data, ref int pos, string path, string what, int at)
    {
        int end = data[pos..].IndexOf((byte)'\n');
        if (end < 0) throw Truncated(path, what, at);
        var line = data.Slice(pos, end);
        pos += end + 1;
        return line;
    }

    private static long ParseLong(ReadOnlySpan<byte> line, string path, string what, int at) =>
        long.TryParse(Encoding.ASCII.GetString(line), NumberStyles.Integer, CultureInfo.InvariantCulture, out long v)
            ? v
            : throw Error(path, what, $"memo index at byte {at} is not a number");

    private static string Utf8(ReadOnlySpan<byte> bytes, string path, string what, int at)
    {
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new PthException(path, null, $"{what}: invalid UTF-8 in the string at byte {at}", e);
        }
    }

    private static PthException Truncated(string path, string what, int at) =>
        Error(path, what, $"the argument of the opcode at byte {at} runs past the end of the pickle (truncated or corrupt)");

    private static PthException Error(string path, string what, string detail) => new(path, null, $"{what}: {detail}");
}
