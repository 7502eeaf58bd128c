using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using MessagePack;
using RaftKv.StateMachine.Acl;

namespace RaftKv.StateMachine.Commands;

/// <summary>
/// <c>MULTI</c> ... <c>EXEC</c> as one write: the commands the client queued, exactly as it sent them, and the keys it
/// <c>WATCH</c>ed with what it saw of them. It applies in one step of the log at one cluster time, so no other command
/// runs in between: either a watched key is no longer as it was seen and nothing runs (EXEC answers the null array),
/// or every queued command runs, in order, and EXEC answers the array of their replies.
/// </summary>
/// <remarks>
/// <para>
/// As in Redis, an error in one command is that command's reply and the others still run; nothing rolls back. What
/// Redis checks before queuing — the name, the number of arguments, commands a transaction may not hold — the node
/// checks with <see cref="CheckQueued"/> (a refusal makes EXEC answer <c>EXECABORT</c>); syntax, types and values are
/// checked when the command runs, here.
/// </para>
/// <para>
/// The commands are parsed here, on every replica alike (the parser is part of the state machine's definition), so a
/// transaction holds any data command as plain bytes. A transaction also answers <c>PING</c>, <c>ECHO</c>, <c>TIME</c>
/// (the entry's cluster time), <c>SELECT</c> (the commands after it use that database) and <c>UNWATCH</c> (nothing
/// left to unwatch by then) itself. It may not hold the session and lock commands: their reply is their own position
/// in the log, which every command of a transaction shares.
/// </para>
/// </remarks>
[MessagePackObject]
public sealed class TransactionCommand : WriteCommand
{
    private static readonly Reply Pong = Reply.Status("PONG");

    // The connection commands a transaction runs itself, with their arity.
    private static readonly (string Name, int Arity)[] ConnectionCommands =
        [("ping", -1), ("echo", 2), ("time", 1), ("select", 2), ("unwatch", 1)];

    // The session and lock commands: their reply is their own position in the log (a session id, a fencing token).
    private static readonly HashSet<string> PositionalCommands = [.. SessionCommandTable.Specs().Select(static spec => spec.Name)];

    // Redis 7 looks subcommands up like commands before queuing. SCRIPT is the one data command that has them.
    private static readonly (string Name, int Arity)[] ScriptSubcommands =
        [("load", 3), ("exists", -3), ("flush", -2), ("kill", 2), ("help", 2)];

    /// <summary>
    /// The most commands a transaction may carry (1,048,576). A node's limit on what one <c>MULTI</c> queues
    /// (<c>RaftKv:Limits:MaxTransactionCommands</c>, 10,000 by default) must not exceed it; it bounds the work and the
    /// reply of one EXEC that reaches the log past the node.
    /// </summary>
    public const int MaxQueuedCommands = 1 << 20;

    /// <summary>
    /// The most watched keys a transaction may carry (1,048,576); a node's <c>RaftKv:Limits:MaxWatchedKeys</c> (10,000
    /// by default) must not exceed it.
    /// </summary>
    public const int MaxWatchedKeys = 1 << 20;

    /// <summary>Redis's refusal of a command that may not be queued: <c>ERR Command not allowed inside a transaction</c>.</summary>
    public static Reply NotAllowed { get; } = Reply.Error("ERR Command not allowed inside a transaction");

    /// <summary>The queued commands, each as its arguments (the name first), in the order they were sent.</summary>
    [Key(0)]
    public required byte[][][] Commands { get; init; }

    /// <summary>The watched keys with what <c>WATCH</c> saw of them: the commands run only if every one still holds.</summary>
    [Key(1)]
    public WatchedKey[] Conditions { get; init; } = [];

    /// <summary>
    /// The proposing node's <c>proto-max-bulk-len</c>, enforced by the queued commands that can grow a string (see
    /// <see cref="IStringLengthLimited"/>).
    /// </summary>
    [Key(2)]
    public long MaxStringLength { get; init; } = IStringLengthLimited.DefaultMaxLength;

