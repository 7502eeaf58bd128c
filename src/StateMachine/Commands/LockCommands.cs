using System.Text;
using MessagePack;
using RaftKv.StateMachine.Locks;

namespace RaftKv.StateMachine.Commands;

/// <summary>
/// <c>LOCK.ACQUIRE key token ttl-ms [WAIT timeout-ms] [OWNER name]</c>: <c>SET key token NX PX ttl-ms</c> that replies
/// a fencing token — strictly increasing across every grant the cluster ever applies — instead of <c>OK</c>. Nil when
/// another token holds the key (or waiters are queued) and no WAIT was asked; with WAIT the acquire queues (FIFO) and
/// is granted by the apply that frees the key. Acquiring again with the holder's own token renews it.
/// </summary>
/// <remarks>The lock is a plain string key, so <c>GET</c>, <c>PTTL</c> and the compare-and-delete script see it.</remarks>
[MessagePackObject]
public sealed class LockAcquireCommand : WriteCommand, ILockAcquire
{
    [Key(0)]
    public required byte[] Key { get; init; }

    [Key(1)]
    public required byte[] Token { get; init; }

    [Key(2)]
    public long Ttl { get; init; }

    /// <summary>How long to wait in the queue, in ms; 0 answers at once (the entries before waits existed).</summary>
    [Key(3)]
    public long Wait { get; init; }

    /// <summary>The owner name shown by <c>LOCK.INFO</c>; null for none.</summary>
    [Key(4)]
    public byte[]? Owner { get; init; }

    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        if (!LockArguments.TryParseTtl(argv[3].Span, "lock.acquire", out var ttl, out var error)
            || !LockArguments.TryParseOptions(argv[4..], out var wait, out var owner, out error))
            return ParsedCommand.Fail(error);
        return new LockAcquireCommand { Key = argv[1].ToArray(), Token = argv[2].ToArray(), Ttl = ttl, Wait = wait, Owner = owner };
    }

    /// <inheritdoc/>
    /// <remarks>A positive TTL, as the parser demands (apply refuses one that overflows the cluster time).</remarks>
    public override Reply? Validate()
        => LockArguments.Validate("lock.acquire", Key, Token, Ttl) ?? LockArguments.ValidateWait("lock.acquire", Wait, Owner);

    /// <inheritdoc/>
    internal override long? MemoryGrowth(in CommandContext context)
        => StoreGrowth.OfStore(context.Keyspace, Key, Token.Length, expiring: true) + LockSpace.Growth(Request);

    /// <inheritdoc/>
    [IgnoreMember]
    public bool Waits => Wait > 0;

    /// <inheritdoc/>
    [IgnoreMember]
    public LockKind Kind => LockKind.Mutex;

    /// <inheritdoc/>
    [IgnoreMember]
    public byte[] LockName => Key;

    /// <inheritdoc/>
    public WriteCommand ReleaseCommand() => new LockReleaseCommand { Key = Key, Token = Token };

    private LockRequest Request => new("lock.acquire", Key, Token, Owner ?? [], Ttl, Wait, LockMode.Write, 1);

    private protected override Reply ApplyCore(in CommandContext context)
        => context.Keyspace.Locks.Acquire(context, LockKind.Mutex, Request);
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
        => context.Keyspace.Locks.Extend(context, LockKind.Mutex, Key, Token, Ttl, "lock.extend");
}

/// <summary>
/// <c>LOCK.RELEASE key token</c>: deletes <c>key</c> if it holds <c>token</c> (the seed's compare-and-delete) and hands
/// it to the next waiter, or takes <c>token</c> out of the queue; <c>:1</c> or <c>:0</c>.
/// </summary>
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
        => context.Keyspace.Locks.Release(context, LockKind.Mutex, Key, Token);
}

