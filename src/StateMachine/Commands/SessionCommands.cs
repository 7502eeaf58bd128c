using System.Text;
using MessagePack;
using RaftKv.StateMachine.Memory;
using RaftKv.StateMachine.Sessions;

using C = RaftKv.StateMachine.Acl.AclCategories;
using K = RaftKv.StateMachine.Acl.KeyAccess;

namespace RaftKv.StateMachine.Commands;

/// <summary>The session commands' table entries and shared errors (see <c>docs/resp-extensions.md</c>).</summary>
internal static class SessionCommandTable
{
    public static CommandSpec[] Specs() =>
    [
        new("session.open", 2, IsWrite: true, 0, 0, 0, SessionOpenCommand.Parse) { Categories = C.Write | C.Fast },
        new("session.exec", -5, IsWrite: true, 0, 0, 0, SessionExecCommand.Parse) { Categories = C.Write | C.Fast },
        new("session.keepalive", 2, IsWrite: true, 0, 0, 0, SessionKeepAliveCommand.Parse) { Categories = C.Write | C.Fast },
        new("session.close", 2, IsWrite: true, 0, 0, 0, SessionCloseCommand.Parse) { Categories = C.Write | C.Fast },
        new("lock.acquire", -4, IsWrite: true, 1, 1, 1, LockAcquireCommand.Parse) { Categories = C.Write | C.String | C.Fast, KeyAccess = [K.Write] },
        new("lock.extend", 4, IsWrite: true, 1, 1, 1, LockExtendCommand.Parse) { Categories = C.Write | C.String | C.Fast, KeyAccess = [K.ReadWrite] },
        new("lock.release", 3, IsWrite: true, 1, 1, 1, LockReleaseCommand.Parse) { Categories = C.Write | C.String | C.Fast, KeyAccess = [K.ReadWrite] },
        new("lock.info", 2, IsWrite: false, 1, 1, 1, LockInfoCommand.Parse) { Categories = C.Read | C.Fast, KeyAccess = [K.Read] },
        new("lock.list", -1, IsWrite: false, 0, 0, 0, LockListCommand.Parse) { Categories = C.Keyspace | C.Read | C.Slow | C.Dangerous },
        new("rwlock.acquire", -5, IsWrite: true, 1, 1, 1, ReadWriteLockAcquireCommand.Parse) { Categories = C.Write | C.Fast, KeyAccess = [K.Write] },
        new("rwlock.extend", 4, IsWrite: true, 1, 1, 1, ReadWriteLockExtendCommand.Parse) { Categories = C.Write | C.Fast, KeyAccess = [K.ReadWrite] },
        new("rwlock.release", 3, IsWrite: true, 1, 1, 1, ReadWriteLockReleaseCommand.Parse) { Categories = C.Write | C.Fast, KeyAccess = [K.ReadWrite] },
        new("semaphore.acquire", -5, IsWrite: true, 1, 1, 1, SemaphoreAcquireCommand.Parse) { Categories = C.Write | C.Fast, KeyAccess = [K.Write] },
        new("semaphore.extend", 4, IsWrite: true, 1, 1, 1, SemaphoreExtendCommand.Parse) { Categories = C.Write | C.Fast, KeyAccess = [K.ReadWrite] },
        new("semaphore.release", 3, IsWrite: true, 1, 1, 1, SemaphoreReleaseCommand.Parse) { Categories = C.Write | C.Fast, KeyAccess = [K.ReadWrite] },
    ];

    public static Reply NoSession { get; } = Reply.Error("NOSESSION Unknown or expired session");

    public static Reply AlreadyAcknowledged { get; } = Reply.Error("ERR SESSION sequence number already acknowledged");

    public static Reply TooManyUnacknowledged { get; } =
        Reply.Error($"ERR SESSION too many unacknowledged writes (at most {SessionTable.MaxUnacknowledged})");

    public static Reply DataCommandsOnly { get; } = Reply.Error("ERR SESSION.EXEC wraps data commands only");

    public static Reply SequenceStartsAtOne { get; } = Reply.Error("ERR SESSION sequence numbers start at 1");

    public static Reply InvalidTtl { get; } =
        Reply.Error($"ERR invalid session TTL: must be between {SessionTable.MinTtl} and {SessionTable.MaxTtl} ms");

    public static Reply NotAnId { get; } = Reply.Error("ERR invalid session id");

    public static Reply TooManySessions { get; } = Reply.Error(
        $"ERR SESSION too many open sessions (at most {SessionTable.MaxSessions}); close idle sessions or wait for them to expire");

    public static Reply ReplyTooDeep { get; } =
        Reply.Error($"ERR SESSION the write was applied but its reply nests deeper than {ReplySerializer.MaxDepth} levels, too deep to remember");

