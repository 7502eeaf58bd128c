using RaftKv.Client.Topology;

namespace RaftKv.Client.Commands;

/// <summary>What an error reply means for the request that got it (see docs/resp-extensions.md, "Errors a client should know").</summary>
internal enum ServerErrorKind
{
    /// <summary>The command's own result: final, raised to the caller.</summary>
    Final,

    /// <summary><c>-MOVED 0 host:port</c>: this node does not lead; not applied.</summary>
    Moved,

    /// <summary><c>-CLUSTERDOWN</c>, <c>-LOADING</c>, <c>-TRYAGAIN</c>: no leader or not ready yet; not applied.</summary>
    NotReady,

    /// <summary><c>-UNCERTAIN</c>: leadership changed while the write was in flight; it may or may not be applied.</summary>
    Uncertain,

    /// <summary><c>-NOSESSION</c>: the session is unknown or expired; not applied.</summary>
    NoSession,

    /// <summary>The session holds too many unacknowledged replies; not applied, retry once some are acknowledged.</summary>
    SessionFull,

    /// <summary>The command cannot run inside <c>SESSION.EXEC</c> (not a data command); not applied.</summary>
    RefusedInSession,
}

/// <summary>Recognises the error replies the client handles itself.</summary>
internal static class ServerErrors
{
    public static ServerErrorKind Classify(string error)
    {
        if (error.StartsWith("MOVED ", StringComparison.Ordinal))
            return ServerErrorKind.Moved;
        if (error.StartsWith("CLUSTERDOWN", StringComparison.Ordinal) || error.StartsWith("LOADING", StringComparison.Ordinal)
            || error.StartsWith("TRYAGAIN", StringComparison.Ordinal))
            return ServerErrorKind.NotReady;
        if (error.StartsWith("UNCERTAIN", StringComparison.Ordinal))
            return ServerErrorKind.Uncertain;
        if (error.StartsWith("NOSESSION", StringComparison.Ordinal))
            return ServerErrorKind.NoSession;
        if (error.StartsWith("ERR SESSION too many unacknowledged writes", StringComparison.Ordinal))
            return ServerErrorKind.SessionFull;
        if (error.StartsWith("ERR SESSION.EXEC wraps data commands only", StringComparison.Ordinal))
            return ServerErrorKind.RefusedInSession;
        return ServerErrorKind.Final;
    }

    /// <summary>The address in <c>MOVED slot host:port</c>; null when it does not parse.</summary>
    public static string? MovedTo(string error)
    {
        var space = error.LastIndexOf(' ');
        return space > 0 && EndpointAddress.TryParse(error[(space + 1)..], out var address) ? address.ToString() : null;
    }
}
