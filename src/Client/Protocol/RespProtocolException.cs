namespace RaftKv.Client.Protocol;

/// <summary>The server sent bytes that are not a RESP2 reply; the connection they came on is closed.</summary>
internal sealed class RespProtocolException(string message) : IOException(message);
