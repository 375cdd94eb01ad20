using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;

namespace TransReID.Tools.CudaEmulatorGen;

/// <summary>An <c>extern "C" __global__</c> kernel definition: its name, the C++ types of its parameters in order and
/// the first argument of its <c>__launch_bounds__</c> (an expression, null when it has none).</summary>
internal sealed record Kernel(string Name, IReadOnlyList<string> ParameterTypes, string? MaxThreadsPerBlock, int Line);

/// <summary>The C++ text of one translated <c>.cu</c> file and the kernels it registers.</summary>
internal sealed record TranslationUnit(string Text, IReadOnlyList<Kernel> Kernels);

/// <summary>A source the emulator cannot run as written; the message starts with <c>file:line:</c>.</summary>
internal sealed class TranslationException : Exception
{
    public TranslationException(string message) : base(message)
    {
    }

    public TranslationException()
    {
    }

    public TranslationException(string message, Exception innerException) : base(message, innerException)
    {
    }
}

/// <summary>
/// The .cu → C++ translation. The kernels keep their text (a <c>#line</c> maps g++'s messages back to the .cu file);
/// what g++ cannot take is rewritten in place, on the same lines:
/// <list type="bullet">
/// <item><c>extern __shared__ T x[];</c> becomes <c>T* x = (T*)emu::dynamic_shared();</c> (the launch's dynamic
/// shared memory);</item>
/// <item>a <c>__shared__</c> variable inside a function (a <c>static thread_local</c> through emu.h) is followed by
/// <c>emu::shared_static(&amp;x, sizeof(x));</c>, which fills it with NaN once per block, as the contents of shared
/// memory are undefined when a block starts;</item>
/// <item>every <c>extern "C" __global__ void [__launch_bounds__(N[, M])] name(...) { ... }</c> gets a thunk that
/// unpacks <c>cuLaunchKernel</c>'s <c>void**</c> parameters and a registration by name with N (the launch is rejected
/// above it, as on the GPU).</item>
/// </list>
/// Everything else CUDA-specific (<c>__global__</c>, <c>__device__</c>, <c>__launch_bounds__</c>, shuffles, ...) is a
/// macro or function of emu.h. Anything this class cannot parse is a <see cref="TranslationException"/>, never a
/// silently skipped kernel.
/// </summary>
internal static partial class Translator
{
    private static readonly HashSet<string> TypeKeywords = new(StringComparer.Ordinal)
    {
        "void", "bool", "char", "short", "int", "long", "float", "double", "signed", "unsigned", "const", "volatile",
    };

    public static TranslationUnit Translate(string path, string source)
    {
        string text = source.Replace("\r\n", "\n", StringComparison.Ordinal);
        string code = MaskComments(text);
        var context = new Source(path, text, code);
        List<Kernel> kernels = FindKernels(context);
        string body = RewriteShared(context);
        return new TranslationUnit(Assemble(path, body, kernels), kernels);
    }

    private sealed record Source(string Path, string Text, string Code)
    {
        public int LineOf(int index) => Text.AsSpan(0, Math.Min(index, Text.Length)).Count('\n') + 1;

        public TranslationException Error(int index, string message) =>
            new($"{Path}:{LineOf(index).ToString(CultureInfo.InvariantCulture)}: {message}");
    }

    /// <summary>The text with every comment replaced by spaces (newlines kept), so that offsets and line numbers stay
    /// those of the text; string and character literals are kept as they are.</summary>
    internal static string MaskComments(string text)
    {
        var s = new StringBuilder(text);
        int i = 0;
        while (i < s.Length)
        {
            char c = s[i];
            if (c == '/' && i + 1 < s.Length && s[i + 1] == '/')
            {
                while (i < s.Length && s[i] != '\n') s[i++] = ' ';
            }
            else if (c == '/' && i + 1 < s.Length && s[i + 1] == '*')
            {
                s[i++] = ' ';
                s[i++] = ' ';
                while (i < s.Length && !(s[i] == '*' && i + 1 < s.Length && s[i + 1] == '/'))
                {
                    if (s[i] != '\n') s[i] = ' ';
                    i++;
                }

                for (int k = 0; k < 2 && i < s.Length; k++) s[i++] = ' ';
            }
            else if (c is '"' or '\'')
            {
                i++;
                while (i < s.Length && s[i] != c && s[i] != '\n') i += s[i] == '\\' ? 2 : 1;
                i++;
            }
            else
            {
                i++;
            }
        }

        return s.ToString();
    }

