using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.InteropServices;

namespace TransReID.Runtime.Interop;

/// <summary>
/// Logical names of the native CUDA libraries used in <c>[LibraryImport]</c> declarations, and the one
/// <see cref="NativeLibrary.SetDllImportResolver"/> of this assembly that maps them to versioned files.
/// Probing order for each library: its override variable (a file, or a folder to search), then
/// <c>CUDA_PATH</c>'s library folders, every <c>LD_LIBRARY_PATH</c> entry, <c>/usr/local/cuda/lib64</c>
/// (the driver: <c>/usr/local/nvidia/lib64</c> and the system folders), then the bare soname through the
/// system loader. Newer majors are preferred inside each folder (NVRTC and cuBLAS: 13, then 12).
/// Names the resolver does not know (OpenBLAS, …) fall through to the default probing.
/// </summary>
internal static class Libraries
{
    /// <summary>The CUDA driver API (<c>libcuda.so.1</c>, <c>nvcuda.dll</c>).</summary>
    public const string Cuda = "transreid-cuda";

    /// <summary>NVRTC, the runtime compiler (<c>libnvrtc.so.13</c> or <c>.12</c>).</summary>
    public const string Nvrtc = "transreid-nvrtc";

    /// <summary>cuBLAS (<c>libcublas.so.13</c> or <c>.12</c>; its <c>libcublasLt</c> of the same major is loaded first).</summary>
    public const string Cublas = "transreid-cublas";

    /// <summary>File or folder overriding where the driver library is looked for.</summary>
    public const string DriverPathVariable = "TRANSREID_CUDA_DRIVER_PATH";

    /// <summary>File or folder overriding where NVRTC is looked for.</summary>
    public const string NvrtcPathVariable = "TRANSREID_NVRTC_PATH";

    /// <summary>File or folder overriding where cuBLAS is looked for.</summary>
    public const string CublasPathVariable = "TRANSREID_CUBLAS_PATH";

    private static readonly object Gate = new();
    private static readonly Dictionary<string, LoadResult> Loaded = new(StringComparer.Ordinal);
    private static bool _registered;

    /// <summary>The outcome of loading one logical library: a handle, or one sentence saying why not.</summary>
    internal readonly record struct LoadResult(nint Handle, string? Path, string? Failure);

    /// <summary>Installs the resolver once (idempotent, thread-safe). Called by every interop class's static constructor.</summary>
    public static void EnsureResolver()
    {
        lock (Gate)
        {
            if (_registered) return;
            NativeLibrary.SetDllImportResolver(typeof(Libraries).Assembly, Resolve);
            _registered = true;
        }
    }

