using MessagePack;

namespace RaftKv.StateMachine.Commands;

/// <summary>
/// The payload of one Raft log entry: every write that arrived while the previous entry replicated (group commit),
/// stamped with one cluster time by the leader.
/// </summary>
[MessagePackObject]
public sealed class CommandBatch
{
    /// <summary>Cluster time (Unix ms) at which all commands of the batch apply.</summary>
    [Key(0)]
    public long Timestamp { get; set; }

    /// <summary>The commands, applied in order.</summary>
    [Key(1)]
    public WriteCommand[] Commands { get; set; } = [];

    /// <summary>
    /// The database each command runs in (the client's <c>SELECT</c>), parallel to <see cref="Commands"/>; null when
    /// every command runs in database 0, so the common case costs nothing in the log.
    /// </summary>
    [Key(2)]
    public byte[]? Databases { get; set; }

    /// <summary>
    /// The ACL user each command runs as (the client's <c>AUTH</c>), parallel to <see cref="Commands"/>; null when every
    /// command runs as <c>default</c>, so the common case costs nothing in the log, and a null entry is <c>default</c>.
    /// A command whose user no longer exists when it applies answers <c>-NOPERM</c> and changes nothing.
    /// </summary>
    [Key(3)]
    public string?[]? Users { get; set; }
}