    private static List<Kernel> FindKernels(Source src)
    {
        var kernels = new List<Kernel>();
        var covered = new HashSet<int>(); // positions of the __global__ keywords that belong to a parsed extern "C" function
        foreach (Match m in ExternC().Matches(src.Code))
        {
            Kernel? kernel = ParseSignature(src, m.Index + m.Length, covered);
            if (kernel == null) continue;
            if (kernels.Any(k => k.Name == kernel.Name))
                throw src.Error(m.Index, $"kernel {kernel.Name} is defined twice");
            kernels.Add(kernel);
        }

        foreach (Match g in GlobalKeyword().Matches(src.Code))
        {
            if (covered.Contains(g.Index)) continue;
            Match name = FunctionName().Match(src.Code, g.Index);
            string what = name.Success ? "kernel " + name.Groups[1].Value : "a __global__ function";
            throw src.Error(g.Index, $"{what} is not declared extern \"C\" __global__ void name(...): the emulator registers kernels by their unmangled name");
        }

        return kernels;
    }

    /// <summary>Parses what follows <c>extern "C"</c>: null when it is not a <c>__global__</c> function, the kernel for
    /// a definition, and an exception for a kernel whose signature cannot be unpacked.</summary>
    private static Kernel? ParseSignature(Source src, int start, HashSet<int> covered)
    {
        string code = src.Code;
        int i = start;
        int globalAt = -1;
        bool isVoid = false;
        string? bounds = null, unexpected = null, name = null;
        while (name == null)
        {
            i = SkipSpace(code, i);
            int at = i;
            string? word = ReadIdentifier(code, ref i);
            if (word == null)
            {
                if (globalAt < 0) return null; // extern "C" { ... } or a variable: the __global__ check below covers kernels in it
                throw src.Error(at, $"cannot parse the signature of the __global__ function at '{Excerpt(code, at)}'");
            }

            switch (word)
            {
                case "__global__":
                    globalAt = at;
                    break;
                case "void":
                    isVoid = true;
                    break;
                case "__launch_bounds__":
                {
                    i = SkipSpace(code, i);
                    if (i >= code.Length || code[i] != '(') throw src.Error(at, "__launch_bounds__ without its (maxThreadsPerBlock[, ...])");
                    string args = ReadBalanced(src, ref i);
                    bounds = SplitTopLevel(args).FirstOrDefault()?.Trim();
                    if (string.IsNullOrEmpty(bounds)) throw src.Error(at, "__launch_bounds__() needs the maximum threads per block");
                    break;
                }

                default:
                    if (SkipSpace(code, i) < code.Length && code[SkipSpace(code, i)] == '(') name = word;
                    else unexpected ??= word;
                    break;
            }
        }

        if (globalAt < 0) return null; // an extern "C" __device__ or host function
        covered.Add(globalAt);
        if (!isVoid || unexpected != null)
            throw src.Error(globalAt, $"cannot parse the signature of kernel {name}: expected extern \"C\" __global__ void [__launch_bounds__(N)] {name}(...)" +
                (unexpected != null ? $", found '{unexpected}'" : ", found no 'void'"));

        i = SkipSpace(code, i);
        int open = i;
        string parameters = ReadBalanced(src, ref i);
        i = SkipSpace(code, i);
        if (i < code.Length && code[i] == ';') return null; // a declaration; the definition gets the thunk
        if (i >= code.Length || code[i] != '{')
            throw src.Error(open, $"cannot parse the signature of kernel {name}: expected '{{' or ';' after its parameter list");

        var types = new List<string>();
        string trimmed = parameters.Trim();
        if (trimmed.Length > 0 && trimmed != "void")
        {
            foreach (string p in SplitTopLevel(parameters))
                types.Add(ParameterType(src, open, name, p));
        }

        return new Kernel(name, types, bounds, src.LineOf(globalAt));
    }

