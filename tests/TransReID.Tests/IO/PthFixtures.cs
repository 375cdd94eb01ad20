using System;
using System.IO;

namespace TransReID.Tests.IO;

/// <summary>Paths of the committed PyTorch-checkpoint fixtures (tests/reference/make_pth_fixtures.py).</summary>
internal static class PthFixtures
{
    public static string Dir => Path.Combine(AppContext.BaseDirectory, "Fixtures", "pth");

    public static string File(string name) => Path.Combine(Dir, name);
}
