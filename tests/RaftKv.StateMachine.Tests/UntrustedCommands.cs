using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using MessagePack;
using RaftKv.StateMachine.Commands;
using RaftKv.StateMachine.Locks;
using RaftKv.StateMachine.Scripting;
using RaftKv.StateMachine.Sessions;

namespace RaftKv.StateMachine.Tests;

/// <summary>
/// Write commands as a hostile or corrupted log could hold them, for <see cref="UntrustedCommandTests"/>: random valid
/// commands of every kind built directly (not parsed), their MessagePack bytes mutated, and hand-made adversarial
/// objects. Few keys and short TTLs, so commands collide and keys expire while a run goes on.
/// </summary>
/// <remarks>
/// Every string-growing command carries a small length limit: a mutation may turn an offset into any number, and the
/// test must not allocate gigabytes (memory exhaustion is a separate hazard, see DESIGN.md).
/// </remarks>
internal sealed class UntrustedCommands(Random rng)
{
    private static readonly byte[][] Keys = [.. new[] { "a", "b", "c", "lock", "k\0" }.Select(Encoding.UTF8.GetBytes)];

    private static readonly byte[][] Values = [.. new[] { "", "v", "10", "-3", "1.5", "tok", "x\0y" }.Select(Encoding.UTF8.GetBytes)];

    private static readonly string[] Floats = ["0.1", "-2.5", "1e3", "inf", "5e-324"];

    // No loops and no string.rep: a mutated script must stay cheap (the instruction budget would stop a loop, slowly).
    public static readonly string[] Scripts =
    [
        "return 1",
        "return redis.call('SET', KEYS[1], ARGV[1])",
        "return redis.call('GET', KEYS[1])",
        "if redis.call('get',KEYS[1])==ARGV[1] then return redis.call('del',KEYS[1]) else return 0 end",
        "return redis.call('INCR', KEYS[1])",
        "return {1, {2, {3}}, ARGV[1], KEYS[1]}",
        "return redis.call('PEXPIRE', KEYS[1], 50)",
        "error('boom')",
        "return redis.call('nosuch')",
        "syntax error (",
    ];

    // Integers a mutation writes over a field: the edges of every width and of the ranges the commands check.
    private static readonly long[] Extremes =
    [
        long.MinValue, long.MaxValue, -1, 0, 1, -2, 15, 16, 255, 256, 999, 65_535, 65_536, int.MaxValue, int.MinValue,
        uint.MaxValue, 1L << 31, 0x7FFF_FFC7, 0x7FFF_FFC8, SessionTable.MaxTtl + 1, long.MinValue + 1,
    ];

    private static readonly int[] Tags = [.. typeof(WriteCommand).GetCustomAttributes(typeof(UnionAttribute), false).Cast<UnionAttribute>().Select(static u => u.Key)];

    private readonly List<byte[]> recent = [];

    /// <summary>A key no generated command names: writing nothing to it is how a reference replica skips a position.</summary>
    public static byte[] UntouchedKey { get; } = "\u0001untouched\u0001"u8.ToArray();

    /// <summary>Ids of sessions opened so far (from the replies), so SESSION.EXEC often names a live one.</summary>
    public List<long> Sessions { get; } = [];

    /// <summary>The cluster time the next batch is stamped with.</summary>
    public long Now { get; set; }

    /// <summary>Every union subtype of <see cref="WriteCommand"/>; the generator must build each.</summary>
    public static IReadOnlyList<Type> CommandTypes { get; } =
        [.. typeof(WriteCommand).GetCustomAttributes(typeof(UnionAttribute), false).Cast<UnionAttribute>().Select(static u => u.SubType)];

    /// <summary>One command's bytes: valid, a valid one mutated, or a hand-made adversarial one.</summary>
    public byte[] NextEncoded()
    {
        var roll = rng.Next(100);
        var bytes = roll < 50 ? Encode(Valid())
            : roll < 85 ? Mutate(Encode(Valid()))
            : Encode(Adversarial());
        if (recent.Count < 64)
            recent.Add(bytes);
        else
            recent[rng.Next(recent.Count)] = bytes;
        return bytes;
    }

    public static byte[] Encode(WriteCommand command) => MessagePackSerializer.Serialize(command, KeyValueStore.SerializerOptions);

