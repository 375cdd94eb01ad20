using System;

namespace TransReID.Runtime.Model;

/// <summary>Ends the declaration made by <see cref="ModelCore.ConstantParameters"/> when disposed.</summary>
public readonly struct ConstantParametersScope : IDisposable
{
    private readonly IBackend? _backend;

    internal ConstantParametersScope(IBackend backend) => _backend = backend;

    /// <summary>Ends the declaration (the backend may keep what it derived, for the next declaration of the same version).</summary>
    public void Dispose() => _backend?.DeclareConstantWeights(DevicePtr.Null, 0, 0);
}
