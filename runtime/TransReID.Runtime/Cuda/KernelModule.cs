using System;
using System.Collections.Generic;
using System.Text;
using TransReID.Runtime.Interop;

namespace TransReID.Runtime.Cuda;

/// <summary>
/// One kernel file loaded into a context: compiled through <see cref="KernelCompiler"/> (CUBIN for the device's
/// <c>sm_XY</c>, from the disk cache when possible) and loaded with <c>cuModuleLoadData</c>. A cached image the driver
/// refuses is deleted and compiled again once; only a freshly compiled image that fails to load is an error.
/// </summary>
internal sealed class KernelModule : IDisposable
{
    private readonly SafeCudaModuleHandle _module;
    private readonly Dictionary<string, nint> _functions = new(StringComparer.Ordinal);

    private KernelModule(string fileName, SafeCudaModuleHandle module, KernelImage image)
    {
        FileName = fileName;
        _module = module;
        Image = image;
    }

    /// <summary>The kernel file, e.g. <c>layernorm.cu</c>.</summary>
    public string FileName { get; }

    /// <summary>The image that was loaded.</summary>
    public KernelImage Image { get; }

    /// <summary>Compiles (or takes from the cache) and loads one kernel file; the context must be current.</summary>
    public static KernelModule Load(SafeCudaContextHandle context, KernelCompiler compiler, string fileName, string target, bool cubin,
        IReadOnlyList<string> options)
    {
        KernelImage image = compiler.Compile(fileName, target, cubin, options);
        if (TryLoad(context, image, out SafeCudaModuleHandle? module, out int status)) return new KernelModule(fileName, module!, image);
        if (image.FromCache)
        {
            compiler.Invalidate(image);
            image = compiler.Compile(fileName, target, cubin, options);
            if (TryLoad(context, image, out module, out status)) return new KernelModule(fileName, module!, image);
        }

        throw CudaDriver.Failure(status, "cuModuleLoadData", $"kernel file {fileName} compiled for {target} did not load");
    }

    private static unsafe bool TryLoad(SafeCudaContextHandle context, KernelImage image, out SafeCudaModuleHandle? module, out int status)
    {
        module = null;
        nint raw;
        fixed (byte* data = image.Data)
        {
            status = CudaDriver.cuModuleLoadData(&raw, data);
        }

        if (status != CudaDriver.Success) return false;
        module = new SafeCudaModuleHandle();
        module.Attach(raw, context);
        return true;
    }

    /// <summary>The <c>extern "C"</c> kernel <paramref name="name"/> of this module.</summary>
    public nint Function(string name)
    {
        if (TryFunction(name, out nint f, out int status)) return f;
        throw CudaDriver.Failure(status, "cuModuleGetFunction", $"kernel '{name}' in {FileName}");
    }

    /// <summary>Looks up a kernel; false (with the driver's status) when the image does not contain it.</summary>
    public unsafe bool TryFunction(string name, out nint function, out int status)
    {
        if (_functions.TryGetValue(name, out function))
        {
            status = CudaDriver.Success;
            return true;
        }

        byte[] bytes = Encoding.ASCII.GetBytes(name + "\0");
        nint f;
        fixed (byte* p = bytes) status = CudaDriver.cuModuleGetFunction(&f, _module.DangerousGetHandle(), p);
        function = status == CudaDriver.Success ? f : 0;
        if (function != 0) _functions[name] = function;
        return function != 0;
    }

    /// <inheritdoc/>
    public void Dispose() => _module.Dispose();
}
