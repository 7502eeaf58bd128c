namespace RaftKv.Client;

/// <summary>
/// An operation did not complete within <see cref="RaftKvClientOptions.OperationTimeout"/> (no leader could be reached,
/// or the cluster kept answering "try again"). Nothing was applied: a write that may have been applied raises
/// <see cref="RaftKvUnknownOutcomeException"/> instead.
/// </summary>
public sealed class RaftKvTimeoutException : TimeoutException
{
    /// <summary>Creates the exception.</summary>
    public RaftKvTimeoutException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}