    /// <summary>The type of one parameter (<c>const float* __restrict__ x</c> → <c>const float*</c>).</summary>
    private static string ParameterType(Source src, int at, string kernel, string parameter)
    {
        string p = Whitespace().Replace(Restrict().Replace(parameter, " "), " ").Trim();
        Match m = NamedParameter().Match(p);
        if (!m.Success || TypeKeywords.Contains(m.Groups["name"].Value) || !TypeText().IsMatch(m.Groups["type"].Value))
            throw src.Error(at, $"cannot parse parameter '{parameter.Trim()}' of kernel {kernel}: expected 'type name' with a type of " +
                "identifiers and '*' (references, arrays, default values, templates and unnamed parameters are not emulated)");
        return m.Groups["type"].Value.Trim();
    }

    /// <summary>The two <c>__shared__</c> rewrites (see the class summary); every other use of the keyword is an error.</summary>
    private static string RewriteShared(Source src)
    {
        string code = src.Code;
        int[] depth = BraceDepth(code);
        var edits = new List<(int Start, int Length, string Replacement)>();
        foreach (Match k in SharedKeyword().Matches(code))
        {
            Match ext = ExternShared().Match(code, LineStartOrAfterStatement(code, k.Index));
            if (ext.Success && ext.Groups["kw"].Index == k.Index)
            {
                string type = ext.Groups["type"].Value.Trim(), name = ext.Groups["name"].Value;
                string lines = new('\n', ext.Value.Count(c => c == '\n'));
                edits.Add((ext.Index, ext.Length, $"{ext.Groups["lead"].Value}{type}* {name} = ({type}*)emu::dynamic_shared();{lines}"));
                continue;
            }

            if (ExternBefore().IsMatch(code.AsSpan(0, k.Index).ToString().TrimEnd()))
                throw src.Error(k.Index, "unsupported extern __shared__ declaration: expected 'extern __shared__ T name[];'");
            Match st = StaticShared().Match(code, k.Index);
            if (!st.Success || st.Index != k.Index)
                throw src.Error(k.Index, $"unsupported __shared__ declaration '{Excerpt(code, k.Index)}': one variable per declaration, no initializer");
            if (depth[k.Index] > 0)
            {
                string name = st.Groups["name"].Value;
                edits.Add((st.Index + st.Length, 0, $" emu::shared_static(&{name}, sizeof({name}));"));
            }
        }

        var s = new StringBuilder(src.Text);
        foreach (var (start, length, replacement) in edits.OrderByDescending(e => e.Start))
        {
            s.Remove(start, length);
            s.Insert(start, replacement);
        }

        return s.ToString();
    }

    private static string Assemble(string path, string body, List<Kernel> kernels)
    {
        string file = System.IO.Path.GetFileName(path);
        string stem = System.IO.Path.GetFileNameWithoutExtension(path);
        var s = new StringBuilder();
        s.Append("// Generated by tools/CudaEmulatorGen from ").Append(file).Append(" for the CPU emulator (tests only); do not edit.\n");
        s.Append("#include \"emu.h\"\n");
        s.Append("#line 1 \"").Append(path.Replace('\\', '/').Replace("\"", "\\\"", StringComparison.Ordinal)).Append("\"\n");
        s.Append(body);
        if (!body.EndsWith('\n')) s.Append('\n');
        int line = s.ToString().Count(c => c == '\n') + 2;
        s.Append("#line ").Append(line.ToString(CultureInfo.InvariantCulture)).Append(" \"").Append(stem).Append(".cpp\"\n");
        s.Append("// ---- emulator glue (generated) ----\n");
        foreach (Kernel k in kernels)
        {
            string args = string.Join(", ", k.ParameterTypes.Select((t, i) => $"*({t}*)p[{i.ToString(CultureInfo.InvariantCulture)}]"));
            s.Append("static void emu_thunk_").Append(k.Name).Append("(void** p) { ").Append(k.Name).Append('(').Append(args).Append("); }\n");
        }

        s.Append("[[maybe_unused]] static const int emu_registered = [] {\n");
        foreach (Kernel k in kernels)
        {
            s.Append("    emu_register(\"").Append(k.Name).Append("\", emu_thunk_").Append(k.Name).Append(", ")
                .Append(k.MaxThreadsPerBlock == null ? "0" : "(int)(" + k.MaxThreadsPerBlock + ")")
                .Append(", \"").Append(file).Append("\");\n");
        }

        s.Append("    return 0;\n}();\n");
        return s.ToString();
    }

    private static int SkipSpace(string code, int i)
    {
        while (i < code.Length && char.IsWhiteSpace(code[i])) i++;
        return i;
    }

