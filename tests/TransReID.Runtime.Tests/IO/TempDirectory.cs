using System;
using System.IO;
using System.Linq;

namespace TransReID.Runtime.Tests.IO;

/// <summary>A fresh directory under the system temp folder, deleted on dispose; one per test.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "transreid-io-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Names of everything in the directory, hidden files included, sorted.</summary>
    public string[] List() =>
        Directory.EnumerateFileSystemEntries(Path).Select(p => System.IO.Path.GetFileName(p)).Order(StringComparer.Ordinal).ToArray();

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder is not worth failing a test over.
        }
    }
}
