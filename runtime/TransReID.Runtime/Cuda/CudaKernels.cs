using System;
using System.Collections.Generic;
using TransReID.Runtime.Interop;

namespace TransReID.Runtime.Cuda;

/// <summary>Every kernel the backend launches, by file and <c>extern "C"</c> name (see the header of each .cu file).</summary>
internal enum Kernel
{
    BiasBroadcast,
    BiasGradPartial,
    BiasGradFinish,
    Im2Col,
    TokenEmbedForward,
    TokenEmbedPatchGrad,
    TokenEmbedPosGrad,
    TokenEmbedSampleSums,
    TokenEmbedSieScatter,
    LayerNormForward,
    LayerNormBackwardDx,
    LayerNormBackwardDParams,
    LayerNormBackwardFinish,
    BatchNormTrain,
    BatchNormEval,
    BatchNormEvalBackward,
    BatchNormBackward,
    SoftmaxForward,
    SoftmaxBackward,
    GeluForward,
    GeluBackward,
    Residual,
    ScaleRows,
    CopyRows,
    JpmGather,
    JpmGatherBackward,
    CrossEntropy,
    TripletMine,
    TripletGrad,
    SgdStep,
    AdamWStep,
}

/// <summary>
/// The loaded kernel modules of one backend: each file is compiled (or read from the cache) and loaded the first time
/// one of its kernels is launched, with the options in force: the architecture and those of the model's constants
/// that the file uses (<see cref="KernelSources.Uses"/>), so a file's image, and its cache key, change only with the
/// constants it reads. <see cref="Reset"/> drops every module when the constants change.
/// </summary>
internal sealed class CudaKernels : IDisposable
{
    private static readonly (string File, string Name, int MaxThreads)[] Table = BuildTable();

    private readonly SafeCudaContextHandle _context;
    private readonly KernelCompiler _compiler;
    private readonly string _target;
    private readonly bool _cubin;
    private readonly Dictionary<string, KernelModule> _modules = new(StringComparer.Ordinal);
    private readonly nint[] _functions = new nint[Table.Length];
    private readonly Dictionary<string, List<string>> _options = new(StringComparer.Ordinal);
    private IReadOnlyList<KeyValuePair<string, long>> _defines = [];

    public CudaKernels(SafeCudaContextHandle context, KernelCompiler compiler, string target, bool cubin)
    {
        _context = context;
        _compiler = compiler;
        _target = target;
        _cubin = cubin;
    }

    /// <summary>The NVRTC options of <paramref name="file"/>'s module from now on: the target and the constants it uses.</summary>
    public IReadOnlyList<string> OptionsFor(string file)
    {
        if (!_options.TryGetValue(file, out List<string>? options))
            _options[file] = options = KernelCompiler.OptionsFor(file, _target, _defines);
        return options;
    }

    /// <summary>The compiler (and its disk cache).</summary>
    public KernelCompiler Compiler => _compiler;

    /// <summary>The modules loaded so far.</summary>
    public IReadOnlyCollection<KernelModule> Modules => _modules.Values;

    /// <summary>The function handle of a kernel, loading its module on first use.</summary>
    public nint this[Kernel kernel]
    {
        get
        {
            nint f = _functions[(int)kernel];
            if (f != 0) return f;
            (string file, string name, _) = Table[(int)kernel];
            if (!_modules.TryGetValue(file, out KernelModule? module))
            {
                module = KernelModule.Load(_context, _compiler, file, _target, _cubin, OptionsFor(file));
                _modules[file] = module;
            }

            if (!module.TryFunction(name, out f, out int status))
            {
                if (!module.Image.FromCache) throw CudaDriver.Failure(status, "cuModuleGetFunction", $"kernel '{name}' in {file}");

                // A cached image that lacks one of the file's kernels is stale or damaged: drop it, compile afresh.
                Forget(file, module);
                _compiler.Invalidate(module.Image);
                module = KernelModule.Load(_context, _compiler, file, _target, _cubin, OptionsFor(file));
                _modules[file] = module;
                f = module.Function(name);
            }

            _functions[(int)kernel] = f;
            return f;
        }
    }

    /// <summary>Unloads one file's module and forgets the function handles taken from it.</summary>
    private void Forget(string file, KernelModule module)
    {
        for (int i = 0; i < Table.Length; i++)
        {
            if (Table[i].File == file) _functions[i] = 0;
        }

        _modules.Remove(file);
        module.Dispose();
    }

    /// <summary>
    /// Every kernel's (file, name, maximum threads per block), indexed by <see cref="Kernel"/>. The maximum is the
    /// kernel's <c>__launch_bounds__</c> (kernels that assume a block shape), or 0 when only the device limits apply.
    /// </summary>
    public static IReadOnlyList<(string File, string Name, int MaxThreads)> Entries => Table;