    /// <summary>
    /// A batch payload written by hand around already-encoded commands (so a command's bytes may be anything):
    /// <c>[timestamp, [command...], databases]</c>.
    /// </summary>
    public static byte[] Batch(long timestamp, IReadOnlyList<byte[]> commands, byte[]? databases)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        writer.WriteArrayHeader(3);
        writer.Write(timestamp);
        writer.WriteArrayHeader(commands.Count);
        foreach (var command in commands)
            writer.WriteRaw(command);
        if (databases is null)
            writer.WriteNil();
        else
            writer.Write(databases);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The databases of a batch of <paramref name="count"/> commands: mostly none, sometimes malformed.</summary>
    public byte[]? Databases(int count) => rng.Next(100) switch
    {
        < 65 => null,
        < 93 => [.. Enumerable.Range(0, count).Select(_ => (byte)(rng.Next(4) == 0 ? rng.Next(16) : rng.Next(3)))],
        < 96 => [.. Enumerable.Range(0, Math.Max(0, count + (rng.Next(2) == 0 ? 1 : -1))).Select(_ => (byte)rng.Next(3))],
        _ => [.. Enumerable.Range(0, count).Select(_ => (byte)(rng.Next(2) == 0 ? rng.Next(16, 256) : 0))],
    };

    /// <summary>A whole batch payload damaged: cut, flipped, or with its command array replaced by nil.</summary>
    public byte[] MutateBatch(byte[] payload) => rng.Next(4) switch
    {
        0 => payload[..rng.Next(payload.Length)],
        1 => Flip(payload),
        2 => ReplaceToken(payload, static t => t.Type == MessagePackType.Array && t.Start > 0, [0xC0]),
        _ => ReplaceToken(payload, static t => t.Type == MessagePackType.Binary, [0xC0]),
    };

    // ---- Valid commands, one builder per kind ----

    /// <summary>A random valid command of any kind.</summary>
    public WriteCommand Valid() => Valid(rng.Next(40), wrapped: false);

