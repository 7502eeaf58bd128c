using System.Net;
using RaftKv.Node.Commands;
using RaftKv.Node.Routing;

namespace RaftKv.Node.Resp;

/// <summary>A client connection as a request handler sees it: who it is and the state commands keep on it.</summary>
public sealed class RespConnection
{
    private volatile bool _closeRequested;
    private volatile bool _closing;
    private long _lastInteractionTicks;
    private long _outputBytes;
    private long _inputBytes;
    private int _pendingReplies;

    internal RespConnection(long id, EndPoint? remoteEndPoint, EndPoint? localEndPoint, DateTimeOffset connectedAt, CancellationToken aborted, CancellationToken inputEnded = default)
    {
        InputEnded = inputEnded.CanBeCanceled ? inputEnded : aborted;
        Id = id;
        RemoteEndPoint = remoteEndPoint;
        LocalEndPoint = localEndPoint;
        ConnectedAt = connectedAt;
        LastInteraction = connectedAt;
        Aborted = aborted;
    }

    /// <summary>The connection's id, unique and increasing for the life of the server (Redis's <c>CLIENT ID</c>).</summary>
    public long Id { get; }

    /// <summary>The client's address.</summary>
    public EndPoint? RemoteEndPoint { get; }

    /// <summary>The server's address the client connected to (<c>laddr</c> in <c>CLIENT LIST</c>).</summary>
    public EndPoint? LocalEndPoint { get; }

    /// <summary>When the connection was accepted.</summary>
    public DateTimeOffset ConnectedAt { get; }

    /// <summary>Canceled when the connection closes or the server stops: pass it to anything a reply waits for.</summary>
    public CancellationToken Aborted { get; }

    /// <summary>
    /// Canceled once the client will send nothing more — it closed its side, the socket broke — or the connection
    /// closes. Replies to what it sent before are still written (a pipeline ended by a half-close gets its replies), but
    /// a command that blocks for its client (<c>LOCK.ACQUIRE ... WAIT</c>) gives up: its client is gone, as Redis frees a
    /// blocked client whose socket reads end of file.
    /// </summary>
    public CancellationToken InputEnded { get; }

    /// <summary>The name the client gave itself (<c>CLIENT SETNAME</c>), or null.</summary>
    public string? Name { get; set; }

    /// <summary>
    /// The ACL user the connection runs as (<c>AUTH</c>, <c>HELLO ... AUTH</c>; <c>default</c> until then), and whether it
    /// has authenticated as that user. A new connection is authenticated as <c>default</c> only while that user is on
    /// and has no password (Redis's rule); kept by <see cref="Security.AccessControl"/>.
    /// </summary>
    public string UserName { get; internal set; } = "default";

    /// <summary>Whether the connection may run commands as <see cref="UserName"/>; null until its first request decides it.</summary>
    public bool? Authenticated { get; internal set; }

    /// <summary>The resolved user and the ACL version it was resolved at (a cache of <see cref="Security.AccessControl"/>).</summary>
    internal (RaftKv.StateMachine.Acl.AclUser? User, long Version) AclCache { get; set; } = (null, -1);

    /// <summary>The user table <see cref="AclCache"/> was resolved in (the configured one or the replicated one).</summary>
    internal object? AclTableCache { get; set; }

    /// <summary>The selected database (<c>SELECT</c>); 0 by default.</summary>
    public int Database { get; set; }

    /// <summary>
    /// The RESP version replies are written in: 2 (the default) or 3, chosen with <c>HELLO</c>. A reply is written in
    /// the version in force when its request was handled, so <c>HELLO 3</c>'s own reply is already RESP3.
    /// </summary>
    public int Protocol { get; set; } = 2;

    /// <summary>The last command's name as the client sent it in upper case (<c>cmd=</c> in <c>CLIENT LIST</c>); null before the first.</summary>
    public string? LastCommand { get; set; }

    /// <summary>
    /// When the client last sent bytes or its socket last took a burst of replies (<c>idle=</c> in <c>CLIENT LIST</c>;
    /// what Redis's <c>timeout</c> measures), in UTC. Read and written whole from any thread.
    /// </summary>
    public DateTimeOffset LastInteraction
    {
        get => new(Volatile.Read(ref _lastInteractionTicks), TimeSpan.Zero);
        set => Volatile.Write(ref _lastInteractionTicks, value.UtcTicks);
    }

    /// <summary>
    /// Bytes of replies computed but not yet taken by the socket: queued, in the send buffer, or being sent (<c>omem=</c>
    /// in <c>CLIENT LIST</c>; what <c>client-output-buffer-limit</c> counts).
    /// </summary>
    public long OutputBufferBytes => Interlocked.Read(ref _outputBytes);

    /// <summary>Bytes of a request still arriving that the connection holds (<c>qbuf=</c> in <c>CLIENT LIST</c>).</summary>
    public long InputBufferBytes => Volatile.Read(ref _inputBytes);

    /// <summary>Requests whose replies are not yet written out: being computed or queued (<c>oll=</c> in <c>CLIENT LIST</c>).</summary>
    public int PendingReplies => Volatile.Read(ref _pendingReplies);

    /// <summary>What this connection's reads and writes wait for to take effect in the order sent (kept by the router).</summary>
    public ConnectionOrder Order { get; } = new();

    /// <summary>
    /// The connection's <c>MULTI</c> queue and <c>WATCH</c>ed keys; null while it has neither. Kept by the command
    /// dispatcher; <c>RESET</c> clears it.
    /// </summary>
    public ConnectionTransaction? Transaction { get; set; }

    /// <summary>
    /// True once the connection is closing (a limit was reached, the client left, the server is stopping): nobody
    /// will read a reply computed from now on, so a handler may skip work it has not started. Set at once, before
    /// <see cref="Aborted"/> is canceled.
    /// </summary>
    public bool IsClosing => _closing || Aborted.IsCancellationRequested;

    /// <summary>True once <see cref="CloseAfterReply"/> has been called.</summary>
    public bool IsCloseRequested => _closeRequested;

    /// <summary>
    /// Closes the connection once the reply to the request being handled is sent and flushed (<c>QUIT</c>).
    /// Call it before <see cref="IRespRequestHandler.HandleAsync"/> returns; requests the client pipelined after
    /// this one are not executed.
    /// </summary>
    public void CloseAfterReply() => _closeRequested = true;

    internal void MarkClosing() => _closing = true;

    internal long AddOutputBytes(long delta) => Interlocked.Add(ref _outputBytes, delta);

    internal void SetInputBytes(long bytes) => Volatile.Write(ref _inputBytes, bytes);

    internal void AddPendingReplies(int delta) => Interlocked.Add(ref _pendingReplies, delta);
}