/// <summary>
/// <c>RWLOCK.ACQUIRE key READ|WRITE token ttl-ms [WAIT timeout-ms] [OWNER name]</c>: many readers or one writer; a
/// fencing token, nil, or a queued wait (writers are not starved: a reader never overtakes a queued writer).
/// </summary>
[MessagePackObject]
public sealed class ReadWriteLockAcquireCommand : WriteCommand, ILockAcquire
{
    [Key(0)]
    public required byte[] Key { get; init; }

    [Key(1)]
    public LockMode Mode { get; init; }

    [Key(2)]
    public required byte[] Token { get; init; }

    [Key(3)]
    public long Ttl { get; init; }

    [Key(4)]
    public long Wait { get; init; }

    [Key(5)]
    public byte[]? Owner { get; init; }

    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        LockMode mode;
        if (RedisErrors.IsOption(argv[2].Span, "read"u8))
            mode = LockMode.Read;
        else if (RedisErrors.IsOption(argv[2].Span, "write"u8))
            mode = LockMode.Write;
        else
            return ParsedCommand.Fail(Reply.SyntaxError);
        if (!LockArguments.TryParseTtl(argv[4].Span, "rwlock.acquire", out var ttl, out var error)
            || !LockArguments.TryParseOptions(argv[5..], out var wait, out var owner, out error))
            return ParsedCommand.Fail(error);
        return new ReadWriteLockAcquireCommand { Key = argv[1].ToArray(), Mode = mode, Token = argv[3].ToArray(), Ttl = ttl, Wait = wait, Owner = owner };
    }

    /// <inheritdoc/>
    public override Reply? Validate()
        => LockArguments.Validate("rwlock.acquire", Key, Token, Ttl)
           ?? RedisErrors.Defined("rwlock.acquire", nameof(Mode), Mode)
           ?? LockArguments.ValidateWait("rwlock.acquire", Wait, Owner);

    /// <inheritdoc/>
    internal override long? MemoryGrowth(in CommandContext context) => LockSpace.Growth(Request);

    /// <inheritdoc/>
    [IgnoreMember]
    public bool Waits => Wait > 0;

    /// <inheritdoc/>
    [IgnoreMember]
    public LockKind Kind => LockKind.ReadWrite;

    /// <inheritdoc/>
    [IgnoreMember]
    public byte[] LockName => Key;

    /// <inheritdoc/>
    public WriteCommand ReleaseCommand() => new ReadWriteLockReleaseCommand { Key = Key, Token = Token };

    private LockRequest Request => new("rwlock.acquire", Key, Token, Owner ?? [], Ttl, Wait, Mode, 0);

    private protected override Reply ApplyCore(in CommandContext context)
        => context.Keyspace.Locks.Acquire(context, LockKind.ReadWrite, Request);
}

/// <summary><c>RWLOCK.EXTEND key token ttl-ms</c>: <c>:1</c> when the token holds the lock (its lease renewed), else <c>:0</c>.</summary>
[MessagePackObject]
public sealed class ReadWriteLockExtendCommand : WriteCommand
{
    [Key(0)]
    public required byte[] Key { get; init; }

    [Key(1)]
    public required byte[] Token { get; init; }

    [Key(2)]
    public long Ttl { get; init; }

    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
        => LockArguments.TryParseTtl(argv[3].Span, "rwlock.extend", out var ttl, out var error)
            ? new ReadWriteLockExtendCommand { Key = argv[1].ToArray(), Token = argv[2].ToArray(), Ttl = ttl }
            : ParsedCommand.Fail(error);

    /// <inheritdoc/>
    public override Reply? Validate() => LockArguments.Validate("rwlock.extend", Key, Token, Ttl);

    private protected override Reply ApplyCore(in CommandContext context)
        => context.Keyspace.Locks.Extend(context, LockKind.ReadWrite, Key, Token, Ttl, "rwlock.extend");
}

/// <summary><c>RWLOCK.RELEASE key token</c>: <c>:1</c> when the token held (released) or waited (dequeued), else <c>:0</c>.</summary>
[MessagePackObject]
public sealed class ReadWriteLockReleaseCommand : WriteCommand
{
    [Key(0)]
    public required byte[] Key { get; init; }