    public static bool TryParseId(ReadOnlySpan<byte> text, out long id) => RedisNumbers.TryParseInt64(text, out id) && id > 0;
}

/// <summary><c>SESSION.OPEN ttl-ms</c>: opens a session; replies its id, the command's log position.</summary>
[MessagePackObject]
public sealed class SessionOpenCommand : WriteCommand
{
    // Expired sessions a SESSION.OPEN on a full table may forget before it refuses: bounded, as every sweep.
    private const int SweepWhenFull = 256;

    [Key(0)]
    public long Ttl { get; init; }

    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        if (!RedisNumbers.TryParseInt64(argv[1].Span, out var ttl))
            return ParsedCommand.Fail(CommandParser.NotAnInteger);
        return ttl is < SessionTable.MinTtl or > SessionTable.MaxTtl
            ? ParsedCommand.Fail(SessionCommandTable.InvalidTtl)
            : new SessionOpenCommand { Ttl = ttl };
    }

    /// <inheritdoc/>
    public override Reply? Validate()
        => RedisErrors.InRange("session.open", nameof(Ttl), Ttl is >= SessionTable.MinTtl and <= SessionTable.MaxTtl);

    /// <inheritdoc/>
    internal override long? MemoryGrowth(in CommandContext context) => MemoryCosts.PerSession;

    private protected override Reply ApplyCore(in CommandContext context)
    {
        // A log position is unique for the cluster's lifetime, so no two sessions ever share an id. Only a store applied
        // without log indexes (a test) could see a repeat; it gets an error rather than two sessions in one.
        var id = context.LogPosition;
        if (id <= 0 || context.Store.Sessions.Contains(id))
            return Reply.Error("ERR SESSION.OPEN needs a unique log position");

        // now + Ttl must not overflow: a session must expire as a key would. Only a cluster time within a day of the
        // end of time (a damaged stamp) is refused here.
        if (context.Now > long.MaxValue - Ttl)
            return RedisErrors.InvalidExpireTime("session.open");

        // A full table first forgets the sessions that expired (more than the entry's own sweep), then refuses.
        var sessions = context.Store.Sessions;
        if (sessions.Count >= SessionTable.MaxSessions)
            sessions.SweepExpired(context.Now, SweepWhenFull);
        if (sessions.Count >= SessionTable.MaxSessions)
            return SessionCommandTable.TooManySessions;
        sessions.Open(id, Ttl, context.Now, context.UserName);
        return Reply.FromInteger(id);
    }
}

/// <summary>
/// <c>SESSION.EXEC id seq ack command [arg ...]</c>: applies <see cref="Command"/> once per sequence number and answers
/// a retry with the remembered reply. <c>ack</c> releases the replies of the writes numbered below it.
/// </summary>
/// <remarks>A wrapped read never gets here: the parser hands back the read itself (reads are idempotent).</remarks>
[MessagePackObject]
public sealed class SessionExecCommand : WriteCommand
{
    [Key(0)]
    public long Session { get; init; }

    [Key(1)]
    public long Sequence { get; init; }

    [Key(2)]
    public long AcknowledgedBelow { get; init; }

    [Key(3)]
    public required WriteCommand Command { get; init; }

    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        if (!SessionCommandTable.TryParseId(argv[1].Span, out var session))
            return ParsedCommand.Fail(SessionCommandTable.NotAnId);
        if (!RedisNumbers.TryParseInt64(argv[2].Span, out var sequence) || !RedisNumbers.TryParseInt64(argv[3].Span, out var ack))
            return ParsedCommand.Fail(CommandParser.NotAnInteger);
        if (sequence < 1 || ack < 0)
            return ParsedCommand.Fail(SessionCommandTable.SequenceStartsAtOne);

        var inner = argv[4..];
        if (inner[0].Length >= 8 && Ascii.EqualsIgnoreCase(inner[0].Span[..8], "session."u8))
            return ParsedCommand.Fail(SessionCommandTable.DataCommandsOnly);

        var parsed = CommandParser.Parse(inner);
        return parsed.Outcome switch
        {
            ParseOutcome.Write => new SessionExecCommand { Session = session, Sequence = sequence, AcknowledgedBelow = ack, Command = parsed.Write! },
            ParseOutcome.Unknown => ParsedCommand.Fail(SessionCommandTable.DataCommandsOnly),
            _ => parsed,
        };
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Numbers as the parser accepts them, and a wrapped command the parser could have wrapped: a valid data or lock
    /// command, never a session command (nor a transaction, which no argument vector parses to). It can therefore not
    /// nest, and this check recurses once at most.
    /// </remarks>
    public override Reply? Validate()
    {
        const string name = "session.exec";
        var invalid = RedisErrors.InRange(name, nameof(Session), Session > 0)
                      ?? RedisErrors.InRange(name, nameof(Sequence), Sequence >= 1)
                      ?? RedisErrors.InRange(name, nameof(AcknowledgedBelow), AcknowledgedBelow >= 0)
                      ?? RedisErrors.Required(name, nameof(Command), Command);
        if (invalid is not null)
            return invalid;

        if (Command is SessionOpenCommand or SessionExecCommand or SessionKeepAliveCommand or SessionCloseCommand or TransactionCommand or ConfigSetCommand)
            return RedisErrors.InvalidCommand(name, $"{nameof(Command)} may not be a {Command.GetType().Name}");

        return Command.Validate() is { Text: { } text }
            ? RedisErrors.InvalidCommand(name, $"{nameof(Command)} is invalid ({RedisErrors.WithoutInvalidCommandPrefix(text)})")
            : null;
    }

