using MessagePack;

namespace RaftKv.StateMachine.Commands;

/// <summary>A setting that is part of the replicated state (changed through the log). Persisted: values are append-only.</summary>
public enum ReplicatedSetting : byte
{
    /// <summary><c>maxmemory</c>: the most <c>used_memory</c> writes may take the store to, in bytes; 0 for no limit.</summary>
    MaxMemory = 0,
}

/// <summary>
/// Sets a <see cref="ReplicatedSetting"/> at one point of the log, so every replica changes it between the same two
/// commands: <c>CONFIG SET maxmemory</c>, and a new leader's one-time proposal of its configured value. Replies
/// <c>OK</c>; with <see cref="OnlyIfUnset"/>, <c>:1</c> when it set the value and <c>:0</c> when the setting had been set
/// already (the state machine settles a configured value racing a <c>CONFIG SET</c>, or two leaders' proposals).
/// </summary>
/// <remarks>Never refused for memory: lowering or raising <c>maxmemory</c> must work on a full store.</remarks>
[MessagePackObject]
public sealed class ConfigSetCommand : WriteCommand
{
    /// <summary>Which setting.</summary>
    [Key(0)]
    public ReplicatedSetting Setting { get; init; }

    /// <summary>The new value (for <see cref="ReplicatedSetting.MaxMemory"/>, bytes, at least 0).</summary>
    [Key(1)]
    public long Value { get; init; }

    /// <summary>Set only if the setting has never been set (a configured initial value).</summary>
    [Key(2)]
    public bool OnlyIfUnset { get; init; }

    /// <inheritdoc/>
    /// <remarks>A known setting; <c>maxmemory</c> not negative.</remarks>
    public override Reply? Validate()
        => RedisErrors.Defined("config|set", nameof(Setting), Setting)
           ?? RedisErrors.InRange("config|set", nameof(Value), Value >= 0);

    private protected override Reply ApplyCore(in CommandContext context)
    {
        var store = context.Store;
        if (OnlyIfUnset && store.MaxMemorySetting is not null)
            return Reply.FromInteger(0);

        store.MaxMemorySetting = Value;
        return OnlyIfUnset ? Reply.FromInteger(1) : Reply.Ok;
    }
}