    [Key(1)]
    public required byte[] Token { get; init; }

    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
        => new ReadWriteLockReleaseCommand { Key = argv[1].ToArray(), Token = argv[2].ToArray() };

    /// <inheritdoc/>
    public override Reply? Validate()
        => RedisErrors.Required("rwlock.release", nameof(Key), Key) ?? RedisErrors.Required("rwlock.release", nameof(Token), Token);

    private protected override Reply ApplyCore(in CommandContext context)
        => context.Keyspace.Locks.Release(context, LockKind.ReadWrite, Key, Token);
}

/// <summary>
/// <c>SEMAPHORE.ACQUIRE key max-count token ttl-ms [WAIT timeout-ms] [OWNER name]</c>: at most max-count holders; a
/// fencing token, nil, or a queued wait.
/// </summary>
[MessagePackObject]
public sealed class SemaphoreAcquireCommand : WriteCommand, ILockAcquire
{
    [Key(0)]
    public required byte[] Key { get; init; }

    [Key(1)]
    public int MaxCount { get; init; }

    [Key(2)]
    public required byte[] Token { get; init; }

    [Key(3)]
    public long Ttl { get; init; }

    [Key(4)]
    public long Wait { get; init; }

    [Key(5)]
    public byte[]? Owner { get; init; }

    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        if (!RedisNumbers.TryParseInt64(argv[2].Span, out var maxCount))
            return ParsedCommand.Fail(CommandParser.NotAnInteger);
        if (maxCount is < 1 or > LockSpace.MaxSemaphoreCount)
            return ParsedCommand.Fail(LockReplies.InvalidMaxCount);
        if (!LockArguments.TryParseTtl(argv[4].Span, "semaphore.acquire", out var ttl, out var error)
            || !LockArguments.TryParseOptions(argv[5..], out var wait, out var owner, out error))
            return ParsedCommand.Fail(error);
        return new SemaphoreAcquireCommand
        {
            Key = argv[1].ToArray(), MaxCount = (int)maxCount, Token = argv[3].ToArray(), Ttl = ttl, Wait = wait, Owner = owner,
        };
    }

    /// <inheritdoc/>
    public override Reply? Validate()
        => LockArguments.Validate("semaphore.acquire", Key, Token, Ttl)
           ?? RedisErrors.InRange("semaphore.acquire", nameof(MaxCount), MaxCount is >= 1 and <= LockSpace.MaxSemaphoreCount)
           ?? LockArguments.ValidateWait("semaphore.acquire", Wait, Owner);

    /// <inheritdoc/>
    internal override long? MemoryGrowth(in CommandContext context) => LockSpace.Growth(Request);

    /// <inheritdoc/>
    [IgnoreMember]
    public bool Waits => Wait > 0;

    /// <inheritdoc/>
    [IgnoreMember]
    public LockKind Kind => LockKind.Semaphore;

    /// <inheritdoc/>
    [IgnoreMember]
    public byte[] LockName => Key;

    /// <inheritdoc/>
    public WriteCommand ReleaseCommand() => new SemaphoreReleaseCommand { Key = Key, Token = Token };

    private LockRequest Request => new("semaphore.acquire", Key, Token, Owner ?? [], Ttl, Wait, LockMode.Read, MaxCount);

    private protected override Reply ApplyCore(in CommandContext context)
        => context.Keyspace.Locks.Acquire(context, LockKind.Semaphore, Request);
}

/// <summary><c>SEMAPHORE.EXTEND key token ttl-ms</c>: <c>:1</c> when the token holds (its lease renewed), else <c>:0</c>.</summary>
[MessagePackObject]
public sealed class SemaphoreExtendCommand : WriteCommand
{
    [Key(0)]
    public required byte[] Key { get; init; }

    [Key(1)]
    public required byte[] Token { get; init; }

