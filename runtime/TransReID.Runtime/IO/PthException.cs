using System;

namespace TransReID.Runtime.IO;

/// <summary>
/// A PyTorch checkpoint (<c>.pth</c>/<c>.pt</c>, zip or legacy container) is malformed, uses a Python global outside the
/// allow-list, or a tensor in it cannot be read as asked. The message always names the file and, where there is one,
/// the state-dict key (or storage) the problem is about. Nothing of the file has been loaded when this is thrown.
/// </summary>
public sealed class PthException : Exception
{
    /// <summary>Creates an exception for <paramref name="filePath"/> (and <paramref name="key"/>, if not null).</summary>
    public PthException(string filePath, string? key, string detail, Exception? innerException = null)
        : base(Compose(filePath, key, detail), innerException)
    {
        FilePath = filePath;
        Key = key;
    }

    /// <summary>The file the problem is in.</summary>
    public string FilePath { get; }

    /// <summary>The state-dict key (or storage) the problem is about, or null when it concerns the whole file.</summary>
    public string? Key { get; }

    private static string Compose(string filePath, string? key, string detail) =>
        key is null ? $"PyTorch checkpoint '{filePath}': {detail}" : $"PyTorch checkpoint '{filePath}', key '{key}': {detail}";
}
