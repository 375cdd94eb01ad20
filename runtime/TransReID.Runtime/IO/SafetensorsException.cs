using System;

namespace TransReID.Runtime.IO;

/// <summary>
/// A safetensors file is malformed, or a tensor in it cannot be read as asked. The message always names the file
/// and, where there is one, the tensor or metadata key.
/// </summary>
public sealed class SafetensorsException : Exception
{
    /// <summary>Creates an exception for <paramref name="filePath"/> (and <paramref name="key"/>, if not null).</summary>
    public SafetensorsException(string filePath, string? key, string detail, Exception? innerException = null)
        : base(Compose(filePath, key, detail), innerException)
    {
        FilePath = filePath;
        Key = key;
    }

    /// <summary>The file the problem is in.</summary>
    public string FilePath { get; }

    /// <summary>The tensor or metadata key the problem is about, or null when it concerns the whole file.</summary>
    public string? Key { get; }

    private static string Compose(string filePath, string? key, string detail) =>
        key is null ? $"Safetensors file '{filePath}': {detail}" : $"Safetensors file '{filePath}', key '{key}': {detail}";
}