    /// <summary>Loads (once) the library behind a logical name; never throws for a missing file.</summary>
    public static LoadResult Load(string logicalName)
    {
        lock (Gate)
        {
            if (Loaded.TryGetValue(logicalName, out LoadResult cached)) return cached;
            LoadResult result = logicalName switch
            {
                Cuda => LoadFirst("the CUDA driver", Candidates(Cuda, Environment.GetEnvironmentVariable), DriverPathVariable),
                Nvrtc => LoadNvrtc(),
                Cublas => LoadCublas(),
                _ => new LoadResult(0, null, $"unknown library '{logicalName}'"),
            };
            Loaded[logicalName] = result;
            return result;
        }
    }

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (libraryName is not (Cuda or Nvrtc or Cublas)) return 0;
        LoadResult r = Load(libraryName);
        // Zero makes the runtime fall back to default probing of the logical name, which fails with
        // DllNotFoundException; CudaProbe checks Load first, so only direct misuse gets there.
        return r.Handle;
    }

    private static LoadResult LoadCublas()
    {
        List<string> candidates = Candidates(Cublas, Environment.GetEnvironmentVariable);
        foreach (string candidate in candidates)
        {
            // Load libcublasLt of the same major from the same folder first, so cuBLAS's dependency resolves
            // to it even when that folder is not on the loader's path.
            string? lt = CublasLtFor(candidate);
            if (lt != null) NativeLibrary.TryLoad(lt, out _);
            if (NativeLibrary.TryLoad(candidate, out nint handle)) return new LoadResult(handle, candidate, null);
        }

        return new LoadResult(0, null, Missing("cuBLAS", CublasPathVariable));
    }

    private static LoadResult LoadNvrtc()
    {
        foreach (string candidate in Candidates(Nvrtc, Environment.GetEnvironmentVariable))
        {
            // NVRTC dlopens its builtins library by soname at compile time; preloading the one next to a candidate
            // found by path makes that work when its folder is not on the loader's path.
            foreach (string builtins in NvrtcBuiltinsFor(candidate)) NativeLibrary.TryLoad(builtins, out _);
            if (NativeLibrary.TryLoad(candidate, out nint handle)) return new LoadResult(handle, candidate, null);
        }

        return new LoadResult(0, null, Missing("NVRTC", NvrtcPathVariable));
    }

    /// <summary>The libnvrtc-builtins files in the folder of an NVRTC candidate found by path (none for a bare soname).</summary>
    internal static IEnumerable<string> NvrtcBuiltinsFor(string nvrtcCandidate)
    {
        string? dir = Path.GetDirectoryName(nvrtcCandidate);
        if (string.IsNullOrEmpty(dir) || !Directory.Exists(dir)) return [];
        string pattern = OperatingSystem.IsWindows() ? "nvrtc-builtins64_*.dll" : "libnvrtc-builtins.so.*";
        try
        {
            return [.. Directory.EnumerateFiles(dir, pattern).Order(StringComparer.Ordinal)];
        }
        catch (IOException)
        {
            return [];
        }
        catch (UnauthorizedAccessException)
        {
            return [];
        }
    }

    private static LoadResult LoadFirst(string what, List<string> candidates, string variable)
    {
        foreach (string candidate in candidates)
        {
            if (NativeLibrary.TryLoad(candidate, out nint handle)) return new LoadResult(handle, candidate, null);
        }

        return new LoadResult(0, null, Missing(what, variable));
    }

    private static string Missing(string what, string variable) => what == "the CUDA driver"
        ? $"{what} library ({string.Join(" or ", FileNames(what))}) was not found in {variable}, LD_LIBRARY_PATH, /usr/local/nvidia/lib64 or the system library path, so no NVIDIA driver is usable"
        : $"{what} library ({string.Join(" or ", FileNames(what))}) was not found in {variable}, CUDA_PATH, LD_LIBRARY_PATH, /usr/local/cuda/lib64 or the system library path";

    private static IEnumerable<string> FileNames(string what) => what switch
    {
        "NVRTC" => OperatingSystem.IsWindows() ? ["nvrtc64_130_0.dll", "nvrtc64_120_0.dll"] : ["libnvrtc.so.13", "libnvrtc.so.12"],
        "cuBLAS" => OperatingSystem.IsWindows() ? ["cublas64_13.dll", "cublas64_12.dll"] : ["libcublas.so.13", "libcublas.so.12"],
        _ => OperatingSystem.IsWindows() ? ["nvcuda.dll"] : ["libcuda.so.1"],
    };

    /// <summary>The libcublasLt file that belongs next to a libcublas candidate (same folder, same major), or null.</summary>
    internal static string? CublasLtFor(string cublasCandidate)
    {
        string name = Path.GetFileName(cublasCandidate);
        string? dir = Path.GetDirectoryName(cublasCandidate);
        string ltName = name.StartsWith("libcublas.so", StringComparison.Ordinal) ? "libcublasLt.so" + name["libcublas.so".Length..]
            : name.StartsWith("cublas64_", StringComparison.OrdinalIgnoreCase) ? "cublasLt64_" + name["cublas64_".Length..]
            : "";
        if (ltName.Length == 0) return null;
        if (string.IsNullOrEmpty(dir)) return ltName;
        string full = Path.Combine(dir, ltName);
        return File.Exists(full) ? full : null;
    }

    /// <summary>
    /// The files (full paths first, then bare sonames for the system loader) tried for a logical library, in order.
    /// <paramref name="getVariable"/> reads environment variables (tests pass their own).
    /// </summary>
    internal static List<string> Candidates(string logicalName, Func<string, string?> getVariable)
    {
        bool windows = OperatingSystem.IsWindows();
        string[] names;
        string variable;
        var dirs = new List<string>();
        string? cudaPath = getVariable("CUDA_PATH");
        switch (logicalName)
        {
            case Cuda:
                names = windows ? ["nvcuda.dll"] : ["libcuda.so.1"];
                variable = DriverPathVariable;
                AddSearchPath(dirs, getVariable(windows ? "PATH" : "LD_LIBRARY_PATH"));
                if (!windows)
                {
                    // Never the toolkit's lib64/stubs folder: its libcuda only returns CUDA_ERROR_STUB_LIBRARY.
                    dirs.Add("/usr/local/nvidia/lib64");
                    dirs.Add("/usr/lib/x86_64-linux-gnu");
                    dirs.Add("/usr/lib/wsl/lib");
                    dirs.Add("/usr/lib64");
                }

                break;
            case Nvrtc:
                names = windows ? ["nvrtc64_130_0.dll", "nvrtc64_120_0.dll"] : ["libnvrtc.so.13", "libnvrtc.so.12"];
                variable = NvrtcPathVariable;
                AddToolkitDirs(dirs, cudaPath, getVariable, windows);
                break;
            case Cublas:
                names = windows ? ["cublas64_13.dll", "cublas64_12.dll"] : ["libcublas.so.13", "libcublas.so.12"];
                variable = CublasPathVariable;
                AddToolkitDirs(dirs, cudaPath, getVariable, windows);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(logicalName), logicalName, "not a CUDA library name");
        }

        var result = new List<string>();
        string? overridePath = getVariable(variable);
        if (!string.IsNullOrWhiteSpace(overridePath))
        {
            if (File.Exists(overridePath)) result.Add(Path.GetFullPath(overridePath));
            else dirs.Insert(0, overridePath);
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string dir in dirs)
        {
            if (string.IsNullOrWhiteSpace(dir) || !seen.Add(dir)) continue;
            foreach (string name in names)
            {
                string full = Path.Combine(dir, name);
                if (File.Exists(full)) result.Add(full);
            }
        }

        result.AddRange(names);
        return result;
    }

    private static void AddToolkitDirs(List<string> dirs, string? cudaPath, Func<string, string?> getVariable, bool windows)
    {
        if (!string.IsNullOrWhiteSpace(cudaPath))
        {
            if (windows)
            {
                dirs.Add(Path.Combine(cudaPath, "bin", "x64"));
                dirs.Add(Path.Combine(cudaPath, "bin"));
            }
            else
            {
                dirs.Add(Path.Combine(cudaPath, "lib64"));
                dirs.Add(Path.Combine(cudaPath, "lib"));
                dirs.Add(Path.Combine(cudaPath, "targets", "x86_64-linux", "lib"));
            }
        }

        AddSearchPath(dirs, getVariable(windows ? "PATH" : "LD_LIBRARY_PATH"));
        if (!windows) dirs.Add("/usr/local/cuda/lib64");
    }

    private static void AddSearchPath(List<string> dirs, string? value)
    {
        if (string.IsNullOrEmpty(value)) return;
        foreach (string part in value.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            dirs.Add(part);
        }
    }
}
