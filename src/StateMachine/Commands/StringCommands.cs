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

    /// <inheritdoc/>
    /// <remarks>EX/PX/EXAT/PXAT carry a positive number of milliseconds; NX/XX and the expiry kind a known value.</remarks>
    public override Reply? Validate()
        => RedisErrors.Required("set", nameof(Key), Key)
           ?? RedisErrors.Required("set", nameof(Value), Value)
           ?? RedisErrors.Defined("set", nameof(Condition), Condition)
           ?? RedisErrors.Defined("set", nameof(Expiry), Expiry)
           ?? RedisErrors.InRange("set", nameof(ExpiryValue),
               Expiry is not (SetExpiry.RelativeMilliseconds or SetExpiry.AbsoluteMilliseconds) || ExpiryValue > 0);

    /// <inheritdoc/>
    internal override long? MemoryGrowth(in CommandContext context)
        => StoreGrowth.OfStore(context.Keyspace, Key, Value.Length, Expiry != SetExpiry.None);

    private protected override Reply ApplyCore(in CommandContext context)
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
                expireAt = ExpiryTime.Stored(now + ExpiryValue);
                break;
            case SetExpiry.AbsoluteMilliseconds:
                expireAt = ExpiryTime.Stored(ExpiryValue);
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

    /// <inheritdoc/>
    public override Reply? Validate() => RedisErrors.RequiredArguments("del", nameof(Keys), Keys, minimum: 1);

    private protected override Reply ApplyCore(in CommandContext context)
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

/// <summary><c>GETDEL key</c>: the value, and the key is gone.</summary>
[MessagePackObject]
public sealed class GetDelCommand : WriteCommand
{
    [Key(0)]
    public required byte[] Key { get; init; }

    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv) => new GetDelCommand { Key = argv[1].ToArray() };

    /// <inheritdoc/>
    public override Reply? Validate() => RedisErrors.Required("getdel", nameof(Key), Key);

    private protected override Reply ApplyCore(in CommandContext context)
    {
        if (!context.Keyspace.TryGet(Key, context.Now, out var entry))
            return Reply.NullBulk;

        context.Keyspace.Remove(Key, context.Now);
        return Reply.FromBulk(entry.Value);
    }
}

/// <summary>What <c>GETEX</c> does to the key's time to live. Persisted: values are append-only.</summary>
public enum GetExOption : byte
{
    /// <summary>PERSIST: remove the expiry.</summary>
    Persist = 0,
    /// <summary>EX seconds.</summary>
    Ex = 1,
    /// <summary>PX milliseconds.</summary>
    Px = 2,
    /// <summary>EXAT unix-seconds.</summary>
    ExAt = 3,
    /// <summary>PXAT unix-milliseconds.</summary>
    PxAt = 4,
}

/// <summary>
/// <c>GETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST]</c>: the value, and its time to live changed. Without an option
/// it is <c>GET</c> and never enters the log.
/// </summary>
/// <remarks>
/// Redis checks the time argument only once it has found the key (a missing key answers nil whatever the argument),
/// so the argument travels raw and is judged at apply.
/// </remarks>
[MessagePackObject]
public sealed class GetExCommand : WriteCommand
{
    [Key(0)]
    public required byte[] Key { get; init; }

    [Key(1)]
    public GetExOption Option { get; init; }

    /// <summary>The time argument as sent (none for PERSIST).</summary>
    [Key(2)]
    public byte[]? Argument { get; init; }

    // t_string.c parseExtendedStringArgumentsOrReply for GETEX: one kind of expiry (repeating it is fine, the last
    // value wins), or PERSIST; anything else is a syntax error.
    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        if (argv.Length == 2)
            return new GetCommand(argv[1].ToArray());