    [Key(2)]
    public long Ttl { get; init; }

    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
        => LockArguments.TryParseTtl(argv[3].Span, "semaphore.extend", out var ttl, out var error)
            ? new SemaphoreExtendCommand { Key = argv[1].ToArray(), Token = argv[2].ToArray(), Ttl = ttl }
            : ParsedCommand.Fail(error);

    /// <inheritdoc/>
    public override Reply? Validate() => LockArguments.Validate("semaphore.extend", Key, Token, Ttl);

    private protected override Reply ApplyCore(in CommandContext context)
        => context.Keyspace.Locks.Extend(context, LockKind.Semaphore, Key, Token, Ttl, "semaphore.extend");
}

/// <summary><c>SEMAPHORE.RELEASE key token</c>: <c>:1</c> when the token held (released) or waited (dequeued), else <c>:0</c>.</summary>
[MessagePackObject]
public sealed class SemaphoreReleaseCommand : WriteCommand
{
    [Key(0)]
    public required byte[] Key { get; init; }

    [Key(1)]
    public required byte[] Token { get; init; }

    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
        => new SemaphoreReleaseCommand { Key = argv[1].ToArray(), Token = argv[2].ToArray() };

    /// <inheritdoc/>
    public override Reply? Validate()
        => RedisErrors.Required("semaphore.release", nameof(Key), Key) ?? RedisErrors.Required("semaphore.release", nameof(Token), Token);

    private protected override Reply ApplyCore(in CommandContext context)
        => context.Keyspace.Locks.Release(context, LockKind.Semaphore, Key, Token);
}

/// <summary>An acquire of any kind, as the node sees it: whether it may block, and how to take its waiter back.</summary>
public interface ILockAcquire
{
    /// <summary>True when the acquire asked to wait in the queue (WAIT &gt; 0).</summary>
    bool Waits { get; }

    /// <summary>The lock's kind.</summary>
    LockKind Kind { get; }

    /// <summary>The lock's name.</summary>
    byte[] LockName { get; }

    /// <summary>The acquiring token.</summary>
    byte[] Token { get; }

    /// <summary>How long it waits at most, in ms.</summary>
    long Wait { get; }

    /// <summary>The release of the same lock and token (what a node proposes when the waiting client goes away).</summary>
    WriteCommand ReleaseCommand();
}

/// <summary>
/// <c>LOCK.INFO key</c>: the lock's kind, max-count, holders (token, owner, fencing token, remaining lease, mode) and
/// waiters in queue order (token, owner, mode, remaining wait, lease asked for); nil when nothing holds or waits.
/// </summary>
public sealed class LockInfoCommand(byte[] key) : ReadCommand
{
    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv) => new LockInfoCommand(argv[1].ToArray());

    internal override Reply Execute(in CommandContext context)
    {
        var now = context.Now;
        var entry = context.Keyspace.Locks.Find(key);
        var plain = context.Keyspace.TryGet(key, now, out var held);
        if (entry is null && !plain)
            return Reply.NullBulk;

        var kind = entry?.Kind ?? LockKind.Mutex;
        var holders = new List<Reply>();
        if (kind == LockKind.Mutex)
        {
            if (plain)
            {
                var record = entry?.HolderOf(held.Value);
                holders.Add(Reply.FromArray(
                [
                    Reply.FromBulk(held.Value),
                    Reply.FromBulk(record?.Owner ?? []),
                    record is null ? Reply.NullBulk : Reply.FromInteger(record.Fencing),
                    Reply.FromInteger(held.HasExpiry ? held.ExpireAt - now : -1),
                    ModeName(LockMode.Write),
                ]));
            }
        }
        else
        {
            foreach (var holder in entry!.Holders)
            {
                if (holder.ExpireAt <= now)
                    continue;
                holders.Add(Reply.FromArray(
                [
                    Reply.FromBulk(holder.Token), Reply.FromBulk(holder.Owner), Reply.FromInteger(holder.Fencing),
                    Reply.FromInteger(holder.ExpireAt - now), ModeName(holder.Mode),
                ]));
            }
        }

        var waiters = new List<Reply>();
        foreach (var waiter in entry?.Waiters ?? [])
        {
            if (waiter.Deadline <= now)
                continue;
            waiters.Add(Reply.FromArray(
            [
                Reply.FromBulk(waiter.Token), Reply.FromBulk(waiter.Owner), ModeName(waiter.Mode),
                Reply.FromInteger(waiter.Deadline - now), Reply.FromInteger(waiter.Ttl),
            ]));
        }

        return Reply.FromArray(
        [
            Reply.FromBulk("kind"), Reply.FromBulk(KindName(kind)),
            Reply.FromBulk("max-count"), Reply.FromInteger(entry?.MaxCount ?? 1),
            Reply.FromBulk("holders"), Reply.FromArray([.. holders]),
            Reply.FromBulk("waiters"), Reply.FromArray([.. waiters]),
        ]);
    }

    internal static string KindName(LockKind kind) => kind switch
    {
        LockKind.Mutex => "mutex",
        LockKind.ReadWrite => "rwlock",
        _ => "semaphore",
    };

    private static Reply ModeName(LockMode mode) => Reply.FromBulk(mode == LockMode.Write ? "write" : "read");
}

