using System.Buffers.Binary;
using MessagePack;

namespace RaftKv.StateMachine.Commands;

/// <summary><c>EXISTS key [key ...]</c>: how many of the keys exist, a repeated key counting each time.</summary>
public sealed class ExistsCommand(byte[][] keys) : ReadCommand
{
    public byte[][] Keys { get; } = keys;

    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv) => new ExistsCommand(MGetCommand.KeyArguments(argv, 1));

    internal override Reply Execute(in CommandContext context)
    {
        var count = 0L;
        foreach (var key in Keys)
        {
            if (context.Keyspace.Contains(key, context.Now))
                count++;
        }

        return Reply.FromInteger(count);
    }
}

/// <summary><c>TYPE key</c>: <c>string</c>, or <c>none</c> for a missing key (only strings exist so far).</summary>
public sealed class TypeCommand(byte[] key) : ReadCommand
{
    private static readonly Reply String = Reply.Status("string");
    private static readonly Reply None = Reply.Status("none");

    public byte[] Key { get; } = key;

    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv) => new TypeCommand(argv[1].ToArray());

    internal override Reply Execute(in CommandContext context) => context.Keyspace.Contains(Key, context.Now) ? String : None;
}

/// <summary>Which of the four EXPIRE commands. Persisted: values are append-only.</summary>
public enum ExpireVariant : byte
{
    /// <summary>EXPIRE key seconds: relative, in seconds.</summary>
    Expire = 0,
    /// <summary>PEXPIRE key milliseconds.</summary>
    PExpire = 1,
    /// <summary>EXPIREAT key unix-seconds.</summary>
    ExpireAt = 2,
    /// <summary>PEXPIREAT key unix-milliseconds.</summary>
    PExpireAt = 3,
}

/// <summary>The NX/XX/GT/LT conditions of the EXPIRE commands. Persisted: values are append-only.</summary>
[Flags]
public enum ExpireConditions : byte
{
    /// <summary>Always set.</summary>
    None = 0,
    /// <summary>NX: only when the key has no expiry.</summary>
    IfNoExpiry = 1,
    /// <summary>XX: only when the key has an expiry.</summary>
    IfHasExpiry = 2,
    /// <summary>GT: only when the new expiry is later (no expiry counts as infinitely late).</summary>
    IfGreater = 4,
    /// <summary>LT: only when the new expiry is earlier.</summary>
    IfLess = 8,
}

/// <summary>
/// <c>EXPIRE</c>, <c>PEXPIRE</c>, <c>EXPIREAT</c>, <c>PEXPIREAT</c> <c>key time [NX|XX|GT|LT]</c>: 1 when the expiry
/// was set (or the key deleted because the time is already past), 0 when the key is missing or a condition failed.
/// </summary>
[MessagePackObject]
public sealed class ExpireCommand : WriteCommand
{
    private static readonly string[] Names = ["expire", "pexpire", "expireat", "pexpireat"];

    [Key(0)]
    public required byte[] Key { get; init; }

    [Key(1)]
    public ExpireVariant Variant { get; init; }

    /// <summary>The time in milliseconds, relative or absolute by <see cref="Variant"/>; any sign.</summary>
    [Key(2)]
    public long Milliseconds { get; init; }

    [Key(3)]
    public ExpireConditions Conditions { get; init; }

    internal static CommandParse For(ExpireVariant variant) => argv => Parse(argv, variant);