    private WriteCommand Valid(int kind, bool wrapped) => kind switch
    {
        0 => Set(),
        1 => new DelCommand { Keys = [.. Enumerable.Range(0, rng.Next(1, 4)).Select(_ => Key())] },
        2 => new GetDelCommand { Key = Key() },
        3 => GetEx(),
        4 => new GetSetCommand { Key = Key(), Value = Value() },
        5 => new MSetCommand { Pairs = [.. Enumerable.Range(0, 2 * rng.Next(1, 3)).Select(i => i % 2 == 0 ? Key() : Value())], OnlyIfNoneExist = rng.Next(2) == 0 },
        6 => new SetNxCommand { Key = Key(), Value = Value() },
        7 => rng.Next(2) == 0
            ? new SetExCommand { Key = Key(), Value = Value(), Milliseconds = rng.Next(1, 400), IsPSetEx = true }
            : new SetExCommand { Key = Key(), Value = Value(), Milliseconds = 1000L * rng.Next(1, 3) },
        8 => new AppendCommand { Key = Key(), Value = Value(), MaxLength = SmallLimit() },
        9 => new SetRangeCommand { Key = Key(), Offset = rng.Next(0, 20), Value = Value(), MaxLength = SmallLimit() },
        10 => new IncrByCommand { Key = Key(), Delta = new[] { 1, -1, 7, long.MaxValue, long.MinValue }[rng.Next(5)] },
        11 => new IncrByFloatCommand { Key = Key(), Increment = Encoding.ASCII.GetBytes(Floats[rng.Next(Floats.Length)]) },
        12 => Expire(),
        13 => new PersistCommand { Key = Key() },
        14 => new RenameCommand { Source = Key(), Destination = Key(), OnlyIfDestinationMissing = rng.Next(2) == 0 },
        15 => new CopyCommand { Source = Key(), Destination = Key(), TargetDatabase = rng.Next(3) == 0 ? -1 : rng.Next(4), Replace = rng.Next(2) == 0 },
        16 => rng.Next(10) == 0 ? new FlushCommand { AllDatabases = rng.Next(3) == 0 } : new GetDelCommand { Key = Key() },
        17 => new SwapDbCommand { First = rng.Next(4), Second = rng.Next(4) },
        18 => new EvalCommand { Script = Script(), Keys = [Key()], Arguments = [Value()] },
        19 => new EvalShaCommand
        {
            Sha = rng.Next(4) == 0 ? Convert.ToHexStringLower(RandomBytes(20)) : ScriptCache.Sha1Hex(Script()),
            Keys = [Key()],
            Arguments = [Value()],
        },
        20 => new ScriptLoadCommand { Script = Script() },
        21 => rng.Next(8) == 0 ? new ScriptFlushCommand() : new ScriptLoadCommand { Script = Script() },
        22 when !wrapped => new SessionOpenCommand { Ttl = rng.Next(10) == 0 ? SessionTable.MaxTtl : rng.Next(1_000, 3_000) },
        23 when !wrapped => new SessionExecCommand
        {
            Session = SessionId(), Sequence = rng.Next(1, 6), AcknowledgedBelow = rng.Next(0, 4), Command = Valid(Wrappable(), wrapped: true),
        },
        24 when !wrapped => new SessionKeepAliveCommand { Session = SessionId() },
        25 when !wrapped => new SessionCloseCommand { Session = SessionId() },
        26 => new LockAcquireCommand { Key = Key(), Token = Value(), Ttl = rng.Next(1, 400), Wait = rng.Next(3) == 0 ? rng.Next(1, 400) : 0 },
        27 => new LockExtendCommand { Key = Key(), Token = Value(), Ttl = rng.Next(1, 400) },
        28 => new LockReleaseCommand { Key = Key(), Token = Value() },
        29 when !wrapped => Transaction(),
        // maxmemory from none to a few kilobytes, so the generated writes now and then meet -OOM.
        30 when !wrapped => new ConfigSetCommand
        {
            Setting = ReplicatedSetting.MaxMemory, Value = new long[] { 0, 4_000, 20_000, 1 << 20 }[rng.Next(4)], OnlyIfUnset = rng.Next(3) == 0,
        },
        31 => new AclSetUserCommand
        {
            Name = AclName(), Rules = [.. new[] { "on", "~k*", "+@all", "-@dangerous", "#" + new string('a', 64), "resetkeys", "%R~*" }.Take(rng.Next(1, 8)).Select(Encoding.ASCII.GetBytes)],
        },
        32 => new AclDelUserCommand { Names = [AclName()] },
        34 => new ReadWriteLockAcquireCommand { Key = Key(), Mode = (LockMode)rng.Next(2), Token = Value(), Ttl = rng.Next(1, 400), Wait = rng.Next(0, 400), Owner = rng.Next(2) == 0 ? null : Value() },
        35 => new ReadWriteLockExtendCommand { Key = Key(), Token = Value(), Ttl = rng.Next(1, 400) },
        36 => new ReadWriteLockReleaseCommand { Key = Key(), Token = Value() },
        37 => new SemaphoreAcquireCommand { Key = Key(), MaxCount = rng.Next(1, 3), Token = Value(), Ttl = rng.Next(1, 400), Wait = rng.Next(0, 400) },
        38 => new SemaphoreExtendCommand { Key = Key(), Token = Value(), Ttl = rng.Next(1, 400) },
        39 => new SemaphoreReleaseCommand { Key = Key(), Token = Value() },
        33 => new AclLoadCommand
        {
            Users = [new AclUserRules { Name = AclName(), Rules = [.. new[] { "on", "nopass", "~*", "+get" }.Select(Encoding.ASCII.GetBytes)] }],
            OnlyIfUninitialized = rng.Next(2) == 0,
        },
        _ => new SetCommand { Key = Key(), Value = Value() },
    };

    private byte[] AclName() => Encoding.ASCII.GetBytes(new[] { "u1", "u2", "default" }[rng.Next(3)]);

    // What SESSION.EXEC may wrap: anything but the session commands and transactions.
    private int Wrappable() => rng.Next(26) switch { var k and < 22 => k, var k => k + 4 };

    private SetCommand Set()
    {
        var expiry = (SetExpiry)rng.Next(4);
        return new SetCommand
        {
            Key = Key(),
            Value = Value(),
            Condition = (SetCondition)rng.Next(3),
            Expiry = expiry,
            ExpiryValue = expiry switch
            {
                SetExpiry.RelativeMilliseconds => rng.Next(1, 400),
                SetExpiry.AbsoluteMilliseconds => Now + rng.Next(-50, 400),
                _ => 0,
            },
            ReturnOldValue = rng.Next(2) == 0,
        };
    }

    private GetExCommand GetEx()
    {
        var option = (GetExOption)rng.Next(5);
        return new GetExCommand { Key = Key(), Option = option, Argument = option == GetExOption.Persist ? null : GetExArgument(option) };
    }

