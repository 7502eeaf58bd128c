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
}