    // expire.c: options first (parseExtendedExpireArgumentsOrReply), then the number, then the unit conversion.
    private static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv, ExpireVariant variant)
    {
        var conditions = ExpireConditions.None;
        for (var i = 3; i < argv.Length; i++)
        {
            var option = argv[i].Span;
            if (RedisErrors.IsOption(option, "NX"u8))
                conditions |= ExpireConditions.IfNoExpiry;
            else if (RedisErrors.IsOption(option, "XX"u8))
                conditions |= ExpireConditions.IfHasExpiry;
            else if (RedisErrors.IsOption(option, "GT"u8))
                conditions |= ExpireConditions.IfGreater;
            else if (RedisErrors.IsOption(option, "LT"u8))
                conditions |= ExpireConditions.IfLess;
            else
                return ParsedCommand.Fail(Reply.Error("ERR Unsupported option " + RedisErrors.Printable(option)));
        }

        if (conditions.HasFlag(ExpireConditions.IfNoExpiry) && conditions != ExpireConditions.IfNoExpiry)
            return ParsedCommand.Fail(Reply.Error("ERR NX and XX, GT or LT options at the same time are not compatible"));
        if (conditions.HasFlag(ExpireConditions.IfGreater | ExpireConditions.IfLess))
            return ParsedCommand.Fail(Reply.Error("ERR GT and LT options at the same time are not compatible"));
        if (!RedisNumbers.TryParseInt64(argv[2].Span, out var when))
            return ParsedCommand.Fail(RedisErrors.NotAnInteger);
        if (variant is ExpireVariant.Expire or ExpireVariant.ExpireAt)
        {
            if (when is > long.MaxValue / 1000 or < long.MinValue / 1000)
                return ParsedCommand.Fail(RedisErrors.InvalidExpireTime(Names[(int)variant]));
            when *= 1000;
        }

        return new ExpireCommand { Key = argv[1].ToArray(), Variant = variant, Milliseconds = when, Conditions = conditions };
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Conditions as the parser combines them (NX alone; not GT with LT); EXPIRE's and EXPIREAT's time, given in
    /// seconds, a whole number of them. Any sign: a time already past deletes the key.
    /// </remarks>
    public override Reply? Validate()
    {
        if (!Enum.IsDefined(Variant))
            return RedisErrors.InvalidCommand("expire", nameof(Variant) + " is not a known value");

        var name = Names[(int)Variant];
        const ExpireConditions all = ExpireConditions.IfNoExpiry | ExpireConditions.IfHasExpiry | ExpireConditions.IfGreater | ExpireConditions.IfLess;
        var conditionsValid = (Conditions & ~all) == 0
                              && (!Conditions.HasFlag(ExpireConditions.IfNoExpiry) || Conditions == ExpireConditions.IfNoExpiry)
                              && !Conditions.HasFlag(ExpireConditions.IfGreater | ExpireConditions.IfLess);
        return RedisErrors.Required(name, nameof(Key), Key)
               ?? (conditionsValid ? null : RedisErrors.InvalidCommand(name, nameof(Conditions) + " is not a valid combination"))
               ?? RedisErrors.InRange(name, nameof(Milliseconds),
                   Variant is ExpireVariant.PExpire or ExpireVariant.PExpireAt || Milliseconds % 1000 == 0);
    }

    private protected override Reply ApplyCore(in CommandContext context)
    {
        var now = context.Now;
        var when = Milliseconds;
        if (Variant is ExpireVariant.Expire or ExpireVariant.PExpire)
        {
            // Checked before the key is looked up, as Redis does.
            if (when > long.MaxValue - now)
                return RedisErrors.InvalidExpireTime(Names[(int)Variant]);
            when += now;
        }

        var keyspace = context.Keyspace;
        if (!keyspace.TryGet(Key, now, out var entry))
            return Reply.FromInteger(0);

        var current = ExpiryTime.Reported(entry);
        var refused =
            (Conditions.HasFlag(ExpireConditions.IfNoExpiry) && current != -1)
            || (Conditions.HasFlag(ExpireConditions.IfHasExpiry) && current == -1)
            || (Conditions.HasFlag(ExpireConditions.IfGreater) && (when <= current || current == -1))
            || (Conditions.HasFlag(ExpireConditions.IfLess) && current != -1 && when >= current);
        if (refused)
            return Reply.FromInteger(0);

        if (when <= now)
            keyspace.Remove(Key, now);
        else
            keyspace.Set(Key, entry.Value, ExpiryTime.Stored(when));
        return Reply.FromInteger(1);
    }
}

/// <summary>Which of the four TTL queries.</summary>
public enum TtlVariant : byte
{
    /// <summary>TTL: remaining seconds, rounded.</summary>
    Ttl,
    /// <summary>PTTL: remaining milliseconds.</summary>
    PTtl,
    /// <summary>EXPIRETIME: absolute Unix seconds, rounded.</summary>
    ExpireTime,
    /// <summary>PEXPIRETIME: absolute Unix milliseconds.</summary>
    PExpireTime,
}

/// <summary><c>TTL</c>, <c>PTTL</c>, <c>EXPIRETIME</c>, <c>PEXPIRETIME</c> <c>key</c>: -2 when missing, -1 without expiry.</summary>
public sealed class TtlCommand(byte[] key, TtlVariant variant) : ReadCommand
{
    public byte[] Key { get; } = key;

    internal static CommandParse For(TtlVariant variant) => argv => new TtlCommand(argv[1].ToArray(), variant);

