using System;

namespace TransReID.Runtime.Interop;

/// <summary>
/// A failed call into the CUDA driver, NVRTC or cuBLAS. The message names the library function, the status name
/// (e.g. <c>CUDA_ERROR_OUT_OF_MEMORY</c>) and the library's own description of it.
/// </summary>
public class CudaException : Exception
{
    /// <summary>Creates an exception for a failed native call.</summary>
    public CudaException(string library, string function, int status, string statusName, string message)
        : base(message)
    {
        Library = library;
        Function = function;
        Status = status;
        StatusName = statusName;
    }

    /// <summary>Creates an exception with a message only (no native status).</summary>
    public CudaException(string message)
        : base(message)
    {
        Library = "";
        Function = "";
        StatusName = "";
    }

    /// <summary>Creates an exception with a message and an inner exception.</summary>
    public CudaException(string message, Exception innerException)
        : base(message, innerException)
    {
        Library = "";
        Function = "";
        StatusName = "";
    }

    /// <summary>Creates an exception with no details.</summary>
    public CudaException()
        : this("CUDA call failed")
    {
    }

    /// <summary>"CUDA driver", "NVRTC" or "cuBLAS".</summary>
    public string Library { get; }

    /// <summary>The native function that failed, e.g. <c>cuMemAlloc_v2</c>.</summary>
    public string Function { get; }

    /// <summary>The numeric status (CUresult, nvrtcResult or cublasStatus_t).</summary>
    public int Status { get; }

    /// <summary>The status's name, e.g. <c>CUDA_ERROR_OUT_OF_MEMORY</c>.</summary>
    public string StatusName { get; }
}

/// <summary>A failed NVRTC compilation or call; <see cref="Log"/> holds the compiler's whole log.</summary>
public sealed class NvrtcException : CudaException
{
    /// <summary>Creates an exception for a failed NVRTC call with its compile log.</summary>
    public NvrtcException(string function, int status, string statusName, string message, string log)
        : base("NVRTC", function, status, statusName, message)
    {
        Log = log;
    }

    /// <summary>Creates an exception with a message only.</summary>
    public NvrtcException(string message)
        : base(message)
    {
        Log = "";
    }

    /// <summary>Creates an exception with a message and an inner exception.</summary>
    public NvrtcException(string message, Exception innerException)
        : base(message, innerException)
    {
        Log = "";
    }

    /// <summary>Creates an exception with no details.</summary>
    public NvrtcException()
        : this("NVRTC call failed")
    {
    }

    /// <summary>The compiler log of the program (empty when the failure was not a compilation).</summary>
    public string Log { get; }
}