/// <summary>
/// <c>LOCK.LIST [pattern]</c>: the locks held or waited for whose name matches (glob, default <c>*</c>), sorted by name,
/// each <c>[name, kind, holders, waiters]</c>. Mutexes taken by a plain <c>SET</c> without waiters are keys, not listed.
/// </summary>
public sealed class LockListCommand(byte[] pattern) : ReadCommand
{
    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
        => argv.Length switch
        {
            1 => new LockListCommand("*"u8.ToArray()),
            2 => new LockListCommand(argv[1].ToArray()),
            _ => ParsedCommand.Fail(Reply.SyntaxError),
        };

    internal override Reply Execute(in CommandContext context)
    {
        var now = context.Now;
        var all = GlobPattern.MatchesAll(pattern);
        var found = new List<(byte[] Name, Reply Row)>();
        foreach (var entry in context.Keyspace.Locks.Entries)
        {
            if (!all && !GlobPattern.IsMatch(pattern, entry.Name))
                continue;
            var holders = entry.Kind == LockKind.Mutex
                ? (context.Keyspace.Contains(entry.Name, now) ? 1 : 0)
                : entry.Holders.Count(h => h.ExpireAt > now);
            var waiters = entry.Waiters.Count(w => w.Deadline > now);
            if (holders == 0 && waiters == 0)
                continue;
            found.Add((entry.Name, Reply.FromArray(
            [
                Reply.FromBulk(entry.Name), Reply.FromBulk(LockInfoCommand.KindName(entry.Kind)),
                Reply.FromInteger(holders), Reply.FromInteger(waiters),
            ])));
        }

        found.Sort(static (x, y) => x.Name.AsSpan().SequenceCompareTo(y.Name));
        return Reply.FromArray([.. found.Select(static f => f.Row)]);
    }
}

/// <summary>The lock commands' replies and errors (see <c>docs/resp-extensions.md</c>).</summary>
public static class LockReplies
{
    private const string QueuedPrefix = "QUEUED ";

