using System;
using System.IO;
using TransReID.Runtime.IO;

namespace TransReID.Evaluation;

/// <summary>
/// Output files of this namespace: the destination folder is created if needed, then the file is written with
/// <see cref="AtomicFile"/> (temporary file in that folder, renamed over the destination).
/// </summary>
internal static class AtomicWrite
{
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }

        AtomicFile.Write(path, write);
    }

    public static void WriteAllBytes(string path, byte[] bytes) => Write(path, s => s.Write(bytes));
}
