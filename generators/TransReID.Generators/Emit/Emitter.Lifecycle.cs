using TransReID.Generators.Emit;

namespace TransReID.Generators;

public sealed partial class TransReIDGenerator
{
    internal static partial class Emitter
    {
        /// <summary>Fields, factories, properties, Load/Save and Dispose: the members that do not depend on the schedule.</summary>
        private static void EmitLifecycle(SourceWriter w, ModelPlan p)
        {
            var s = p.Spec;
            string cls = s.ClassName;
            w.Lines($$"""
                private readonly {{Rt}}.ModelCore _core;
                private readonly {{Rt}}.Rng _dropPathRng;

                private {{cls}}({{Rt}}.ModelCore core, int seed)
                {
                    _core = core;
                    _dropPathRng = new {{Rt}}.Rng(unchecked((ulong)seed) ^ 0x4452_4F50_5041_5448UL);
                }

                /// <summary>A new model on <paramref name="device"/> with weights initialised as the official code does from scratch.</summary>
                public static {{cls}} Create(global::TransReID.Runtime.Device device, int seed = 0)
                {
                    global::System.ArgumentNullException.ThrowIfNull(device);
                    return Create(device.CreateBackend(), seed);
                }

                /// <summary>A new model on a backend the caller made (e.g. a profiling backend); the model owns and disposes it.</summary>
                public static {{cls}} Create(global::TransReID.Runtime.IBackend backend, int seed = 0)
                {
                    global::System.ArgumentNullException.ThrowIfNull(backend);
                    {{Rt}}.ModelCore core;
                    try
                    {
                        core = new {{Rt}}.ModelCore(
                            backend, s_parameters, ParameterBufferLength, s_batchNorms, {{Q(s.FullName)}});
                    }
                    catch
                    {
                        backend.Dispose();
                        throw;
                    }

                    if (backend is global::TransReID.Runtime.IKernelSpecializer specializer)
                        specializer.Specialize({{Q(s.FullName)}}, s_kernelConstants);
                    core.Initialize(seed);
                    return new {{cls}}(core, seed);
                }

                /// <summary>The model's numbers.</summary>
                public static {{Rt}}.ModelInfo ModelInfo { get; } = new(
                    {{Q(s.FullName)}}, ImageHeight, ImageWidth, PatchSize, StrideY, StrideX, Depth, EmbedDim, Heads, MlpHidden,
                    Cameras, Views, SieRows, SieCoefficient, Jpm, JpmParts, JpmShift, JpmShuffleGroups, JpmRearrange, Classes,
                    NeckFeature, PatchGridY, PatchGridX, TokenCount, FeatureDim, ParameterCount, TrainableParameterCount,
                    new[] { PixelMeanR, PixelMeanG, PixelMeanB }, new[] { PixelStdR, PixelStdG, PixelStdB });

                /// <summary>The model's numbers.</summary>
                public {{Rt}}.ModelInfo Info => ModelInfo;

                /// <summary>The parameter table.</summary>
                public global::System.Collections.Generic.IReadOnlyList<{{Rt}}.ParameterInfo> ParameterTable =>
                    s_parameters;

                /// <summary>The model's buffers and backend.</summary>
                public {{Rt}}.ModelCore Core => _core;

                /// <summary>The backend the model runs on.</summary>
                public global::TransReID.Runtime.IBackend Backend => _core.Backend;

                /// <summary>
                /// Train/eval switch of <see cref="ComputeGradients"/> and <see cref="TrainStep"/>, as PyTorch's
                /// <c>model.train()</c>/<c>model.eval()</c>: true (default) is the official training forward (BNNecks on batch
                /// statistics updating their running statistics, stochastic depth); false turns stochastic depth off and makes
                /// the BNNecks use and keep their running statistics (e.g. a validation loss). <see cref="Embed"/> is always eval.
                /// </summary>
                public bool Training { get; set; } = true;

                /// <summary>Stochastic-depth rate of the last block (official 0.1); block i uses rate·i/(Depth−1).</summary>
                public double DropPathRate { get; set; } = 0.1;

                /// <summary>Loss settings of training steps.</summary>
                public {{Rt}}.LossOptions Losses { get; set; } = new();

                /// <summary>The generator of the stochastic-depth masks (its state goes into training checkpoints).</summary>
                public {{Rt}}.Rng DropPathRng => _dropPathRng;

                /// <summary>Loads official-name TransReID weights, safetensors or a PyTorch <c>.pth</c> (see ModelCore.Load).</summary>
                public {{Rt}}.LoadReport Load(string path) => _core.Load(path);

                /// <summary>
                /// Initialises the backbone from ImageNet ViT/DeiT weights (timm names), the rest from scratch with
                /// <paramref name="seed"/> (see ModelCore.LoadPretrained).
                /// </summary>
                public {{Rt}}.LoadReport LoadPretrained(string path, int seed = 0) =>
                    _core.LoadPretrained(path, PatchGridY, PatchGridX, seed);

                /// <summary>Saves the weights under their official names, atomically.</summary>
                public void Save(string path) => _core.Save(path);

                /// <summary>A tensor's values by official name.</summary>
                public float[] Parameter(string name) => _core.ReadParameter(name);

                /// <summary>A tensor's gradient of the last training step, by official name.</summary>
                public float[] Gradient(string name) => _core.ReadGradient(name);

                /// <summary>Frees the model's memory.</summary>
                public void Dispose() => _core.Dispose();

                """);
        }
    }
}
