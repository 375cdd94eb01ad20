using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;

namespace TransReID.Tools.CudaEmulatorGen;

/// <summary>
/// <c>CudaEmulatorGen &lt;kernels dir&gt; &lt;out dir&gt;</c>: turns every <c>*.cu</c> of the kernels folder into a C++
/// translation unit of the CPU emulator (tests/TransReID.Cuda.Tests/Emulator): <c>emu.h</c> first, the CUDA-only
/// syntax rewritten (see <see cref="Translator"/>), then one thunk per <c>extern "C" __global__</c> kernel that unpacks
/// <c>cuLaunchKernel</c>'s <c>void**</c> parameters and a registration by name. Exit code 1 with an
/// <c>error: file:line: ...</c> line naming the kernel when a source cannot be translated, 2 for bad arguments.
/// </summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length != 2)
        {
            Console.Error.WriteLine("usage: CudaEmulatorGen <kernels dir> <out dir>");
            return 2;
        }

        string source = Path.GetFullPath(args[0]);
        string output = Path.GetFullPath(args[1]);
        if (!Directory.Exists(source))
        {
            Console.Error.WriteLine($"error: no kernels folder {source}");
            return 2;
        }

        string[] files = [.. Directory.GetFiles(source, "*.cu").OrderBy(f => f, StringComparer.Ordinal)];
        if (files.Length == 0)
        {
            Console.Error.WriteLine($"error: no *.cu files in {source}");
            return 1;
        }

        Directory.CreateDirectory(output);
        int failures = 0;
        var owners = new Dictionary<string, string>(StringComparer.Ordinal); // kernel name -> file: the registry is one namespace
        foreach (string file in files)
        {
            string target = Path.Combine(output, Path.GetFileNameWithoutExtension(file) + ".cpp");
            try
            {
                TranslationUnit unit = Translator.Translate(file, File.ReadAllText(file));
                foreach (Kernel k in unit.Kernels)
                {
                    if (owners.TryGetValue(k.Name, out string? other))
                        throw new TranslationException($"{file}:{k.Line}: kernel {k.Name} is also defined in {other}");
                    owners[k.Name] = file;
                }

                WriteIfChanged(target, unit.Text);
                Console.WriteLine($"{Path.GetFileName(file)}: {unit.Kernels.Count} kernels");
            }
            catch (TranslationException e)
            {
                Console.Error.WriteLine("error: " + e.Message);
                File.Delete(target); // never compile a stale translation of a file that no longer translates
                failures++;
            }
        }

        // Outputs of .cu files that no longer exist would still be compiled and linked: remove them.
        var expected = files.Select(f => Path.GetFileNameWithoutExtension(f) + ".cpp").ToHashSet(StringComparer.Ordinal);
        foreach (string stale in Directory.GetFiles(output, "*.cpp").Where(f => !expected.Contains(Path.GetFileName(f))))
            File.Delete(stale);

        return failures == 0 ? 0 : 1;
    }

    /// <summary>Leaves an unchanged output alone, so that its timestamp tells the build it need not recompile it.</summary>
    private static void WriteIfChanged(string path, string text)
    {
        if (File.Exists(path) && File.ReadAllText(path) == text) return;
        File.WriteAllText(path, text, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
    }
}
