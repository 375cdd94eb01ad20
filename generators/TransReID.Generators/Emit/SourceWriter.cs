using System;
using System.Text;

namespace TransReID.Generators.Emit;

/// <summary>Writes indented C# lines; <see cref="Block"/> opens a brace block that the returned scope closes.</summary>
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

    public IDisposable Block(string header)
    {
        Line(header);
        Line("{");
        _indent++;
        return new Scope(this);
    }

    public void Push() => _indent++;

    public void Pop() => _indent--;

    public override string ToString() => _sb.ToString();

    private sealed class Scope : IDisposable
    {
        private readonly SourceWriter _w;

        public Scope(SourceWriter w) => _w = w;

        public void Dispose()
        {
            _w._indent--;
            _w.Line("}");
        }
    }
}