    /// <summary>
    /// What apply answers an acquire that was queued: a status carrying the command's log position. Never sent to a
    /// client: the node that proposed it blocks the client until the waiter is granted or gives up.
    /// </summary>
    public static Reply Queued(long logPosition) => Reply.Status(QueuedPrefix + logPosition.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>True when <paramref name="reply"/> says an acquire was queued; <paramref name="logPosition"/> is where.</summary>
    public static bool IsQueued(Reply reply, out long logPosition)
    {
        logPosition = 0;
        return reply.Kind == ReplyKind.Status && reply.Text!.StartsWith(QueuedPrefix, StringComparison.Ordinal)
               && long.TryParse(reply.Text.AsSpan(QueuedPrefix.Length), System.Globalization.CultureInfo.InvariantCulture, out logPosition);
    }

    /// <summary><c>-WRONGTYPE</c> for a lock command on a name another kind of lock holds or waits for.</summary>
    public static Reply WrongKind { get; } = Reply.Error("WRONGTYPE Operation against a lock of another kind");

    /// <summary>A queue at <see cref="LockSpace.MaxWaiters"/>.</summary>
    public static Reply TooManyWaiters { get; } = Reply.Error($"ERR LOCK too many waiters (at most {LockSpace.MaxWaiters} per lock)");

    /// <summary>A WAIT that is negative or overflows the cluster time.</summary>
    public static Reply InvalidWait { get; } = Reply.Error("ERR timeout is out of range");

    /// <summary>A max-count outside 1 to <see cref="LockSpace.MaxSemaphoreCount"/>.</summary>
    public static Reply InvalidMaxCount { get; } = Reply.Error($"ERR max-count must be between 1 and {LockSpace.MaxSemaphoreCount}");

    /// <summary>An owner name longer than <see cref="LockSpace.MaxOwnerBytes"/>.</summary>
    public static Reply OwnerTooLong { get; } = Reply.Error($"ERR owner name is longer than {LockSpace.MaxOwnerBytes} bytes");

    /// <summary>The semaphore exists with another max-count.</summary>
    public static Reply MaxCountMismatch(byte[] name, int held, int asked)
        => Reply.Error($"ERR semaphore '{RedisErrors.Printable(name)}' has max-count {held}, not {asked}");

    /// <summary>The token holds or waits for the lock in the other mode (upgrades are not supported).</summary>
    public static Reply OtherMode(byte[] name)
        => Reply.Error($"ERR LOCK token already holds or waits for '{RedisErrors.Printable(name)}' in another mode");
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

    // [WAIT timeout-ms] [OWNER name], each at most once, in any order.
    public static bool TryParseOptions(ReadOnlySpan<ReadOnlyMemory<byte>> options, out long wait, out byte[]? owner, out Reply error)
    {
        wait = 0;
        owner = null;
        error = Reply.SyntaxError;
        var sawWait = false;
        for (var i = 0; i < options.Length; i += 2)
        {
            if (i + 1 >= options.Length)
                return false;
            var value = options[i + 1].Span;
            if (RedisErrors.IsOption(options[i].Span, "wait"u8) && !sawWait)
            {
                sawWait = true;
                if (!RedisNumbers.TryParseInt64(value, out wait))
                {
                    error = CommandParser.NotAnInteger;
                    return false;
                }

                if (wait < 0)
                {
                    error = LockReplies.InvalidWait;
                    return false;
                }
            }
            else if (RedisErrors.IsOption(options[i].Span, "owner"u8) && owner is null)
            {
                if (value.Length > LockSpace.MaxOwnerBytes)
                {
                    error = LockReplies.OwnerTooLong;
                    return false;
                }

                owner = value.ToArray();
            }
            else
            {
                return false;
            }
        }

        return true;
    }

    public static Reply? Validate(string command, byte[]? key, byte[]? token, long ttl)
        => RedisErrors.Required(command, "Key", key)
           ?? RedisErrors.Required(command, "Token", token)
           ?? RedisErrors.InRange(command, "Ttl", ttl > 0);

    public static Reply? ValidateWait(string command, long wait, byte[]? owner)
        => RedisErrors.InRange(command, "Wait", wait >= 0)
           ?? RedisErrors.InRange(command, "Owner", owner is null || owner.Length <= LockSpace.MaxOwnerBytes);

    /// <summary>The lock command names, which scripts refuse (a script may not block, nor wait for another entry).</summary>
    public static IEnumerable<byte[]> Names =>
        new[]
        {
            "lock.acquire", "lock.extend", "lock.release", "lock.info", "lock.list", "rwlock.acquire", "rwlock.extend",
            "rwlock.release", "semaphore.acquire", "semaphore.extend", "semaphore.release",
        }.Select(Encoding.ASCII.GetBytes);
}
