using System.Buffers;
using System.Globalization;
using MessagePack;
using RaftKv.StateMachine.Commands;
using RaftKv.StateMachine.Scripting;
using RaftKv.StateMachine.Sessions;
using static RaftKv.StateMachine.Tests.Replies;

namespace RaftKv.StateMachine.Tests;

/// <summary>
/// <see cref="WriteCommand.Validate"/> and the decode in front of it: every write the parser produces is valid; each
/// kind of malformed command decoded from a log entry or a peer is answered with its error and changes nothing; a
/// malformed batch applies deterministically; a payload that is no batch is reported, never thrown, and nesting cannot
/// exhaust the stack.
/// </summary>
public sealed class CommandValidationTests
{
    private const long T = 1_700_000_000_000;
    private const long Session = 1L << 16;

    private static readonly byte[] K = "k"u8.ToArray();
    private static readonly byte[] V = "v"u8.ToArray();

    // ---- Everything the parser produces validates ----

    [Fact]
    public void Every_write_the_parser_produces_validates()
    {
        var rng = new Random(20_240_601);
        var parsed = new Dictionary<Type, int>();
        var writes = 0;
        for (var i = 0; i < 60_000; i++)
        {
            var argv = i % 3 == 0 ? OtherCommands.Write(rng, T) : RandomArgv(rng);
            if (Redis.Parse(argv) is not { Outcome: ParseOutcome.Write, Write: { } write })
                continue;

            writes++;
            foreach (var type in write is SessionExecCommand exec ? [write.GetType(), exec.Command.GetType()] : new[] { write.GetType() })
                parsed[type] = parsed.GetValueOrDefault(type) + 1;
            Assert.True(write.Validate() is null, $"seed 20240601, vector {i}: {Show(argv)} parsed to a {write.GetType().Name} that does not validate: {write.Validate()}");
            if (write is IStringLengthLimited limited)
            {
                Assert.Null(limited.WithMaxLength(0).Validate());
                Assert.Null(limited.WithMaxLength(IStringLengthLimited.MaxLengthCeiling).Validate());
            }
        }

        // Every kind but the transaction, which the node builds from queued vectors rather than the parser, and CONFIG SET's
        // and ACL LOAD's writes, which the node builds from its own command and configuration.
        var missing = UntrustedCommands.CommandTypes.Where(static t => t != typeof(TransactionCommand) && t != typeof(ConfigSetCommand) && t != typeof(AclLoadCommand)).Except(parsed.Keys);
        Assert.Empty(missing);
        Assert.True(writes > 15_000, $"only {writes} of the vectors parsed to writes");
    }

    public static TheoryData<string[]> EdgeWrites =>
    [
        ["SET", "k", "v", "EX", "9223372036854775"],
        ["SET", "k", "v", "PX", "9223372036854775807", "NX", "GET"],
        ["SET", "k", "v", "EXAT", "1"],
        ["SET", "k", "v", "PXAT", "1", "XX"],
        ["SET", "k", "v", "KEEPTTL"],
        ["SETEX", "k", "9223372036854775", "v"],
        ["PSETEX", "k", "9223372036854775807", "v"],
        ["EXPIRE", "k", "-9223372036854775", "NX"],
        ["EXPIREAT", "k", "9223372036854775", "XX", "GT"],
        ["PEXPIRE", "k", "-9223372036854775808", "LT"],
        ["PEXPIREAT", "k", "9223372036854775807"],
        ["SETRANGE", "k", "9223372036854775807", "x"],
        ["SETRANGE", "k", "0", ""],
        ["APPEND", "k", ""],
        ["INCRBY", "k", "-9223372036854775808"],
        ["DECRBY", "k", "9223372036854775807"],
        ["INCRBYFLOAT", "k", "5e-324"],
        ["GETEX", "k", "PERSIST"],
        ["GETEX", "k", "EX", "not-a-number"],
        ["GETEX", "k", "PXAT", "-1"],
        ["MSETNX", "a", "1", "b", ""],
        ["UNLINK", "a", "b", "a"],
        ["COPY", "a", "b", "DB", "15", "REPLACE"],
        ["COPY", "a", "a"],
        ["SWAPDB", "0", "15"],
        ["RENAMENX", "a", "a"],
        ["FLUSHALL", "ASYNC"],
        ["FLUSHDB"],
        ["EVAL", "return 1", "0"],
        ["EVAL", "", "2", "a", "b", "c"],
        ["EVALSHA", "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB", "0"],
        ["SCRIPT", "LOAD", ""],
        ["SCRIPT", "FLUSH", "SYNC"],
        ["SESSION.OPEN", "1000"],
        ["SESSION.OPEN", "86400000"],
        ["SESSION.EXEC", "9223372036854775807", "9223372036854775807", "9223372036854775807", "SET", "k", "v"],
        ["SESSION.EXEC", "1", "1", "0", "LOCK.ACQUIRE", "k", "t", "1"],
        ["SESSION.EXEC", "1", "1", "0", "EVAL", "return 1", "0"],
        ["SESSION.EXEC", "1", "1", "0", "FLUSHALL"],
        ["SESSION.KEEPALIVE", "9223372036854775807"],
        ["SESSION.CLOSE", "1"],
        ["LOCK.ACQUIRE", "k", "", "9223372036854775807"],
        ["LOCK.EXTEND", "k", "t", "1"],
        ["LOCK.RELEASE", "", ""],
    ];

