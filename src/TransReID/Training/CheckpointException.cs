using System;

namespace TransReID.Training;

/// <summary>
/// A run's checkpoint or training log cannot be used as asked: no checkpoint to resume from, a damaged record or state
/// file, settings or a dataset that differ from the checkpoint's. A user error (the message names the file and what is
/// wrong), never a bug.
/// </summary>
public sealed class CheckpointException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CheckpointException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public CheckpointException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public CheckpointException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
