using System;

namespace TransReID.Runtime.IO;

/// <summary>
/// A safetensors file is malformed, or a tensor in it cannot be read as asked. The message always names the file
/// and, where there is one, the tensor or metadata key.
/// </summary>
public sealed class SafetensorsException : WeightsFileException
{
    /// <summary>Creates an exception for <paramref name="filePath"/> (and <paramref name="key"/>, if not null).</summary>
    public SafetensorsException(string filePath, string? key, string detail, Exception? innerException = null)
        : base("Safetensors file", filePath, key, detail, innerException)
    {
    }
}