    [Theory]
    [MemberData(nameof(EdgeWrites))]
    public void A_write_at_the_edge_of_what_the_parser_accepts_validates(string[] argv)
    {
        var parsed = Redis.Parse(argv);
        Assert.Equal(ParseOutcome.Write, parsed.Outcome);
        Assert.Null(parsed.Write!.Validate());
    }

    [Fact]
    public void EVALSHA_of_a_name_that_is_not_hex_answers_NOSCRIPT_before_the_log()
    {
        // Redis looks the name up and finds nothing; so no such name ever reaches the log, where it would not validate.
        Assert.Equal(ScriptRuntime.NoScript, Redis.Parse("EVALSHA", new string('z', 40), "0").Error);
        Assert.Equal(NotAnInteger, Redis.Parse("EVALSHA", new string('z', 40), "x").Error); // numkeys is checked first, as in Redis
        Assert.Equal(ScriptRuntime.NoScript, new Redis().Exec(T, "EVALSHA", new string('z', 40), "0"));
    }

    // ---- Each malformed command answers its error and changes nothing ----

    private static readonly Dictionary<string, (Func<WriteCommand> Command, string Error)> Refusals = new(StringComparer.Ordinal)
    {
        ["SET with a null key"] = (() => new SetCommand { Key = null!, Value = V }, "set: Key is null"),
        ["ACL SETUSER with a clear password"] = (() => new AclSetUserCommand { Name = K, Rules = [">pw"u8.ToArray()] }, "acl|setuser: Rules holds a clear password"),
        ["ACL SETUSER with a space in the name"] = (() => new AclSetUserCommand { Name = "a b"u8.ToArray(), Rules = [] }, "acl|setuser: Name holds spaces or null characters"),
        ["ACL DELUSER of no one"] = (() => new AclDelUserCommand { Names = [] }, "acl|deluser: Names is empty"),
        ["ACL LOAD with a null user"] = (() => new AclLoadCommand { Users = [null!] }, "acl|load: Users[0] is null"),
        ["SET with a null value"] = (() => new SetCommand { Key = K, Value = null! }, "set: Value is null"),
        ["SET with an unknown condition"] = (() => new SetCommand { Key = K, Value = V, Condition = (SetCondition)200 }, "set: Condition is not a known value"),
        ["SET with an unknown expiry kind"] = (() => new SetCommand { Key = K, Value = V, Expiry = (SetExpiry)9 }, "set: Expiry is not a known value"),
        ["SET PX 0"] = (() => new SetCommand { Key = K, Value = V, Expiry = SetExpiry.RelativeMilliseconds }, "set: ExpiryValue is out of range"),
        ["SET PXAT -5"] = (() => new SetCommand { Key = K, Value = V, Expiry = SetExpiry.AbsoluteMilliseconds, ExpiryValue = -5 }, "set: ExpiryValue is out of range"),
        ["DEL of null"] = (() => new DelCommand { Keys = null! }, "del: Keys is null"),
        ["DEL of nothing"] = (() => new DelCommand { Keys = [] }, "del: Keys is empty"),
        ["DEL of a null key"] = (() => new DelCommand { Keys = [K, null!] }, "del: Keys[1] is null"),
        ["GETDEL of a null key"] = (() => new GetDelCommand { Key = null! }, "getdel: Key is null"),
        ["GETEX with an unknown option"] = (() => new GetExCommand { Key = K, Option = (GetExOption)9, Argument = V }, "getex: Option is not a known value"),
        ["GETEX PERSIST with an argument"] = (() => new GetExCommand { Key = K, Option = GetExOption.Persist, Argument = V }, "getex: PERSIST takes no Argument"),
        ["GETEX EX without an argument"] = (() => new GetExCommand { Key = K, Option = GetExOption.Ex }, "getex: Argument is null"),
        ["GETSET with a null value"] = (() => new GetSetCommand { Key = K, Value = null! }, "getset: Value is null"),
        ["SETNX with a null key"] = (() => new SetNxCommand { Key = null!, Value = V }, "setnx: Key is null"),
        ["MSET with a key but no value"] = (() => new MSetCommand { Pairs = [K, V, K] }, "mset: Pairs has a key without a value"),
        ["MSETNX of nothing"] = (() => new MSetCommand { Pairs = [], OnlyIfNoneExist = true }, "msetnx: Pairs is empty"),
        ["MSET with a null value"] = (() => new MSetCommand { Pairs = [K, null!] }, "mset: Pairs[1] is null"),
        ["SETEX 0"] = (() => new SetExCommand { Key = K, Value = V }, "setex: Milliseconds is out of range"),
        ["SETEX of a fraction of a second"] = (() => new SetExCommand { Key = K, Value = V, Milliseconds = 1500 }, "setex: Milliseconds is out of range"),
        ["PSETEX -1"] = (() => new SetExCommand { Key = K, Value = V, Milliseconds = -1, IsPSetEx = true }, "psetex: Milliseconds is out of range"),
        ["APPEND with a negative limit"] = (() => new AppendCommand { Key = K, Value = V, MaxLength = -1 }, "append: MaxLength is out of range"),
        ["APPEND with a limit past the ceiling"] = (() => new AppendCommand { Key = K, Value = V, MaxLength = IStringLengthLimited.MaxLengthCeiling + 1 }, "append: MaxLength is out of range"),
        ["SETRANGE at a negative offset"] = (() => new SetRangeCommand { Key = K, Value = V, Offset = -1 }, "setrange: Offset is out of range"),
        ["SETRANGE near 2^31 with a limit of 2^62"] = (() => new SetRangeCommand { Key = K, Value = V, Offset = (1L << 31) - 2, MaxLength = 1L << 62 }, "setrange: MaxLength is out of range"),
        ["INCRBY of a null key"] = (() => new IncrByCommand { Key = null!, Delta = 1 }, "incrby: Key is null"),
        ["INCRBYFLOAT by no float"] = (() => new IncrByFloatCommand { Key = K, Increment = "abc"u8.ToArray() }, "incrbyfloat: Increment is not a float"),
        ["EXPIRE of an unknown variant"] = (() => new ExpireCommand { Key = K, Variant = (ExpireVariant)9 }, "expire: Variant is not a known value"),
        ["EXPIRE NX XX"] = (() => new ExpireCommand { Key = K, Milliseconds = 1000, Conditions = ExpireConditions.IfNoExpiry | ExpireConditions.IfHasExpiry }, "expire: Conditions is not a valid combination"),
        ["PEXPIRE GT LT"] = (() => new ExpireCommand { Key = K, Variant = ExpireVariant.PExpire, Conditions = ExpireConditions.IfGreater | ExpireConditions.IfLess }, "pexpire: Conditions is not a valid combination"),
        ["EXPIREAT with an unknown condition"] = (() => new ExpireCommand { Key = K, Variant = ExpireVariant.ExpireAt, Conditions = (ExpireConditions)16 }, "expireat: Conditions is not a valid combination"),
        ["EXPIRE of a fraction of a second"] = (() => new ExpireCommand { Key = K, Milliseconds = 1500 }, "expire: Milliseconds is out of range"),
        ["PERSIST of a null key"] = (() => new PersistCommand { Key = null! }, "persist: Key is null"),
        ["RENAME to null"] = (() => new RenameCommand { Source = K, Destination = null! }, "rename: Destination is null"),
        ["COPY to database 16"] = (() => new CopyCommand { Source = K, Destination = V, TargetDatabase = 16 }, "copy: TargetDatabase is out of range"),
        ["COPY to database -2"] = (() => new CopyCommand { Source = K, Destination = V, TargetDatabase = -2 }, "copy: TargetDatabase is out of range"),
        ["SWAPDB -1 3"] = (() => new SwapDbCommand { First = -1, Second = 3 }, "swapdb: First is out of range"),
        ["SWAPDB 0 16"] = (() => new SwapDbCommand { First = 0, Second = 16 }, "swapdb: Second is out of range"),
        ["EVAL of null"] = (() => new EvalCommand { Script = null!, Keys = [], Arguments = [] }, "eval: Script is null"),
        ["EVAL with null keys"] = (() => new EvalCommand { Script = V, Keys = null!, Arguments = [] }, "eval: Keys is null"),
        ["EVAL with a null argument"] = (() => new EvalCommand { Script = V, Keys = [K], Arguments = [V, null!] }, "eval: Arguments[1] is null"),
        ["EVALSHA of null"] = (() => new EvalShaCommand { Sha = null!, Keys = [], Arguments = [] }, "evalsha: Sha is null"),
        ["EVALSHA of a short name"] = (() => new EvalShaCommand { Sha = "ab", Keys = [], Arguments = [] }, "evalsha: Sha is not 40 lower-case hex digits"),
        ["EVALSHA in upper case"] = (() => new EvalShaCommand { Sha = ScriptCache.Sha1Hex("return 1"u8).ToUpperInvariant(), Keys = [], Arguments = [] }, "evalsha: Sha is not 40 lower-case hex digits"),
        ["EVALSHA with null keys"] = (() => new EvalShaCommand { Sha = ScriptCache.Sha1Hex("return 1"u8), Keys = [null!], Arguments = [] }, "evalsha: Keys[0] is null"),
        ["SCRIPT LOAD of null"] = (() => new ScriptLoadCommand { Script = null! }, "script|load: Script is null"),
        ["SESSION.OPEN -1"] = (() => new SessionOpenCommand { Ttl = -1 }, "session.open: Ttl is out of range"),
        ["SESSION.OPEN 999"] = (() => new SessionOpenCommand { Ttl = 999 }, "session.open: Ttl is out of range"),
        ["SESSION.OPEN of more than a day"] = (() => new SessionOpenCommand { Ttl = SessionTable.MaxTtl + 1 }, "session.open: Ttl is out of range"),
        ["SESSION.EXEC of session 0"] = (() => new SessionExecCommand { Session = 0, Sequence = 1, Command = new GetDelCommand { Key = K } }, "session.exec: Session is out of range"),
        ["SESSION.EXEC of sequence 0"] = (() => new SessionExecCommand { Session = Session, Sequence = 0, Command = new GetDelCommand { Key = K } }, "session.exec: Sequence is out of range"),
        ["SESSION.EXEC with a negative ack"] = (() => new SessionExecCommand { Session = Session, Sequence = 1, AcknowledgedBelow = -1, Command = new GetDelCommand { Key = K } }, "session.exec: AcknowledgedBelow is out of range"),
        ["SESSION.EXEC of null"] = (() => new SessionExecCommand { Session = Session, Sequence = 1, Command = null! }, "session.exec: Command is null"),
        ["SESSION.EXEC of SESSION.OPEN"] = (() => new SessionExecCommand { Session = Session, Sequence = 1, Command = new SessionOpenCommand { Ttl = 1_000 } }, "session.exec: Command may not be a SessionOpenCommand"),
        ["SESSION.EXEC of SESSION.EXEC"] = (() => UntrustedCommands.Nested(2), "session.exec: Command may not be a SessionExecCommand"),
        ["SESSION.EXEC of SESSION.KEEPALIVE"] = (() => new SessionExecCommand { Session = Session, Sequence = 1, Command = new SessionKeepAliveCommand { Session = Session } }, "session.exec: Command may not be a SessionKeepAliveCommand"),
        ["SESSION.EXEC of SESSION.CLOSE"] = (() => new SessionExecCommand { Session = Session, Sequence = 1, Command = new SessionCloseCommand { Session = Session } }, "session.exec: Command may not be a SessionCloseCommand"),
        ["SESSION.EXEC of a transaction"] = (() => new SessionExecCommand { Session = Session, Sequence = 1, Command = new TransactionCommand { Commands = [] } }, "session.exec: Command may not be a TransactionCommand"),
        ["SESSION.EXEC of an invalid lock"] = (() => new SessionExecCommand { Session = Session, Sequence = 1, Command = new LockAcquireCommand { Key = K, Token = V, Ttl = -1_000 } }, "session.exec: Command is invalid (lock.acquire: Ttl is out of range)"),
        ["SESSION.KEEPALIVE 0"] = (() => new SessionKeepAliveCommand(), "session.keepalive: Session is out of range"),
        ["SESSION.CLOSE -1"] = (() => new SessionCloseCommand { Session = -1 }, "session.close: Session is out of range"),
        ["LOCK.ACQUIRE with a TTL of -1000"] = (() => new LockAcquireCommand { Key = K, Token = V, Ttl = -1_000 }, "lock.acquire: Ttl is out of range"),
        ["LOCK.ACQUIRE with a TTL of 0"] = (() => new LockAcquireCommand { Key = K, Token = V }, "lock.acquire: Ttl is out of range"),
        ["LOCK.ACQUIRE with a null token"] = (() => new LockAcquireCommand { Key = K, Token = null!, Ttl = 1 }, "lock.acquire: Token is null"),
        ["LOCK.EXTEND with a TTL of -1"] = (() => new LockExtendCommand { Key = K, Token = V, Ttl = -1 }, "lock.extend: Ttl is out of range"),
        ["LOCK.RELEASE of a null key"] = (() => new LockReleaseCommand { Key = null!, Token = V }, "lock.release: Key is null"),
        ["LOCK.ACQUIRE with a negative WAIT"] = (() => new LockAcquireCommand { Key = K, Token = V, Ttl = 1, Wait = -1 }, "lock.acquire: Wait is out of range"),
        ["LOCK.ACQUIRE with a long owner"] = (() => new LockAcquireCommand { Key = K, Token = V, Ttl = 1, Owner = new byte[1_025] }, "lock.acquire: Owner is out of range"),
        ["RWLOCK.ACQUIRE in mode 7"] = (() => new ReadWriteLockAcquireCommand { Key = K, Token = V, Ttl = 1, Mode = (RaftKv.StateMachine.Locks.LockMode)7 }, "rwlock.acquire: Mode is not a known value"),
        ["RWLOCK.EXTEND with a TTL of 0"] = (() => new ReadWriteLockExtendCommand { Key = K, Token = V }, "rwlock.extend: Ttl is out of range"),
        ["RWLOCK.RELEASE of a null token"] = (() => new ReadWriteLockReleaseCommand { Key = K, Token = null! }, "rwlock.release: Token is null"),
        ["SEMAPHORE.ACQUIRE of max-count 0"] = (() => new SemaphoreAcquireCommand { Key = K, Token = V, Ttl = 1 }, "semaphore.acquire: MaxCount is out of range"),
        ["SEMAPHORE.EXTEND of a null key"] = (() => new SemaphoreExtendCommand { Key = null!, Token = V, Ttl = 1 }, "semaphore.extend: Key is null"),
        ["SEMAPHORE.RELEASE of a null key"] = (() => new SemaphoreReleaseCommand { Key = null!, Token = V }, "semaphore.release: Key is null"),
        ["EXEC of null"] = (() => new TransactionCommand { Commands = null! }, "exec: Commands is null"),
        ["EXEC of a null command"] = (() => new TransactionCommand { Commands = [null!] }, "exec: Commands[0] is null"),
        ["EXEC of an empty command"] = (() => new TransactionCommand { Commands = [Redis.Args("GET", "k"), []] }, "exec: Commands[1] is empty"),
        ["EXEC of a null argument"] = (() => new TransactionCommand { Commands = [[K, null!]] }, "exec: Commands[0][1] is null"),
        ["EXEC of too many commands"] = (() => new TransactionCommand { Commands = [.. Enumerable.Repeat(Redis.Args("PING"), TransactionCommand.MaxQueuedCommands + 1)] }, "exec: Commands holds more than 1048576 commands"),
        ["EXEC with null conditions"] = (() => new TransactionCommand { Commands = [], Conditions = null! }, "exec: Conditions is null"),
        ["EXEC with a null condition"] = (() => new TransactionCommand { Commands = [], Conditions = [null!] }, "exec: Conditions[0] is null"),
        ["EXEC with too many conditions"] = (() => new TransactionCommand { Commands = [], Conditions = [.. Enumerable.Repeat(new WatchedKey { Key = K }, TransactionCommand.MaxWatchedKeys + 1)] }, "exec: Conditions holds more than 1048576 keys"),
        ["EXEC watching a key without a name"] = (() => new TransactionCommand { Commands = [], Conditions = [new WatchedKey { Key = null! }] }, "exec: Conditions[0].Key is null"),
        ["EXEC watching database 16"] = (() => new TransactionCommand { Commands = [], Conditions = [new WatchedKey { Key = K, Database = 16 }] }, "exec: Conditions[0].Database is out of range"),
        ["EXEC watching in an unknown state"] = (() => new TransactionCommand { Commands = [], Conditions = [new WatchedKey { Key = K, State = (WatchedKeyState)9 }] }, "exec: Conditions[0].State is not a known value"),
        ["EXEC watching a present key without a hash"] = (() => new TransactionCommand { Commands = [], Conditions = [new WatchedKey { Key = K, State = WatchedKeyState.Present }] }, "exec: Conditions[0].ValueHash is not a SHA-256"),
        ["EXEC watching a present key with a short hash"] = (() => new TransactionCommand { Commands = [], Conditions = [new WatchedKey { Key = K, State = WatchedKeyState.Present, ValueHash = [1, 2, 3] }] }, "exec: Conditions[0].ValueHash is not a SHA-256"),
        ["CONFIG SET of an unknown setting"] = (() => new ConfigSetCommand { Setting = (ReplicatedSetting)7, Value = 1 }, "config|set: Setting is not a known value"),
        ["CONFIG SET maxmemory -1"] = (() => new ConfigSetCommand { Setting = ReplicatedSetting.MaxMemory, Value = -1 }, "config|set: Value is out of range"),
        ["SESSION.EXEC of CONFIG SET"] = (() => new SessionExecCommand { Session = 1, Sequence = 1, Command = new ConfigSetCommand { Value = 1 } }, "session.exec: Command may not be a ConfigSetCommand"),
        ["EXEC with a negative string limit"] = (() => new TransactionCommand { Commands = [Redis.Args("APPEND", "k", "x")], MaxStringLength = -1 }, "exec: MaxStringLength is out of range"),
    };

