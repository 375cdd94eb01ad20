// Linked into the test projects (TransReID.Runtime.Tests, TransReID.Tests): the one temporary-folder helper.
using System;
using System.IO;
using System.Linq;

namespace TransReID.TestShared;

/// <summary>A fresh folder under the system temp path, deleted (best effort) on dispose; one per test.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "transreid-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    /// <summary>The full path of <paramref name="name"/> in the folder (nothing is created).</summary>
    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>The full path of a relative path ('/'-separated) below the folder (nothing is created).</summary>
    public string Combine(string relative) => System.IO.Path.Combine(Path, relative.Replace('/', System.IO.Path.DirectorySeparatorChar));

    /// <summary>Creates an empty file (and its folders) at a path relative to the root; returns the full path.</summary>
    public string Touch(string relative) => Write(relative, "");

    /// <summary>Writes a text file (and its folders) at a path relative to the root; returns the full path.</summary>
    public string Write(string relative, string text)
    {
        string full = Combine(relative);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        System.IO.File.WriteAllText(full, text);
        return full;
    }

    /// <summary>Names of everything in the folder, hidden files included, sorted.</summary>
    public string[] List() =>
        [.. Directory.EnumerateFileSystemEntries(Path).Select(p => System.IO.Path.GetFileName(p)).Order(StringComparer.Ordinal)];

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // best effort: a leftover temp folder is not worth failing a test over
        }
    }
}