        GetExOption? option = null;
        ReadOnlyMemory<byte> argument = default;
        for (var i = 2; i < argv.Length; i++)
        {
            var word = argv[i].Span;
            if (RedisErrors.IsOption(word, "PERSIST"u8) && option is null or GetExOption.Persist)
            {
                option = GetExOption.Persist;
                continue;
            }

            GetExOption? kind = word switch
            {
                _ when RedisErrors.IsOption(word, "EX"u8) => GetExOption.Ex,
                _ when RedisErrors.IsOption(word, "PX"u8) => GetExOption.Px,
                _ when RedisErrors.IsOption(word, "EXAT"u8) => GetExOption.ExAt,
                _ when RedisErrors.IsOption(word, "PXAT"u8) => GetExOption.PxAt,
                _ => null,
            };
            if (kind is null || (option is not null && option != kind) || i + 1 == argv.Length)
                return ParsedCommand.Fail(Reply.SyntaxError);

            option = kind;
            argument = argv[++i];
        }

        return new GetExCommand
        {
            Key = argv[1].ToArray(),
            Option = option!.Value,
            Argument = option == GetExOption.Persist ? null : argument.ToArray(),
        };
    }

    /// <inheritdoc/>
    /// <remarks>The time argument travels raw (apply judges it, as Redis does), so only its presence is checked: none for PERSIST, one otherwise.</remarks>
    public override Reply? Validate()
        => RedisErrors.Required("getex", nameof(Key), Key)
           ?? RedisErrors.Defined("getex", nameof(Option), Option)
           ?? (Option == GetExOption.Persist
               ? Argument is null ? null : RedisErrors.InvalidCommand("getex", "PERSIST takes no Argument")
               : RedisErrors.Required("getex", nameof(Argument), Argument));

    private protected override Reply ApplyCore(in CommandContext context)
    {
        var keyspace = context.Keyspace;
        var now = context.Now;
        if (!keyspace.TryGet(Key, now, out var entry))
            return Reply.NullBulk;

        if (Option == GetExOption.Persist)
        {
            if (entry.HasExpiry)
                keyspace.Set(Key, entry.Value, ClusterTime.NoExpiry);
            return Reply.FromBulk(entry.Value);
        }

        var seconds = Option is GetExOption.Ex or GetExOption.ExAt;
        var relative = Option is GetExOption.Ex or GetExOption.Px;
        if (!RedisNumbers.TryParseInt64(Argument, out var when))
            return RedisErrors.NotAnInteger;
        if (when <= 0 || (seconds && when > long.MaxValue / 1000))
            return RedisErrors.InvalidExpireTime("getex");
        if (seconds)
            when *= 1000;
        if (relative)
        {
            if (when > long.MaxValue - now)
                return RedisErrors.InvalidExpireTime("getex");
            when += now;
        }

        if (when <= now)
            keyspace.Remove(Key, now); // an absolute time already past: Redis deletes the key, after replying with it
        else
            keyspace.Set(Key, entry.Value, ExpiryTime.Stored(when));
        return Reply.FromBulk(entry.Value);
    }
}

/// <summary><c>GETSET key value</c>: the old value (or nil); the new one is stored without a time to live.</summary>
[MessagePackObject]
public sealed class GetSetCommand : WriteCommand
{
    [Key(0)]
    public required byte[] Key { get; init; }

    [Key(1)]
    public required byte[] Value { get; init; }

    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
        => new GetSetCommand { Key = argv[1].ToArray(), Value = argv[2].ToArray() };

    /// <inheritdoc/>
    public override Reply? Validate()
        => RedisErrors.Required("getset", nameof(Key), Key) ?? RedisErrors.Required("getset", nameof(Value), Value);

    /// <inheritdoc/>
    internal override long? MemoryGrowth(in CommandContext context)
        => StoreGrowth.OfStore(context.Keyspace, Key, Value.Length, expiring: false);

    private protected override Reply ApplyCore(in CommandContext context)
    {
        var old = context.Keyspace.TryGet(Key, context.Now, out var entry) ? Reply.FromBulk(entry.Value) : Reply.NullBulk;
        context.Keyspace.Set(Key, Value, ClusterTime.NoExpiry);
        return old;
    }
}

