using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text.RegularExpressions;

namespace TransReID.Runtime.Cuda;

/// <summary>
/// The CUDA C++ sources in <c>Kernels/</c>, embedded in this assembly as <c>TransReID.Kernels.&lt;file&gt;</c>:
/// one <c>.cu</c> file per op family, compiled separately, and the <c>.cuh</c> headers they include by name.
/// </summary>
internal static partial class KernelSources
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

    /// <summary>
    /// Whether the kernel file <paramref name="fileName"/> can depend on the preprocessor name <paramref name="name"/>
    /// (a model constant such as <c>DIM</c>): the file names it outside comments, or names a header macro whose
    /// definition depends on it (<c>TR_DIM</c> is defined from <c>DIM</c> in common.cuh), or a header names it in code
    /// that every file compiles. Model constants a file does not use are not passed to its compile (nor to its cache
    /// key), so that another model reuses its image.
    /// </summary>
    public static bool Uses(string fileName, string name) => Identifiers.GetOrAdd(fileName, ScanIdentifiers).Contains(name);

    private static readonly ConcurrentDictionary<string, HashSet<string>> Identifiers = new(StringComparer.Ordinal);

    private static readonly Lazy<(Dictionary<string, HashSet<string>> Macros, HashSet<string> Global)> HeaderNames = new(ScanHeaders);

    private static HashSet<string> ScanIdentifiers(string fileName)
    {
        (Dictionary<string, HashSet<string>> macros, HashSet<string> global) = HeaderNames.Value;
        var found = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>(IdentifiersIn(StripComments(Read(fileName))).Concat(global));
        while (pending.TryPop(out string? id))
        {
            if (found.Add(id) && macros.TryGetValue(id, out HashSet<string>? dependsOn))
            {
                foreach (string d in dependsOn) pending.Push(d);
            }
        }

        return found;
    }

    /// <summary>
    /// Per header macro, the names its definition depends on (its replacement text and the conditions around it);
    /// and the names in header code outside definitions, which every file compiles.
    /// </summary>
    private static (Dictionary<string, HashSet<string>>, HashSet<string>) ScanHeaders()
    {
        var macros = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        var global = new HashSet<string>(StringComparer.Ordinal);
        foreach (KeyValuePair<string, string> header in Headers)
        {
            var conditions = new Stack<List<string>>();
            string text = StripComments(header.Value).Replace("\\\r\n", " ", StringComparison.Ordinal).Replace("\\\n", " ", StringComparison.Ordinal);
            foreach (string raw in text.Split('\n'))
            {
                string line = raw.Trim();
                Match directive = Directive().Match(line);
                string word = directive.Success ? directive.Groups[1].Value : "";
                string rest = directive.Success ? directive.Groups[2].Value : line;
                switch (word)
                {
                    case "if" or "ifdef" or "ifndef":
                        conditions.Push([.. IdentifiersIn(rest)]);
                        break;
                    case "elif":
                        if (conditions.Count > 0) conditions.Peek().AddRange(IdentifiersIn(rest));
                        break;
                    case "endif":
                        if (conditions.Count > 0) conditions.Pop();
                        break;
                    case "define":
                        string[] ids = [.. IdentifiersIn(rest)];
                        if (ids.Length == 0) break;
                        if (!macros.TryGetValue(ids[0], out HashSet<string>? deps)) macros[ids[0]] = deps = new HashSet<string>(StringComparer.Ordinal);
                        deps.UnionWith(ids.Skip(1));
                        foreach (List<string> c in conditions) deps.UnionWith(c);
                        break;
                    case "":
                        global.UnionWith(IdentifiersIn(rest));
                        foreach (List<string> c in conditions) global.UnionWith(c);
                        break;
                    default: // else, include, pragma, undef, error: no names that change what a file compiles to
                        break;
                }
            }
        }

        return (macros, global);
    }

    private static IEnumerable<string> IdentifiersIn(string text) => Identifier().Matches(text).Select(m => m.Value);

    private static string StripComments(string source) => Comment().Replace(source, m => m.Value.StartsWith("//", StringComparison.Ordinal) ? "" : " ");

    [GeneratedRegex(@"[A-Za-z_][A-Za-z0-9_]*")]
    private static partial Regex Identifier();

    [GeneratedRegex(@"//[^\n]*|/\*.*?\*/", RegexOptions.Singleline)]
    private static partial Regex Comment();

    [GeneratedRegex(@"^#\s*([a-z]+)\b(.*)$")]
    private static partial Regex Directive();

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
