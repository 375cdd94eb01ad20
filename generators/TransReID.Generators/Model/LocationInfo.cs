using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace TransReID.Generators.Model;

/// <summary>A source location as plain data (no syntax tree kept alive), rebuilt into a <see cref="Location"/> when reported.</summary>
internal sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
{
    public Location ToLocation() => Location.Create(FilePath, Span, LineSpan);

    public static LocationInfo? From(Location? location) =>
        location is null || location.SourceTree is null ? null : new LocationInfo(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);
}

/// <summary>A diagnostic as plain data: descriptor id, location and message arguments.</summary>
internal sealed record DiagnosticInfo(DiagnosticDescriptor Descriptor, LocationInfo? Location, EquatableArray<string> Arguments)
{
    public Diagnostic ToDiagnostic() => Diagnostic.Create(Descriptor, Location?.ToLocation(), Arguments.ToArray<object>());
}

internal static class EnumerableExtensions
{
    public static TOut[] ToArray<TOut>(this EquatableArray<string> items)
    {
        var result = new TOut[items.Count];
        for (int i = 0; i < items.Count; i++) result[i] = (TOut)(object)items[i];
        return result;
    }
}