/// <summary><c>MGET key [key ...]</c>: a value or nil per key.</summary>
public sealed class MGetCommand(byte[][] keys) : ReadCommand
{
    public byte[][] Keys { get; } = keys;

    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv) => new MGetCommand(KeyArguments(argv, 1));

    internal override Reply Execute(in CommandContext context)
    {
        var values = new Reply[Keys.Length];
        for (var i = 0; i < values.Length; i++)
            values[i] = context.Keyspace.TryGet(Keys[i], context.Now, out var entry) ? Reply.FromBulk(entry.Value) : Reply.NullBulk;
        return Reply.FromArray(values);
    }

    internal static byte[][] KeyArguments(ReadOnlySpan<ReadOnlyMemory<byte>> argv, int first)
    {
        var keys = new byte[argv.Length - first][];
        for (var i = 0; i < keys.Length; i++)
            keys[i] = argv[first + i].ToArray();
        return keys;
    }
}

/// <summary>
/// <c>MSET key value [key value ...]</c> (OK; every time to live discarded) and <c>MSETNX</c> (1 and all set only
/// when none of the keys exists, else 0 and nothing set).
/// </summary>
[MessagePackObject]
public sealed class MSetCommand : WriteCommand
{
    /// <summary>Keys and values alternating, in argument order; a repeated key takes its last value.</summary>
    [Key(0)]
    public required byte[][] Pairs { get; init; }

    /// <summary>MSETNX: set only when no key exists.</summary>
    [Key(1)]
    public bool OnlyIfNoneExist { get; init; }

    internal static ParsedCommand ParseMSet(ReadOnlySpan<ReadOnlyMemory<byte>> argv) => Parse(argv, "mset", false);

    internal static ParsedCommand ParseMSetNx(ReadOnlySpan<ReadOnlyMemory<byte>> argv) => Parse(argv, "msetnx", true);

    private static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv, string name, bool onlyIfNoneExist)
        => argv.Length % 2 == 0
            ? ParsedCommand.Fail(CommandParser.WrongArity(name))
            : new MSetCommand { Pairs = MGetCommand.KeyArguments(argv, 1), OnlyIfNoneExist = onlyIfNoneExist };

    /// <inheritdoc/>
    /// <remarks>At least one pair, and a value for every key.</remarks>
    public override Reply? Validate()
    {
        var name = OnlyIfNoneExist ? "msetnx" : "mset";
        return RedisErrors.RequiredArguments(name, nameof(Pairs), Pairs, minimum: 2)
               ?? (Pairs.Length % 2 == 0 ? null : RedisErrors.InvalidCommand(name, "Pairs has a key without a value"));
    }

    /// <inheritdoc/>
    /// <remarks>Summed pair by pair: a repeated key counts each time, an upper bound.</remarks>
    internal override long? MemoryGrowth(in CommandContext context)
    {
        var growth = 0L;
        for (var i = 0; i < Pairs.Length; i += 2)
            growth += StoreGrowth.OfStore(context.Keyspace, Pairs[i], Pairs[i + 1].Length, expiring: false);
        return growth;
    }

    private protected override Reply ApplyCore(in CommandContext context)
    {
        var keyspace = context.Keyspace;
        if (OnlyIfNoneExist)
        {
            for (var i = 0; i < Pairs.Length; i += 2)
            {
                if (keyspace.Contains(Pairs[i], context.Now))
                    return Reply.FromInteger(0);
            }
        }

        for (var i = 0; i < Pairs.Length; i += 2)
            keyspace.Set(Pairs[i], Pairs[i + 1], ClusterTime.NoExpiry);
        return OnlyIfNoneExist ? Reply.FromInteger(1) : Reply.Ok;
    }
}

/// <summary><c>SETNX key value</c>: 1 and set (without a time to live) when the key does not exist, else 0.</summary>
[MessagePackObject]
public sealed class SetNxCommand : WriteCommand
{
    [Key(0)]
    public required byte[] Key { get; init; }

    [Key(1)]
    public required byte[] Value { get; init; }

    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
        => new SetNxCommand { Key = argv[1].ToArray(), Value = argv[2].ToArray() };

