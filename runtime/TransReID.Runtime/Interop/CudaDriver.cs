using System.Runtime.InteropServices;

namespace TransReID.Runtime.Interop;

/// <summary>
/// The CUDA driver API entry points used by the backend, as blittable <c>[LibraryImport]</c> declarations that
/// return the raw <c>CUresult</c>; <see cref="Check"/> turns a failure into a <see cref="CudaException"/> carrying
/// the function name, <c>cuGetErrorName</c> and <c>cuGetErrorString</c>. Handles are <c>nint</c>, device pointers
/// <c>ulong</c> (<c>CUdeviceptr</c>), sizes <c>nuint</c> (<c>size_t</c>).
/// </summary>
internal static unsafe partial class CudaDriver
{
    public const int Success = 0;
    public const int ErrorOutOfMemory = 2;
    public const int ErrorStubLibrary = 34;
    public const int ErrorNoDevice = 100;

    // CUdevice_attribute values (cuda.h).
    public const int AttributeMaxThreadsPerBlock = 1;
    public const int AttributeMaxGridDimX = 5;
    public const int AttributeMaxGridDimY = 6;
    public const int AttributeClockRate = 13;   // peak SM clock in kHz
    public const int AttributeMultiprocessorCount = 16;
    public const int AttributeComputeCapabilityMajor = 75;
    public const int AttributeComputeCapabilityMinor = 76;

    public const uint StreamNonBlocking = 1;
    public const uint EventDefault = 0;

    static CudaDriver() => Libraries.EnsureResolver();

    /// <summary>Throws a <see cref="CudaException"/> when <paramref name="result"/> is not CUDA_SUCCESS.</summary>
    public static void Check(int result, string function)
    {
        if (result != Success) throw Failure(result, function, null);
    }

    /// <summary>The exception for a failed call, with an optional extra sentence (e.g. the bytes asked for).</summary>
    public static CudaException Failure(int result, string function, string? detail)
    {
        string name = ErrorName(result);
        string text = ErrorString(result);
        string message = $"{function} failed with {name} ({result}): {text}";
        if (!string.IsNullOrEmpty(detail)) message += ". " + detail;
        return new CudaException("CUDA driver", function, result, name, message);
    }

    /// <summary>The CUresult's name (cuGetErrorName), or "CUresult N" when the driver does not know it.</summary>
    public static string ErrorName(int result)
    {
        byte* s = null;
        try
        {
            if (cuGetErrorName(result, &s) == Success && s != null) return Marshal.PtrToStringUTF8((nint)s) ?? $"CUresult {result}";
        }
        catch (System.DllNotFoundException)
        {
        }
        catch (System.EntryPointNotFoundException)
        {
        }

        return $"CUresult {result}";
    }

    /// <summary>The CUresult's description (cuGetErrorString).</summary>
    public static string ErrorString(int result)
    {
        byte* s = null;
        try
        {
            if (cuGetErrorString(result, &s) == Success && s != null) return Marshal.PtrToStringUTF8((nint)s) ?? "unknown error";
        }
        catch (System.DllNotFoundException)
        {
        }
        catch (System.EntryPointNotFoundException)
        {
        }

        return "unknown error";
    }

    // ---- initialisation and devices ------------------------------------------------------------------------

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuInit(uint flags);

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuDriverGetVersion(int* version);

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuDeviceGetCount(int* count);

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuDeviceGet(int* device, int ordinal);

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuDeviceGetName(byte* name, int length, int device);

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuDeviceGetAttribute(int* value, int attribute, int device);

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuDeviceTotalMem_v2(nuint* bytes, int device);

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuGetErrorName(int result, byte** name);

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuGetErrorString(int result, byte** text);

    // ---- contexts ------------------------------------------------------------------------------------------

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuDevicePrimaryCtxRetain(nint* context, int device);

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuDevicePrimaryCtxRelease_v2(int device);

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuCtxSetCurrent(nint context);

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuCtxPushCurrent_v2(nint context);

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuCtxPopCurrent_v2(nint* context);

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuCtxSynchronize();

    // ---- memory --------------------------------------------------------------------------------------------

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuMemAlloc_v2(ulong* pointer, nuint bytes);

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuMemFree_v2(ulong pointer);

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuMemGetInfo_v2(nuint* free, nuint* total);

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuMemsetD32Async(ulong destination, uint value, nuint count, nint stream);

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuMemcpyHtoDAsync_v2(ulong destination, void* source, nuint bytes, nint stream);

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuMemcpyDtoHAsync_v2(void* destination, ulong source, nuint bytes, nint stream);

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuMemcpyDtoDAsync_v2(ulong destination, ulong source, nuint bytes, nint stream);

    // ---- streams and events --------------------------------------------------------------------------------

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuStreamCreate(nint* stream, uint flags);

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuStreamDestroy_v2(nint stream);

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuStreamSynchronize(nint stream);

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuEventCreate(nint* evt, uint flags);

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuEventDestroy_v2(nint evt);

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuEventRecord(nint evt, nint stream);

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuEventSynchronize(nint evt);

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuEventElapsedTime(float* milliseconds, nint start, nint end);

    /// <summary>CUDA 12.8+ name of <see cref="cuEventElapsedTime"/> (what cuda.h 13 maps the old name to).</summary>
    [LibraryImport(Libraries.Cuda)]
    public static partial int cuEventElapsedTime_v2(float* milliseconds, nint start, nint end);

    /// <summary>Elapsed time between two events, through whichever of the two entry points the driver exports.</summary>
    public static int EventElapsedTime(float* milliseconds, nint start, nint end)
    {
        try
        {
            return cuEventElapsedTime_v2(milliseconds, start, end);
        }
        catch (System.EntryPointNotFoundException)
        {
            return cuEventElapsedTime(milliseconds, start, end);
        }
    }

    // ---- modules and launches ------------------------------------------------------------------------------

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuModuleLoadData(nint* module, void* image);

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuModuleUnload(nint module);

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuModuleGetFunction(nint* function, nint module, byte* name);

    [LibraryImport(Libraries.Cuda)]
    public static partial int cuLaunchKernel(nint function, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ,
        uint sharedMemoryBytes, nint stream, void** parameters, void** extra);
}