    private WriteCommand Expire()
    {
        var variant = (ExpireVariant)rng.Next(4);
        var milliseconds = variant switch
        {
            ExpireVariant.Expire => 1000L * rng.Next(-1, 2),
            ExpireVariant.PExpire => rng.Next(-5, 400),
            ExpireVariant.ExpireAt => ((Now / 1000) + rng.Next(-1, 2)) * 1000,
            _ => Now + rng.Next(-100, 300),
        };
        ExpireConditions[] valid =
        [
            ExpireConditions.None, ExpireConditions.IfNoExpiry, ExpireConditions.IfHasExpiry, ExpireConditions.IfGreater,
            ExpireConditions.IfLess, ExpireConditions.IfHasExpiry | ExpireConditions.IfGreater,
        ];
        return new ExpireCommand { Key = Key(), Variant = variant, Milliseconds = milliseconds, Conditions = valid[rng.Next(valid.Length)] };
    }

    private TransactionCommand Transaction() => new()
    {
        Commands = [.. Enumerable.Range(0, rng.Next(0, 5)).Select(_ => Redis.Args(OtherCommands.Write(rng, Now)))],
        Conditions = [.. Enumerable.Range(0, rng.Next(0, 3)).Select(_ => Watched())],
        MaxStringLength = SmallLimit(),
    };

    private WatchedKey Watched()
    {
        var state = (WatchedKeyState)rng.Next(3);
        return new WatchedKey
        {
            Database = rng.Next(3),
            Key = Key(),
            State = state,
            ExpireAt = state == WatchedKeyState.Present ? (rng.Next(2) == 0 ? ClusterTime.NoExpiry : Now + rng.Next(0, 300)) : 0,
            ValueHash = state == WatchedKeyState.Present ? SHA256.HashData(Value()) : null,
        };
    }

    private byte[] GetExArgument(GetExOption option) => Encoding.ASCII.GetBytes(rng.Next(6) switch
    {
        0 => "x",
        1 => "0",
        2 => option is GetExOption.ExAt ? (Now / 1000).ToString(CultureInfo.InvariantCulture) : (Now + 100).ToString(CultureInfo.InvariantCulture),
        3 => "-1",
        _ => rng.Next(1, 300).ToString(CultureInfo.InvariantCulture),
    });

    private long SessionId() => Sessions.Count > 0 && rng.Next(4) != 0 ? Sessions[rng.Next(Sessions.Count)] : rng.Next(1, 5) << 16;

    private long SmallLimit() => new long[] { 0, 4, 16, 64, 1024 }[rng.Next(5)];

    private byte[] Key() => Keys[rng.Next(Keys.Length)];

    private byte[] Value() => Values[rng.Next(Values.Length)];

    private byte[] Script() => Encoding.UTF8.GetBytes(Scripts[rng.Next(Scripts.Length)]);

    private byte[] RandomBytes(int count)
    {
        var bytes = new byte[count];
        rng.NextBytes(bytes);
        return bytes;
    }

    // ---- Adversarial commands, built as objects: what no parser produces but MessagePack encodes ----