    /// <inheritdoc/>
    public override Reply? Validate()
        => RedisErrors.Required("setnx", nameof(Key), Key) ?? RedisErrors.Required("setnx", nameof(Value), Value);

    /// <inheritdoc/>
    internal override long? MemoryGrowth(in CommandContext context)
        => StoreGrowth.OfStore(context.Keyspace, Key, Value.Length, expiring: false);

    private protected override Reply ApplyCore(in CommandContext context)
    {
        if (context.Keyspace.Contains(Key, context.Now))
            return Reply.FromInteger(0);

        context.Keyspace.Set(Key, Value, ClusterTime.NoExpiry);
        return Reply.FromInteger(1);
    }
}

/// <summary><c>SETEX key seconds value</c> and <c>PSETEX key milliseconds value</c>.</summary>
[MessagePackObject]
public sealed class SetExCommand : WriteCommand
{
    [Key(0)]
    public required byte[] Key { get; init; }

    [Key(1)]
    public required byte[] Value { get; init; }

    /// <summary>The time to live in milliseconds, already validated as positive.</summary>
    [Key(2)]
    public long Milliseconds { get; init; }

    /// <summary>True for PSETEX, whose name Redis's errors use.</summary>
    [Key(3)]
    public bool IsPSetEx { get; init; }

    internal static ParsedCommand ParseSetEx(ReadOnlySpan<ReadOnlyMemory<byte>> argv) => Parse(argv, false);

    internal static ParsedCommand ParsePSetEx(ReadOnlySpan<ReadOnlyMemory<byte>> argv) => Parse(argv, true);

    private static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv, bool milliseconds)
    {
        if (!RedisNumbers.TryParseInt64(argv[2].Span, out var ttl))
            return ParsedCommand.Fail(RedisErrors.NotAnInteger);
        if (ttl <= 0 || (!milliseconds && ttl > long.MaxValue / 1000))
            return ParsedCommand.Fail(RedisErrors.InvalidExpireTime(milliseconds ? "psetex" : "setex"));

        return new SetExCommand
        {
            Key = argv[1].ToArray(),
            Value = argv[3].ToArray(),
            Milliseconds = milliseconds ? ttl : ttl * 1000,
            IsPSetEx = milliseconds,
        };
    }

    /// <inheritdoc/>
    /// <remarks>A positive TTL; SETEX's, given in seconds, a whole number of them.</remarks>
    public override Reply? Validate()
    {
        var name = IsPSetEx ? "psetex" : "setex";
        return RedisErrors.Required(name, nameof(Key), Key)
               ?? RedisErrors.Required(name, nameof(Value), Value)
               ?? RedisErrors.InRange(name, nameof(Milliseconds), Milliseconds > 0 && (IsPSetEx || Milliseconds % 1000 == 0));
    }

    /// <inheritdoc/>
    internal override long? MemoryGrowth(in CommandContext context)
        => StoreGrowth.OfStore(context.Keyspace, Key, Value.Length, expiring: true);

    private protected override Reply ApplyCore(in CommandContext context)
    {
        if (Milliseconds > long.MaxValue - context.Now)
            return RedisErrors.InvalidExpireTime(IsPSetEx ? "psetex" : "setex");

        context.Keyspace.Set(Key, Value, ExpiryTime.Stored(context.Now + Milliseconds));
        return Reply.Ok;
    }
}

/// <summary><c>APPEND key value</c>: the new length; a missing key starts empty; the time to live is kept.</summary>
[MessagePackObject]
public sealed class AppendCommand : WriteCommand, IStringLengthLimited
{
    [Key(0)]
    public required byte[] Key { get; init; }

    [Key(1)]
    public required byte[] Value { get; init; }

    /// <inheritdoc/>
    [Key(2)]
    public long MaxLength { get; init; } = IStringLengthLimited.DefaultMaxLength;

    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
        => new AppendCommand { Key = argv[1].ToArray(), Value = argv[2].ToArray() };

    /// <inheritdoc/>
    public WriteCommand WithMaxLength(long maxLength) => new AppendCommand { Key = Key, Value = Value, MaxLength = maxLength };