    // expire.c ttlGenericCommand: a past-due remainder is 0; seconds round half up ((ms + 500) / 1000, computed here
    // without the signed overflow that C wraps through for an expiry near the end of time).
    internal override Reply Execute(in CommandContext context)
    {
        if (!context.Keyspace.TryGet(Key, context.Now, out var entry))
            return Reply.FromInteger(-2);
        if (!entry.HasExpiry)
            return Reply.FromInteger(-1);

        var absolute = variant is TtlVariant.ExpireTime or TtlVariant.PExpireTime;
        var milliseconds = Math.Max(absolute ? entry.ExpireAt : entry.ExpireAt - context.Now, 0);
        var inSeconds = variant is TtlVariant.Ttl or TtlVariant.ExpireTime;
        return Reply.FromInteger(inSeconds ? (long)(((ulong)milliseconds + 500) / 1000) : milliseconds);
    }
}

/// <summary><c>PERSIST key</c>: 1 when an expiry was removed, 0 when the key is missing or has none.</summary>
[MessagePackObject]
public sealed class PersistCommand : WriteCommand
{
    [Key(0)]
    public required byte[] Key { get; init; }

    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv) => new PersistCommand { Key = argv[1].ToArray() };

    /// <inheritdoc/>
    public override Reply? Validate() => RedisErrors.Required("persist", nameof(Key), Key);

    private protected override Reply ApplyCore(in CommandContext context)
    {
        if (!context.Keyspace.TryGet(Key, context.Now, out var entry) || !entry.HasExpiry)
            return Reply.FromInteger(0);

        context.Keyspace.Set(Key, entry.Value, ClusterTime.NoExpiry);
        return Reply.FromInteger(1);
    }
}

/// <summary>
/// <c>RENAME key newkey</c> (OK) and <c>RENAMENX key newkey</c> (1, or 0 when <c>newkey</c> exists): the value moves
/// with its time to live; a missing source is <c>ERR no such key</c>.
/// </summary>
[MessagePackObject]
public sealed class RenameCommand : WriteCommand
{
    [Key(0)]
    public required byte[] Source { get; init; }

    [Key(1)]
    public required byte[] Destination { get; init; }

    /// <summary>RENAMENX: never overwrite.</summary>
    [Key(2)]
    public bool OnlyIfDestinationMissing { get; init; }

    internal static ParsedCommand ParseRename(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
        => new RenameCommand { Source = argv[1].ToArray(), Destination = argv[2].ToArray() };

    internal static ParsedCommand ParseRenameNx(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
        => new RenameCommand { Source = argv[1].ToArray(), Destination = argv[2].ToArray(), OnlyIfDestinationMissing = true };

    /// <inheritdoc/>
    public override Reply? Validate()
    {
        var name = OnlyIfDestinationMissing ? "renamenx" : "rename";
        return RedisErrors.Required(name, nameof(Source), Source) ?? RedisErrors.Required(name, nameof(Destination), Destination);
    }

    private protected override Reply ApplyCore(in CommandContext context)
    {
        var keyspace = context.Keyspace;
        if (!keyspace.TryGet(Source, context.Now, out var entry))
            return RedisErrors.NoSuchKey;

        // Renaming a key to itself changes nothing, but still needs the key to exist (checked above).
        if (Source.AsSpan().SequenceEqual(Destination))
            return OnlyIfDestinationMissing ? Reply.FromInteger(0) : Reply.Ok;
        if (OnlyIfDestinationMissing && keyspace.Contains(Destination, context.Now))
            return Reply.FromInteger(0);

        keyspace.Remove(Source, context.Now);
        keyspace.Set(Destination, entry.Value, entry.ExpireAt);
        return OnlyIfDestinationMissing ? Reply.FromInteger(1) : Reply.Ok;
    }
}

/// <summary>
/// <c>COPY source destination [DB index] [REPLACE]</c>: 1 when copied (with its time to live), 0 when the source is
/// missing or the destination exists without REPLACE.
/// </summary>
[MessagePackObject]
public sealed class CopyCommand : WriteCommand
{
    [Key(0)]
    public required byte[] Source { get; init; }

    [Key(1)]
    public required byte[] Destination { get; init; }

    /// <summary>The destination database, or -1 for the client's own.</summary>
    [Key(2)]
    public int TargetDatabase { get; init; } = -1;

    [Key(3)]
    public bool Replace { get; init; }

    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        var target = -1;
        var replace = false;
        for (var i = 3; i < argv.Length; i++)
        {
            var option = argv[i].Span;
            if (RedisErrors.IsOption(option, "REPLACE"u8))
            {
                replace = true;
            }
            else if (RedisErrors.IsOption(option, "DB"u8) && i + 1 < argv.Length)
            {
                switch (RedisNumbers.ParseInt32(argv[++i].Span, out target))
                {
                    case IntegerParse.NotAnInteger:
                        return ParsedCommand.Fail(RedisErrors.NotAnInteger);
                    case IntegerParse.OutOfRange:
                        return ParsedCommand.Fail(RedisErrors.Int32OutOfRange);
                }

                if ((uint)target >= KeyValueStore.DatabaseCount)
                    return ParsedCommand.Fail(KeyValueStore.InvalidDatabase);
            }
            else
            {
                return ParsedCommand.Fail(Reply.SyntaxError);
            }
        }

        return new CopyCommand { Source = argv[1].ToArray(), Destination = argv[2].ToArray(), TargetDatabase = target, Replace = replace };
    }

    /// <inheritdoc/>
    public override Reply? Validate()
        => RedisErrors.Required("copy", nameof(Source), Source)
           ?? RedisErrors.Required("copy", nameof(Destination), Destination)
           ?? (TargetDatabase == -1 ? null : RedisErrors.Database("copy", nameof(TargetDatabase), TargetDatabase));

    /// <inheritdoc/>
    /// <remarks>The copy is charged in full, though it shares the source's array: an upper bound.</remarks>
    internal override long? MemoryGrowth(in CommandContext context)
    {
        if (!context.Keyspace.TryGet(Source, context.Now, out var entry))
            return 0;
        var destination = context.Store.Databases[TargetDatabase < 0 ? context.Database : TargetDatabase];
        return StoreGrowth.OfStore(destination, Destination, entry.Value.Length, entry.HasExpiry);
    }

    private protected override Reply ApplyCore(in CommandContext context)
    {
        var target = TargetDatabase < 0 ? context.Database : TargetDatabase;
        if (target == context.Database && Source.AsSpan().SequenceEqual(Destination))
            return RedisErrors.SameObject;

        if (!context.Keyspace.TryGet(Source, context.Now, out var entry))
            return Reply.FromInteger(0);

        var destination = context.Store.Databases[target];
        if (!Replace && destination.Contains(Destination, context.Now))
            return Reply.FromInteger(0);

        // Values are immutable once stored, so both keys may share the array.
        destination.Set(Destination, entry.Value, entry.ExpireAt);
        return Reply.FromInteger(1);
    }
}

/// <summary><c>KEYS pattern</c>: every live key matching the glob pattern, in hash order.</summary>
public sealed class KeysCommand(byte[] pattern) : ReadCommand
{
    public byte[] Pattern { get; } = pattern;

    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv) => new KeysCommand(argv[1].ToArray());

