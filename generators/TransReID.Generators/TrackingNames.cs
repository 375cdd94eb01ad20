namespace TransReID.Generators;

/// <summary>Names of the pipeline steps, so incremental tests can find them in the driver's run results.</summary>
internal static class TrackingNames
{
    public const string Parsed = nameof(Parsed);
    public const string Specs = nameof(Specs);
    public const string Diagnostics = nameof(Diagnostics);
}
