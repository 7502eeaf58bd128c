using System.Buffers.Text;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using RaftKv.StateMachine.Acl;
using RaftKv.StateMachine.Commands;
using static RaftKv.StateMachine.Scripting.LuaNative;

namespace RaftKv.StateMachine.Scripting;

// redis.call / redis.pcall: the same parser and commands clients reach, against the script's store, database and
// time; and the conversions between replies and Lua values, both ways, as Redis 7.0 does them (RESP2 unless the
// script asked for RESP3 with redis.setresp).
internal sealed unsafe partial class ScriptEngine
{
    private static readonly Reply NoArguments = Reply.Error("ERR Please specify at least one argument for this redis lib call");
    private static readonly Reply BadArgument = Reply.Error("ERR Lua redis lib command arguments must be strings or integers");
    private static readonly Reply UnknownCommand = Reply.Error("ERR Unknown Redis command called from script");
    private static readonly Reply WrongArgumentCount = Reply.Error("ERR Wrong number of args calling Redis command from script");
    private static readonly Reply NotAllowed = Reply.Error("ERR This Redis command is not allowed from script");
    private static readonly Reply WriteFromReadOnly = Reply.Error("ERR Write commands are not allowed from read-only scripts.");
    private static readonly Reply Pong = Reply.Status("PONG");
    private static readonly Reply BudgetSpent = Reply.Error("ERR Script exceeded its instruction budget");

    // Commands Redis flags "noscript" (scripting itself, transactions, pub/sub, connection state), and RaftKv's session
    // and lock commands: a fencing token or session id is the position of one command in the log, which every command
    // of a script shares.
    private static readonly byte[][] NotAllowedFromScript =
    [
        .. new[]
        {
            "eval", "evalsha", "eval_ro", "evalsha_ro", "script", "fcall", "fcall_ro", "function", "multi", "exec",
            "discard", "watch", "unwatch", "subscribe", "psubscribe", "unsubscribe", "punsubscribe", "ssubscribe",
            "sunsubscribe", "quit", "reset", "hello", "auth", "monitor", "sync", "psync", "client", "wait",
            "session.open", "session.exec", "session.keepalive", "session.close", "acl",
        }.Select(Encoding.ASCII.GetBytes),
        .. Commands.LockArguments.Names,
    ];

    /// <summary>The error for a script reply nested deeper than a reply can be stored, forwarded or snapshotted.</summary>
    internal static readonly Reply ReplyTooDeep = Reply.Error("ERR reached lua stack limit");

    private int protocol;
    private int database;
    private bool replyTooDeep;

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int RedisCall(nint luaState) => EngineOf(luaState).Call(luaState, raise: true);

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int RedisPCall(nint luaState) => EngineOf(luaState).Call(luaState, raise: false);

    /// <summary>
    /// Runs one command for the script. Returns the reply; for <c>redis.call</c> an error reply comes with a second
    /// value, <c>true</c>, and the prelude raises it (raising here would <c>longjmp</c> through this frame).
    /// </summary>
    private int Call(nint luaState, bool raise)
    {
        var previous = active;
        active = luaState;
        EnterApi();
        try
        {
            Reply reply;
            try
            {
                reply = Dispatch(luaState);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // A command that throws is a bug; every replica throws at the same point and answers the same.
                reply = Reply.Error("ERR internal error while running a command from a script: " + e.GetType().Name);
            }

            lua_settop(luaState, 0);
            if (arena.Used + EstimateReply(reply, 0) > arena.Limit)
            {
                StopForMemory();
                reply = Reply.Error($"ERR Script exceeded its memory limit of {limits.MemoryLimitBytes} bytes");
            }

            Push(reply, 0);
            if (reply.IsError && raise)
            {
                lua_pushboolean(luaState, 1);
                return 2;
            }

            return 1;
        }
        catch
        {
            // Only a broken invariant gets here; answer nothing rather than let an exception reach native code.
            lua_settop(luaState, 0);
            lua_pushnil(luaState);
            return 1;
        }
        finally
        {
            LeaveApi();
            active = previous;
        }
    }