    internal override Reply Execute(in CommandContext context)
    {
        var all = GlobPattern.MatchesAll(Pattern);
        var keys = new List<Reply>();
        foreach (var key in context.Keyspace.LiveKeys(context.Now))
        {
            if (all || GlobPattern.IsMatch(Pattern, key))
                keys.Add(Reply.FromBulk(key));
        }

        return Reply.FromArray([.. keys]);
    }
}

/// <summary>
/// <c>SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]</c>: <c>[next cursor, [keys...]]</c>. The cursor is a
/// position in the keyspace's hash order (see <see cref="Keyspace.Scan"/>), so it differs from Redis's numbers but
/// keeps Redis's guarantees, on whichever replica the next step runs.
/// </summary>
public sealed class ScanCommand(ulong cursor, long count, byte[]? pattern, byte[]? type) : ReadCommand
{
    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        if (!RedisNumbers.TryParseCursor(argv[1].Span, out var cursor))
            return ParsedCommand.Fail(Reply.Error("ERR invalid cursor"));

        long count = 10;
        byte[]? pattern = null, type = null;
        for (var i = 2; i < argv.Length; i += 2)
        {
            var option = argv[i].Span;
            var hasValue = i + 1 < argv.Length;
            if (RedisErrors.IsOption(option, "COUNT"u8) && hasValue)
            {
                if (!RedisNumbers.TryParseInt64(argv[i + 1].Span, out count))
                    return ParsedCommand.Fail(RedisErrors.NotAnInteger);
                if (count < 1)
                    return ParsedCommand.Fail(Reply.SyntaxError);
            }
            else if (RedisErrors.IsOption(option, "MATCH"u8) && hasValue)
            {
                pattern = argv[i + 1].ToArray();
            }
            else if (RedisErrors.IsOption(option, "TYPE"u8) && hasValue)
            {
                type = argv[i + 1].ToArray();
            }
            else
            {
                return ParsedCommand.Fail(Reply.SyntaxError);
            }
        }

