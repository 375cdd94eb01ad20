using System;
using System.Collections.Generic;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Threading;
using Microsoft.ML.OnnxRuntime;
using Spectre.Console;
using TransReID.Cli.Presets;
using TransReID.Runtime;
using TransReID.Runtime.Cpu;
using TransReID.Runtime.Cuda;
using TransReID.Runtime.IO;
using TransReID.Runtime.Model;
using TransReID.Runtime.Onnx;

namespace TransReID.Cli;

/// <summary>
/// <c>transreid bench</c>: the throughput of a preset on a device with random (seeded) weights and synthetic, seeded
/// inputs: K warm-up then N timed <c>TrainStep</c>s (SGD), then K warm-up then N timed <c>Embed</c>s. Prints median,
/// min and max ms per call, images/s, model FLOP/s, peak memory and, on CUDA, the fraction of the device's peak
/// FLOP/s as a table; <c>--json</c> writes every number and the per-call times. With <c>--peer onnxruntime</c> (CPU)
/// the model is also exported to ONNX and run by ONNX Runtime (all graph optimisations, as many intra-op threads as the
/// CPU backend), interleaved call by call with <c>Embed</c> on the same inputs: both medians, img/s and the ratio;
/// <c>--peer-pause MS</c> idles before each timed call (single requests instead of back-to-back calls); <c>--peer-run N</c>
/// gives each engine N calls in a row per round, the first untimed, so that each is timed back to back after itself
/// (as deployed) rather than right after the other engine, whose idle threads may still be spinning. <c>--peer-model FILE</c>
/// times that ONNX model instead of our export (for instance the official module exported by torch.onnx.export,
/// tests/reference/export_torch_onnx.py): it must have our export's inputs and output.
/// </summary>
internal static class BenchCommand
{
    private const int InstancesPerIdentity = 4;

    /// <summary>Small, so that many steps on random inputs keep the loss finite.</summary>
    private const double LearningRate = 1e-4;

    /// <summary>A training image counts as 3 forwards: the forward, and a backward of about twice its FLOPs (dX and dW GEMMs).</summary>
    private const int TrainForwardMultiple = 3;

    public static Command Create()
    {
        var preset = CliOptions.Preset();
        var device = CliOptions.Device("cpu, cuda, cuda:N or auto");
        var batch = CliOptions.Batch("TrainStep batch: P identities x K = 4 images", 64);
        var embedBatch = new Option<int>("--embed-batch") { Description = "Images per Embed call", DefaultValueFactory = _ => 256 };
        var steps = new Option<int>("--steps") { Description = "Timed calls of each of TrainStep and Embed", DefaultValueFactory = _ => 10 };
        var trainSteps = new Option<int?>("--train-steps") { Description = "Timed TrainSteps (default --steps; 0 skips training)" };
        var embedSteps = new Option<int?>("--embed-steps") { Description = "Timed Embeds (default --steps; 0 skips embedding)" };
        var warmup = new Option<int>("--warmup") { Description = "Untimed calls before the timed ones, for each of TrainStep and Embed", DefaultValueFactory = _ => 2 };
        var precision = new Option<string>("--precision") { Description = "fp32, or tf32 (CUDA: cuBLAS may use TF32 tensor cores)", DefaultValueFactory = _ => "fp32" };
        var json = new Option<string?>("--json") { Description = "Also write every number and the per-call times to this JSON file" };
        var seed = CliOptions.Seed("Seed of the random weights and inputs", 0);
        var peer = new Option<string?>("--peer") { Description = "onnxruntime: also run the exported ONNX model in ONNX Runtime (CPU), interleaved with Embed" };
        var peerPause = new Option<int>("--peer-pause")
        {
            Description = "With --peer: idle milliseconds before each timed call of either side (0: back to back). With a pause neither " +
                "side's threads are still busy or spinning from the other's call, as between the crops of a tracking pipeline",
            DefaultValueFactory = _ => 0,
        };
        var peerRun = new Option<int>("--peer-run")
        {
            Description = "With --peer: calls in a row per engine and round (1: strict alternation). Above 1 the first call of each run " +
                "is untimed: it takes the other engine's idle tail (ONNX Runtime's threads spin about 40 ms after a call), so each " +
                "engine is timed back to back after itself, as deployed",
            DefaultValueFactory = _ => 1,
        };
        var peerModel = new Option<string?>("--peer-model")
        {
            Description = "With --peer: time this ONNX model instead of our export of the preset (e.g. the official model exported by torch); " +
                "it must take 'images' float32 [N, 3, H, W] and, where the preset uses them, 'cameras'/'views' int64 [N], and give 'features' [N, FeatureDim]",
        };
        var command = new Command("bench", "Time TrainStep and Embed of a preset on a device (random weights, synthetic inputs)")
        {
            preset, device, batch, embedBatch, steps, trainSteps, embedSteps, warmup, precision, json, seed, peer, peerPause, peerRun, peerModel,
        };
        command.SetAction(r => Program.Guard(() => Run(new Settings(
            PresetRegistry.Find(r.GetValue(preset)!), r.GetValue(device)!, r.GetValue(batch), r.GetValue(embedBatch),
            r.GetValue(trainSteps) ?? r.GetValue(steps), r.GetValue(embedSteps) ?? r.GetValue(steps), r.GetValue(warmup),
            r.GetValue(precision)!, r.GetValue(json), r.GetValue(seed), r.GetValue(peer), r.GetValue(peerPause), r.GetValue(peerRun),
            r.GetValue(peerModel)))));
        return command;
    }