    private Reply Dispatch(nint luaState)
    {
        var count = lua_gettop(luaState);
        if (count == 0)
            return NoArguments;

        // Copying the arguments is charged before it is done (the command's reply is charged as it enters Lua).
        long cost = count;
        for (var i = 1; i <= count; i++)
        {
            if (lua_type(luaState, i) == LUA_TSTRING)
            {
                nuint size;
                lua_tolstring(luaState, i, &size);
                cost += (long)size / AllocationBytesPerInstruction;
            }
        }

        if (!Charge(cost))
            return BudgetSpent;

        var argv = new ReadOnlyMemory<byte>[count];
        for (var i = 0; i < count; i++)
        {
            switch (lua_type(luaState, i + 1))
            {
                case LUA_TNUMBER:
                    argv[i] = lua_isinteger(luaState, i + 1) != 0
                        ? FormatInteger(lua_tointegerx(luaState, i + 1, null))
                        : Encoding.ASCII.GetBytes(LuaFormat.G(lua_tonumberx(luaState, i + 1, null), 17));
                    break;
                case LUA_TSTRING:
                    nuint length;
                    var bytes = lua_tolstring(luaState, i + 1, &length);
                    argv[i] = new ReadOnlySpan<byte>(bytes, checked((int)length)).ToArray();
                    break;
                default:
                    return BadArgument;
            }
        }

        return Execute(argv);
    }

    private Reply Execute(ReadOnlyMemory<byte>[] argv)
    {
        var name = argv[0].Span;
        if (!call.User.IsUnrestricted && AclRefusal(argv) is { } refusal)
            return refusal;

        // Connection commands Redis allows in scripts; the node owns them for clients, so scripts get them here.
        if (Ascii.EqualsIgnoreCase(name, "ping"u8))
            return argv.Length switch { 1 => Pong, 2 => Reply.FromBulk(argv[1].ToArray()), _ => CommandParser.WrongArity("ping") };
        if (Ascii.EqualsIgnoreCase(name, "echo"u8))
            return argv.Length == 2 ? Reply.FromBulk(argv[1].ToArray()) : WrongArgumentCount;
        if (Ascii.EqualsIgnoreCase(name, "time"u8))
            return argv.Length == 1 ? Time(call.Now) : WrongArgumentCount;
        if (Ascii.EqualsIgnoreCase(name, "select"u8))
            return argv.Length == 2 ? Select(argv[1].Span) : WrongArgumentCount;

        foreach (var denied in NotAllowedFromScript)
        {
            if (Ascii.EqualsIgnoreCase(name, denied))
                return NotAllowed;
        }

        if (CommandParser.Find(name) is not { } spec)
            return UnknownCommand;
        if (!CommandParser.HasValidArity(spec.Arity, argv.Length))
            return WrongArgumentCount;

        var parsed = spec.Parse(argv);
        var context = new CommandContext(call.Store, database, call.Now);
        return parsed.Outcome switch
        {
            ParseOutcome.Error => parsed.Error!,
            ParseOutcome.Write when call.ReadOnly => WriteFromReadOnly,
            ParseOutcome.Write => parsed.Write!.Apply(context),
            ParseOutcome.Read => parsed.Read!.Execute(context),
            _ => UnknownCommand,
        };
    }

    private static readonly Reply AclCommandDenied = Reply.Error("ERR The user executing the script can't run this command or subcommand");
    private static readonly Reply AclKeyDenied =
        Reply.Error("ERR The user executing the script can't access at least one of the keys mentioned in the command arguments");

    // Redis checks the caller's permissions once the command is known, its arity right and it may run in a script:
    // the other refusals keep their own errors, answered by Execute.
    private Reply? AclRefusal(ReadOnlyMemory<byte>[] argv)
    {
        if (CommandTable.Find(argv[0].Span) is not { } spec || !CommandParser.HasValidArity(spec.Arity, argv.Length))
            return null;
        foreach (var denied in NotAllowedFromScript)
        {
            if (Ascii.EqualsIgnoreCase(argv[0].Span, denied))
                return null;
        }

        return AclCheck.Evaluate(call.User, argv, out _, out _) switch
        {
            AclDenial.Command => AclCommandDenied,
            AclDenial.Key => AclKeyDenied,
            _ => null,
        };
    }

