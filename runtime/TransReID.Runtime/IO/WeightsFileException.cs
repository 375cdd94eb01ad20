using System;

namespace TransReID.Runtime.IO;

/// <summary>
/// A weights file (PyTorch checkpoint or safetensors) is malformed, or a tensor in it cannot be read as asked. The
/// message always names the kind of file, the file and, where there is one, the key the problem is about. Catch this
/// for either format; <see cref="PthException"/> and <see cref="SafetensorsException"/> say which.
/// </summary>
public abstract class WeightsFileException : Exception
{
    /// <summary>Creates an exception for <paramref name="filePath"/> (and <paramref name="key"/>, if not null).</summary>
    /// <param name="kind">How the message names the file, e.g. "Safetensors file".</param>
    /// <param name="filePath">The file the problem is in.</param>
    /// <param name="key">The key the problem is about, or null.</param>
    /// <param name="detail">What is wrong.</param>
    /// <param name="innerException">The cause, if any.</param>
    protected WeightsFileException(string kind, string filePath, string? key, string detail, Exception? innerException)
        : base(key is null ? $"{kind} '{filePath}': {detail}" : $"{kind} '{filePath}', key '{key}': {detail}", innerException)
    {
        FilePath = filePath;
        Key = key;
    }

    /// <summary>The file the problem is in.</summary>
    public string FilePath { get; }

    /// <summary>The key (tensor, metadata or storage) the problem is about, or null when it concerns the whole file.</summary>
    public string? Key { get; }
}