    /// <summary>A command that breaks one rule of its kind (null field, value out of range, forbidden nesting...).</summary>
    public WriteCommand Adversarial()
    {
        var key = Key();
        var value = Value();
        return rng.Next(50) switch
        {
            0 => new SetCommand { Key = null!, Value = value },
            1 => new SetCommand { Key = key, Value = null! },
            2 => new SetCommand { Key = key, Value = value, Condition = (SetCondition)rng.Next(3, 256) },
            3 => new SetCommand { Key = key, Value = value, Expiry = (SetExpiry)rng.Next(4, 256) },
            4 => new SetCommand { Key = key, Value = value, Expiry = (SetExpiry)rng.Next(1, 3), ExpiryValue = Pick(0, -1, long.MinValue) },
            5 => new DelCommand { Keys = Pick<byte[][]>(null!, [], [key, null!]) },
            6 => new GetExCommand { Key = key, Option = (GetExOption)rng.Next(5, 256), Argument = value },
            7 => new GetExCommand { Key = key, Option = GetExOption.Persist, Argument = value },
            8 => new GetExCommand { Key = key, Option = GetExOption.Px, Argument = null },
            9 => new MSetCommand { Pairs = Pick<byte[][]>(null!, [], [key], [key, value, key], [key, null!]) },
            10 => new SetExCommand { Key = key, Value = value, Milliseconds = Pick(0, -1, long.MinValue, 1500) },
            11 => new AppendCommand { Key = key, Value = value, MaxLength = Pick(-1, long.MinValue, long.MaxValue, IStringLengthLimited.MaxLengthCeiling + 1) },
            12 => new SetRangeCommand { Key = key, Value = value, Offset = Pick(-1, long.MinValue), MaxLength = 64 },
            13 => new SetRangeCommand { Key = key, Value = [1], Offset = Pick((1L << 31) - 2, long.MaxValue), MaxLength = Pick(long.MaxValue, 1024) },
            14 => new IncrByFloatCommand { Key = key, Increment = Pick<byte[]>(null!, "abc"u8.ToArray(), []) },
            15 => new ExpireCommand { Key = key, Variant = (ExpireVariant)rng.Next(4, 256), Milliseconds = 10 },
            16 => new ExpireCommand
            {
                Key = key, Milliseconds = 1000,
                Conditions = Pick(ExpireConditions.IfNoExpiry | ExpireConditions.IfHasExpiry, ExpireConditions.IfGreater | ExpireConditions.IfLess, (ExpireConditions)16),
            },
            17 => new ExpireCommand { Key = key, Variant = ExpireVariant.Expire, Milliseconds = Pick(1500, long.MaxValue, long.MinValue) },
            18 => new RenameCommand { Source = key, Destination = null! },
            19 => new CopyCommand { Source = key, Destination = value, TargetDatabase = Pick(16, -2, int.MinValue, int.MaxValue) },
            20 => new SwapDbCommand { First = Pick(-1, 16, int.MaxValue), Second = rng.Next(16) },
            21 => new EvalCommand { Script = Pick<byte[]>(null!, value), Keys = Pick<byte[][]>(null!, [null!]), Arguments = [value] },
            22 => new EvalShaCommand { Sha = Pick<string>(null!, "ab", new string('z', 40), ScriptCache.Sha1Hex(value).ToUpperInvariant()), Keys = [], Arguments = [] },
            23 => new ScriptLoadCommand { Script = null! },
            24 => new SessionOpenCommand { Ttl = Pick(-1, 0, 999, SessionTable.MaxTtl + 1, long.MinValue, long.MaxValue) },
            25 => new SessionExecCommand { Session = Pick(0, -1, long.MinValue), Sequence = 1, Command = new SetCommand { Key = key, Value = value } },
            26 => new SessionExecCommand { Session = SessionId(), Sequence = Pick(0, -1), AcknowledgedBelow = Pick(-1, 0), Command = new GetDelCommand { Key = key } },
            27 => new SessionExecCommand { Session = SessionId(), Sequence = 1, Command = null! },
            28 => new SessionExecCommand
            {
                Session = SessionId(), Sequence = rng.Next(1, 4),
                Command = Pick<WriteCommand>(
                    new SessionOpenCommand { Ttl = 1_000 }, new SessionKeepAliveCommand { Session = 1 }, new SessionCloseCommand { Session = 1 },
                    new TransactionCommand { Commands = [Redis.Args("SET", "a", "b")] }, Nested(rng.Next(2, 6))),
            },
            29 => new SessionExecCommand { Session = SessionId(), Sequence = 1, Command = new LockAcquireCommand { Key = key, Token = value, Ttl = -1_000 } },
            30 => new SessionKeepAliveCommand { Session = Pick(0, -5) },
            31 => new SessionCloseCommand { Session = Pick(0, -5) },
            32 => new LockAcquireCommand { Key = key, Token = value, Ttl = Pick(-1_000, 0, long.MinValue, long.MaxValue) },
            33 => new LockExtendCommand { Key = key, Token = Pick<byte[]>(null!, value), Ttl = Pick(-1, long.MaxValue) },
            34 => new LockReleaseCommand { Key = null!, Token = value },
            35 => new TransactionCommand { Commands = Pick<byte[][][]>(null!, [null!], [[]], [[key, null!]]) },
            36 => new TransactionCommand { Commands = [], Conditions = Pick<WatchedKey[]>(null!, [null!]) },
            37 => new TransactionCommand
            {
                Commands = [Redis.Args("SET", "a", "b")],
                Conditions =
                [
                    Pick(
                        new WatchedKey { Key = key, Database = Pick(16, -1) },
                        new WatchedKey { Key = key, State = (WatchedKeyState)rng.Next(3, 256) },
                        new WatchedKey { Key = key, State = WatchedKeyState.Present, ValueHash = Pick<byte[]?>(null, [1, 2, 3]) },
                        new WatchedKey { Key = null! }),
                ],
            },
            38 => new TransactionCommand { Commands = [Redis.Args("APPEND", "a", "b")], MaxStringLength = Pick(-1, long.MaxValue) },
            39 => new ConfigSetCommand { Setting = (ReplicatedSetting)rng.Next(1, 256), Value = Pick(-1, long.MinValue, 100) },
            40 => new AclSetUserCommand { Name = Pick<byte[]>(null!, "a b"u8.ToArray(), key), Rules = Pick<byte[][]>(null!, [null!], [">clear"u8.ToArray()], ["bogus"u8.ToArray(), [0xFF, 0x00]]) },
            41 => new AclDelUserCommand { Names = Pick<byte[][]>(null!, [], [null!], ["default"u8.ToArray()]) },
            44 => new LockAcquireCommand { Key = key, Token = value, Ttl = 100, Wait = Pick(-1, long.MinValue, long.MaxValue), Owner = Pick<byte[]?>(null, new byte[1_025]) },
            45 => new ReadWriteLockAcquireCommand { Key = key, Mode = (LockMode)rng.Next(2, 256), Token = value, Ttl = 100 },
            46 => new ReadWriteLockAcquireCommand { Key = Pick<byte[]>(null!, key), Mode = LockMode.Read, Token = Pick<byte[]>(null!, value), Ttl = Pick(0, -1, long.MinValue) },
            47 => new SemaphoreAcquireCommand { Key = key, MaxCount = Pick(0, -1, int.MaxValue, 10_001), Token = value, Ttl = 100 },
            48 => Pick<WriteCommand>(new ReadWriteLockExtendCommand { Key = key, Token = null!, Ttl = 1 }, new SemaphoreExtendCommand { Key = key, Token = value, Ttl = Pick(0, -1, long.MinValue) }),
            49 => Pick<WriteCommand>(new ReadWriteLockReleaseCommand { Key = null!, Token = value }, new SemaphoreReleaseCommand { Key = key, Token = null! }),
            42 => new AclLoadCommand { Users = Pick<AclUserRules[]>(null!, [null!], [new AclUserRules { Name = key, Rules = [Pick("<pw"u8.ToArray(), "+nosuch"u8.ToArray())] }], [new AclUserRules { Name = "default"u8.ToArray(), Rules = [] }, new AclUserRules { Name = "default"u8.ToArray(), Rules = [] }]) },
            // Structurally valid, but nothing a client sends: names no parser knows, empty arguments.
            _ => new TransactionCommand { Commands = [[[]], [RandomBytes(3)], Redis.Args("SESSION.OPEN", "1000"), Redis.Args("MULTI")] },
        };
    }

