using System;
using System.IO;

namespace TransReID.Tests.IO;

/// <summary>Paths of the committed PyTorch-checkpoint fixtures (tests/reference/make_pth_fixtures.py).</summary>
internal static class PthFixtures
{
    public static string Dir => Path.Combine(AppContext.BaseDirectory, "Fixtures", "pth");

    public static string File(string name) => Path.Combine(Dir, name);
}

/// <summary>A fresh folder under the system temp path, deleted on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "transreid-pth-" + Guid.NewGuid().ToString("N"));

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // a leftover temp folder is not worth failing a test over
        }
    }
}