        return new ScanCommand(cursor, count, pattern is null || GlobPattern.MatchesAll(pattern) ? null : pattern, type);
    }

    internal override Reply Execute(in CommandContext context)
    {
        var found = new List<byte[]>();
        // Every key is a string for now: a TYPE filter keeps all of them or none (Redis compares the name ignoring case).
        var next = type is not null && !RedisErrors.IsOption(type, "string"u8)
            ? context.Keyspace.Scan(cursor, count, context.Now, static _ => false, found)
            : context.Keyspace.Scan(cursor, count, context.Now, key => pattern is null || GlobPattern.IsMatch(pattern, key), found);

        return Reply.FromArray([Reply.FromBulk(RedisNumbers.Format(next)), Reply.FromArray([.. found.Select(Reply.FromBulk)])]);
    }
}

/// <summary>
/// <c>RANDOMKEY</c>: a live key, or nil when there is none. Deterministic: the key at a position in hash order
/// derived from the command's time, so replicas at the same state and time pick the same key and the pick moves on
/// every millisecond.
/// </summary>
public sealed class RandomKeyCommand : ReadCommand
{
    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv) => new RandomKeyCommand();

    internal override Reply Execute(in CommandContext context)
    {
        Span<byte> time = stackalloc byte[sizeof(long)];
        BinaryPrimitives.WriteInt64LittleEndian(time, context.Now);
        return Reply.FromBulk(context.Keyspace.KeyAt(ByteArrayComparer.Hash64(time), context.Now));
    }
}

/// <summary><c>DBSIZE</c>: the number of live keys in the selected database.</summary>
public sealed class DbSizeCommand : ReadCommand
{
    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv) => new DbSizeCommand();

    internal override Reply Execute(in CommandContext context) => Reply.FromInteger(context.Keyspace.CountLive(context.Now));
}

/// <summary><c>FLUSHDB [ASYNC|SYNC]</c> (the selected database) and <c>FLUSHALL [ASYNC|SYNC]</c> (every database).</summary>
/// <remarks>ASYNC and SYNC differ in Redis only in which thread frees memory; both empty the databases at once.</remarks>
[MessagePackObject]
public sealed class FlushCommand : WriteCommand
{
    /// <summary>FLUSHALL rather than FLUSHDB.</summary>
    [Key(0)]
    public bool AllDatabases { get; init; }

    internal static ParsedCommand ParseFlushDb(ReadOnlySpan<ReadOnlyMemory<byte>> argv) => Parse(argv, false);

    internal static ParsedCommand ParseFlushAll(ReadOnlySpan<ReadOnlyMemory<byte>> argv) => Parse(argv, true);

    private static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv, bool all)
        => argv.Length == 1 || (argv.Length == 2 && (RedisErrors.IsOption(argv[1].Span, "ASYNC"u8) || RedisErrors.IsOption(argv[1].Span, "SYNC"u8)))
            ? new FlushCommand { AllDatabases = all }
            : ParsedCommand.Fail(Reply.SyntaxError);

    /// <inheritdoc/>
    /// <remarks>Nothing to check: a flag.</remarks>
    public override Reply? Validate() => null;

    private protected override Reply ApplyCore(in CommandContext context)
    {
        if (!AllDatabases)
        {
            context.Keyspace.Clear();
            return Reply.Ok;
        }

        foreach (var database in context.Store.Databases)
            database.Clear();
        return Reply.Ok;
    }
}

/// <summary><c>SWAPDB index1 index2</c>: exchanges two databases' contents.</summary>
[MessagePackObject]
public sealed class SwapDbCommand : WriteCommand
{
    [Key(0)]
    public int First { get; init; }

    [Key(1)]
    public int Second { get; init; }

    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        if (RedisNumbers.ParseInt32(argv[1].Span, out var first) != IntegerParse.Ok)
            return ParsedCommand.Fail(Reply.Error("ERR invalid first DB index"));
        if (RedisNumbers.ParseInt32(argv[2].Span, out var second) != IntegerParse.Ok)
            return ParsedCommand.Fail(Reply.Error("ERR invalid second DB index"));
        if ((uint)first >= KeyValueStore.DatabaseCount || (uint)second >= KeyValueStore.DatabaseCount)
            return ParsedCommand.Fail(KeyValueStore.InvalidDatabase);
        return new SwapDbCommand { First = first, Second = second };
    }

    /// <inheritdoc/>
    public override Reply? Validate()
        => RedisErrors.Database("swapdb", nameof(First), First) ?? RedisErrors.Database("swapdb", nameof(Second), Second);

    private protected override Reply ApplyCore(in CommandContext context)
    {
        context.Store.SwapDatabases(First, Second);
        return Reply.Ok;
    }
}