    private sealed record Settings(Preset Preset, string Device, int Batch, int EmbedBatch, int TrainSteps, int EmbedSteps, int Warmup,
        string Precision, string? Json, int Seed, string? Peer, int PeerPause, int PeerRun, string? PeerModel);

    private static int Run(Settings s)
    {
        bool tf32 = ParsePrecision(s.Precision);
        Validate(s);
        Device device = UserInput.ParseDevice(s.Device);
        if (tf32 && device.Kind != DeviceKind.Cuda)
        {
            string why = string.Equals(s.Device.Trim(), "auto", StringComparison.OrdinalIgnoreCase) ? " (--device auto found no usable CUDA device)" : "";
            throw new CliException($"--precision tf32 needs a CUDA device: the CPU backend computes in fp32 only{why}");
        }

        if (s.Peer is not null && device.Kind != DeviceKind.Cpu)
            throw new CliException($"--peer {s.Peer} runs ONNX Runtime on the CPU: use it with --device cpu");

        var info = s.Preset.Info;
        IBackend backend = device.Kind == DeviceKind.Cuda ? new CudaBackend(device.Ordinal, allowTf32: tf32) : new CpuBackend();
        // a --peer-model is opened and checked first, so that a wrong file fails before any timing (--peer is CPU only)
        (InferenceSession Session, double Seconds)? givenPeer = s.PeerModel is null ? null : OpenGivenPeer(s.PeerModel, ((CpuBackend)backend).Threads, info);
        using var givenSession = givenPeer?.Session;
        using var model = s.Preset.CreateOn(backend, s.Seed);
        var inputs = new Inputs(info, Math.Max(s.TrainSteps > 0 ? s.Batch : 0, s.EmbedSteps > 0 ? s.EmbedBatch : 0), s.Seed);
        var cuda = backend as CudaBackend;
        DevicePeak? peak = cuda is null ? null : DevicePeak.Of(cuda);
        double? peakFlops = peak?.FlopsPerSecond(tf32);
        Program.Status(string.Create(CultureInfo.InvariantCulture, $"[grey]{s.Preset.Name} on {Markup.Escape(backend.Name)}, {s.Precision.ToLowerInvariant()}[/]"));

        BenchPhase? train = null, embed = null;
        BenchPeer? peerResult = null;
        if (s.TrainSteps > 0)
        {
            var sgd = new SgdOptimizer(learningRate: LearningRate);
            int b = s.Batch;
            ReadOnlySpan<float> Images() => inputs.Images.AsSpan(0, b * info.ImageFloats);
            Program.Status(string.Create(CultureInfo.InvariantCulture, $"[grey]TrainStep, batch {b}: {s.Warmup} warm-up, {s.TrainSteps} timed[/]"));
            var losses = new List<double>();

            // The generated TrainStep reads the loss back before the optimiser update is queued, so on CUDA the update
            // may still run when it returns: synchronise inside the timed region.
            double[] times = Measure(s.Warmup, s.TrainSteps, () =>
            {
                var result = model.TrainStep(Images(), inputs.Labels.AsSpan(0, b), inputs.CamerasFor(b), inputs.ViewsFor(b), sgd);
                backend.Synchronize();
                losses.Add(result.Total);
            });
            train = BenchPhase.Of("TrainStep", b, s.Warmup, times, TrainForwardMultiple * info.ForwardFlopsPerImage, PeakBytes(backend), peakFlops,
                losses[s.Warmup], losses[^1]);
        }

        if (s.EmbedSteps > 0)
        {
            int b = s.EmbedBatch;
            var features = new float[(long)b * info.FeatureDim];
            Program.Status(string.Create(CultureInfo.InvariantCulture, $"[grey]Embed, batch {b}: {s.Warmup} warm-up, {s.EmbedSteps} timed[/]"));

            // Embed downloads the features, which waits for the queued work; the explicit synchronisation costs nothing more.
            double[] times = Measure(s.Warmup, s.EmbedSteps, () =>
            {
                model.Embed(inputs.Images.AsSpan(0, b * info.ImageFloats), inputs.CamerasFor(b), inputs.ViewsFor(b), features);
                backend.Synchronize();
            });
            int bad = features.Count(f => !float.IsFinite(f));
            if (bad > 0) throw new CliException($"Embed returned {bad} non-finite feature values on {backend.Name}");
            embed = BenchPhase.Of("Embed", b, s.Warmup, times, info.ForwardFlopsPerImage, PeakBytes(backend), peakFlops, null, null);
            if (s.Peer is not null) peerResult = RunPeer(s, model, (CpuBackend)backend, inputs, times.Length, givenPeer);
        }

        var memory = Memory(cuda);
        var report = new BenchReport(s.Preset.Name, info.Name, device.ToString(), backend.Name, s.Precision.ToLowerInvariant(), s.Seed,
            DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture), Machine(), info.ForwardFlopsPerImage,
            TrainForwardMultiple, LearningRate, train, embed, memory, peak is null ? null : new BenchDevicePeak(peak.ComputeCapability,
                peak.Multiprocessors, peak.ClockKHz, peak.Fp32FlopsPerClockPerSm, peak.Tf32FlopsPerClockPerSm, peak.Fp32FlopsPerSecond, peak.Tf32FlopsPerSecond),
            peerResult);
        Print(report, cuda is not null, peak, tf32);
        if (peerResult is not null) PrintPeer(peerResult, s.Seed);
        if (s.Json is not null)
        {
            AtomicFile.WriteAllText(s.Json, JsonSerializer.Serialize(report, BenchJson.Default.BenchReport) + "\n");
            Program.Status($"[grey]wrote {Markup.Escape(s.Json)}[/]");
        }