    // redis.acl_check_cmd's native: true or false, nil for a command Redis would not find. Every argument is a string
    // (the prelude converted numbers); copying them is charged as redis.call's are.
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int AclCheckCommand(nint luaState)
    {
        try
        {
            var engine = EngineOf(luaState);
            var count = lua_gettop(luaState);
            long cost = count;
            for (var i = 1; i <= count; i++)
            {
                nuint size;
                lua_tolstring(luaState, i, &size);
                cost += (long)size / AllocationBytesPerInstruction;
            }

            if (!engine.Charge(cost))
            {
                lua_pushboolean(luaState, 0);
                return 1;
            }

            var argv = new ReadOnlyMemory<byte>[count];
            for (var i = 0; i < count; i++)
            {
                nuint length;
                var bytes = lua_tolstring(luaState, i + 1, &length);
                argv[i] = new ReadOnlySpan<byte>(bytes, checked((int)length)).ToArray();
            }

            if (CommandTable.Resolve(argv) is null)
                lua_pushnil(luaState);
            else
                lua_pushboolean(luaState, AclCheck.Evaluate(engine.call.User, argv, out _, out _) == AclDenial.None ? 1 : 0);
        }
        catch
        {
            lua_pushboolean(luaState, 0);
        }

        return 1;
    }

