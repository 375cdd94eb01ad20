using System;

namespace TransReID.Runtime.Model;

/// <summary>
/// A training step computed a NaN or infinite loss; the step was not applied and the weights are unchanged. A distinct
/// type so that callers can tell a diverging run (a user's learning rate or inputs) from an arithmetic bug such as an
/// <see cref="OverflowException"/>, which also derives from <see cref="ArithmeticException"/>.
/// </summary>
public sealed class NonFiniteLossException : ArithmeticException
{
    /// <summary>Creates the exception.</summary>
    public NonFiniteLossException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public NonFiniteLossException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public NonFiniteLossException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
