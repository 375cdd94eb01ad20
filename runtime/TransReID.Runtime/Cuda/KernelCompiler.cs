using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using TransReID.Runtime.Interop;
using TransReID.Runtime.IO;

namespace TransReID.Runtime.Cuda;

/// <summary>A compiled kernel file: a CUBIN for the device's own architecture, or PTX when NVRTC cannot target it.</summary>
/// <param name="FileName">The kernel file, e.g. <c>layernorm.cu</c>.</param>
/// <param name="Data">CUBIN bytes, or NUL-terminated PTX text.</param>
/// <param name="IsCubin">Whether <paramref name="Data"/> is a CUBIN.</param>
/// <param name="Target">The <c>--gpu-architecture</c> value, e.g. <c>sm_90</c> or <c>compute_90</c>.</param>
/// <param name="Log">NVRTC's log (empty for a clean compile and for cache hits).</param>
/// <param name="FromCache">Whether the image came from the disk cache.</param>
/// <param name="CacheKey">SHA-256 (hex) of source, headers, options, NVRTC version and target.</param>
internal sealed record KernelImage(string FileName, byte[] Data, bool IsCubin, string Target, string Log, bool FromCache, string CacheKey);

/// <summary>
/// Compiles the embedded kernel files with NVRTC (no GPU needed) for one architecture and keeps the result in a disk
/// cache: <c>$TRANSREID_CACHE/kernels</c>, else <c>$XDG_CACHE_HOME/transreid/kernels</c>, else
/// <c>~/.cache/transreid/kernels</c>. Entries are keyed by the SHA-256 of source + headers + options + NVRTC version
/// + target, carry their own SHA-256 and length, are written to a temporary file and renamed into place, and are
/// dropped and recompiled when they fail that check or fail to load (<see cref="Invalidate"/>).
/// </summary>
internal sealed class KernelCompiler
{
    /// <summary>Environment variable naming the cache root (kernels go to its <c>kernels</c> folder).</summary>
    public const string CacheVariable = "TRANSREID_CACHE";

    /// <summary>Environment variable naming an extra include folder (e.g. a toolkit's <c>include</c> with cuda_bf16.h).</summary>
    public const string IncludeVariable = "TRANSREID_CUDA_INCLUDE";

    private static readonly byte[] Magic = "TRKCACHE"u8.ToArray();
    private const int FormatVersion = 1;
    private const int HeaderBytes = 8 + 4 + 4 + 8 + 32;

    /// <summary>Creates a compiler; <paramref name="cacheDirectory"/> null = the default folder, "" = no disk cache.</summary>
    public KernelCompiler(string? cacheDirectory = null)
    {
        CacheDirectory = cacheDirectory ?? DefaultCacheDirectory();
    }

    /// <summary>The cache folder, or "" when caching is off.</summary>
    public string CacheDirectory { get; }

    /// <summary>How many files this compiler handed to NVRTC (cache misses).</summary>
    public int CompileCount { get; private set; }

    /// <summary>The default cache folder (see the class summary).</summary>
    public static string DefaultCacheDirectory()
    {
        string? root = Environment.GetEnvironmentVariable(CacheVariable);
        if (!string.IsNullOrWhiteSpace(root)) return Path.Combine(root, "kernels");
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (!string.IsNullOrWhiteSpace(xdg)) return Path.Combine(xdg, "transreid", "kernels");
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(string.IsNullOrEmpty(home) ? Path.GetTempPath() : home, ".cache", "transreid", "kernels");
    }

    /// <summary>Whether NVRTC can be loaded; <paramref name="reason"/> says why not.</summary>
    public static bool IsNvrtcAvailable(out string? reason)
    {
        Libraries.LoadResult r = Libraries.Load(Libraries.Nvrtc);
        reason = r.Failure;
        return r.Handle != 0;
    }

    /// <summary>NVRTC's version, e.g. (13, 0).</summary>
    public static unsafe (int Major, int Minor) NvrtcVersion()
    {
        int major, minor;
        Nvrtc.Check(Nvrtc.nvrtcVersion(&major, &minor), "nvrtcVersion");
        return (major, minor);
    }