    // TIME inside a script is the entry's cluster time (the read's time for EVAL_RO), never a clock.
    private static Reply Time(long now)
    {
        var seconds = Math.DivRem(now, 1000, out var milliseconds);
        return Reply.FromArray(
        [
            Reply.FromBulk(seconds.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            Reply.FromBulk((milliseconds * 1000).ToString(System.Globalization.CultureInfo.InvariantCulture)),
        ]);
    }

    // SELECT inside a script switches the database for the rest of the script only, as in Redis 7.
    private Reply Select(ReadOnlySpan<byte> argument)
    {
        if (!RedisNumbers.TryParseInt64(argument, out var index))
            return CommandParser.NotAnInteger;
        if ((ulong)index >= KeyValueStore.DatabaseCount)
            return KeyValueStore.InvalidDatabase;
        database = (int)index;
        return Reply.Ok;
    }

    private static byte[] FormatInteger(long value)
    {
        Span<byte> buffer = stackalloc byte[20];
        Utf8Formatter.TryFormat(value, buffer, out var written);
        return buffer[..written].ToArray();
    }

    // What pushing a reply may allocate, rounded up to the arena's classes; checked against the cap before pushing.
    private static long EstimateReply(Reply reply, int depth)
    {
        switch (reply.Kind)
        {
            case ReplyKind.Bulk or ReplyKind.Verbatim:
                return LuaArena.BlockSize(reply.Bulk!.Length + 25) + 16;
            case ReplyKind.Status or ReplyKind.Error:
                return 512 + (2 * LuaArena.BlockSize(Encoding.UTF8.GetByteCount(reply.Text!) + 25));
            case ReplyKind.Array or ReplyKind.Map:
                var total = 128 + LuaArena.BlockSize(16L * reply.Items!.Count);
                if (depth < MaxReplyDepth)
                {
                    foreach (var item in reply.Items)
                        total += EstimateReply(item, depth + 1);
                }

                return total;
            default:
                return 16;
        }
    }

    private void Push(Reply reply, int depth)
    {
        lua_checkstack(active, 4);
        switch (reply.Kind)
        {
            case ReplyKind.Integer:
                lua_pushinteger(active, reply.Integer);
                break;
            case ReplyKind.Bulk or ReplyKind.Verbatim:
                PushBytes(reply.Bulk);
                break;
            case ReplyKind.Status:
                lua_createtable(active, 0, 1);
                PushBytes("ok"u8);
                PushBytes(Encoding.UTF8.GetBytes(reply.Text!));
                lua_rawset(active, -3);
                break;
            case ReplyKind.Error:
                lua_createtable(active, 0, 1);
                PushBytes("err"u8);
                PushBytes(Encoding.UTF8.GetBytes(ErrorTableText(reply.Text!)));
                lua_rawset(active, -3);
                break;
            case ReplyKind.Array or ReplyKind.Map when depth < MaxReplyDepth:
                var items = reply.Items!;
                lua_createtable(active, items.Count, 0);
                for (var i = 0; i < items.Count; i++)
                {
                    Push(items[i], depth + 1);
                    lua_rawseti(active, -2, i + 1);
                }

                break;
            default:
                // Null bulk and null array: false in RESP2, nil in RESP3.
                if (protocol == 3)
                    lua_pushnil(active);
                else
                    lua_pushboolean(active, 0);
                break;
        }
    }

    /// <summary>
    /// Redis's <c>luaPushErrorBuff</c> on <c>"-" + text</c>: the first word is the code (<c>ERR</c> when there is no
    /// space), CR/LF are trimmed from the message's ends.
    /// </summary>
    internal static string ErrorTableText(string text)
    {
        var space = text.IndexOf(' ', StringComparison.Ordinal);
        var (code, message) = space < 0 ? ("ERR", text) : (text[..space], text[(space + 1)..]);
        return code + " " + message.Trim('\r', '\n');
    }

    /// <summary>Converts the Lua value at <paramref name="index"/> to a reply, as Redis's <c>luaReplyToRedisReply</c>.</summary>
    private Reply ToReply(int index, int depth)
    {
        index = index < 0 ? lua_gettop(state) + index + 1 : index;
        switch (lua_type(state, index))
        {
            case LUA_TSTRING:
                nuint length;
                var bytes = lua_tolstring(state, index, &length);
                return Reply.FromBulk(new ReadOnlySpan<byte>(bytes, checked((int)length)).ToArray());
            case LUA_TBOOLEAN:
                return lua_toboolean(state, index) != 0 ? Reply.FromInteger(1) : Reply.NullBulk;
            case LUA_TNUMBER:
                return Reply.FromInteger(lua_isinteger(state, index) != 0
                    ? lua_tointegerx(state, index, null)
                    : TruncateToInteger(lua_tonumberx(state, index, null)));
            case LUA_TTABLE:
                return TableToReply(index, depth);
            default:
                return Reply.NullBulk;
        }
    }

    // One depth limit for every reply: a script's reply nests no deeper than ReplySerializer.MaxDepth, so whatever a
    // script answers can also be kept in a session, forwarded from the leader and written to a snapshot. A deeper one
    // makes the whole reply the error (not an error inside the arrays, which would still be too deep).
    private Reply TableToReply(int index, int depth)
    {
        if (depth >= ReplySerializer.MaxDepth || replyTooDeep || lua_checkstack(state, 4) == 0)
        {
            replyTooDeep = true;
            return ReplyTooDeep;
        }

        // An error or status table: {err='...'} wins over {ok='...'}; only string fields count.
        if (RawField(index, "err"u8) is { } error)
            return Reply.Error(error);
        if (RawField(index, "ok"u8) is { } status)
            return Reply.Status(status);

        PushBytes("map"u8);
        if (lua_rawget(state, index) == LUA_TTABLE)
        {
            var pairs = CollectPairs(lua_gettop(state), depth, keysOnly: false);
            lua_settop(state, -2);
            return Reply.FromArray(pairs);
        }

        lua_settop(state, -2);
        PushBytes("set"u8);
        if (lua_rawget(state, index) == LUA_TTABLE)
        {
            var members = CollectPairs(lua_gettop(state), depth, keysOnly: true);
            lua_settop(state, -2);
            return Reply.FromArray(members);
        }

        lua_settop(state, -2);

        // An array: elements 1, 2, ... up to the first nil.
        var items = new List<Reply>();
        for (var j = 1; ; j++)
        {
            if (lua_rawgeti(state, index, j) == LUA_TNIL)
            {
                lua_settop(state, -2);
                break;
            }

            items.Add(ToReply(-1, depth + 1));
            lua_settop(state, -2);
        }

        return Reply.FromArray([.. items]);
    }

    // RESP3 map and set tables, which Redis flattens for RESP2 clients (in the table's iteration order).
    private Reply[] CollectPairs(int table, int depth, bool keysOnly)
    {
        var items = new List<Reply>();
        lua_pushnil(state);
        while (lua_next(state, table) != 0)
        {
            items.Add(ToReply(-2, depth + 1));
            if (!keysOnly)
                items.Add(ToReply(-1, depth + 1));
            lua_settop(state, -2);
        }

        return [.. items];
    }

    /// <summary>C's (long long) cast as x86-64 does it: truncation, and the minimum for NaN and out-of-range values.</summary>
    internal static long TruncateToInteger(double value)
        => double.IsNaN(value) || value >= 9.2233720368547758e18 || value < -9.2233720368547758e18 ? long.MinValue : (long)value;

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Sha1Hex(nint luaState)
    {
        var engine = EngineOf(luaState);
        var previous = engine.active;
        engine.active = luaState;
        engine.EnterApi();
        try
        {
            nuint length = 0;
            var text = lua_type(luaState, 1) == LUA_TSTRING ? lua_tolstring(luaState, 1, &length) : null;
            if (!engine.Charge(1 + ((long)length / 4)))
            {
                lua_pushnil(luaState);
                return 1;
            }

            var sha = ScriptCache.Sha1Hex(new ReadOnlySpan<byte>(text, (int)length));
            engine.PushBytes(Encoding.ASCII.GetBytes(sha));
            return 1;
        }
        catch
        {
            lua_pushnil(luaState);
            return 1;
        }
        finally
        {
            engine.LeaveApi();
            engine.active = previous;
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int IsCommand(nint luaState)
    {
        try
        {
            nuint length;
            var name = new ReadOnlySpan<byte>(lua_tolstring(luaState, 1, &length), (int)length);
            var known = CommandParser.Find(name) is not null || Ascii.EqualsIgnoreCase(name, "ping"u8) || Ascii.EqualsIgnoreCase(name, "echo"u8)
                || Ascii.EqualsIgnoreCase(name, "time"u8) || Ascii.EqualsIgnoreCase(name, "select"u8);
            lua_pushboolean(luaState, known ? 1 : 0);
        }
        catch
        {
            lua_pushboolean(luaState, 0);
        }

        return 1;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int InArena(nint luaState)
    {
        try
        {
            lua_pushboolean(luaState, EngineOf(luaState).arena.Contains(lua_topointer(luaState, 1)) ? 1 : 0);
        }
        catch
        {
            lua_pushboolean(luaState, 0);
        }

        return 1;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int SetResp(nint luaState)
    {
        try
        {
            EngineOf(luaState).protocol = (int)lua_tointegerx(luaState, 1, null);
        }
        catch
        {
            // The prelude validated the argument; nothing to report.
        }

        return 0;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Random(nint luaState)
    {
        try
        {
            lua_pushinteger(luaState, EngineOf(luaState).random.Next());
        }
        catch
        {
            lua_pushinteger(luaState, 0);
        }

        return 1;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int RandomSeed(nint luaState)
    {
        try
        {
            var seed = lua_isinteger(luaState, 1) != 0
                ? unchecked((int)lua_tointegerx(luaState, 1, null))
                : (int)lua_tonumberx(luaState, 1, null);
            EngineOf(luaState).random.Seed(seed);
        }
        catch
        {
            // The prelude validated the argument; nothing to report.
        }

        return 0;
    }
}

/// <summary>C's <c>%.Ng</c> for doubles, which Redis and Lua use to turn numbers into text.</summary>
internal static class LuaFormat
{
    /// <summary>Formats like <c>printf("%.{precision}g", value)</c> with glibc (<c>inf</c>, <c>-nan</c>, <c>1e+20</c>).</summary>
    public static string G(double value, int precision)
    {
        if (double.IsNaN(value))
            return double.IsNegative(value) ? "-nan" : "nan";
        if (double.IsInfinity(value))
            return value > 0 ? "inf" : "-inf";
        if (value == 0)
            return double.IsNegative(value) ? "-0" : "0";

        var scientific = value.ToString("E" + (precision - 1), System.Globalization.CultureInfo.InvariantCulture);
        var e = scientific.IndexOf('E', StringComparison.Ordinal);
        var exponent = int.Parse(scientific.AsSpan(e + 1), System.Globalization.CultureInfo.InvariantCulture);
        if (exponent < -4 || exponent >= precision)
        {
            var mantissa = TrimZeros(scientific[..e]);
            var sign = exponent < 0 ? '-' : '+';
            var digits = Math.Abs(exponent).ToString("00", System.Globalization.CultureInfo.InvariantCulture);
            return $"{mantissa}e{sign}{digits}";
        }

        return TrimZeros(value.ToString("F" + (precision - 1 - exponent), System.Globalization.CultureInfo.InvariantCulture));

        static string TrimZeros(string text)
            => text.Contains('.', StringComparison.Ordinal) ? text.TrimEnd('0').TrimEnd('.') : text;
    }
}
