using DotNext.Net.Cluster.Consensus.Raft.StateMachine;

namespace RaftKv.Node;

/// <summary>A member of the static cluster: where its Raft endpoint is, where it serves RESP, where its peers reach it.</summary>
public sealed class ClusterMemberOptions
{
    /// <summary>The member's Raft URL (<c>tcp://</c> or <c>http://</c>), exactly as in its own <c>raft:publicEndPoint</c>.</summary>
    public string Raft { get; set; } = "";

    /// <summary>The member's RESP address as clients reach it, <c>host:port</c> (used in <c>-MOVED</c> and <c>ROLE</c>).</summary>
    public string Resp { get; set; } = "";

    /// <summary>
    /// The member's peer-channel address, <c>host:port</c>: where the other members send it forwarded writes and
    /// read-index requests (see <see cref="PeerOptions"/>). Never the RESP port: clients are not peers.
    /// </summary>
    public string Peer { get; set; } = "";
}

/// <summary>
/// The channel between members (configuration section <c>RaftKv:Peer</c>): a listener of its own, separate from the
/// RESP port, that accepts only connections proving they hold the cluster secret. The same secret (with a handshake of
/// its own) guards the Raft port.
/// </summary>
public sealed class PeerOptions
{
    /// <summary>The shortest cluster secret accepted, in bytes of UTF-8.</summary>
    public const int MinimumSecretLength = 16;

    /// <summary>
    /// Where this node listens for its peers, <c>host:port</c>; defaults to this member's <c>Peer</c> address in
    /// <c>RaftKv:Members</c> (set it to bind another interface, e.g. <c>0.0.0.0:8380</c>).
    /// </summary>
    public string? Listen { get; set; }

    /// <summary>
    /// The secret every member of the cluster shares (at least <see cref="MinimumSecretLength"/> bytes). Each peer
    /// connection proves it with an HMAC over fresh nonces from both sides; the secret itself never crosses the wire.
    /// Prefer <see cref="ClusterSecretFile"/> so the secret stays out of command lines and config files.
    /// </summary>
    public string? ClusterSecret { get; set; }

    /// <summary>A file holding the cluster secret (surrounding white space is ignored); used when <see cref="ClusterSecret"/> is unset.</summary>
    public string? ClusterSecretFile { get; set; }

    /// <summary>
    /// How long a new connection to the peer channel or to the Raft port may take to complete TLS (if on) and the
    /// handshake before it is dropped.
    /// </summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The largest frame a peer may send, in bytes. A forwarded write is at most one client request, so the default
    /// is the RESP query buffer limit (1 GB, Redis's <c>client-query-buffer-limit</c>) plus room for framing.
    /// </summary>
    public long MaxFrameBytes { get; set; } = (1024L * 1024 * 1024) + (1024 * 1024);

    /// <summary>
    /// At start, how long to wait for the other members' answers to a handshake. A node whose secret every answering
    /// member refuses does not start (the secrets disagree); a member that does not answer is not counted.
    /// </summary>
    public TimeSpan StartupCheckTimeout { get; set; } = TimeSpan.FromSeconds(3);
}

