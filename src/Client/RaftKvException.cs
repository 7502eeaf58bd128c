namespace RaftKv.Client;

/// <summary>The base of the errors RaftKv.Client raises about the cluster (timeouts excepted: see <see cref="RaftKvTimeoutException"/>).</summary>
public class RaftKvException : Exception
{
    /// <summary>Creates the exception with a message.</summary>
    public RaftKvException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the error that caused it.</summary>
    public RaftKvException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