    /// <inheritdoc/>
    public override Reply? Validate()
        => RedisErrors.Required("append", nameof(Key), Key)
           ?? RedisErrors.Required("append", nameof(Value), Value)
           ?? RedisErrors.StringLimit("append", nameof(MaxLength), MaxLength);

    /// <inheritdoc/>
    /// <remarks>From the lengths alone: the appended string is not built unless the write is admitted.</remarks>
    internal override long? MemoryGrowth(in CommandContext context)
    {
        var live = context.Keyspace.TryGet(Key, context.Now, out var entry);
        var length = live ? (long)entry.Value.Length + Value.Length : Value.Length;
        return StoreGrowth.OfStore(context.Keyspace, Key, length, live && entry.HasExpiry);
    }

    private protected override Reply ApplyCore(in CommandContext context)
    {
        if (!context.Keyspace.TryGet(Key, context.Now, out var entry))
        {
            context.Keyspace.Set(Key, Value, ClusterTime.NoExpiry);
            return Reply.FromInteger(Value.Length);
        }

        var length = (long)entry.Value.Length + Value.Length;
        if (length > MaxLength)
            return RedisErrors.StringTooLong;

        // A new array: the old one may be shared with a reply still being written.
        var appended = new byte[length];
        entry.Value.CopyTo(appended, 0);
        Value.CopyTo(appended, entry.Value.Length);
        context.Keyspace.Set(Key, appended, entry.ExpireAt);
        return Reply.FromInteger(length);
    }
}

/// <summary><c>STRLEN key</c>: the value's length in bytes, 0 for a missing key.</summary>
public sealed class StrLenCommand(byte[] key) : ReadCommand
{
    public byte[] Key { get; } = key;

    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv) => new StrLenCommand(argv[1].ToArray());

    internal override Reply Execute(in CommandContext context)
        => Reply.FromInteger(context.Keyspace.TryGet(Key, context.Now, out var entry) ? entry.Value.Length : 0);
}

/// <summary><c>GETRANGE key start end</c> (and its old name <c>SUBSTR</c>): a substring by inclusive byte offsets.</summary>
public sealed class GetRangeCommand(byte[] key, long start, long end) : ReadCommand
{
    private static readonly Reply Empty = Reply.FromBulk([]);

    public byte[] Key { get; } = key;

    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        if (!RedisNumbers.TryParseInt64(argv[2].Span, out var start) || !RedisNumbers.TryParseInt64(argv[3].Span, out var end))
            return ParsedCommand.Fail(RedisErrors.NotAnInteger);
        return new GetRangeCommand(argv[1].ToArray(), start, end);
    }

    // t_string.c getrangeCommand, step by step.
    internal override Reply Execute(in CommandContext context)
    {
        if (!context.Keyspace.TryGet(Key, context.Now, out var entry))
            return Empty;

        var value = entry.Value;
        long length = value.Length, from = start, to = end;
        if (from < 0 && to < 0 && from > to)
            return Empty;
        if (from < 0)
            from += length;
        if (to < 0)
            to += length;
        if (from < 0)
            from = 0;
        if (to < 0)
            to = 0;
        if ((ulong)to >= (ulong)length)
            to = length - 1;
        if (from > to || length == 0)
            return Empty;

        return Reply.FromBulk(value.AsSpan((int)from, (int)(to - from + 1)).ToArray());
    }
}

/// <summary>
/// <c>SETRANGE key offset value</c>: overwrites part of the string from <c>offset</c>, padding with zero bytes; the new
/// length. The time to live is kept.
/// </summary>
[MessagePackObject]
public sealed class SetRangeCommand : WriteCommand, IStringLengthLimited
{
    [Key(0)]
    public required byte[] Key { get; init; }

    /// <summary>The offset, already validated as non-negative.</summary>
    [Key(1)]
    public long Offset { get; init; }

    [Key(2)]
    public required byte[] Value { get; init; }