    /// <summary>
    /// Checks a command sent inside <c>MULTI</c> as Redis does before queuing it: a command a transaction runs, with a
    /// valid number of arguments (and, for <c>SCRIPT</c>, a known subcommand), that a transaction may hold.
    /// </summary>
    /// <param name="argv">The command's arguments, the name first.</param>
    /// <param name="error">The error to answer when the command is refused; null otherwise.</param>
    public static QueueCheck CheckQueued(ReadOnlySpan<ReadOnlyMemory<byte>> argv, out Reply? error)
    {
        error = null;
        if (argv.IsEmpty)
            return QueueCheck.NotTransactional;

        var name = argv[0].Span;
        foreach (var (own, arity) in ConnectionCommands)
        {
            if (Ascii.EqualsIgnoreCase(name, own))
            {
                error = CommandParser.HasValidArity(arity, argv.Length) ? null : CommandParser.WrongArity(own);
                return error is null ? QueueCheck.Queue : QueueCheck.Refuse;
            }
        }

        if (CommandParser.Find(name) is not { } spec)
            return QueueCheck.NotTransactional;

        error = !CommandParser.HasValidArity(spec.Arity, argv.Length) ? CommandParser.WrongArity(spec.Name)
            : PositionalCommands.Contains(spec.Name) ? NotAllowed
            : spec.Name == "script" ? ScriptSubcommandError(argv)
            // ACL WHOAMI, LOG, SAVE, LOAD, GENPASS, HELP are the node's: the state machine cannot answer them inside EXEC.
            : spec.Name == "acl" && CommandParser.Parse(argv).Outcome == ParseOutcome.Unknown ? NotAllowed
            : null;
        return error is null ? QueueCheck.Queue : QueueCheck.Refuse;
    }

