namespace RaftKv.Node;

/// <summary>
/// Event ids of the log events an operator alerts on or a collector keys on (JSON logs write them as <c>EventId</c>).
/// They are part of the node's interface: append, never renumber. A range per family; events without an id here
/// (id 0) are diagnostics whose shape may change.
/// </summary>
public static class NodeLogEvents
{
    /// <summary>A leader is known: fields <c>Leader</c> (its Raft address), <c>Where</c>, <c>Term</c>.</summary>
    public const int LeaderChanged = 1000;

    /// <summary>No leader is known: field <c>Term</c>.</summary>
    public const int LeaderLost = 1001;

    /// <summary>This node wrote a snapshot: <c>Index</c>, <c>Keys</c>, <c>Bytes</c>, <c>Milliseconds</c>.</summary>
    public const int SnapshotWritten = 2000;

    /// <summary>This node installed the leader's snapshot: <c>Index</c>, <c>Term</c>, <c>Keys</c>, <c>Bytes</c>.</summary>
    public const int SnapshotInstalled = 2001;

    /// <summary>This node restored its state from its snapshot at start: <c>File</c>, <c>Keys</c>, <c>Bytes</c>.</summary>
    public const int SnapshotRestored = 2002;

    /// <summary>Writing a snapshot failed (the log keeps its entries): <c>Index</c> and the exception.</summary>
    public const int SnapshotFailed = 2003;

    /// <summary>A snapshot sent by the leader failed its checks and was refused: <c>Index</c>, <c>Problem</c>.</summary>
    public const int SnapshotRefused = 2004;

    /// <summary>This node refused a connection to its peer port: <c>Remote</c>, <c>Verdict</c>.</summary>
    public const int PeerRefused = 3000;

    /// <summary>A member's peer port refused this node: <c>Address</c>, <c>Problem</c>.</summary>
    public const int RefusedByPeer = 3001;

    /// <summary>A member refused this node's start-up handshake: <c>Peer</c>, <c>Verdict</c>.</summary>
    public const int RefusedByPeerAtStart = 3002;

    /// <summary>This node refused a connection to its Raft port (mutual TLS): <c>Remote</c>, <c>Problem</c>.</summary>
    public const int RaftConnectionRefused = 3003;

    /// <summary>A member's Raft port refused this node (mutual TLS): <c>Member</c>, <c>Problem</c>.</summary>
    public const int RaftRefusedByMember = 3004;

    /// <summary>Apply threw: the applier stopped for good, <c>Index</c> and the exception.</summary>
    public const int ApplierStopped = 4000;

    /// <summary>A log entry failed its checksum: the applier stopped, <c>Problem</c> names the entry.</summary>
    public const int ApplierStoppedOnDamagedEntry = 4001;

    /// <summary>After its applier stopped this node stepped down into standby: <c>Index</c>.</summary>
    public const int ApplierStandby = 4002;

    /// <summary>The leader starts adding a member: <c>Raft</c>, <c>Resp</c>, <c>Peer</c>.</summary>
    public const int MemberAdding = 5000;

    /// <summary>The added member votes: <c>Raft</c>, <c>Term</c>.</summary>
    public const int MemberAdded = 5001;

    /// <summary>The leader starts removing a member: <c>Raft</c>.</summary>
    public const int MemberRemoving = 5002;

    /// <summary>The member was removed: <c>Raft</c>, <c>Term</c>.</summary>
    public const int MemberRemoved = 5003;

    /// <summary>The leader was asked to remove itself and hands over: <c>Raft</c>, <c>Term</c>.</summary>
    public const int LeaderHandingOver = 5004;

    /// <summary>A membership change did not finish in time: <c>Change</c>, <c>Timeout</c>.</summary>
    public const int MemberChangeTimedOut = 5005;

    /// <summary>The leader told this node it was removed.</summary>
    public const int ToldRemoved = 5006;

    /// <summary>A removed member could not be told: <c>Peer</c>.</summary>
    public const int RemovedNoticeLost = 5007;

    /// <summary>The membership this node applied changed (every node, once): <c>Count</c>, <c>Members</c>, <c>Standing</c>.</summary>
    public const int MembersChanged = 5010;

    /// <summary>This node is no longer a member: it serves no clients.</summary>
    public const int RemovedHere = 5011;

    /// <summary>A client's lock wait outlived its grace without this node applying its end (cut off from the leader?): <c>WaitMs</c>.</summary>
    public const int LockWaitOutlived = 6000;

    /// <summary>A client left a lock wait: the release of its token was proposed: <c>ConnectionId</c>, <c>Outcome</c>.</summary>
    public const int LockWaitAbandoned = 6001;

    /// <summary>The release of an abandoned lock wait failed (a grant to it ends with its lease): <c>ConnectionId</c>.</summary>
    public const int LockWaitReleaseFailed = 6002;
}