/// <summary>The node's own settings (configuration section <c>RaftKv</c>).</summary>
public sealed class NodeOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string Section = "RaftKv";

    /// <summary>
    /// This node joins a running cluster (command-line alias <c>--join</c>): with no member list in its data directory
    /// it starts with none, instead of <see cref="Members"/>, and waits — serving nothing — until a member adds it with
    /// <c>MEMBER.ADD</c> (docs/membership.md). <see cref="Members"/> must still list this node and the
    /// members to reach at start. Ignored once the data directory holds a member list.
    /// </summary>
    public bool Join { get; set; }

    /// <summary>
    /// How long a membership change may take on the leader (<c>MEMBER.ADD</c> includes the new member's catch-up: a
    /// snapshot and the log after it), after which it answers <c>-UNCERTAIN</c>.
    /// </summary>
    public TimeSpan MemberChangeTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Where the write-ahead log and snapshots live.</summary>
    public string DataPath { get; set; } = "data";

    /// <summary>How this node's data directory is treated (section <c>RaftKv:Storage</c>).</summary>
    public StorageOptions Storage { get; set; } = new();

    /// <summary>Every member of the cluster, this node included (static membership).</summary>
    public List<ClusterMemberOptions> Members { get; set; } = [];

    /// <summary>The channel between members (section <c>RaftKv:Peer</c>).</summary>
    public PeerOptions Peer { get; set; } = new();

    /// <summary>TLS for RESP clients and between members (section <c>RaftKv:Tls</c>); off by default.</summary>
    public TlsOptions Tls { get; set; } = new();

    /// <summary>Where Kestrel listens for Raft traffic; defaults to <c>raft:publicEndPoint</c>.</summary>
    public string? RaftListen { get; set; }

    /// <summary>Size of one write-ahead log chunk file. Fixed once a log exists (DotNext cannot change it later).</summary>
    public int WalChunkBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>
    /// How the write-ahead log holds its pages: <c>PrivateMemory</c> (anonymous memory, flushed with synchronous writes,
    /// the metadata and data files in parallel) or <c>SharedMemory</c> (DotNext's default: memory-mapped files, flushed
    /// with one <c>msync</c> after the other). Private memory took a sync off every flush: on this machine SET -c 1 p50
    /// went from 2.8 to 2.5 ms (bench/compare.sh). The pages of entries not yet compacted by a snapshot stay in memory.
    /// </summary>
    public WriteAheadLog.MemoryManagementStrategy WalMemory { get; set; } = WriteAheadLog.MemoryManagementStrategy.PrivateMemory;

    /// <summary>With <c>WalMemory=PrivateMemory</c>, write pages with direct I/O (<c>O_DIRECT</c>), bypassing the page cache.</summary>
    public bool WalDirectIo { get; set; }

    /// <summary>
    /// Whether the entries this node proposes carry a checksum (a <see cref="RaftKv.StateMachine.LogEntryEnvelope"/>),
    /// so a copy damaged on a disk or on the wire is told from an entry every replica holds alike (docs/storage.md).
    /// Entries of both forms are always read; false exists to measure the checksum's cost.
    /// </summary>
    public bool LogChecksums { get; set; } = true;

    /// <summary>The write-ahead log's directory, under <see cref="DataPath"/>.</summary>
    public string WalDirectory => Path.GetFullPath(Path.Combine(DataPath, "wal"));

    /// <summary>Take a snapshot (and let the log be compacted) after this many applied entries.</summary>
    public int SnapshotEveryEntries { get; set; } = 10_000;

    /// <summary>
    /// Take a snapshot sooner, once the entries applied since the last one hold more than this many bytes of payload, or
    /// more than the last snapshot's size if that is larger. The log keeps every entry since the last snapshot in
    /// memory: without this bound, overwriting one key with 1 MB values grew a node by about 1 MB per write until the
    /// 10,000th entry, whatever <c>maxmemory</c> said.
    /// </summary>
    public long SnapshotLogBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>At most this many commands go into one log entry.</summary>
    public int MaxBatchCommands { get; set; } = 1024;

    /// <summary>How long a write waits for this node to become a usable leader when it is elected but not yet live.</summary>
    public TimeSpan LeadershipWait { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How often an idle leader checks for expired keys; when some are due it proposes an empty entry, whose apply
    /// sweeps them, so dead keys do not stay in memory while no writes arrive. Zero turns the check off.
    /// </summary>
    public TimeSpan IdleSweepInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// The initial <c>maxmemory</c> (bytes, or Redis's units: <c>100mb</c>, <c>1gb</c>...; <c>0</c> for no limit), or null
    /// to leave it unset. <c>maxmemory</c> is replicated state, so this is only a starting value: a leader whose state
    /// says <c>maxmemory</c> was never set proposes this value once (<see cref="Raft.ConfiguredMaxMemory"/>); from then
    /// on <c>CONFIG SET maxmemory</c> changes it and this setting is ignored, on every node.
    /// </summary>
    public string? MaxMemory { get; set; }

    /// <summary>
    /// Limits on every Lua script (section <c>RaftKv:Scripting</c>: <c>InstructionBudget</c>, <c>MemoryLimitBytes</c>).
    /// State-machine configuration: every node of the cluster must use the same values, or a script stopped by a limit
    /// would stop at different points on different replicas.
    /// </summary>
    public RaftKv.StateMachine.Scripting.ScriptLimits Scripting { get; set; } = new();

    /// <summary>
    /// Moves this node's clock (for cluster time stamps, reads' expiry judgement, <c>TIME</c>) by a fixed offset. Zero
    /// in production; chaos tests skew one node within the cluster's assumed maximum clock skew.
    /// </summary>
    public TimeSpan ClockOffset { get; set; }

    /// <summary>
    /// How long a finished online backup (<c>BACKUP.START</c>) stays on this node's disk while nobody reads it (a
    /// <c>BACKUP.READ</c> resets the clock); then its file is deleted, so a client that went away frees the slot.
    /// </summary>
    public TimeSpan BackupIdleTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long a read waits for its read barrier before answering <c>-CLUSTERDOWN</c>.</summary>
    public TimeSpan ReadBarrierTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// What a follower does with a write: <c>Forward</c> (the default) relays it to the leader and returns the
    /// leader's reply, so every Redis client works against any node; <c>Redirect</c> answers
    /// <c>-MOVED 0 host:port</c> of the leader, for clients that follow redirects.
    /// </summary>
    public FollowerWriteMode FollowerWrites { get; set; } = FollowerWriteMode.Forward;

    /// <summary>
    /// Answer <c>CLUSTER SLOTS|SHARDS|NODES|INFO|MYID|KEYSLOT</c> with a single-shard view (every slot on the Raft
    /// leader). Cluster-aware clients then route to the leader themselves, but also take on Redis Cluster's rules
    /// (StackExchange.Redis allows only database 0 and refuses multi-key commands across hash slots). Off, the node is a
    /// standalone Redis to clients and <c>CLUSTER</c> answers as one with cluster support disabled; StackExchange.Redis
    /// must then be given every node (it sends writes to the one that reports <c>role:master</c>).
    /// </summary>
    public bool ClusterCommands { get; set; } = true;

    /// <summary>Connections a follower keeps open to the leader for forwarded writes (each client sticks to one).</summary>
    public int ForwardConnections { get; set; } = 4;

    /// <summary>
    /// How long a forwarded write the leader refused (it lost leadership before taking it) may wait for a new leader
    /// before the client gets <c>-CLUSTERDOWN No Raft leader</c>. A failover takes about a second.
    /// </summary>
    public TimeSpan ForwardRetryWait { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// How long past the end of a client's lock wait (<c>WAIT timeout-ms</c>, in cluster time) this node waits to apply
    /// the entry that ends it before answering <c>-UNCERTAIN</c>: the wait's end is decided by apply, which a node cut
    /// off from the leader does not reach.
    /// </summary>
    public TimeSpan LockWaitGrace { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a follower waits for the leader's reply to a forwarded write before answering <c>-UNCERTAIN</c> (the
    /// write may or may not have been applied).
    /// </summary>
    public TimeSpan ForwardTimeout { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>The data directory's settings (section <c>RaftKv:Storage</c>).</summary>
public sealed class StorageOptions
{
    /// <summary>
    /// Start an emptied data directory in recovery (docs/storage.md, "Replacing a node's data"): the node catches up
    /// from the leader and votes only once its log has. The command-line alias is <c>--recover</c>. Refused on a data
    /// directory that holds a log; a node restarted mid-recovery stays in recovery without it.
    /// </summary>
    public bool Recover { get; set; }
}

/// <summary>How a follower answers a write.</summary>
public enum FollowerWriteMode
{
    /// <summary>Relay the write to the leader over a pooled connection and return its reply.</summary>
    Forward,

    /// <summary><c>-MOVED 0 host:port</c>, which <c>redis-cli -c</c> and cluster-aware clients follow.</summary>
    Redirect,
}

/// <summary>Which member of <c>RaftKv:Members</c> this node is (found by its <c>raft:publicEndPoint</c>).</summary>
public sealed record NodeIdentity(ClusterMemberOptions Member);

/// <summary>A configuration problem found at start; the message says what to change. The node exits with it.</summary>
public sealed class NodeStartupException(string message) : Exception(message);
