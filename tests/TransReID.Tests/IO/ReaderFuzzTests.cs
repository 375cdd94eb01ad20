using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using CsCheck;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using TransReID.Data;
using TransReID.Runtime;
using TransReID.Runtime.IO;
using TransReID.Tests.Training;
using TransReID.Training;

namespace TransReID.Tests.IO;

/// <summary>
/// Thousands of mutated inputs (bytes overwritten, truncated, cut out, repeated, bits flipped) for the safetensors
/// reader, the checkpoint reader (<c>checkpoint.json</c>, the state file, <c>train-log.jsonl</c>) and the image loader.
/// Every case ends in success or the reader's documented exception, never another exception or a hang (each test has
/// a timeout), and allocates at most <see cref="MaxBytesPerCase"/> on its thread (the inputs are a few kB; a length
/// field turned huge must not become an allocation). <c>TRANSREID_FUZZ_ITERATIONS</c> sets the cases per test (the
/// default keeps all of them under a minute together); run e.g. <c>TRANSREID_FUZZ_ITERATIONS=200000</c> for a long run.
/// </summary>
public sealed class ReaderFuzzTests : IDisposable
{
    /// <summary>The stated memory bound of one case.</summary>
    public const long MaxBytesPerCase = 64L << 20;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static long Iterations(long fallback) =>
        long.TryParse(Environment.GetEnvironmentVariable("TRANSREID_FUZZ_ITERATIONS"), NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) && n > 0
            ? n
            : fallback;

    private static Gen<(int File, int Kind, double A, double B, int Count, byte Value)> Mutation(int files) =>
        Gen.Select(Gen.Int[0, files - 1], Gen.Int[0, 5], Gen.Double[0, 1], Gen.Double[0, 1], Gen.Int[1, 8], Gen.Byte);

    /// <summary>The mutations of <see cref="PthFuzzTests"/>, plus (kind 5) a decimal number in the text replaced by a huge or negative one.</summary>
    private static byte[] Mutate(byte[] original, (int File, int Kind, double A, double B, int Count, byte Value) m)
    {
        var random = new Random(HashCode.Combine(m.A, m.B, m.Value, m.Kind));
        if (original.Length == 0) return [m.Value];
        int at = Math.Min(original.Length - 1, (int)(m.A * original.Length));
        int span = Math.Max(1, (int)(m.B * Math.Min(64, original.Length - at)));
        switch (m.Kind)
        {
            case 0:
            {
                byte[] b = (byte[])original.Clone();
                for (int i = 0; i < m.Count; i++) b[(at + random.Next(span)) % b.Length] = i == 0 ? m.Value : (byte)random.Next(256);
                return b;
            }

            case 1:
                return original[..at];
            case 2:
                return [.. original.AsSpan(0, at), .. original.AsSpan(Math.Min(original.Length, at + span))];
            case 3:
                return [.. original.AsSpan(0, Math.Min(original.Length, at + span)), .. original.AsSpan(at)];
            case 4:
            {
                byte[] b = (byte[])original.Clone();
                b[at] ^= (byte)(1 << (m.Count - 1));
                return b;
            }

            default:
            {
                // the first run of digits at or after 'at' becomes another number
                int start = Array.FindIndex(original, at, c => c is >= (byte)'0' and <= (byte)'9');
                if (start < 0) return original;
                int end = start;
                while (end < original.Length && original[end] is >= (byte)'0' and <= (byte)'9') end++;
                string[] numbers = ["99999999999999999999", "9223372036854775807", "4294967296", "-1", "0", "2147483647", "1e308", "18446744073709551615"];
                byte[] replacement = Encoding.ASCII.GetBytes(numbers[m.Count % numbers.Length]);
                return [.. original.AsSpan(0, start), .. replacement, .. original.AsSpan(end)];
            }
        }
    }

