using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using CsCheck;
using TransReID.Runtime;
using TransReID.Runtime.IO;
using TransReID.Tests.Model;

namespace TransReID.Tests.IO;

/// <summary>
/// Mutated checkpoints (bytes overwritten, truncated, cut out, repeated) either load or fail with the documented
/// exception: <see cref="PthException"/> for a malformed file, and from a model's <c>Load</c> also
/// <see cref="InvalidOperationException"/> for weights that do not fit. Never another exception, a crash or a hang.
/// </summary>
public sealed class PthFuzzTests
{
    private static readonly string[] s_small = ["tensors_zip.pth", "tensors_legacy.pth", "forbidden_global.pth", "past_storage.pth", "unknown_dtype.pth"];

    /// <summary>(file index, mutation kind, position fractions, count, byte).</summary>
    private static Gen<(int File, int Kind, double A, double B, int Count, byte Value)> Mutation(int files) =>
        Gen.Select(Gen.Int[0, files - 1], Gen.Int[0, 4], Gen.Double[0, 1], Gen.Double[0, 1], Gen.Int[1, 8], Gen.Byte);

    private static byte[] Mutate(byte[] original, (int File, int Kind, double A, double B, int Count, byte Value) m, Random random)
    {
        int at = Math.Min(original.Length - 1, (int)(m.A * original.Length));
        int span = Math.Max(1, (int)(m.B * Math.Min(64, original.Length - at)));
        switch (m.Kind)
        {
            case 0: // overwrite a few bytes
            {
                byte[] b = (byte[])original.Clone();
                for (int i = 0; i < m.Count; i++) b[(at + random.Next(span)) % b.Length] = i == 0 ? m.Value : (byte)random.Next(256);
                return b;
            }

            case 1: // truncate
                return original[..at];
            case 2: // cut a chunk out
                return [.. original.AsSpan(0, at), .. original.AsSpan(Math.Min(original.Length, at + span))];
            case 3: // repeat a chunk
                return [.. original.AsSpan(0, Math.Min(original.Length, at + span)), .. original.AsSpan(at)];
            default: // small integers where the pickle has them: flip one bit
            {
                byte[] b = (byte[])original.Clone();
                b[at] ^= (byte)(1 << (m.Count - 1));
                return b;
            }
        }
    }

    [Fact(Timeout = 120_000)]
    public Task Mutated_checkpoints_open_or_throw_PthException() => Task.Run(() =>
    {
        byte[][] originals = Array.ConvertAll(s_small, n => File.ReadAllBytes(PthFixtures.File(n)));
        using var dir = new TempDirectory();
        int opened = 0, refused = 0;
        Mutation(originals.Length).Sample(m =>
        {
            byte[] bytes = Mutate(originals[m.File], m, new Random(HashCode.Combine(m.A, m.B, m.Value)));
            string path = dir.File(Guid.NewGuid().ToString("N") + ".pth");
            File.WriteAllBytes(path, bytes);
            try
            {
                using var file = PthFile.Open(path);
                foreach (var t in file.Tensors)
                {
                    if (t.ElementCount > 1 << 16) continue;
                    if (t.Dtype is SafetensorsDtype.F32 or SafetensorsDtype.F16 or SafetensorsDtype.BF16 or SafetensorsDtype.F64) file.ReadF32(t.Name);
                    else file.ReadI64(t.Name);
                }

                Interlocked.Increment(ref opened);
            }
            catch (PthException e)
            {
                Assert.Equal(Path.GetFullPath(path), e.FilePath);
                Interlocked.Increment(ref refused);
            }
            finally
            {
                File.Delete(path);
            }
        }, iter: 4000);

        // both outcomes happen: the mutations are neither all harmless nor all fatal
        Assert.True(opened > 100 && refused > 100, $"{opened} opened, {refused} refused");
    }, TestContext.Current.CancellationToken);

    [Fact(Timeout = 120_000)]
    public Task Mutated_TransReID_checkpoints_load_or_throw_the_documented_exceptions() => Task.Run(() =>
    {
        byte[][] originals = [File.ReadAllBytes(PthFixtures.File("transreid_legacy_f16.pth")), File.ReadAllBytes(PthFixtures.File("imagenet_zip.pth"))];
        using var dir = new TempDirectory();
        Mutation(originals.Length).Sample(m =>
        {
            byte[] bytes = Mutate(originals[m.File], m, new Random(HashCode.Combine(m.A, m.B, m.Value)));
            string path = dir.File(Guid.NewGuid().ToString("N") + ".pth");
            File.WriteAllBytes(path, bytes);
            using var model = m.File == 0 ? (Runtime.Model.ITransReIDModel)PthSie.Create(Device.Cpu, 0) : PthImageNet.Create(Device.Cpu, 0);
            try
            {
                if (m.File == 0) model.Load(path);
                else model.LoadPretrained(path, 0);
            }
            catch (Exception e) when (e is PthException or InvalidOperationException)
            {
                // documented: a malformed file, or weights that do not fit
            }
            finally
            {
                File.Delete(path);
            }
        }, iter: 400);
    }, TestContext.Current.CancellationToken);
}
