using System.Net;

namespace RaftKv.Node.Resp;

/// <summary>A client connection as a request handler sees it: who it is and the state commands keep on it.</summary>
public sealed class RespConnection
{
    private volatile bool _closeRequested;

    internal RespConnection(long id, EndPoint? remoteEndPoint, DateTimeOffset connectedAt, CancellationToken aborted)
    {
        Id = id;
        RemoteEndPoint = remoteEndPoint;
        ConnectedAt = connectedAt;
        Aborted = aborted;
    }

    /// <summary>The connection's id, unique and increasing for the life of the server (Redis's <c>CLIENT ID</c>).</summary>
    public long Id { get; }

    /// <summary>The client's address.</summary>
    public EndPoint? RemoteEndPoint { get; }

    /// <summary>When the connection was accepted.</summary>
    public DateTimeOffset ConnectedAt { get; }

    /// <summary>Canceled when the connection closes or the server stops: pass it to anything a reply waits for.</summary>
    public CancellationToken Aborted { get; }

    /// <summary>The name the client gave itself (<c>CLIENT SETNAME</c>), or null.</summary>
    public string? Name { get; set; }

    /// <summary>The selected database (<c>SELECT</c>); 0 by default.</summary>
    public int Database { get; set; }

    /// <summary>
    /// The last write this connection sent, so a later read on the same connection can wait for it and see it
    /// (read-your-writes within a pipeline). Kept by the command dispatcher; the RESP layer does not look at it.
    /// </summary>
    public Task? LastWrite { get; set; }

    /// <summary>True once <see cref="CloseAfterReply"/> has been called.</summary>
    public bool IsCloseRequested => _closeRequested;

    /// <summary>
    /// Closes the connection once the reply to the request being handled is sent and flushed (<c>QUIT</c>).
    /// Call it before <see cref="IRespRequestHandler.HandleAsync"/> returns; requests the client pipelined after
    /// this one are not executed.
    /// </summary>
    public void CloseAfterReply() => _closeRequested = true;
}