    /// <summary>
    /// The database a connection has selected once EXEC has run <paramref name="commands"/>, starting in
    /// <paramref name="database"/>: the one the last valid <c>SELECT</c> among them named, as in Redis.
    /// </summary>
    public static int DatabaseAfter(IEnumerable<byte[][]> commands, int database)
    {
        foreach (var argv in commands)
        {
            if (argv is [var name, var index] && Ascii.EqualsIgnoreCase(name, "select"u8) && ParseDatabase(index, out var selected) is null)
                database = selected;
        }

        return database;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Structure only: each queued command is an argument vector (name first) with no null argument, and each watched
    /// key is well-formed. What the queued commands say is judged when they run, by the parser, as for any client.
    /// </remarks>
    public override Reply? Validate()
    {
        const string name = "exec";
        if (Commands is null)
            return RedisErrors.Required(name, nameof(Commands), Commands);
        if (Commands.Length > MaxQueuedCommands)
            return RedisErrors.InvalidCommand(name, $"{nameof(Commands)} holds more than {MaxQueuedCommands} commands");
        for (var i = 0; i < Commands.Length; i++)
        {
            if (RedisErrors.RequiredArguments(name, $"{nameof(Commands)}[{i}]", Commands[i], minimum: 1) is { } invalid)
                return invalid;
        }

        if (Conditions is null)
            return RedisErrors.Required(name, nameof(Conditions), Conditions);
        if (Conditions.Length > MaxWatchedKeys)
            return RedisErrors.InvalidCommand(name, $"{nameof(Conditions)} holds more than {MaxWatchedKeys} keys");
        for (var i = 0; i < Conditions.Length; i++)
        {
            if (WatchedKey.Validate(Conditions[i], $"{nameof(Conditions)}[{i}]") is { } invalid)
                return invalid;
        }

        return RedisErrors.StringLimit(name, nameof(MaxStringLength), MaxStringLength);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// As Redis: over the limit, an EXEC that holds a command which may grow memory is refused whole (nothing runs);
    /// under it, each queued command is judged as it runs, so one that would take used memory past the limit answers
    /// <c>-OOM</c> in EXEC's array while the others run.
    /// </remarks>
    internal override long? MemoryGrowth(in CommandContext context)
    {
        if (context.Store.Admits(0))
            return 0;
        foreach (var argv in Commands)
        {
            var parsed = CommandParser.Parse(Array.ConvertAll(argv, static argument => (ReadOnlyMemory<byte>)argument));
            if (parsed.Outcome == ParseOutcome.Write && WithLimits(parsed.Write!).MemoryGrowth(context) is not null)
                return 0;
        }

        return null;
    }

    private protected override Reply ApplyCore(in CommandContext context)
    {
        foreach (var condition in Conditions)
        {
            if (!condition.HoldsAt(context.Store, context.Now))
                return Reply.NullArray;
        }

        var database = context.Database;
        var replies = new Reply[Commands.Length];
        for (var i = 0; i < replies.Length; i++)
        {
            var argv = Array.ConvertAll(Commands[i], static argument => (ReadOnlyMemory<byte>)argument);
            try
            {
                replies[i] = Run(argv, context.WithDatabase(database), ref database);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // A command that throws is a bug; every replica throws at the same point and answers the same, and
                // the rest of the transaction runs, as it would after any other error.
                replies[i] = Reply.Error("ERR internal error while applying the command: " + e.GetType().Name);
            }
        }

        return Reply.FromArray(replies);
    }

    private Reply Run(ReadOnlySpan<ReadOnlyMemory<byte>> argv, in CommandContext context, ref int database)
    {
        // The node queues only what this check accepts; a log entry from a node that accepted more still gets the
        // same answer on every replica.
        switch (CheckQueued(argv, out var refusal))
        {
            case QueueCheck.Refuse:
                return refusal!;
            case QueueCheck.NotTransactional:
                var unknown = argv.IsEmpty ? "" : RedisErrors.Printable(argv[0].Span);
                return Reply.Error($"ERR unknown command '{unknown}' in a transaction");
        }

        // Redis checks the permissions again at EXEC: the user's rules may have changed since the command was queued.
        if (!context.User.IsUnrestricted && AclCheck.Evaluate(context.User, argv, out _, out _) is var denial and not AclDenial.None)
            return denial == AclDenial.Command ? AclCommandDenied : AclKeyDenied;

        var name = argv[0].Span;
        if (Ascii.EqualsIgnoreCase(name, "ping"u8))
            return argv.Length == 1 ? Pong : argv.Length == 2 ? Reply.FromBulk(argv[1].ToArray()) : CommandParser.WrongArity("ping");
        if (Ascii.EqualsIgnoreCase(name, "echo"u8))
            return Reply.FromBulk(argv[1].ToArray());
        if (Ascii.EqualsIgnoreCase(name, "time"u8))
            return Time(context.Now);
        if (Ascii.EqualsIgnoreCase(name, "select"u8))
            return ParseDatabase(argv[1].Span, out var selected) ?? Select(selected, ref database);
        if (Ascii.EqualsIgnoreCase(name, "unwatch"u8))
            return Reply.Ok;

        var parsed = CommandParser.Parse(argv);
        return parsed.Outcome switch
        {
            ParseOutcome.Write => WithLimits(parsed.Write!).Apply(context),
            ParseOutcome.Read => parsed.Read!.Execute(context),
            ParseOutcome.Error => parsed.Error!,
            _ => NotAllowed,
        };

        static Reply Select(int selected, ref int database)
        {
            database = selected;
            return Reply.Ok;
        }
    }

    private const string AclChanged =
        "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: ";

    private static readonly Reply AclCommandDenied = Reply.Error(AclChanged + "no permission to execute the command or subcommand");
    private static readonly Reply AclKeyDenied = Reply.Error(AclChanged + "no permission to touch the specified keys");

    private WriteCommand WithLimits(WriteCommand command)
        => command is IStringLengthLimited limited && limited.MaxLength != MaxStringLength ? limited.WithMaxLength(MaxStringLength) : command;

    // SELECT's argument as the node's SELECT reads it: the database, or Redis's error.
    private static Reply? ParseDatabase(ReadOnlySpan<byte> argument, out int database)
    {
        switch (RedisNumbers.ParseInt32(argument, out database))
        {
            case IntegerParse.NotAnInteger:
                return CommandParser.NotAnInteger;
            case IntegerParse.OutOfRange:
                return RedisErrors.Int32OutOfRange;
        }

        return (uint)database < KeyValueStore.DatabaseCount ? null : KeyValueStore.InvalidDatabase;
    }

    private static Reply? ScriptSubcommandError(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        foreach (var (sub, arity) in ScriptSubcommands)
        {
            if (Ascii.EqualsIgnoreCase(argv[1].Span, sub))
                return CommandParser.HasValidArity(arity, argv.Length) ? null : CommandParser.WrongArity("script|" + sub);
        }

        // Not a subcommand: the parser's own "unknown subcommand" reply.
        return CommandParser.Parse(argv).Error;
    }

    // TIME inside a transaction is the entry's cluster time, as inside a script: [seconds, microseconds].
    private static Reply Time(long now)
    {
        var seconds = Math.DivRem(now, 1000, out var milliseconds);
        return Reply.FromArray(
        [
            Reply.FromBulk(seconds.ToString(CultureInfo.InvariantCulture)),
            Reply.FromBulk((milliseconds * 1000).ToString(CultureInfo.InvariantCulture)),
        ]);
    }
}

/// <summary>What a transaction makes of a command sent inside <c>MULTI</c> (see <see cref="TransactionCommand.CheckQueued"/>).</summary>
public enum QueueCheck : byte
{
    /// <summary>Queue it: it runs at <c>EXEC</c>.</summary>
    Queue,
    /// <summary>Refuse it with an error; <c>EXEC</c> then discards the transaction (<c>EXECABORT</c>).</summary>
    Refuse,
    /// <summary>Not a command a transaction runs (a node command, or an unknown name): the node decides.</summary>
    NotTransactional,
}

/// <summary>What a watched key was when <c>WATCH</c> read it. Persisted in the log: append-only.</summary>
public enum WatchedKeyState : byte
{
    /// <summary>Not read (the read failed, or has not run): never holds, so EXEC does not run.</summary>
    Unknown = 0,
    /// <summary>No live key.</summary>
    Absent = 1,
    /// <summary>A live key, with <see cref="WatchedKey.ValueHash"/> and <see cref="WatchedKey.ExpireAt"/>.</summary>
    Present = 2,
}

/// <summary>
/// A key a client <c>WATCH</c>es and what it was then: absent, or a value (by its SHA-256) and an expiry, judged at
/// the read's time (a key whose time is up is absent). <c>EXEC</c> runs only if the key is still exactly so.
/// </summary>
/// <remarks>
/// The comparison is by value, not by version: a write that leaves the same value and expiry does not abort EXEC
/// (Redis would). The node creates the key at <c>WATCH</c> and <see cref="WatchCommand"/>'s read fills in the rest; the
/// node proposes EXEC only after the connection's earlier reads have run, so it is complete by then.
/// </remarks>
[MessagePackObject]
public sealed class WatchedKey
{
    /// <summary>The database the client had selected when it sent <c>WATCH</c>.</summary>
    [Key(0)]
    public int Database { get; init; }

    /// <summary>The key.</summary>
    [Key(1)]
    public required byte[] Key { get; init; }

    /// <summary>Whether the key was live, or <see cref="WatchedKeyState.Unknown"/> until read.</summary>
    [Key(2)]
    public WatchedKeyState State { get; set; }

    /// <summary>The key's absolute expiry (<see cref="ClusterTime.NoExpiry"/> for none) when present; 0 otherwise.</summary>
    [Key(3)]
    public long ExpireAt { get; set; }

    /// <summary>The SHA-256 of the key's value when present; null otherwise.</summary>
    [Key(4)]
    public byte[]? ValueHash { get; set; }

    /// <summary>
    /// The <c>exec</c> refusal when <paramref name="key"/> is not what a node records: a key, a database, a known state and,
    /// when present, a SHA-256; null when it is.
    /// </summary>
    internal static Reply? Validate(WatchedKey? key, string field)
    {
        const string name = "exec";
        if (key is null)
            return RedisErrors.Required(name, field, key);
        return RedisErrors.Required(name, $"{field}.{nameof(Key)}", key.Key)
               ?? RedisErrors.Database(name, $"{field}.{nameof(Database)}", key.Database)
               ?? RedisErrors.Defined(name, $"{field}.{nameof(State)}", key.State)
               ?? (key.State != WatchedKeyState.Present || key.ValueHash is { Length: SHA256.HashSizeInBytes }
                   ? null
                   : RedisErrors.InvalidCommand(name, $"{field}.{nameof(ValueHash)} is not a SHA-256"));
    }

    /// <summary>Records what the key is in <paramref name="store"/> at <paramref name="now"/>.</summary>
    internal void Capture(KeyValueStore store, long now)
    {
        if ((uint)Database < KeyValueStore.DatabaseCount && store.Databases[Database].TryGet(Key, now, out var entry))
        {
            (State, ExpireAt, ValueHash) = (WatchedKeyState.Present, entry.ExpireAt, SHA256.HashData(entry.Value));
            return;
        }

        (State, ExpireAt, ValueHash) = (WatchedKeyState.Absent, 0, null);
    }

    /// <summary>True when the key is at <paramref name="now"/> what <see cref="Capture"/> recorded.</summary>
    internal bool HoldsAt(KeyValueStore store, long now)
    {
        if ((uint)Database >= KeyValueStore.DatabaseCount)
            return false;

        var live = store.Databases[Database].TryGet(Key, now, out var entry);
        return State switch
        {
            WatchedKeyState.Absent => !live,
            WatchedKeyState.Present => live && entry.ExpireAt == ExpireAt && ValueHash is not null
                                       && SHA256.HashData(entry.Value).AsSpan().SequenceEqual(ValueHash),
            _ => false,
        };
    }
}

/// <summary>
/// <c>WATCH</c>'s read: records what each key is now (after the read barrier, at the read's time), for EXEC to
/// compare. Answers <c>OK</c>.
/// </summary>
public sealed class WatchCommand(IReadOnlyList<WatchedKey> keys) : ReadCommand
{
    /// <summary>The keys this read records.</summary>
    public IReadOnlyList<WatchedKey> Keys { get; } = keys;

    internal override Reply Execute(in CommandContext context)
    {
        foreach (var key in Keys)
            key.Capture(context.Store, context.Now);
        return Reply.Ok;
    }
}
