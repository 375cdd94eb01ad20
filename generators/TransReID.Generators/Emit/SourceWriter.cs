using System;
using System.Text;

namespace TransReID.Generators.Emit;

/// <summary>
/// Writes indented C# lines. The one indentation mechanism: <see cref="Block"/> opens a brace block that the returned
/// scope closes, and <see cref="Nested"/> writes a header with a one-statement body indented under it. Multi-line text
/// (<see cref="Lines"/>) is indented at the current level.
/// </summary>
internal sealed class SourceWriter
{
    private readonly StringBuilder _sb = new();
    private int _indent;

    public void Line(string text = "")
    {
        if (text.Length > 0) _sb.Append(' ', _indent * 4).Append(text);
        _sb.Append('\n');
    }

    public void Lines(string text)
    {
        foreach (var line in text.Replace("\r\n", "\n").Split('\n')) Line(line);
    }

    /// <summary><paramref name="header"/>, then <c>{</c>; the scope writes <c>}</c> (and <paramref name="closing"/>, e.g. <c>;</c>).</summary>
    public IDisposable Block(string header, string closing = "")
    {
        Lines(header);
        Line("{");
        _indent++;
        return new Scope(this, "}" + closing);
    }

    /// <summary>A header (<c>for</c>, <c>if</c>, <c>else</c>) with one statement indented under it.</summary>
    public void Nested(string header, string statement)
    {
        Line(header);
        _indent++;
        Lines(statement);
        _indent--;
    }

    public override string ToString() => _sb.ToString();

    private sealed class Scope : IDisposable
    {
        private readonly SourceWriter _w;
        private readonly string _close;

        public Scope(SourceWriter w, string close)
        {
            _w = w;
            _close = close;
        }

        public void Dispose()
        {
            _w._indent--;
            _w.Line(_close);
        }
    }
}