    /// <summary>SESSION.EXEC wrapping SESSION.EXEC, <paramref name="depth"/> levels.</summary>
    public static WriteCommand Nested(int depth)
    {
        WriteCommand command = new SetCommand { Key = "nested"u8.ToArray(), Value = "v"u8.ToArray() };
        for (var i = 0; i < depth; i++)
            command = new SessionExecCommand { Session = 1 << 16, Sequence = i + 1, Command = command };
        return command;
    }

    private T Pick<T>(params T[] choices) => choices[rng.Next(choices.Length)];

    // ---- Mutations of encoded bytes ----

    /// <summary>The bytes of a command, damaged in one of several ways.</summary>
    public byte[] Mutate(byte[] bytes) => rng.Next(9) switch
    {
        0 => Flip(bytes),
        1 => bytes[..rng.Next(bytes.Length)],
        2 => Splice(bytes),
        3 => ReplaceTag(bytes),
        4 or 5 => ReplaceToken(bytes, static t => t.Type == MessagePackType.Integer, ExtremeInteger()),
        6 => ReplaceToken(bytes, static t => t.Type is MessagePackType.Binary or MessagePackType.String, [0xC0]),
        7 => ReplaceToken(bytes, static t => t.Type == MessagePackType.Array && t.Start > 0, rng.Next(2) == 0 ? [0xC0] : [0x90]),
        _ => SwapTokens(bytes),
    };

