using Microsoft.Extensions.Logging;

namespace RaftKv.Client;

/// <summary>The client's log events (source-generated).</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Connected to the leader {Leader} (term {Term}) through {Endpoint}")]
    public static partial void ConnectedToLeader(ILogger logger, string endpoint, string? leader, long term);

    [LoggerMessage(2, LogLevel.Information, "Leader changed from {Previous} to {Leader} (term {Term})")]
    public static partial void LeaderChanged(ILogger logger, string? previous, string leader, long term);

    [LoggerMessage(3, LogLevel.Warning, "No leader is reachable directly; sending through {Endpoint}, which forwards to the leader {Leader}")]
    public static partial void UsingForwarder(ILogger logger, string endpoint, string? leader);

    [LoggerMessage(4, LogLevel.Debug, "Probing {Endpoint} failed: {Reason}")]
    public static partial void ProbeFailed(ILogger logger, string endpoint, string reason);

    [LoggerMessage(5, LogLevel.Information, "Connection to {Endpoint} closed: {Reason}")]
    public static partial void ChannelClosed(ILogger logger, string endpoint, string reason);

    [LoggerMessage(6, LogLevel.Debug, "Retrying {Command} in {DelayMs} ms: {Reason}")]
    public static partial void Retrying(ILogger logger, string command, long delayMs, string reason);

    [LoggerMessage(7, LogLevel.Debug, "Opened session {SessionId}")]
    public static partial void SessionOpened(ILogger logger, long sessionId);

    [LoggerMessage(8, LogLevel.Warning, "Session {SessionId} is gone ({Reason}); the next write opens a new one")]
    public static partial void SessionLost(ILogger logger, long sessionId, string reason);

    [LoggerMessage(9, LogLevel.Warning, "Keep-alive of session {SessionId} failed: {Reason}")]
    public static partial void KeepAliveFailed(ILogger logger, long sessionId, string reason);

    [LoggerMessage(10, LogLevel.Information, "{Endpoint} no longer leads (leader: {Leader}); moving")]
    public static partial void LeaderMoved(ILogger logger, string endpoint, string leader);

    [LoggerMessage(11, LogLevel.Debug, "Topology refresh through {Endpoint} failed: {Reason}")]
    public static partial void TopologyRefreshFailed(ILogger logger, string endpoint, string reason);

    [LoggerMessage(12, LogLevel.Error, "A LeaderChanged handler threw")]
    public static partial void LeaderChangedHandlerFailed(ILogger logger, Exception exception);

    [LoggerMessage(13, LogLevel.Debug, "{Command} is refused inside a session; sending it without one from now on")]
    public static partial void RefusedInSession(ILogger logger, string command);

    [LoggerMessage(14, LogLevel.Warning, "{Endpoint} requires no password (AUTH: no password configured); using the connection without")]
    public static partial void AuthNotRequired(ILogger logger, string endpoint);

    [LoggerMessage(20, LogLevel.Warning, "Lock {Name} (fencing token {FencingToken}) is lost: {Reason}")]
    public static partial void LockLost(ILogger logger, string name, long fencingToken, string reason);

    [LoggerMessage(21, LogLevel.Debug, "Extending lock {Name} failed, retrying while the lease lasts: {Reason}")]
    public static partial void LockExtensionFailed(ILogger logger, string name, string reason);

    [LoggerMessage(22, LogLevel.Warning, "Releasing lock {Name} failed; it expires by its TTL: {Reason}")]
    public static partial void LockReleaseFailed(ILogger logger, string name, string reason);
}
