namespace RaftKv.Client;

/// <summary>
/// A write may or may not have been applied, and the client can no longer find out which: its reply was lost and the
/// session that would have answered a retry from its record has expired (or the operation's deadline passed while
/// the write was in flight). The write is never applied twice; the caller decides whether to check state and retry.
/// </summary>
/// <remarks>
/// A lost reply alone never raises this: the client retries the write with the same sequence number in its session
/// and the server answers from its record. Only when that record is gone, or time ran out, is the outcome unknown.
/// </remarks>
public sealed class RaftKvUnknownOutcomeException : RaftKvException
{
    /// <summary>Creates the exception for <paramref name="command"/>.</summary>
    public RaftKvUnknownOutcomeException(string command, string reason, Exception? innerException = null)
        : base($"The outcome of {command} is unknown: {reason}. It was applied at most once.", innerException)
    {
        Command = command;
    }

    /// <summary>The name of the command whose outcome is unknown.</summary>
    public string Command { get; }
}