    private protected override Reply ApplyCore(in CommandContext context)
    {
        var sessions = context.Store.Sessions;
        if (!sessions.TryGetLive(Session, context.Now, context.UserName, out var session))
            return SessionCommandTable.NoSession;

        sessions.Acknowledge(session, AcknowledgedBelow);
        sessions.Touch(session, context.Now);
        if (session.Replies.TryGetValue(Sequence, out var remembered))
            return remembered;
        if (Sequence < session.AcknowledgedBelow)
            return SessionCommandTable.AlreadyAcknowledged;
        if (session.Replies.Count >= SessionTable.MaxUnacknowledged)
            return SessionCommandTable.TooManyUnacknowledged;

        // A remembered reply is part of the state, written into snapshots and the digest: one nested too deeply to
        // write (a script can build one) would break both, so the write's reply becomes an error, the same everywhere.
        var reply = Command.Apply(context);
        if (!ReplySerializer.IsWritable(reply))
            reply = SessionCommandTable.ReplyTooDeep;
        sessions.Remember(session, Sequence, reply);
        return reply;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// The wrapped command's, when it is to run: refused for memory, the write is not applied and its refusal is not
    /// remembered, so a retry of the same sequence number may succeed once memory is freed. A retry answered from the
    /// remembered replies, or a session that is gone, is never refused. The remembered reply is charged once it exists.
    /// </remarks>
    internal override long? MemoryGrowth(in CommandContext context)
        => context.Store.Sessions.TryGetLive(Session, context.Now, context.UserName, out var session)
           && !session.Replies.ContainsKey(Sequence) && Sequence >= Math.Max(session.AcknowledgedBelow, AcknowledgedBelow)
            ? Command.MemoryGrowth(context)
            : null;

    /// <summary>The same wrapper around another command (the node rewrites the inner command's limits).</summary>
    public SessionExecCommand With(WriteCommand command)
        => new() { Session = Session, Sequence = Sequence, AcknowledgedBelow = AcknowledgedBelow, Command = command };
}

/// <summary><c>SESSION.KEEPALIVE id</c>: extends a session's life; <c>NOSESSION</c> when it is gone.</summary>
[MessagePackObject]
public sealed class SessionKeepAliveCommand : WriteCommand
{
    [Key(0)]
    public long Session { get; init; }

    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
        => SessionCommandTable.TryParseId(argv[1].Span, out var id)
            ? new SessionKeepAliveCommand { Session = id }
            : ParsedCommand.Fail(SessionCommandTable.NotAnId);

    /// <inheritdoc/>
    public override Reply? Validate() => RedisErrors.InRange("session.keepalive", nameof(Session), Session > 0);

    private protected override Reply ApplyCore(in CommandContext context)
    {
        if (!context.Store.Sessions.TryGetLive(Session, context.Now, context.UserName, out var session))
            return SessionCommandTable.NoSession;
        context.Store.Sessions.Touch(session, context.Now);
        return Reply.Ok;
    }
}

/// <summary><c>SESSION.CLOSE id</c>: forgets a session and its replies; <c>:1</c> if it was live.</summary>
[MessagePackObject]
public sealed class SessionCloseCommand : WriteCommand
{
    [Key(0)]
    public long Session { get; init; }

    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
        => SessionCommandTable.TryParseId(argv[1].Span, out var id)
            ? new SessionCloseCommand { Session = id }
            : ParsedCommand.Fail(SessionCommandTable.NotAnId);

    /// <inheritdoc/>
    public override Reply? Validate() => RedisErrors.InRange("session.close", nameof(Session), Session > 0);

    private protected override Reply ApplyCore(in CommandContext context)
    {
        // Another user's session is left alone and answered as one that does not exist.
        var sessions = context.Store.Sessions;
        if (sessions.BelongsToAnother(Session, context.UserName))
            return Reply.FromInteger(0);
        var live = sessions.TryGetLive(Session, context.Now, out _);
        sessions.Close(Session);
        return Reply.FromInteger(live ? 1 : 0);
    }
}