    private static string? ReadIdentifier(string code, ref int i)
    {
        if (i >= code.Length || !(char.IsAsciiLetter(code[i]) || code[i] == '_')) return null;
        int start = i;
        while (i < code.Length && (char.IsAsciiLetterOrDigit(code[i]) || code[i] == '_')) i++;
        return code[start..i];
    }

    /// <summary>Reads "( ... )" at <paramref name="i"/> (nested parentheses allowed) and returns what is inside.</summary>
    private static string ReadBalanced(Source src, ref int i)
    {
        string code = src.Code;
        if (i >= code.Length || code[i] != '(') throw src.Error(i, $"expected '(' at '{Excerpt(code, i)}'");
        int start = i, level = 0;
        for (; i < code.Length; i++)
        {
            if (code[i] == '(') level++;
            else if (code[i] == ')' && --level == 0) break;
        }

        if (i >= code.Length) throw src.Error(start, "unbalanced parentheses");
        i++;
        return code[(start + 1)..(i - 1)];
    }

    private static IEnumerable<string> SplitTopLevel(string list)
    {
        int level = 0, start = 0;
        for (int i = 0; i < list.Length; i++)
        {
            char c = list[i];
            if (c is '(' or '[' or '<' or '{') level++;
            else if (c is ')' or ']' or '>' or '}') level--;
            else if (c == ',' && level == 0)
            {
                yield return list[start..i];
                start = i + 1;
            }
        }

        yield return list[start..];
    }

    /// <summary>The number of '{' not yet closed before each position (preprocessor lines included; good enough for
    /// telling function bodies from namespace scope in these sources).</summary>
    private static int[] BraceDepth(string code)
    {
        var depth = new int[code.Length + 1];
        int d = 0;
        for (int i = 0; i < code.Length; i++)
        {
            depth[i] = d;
            if (code[i] == '{') d++;
            else if (code[i] == '}') d = Math.Max(0, d - 1);
        }

        depth[code.Length] = d;
        return depth;
    }

    private static int LineStartOrAfterStatement(string code, int i)
    {
        while (i > 0 && code[i - 1] is not ('\n' or ';' or '{' or '}')) i--;
        return i;
    }

    private static string Excerpt(string code, int at)
    {
        string rest = code[at..Math.Min(code.Length, at + 60)];
        int nl = rest.IndexOf('\n', StringComparison.Ordinal);
        return (nl >= 0 ? rest[..nl] : rest).Trim();
    }

    [GeneratedRegex(@"\bextern\s*""C""")]
    private static partial Regex ExternC();

    [GeneratedRegex(@"\b__global__\b")]
    private static partial Regex GlobalKeyword();

    [GeneratedRegex(@"\G__global__[\s\w]*?(?:__launch_bounds__\s*\([^;{]*?\)\s*)?(\w+)\s*\(")]
    private static partial Regex FunctionName();

    [GeneratedRegex(@"\b__shared__\b")]
    private static partial Regex SharedKeyword();

    [GeneratedRegex(@"\bextern$")]
    private static partial Regex ExternBefore();

    [GeneratedRegex(@"\G(?<lead>\s*)extern\s+(?<kw>__shared__)\s+(?:__align__\s*\(\s*\d+\s*\)\s*)?(?<type>[A-Za-z_][\w\s\*]*?[\w\*])(?:\s+|(?<=\*))(?<name>[A-Za-z_]\w*)\s*\[\s*\]\s*;")]
    private static partial Regex ExternShared();

    [GeneratedRegex(@"\G__shared__\s+(?:__align__\s*\(\s*\d+\s*\)\s*)?(?<type>[A-Za-z_][\w\s\*]*?[\w\*])(?:\s+|(?<=\*))(?<name>[A-Za-z_]\w*)\s*(?:\[[^\[\];,=]*\]\s*)*;")]
    private static partial Regex StaticShared();

    [GeneratedRegex(@"\b__restrict(?:__)?\b")]
    private static partial Regex Restrict();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    [GeneratedRegex(@"^(?<type>.*[\w\*])(?:\s+|(?<=\*))(?<name>[A-Za-z_]\w*)$")]
    private static partial Regex NamedParameter();

    [GeneratedRegex(@"^[\w\s\*:]+$")]
    private static partial Regex TypeText();
}
