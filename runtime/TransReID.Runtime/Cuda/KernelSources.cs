using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;

namespace TransReID.Runtime.Cuda;

/// <summary>
/// The CUDA C++ sources in <c>Kernels/</c>, embedded in this assembly as <c>TransReID.Kernels.&lt;file&gt;</c>:
/// one <c>.cu</c> file per op family, compiled separately, and the <c>.cuh</c> headers they include by name.
/// </summary>
internal static class KernelSources
{
    /// <summary>Prefix of the manifest resource names.</summary>
    public const string ResourcePrefix = "TransReID.Kernels.";

    private static readonly Lazy<Dictionary<string, string>> All = new(LoadAll);

    /// <summary>Every kernel file (<c>*.cu</c>), in ordinal order.</summary>
    public static IReadOnlyList<string> KernelFiles => [.. All.Value.Keys.Where(k => k.EndsWith(".cu", StringComparison.Ordinal)).Order(StringComparer.Ordinal)];

    /// <summary>Every header (<c>*.cuh</c>) as (include name, text), in ordinal order.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Headers =>
        [.. All.Value.Where(kv => kv.Key.EndsWith(".cuh", StringComparison.Ordinal)).OrderBy(kv => kv.Key, StringComparer.Ordinal)];

    /// <summary>The text of one embedded file, e.g. <c>layernorm.cu</c>.</summary>
    public static string Read(string fileName) =>
        All.Value.TryGetValue(fileName, out string? text)
            ? text
            : throw new ArgumentException($"no embedded kernel file '{fileName}' (known: {string.Join(", ", All.Value.Keys.Order(StringComparer.Ordinal))})", nameof(fileName));

    private static Dictionary<string, string> LoadAll()
    {
        Assembly assembly = typeof(KernelSources).Assembly;
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(ResourcePrefix, StringComparison.Ordinal)) continue;
            using Stream stream = assembly.GetManifestResourceStream(resource)
                ?? throw new InvalidOperationException($"embedded resource '{resource}' cannot be opened");
            using var reader = new StreamReader(stream);
            files[resource[ResourcePrefix.Length..]] = reader.ReadToEnd();
        }

        return files;
    }
}
