using MessagePack;

namespace RaftKv.StateMachine.Commands;

/// <summary>
/// <c>LOCK.ACQUIRE key token ttl-ms</c>: <c>SET key token NX PX ttl-ms</c> that replies a fencing token — the
/// command's log position, strictly increasing across every acquisition the cluster ever applies — instead of
/// <c>OK</c>. Nil when another token holds the key; acquiring again with the holder's own token renews it.
/// </summary>
/// <remarks>The lock is a plain string key, so <c>GET</c>, <c>PTTL</c> and the compare-and-delete script see it.</remarks>
[MessagePackObject]
public sealed class LockAcquireCommand : WriteCommand
{
    [Key(0)]
    public required byte[] Key { get; init; }

    [Key(1)]
    public required byte[] Token { get; init; }

    [Key(2)]
    public long Ttl { get; init; }

    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
        => LockArguments.TryParseTtl(argv[3].Span, "lock.acquire", out var ttl, out var error)
            ? new LockAcquireCommand { Key = argv[1].ToArray(), Token = argv[2].ToArray(), Ttl = ttl }
            : ParsedCommand.Fail(error);

    /// <inheritdoc/>
    /// <remarks>A positive TTL, as the parser demands (apply refuses one that overflows the cluster time).</remarks>
    public override Reply? Validate() => LockArguments.Validate("lock.acquire", Key, Token, Ttl);

    /// <inheritdoc/>
    internal override long? MemoryGrowth(in CommandContext context)
        => StoreGrowth.OfStore(context.Keyspace, Key, Token.Length, expiring: true);

    private protected override Reply ApplyCore(in CommandContext context)
    {
        var keyspace = context.Keyspace;
        if (Ttl > long.MaxValue - context.Now)
            return RedisErrors.InvalidExpireTime("lock.acquire");
        if (keyspace.TryGet(Key, context.Now, out var held) && !held.Value.AsSpan().SequenceEqual(Token))
            return Reply.NullBulk;

        keyspace.Set(Key, Token, ExpiryTime.Stored(context.Now + Ttl));
        return Reply.FromInteger(context.LogPosition);
    }
}

/// <summary><c>LOCK.EXTEND key token ttl-ms</c>: sets the TTL to <c>ttl-ms</c> if <c>key</c> holds <c>token</c>; <c>:1</c> or <c>:0</c>.</summary>
[MessagePackObject]
public sealed class LockExtendCommand : WriteCommand
{
    [Key(0)]
    public required byte[] Key { get; init; }

    [Key(1)]
    public required byte[] Token { get; init; }

    [Key(2)]
    public long Ttl { get; init; }

    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
        => LockArguments.TryParseTtl(argv[3].Span, "lock.extend", out var ttl, out var error)
            ? new LockExtendCommand { Key = argv[1].ToArray(), Token = argv[2].ToArray(), Ttl = ttl }
            : ParsedCommand.Fail(error);

    /// <inheritdoc/>
    /// <remarks>A positive TTL, as the parser demands (apply refuses one that overflows the cluster time).</remarks>
    public override Reply? Validate() => LockArguments.Validate("lock.extend", Key, Token, Ttl);

    private protected override Reply ApplyCore(in CommandContext context)
    {
        var keyspace = context.Keyspace;
        if (Ttl > long.MaxValue - context.Now)
            return RedisErrors.InvalidExpireTime("lock.extend");
        if (!keyspace.TryGet(Key, context.Now, out var held) || !held.Value.AsSpan().SequenceEqual(Token))
            return Reply.FromInteger(0);

        keyspace.Set(Key, held.Value, ExpiryTime.Stored(context.Now + Ttl));
        return Reply.FromInteger(1);
    }
}

/// <summary><c>LOCK.RELEASE key token</c>: deletes <c>key</c> if it holds <c>token</c> (the seed's compare-and-delete); <c>:1</c> or <c>:0</c>.</summary>
[MessagePackObject]
public sealed class LockReleaseCommand : WriteCommand
{
    [Key(0)]
    public required byte[] Key { get; init; }

    [Key(1)]
    public required byte[] Token { get; init; }

    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
        => new LockReleaseCommand { Key = argv[1].ToArray(), Token = argv[2].ToArray() };

    /// <inheritdoc/>
    public override Reply? Validate()
        => RedisErrors.Required("lock.release", nameof(Key), Key) ?? RedisErrors.Required("lock.release", nameof(Token), Token);

    private protected override Reply ApplyCore(in CommandContext context)
    {
        var keyspace = context.Keyspace;
        if (!keyspace.TryGet(Key, context.Now, out var held) || !held.Value.AsSpan().SequenceEqual(Token))
            return Reply.FromInteger(0);

        keyspace.Remove(Key, context.Now);
        return Reply.FromInteger(1);
    }
}

internal static class LockArguments
{
    public static bool TryParseTtl(ReadOnlySpan<byte> text, string command, out long ttl, out Reply error)
    {
        error = RedisErrors.InvalidExpireTime(command);
        if (!RedisNumbers.TryParseInt64(text, out ttl))
        {
            error = CommandParser.NotAnInteger;
            return false;
        }

        return ttl > 0;
    }

    public static Reply? Validate(string command, byte[]? key, byte[]? token, long ttl)
        => RedisErrors.Required(command, "Key", key)
           ?? RedisErrors.Required(command, "Token", token)
           ?? RedisErrors.InRange(command, "Ttl", ttl > 0);
}
