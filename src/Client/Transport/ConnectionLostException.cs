namespace RaftKv.Client.Transport;

/// <summary>The connection a request was queued or sent on closed before its reply arrived.</summary>
internal sealed class ConnectionLostException(string endpoint, string reason, Exception? innerException = null)
    : IOException($"The connection to {endpoint} was lost: {reason}", innerException);