        return 0;
    }

    private static bool ParsePrecision(string precision) => precision.Trim().ToUpperInvariant() switch
    {
        "FP32" => false,
        "TF32" => true,
        "BF16" => throw new CliException("--precision bf16 is not implemented yet: use fp32, or tf32 on CUDA"),
        _ => throw new CliException($"--precision '{precision}' is not fp32, tf32 or bf16"),
    };

    private static void Validate(Settings s)
    {
        UserInput.CheckBatch("--batch", s.Batch, s.Preset.Info);
        UserInput.CheckBatch("--embed-batch", s.EmbedBatch, s.Preset.Info);
        if (s.TrainSteps < 0) throw new CliException($"--train-steps/--steps {s.TrainSteps} must be 0 or more");
        if (s.EmbedSteps < 0) throw new CliException($"--embed-steps/--steps {s.EmbedSteps} must be 0 or more");
        if (s.TrainSteps == 0 && s.EmbedSteps == 0) throw new CliException("--train-steps and --embed-steps are both 0: nothing to measure");
        if (s.Warmup < 0) throw new CliException($"--warmup {s.Warmup} must be 0 or more");
        if (s.Peer is not null && !string.Equals(s.Peer.Trim(), "onnxruntime", StringComparison.OrdinalIgnoreCase))
            throw new CliException($"--peer '{s.Peer}' is not known: the peer is onnxruntime");
        if (s.Peer is not null && s.EmbedSteps == 0) throw new CliException("--peer compares with Embed: --embed-steps/--steps must be 1 or more");
        if (s.PeerPause is < 0 or > 60_000) throw new CliException($"--peer-pause {s.PeerPause} must be 0 to 60000 ms");
        if (s.PeerPause != 0 && s.Peer is null) throw new CliException("--peer-pause paces the --peer rounds: give --peer onnxruntime too");
        if (s.PeerRun is < 1 or > 1000) throw new CliException($"--peer-run {s.PeerRun} must be 1 to 1000 calls");
        if (s.PeerRun != 1 && s.Peer is null) throw new CliException("--peer-run shapes the --peer rounds: give --peer onnxruntime too");
        if (s.PeerModel is not null && s.Peer is null) throw new CliException("--peer-model is the model of the --peer rounds: give --peer onnxruntime too");
        if (s.PeerModel is not null && !File.Exists(s.PeerModel)) throw new CliException($"--peer-model {s.PeerModel}: no such file");
        if (s.TrainSteps > 0 && (s.Batch < 2 * InstancesPerIdentity || s.Batch % InstancesPerIdentity != 0))
        {
            throw new CliException($"--batch {s.Batch} must be a multiple of K = {InstancesPerIdentity} images per identity, at least {2 * InstancesPerIdentity} (the triplet loss needs two identities)");
        }

        if (s.Json is not null)
        {
            string? directory = Path.GetDirectoryName(Path.GetFullPath(s.Json));
            if (directory is null || !Directory.Exists(directory)) throw new CliException($"--json {s.Json}: the directory '{directory}' does not exist");
        }
    }

    /// <summary>Runs <paramref name="call"/> <paramref name="warmup"/> times untimed, then <paramref name="steps"/> times timed; ms per timed call.</summary>
    private static double[] Measure(int warmup, int steps, Action call)
    {
        for (int i = 0; i < warmup; i++) call();
        var times = new double[steps];
        for (int i = 0; i < steps; i++) times[i] = Time(call);

        return times;
    }

    /// <summary>CUDA: peak bytes allocated through the backend; CPU: the process's peak working set.</summary>
    private static long PeakBytes(IBackend backend) => backend is CudaBackend cuda ? cuda.PeakAllocatedBytes : ProcessPeakWorkingSet();

    private static long ProcessPeakWorkingSet()
    {
        using var process = Process.GetCurrentProcess();
        return process.PeakWorkingSet64;
    }

    private static BenchMemory Memory(CudaBackend? cuda)
    {
        if (cuda is null) return new BenchMemory(ProcessPeakWorkingSet(), null, null, null, null);
        (long free, long total) = cuda.MemoryInfo();
        return new BenchMemory(ProcessPeakWorkingSet(), cuda.AllocatedBytes, cuda.PeakAllocatedBytes, total - free, total);
    }

    private static BenchMachine Machine() => new(Environment.ProcessorCount, RuntimeInformation.OSDescription,
        RuntimeInformation.OSArchitecture.ToString(), RuntimeInformation.FrameworkDescription, CpuModel());

    /// <summary>The first "model name" of /proc/cpuinfo, or null (not Linux, or not readable).</summary>
    private static string? CpuModel()
    {
        const string cpuinfo = "/proc/cpuinfo";
        try
        {
            if (!File.Exists(cpuinfo)) return null;
            string? line = File.ReadLines(cpuinfo).FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            int colon = line?.IndexOf(':', StringComparison.Ordinal) ?? -1;
            return colon < 0 ? null : line![(colon + 1)..].Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static void Print(BenchReport r, bool cuda, DevicePeak? peak, bool tf32)
    {
        var table = new Table { Title = new TableTitle(Markup.Escape($"{r.Preset} on {r.Device}, {r.Precision}")) }.Border(TableBorder.Rounded);
        table.AddColumn("");
        table.AddColumn(new TableColumn("TrainStep").RightAligned());
        table.AddColumn(new TableColumn("Embed").RightAligned());
        void Row(string name, Func<BenchPhase, string> cell) => table.AddRow(name, r.Train is null ? "-" : cell(r.Train), r.Embed is null ? "-" : cell(r.Embed));
        Row("images per call", p => Num(p.Batch));
        Row("calls (warm-up + timed)", p => $"{Num(p.Warmup)} + {Num(p.Steps)}");
        Row("median ms per call", p => Ms(p.MedianMs));
        Row("min / max ms", p => $"{Ms(p.MinMs)} / {Ms(p.MaxMs)}");
        Row("images/s", p => p.ImagesPerSecond.ToString("F2", CultureInfo.InvariantCulture));
        Row("model FLOP/s", p => Flops(p.FlopsPerSecond));
        if (cuda) Row(tf32 ? "of device peak (dense tf32)" : "of device peak (fp32)", p => p.FractionOfPeak is { } f ? f.ToString("P1", CultureInfo.InvariantCulture) : "unknown");
        Row(cuda ? "peak allocated (backend)" : "peak working set (process)", p => Bytes(p.PeakMemoryBytes));
        var console = Consoles.Stdout();
        console.Write(table);

        var notes = new List<string>
        {
            $"backend: {r.Backend}",
            string.Create(CultureInfo.InvariantCulture,
                $"model FLOPs: {Amount(r.ForwardFlopsPerImage)}FLOP per image for a forward (GEMMs and attention, ModelInfo.ForwardFlopsPerImage); a training image counts {r.TrainForwardMultiple}x forward (forward + backward)"),
            "each timed call includes the device synchronisation (TrainStep reads the loss back, Embed downloads the features)",
        };
        if (r.Train is { FirstLoss: { } first, LastLoss: { } last })
            notes.Add(string.Create(CultureInfo.InvariantCulture, $"loss over the timed TrainSteps (SGD, lr {r.LearningRate:G2}, random data): {first:F4} -> {last:F4}"));
        if (r.Memory.DeviceUsedBytes is { } used && r.Memory.DeviceTotalBytes is { } total)
            notes.Add($"device memory in use at the end (all processes, cuBLAS and driver included): {Bytes(used)} of {Bytes(total)}");
        if (peak is not null)
        {
            int? perClock = tf32 ? peak.Tf32FlopsPerClockPerSm : peak.Fp32FlopsPerClockPerSm;
            notes.Add(perClock is { } f
                ? string.Create(CultureInfo.InvariantCulture,
                    $"device peak ({(tf32 ? "dense tf32 tensor" : "fp32")}): {peak.Multiprocessors} SMs x {peak.ClockKHz / 1e3:F0} MHz x {f} FLOP/clk/SM = {Flops(peak.FlopsPerSecond(tf32)!.Value)}")
                : $"device peak: sm_{peak.ComputeCapability} is not in the table of FLOP per clock per SM (DevicePeak.cs)");
        }
        else if (cuda)
        {
            notes.Add("device peak: the driver does not report the SM clock");
        }

        foreach (var line in notes) console.MarkupLine("[grey]" + Markup.Escape(line) + "[/]");
    }

    /// <summary>
    /// Exports the model to a temporary ONNX file and opens it in ONNX Runtime (<see cref="PeerOptions"/>), or takes
    /// <paramref name="given"/>, the <c>--peer-model</c> opened and checked before any timing; then times <paramref name="rounds"/> rounds of one
    /// ONNX Runtime turn and one Embed turn on the same inputs, alternating which goes first; a turn is one timed call, or
    /// with <c>--peer-run N</c> N calls of which the first is untimed. Both write preallocated outputs.
    /// </summary>
    private static BenchPeer RunPeer(Settings s, ITransReIDModel model, CpuBackend backend, Inputs inputs, int rounds, (InferenceSession Session, double Seconds)? given)
    {
        var info = model.Info;
        int b = s.EmbedBatch;
        string? path = given is null ? Path.Combine(Path.GetTempPath(), $"transreid-bench-{Guid.NewGuid():N}.onnx") : null;
        InferenceSession? exported = null;
        try
        {
            double exportSeconds = 0, loadSeconds;
            InferenceSession session;
            if (given is { } g)
            {
                (session, loadSeconds) = (g.Session, g.Seconds);
            }
            else
            {
                long exportStart = Stopwatch.GetTimestamp();
                model.ExportOnnx(path!, new OnnxExportOptions { Preset = s.Preset.Name });
                exportSeconds = Stopwatch.GetElapsedTime(exportStart).TotalSeconds;
                long loadStart = Stopwatch.GetTimestamp();
                using var options = PeerOptions(backend.Threads);
                session = exported = new InferenceSession(path!, options);
                loadSeconds = Stopwatch.GetElapsedTime(loadStart).TotalSeconds;
            }

            string source = given is null ? string.Create(CultureInfo.InvariantCulture, $"our export {exportSeconds:F1} s") : Markup.Escape(s.PeerModel!);
            Program.Status(string.Create(CultureInfo.InvariantCulture,
                $"[grey]peer: ONNX Runtime {Markup.Escape(OrtEnv.Instance().GetVersionString())}, {backend.Threads} intra-op threads (model: {source}, session {loadSeconds:F1} s); {s.Warmup} warm-up and {rounds} interleaved rounds at batch {b}{(s.PeerRun > 1 ? $", runs of {s.PeerRun} calls (the first untimed)" : "")}{(s.PeerPause > 0 ? $", {s.PeerPause} ms idle before each timed call" : "")}[/]"));

            float[] images = inputs.Images.AsSpan(0, b * info.ImageFloats).ToArray();
            long[] cameras = [.. inputs.CamerasFor(b).ToArray().Select(c => (long)c)];
            long[] views = [.. inputs.ViewsFor(b).ToArray().Select(v => (long)v)];
            var ours = new float[(long)b * info.FeatureDim];
            var theirs = new float[(long)b * info.FeatureDim];
            var names = new List<string> { "images" };
            var values = new List<OrtValue> { OrtValue.CreateTensorValueFromMemory(images, [b, 3, info.ImageHeight, info.ImageWidth]) };
            try
            {
                if (info.UsesCameras)
                {
                    names.Add("cameras");
                    values.Add(OrtValue.CreateTensorValueFromMemory(cameras, [b]));
                }

                if (info.UsesViews)
                {
                    names.Add("views");
                    values.Add(OrtValue.CreateTensorValueFromMemory(views, [b]));
                }

                using var output = OrtValue.CreateTensorValueFromMemory(theirs, [b, info.FeatureDim]);
                using var runOptions = new RunOptions();
                string[] outputNames = ["features"];
                OrtValue[] outputValues = [output];
                void Ort() => session.Run(runOptions, names, values, outputNames, outputValues);
                void Ours() => model.Embed(images, inputs.CamerasFor(b), inputs.ViewsFor(b), ours);

                for (int i = 0; i < s.Warmup; i++)
                {
                    Ort();
                    Ours();
                }

                // each engine's turn is a run of calls; above one call per run the first is untimed (see --peer-run)
                int timedPerRun = s.PeerRun == 1 ? 1 : s.PeerRun - 1;
                var ortMs = new double[rounds * timedPerRun];
                var oursMs = new double[rounds * timedPerRun];
                void Turn(Action call, double[] ms, int r)
                {
                    if (s.PeerRun > 1) Time(call, s.PeerPause);
                    for (int i = 0; i < timedPerRun; i++) ms[(r * timedPerRun) + i] = Time(call, s.PeerPause);
                }

                for (int r = 0; r < rounds; r++)
                {
                    if (r % 2 == 0)
                    {
                        Turn(Ort, ortMs, r);
                        Turn(Ours, oursMs, r);
                    }
                    else
                    {
                        Turn(Ours, oursMs, r);
                        Turn(Ort, ortMs, r);
                    }
                }

                double num = 0, den = 0;
                for (long i = 0; i < ours.LongLength; i++)
                {
                    double d = (double)ours[i] - theirs[i];
                    num += d * d;
                    den += (double)ours[i] * ours[i];
                }

                double oursMedian = Median(oursMs), ortMedian = Median(ortMs);
                return new BenchPeer("onnxruntime", OrtEnv.Instance().GetVersionString(), s.PeerModel, backend.Threads, b, s.Warmup, rounds, s.PeerPause, s.PeerRun, oursMs, ortMs,
                    oursMedian, ortMedian, b / (oursMedian / 1e3), b / (ortMedian / 1e3), ortMedian / oursMedian,
                    den == 0 ? Math.Sqrt(num) : Math.Sqrt(num / den), exportSeconds, loadSeconds);
            }
            finally
            {
                foreach (var v in values) v.Dispose();
            }
        }
        finally
        {
            exported?.Dispose();
            try
            {
                if (path is not null) File.Delete(path);
            }
            catch (IOException)
            {
                // a leftover temporary model is not worth failing the benchmark over
            }
        }
    }

    /// <summary>ONNX Runtime's settings for the peer: CPU, all graph optimisations, <paramref name="threads"/> intra-op threads, sequential execution.</summary>
    private static SessionOptions PeerOptions(int threads) => new()
    {
        GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        IntraOpNumThreads = threads,
        InterOpNumThreads = 1,
        ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
    };

    /// <summary>
    /// The <c>--peer-model</c> file opened in ONNX Runtime (<see cref="PeerOptions"/>) and checked against the preset
    /// (<see cref="CheckPeerSignature"/>), with the seconds the session took. A file ONNX Runtime refuses, or whose
    /// inputs or output differ, is the user's mistake.
    /// </summary>
    private static (InferenceSession Session, double Seconds) OpenGivenPeer(string path, int threads, ModelInfo info)
    {
        long start = Stopwatch.GetTimestamp();
        InferenceSession session;
        using (var options = PeerOptions(threads))
        {
            try
            {
                session = new InferenceSession(path, options);
            }
            catch (OnnxRuntimeException e)
            {
                throw new CliException($"--peer-model {path}: ONNX Runtime cannot load it: {e.Message.Split('\n')[0].Trim()}");
            }
        }

        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        try
        {
            CheckPeerSignature(path, session, info);
        }
        catch
        {
            session.Dispose();
            throw;
        }

        return (session, seconds);
    }

    /// <summary>
    /// Checks that a <c>--peer-model</c> takes our export's inputs (images float32 [N, 3, H, W]; cameras and views int64
    /// [N] exactly where the preset uses them) and gives 'features' float32 [N, FeatureDim]; a fixed dimension that
    /// differs is named. Dynamic dimensions (−1) pass.
    /// </summary>
    private static void CheckPeerSignature(string path, InferenceSession session, ModelInfo info)
    {
        var expected = new List<(string Name, Type Type, long[] Shape)> { ("images", typeof(float), [-1, 3, info.ImageHeight, info.ImageWidth]) };
        if (info.UsesCameras) expected.Add(("cameras", typeof(long), [-1]));
        if (info.UsesViews) expected.Add(("views", typeof(long), [-1]));
        void Check(string kind, IReadOnlyDictionary<string, NodeMetadata> actual, (string Name, Type Type, long[] Shape) want)
        {
            if (!actual.TryGetValue(want.Name, out var meta))
                throw new CliException($"--peer-model {path}: no {kind} '{want.Name}' (it has {string.Join(", ", actual.Keys.Select(k => $"'{k}'"))})");
            if (meta.ElementType != want.Type || meta.Dimensions.Length != want.Shape.Length
                || meta.Dimensions.Where((d, i) => d >= 0 && want.Shape[i] >= 0 && d != want.Shape[i]).Any())
            {
                throw new CliException($"--peer-model {path}: {kind} '{want.Name}' is {meta.ElementType.Name} {Shape(meta.Dimensions.Select(d => (long)d))}, " +
                    $"the preset needs {want.Type.Name} {Shape(want.Shape)}");
            }
        }

        static string Shape(IEnumerable<long> dims) => $"[{string.Join(", ", dims.Select(d => d < 0 ? "N" : d.ToString(CultureInfo.InvariantCulture)))}]";

        foreach (var want in expected) Check("input", session.InputMetadata, want);
        var extra = session.InputMetadata.Keys.Except(expected.Select(e => e.Name)).ToList();
        if (extra.Count > 0) throw new CliException($"--peer-model {path}: input '{extra[0]}' is not one the preset gives ({string.Join(", ", expected.Select(e => e.Name))})");
        Check("output", session.OutputMetadata, ("features", typeof(float), [-1, info.FeatureDim]));
    }

    /// <summary>Milliseconds of one call, after <paramref name="pauseMs"/> idle ones (the --peer-pause).</summary>
    private static double Time(Action call, int pauseMs = 0)
    {
        if (pauseMs > 0) Thread.Sleep(pauseMs);
        long start = Stopwatch.GetTimestamp();
        call();
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    /// <summary>The median of <paramref name="values"/> (the mean of the middle two for an even count).</summary>
    internal static double Median(double[] values)
    {
        double[] sorted = [.. values.Order()];
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[(n / 2) - 1] + sorted[n / 2]) / 2;
    }

    private static void PrintPeer(BenchPeer p, int seed)
    {
        string model = p.Model is null ? "our export" : Path.GetFileName(p.Model);
        var table = new Table { Title = new TableTitle(Markup.Escape($"Embed vs ONNX Runtime {p.Version} ({model}), batch {p.Batch}, {p.Threads} threads")) }.Border(TableBorder.Rounded);
        table.AddColumn("");
        table.AddColumn(new TableColumn("Embed (ours)").RightAligned());
        table.AddColumn(new TableColumn("ONNX Runtime").RightAligned());
        table.AddRow("median ms per call", Ms(p.OursMedianMs), Ms(p.PeerMedianMs));
        table.AddRow("min / max ms", $"{Ms(p.OursMs.Min())} / {Ms(p.OursMs.Max())}", $"{Ms(p.PeerMs.Min())} / {Ms(p.PeerMs.Max())}");
        table.AddRow("images/s", p.OursImagesPerSecond.ToString("F2", CultureInfo.InvariantCulture), p.PeerImagesPerSecond.ToString("F2", CultureInfo.InvariantCulture));
        var console = Consoles.Stdout();
        console.Write(table);
        console.MarkupLine(Markup.Escape(string.Create(CultureInfo.InvariantCulture,
            $"ratio (ours / ONNX Runtime, images/s): {p.Ratio:F2}x ({(p.Ratio >= 1 ? "ours faster" : "ONNX Runtime faster")}); medians of {p.OursMs.Length} calls each in {p.Rounds} interleaved rounds{(p.RunCalls > 1 ? $" (runs of {p.RunCalls}, the first untimed)" : "")} after {p.Warmup} warm-up each{(p.PauseMs > 0 ? $", {p.PauseMs} ms idle before each call" : "")}; features differ from ours by relative L2 {p.RelativeL2:E1}{(p.Model is null ? "" : $" (the same weights only if the file was made from this bench's: seed {seed})")}")));
    }

    private static string Num(int n) => n.ToString(CultureInfo.InvariantCulture);

    private static string Ms(double ms) => ms.ToString(ms >= 100 ? "F0" : ms >= 10 ? "F1" : "F2", CultureInfo.InvariantCulture);

    private static string Flops(double f) => Amount(f) + "FLOP/s";

    /// <summary>A count with an SI prefix and a trailing space: "40.8 G", "14.0 M", "1.23 T".</summary>
    private static string Amount(double x) => x switch
    {
        >= 1e12 => (x / 1e12).ToString("F2", CultureInfo.InvariantCulture) + " T",
        >= 1e9 => (x / 1e9).ToString("F1", CultureInfo.InvariantCulture) + " G",
        >= 1e6 => (x / 1e6).ToString("F1", CultureInfo.InvariantCulture) + " M",
        _ => x.ToString("F0", CultureInfo.InvariantCulture) + " ",
    };

    private static string Bytes(long b) => (b / (1024.0 * 1024.0)).ToString("N0", CultureInfo.InvariantCulture) + " MiB";

    /// <summary>Synthetic, seeded inputs: images uniform in [-1, 1], PK labels (4 images per identity), cameras and views cycling.</summary>
    private sealed class Inputs
    {
        private readonly int[] _cameras;
        private readonly int[] _views;

        public Inputs(ModelInfo info, int count, int seed)
        {
            var rng = new Rng(unchecked((ulong)seed) ^ 0x4245_4E43_4800_0001UL);
            Images = new float[(long)count * info.ImageFloats];
            for (long i = 0; i < Images.LongLength; i++) Images[i] = (float)(rng.NextDouble() * 2 - 1);
            Labels = [.. Enumerable.Range(0, count).Select(i => i / InstancesPerIdentity % info.Classes)];
            _cameras = info.UsesCameras ? [.. Enumerable.Range(0, count).Select(i => i % info.Cameras)] : [];
            _views = info.UsesViews ? [.. Enumerable.Range(0, count).Select(i => i % info.Views)] : [];
        }

        public float[] Images { get; }

        public int[] Labels { get; }

        public ReadOnlySpan<int> CamerasFor(int batch) => _cameras.Length == 0 ? default : _cameras.AsSpan(0, batch);

        public ReadOnlySpan<int> ViewsFor(int batch) => _views.Length == 0 ? default : _views.AsSpan(0, batch);
    }
}

/// <summary>Everything <c>transreid bench</c> measured (the <c>--json</c> file, snake_case keys).</summary>
internal sealed record BenchReport(
    string Preset, string Model, string Device, string Backend, string Precision, int Seed, string Date, BenchMachine Machine,
    double ForwardFlopsPerImage, int TrainForwardMultiple, double LearningRate, BenchPhase? Train, BenchPhase? Embed, BenchMemory Memory,
    BenchDevicePeak? DevicePeak, BenchPeer? Peer = null);

/// <summary>
/// <c>--peer</c>: our Embed and the peer (ONNX Runtime on the exported model, or on the <c>--peer-model</c> file named by
/// Model; null: our export) timed in interleaved rounds at one batch size; Ratio = peer median ms / our median ms (our
/// images/s over theirs; above 1 we are faster); RelativeL2 = ‖ours − theirs‖ / ‖ours‖ of the last call's features.
/// </summary>
internal sealed record BenchPeer(
    string Name, string Version, string? Model, int Threads, int Batch, int Warmup, int Rounds, int PauseMs, int RunCalls, double[] OursMs, double[] PeerMs, double OursMedianMs,
    double PeerMedianMs, double OursImagesPerSecond, double PeerImagesPerSecond, double Ratio, double RelativeL2, double ExportSeconds,
    double SessionSeconds);

/// <summary>One measured call: batch, per-call times (ms, in call order), their median/min/max, and the rates of the median.</summary>
internal sealed record BenchPhase(
    string Call, int Batch, int Warmup, int Steps, double[] TimesMs, double MedianMs, double MinMs, double MaxMs, double ImagesPerSecond,
    double FlopsPerImage, double FlopsPerSecond, double? PeakFlopsPerSecond, double? FractionOfPeak, long PeakMemoryBytes, double? FirstLoss,
    double? LastLoss)
{
    /// <summary>The statistics of <paramref name="timesMs"/> and the rates at their median.</summary>
    public static BenchPhase Of(string call, int batch, int warmup, double[] timesMs, double flopsPerImage, long peakMemoryBytes, double? peakFlops,
        double? firstLoss, double? lastLoss)
    {
        double median = BenchCommand.Median(timesMs);
        double seconds = median / 1e3, flops = flopsPerImage * batch / seconds;
        return new BenchPhase(call, batch, warmup, timesMs.Length, timesMs, median, timesMs.Min(), timesMs.Max(), batch / seconds, flopsPerImage, flops, peakFlops,
            flops / peakFlops, peakMemoryBytes, firstLoss, lastLoss);
    }
}

/// <summary>The machine: logical processors, OS, architecture, .NET runtime and CPU model (Linux).</summary>
internal sealed record BenchMachine(int ProcessorCount, string Os, string Architecture, string Runtime, string? CpuModel);

/// <summary>Memory at the end of the run: the process's peak working set; on CUDA the backend's counts and the device's use.</summary>
internal sealed record BenchMemory(long ProcessPeakWorkingSetBytes, long? CudaAllocatedBytes, long? CudaPeakAllocatedBytes, long? DeviceUsedBytes,
    long? DeviceTotalBytes);

/// <summary>The CUDA device's peak (see <see cref="DevicePeak"/>).</summary>
internal sealed record BenchDevicePeak(int ComputeCapability, int Multiprocessors, int ClockKhz, int? Fp32FlopsPerClockPerSm, int? Tf32FlopsPerClockPerSm,
    double? Fp32FlopsPerSecond, double? Tf32FlopsPerSecond);
