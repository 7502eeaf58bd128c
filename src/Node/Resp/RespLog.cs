using System.Net;

namespace RaftKv.Node.Resp;

/// <summary>The RESP server's log messages.</summary>
internal static partial class RespLog
{
    [LoggerMessage(Level = LogLevel.Information, Message = "RESP server listening on {EndPoint}")]
    public static partial void Listening(ILogger logger, EndPoint endPoint);

    [LoggerMessage(Level = LogLevel.Information, Message = "RESP server listening for TLS on {EndPoint}")]
    public static partial void ListeningTls(ILogger logger, EndPoint endPoint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Accepting a RESP connection failed")]
    public static partial void AcceptFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Client {ConnectionId} connected from {RemoteEndPoint}")]
    public static partial void Connected(ILogger logger, long connectionId, EndPoint? remoteEndPoint);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Client {ConnectionId} disconnected")]
    public static partial void Disconnected(ILogger logger, long connectionId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Client {ConnectionId} sent a malformed request: {Error}")]
    public static partial void ProtocolError(ILogger logger, long connectionId, string? error);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Closing client {ConnectionId}: its request outgrew the query buffer limit of {Limit} bytes")]
    public static partial void QueryBufferLimitExceeded(ILogger logger, long connectionId, long limit);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Closing client {ConnectionId}: {Bytes} bytes of unsent output reached its {Kind} output buffer limit of {Limit} bytes (client-output-buffer-limit)")]
    public static partial void OutputBufferLimitReached(ILogger logger, long connectionId, long bytes, string kind, long limit);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Closing client {ConnectionId}: idle for more than {Seconds} s (timeout)")]
    public static partial void IdleTimeout(ILogger logger, long connectionId, long seconds);

    [LoggerMessage(Level = LogLevel.Debug,
        Message = "Refused a connection from {RemoteEndPoint}: {Connected} clients connected, maxclients is {MaxClients}")]
    public static partial void MaxClientsReached(ILogger logger, EndPoint? remoteEndPoint, int connected, long maxClients);

    [LoggerMessage(Level = LogLevel.Debug,
        Message = "Refused a TLS connection from {RemoteEndPoint}: {MaxClients} TLS handshakes (maxclients) are under way")]
    public static partial void TooManyHandshakes(ILogger logger, EndPoint? remoteEndPoint, long maxClients);

    [LoggerMessage(Level = LogLevel.Error, Message = "The RESP server's client sweep failed")]
    public static partial void SweepFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Handling {Command} for client {ConnectionId} failed")]
    public static partial void HandlerFailed(ILogger logger, string command, long connectionId, Exception exception);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Client {ConnectionId}: connection lost ({Reason})")]
    public static partial void ConnectionLost(ILogger logger, long connectionId, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Client {ConnectionId}: connection failed unexpectedly")]
    public static partial void ConnectionFailed(ILogger logger, long connectionId, Exception exception);
}