    /// <inheritdoc/>
    [Key(3)]
    public long MaxLength { get; init; } = IStringLengthLimited.DefaultMaxLength;

    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        if (!RedisNumbers.TryParseInt64(argv[2].Span, out var offset))
            return ParsedCommand.Fail(RedisErrors.NotAnInteger);
        if (offset < 0)
            return ParsedCommand.Fail(RedisErrors.OffsetOutOfRange);
        return new SetRangeCommand { Key = argv[1].ToArray(), Offset = offset, Value = argv[3].ToArray() };
    }

    /// <inheritdoc/>
    public WriteCommand WithMaxLength(long maxLength)
        => new SetRangeCommand { Key = Key, Offset = Offset, Value = Value, MaxLength = maxLength };

    /// <inheritdoc/>
    /// <remarks>
    /// With <see cref="MaxLength"/> at most <see cref="IStringLengthLimited.MaxLengthCeiling"/>, apply's own check bounds
    /// <c>Offset + Value.Length</c> by what an array holds, whatever the offset.
    /// </remarks>
    public override Reply? Validate()
        => RedisErrors.Required("setrange", nameof(Key), Key)
           ?? RedisErrors.Required("setrange", nameof(Value), Value)
           ?? RedisErrors.InRange("setrange", nameof(Offset), Offset >= 0)
           ?? RedisErrors.StringLimit("setrange", nameof(MaxLength), MaxLength);

    /// <inheritdoc/>
    /// <remarks>
    /// From the offset and the lengths alone, before the new string is allocated: a SETRANGE to 2 GiB under a 100 MB
    /// <c>maxmemory</c> is refused without trying. One past <see cref="MaxLength"/> grows nothing (apply refuses it with
    /// its own error).
    /// </remarks>
    internal override long? MemoryGrowth(in CommandContext context)
    {
        if (Offset > MaxLength - Value.Length)
            return 0;
        var live = context.Keyspace.TryGet(Key, context.Now, out var entry);
        var length = Math.Max(live ? entry.Value.Length : 0, Offset + Value.Length);
        return StoreGrowth.OfStore(context.Keyspace, Key, length, live && entry.HasExpiry);
    }

    private protected override Reply ApplyCore(in CommandContext context)
    {
        var exists = context.Keyspace.TryGet(Key, context.Now, out var entry);
        if (Value.Length == 0)
            return Reply.FromInteger(exists ? entry.Value.Length : 0);

        // Redis's checkStringLength: the sum may not exceed the limit, nor overflow.
        if (Offset > MaxLength - Value.Length)
            return RedisErrors.StringTooLong;

        var old = exists ? entry.Value : [];
        var updated = new byte[Math.Max(old.Length, Offset + Value.Length)];
        old.CopyTo(updated, 0);
        Value.CopyTo(updated, Offset);
        context.Keyspace.Set(Key, updated, exists ? entry.ExpireAt : ClusterTime.NoExpiry);
        return Reply.FromInteger(updated.Length);
    }
}

/// <summary>
/// <c>INCR</c>, <c>DECR</c>, <c>INCRBY</c>, <c>DECRBY</c>: adds to the integer a string holds (a missing key is 0);
/// the new value. The time to live is kept.
/// </summary>
[MessagePackObject]
public sealed class IncrByCommand : WriteCommand
{
    [Key(0)]
    public required byte[] Key { get; init; }

    [Key(1)]
    public long Delta { get; init; }

    internal static ParsedCommand ParseIncr(ReadOnlySpan<ReadOnlyMemory<byte>> argv) => new IncrByCommand { Key = argv[1].ToArray(), Delta = 1 };

    internal static ParsedCommand ParseDecr(ReadOnlySpan<ReadOnlyMemory<byte>> argv) => new IncrByCommand { Key = argv[1].ToArray(), Delta = -1 };