    public static TheoryData<string> RefusalCases => [.. Refusals.Keys];

    [Theory]
    [MemberData(nameof(RefusalCases))]
    public void A_malformed_command_from_the_log_answers_its_error_and_changes_nothing(string name)
    {
        var (command, error) = Refusals[name];
        var redis = WithSomeState();
        var before = redis.Store.ComputeDigest();

        var reply = ApplyDecoded(redis, command(), T);

        Assert.Equal(Err("ERR invalid command: " + error), reply);
        Assert.Equal(before, redis.Store.ComputeDigest());
    }

    [Fact]
    public void Every_kind_of_write_has_a_refusal_case_unless_it_carries_nothing_to_check()
    {
        var covered = Refusals.Values.Select(static r => r.Command().GetType()).ToHashSet();
        Assert.Empty(UntrustedCommands.CommandTypes.Except([.. covered, typeof(FlushCommand), typeof(ScriptFlushCommand)]));
    }

    // ---- What only apply can judge, judged alike everywhere ----

    [Fact]
    public void SESSION_OPEN_at_the_end_of_time_is_refused_rather_than_never_expiring()
    {
        var redis = new Redis();
        var end = long.MaxValue - 999; // one millisecond too late for a TTL of a second

        var reply = redis.Store.Apply(new CommandBatch { Timestamp = end, Commands = [new SessionOpenCommand { Ttl = 1_000 }] }, 1).Single();

        Assert.Equal(Err("ERR invalid expire time in 'session.open' command"), reply);
        Assert.Equal(0, redis.Store.Sessions.Count);
    }

