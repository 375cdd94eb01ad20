using System.Runtime.InteropServices;

namespace TransReID.Runtime.Interop;

/// <summary>
/// NVRTC entry points (blittable <c>[LibraryImport]</c>, raw <c>nvrtcResult</c>) and <see cref="Check"/>, whose
/// exception carries the function, the status name from <c>nvrtcGetErrorString</c> and the program's whole log.
/// </summary>
internal static unsafe partial class Nvrtc
{
    public const int Success = 0;
    public const int ErrorCompilation = 6;

    static Nvrtc() => Libraries.EnsureResolver();

    /// <summary>Throws an <see cref="NvrtcException"/> when <paramref name="result"/> is not NVRTC_SUCCESS.</summary>
    public static void Check(int result, string function, string? log = null, string? program = null)
    {
        if (result == Success) return;
        string name = ErrorString(result);
        string where = program == null ? "" : $" for {program}";
        string message = $"{function}{where} failed with {name} ({result})";
        if (!string.IsNullOrWhiteSpace(log)) message += ":\n" + log.TrimEnd();
        throw new NvrtcException(function, result, name, message, log ?? "");
    }

    /// <summary>The status name NVRTC gives (e.g. NVRTC_ERROR_COMPILATION).</summary>
    public static string ErrorString(int result)
    {
        try
        {
            byte* s = nvrtcGetErrorString(result);
            if (s != null) return Marshal.PtrToStringUTF8((nint)s) ?? $"nvrtcResult {result}";
        }
        catch (System.EntryPointNotFoundException)
        {
        }

        return $"nvrtcResult {result}";
    }

    [LibraryImport(Libraries.Nvrtc)]
    public static partial byte* nvrtcGetErrorString(int result);

    [LibraryImport(Libraries.Nvrtc)]
    public static partial int nvrtcVersion(int* major, int* minor);

    [LibraryImport(Libraries.Nvrtc)]
    public static partial int nvrtcGetNumSupportedArchs(int* count);

    [LibraryImport(Libraries.Nvrtc)]
    public static partial int nvrtcGetSupportedArchs(int* archs);

    [LibraryImport(Libraries.Nvrtc)]
    public static partial int nvrtcCreateProgram(nint* program, byte* source, byte* name, int headerCount, byte** headers, byte** includeNames);

    [LibraryImport(Libraries.Nvrtc)]
    public static partial int nvrtcDestroyProgram(nint* program);

    [LibraryImport(Libraries.Nvrtc)]
    public static partial int nvrtcCompileProgram(nint program, int optionCount, byte** options);

    [LibraryImport(Libraries.Nvrtc)]
    public static partial int nvrtcGetProgramLogSize(nint program, nuint* size);

    [LibraryImport(Libraries.Nvrtc)]
    public static partial int nvrtcGetProgramLog(nint program, byte* log);

    [LibraryImport(Libraries.Nvrtc)]
    public static partial int nvrtcGetCUBINSize(nint program, nuint* size);

    [LibraryImport(Libraries.Nvrtc)]
    public static partial int nvrtcGetCUBIN(nint program, byte* cubin);

    [LibraryImport(Libraries.Nvrtc)]
    public static partial int nvrtcGetPTXSize(nint program, nuint* size);

    [LibraryImport(Libraries.Nvrtc)]
    public static partial int nvrtcGetPTX(nint program, byte* ptx);
}