    internal static ParsedCommand ParseIncrBy(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
        => RedisNumbers.TryParseInt64(argv[2].Span, out var delta)
            ? new IncrByCommand { Key = argv[1].ToArray(), Delta = delta }
            : ParsedCommand.Fail(RedisErrors.NotAnInteger);

    internal static ParsedCommand ParseDecrBy(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        if (!RedisNumbers.TryParseInt64(argv[2].Span, out var delta))
            return ParsedCommand.Fail(RedisErrors.NotAnInteger);
        if (delta == long.MinValue)
            return ParsedCommand.Fail(RedisErrors.DecrementOverflow); // its negation does not exist
        return new IncrByCommand { Key = argv[1].ToArray(), Delta = -delta };
    }

    /// <inheritdoc/>
    /// <remarks>Any delta: INCRBY takes every 64-bit integer.</remarks>
    public override Reply? Validate() => RedisErrors.Required("incrby", nameof(Key), Key);

    /// <inheritdoc/>
    /// <remarks>0 here: apply checks the exact growth once it has formatted the new value (at most 20 bytes).</remarks>
    internal override long? MemoryGrowth(in CommandContext context) => 0;

    private protected override Reply ApplyCore(in CommandContext context)
    {
        var exists = context.Keyspace.TryGet(Key, context.Now, out var entry);
        long value = 0;
        if (exists && !RedisNumbers.TryParseInt64(entry.Value, out value))
            return RedisErrors.NotAnInteger;
        if ((Delta < 0 && value < 0 && Delta < long.MinValue - value) || (Delta > 0 && value > 0 && Delta > long.MaxValue - value))
            return RedisErrors.IncrementOverflow;

        value += Delta;
        var formatted = RedisNumbers.Format(value);
        if (!StoreGrowth.Admits(context, StoreGrowth.OfStore(context.Keyspace, Key, formatted.Length, exists && entry.HasExpiry)))
            return RedisErrors.OutOfMemory;
        context.Keyspace.Set(Key, formatted, exists ? entry.ExpireAt : ClusterTime.NoExpiry);
        return Reply.FromInteger(value);
    }
}

/// <summary>
/// <c>INCRBYFLOAT key increment</c>: adds in C's <c>long double</c> (see <see cref="LongDouble"/>) and stores and
/// returns the sum in Redis's human-friendly form. The time to live is kept.
/// </summary>
[MessagePackObject]
public sealed class IncrByFloatCommand : WriteCommand
{
    [Key(0)]
    public required byte[] Key { get; init; }

    /// <summary>The increment as sent, already validated; parsed again at apply (exactly, so every replica agrees).</summary>
    [Key(1)]
    public required byte[] Increment { get; init; }

    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
        => LongDouble.TryParse(argv[2].Span, out _)
            ? new IncrByFloatCommand { Key = argv[1].ToArray(), Increment = argv[2].ToArray() }
            : ParsedCommand.Fail(RedisErrors.NotAFloat);

    /// <inheritdoc/>
    public override Reply? Validate()
        => RedisErrors.Required("incrbyfloat", nameof(Key), Key)
           ?? RedisErrors.Required("incrbyfloat", nameof(Increment), Increment)
           ?? (LongDouble.TryParse(Increment, out _) ? null : RedisErrors.InvalidCommand("incrbyfloat", "Increment is not a float"));

    /// <inheritdoc/>
    /// <remarks>0 here: apply checks the exact growth once it has formatted the sum (a few KB at most).</remarks>
    internal override long? MemoryGrowth(in CommandContext context) => 0;

    private protected override Reply ApplyCore(in CommandContext context)
    {
        var exists = context.Keyspace.TryGet(Key, context.Now, out var entry);
        var value = LongDouble.Zero;
        if ((exists && !LongDouble.TryParse(entry.Value, out value)) || !LongDouble.TryParse(Increment, out var increment))
            return RedisErrors.NotAFloat;
        if (!LongDouble.TryAdd(value, increment, out var sum))
            return RedisErrors.NotFinite;

        var text = sum.ToHumanString();
        if (!StoreGrowth.Admits(context, StoreGrowth.OfStore(context.Keyspace, Key, text.Length, exists && entry.HasExpiry)))
            return RedisErrors.OutOfMemory;
        context.Keyspace.Set(Key, text, exists ? entry.ExpireAt : ClusterTime.NoExpiry);
        return Reply.FromBulk(text);
    }
}
