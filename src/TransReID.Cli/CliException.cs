using System;

namespace TransReID.Cli;

/// <summary>An error the user can fix: printed as one message, exit code 2, no stack trace.</summary>
internal sealed class CliException : Exception
{
    public CliException(string message)
        : base(message)
    {
    }

    public CliException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public CliException()
    {
    }
}