    /// <summary>The real architectures NVRTC can emit CUBINs for, e.g. 75, 80, …, 90.</summary>
    public static unsafe int[] SupportedArchitectures()
    {
        int count;
        Nvrtc.Check(Nvrtc.nvrtcGetNumSupportedArchs(&count), "nvrtcGetNumSupportedArchs");
        int[] archs = new int[count];
        fixed (int* p = archs) Nvrtc.Check(Nvrtc.nvrtcGetSupportedArchs(p), "nvrtcGetSupportedArchs");
        return archs;
    }

    /// <summary>
    /// The <c>--gpu-architecture</c> value for a device of compute capability <paramref name="arch"/> (e.g. 90):
    /// <c>sm_XY</c> when NVRTC supports it (CUBIN), else <c>compute_XY</c> of the newest supported architecture below
    /// it (PTX, which the driver compiles for the device).
    /// </summary>
    public static (string Target, bool Cubin) TargetFor(int arch, IReadOnlyCollection<int> supported)
    {
        if (supported.Contains(arch)) return ($"sm_{arch.ToString(CultureInfo.InvariantCulture)}", true);
        int[] lower = [.. supported.Where(a => a < arch)];
        if (lower.Length == 0)
        {
            throw new NvrtcException(
                $"NVRTC {string.Join(", ", supported)} cannot compile for sm_{arch}: the device's architecture is older than every architecture this NVRTC supports");
        }

        return ($"compute_{lower.Max().ToString(CultureInfo.InvariantCulture)}", false);
    }

    /// <summary>The include folders that exist among TRANSREID_CUDA_INCLUDE, CUDA_PATH/include and /usr/local/cuda/include.</summary>
    public static IReadOnlyList<string> IncludePaths()
    {
        var dirs = new List<string>();
        string? extra = Environment.GetEnvironmentVariable(IncludeVariable);
        if (!string.IsNullOrWhiteSpace(extra)) dirs.Add(extra);
        string? cuda = Environment.GetEnvironmentVariable("CUDA_PATH");
        if (!string.IsNullOrWhiteSpace(cuda)) dirs.Add(Path.Combine(cuda, "include"));
        if (!OperatingSystem.IsWindows()) dirs.Add("/usr/local/cuda/include");
        return [.. dirs.Where(Directory.Exists).Distinct(StringComparer.Ordinal)];
    }

    /// <summary>
    /// The NVRTC options for a target and a set of model constants (<c>-DNAME=value</c>, validated).
    /// </summary>
    public static List<string> Options(string target, IReadOnlyList<KeyValuePair<string, long>> defines)
    {
        // -lineinfo: source lines in the image, so compute-sanitizer and the driver's fault reports name the .cu line.
        var options = new List<string> { $"--gpu-architecture={target}", "--std=c++17", "-lineinfo" };
        foreach (KeyValuePair<string, long> d in defines)
        {
            ValidateDefineName(d.Key);
            options.Add($"-D{d.Key}={d.Value.ToString(CultureInfo.InvariantCulture)}");
        }

        foreach (string dir in IncludePaths()) options.Add($"--include-path={dir}");
        return options;
    }

    /// <summary>
    /// The NVRTC options of one kernel file: <see cref="Options"/> with only the constants the file uses
    /// (<see cref="KernelSources.Uses"/>), so that the file's cache key does not change with the others.
    /// </summary>
    public static List<string> OptionsFor(string fileName, string target, IReadOnlyList<KeyValuePair<string, long>> defines)
    {
        foreach (KeyValuePair<string, long> d in defines) ValidateDefineName(d.Key);
        return Options(target, [.. defines.Where(d => KernelSources.Uses(fileName, d.Key))]);
    }