    /// <summary>The <c>__launch_bounds__</c> of a kernel, or 0 when it has none.</summary>
    public static int MaxThreadsOf(Kernel kernel) => Table[(int)kernel].MaxThreads;

    /// <summary>The <c>extern "C"</c> name of a kernel (for error messages).</summary>
    public static string NameOf(Kernel kernel) => Table[(int)kernel].Name;

    /// <summary>Unloads every module and uses <paramref name="defines"/> from now on. The stream must be idle.</summary>
    public void Reset(IReadOnlyList<KeyValuePair<string, long>> defines)
    {
        _defines = [.. defines];
        _options.Clear();
        Unload();
    }

    /// <summary>Compiles and loads every kernel file now (instead of on first use).</summary>
    public void LoadAll()
    {
        foreach (Kernel k in Enum.GetValues<Kernel>()) _ = this[k];
    }

    /// <inheritdoc/>
    public void Dispose() => Unload();

    private void Unload()
    {
        foreach (KernelModule m in _modules.Values) m.Dispose();
        _modules.Clear();
        Array.Clear(_functions);
    }

    private static (string, string, int)[] BuildTable()
    {
        var t = new (string, string, int)[Enum.GetValues<Kernel>().Length];
        void Set(Kernel k, string file, string name, int maxThreads = 0) => t[(int)k] = (file, name, maxThreads);
        Set(Kernel.BiasBroadcast, "linear.cu", "bias_broadcast");
        Set(Kernel.BiasGradPartial, "linear.cu", "bias_grad_partial", 256);
        Set(Kernel.BiasGradFinish, "linear.cu", "bias_grad_finish");
        Set(Kernel.Im2Col, "embed.cu", "im2col");
        Set(Kernel.TokenEmbedForward, "embed.cu", "token_embed_forward");
        Set(Kernel.TokenEmbedPatchGrad, "embed.cu", "token_embed_patch_grad");
        Set(Kernel.TokenEmbedPosGrad, "embed.cu", "token_embed_pos_grad");
        Set(Kernel.TokenEmbedSampleSums, "embed.cu", "token_embed_sample_sums", 256);
        Set(Kernel.TokenEmbedSieScatter, "embed.cu", "token_embed_sie_scatter");
        Set(Kernel.LayerNormForward, "layernorm.cu", "layernorm_forward", 256);
        Set(Kernel.LayerNormBackwardDx, "layernorm.cu", "layernorm_backward_dx", 256);
        Set(Kernel.LayerNormBackwardDParams, "layernorm.cu", "layernorm_backward_dparams", 256);
        Set(Kernel.LayerNormBackwardFinish, "layernorm.cu", "layernorm_backward_finish");
        Set(Kernel.BatchNormTrain, "batchnorm.cu", "batchnorm_train", 256);
        Set(Kernel.BatchNormEval, "batchnorm.cu", "batchnorm_eval");
        Set(Kernel.BatchNormEvalBackward, "batchnorm.cu", "batchnorm_eval_backward", 128);
        Set(Kernel.BatchNormBackward, "batchnorm.cu", "batchnorm_backward", 256);
        Set(Kernel.SoftmaxForward, "attention.cu", "softmax_forward", 256);
        Set(Kernel.SoftmaxBackward, "attention.cu", "softmax_backward", 256);
        Set(Kernel.GeluForward, "gelu.cu", "gelu_forward");
        Set(Kernel.GeluBackward, "gelu.cu", "gelu_backward");
        Set(Kernel.Residual, "elementwise.cu", "residual");
        Set(Kernel.ScaleRows, "elementwise.cu", "scale_rows");
        Set(Kernel.CopyRows, "elementwise.cu", "copy_rows");
        Set(Kernel.JpmGather, "jpm.cu", "jpm_gather");
        Set(Kernel.JpmGatherBackward, "jpm.cu", "jpm_gather_backward");
        Set(Kernel.CrossEntropy, "cross_entropy.cu", "cross_entropy", 1024);
        Set(Kernel.TripletMine, "triplet.cu", "triplet_mine", 256);
        Set(Kernel.TripletGrad, "triplet.cu", "triplet_grad", 256);
        Set(Kernel.SgdStep, "optimizer.cu", "sgd_step");
        Set(Kernel.AdamWStep, "optimizer.cu", "adamw_step");
        foreach ((string file, string _, int _) in t)
        {
            if (file == null) throw new InvalidOperationException("a Kernel value has no entry in the kernel table");
        }

        return t;
    }
}