    /// <summary>Runs <paramref name="body"/> on every mutation of <paramref name="originals"/>, checking the outcome and the memory bound.</summary>
    private void Fuzz(byte[][] originals, long iterations, string extension, Action<string, byte[]> body, Func<Exception, bool> documented, int[]? outcomes = null)
    {
        int[] counts = outcomes ?? new int[2];
        Mutation(originals.Length).Sample(m =>
        {
            byte[] bytes = Mutate(originals[m.File], m);
            string path = _dir.File(Guid.NewGuid().ToString("N") + extension);
            File.WriteAllBytes(path, bytes);
            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                body(path, bytes);
                Interlocked.Increment(ref counts[0]);
            }
            catch (Exception e) when (documented(e))
            {
                Interlocked.Increment(ref counts[1]);
            }
            finally
            {
                File.Delete(path);
            }

            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated <= MaxBytesPerCase + (bytes.Length * 16L), $"one case allocated {allocated} bytes ({bytes.Length}-byte input)");
        }, iter: iterations);
        Assert.True(counts[0] + counts[1] > 0);
    }

    [Fact(Timeout = 180_000)]
    public Task Mutated_safetensors_open_and_read_or_throw_SafetensorsException() => Task.Run(() =>
    {
        var small = new SafetensorsWriter();
        small.AddMetadata("format", "pt");
        small.Add("a", [1f, 2f, 3f, 4f, 5f, 6f], 2, 3);
        small.Add("b", [7L, 8L], 2);
        small.Add("c.weight", [0.5f], 1);
        string a = _dir.File("small.safetensors");
        small.Save(a);
        byte[][] originals = [File.ReadAllBytes(a), File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Fixtures", "tiny_base", "weights.safetensors"))];
        int[] outcomes = new int[2];
        Fuzz(originals, Iterations(4000), ".safetensors", (path, input) =>
        {
            using var file = SafetensorsFile.Open(path);
            foreach (var e in file.Entries.Values)
            {
                if (e.ElementCount > 1 << 20) continue;
                switch (e.Dtype)
                {
                    case SafetensorsDtype.F32: file.ReadF32(e.Name); break;
                    case SafetensorsDtype.I64: file.ReadI64(e.Name); break;
                    default: break;
                }
            }

            _ = file.Metadata.Count;
        }, e => e is SafetensorsException, outcomes);
        Assert.True(outcomes[0] > 50 && outcomes[1] > 50, $"{outcomes[0]} opened, {outcomes[1]} refused");
    }, TestContext.Current.CancellationToken);

    /// <summary>A committed checkpoint of a tiny model after a few steps (record, weights, state with optimiser buffers).</summary>
    private CheckpointStore MakeCheckpoint(string name)
    {
        using var data = new TinySyntheticSet();
        var options = new TrainerOptions
        {
            OutputDirectory = _dir.File(name),
            Epochs = 1,
            IdentitiesPerBatch = 2,
            InstancesPerIdentity = 2,
            LoaderThreads = 1,
            Progress = ProgressMode.None,
            RankedListQueries = 0,
            EvalBatchSize = 8,
        };
        using var model = TrainerTinyJpm.Create(Device.Cpu, 1);
        new Trainer(model, data.Dataset, options) { Output = TextWriter.Null }.Run(TestContext.Current.CancellationToken);
        return new CheckpointStore(options.OutputDirectory);
    }

    private static bool CheckpointDocumented(Exception e) => e is IOException or InvalidDataException or SafetensorsException;

    [Fact(Timeout = 180_000)]
    public Task Mutated_checkpoint_records_and_state_files_read_or_throw_the_documented_exceptions() => Task.Run(() =>
    {
        var store = MakeCheckpoint("ckpt");
        var good = store.ReadCurrent();
        byte[] pointer = File.ReadAllBytes(store.PointerPath);
        byte[] state = File.ReadAllBytes(good.StatePath);
        long iterations = Iterations(3000);

        // checkpoint.json: mutated in place (the record is read from the store's folder)
        int[] outcomes = new int[2];
        Fuzz([pointer], iterations, ".json", (unused, bytes) =>
        {
            lock (store)
            {
                File.WriteAllBytes(store.PointerPath, bytes);
                _ = store.ReadCurrent();
            }
        }, CheckpointDocumented, outcomes);
        Assert.True(outcomes[1] > 50, $"{outcomes[0]} read, {outcomes[1]} refused");
        File.WriteAllBytes(store.PointerPath, pointer);

        // the state file
        Fuzz([state], iterations, ".state", (unused, bytes) =>
        {
            lock (store)
            {
                File.WriteAllBytes(good.StatePath, bytes);
                _ = store.ReadCurrent();
            }
        }, CheckpointDocumented);
        File.WriteAllBytes(good.StatePath, state);
        Assert.Equal(good.State.Step, store.ReadCurrent().State.Step);
    }, TestContext.Current.CancellationToken);

    [Fact(Timeout = 180_000)]
    public Task Mutated_training_logs_continue_without_throwing_and_read_or_throw_InvalidDataException() => Task.Run(() =>
    {
        var lines = new StringBuilder();
        for (int s = 1; s <= 12; s++)
        {
            lines.Append(new TrainStepRecord(1 + (s / 5), s, s % 5, 16, 3.1f / s, 3.2f / s, 0.9f / s, 0.8f / s, 4f / s, 0.008 * s, 123.45).ToJson()).Append('\n');
        }

        byte[] log = Encoding.UTF8.GetBytes(lines.ToString());
        Fuzz([log], Iterations(4000), ".jsonl", (path, _) =>
        {
            // Continue never fails on a damaged log: it keeps the records up to the step and reports the rest
            var warnings = new List<string>();
            using (var continued = TrainingLog.Continue(path, 6, warnings.Add))
            {
            }

            var kept = TrainingLog.ReadAll(path);
            Assert.All(kept, r => Assert.True(r.Step <= 6));
            File.WriteAllBytes(path, File.ReadAllBytes(path)); // still a file we can rewrite
        }, e => false);

        // ReadAll on a damaged log: records or InvalidDataException naming the line
        Fuzz([log], Iterations(4000), ".jsonl", (path, _) => TrainingLog.ReadAll(path), e => e is InvalidDataException);
    }, TestContext.Current.CancellationToken);

    [Fact(Timeout = 180_000)]
    public Task Mutated_images_load_or_throw_ImageLoadException() => Task.Run(() =>
    {
        using var image = new Image<Rgb24>(24, 40);
        for (int y = 0; y < 40; y++)
            for (int x = 0; x < 24; x++)
                image[x, y] = new Rgb24((byte)(x * 10), (byte)(y * 6), (byte)((x * y) % 256));
        var encoded = new List<byte[]>();
        foreach (var save in (Action<Stream>[])[s => image.SaveAsJpeg(s), s => image.SaveAsPng(s), s => image.SaveAsBmp(s)])
        {
            using var stream = new MemoryStream();
            save(stream);
            encoded.Add(stream.ToArray());
        }

        int[] outcomes = new int[2];
        var destination = new ThreadLocal<float[]>(() => new float[3 * 32 * 16]);
        Fuzz([.. encoded], Iterations(3000), ".img", (path, _) => ImageLoader.LoadNormalized(path, 32, 16, destination.Value), e => e is ImageLoadException, outcomes);
        Assert.True(outcomes[0] > 50 && outcomes[1] > 50, $"{outcomes[0]} loaded, {outcomes[1]} refused");
    }, TestContext.Current.CancellationToken);
}
