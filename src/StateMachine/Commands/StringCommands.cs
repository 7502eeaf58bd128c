using MessagePack;

namespace RaftKv.StateMachine.Commands;

/// <summary>The NX/XX condition of <c>SET</c>. Persisted: values are append-only.</summary>
public enum SetCondition : byte
{
    /// <summary>Always set.</summary>
    None = 0,
    /// <summary>Only when the key does not exist (NX).</summary>
    IfNotExists = 1,
    /// <summary>Only when the key exists (XX).</summary>
    IfExists = 2,
}

/// <summary>How <c>SET</c> treats the key's time to live. Persisted: values are append-only.</summary>
public enum SetExpiry : byte
{
    /// <summary>No expiry; any previous TTL is discarded.</summary>
    None = 0,
    /// <summary>EX/PX: <see cref="SetCommand.ExpiryValue"/> milliseconds after the entry's cluster time.</summary>
    RelativeMilliseconds = 1,
    /// <summary>EXAT/PXAT: at <see cref="SetCommand.ExpiryValue"/> Unix milliseconds.</summary>
    AbsoluteMilliseconds = 2,
    /// <summary>KEEPTTL: keep the key's current expiry.</summary>
    KeepTtl = 3,
}

/// <summary><c>SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]</c>.</summary>
[MessagePackObject]
public sealed class SetCommand : WriteCommand
{
    [Key(0)]
    public required byte[] Key { get; init; }

    [Key(1)]
    public required byte[] Value { get; init; }

    [Key(2)]
    public SetCondition Condition { get; init; }

    [Key(3)]
    public SetExpiry Expiry { get; init; }

    /// <summary>Milliseconds, relative or absolute according to <see cref="Expiry"/>; already validated as positive.</summary>
    [Key(4)]
    public long ExpiryValue { get; init; }

    /// <summary>The GET option: reply with the old value instead of OK.</summary>
    [Key(5)]
    public bool ReturnOldValue { get; init; }

    internal override Reply Apply(in CommandContext context)
    {
        var keyspace = context.Keyspace;
        var now = context.Now;
        var exists = keyspace.TryGet(Key, now, out var old);

        long expireAt;
        switch (Expiry)
        {
            case SetExpiry.RelativeMilliseconds:
                // Redis adds the TTL to the command's time and rejects the sum when it overflows.
                if (ExpiryValue > long.MaxValue - now)
                    return KeyValueStore.InvalidExpireTime("set");
                expireAt = now + ExpiryValue;
                break;
            case SetExpiry.AbsoluteMilliseconds:
                expireAt = ExpiryValue;
                break;
            case SetExpiry.KeepTtl:
                expireAt = exists ? old.ExpireAt : ClusterTime.NoExpiry;
                break;
            default:
                expireAt = ClusterTime.NoExpiry;
                break;
        }

        var oldReply = ReturnOldValue ? Reply.FromBulk(exists ? old.Value : null) : null;
        var conditionMet = Condition switch
        {
            SetCondition.IfNotExists => !exists,
            SetCondition.IfExists => exists,
            _ => true,
        };
        if (!conditionMet)
            return oldReply ?? Reply.NullBulk;

        if (expireAt <= now)
        {
            // An absolute time already past: Redis sets and at once deletes the key; the reply is still OK.
            keyspace.Remove(Key, now);
        }
        else
        {
            keyspace.Set(Key, Value, expireAt);
        }

        return oldReply ?? Reply.Ok;
    }
}

/// <summary><c>GET key</c>.</summary>
public sealed class GetCommand(byte[] key) : ReadCommand
{
    public byte[] Key { get; } = key;

    internal override Reply Execute(in CommandContext context)
        => context.Keyspace.TryGet(Key, context.Now, out var entry) ? Reply.FromBulk(entry.Value) : Reply.NullBulk;
}

/// <summary><c>DEL key [key ...]</c>: the number of live keys removed.</summary>
[MessagePackObject]
public sealed class DelCommand : WriteCommand
{
    [Key(0)]
    public required byte[][] Keys { get; init; }

    internal override Reply Apply(in CommandContext context)
    {
        var removed = 0L;
        foreach (var key in Keys)
        {
            if (context.Keyspace.Remove(key, context.Now))
                removed++;
        }

        return Reply.FromInteger(removed);
    }
}
