using System;
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Linq;

namespace TransReID.Cli;

/// <summary>
/// Command-line parse errors under the <see cref="ErrorPolicy"/>: one <c>error:</c> line each, exit 2. A value that
/// does not convert to the option's type is said in words (<c>--camera: 'abc' is not an integer</c>), never with
/// System.CommandLine's .NET type name (<c>System.Nullable`1[System.Int32]</c>).
/// </summary>
internal static class ParseErrors
{
    public static int Report(ParseResult parse)
    {
        Console.Out.Flush();
        foreach (var message in parse.Errors.Select(Describe).Distinct(StringComparer.Ordinal))
            Console.Error.WriteLine("error: " + message);
        string command = parse.CommandResult.Command is RootCommand ? "transreid" : "transreid " + parse.CommandResult.Command.Name;
        Console.Error.WriteLine($"(see '{command} --help')");
        return ErrorPolicy.UserErrorExitCode;
    }

    internal static string Describe(ParseError error)
    {
        var optionResult = error.SymbolResult as OptionResult ?? error.SymbolResult?.Parent as OptionResult;
        if (optionResult is not null)
        {
            var option = optionResult.Option;
            string? kind = Kind(option.ValueType);
            var bad = kind is null ? null : optionResult.Tokens.FirstOrDefault(t => !Converts(t.Value, option.ValueType));
            if (bad is not null) return $"{option.Name}: '{bad.Value}' is not {kind}";
        }

        return error.Message;
    }

    private static Type Underlying(Type t) => Nullable.GetUnderlyingType(t) ?? t;

    private static string? Kind(Type type) => Underlying(type) switch
    {
        var t when t == typeof(int) => "an integer",
        var t when t == typeof(long) => "an integer",
        var t when t == typeof(double) => "a number",
        var t when t == typeof(float) => "a number",
        var t when t == typeof(bool) => "true or false",
        _ => null,
    };

    private static bool Converts(string text, Type type)
    {
        var t = Underlying(type);
        if (t == typeof(int)) return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out _);
        if (t == typeof(long)) return long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out _);
        if (t == typeof(double) || t == typeof(float)) return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out _);
        if (t == typeof(bool)) return bool.TryParse(text, out _);
        return true;
    }
}