    /// <summary>Throws unless <paramref name="name"/> is an upper-case C identifier (A–Z, 0–9, _; not starting with a digit).</summary>
    public static void ValidateDefineName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        bool ok = name.Length > 0 && !char.IsAsciiDigit(name[0]) && name.All(c => char.IsAsciiLetterUpper(c) || char.IsAsciiDigit(c) || c == '_');
        if (!ok) throw new ArgumentException($"kernel constant name '{name}' is not an upper-case C identifier (A-Z, 0-9, _)", nameof(name));
    }

    /// <summary>Compiles one embedded kernel file (or takes it from the cache).</summary>
    public KernelImage Compile(string fileName, string target, bool cubin, IReadOnlyList<string> options)
    {
        string source = KernelSources.Read(fileName);
        IReadOnlyList<KeyValuePair<string, string>> headers = KernelSources.Headers;
        (int major, int minor) = NvrtcVersion();
        string key = CacheKey(fileName, source, headers, options, major, minor, target, cubin);
        string? path = CachePath(fileName, key, cubin);
        if (path != null && TryReadCache(path, cubin, out byte[]? cached))
        {
            return new KernelImage(fileName, cached!, cubin, target, "", FromCache: true, key);
        }

        byte[] data = CompileSource(fileName, source, headers, options, cubin, out string log);
        CompileCount++;
        if (path != null) TryWriteCache(path, data, cubin);
        return new KernelImage(fileName, data, cubin, target, log, FromCache: false, key);
    }

    /// <summary>Deletes the cache entry of an image that the driver refused, so the next compile starts afresh.</summary>
    public void Invalidate(KernelImage image)
    {
        string? path = CachePath(image.FileName, image.CacheKey, image.IsCubin);
        if (path == null) return;
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>The cache file of a key, or null when caching is off.</summary>
    public string? CachePath(string fileName, string key, bool cubin) =>
        CacheDirectory.Length == 0 ? null : Path.Combine(CacheDirectory, $"{Path.GetFileNameWithoutExtension(fileName)}-{key}.{(cubin ? "cubin" : "ptx")}");

    /// <summary>SHA-256 (lower-case hex) of everything that determines the compiled image.</summary>
    public static string CacheKey(string fileName, string source, IReadOnlyList<KeyValuePair<string, string>> headers,
        IReadOnlyList<string> options, int nvrtcMajor, int nvrtcMinor, string target, bool cubin)
    {
        var text = new StringBuilder();
        text.Append("transreid-kernel v1\n").Append(fileName).Append('\n').Append(source).Append('\n');
        foreach (KeyValuePair<string, string> h in headers) text.Append("#header ").Append(h.Key).Append('\n').Append(h.Value).Append('\n');
        foreach (string o in options) text.Append("#option ").Append(o).Append('\n');
        text.Append(CultureInfo.InvariantCulture, $"#nvrtc {nvrtcMajor}.{nvrtcMinor}\n#target {target} {(cubin ? "cubin" : "ptx")}\n");
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>Runs NVRTC on one source; the exception of a failed compile carries the whole log.</summary>
    public static unsafe byte[] CompileSource(string name, string source, IReadOnlyList<KeyValuePair<string, string>> headers,
        IReadOnlyList<string> options, bool cubin, out string log)
    {
        var pinned = new List<nint>();
        try
        {
            byte* src = Utf8(source, pinned);
            byte* nameBytes = Utf8(name, pinned);
            byte** headerTexts = stackalloc byte*[Math.Max(1, headers.Count)];
            byte** headerNames = stackalloc byte*[Math.Max(1, headers.Count)];
            for (int i = 0; i < headers.Count; i++)
            {
                headerTexts[i] = Utf8(headers[i].Value, pinned);
                headerNames[i] = Utf8(headers[i].Key, pinned);
            }

            byte** opts = stackalloc byte*[Math.Max(1, options.Count)];
            for (int i = 0; i < options.Count; i++) opts[i] = Utf8(options[i], pinned);

            using var program = new SafeNvrtcProgramHandle();
            nint raw;
            Nvrtc.Check(Nvrtc.nvrtcCreateProgram(&raw, src, nameBytes, headers.Count, headerTexts, headerNames), "nvrtcCreateProgram", program: name);
            program.Attach(raw);
            int result = Nvrtc.nvrtcCompileProgram(raw, options.Count, opts);
            log = ProgramLog(raw);
            Nvrtc.Check(result, "nvrtcCompileProgram", log, $"{name} (options: {string.Join(' ', options)})");
            nuint size;
            if (cubin)
            {
                Nvrtc.Check(Nvrtc.nvrtcGetCUBINSize(raw, &size), "nvrtcGetCUBINSize", program: name);
                byte[] data = new byte[(int)size];
                fixed (byte* p = data) Nvrtc.Check(Nvrtc.nvrtcGetCUBIN(raw, p), "nvrtcGetCUBIN", program: name);
                return data;
            }
            else
            {
                Nvrtc.Check(Nvrtc.nvrtcGetPTXSize(raw, &size), "nvrtcGetPTXSize", program: name);
                byte[] data = new byte[(int)size];
                fixed (byte* p = data) Nvrtc.Check(Nvrtc.nvrtcGetPTX(raw, p), "nvrtcGetPTX", program: name);
                return data;
            }
        }
        finally
        {
            foreach (nint p in pinned) System.Runtime.InteropServices.NativeMemory.Free((void*)p);
        }
    }

    private static unsafe string ProgramLog(nint program)
    {
        nuint size;
        if (Nvrtc.nvrtcGetProgramLogSize(program, &size) != Nvrtc.Success || size <= 1) return "";
        byte[] buffer = new byte[(int)size];
        fixed (byte* p = buffer)
        {
            if (Nvrtc.nvrtcGetProgramLog(program, p) != Nvrtc.Success) return "";
        }

        return Encoding.UTF8.GetString(buffer, 0, buffer.Length - 1).Trim();
    }

    private static unsafe byte* Utf8(string text, List<nint> allocations)
    {
        int count = Encoding.UTF8.GetByteCount(text);
        byte* p = (byte*)System.Runtime.InteropServices.NativeMemory.Alloc((nuint)count + 1);
        allocations.Add((nint)p);
        fixed (char* c = text) Encoding.UTF8.GetBytes(c, text.Length, p, count);
        p[count] = 0;
        return p;
    }

    private static bool TryReadCache(string path, bool cubin, out byte[]? data)
    {
        data = null;
        byte[] file;
        try
        {
            if (!File.Exists(path)) return false;
            file = File.ReadAllBytes(path);
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }

        ReadOnlySpan<byte> s = file;
        bool valid = s.Length >= HeaderBytes
            && s[..8].SequenceEqual(Magic)
            && BinaryPrimitives.ReadInt32LittleEndian(s[8..]) == FormatVersion
            && BinaryPrimitives.ReadInt32LittleEndian(s[12..]) == (cubin ? 0 : 1)
            && BinaryPrimitives.ReadInt64LittleEndian(s[16..]) == s.Length - HeaderBytes
            && SHA256.HashData(s[HeaderBytes..]).AsSpan().SequenceEqual(s[24..HeaderBytes])
            && LooksLikeImage(s[HeaderBytes..], cubin);
        if (!valid)
        {
            // Corrupt, truncated or from another format: never trusted, removed so it is rewritten.
            try
            {
                File.Delete(path);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }

            return false;
        }

        data = s[HeaderBytes..].ToArray();
        return true;
    }

    /// <summary>
    /// Whether a payload has the shape of what NVRTC produces: a CUBIN is a 64-bit little-endian ELF file
    /// (<c>\x7FELF</c>, class 2, data 1) for the CUDA machine (e_machine 190); PTX is text with one NUL at its end
    /// and <c>.version</c> and <c>.target</c> directives. A cache entry whose checksum matches but whose payload is not
    /// such an image (written by another program, or by a bug) is never handed to the driver.
    /// </summary>
    public static bool LooksLikeImage(ReadOnlySpan<byte> data, bool cubin)
    {
        if (cubin)
        {
            const ushort CudaMachine = 190; // EM_CUDA
            return data.Length >= 64 && data[0] == 0x7F && data[1] == (byte)'E' && data[2] == (byte)'L' && data[3] == (byte)'F'
                && data[4] == 2 && data[5] == 1 && BinaryPrimitives.ReadUInt16LittleEndian(data[18..]) == CudaMachine;
        }

        if (data.Length == 0 || data[^1] != 0 || data[..^1].IndexOf((byte)0) >= 0) return false;
        return data.IndexOf(".version"u8) >= 0 && data.IndexOf(".target"u8) >= 0;
    }

    /// <summary>Writes a well-formed cache entry (header with length and SHA-256, then the payload), atomically.</summary>
    internal static void WriteCacheEntry(string path, byte[] data, bool cubin) => TryWriteCache(path, data, cubin);

    private static void TryWriteCache(string path, byte[] data, bool cubin)
    {
        byte[] header = new byte[HeaderBytes];
        Magic.CopyTo(header, 0);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(8), FormatVersion);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(12), cubin ? 0 : 1);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(16), data.Length);
        SHA256.HashData(data).CopyTo(header, 24);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            AtomicFile.Write(path, stream =>
            {
                stream.Write(header);
                stream.Write(data);
            });
        }
        catch (IOException)
        {
            // a cache that cannot be written (read-only, full disk) only costs a recompilation next time
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
