using System;

namespace TransReID.Runtime.IO;

/// <summary>
/// A PyTorch checkpoint (<c>.pth</c>/<c>.pt</c>, zip or legacy container) is malformed, uses a Python global outside the
/// allow-list, or a tensor in it cannot be read as asked. The message always names the file and, where there is one,
/// the state-dict key (or storage) the problem is about. Nothing of the file has been loaded when this is thrown.
/// </summary>
public sealed class PthException : WeightsFileException
{
    /// <summary>Creates an exception for <paramref name="filePath"/> (and <paramref name="key"/>, if not null).</summary>
    public PthException(string filePath, string? key, string detail, Exception? innerException = null)
        : base("PyTorch checkpoint", filePath, key, detail, innerException)
    {
    }
}