    [Fact]
    public void A_session_with_a_negative_TTL_restored_from_a_snapshot_expires_rather_than_living_forever()
    {
        var table = new SessionTable();
        var session = new Session(Session, ttl: -1) { ExpireAt = T };
        table.Restore(session);

        table.Touch(session, T + 10);

        Assert.Equal(T + 9, session.ExpireAt);
        Assert.False(table.TryGetLive(Session, T + 10, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => table.Open(2 * Session, -1, T));
    }

    [Fact]
    public void SETRANGE_near_2_31_under_the_ceiling_is_refused_without_allocating()
    {
        var redis = new Redis();
        var command = new SetRangeCommand { Key = K, Value = V, Offset = (1L << 31) - 2, MaxLength = IStringLengthLimited.MaxLengthCeiling };

        Assert.Null(command.Validate());
        Assert.Equal(Err("ERR string exceeds maximum allowed size (proto-max-bulk-len)"), ApplyDecoded(redis, command, T));
    }

    [Fact]
    public void LOCK_ACQUIRE_with_a_TTL_that_overflows_the_cluster_time_is_refused_at_apply()
    {
        var redis = new Redis();

        Assert.Equal(Err("ERR invalid expire time in 'lock.acquire' command"), ApplyDecoded(redis, new LockAcquireCommand { Key = K, Token = V, Ttl = long.MaxValue }, T));
        Assert.Equal(0, redis.Store.Keyspace.Count);
    }

    [Fact]
    public void A_script_reply_too_deep_to_keep_in_a_snapshot_is_refused_by_the_script_and_the_session_remembers_that()
    {
        var redis = new Redis();
        var session = redis.Exec(T, "SESSION.OPEN", "10000").Integer;
        const string nested = "local top = {} local at = top for i = 1, 100 do local inner = {} at[1] = inner at = inner end return top";
        string[] exec = ["SESSION.EXEC", Number(session), "1", "0", "EVAL", "redis.call('SET', 'k', 'v') " + nested, "0"];

        var reply = redis.Exec(T, exec);

        // The script's own depth limit is the serializer's: a reply it can compute, the session can keep.
        Assert.Equal(Err("ERR reached lua stack limit"), reply);
        Assert.Equal(reply, redis.Exec(T, exec)); // the retry gets the same answer
        Assert.Equal(Bulk("v"), redis.Read(T, "GET", "k"));
        var snapshot = new ArrayBufferWriter<byte>();
        redis.Store.WriteSnapshot(snapshot);
        var restored = new KeyValueStore();
        restored.RestoreSnapshot(new ReadOnlySequence<byte>(snapshot.WrittenMemory));
        Assert.Equal(redis.Store.ComputeDigest(), restored.ComputeDigest());
    }

    // ---- Malformed batches ----

    [Fact]
    public void A_batch_without_a_command_array_is_a_batch_of_none()
    {
        var store = new KeyValueStore();

        var replies = store.Apply(new CommandBatch { Timestamp = T, Commands = null!, Databases = [1] });

        Assert.Empty(replies);
        Assert.Equal(T, store.ClusterTime);
    }

    [Fact]
    public void A_position_holding_no_command_answers_an_error_and_the_others_apply()
    {
        var redis = new Redis();

        var replies = redis.Store.Apply(new CommandBatch { Timestamp = T, Commands = [Write("SET", "a", "1"), null!, Write("SET", "b", "2")] }, 1);

        Assert.Equal([Ok, Err("ERR invalid command: null command"), Ok], replies);
        Assert.Equal(2, redis.Store.Keyspace.Count);
    }

    [Fact]
    public void A_union_tag_this_version_does_not_know_decodes_to_no_command_and_answers_an_error()
    {
        // [timestamp, [[200, [...]]], nil]: MessagePack skips an unknown union tag and yields null.
        var payload = Convert.FromHexString("9301" + "91" + "92CCC8" + "92C40161C40162" + "C0");

        Assert.Equal(LogPayloadStatus.Batch, KeyValueStore.ReadLogPayload(new ReadOnlySequence<byte>(payload), out var batch, out _));
        Assert.Equal([Err("ERR invalid command: null command")], new KeyValueStore().Apply(batch!, 1));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Databases_that_do_not_match_the_commands_make_every_command_answer_an_error(int databases)
    {
        var redis = WithSomeState();
        var before = redis.Store.ComputeDigest();

        var replies = redis.Store.Apply(new CommandBatch { Timestamp = T, Commands = [Write("SET", "x", "1"), Write("DEL", "k")], Databases = new byte[databases] }, 9);

        Assert.Equal([Err("ERR invalid command batch: Databases does not match Commands"), Err("ERR invalid command batch: Databases does not match Commands")], replies);
        Assert.Equal(before, redis.Store.ComputeDigest());
    }

    [Fact]
    public void A_database_out_of_range_makes_only_its_command_answer_an_error()
    {
        var store = new KeyValueStore();

        var replies = store.Apply(new CommandBatch { Timestamp = T, Commands = [Write("SET", "x", "1"), Write("SET", "y", "1")], Databases = [200, 2] });

        Assert.Equal([KeyValueStore.InvalidDatabase, Ok], replies);
        Assert.Equal((0, 1), (store.Databases[0].Count, store.Databases[2].Count));
    }

    // ---- Decoding: reported, never thrown; depth bounded ----

    public static TheoryData<string, string> Undecodable => new()
    {
        { "nothing", "" },
        { "nil", "C0" },
        { "an integer", "05" },
        { "a map", "80" },
        { "cut short", "930591920096C40101C40102000000" },
        { "trailing bytes", "930591920096C40101C40102000000C2C0" + "00" },
        { "a union of three elements", "93059193009600C0" },
        { "a union of one element", "9305919100C0" },
        { "a boolean for a key", "930591920096C3C40102000000C2C0" },
        { "a timestamp past 2^63", "93CFFFFFFFFFFFFFFFFF90C0" },
        { "an enum past a byte", "930591920096C40101C40102CD012C0000C2C0" },
        { "a length past the input", "9305DD7FFFFFFFC0" },
        { "a reserved code", "9305C1C0" },
    };

    [Theory]
    [MemberData(nameof(Undecodable))]
    public void A_payload_that_is_not_exactly_one_batch_is_reported_not_thrown(string what, string hex)
    {
        var payload = new ReadOnlySequence<byte>(Convert.FromHexString(hex));

        Assert.True(KeyValueStore.ReadLogPayload(payload, out var batch, out var problem) == LogPayloadStatus.Undecodable, what);
        Assert.Null(batch);
        Assert.False(string.IsNullOrEmpty(problem));
        Assert.Throws<MessagePackSerializationException>(() => KeyValueStore.ReadBatch(payload));
    }

    [Fact]
    public void A_well_formed_payload_reads_with_no_problem()
    {
        var buffer = new ArrayBufferWriter<byte>();
        KeyValueStore.WriteBatch(buffer, new CommandBatch { Timestamp = T, Commands = [Write("SET", "k", "v")], Databases = [3] });

        Assert.Equal(LogPayloadStatus.Batch, KeyValueStore.ReadLogPayload(new ReadOnlySequence<byte>(buffer.WrittenMemory), out var batch, out var problem));
        Assert.Null(problem);
        Assert.Equal((T, 1, (byte)3), (batch!.Timestamp, batch.Commands.Length, batch.Databases![0]));
    }

    [Fact]
    public void SESSION_EXEC_nested_100_000_deep_fails_to_decode_instead_of_overflowing_the_stack()
    {
        const int depth = 100_000;
        var command = NestedSessionExec(depth);
        var payload = UntrustedCommands.Batch(T, [command], null);

        Assert.Equal(LogPayloadStatus.Undecodable, KeyValueStore.ReadLogPayload(new ReadOnlySequence<byte>(payload), out _, out var problem));
        Assert.Contains("exceeds the maximum depth allowed of 64", problem, StringComparison.Ordinal);
        Assert.Throws<MessagePackSerializationException>(() => KeyValueStore.ReadBatch(new ReadOnlySequence<byte>(payload)));

        // A follower forwards one command the same way (RAFTKV.PROPOSE): the same options refuse it.
        Assert.Throws<MessagePackSerializationException>(() => MessagePackSerializer.Deserialize<WriteCommand>(command, KeyValueStore.SerializerOptions));
    }

    [Fact]
    public void The_deepest_legitimate_payloads_decode_within_a_ninth_of_the_depth_limit()
    {
        var batch = new CommandBatch
        {
            Timestamp = T,
            Commands =
            [
                new SessionExecCommand { Session = Session, Sequence = 1, Command = new EvalCommand { Script = V, Keys = [K], Arguments = [V] } },
                new TransactionCommand
                {
                    Commands = [Redis.Args("SET", "k", "v")],
                    Conditions = [new WatchedKey { Key = K, State = WatchedKeyState.Present, ValueHash = new byte[32] }],
                },
            ],
            Databases = [0, 1],
        };
        var buffer = new ArrayBufferWriter<byte>();
        KeyValueStore.WriteBatch(buffer, batch, checksum: false);
        var seven = KeyValueStore.SerializerOptions.WithSecurity(MessagePackSecurity.UntrustedData.WithMaximumObjectGraphDepth(7));

        var decoded = MessagePackSerializer.Deserialize<CommandBatch>(buffer.WrittenMemory, seven);

        Assert.All(decoded.Commands, static c => Assert.Null(c.Validate()));
    }

    [Fact]
    public void The_string_length_ceiling_is_the_longest_array_dotnet_allocates()
    {
        Assert.Equal(IStringLengthLimited.MaxLengthCeiling, Array.MaxLength);
        Assert.True(IStringLengthLimited.DefaultMaxLength <= IStringLengthLimited.MaxLengthCeiling);
    }

    // ---- Why apply validates: a planted null value, applied past Validate, breaks the digest and the next snapshot ----

    [Fact]
    public void A_null_value_applied_past_validation_breaks_the_digest_and_the_snapshot_but_apply_refuses_it()
    {
        var planted = new SetCommand { Key = K, Value = null! };
        var bypassed = new KeyValueStore();
        planted.Apply(new CommandContext(bypassed, 0, T, CommandContext.ToLogPosition(1, 0)));

        Assert.Throws<ArgumentNullException>(() => bypassed.ComputeDigest());
        var snapshot = new ArrayBufferWriter<byte>();
        Assert.Throws<NullReferenceException>(() => bypassed.WriteSnapshot(snapshot));
        snapshot.ResetWrittenCount();
        bypassed.WriteSnapshotFormat4(snapshot);
        Assert.Throws<InvalidDataException>(() => new KeyValueStore().RestoreSnapshot(new ReadOnlySequence<byte>(snapshot.WrittenMemory)));

        var guarded = new KeyValueStore();
        Assert.Equal([Err("ERR invalid command: set: Value is null")], guarded.Apply(new CommandBatch { Timestamp = T, Commands = [planted] }, 1));
        snapshot.ResetWrittenCount();
        guarded.WriteSnapshot(snapshot);
        var restored = new KeyValueStore();
        restored.RestoreSnapshot(new ReadOnlySequence<byte>(snapshot.WrittenMemory));
        Assert.Equal(guarded.ComputeDigest(), restored.ComputeDigest());
    }

    // ---- Helpers ----

    // Keys in two databases, a script and a session, none expiring: a refused command at the same time changes nothing.
    private static Redis WithSomeState()
    {
        var redis = new Redis();
        redis.Exec(T, "SET", "k", "v");
        redis.Exec(T, "SET", "lock", "token");
        redis.Exec(T, "SCRIPT", "LOAD", "return 1");
        redis.Store.Apply(new CommandBatch { Timestamp = T, Commands = [Write("SET", "k", "in three")], Databases = [3] }, 100);
        redis.Store.Apply(new CommandBatch { Timestamp = T, Commands = [new SessionOpenCommand { Ttl = SessionTable.MaxTtl }] }, 1);
        Assert.Equal(1, redis.Store.Sessions.Count);
        return redis;
    }

    // The command as a replica receives it: through the log's bytes.
    private static Reply ApplyDecoded(Redis redis, WriteCommand command, long now)
    {
        var buffer = new ArrayBufferWriter<byte>();
        KeyValueStore.WriteBatch(buffer, new CommandBatch { Timestamp = now, Commands = [command] });
        Assert.True(KeyValueStore.ReadLogPayload(new ReadOnlySequence<byte>(buffer.WrittenMemory), out var batch, out var problem) == LogPayloadStatus.Batch, problem);
        return redis.Store.Apply(batch!, 1_000).Single();
    }

    private static WriteCommand Write(params string[] argv) => Redis.Parse(argv).Write!;

    // SESSION.EXEC around SESSION.EXEC, written level by level (the serializer itself would recurse as deep).
    private static byte[] NestedSessionExec(int depth)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        for (var i = 0; i < depth; i++)
        {
            writer.WriteArrayHeader(2);
            writer.Write(81); // SessionExecCommand's union tag
            writer.WriteArrayHeader(4);
            writer.Write(Session);
            writer.Write(1);
            writer.Write(0);
        }

        writer.WriteArrayHeader(2);
        writer.Write(1); // DelCommand
        writer.WriteArrayHeader(1);
        writer.WriteArrayHeader(1);
        writer.Write(K);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    // ---- Random argument vectors over every command the parser knows ----

    private static readonly string[] Tokens =
    [
        "k", "a", "", "\0", "v", "NX", "XX", "GT", "LT", "GET", "KEEPTTL", "EX", "PX", "EXAT", "PXAT", "PERSIST", "REPLACE", "DB",
        "ASYNC", "SYNC", "LOAD", "FLUSH", "EXISTS", "KILL", "HELP", "0", "1", "-1", "2", "15", "16", "999", "1000", "86400000",
        "86400001", "9223372036854775807", "-9223372036854775808", "9223372036854775", "9223372036854776", "1.5", "inf", "abc",
        "return 1", "return redis.call('get', KEYS[1])", ScriptCache.Sha1Hex("return 1"u8), ScriptCache.Sha1Hex("return 1"u8).ToUpperInvariant(),
        new string('z', 40), "65536", "SET", "LOCK.ACQUIRE", "SESSION.OPEN",
    ];

    private static string[] RandomArgv(Random rng)
    {
        var specs = CommandParser.Commands;
        var spec = specs[rng.Next(specs.Count)];
        var count = spec.Arity > 0 ? spec.Arity - 1 : -spec.Arity - 1 + rng.Next(0, 5);
        var name = rng.Next(4) == 0 ? spec.Name.ToUpperInvariant() : spec.Name;
        if (spec.Name == "session.exec" && rng.Next(2) == 0)
        {
            // A session around a random write, with numbers that are mostly valid.
            var inner = RandomArgv(rng);
            if (inner[0].StartsWith("session", StringComparison.OrdinalIgnoreCase))
                inner = ["INCR", "k"];
            return [name, Number(rng.Next(1, 5) << 16), Number(rng.Next(1, 9)), Number(rng.Next(0, 9)), .. inner];
        }

        var arguments = Enumerable.Range(0, count).Select(_ => rng.Next(3) == 0 ? Number(rng.Next(-5, 100)) : Tokens[rng.Next(Tokens.Length)]).ToArray();

        // The first argument picks the subcommand or names the script: mostly a real one.
        if (arguments.Length > 0 && rng.Next(3) != 0)
        {
            if (spec.Name is "evalsha" or "evalsha_ro")
                arguments[0] = new[] { ScriptCache.Sha1Hex("return 1"u8), ScriptCache.Sha1Hex("return 1"u8).ToUpperInvariant(), new string('z', 40) }[rng.Next(3)];
            else if (spec.Name == "script")
                arguments[0] = new[] { "LOAD", "FLUSH", "EXISTS", "KILL", "HELP", "load" }[rng.Next(6)];
        }

        return [name, .. arguments];
    }

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Show(string[] argv) => string.Join(' ', argv.Select(static a => a.Any(char.IsControl) ? Uri.EscapeDataString(a) : a));
}