    private byte[] Flip(byte[] bytes)
    {
        var copy = (byte[])bytes.Clone();
        for (var n = rng.Next(1, 4); n > 0 && copy.Length > 0; n--)
            copy[rng.Next(copy.Length)] ^= (byte)rng.Next(1, 256);
        return copy;
    }

    // A token of this command replaced by a token of another, or this command's start joined to another's end.
    private byte[] Splice(byte[] bytes)
    {
        if (recent.Count == 0)
            return Flip(bytes);
        var other = recent[rng.Next(recent.Count)];
        if (rng.Next(2) == 0)
            return [.. bytes.AsSpan(0, rng.Next(bytes.Length + 1)), .. other.AsSpan(rng.Next(other.Length + 1))];
        var donors = Scan(other);
        return donors.Count == 0 ? Flip(bytes) : ReplaceToken(bytes, static _ => true, Slice(other, donors[rng.Next(donors.Count)]));
    }

    private byte[] ReplaceTag(byte[] bytes)
    {
        // A union is [tag, body]: the tag is the token that starts right after the outer array's one-byte header.
        long[] tags = [.. Tags.Select(static t => (long)t), 18, 63, 68, 87, 97, 127, 200, -1, long.MaxValue];
        return ReplaceToken(bytes, static t => t.Start == 1 && t.Type == MessagePackType.Integer, Int(tags[rng.Next(tags.Length)]));
    }

    private byte[] SwapTokens(byte[] bytes)
    {
        var tokens = Scan(bytes).Where(static t => t.Type != MessagePackType.Array).ToList();
        if (tokens.Count < 2)
            return Flip(bytes);
        var (first, second) = (tokens[rng.Next(tokens.Count)], tokens[rng.Next(tokens.Count)]);
        if (first.Start > second.Start)
            (first, second) = (second, first);
        if (first.End > second.Start)
            return Flip(bytes);
        return [.. bytes.AsSpan(0, first.Start), .. Slice(bytes, second), .. bytes.AsSpan(first.End, second.Start - first.End), .. Slice(bytes, first), .. bytes.AsSpan(second.End)];
    }

    private byte[] ReplaceToken(byte[] bytes, Func<Token, bool> eligible, byte[] replacement)
    {
        var tokens = Scan(bytes).Where(eligible).ToList();
        if (tokens.Count == 0)
            return Flip(bytes);
        var token = tokens[rng.Next(tokens.Count)];
        return [.. bytes.AsSpan(0, token.Start), .. replacement, .. bytes.AsSpan(token.End)];
    }

    private static byte[] Slice(byte[] bytes, Token token) => bytes[token.Start..token.End];

    // One of the extremes, or ulong.MaxValue: beyond every signed field.
    private byte[] ExtremeInteger()
        => rng.Next(Extremes.Length + 1) is var i && i < Extremes.Length ? Int(Extremes[i]) : [0xCF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];

    private static byte[] Int(long value)
    {
        var buffer = new ArrayBufferWriter<byte>(9);
        var writer = new MessagePackWriter(buffer);
        writer.Write(value);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    private readonly record struct Token(int Start, int End, MessagePackType Type);

    // Every value of a MessagePack document with its extent; as far as the bytes can be read.
    private static List<Token> Scan(byte[] bytes)
    {
        var tokens = new List<Token>();
        var reader = new MessagePackReader(bytes);
        try
        {
            while (!reader.End)
                Walk(ref reader, tokens, 0);
        }
        // The raw reader's Skip answers a length beyond 2^31 with ArgumentOutOfRangeException (the serializer wraps it).
        catch (Exception e) when (e is MessagePackSerializationException or EndOfStreamException or OverflowException or ArgumentOutOfRangeException)
        {
            // A damaged document: the tokens read so far are enough to mutate.
        }

        return tokens;

        static void Walk(ref MessagePackReader reader, List<Token> tokens, int depth)
        {
            var start = (int)reader.Consumed;
            var type = reader.NextMessagePackType;
            if (type == MessagePackType.Array && depth < 16)
            {
                for (var n = reader.ReadArrayHeader(); n > 0; n--)
                    Walk(ref reader, tokens, depth + 1);
            }
            else
            {
                reader.Skip();
            }

            tokens.Add(new Token(start, (int)reader.Consumed, type));
        }
    }
}
