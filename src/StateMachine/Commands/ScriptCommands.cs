using System.Text;
using MessagePack;
using RaftKv.StateMachine.Memory;
using RaftKv.StateMachine.Scripting;

namespace RaftKv.StateMachine.Commands;

/// <summary>
/// <c>EVAL script numkeys [key ...] [arg ...]</c>: runs a Lua script as one atomic step of the log entry, at the
/// entry's cluster time, in the client's database, and caches the script by SHA1 (replicated, like Redis's cache).
/// </summary>
/// <remarks>
/// Unlike other writes, a script that fails part-way keeps the writes it made before the error (Redis has no rollback
/// either); the error point is the same on every replica, so they stay identical.
/// </remarks>
[MessagePackObject]
public sealed class EvalCommand : WriteCommand
{
    [Key(0)]
    public required byte[] Script { get; init; }

    [Key(1)]
    public required byte[][] Keys { get; init; }

    [Key(2)]
    public required byte[][] Arguments { get; init; }

    /// <inheritdoc/>
    /// <remarks>Null elements matter most here: the keys and arguments are pushed into Lua as strings.</remarks>
    public override Reply? Validate()
        => RedisErrors.Required("eval", nameof(Script), Script)
           ?? RedisErrors.RequiredArguments("eval", nameof(Keys), Keys)
           ?? RedisErrors.RequiredArguments("eval", nameof(Arguments), Arguments);

    /// <inheritdoc/>
    /// <remarks>
    /// Caching a new script grows memory; running a cached one does not (the seed's lock release keeps working on a full
    /// store), and a write the script makes is judged on its own, as Redis 7 judges a script without flags.
    /// </remarks>
    internal override long? MemoryGrowth(in CommandContext context) => ScriptCacheLimit.Growth(context.Store, Script);

    private protected override Reply ApplyCore(in CommandContext context)
    {
        var store = context.Store;
        if (ScriptCacheLimit.Refusal(store, Script) is { } full)
            return full;
        var cached = store.Scripts.Count;
        var reply = store.Scripting.Eval(context, Script, Keys, Arguments);
        ScriptCacheLimit.ChargeIfAdded(store, cached, Script);
        return reply;
    }
}

/// <summary><c>EVALSHA sha1 numkeys [key ...] [arg ...]</c>: runs a cached script; <c>NOSCRIPT</c> when unknown.</summary>
[MessagePackObject]
public sealed class EvalShaCommand : WriteCommand
{
    [Key(0)]
    public required string Sha { get; init; }

    [Key(1)]
    public required byte[][] Keys { get; init; }

    [Key(2)]
    public required byte[][] Arguments { get; init; }

    /// <inheritdoc/>
    /// <remarks>The SHA1 as the parser leaves it: 40 lower-case hex digits.</remarks>
    public override Reply? Validate()
        => RedisErrors.Required("evalsha", nameof(Sha), Sha)
           ?? (ScriptCommandParser.IsLowerHexSha1(Sha) ? null : RedisErrors.InvalidCommand("evalsha", nameof(Sha) + " is not 40 lower-case hex digits"))
           ?? RedisErrors.RequiredArguments("evalsha", nameof(Keys), Keys)
           ?? RedisErrors.RequiredArguments("evalsha", nameof(Arguments), Arguments);

    private protected override Reply ApplyCore(in CommandContext context) => context.Store.Scripting.EvalSha(context, Sha, Keys, Arguments);
}

/// <summary><c>SCRIPT LOAD script</c>: compiles and caches a script, replying its SHA1.</summary>
[MessagePackObject]
public sealed class ScriptLoadCommand : WriteCommand
{
    [Key(0)]
    public required byte[] Script { get; init; }

    /// <inheritdoc/>
    public override Reply? Validate() => RedisErrors.Required("script|load", nameof(Script), Script);

    /// <inheritdoc/>
    internal override long? MemoryGrowth(in CommandContext context) => ScriptCacheLimit.Growth(context.Store, Script);

    private protected override Reply ApplyCore(in CommandContext context)
    {
        var store = context.Store;
        if (ScriptCacheLimit.Refusal(store, Script) is { } full)
            return full;
        var cached = store.Scripts.Count;
        var reply = store.Scripting.Load(Script);
        ScriptCacheLimit.ChargeIfAdded(store, cached, Script);
        return reply;
    }
}

/// <summary><c>SCRIPT FLUSH [ASYNC|SYNC]</c>: empties the script cache (both modes are synchronous here).</summary>
[MessagePackObject]
public sealed class ScriptFlushCommand : WriteCommand
{
    /// <inheritdoc/>
    /// <remarks>Nothing to check: the command carries no field.</remarks>
    public override Reply? Validate() => null;

    private protected override Reply ApplyCore(in CommandContext context)
    {
        context.Store.Scripting.Flush();
        context.Store.ScriptMemory = 0;
        return Reply.Ok;
    }
}

/// <summary>
/// <c>EVAL_RO</c> / <c>EVALSHA_RO</c>: a script on the read path (any node, after a read barrier). Writes from it are
/// refused with Redis's error; it does not add the script to the cache.
/// </summary>
public sealed class EvalReadOnlyCommand(byte[]? script, string? sha, byte[][] keys, byte[][] arguments) : ReadCommand
{
    /// <summary>The body (<c>EVAL_RO</c>), or null for <c>EVALSHA_RO</c>.</summary>
    public byte[]? Script { get; } = script;

    /// <summary>The SHA1 (<c>EVALSHA_RO</c>), or null for <c>EVAL_RO</c>.</summary>
    public string? Sha { get; } = sha;

    public byte[][] Keys { get; } = keys;

    public byte[][] Arguments { get; } = arguments;

    internal override Reply Execute(in CommandContext context)
        => context.Store.Scripting.EvalReadOnly(context, Script, Sha, Keys, Arguments);
}

/// <summary><c>SCRIPT EXISTS sha1 [sha1 ...]</c>: 1 or 0 for each.</summary>
public sealed class ScriptExistsCommand(string[] shas) : ReadCommand
{
    public string[] Shas { get; } = shas;

    internal override Reply Execute(in CommandContext context)
    {
        var replies = new Reply[Shas.Length];
        for (var i = 0; i < Shas.Length; i++)
            replies[i] = Reply.FromInteger(Shas[i].Length == 40 && context.Store.Scripts.Contains(Shas[i]) ? 1 : 0);
        return Reply.FromArray(replies);
    }
}

/// <summary>
/// <c>SCRIPT KILL</c>: a script here is one bounded step of apply (its instruction budget stops it), so none is ever
/// running from a client's point of view.
/// </summary>
public sealed class ScriptKillCommand : ReadCommand
{
    internal static Reply NotBusy { get; } = Reply.Error("NOTBUSY No scripts in execution right now.");

    internal override Reply Execute(in CommandContext context) => NotBusy;
}

/// <summary><c>SCRIPT HELP</c>.</summary>
public sealed class ScriptHelpCommand : ReadCommand
{
    private static readonly Reply Help = Reply.FromArray(
    [
        .. new[]
        {
            "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
            "HELP",
            "    Print this help.",
        }.Select(Reply.Status),
    ]);

    internal override Reply Execute(in CommandContext context) => Help;
}

/// <summary>
/// The limits on the replicated script cache: at most <see cref="MaxScripts"/> scripts, each charged to
/// <c>used_memory</c> (<see cref="MemoryCosts.Script"/>), so <c>maxmemory</c> refuses caching a new one on a full store.
/// </summary>
/// <remarks>
/// Redis 7.0 has neither limit (its cache only grows memory). The count is a constant of the state machine, so every
/// replica refuses the same script; <c>SCRIPT FLUSH</c> empties the cache. The cache's own code
/// (<see cref="ScriptCache"/>) knows nothing of either: a script added is seen as the cache's count going up.
/// </remarks>
public static class ScriptCacheLimit
{
    /// <summary>Scripts the cache holds at most; a new one beyond that is refused (EVAL and SCRIPT LOAD of cached ones still run).</summary>
    public const int MaxScripts = 10_000;

    /// <summary>The refusal of a new script when the cache is full.</summary>
    public static Reply Full { get; } =
        Reply.Error($"ERR the script cache is full (at most {MaxScripts} scripts); run cached scripts with EVALSHA, or SCRIPT FLUSH");

    /// <summary>What caching <paramref name="body"/> would add to used memory; null when it is cached already.</summary>
    internal static long? Growth(KeyValueStore store, byte[] body)
        => store.Scripts.Contains(ScriptCache.Sha1Hex(body)) ? null : MemoryCosts.Script(body.Length);

    /// <summary><see cref="Full"/> when <paramref name="body"/> is new and the cache holds <see cref="MaxScripts"/>; null otherwise.</summary>
    internal static Reply? Refusal(KeyValueStore store, byte[] body)
        => store.Scripts.Count >= MaxScripts && !store.Scripts.Contains(ScriptCache.Sha1Hex(body)) ? Full : null;

    /// <summary>
    /// Charges <paramref name="body"/> to used memory if the cache holds more than the <paramref name="before"/> scripts
    /// it held before the command ran: no script can touch the cache (scripts may not call SCRIPT or EVAL), so the one
    /// added is this body.
    /// </summary>
    internal static void ChargeIfAdded(KeyValueStore store, int before, byte[] body)
    {
        if (store.Scripts.Count > before)
            store.ScriptMemory += MemoryCosts.Script(body.Length);
    }
}

/// <summary>Argument parsing of the scripting commands, with Redis's texts; its errors never enter the log.</summary>
internal static class ScriptCommandParser
{
    private static readonly Reply TooManyKeys = Reply.Error("ERR Number of keys can't be greater than number of args");
    private static readonly Reply NegativeKeys = Reply.Error("ERR Number of keys can't be negative");
    private static readonly Reply FlushOption = Reply.Error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");

    public static ParsedCommand ParseEval(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
        => TrySplit(argv, out var keys, out var arguments, out var error)
            ? new EvalCommand { Script = argv[1].ToArray(), Keys = keys, Arguments = arguments }
            : ParsedCommand.Fail(error!);

    public static ParsedCommand ParseEvalSha(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        // Redis answers NOSCRIPT before anything else when the SHA1 cannot be one.
        if (argv[1].Length != 40)
            return ParsedCommand.Fail(ScriptRuntime.NoScript);
        if (!TrySplit(argv, out var keys, out var arguments, out var error))
            return ParsedCommand.Fail(error!);

        // Redis finds no script under a name that is not hex and answers NOSCRIPT; so does this, before the log, which
        // then only ever holds a well-formed SHA1 (EvalShaCommand.Validate).
        var sha = Encoding.ASCII.GetString(argv[1].Span).ToLowerInvariant();
        return IsLowerHexSha1(sha)
            ? new EvalShaCommand { Sha = sha, Keys = keys, Arguments = arguments }
            : ParsedCommand.Fail(ScriptRuntime.NoScript);
    }

    /// <summary>True for 40 lower-case hex digits, the form of every name in the script cache.</summary>
    public static bool IsLowerHexSha1(string sha)
    {
        if (sha.Length != 40)
            return false;
        foreach (var c in sha)
        {
            if (!char.IsAsciiHexDigitLower(c))
                return false;
        }

        return true;
    }

    public static ParsedCommand ParseEvalReadOnly(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
        => TrySplit(argv, out var keys, out var arguments, out var error)
            ? new EvalReadOnlyCommand(argv[1].ToArray(), null, keys, arguments)
            : ParsedCommand.Fail(error!);

    public static ParsedCommand ParseEvalShaReadOnly(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        if (argv[1].Length != 40)
            return ParsedCommand.Fail(ScriptRuntime.NoScript);
        return TrySplit(argv, out var keys, out var arguments, out var error)
            ? new EvalReadOnlyCommand(null, Encoding.ASCII.GetString(argv[1].Span), keys, arguments)
            : ParsedCommand.Fail(error!);
    }

    public static ParsedCommand ParseScript(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        var sub = argv[1].Span;
        if (Ascii.EqualsIgnoreCase(sub, "LOAD"u8))
            return argv.Length == 3 ? new ScriptLoadCommand { Script = argv[2].ToArray() } : SubcommandArity("load");
        if (Ascii.EqualsIgnoreCase(sub, "EXISTS"u8))
        {
            if (argv.Length < 3)
                return SubcommandArity("exists");
            var shas = new string[argv.Length - 2];
            for (var i = 0; i < shas.Length; i++)
                shas[i] = Encoding.Latin1.GetString(argv[i + 2].Span);
            return new ScriptExistsCommand(shas);
        }

        if (Ascii.EqualsIgnoreCase(sub, "FLUSH"u8))
        {
            return argv.Length == 2 || (argv.Length == 3 && (Ascii.EqualsIgnoreCase(argv[2].Span, "ASYNC"u8) || Ascii.EqualsIgnoreCase(argv[2].Span, "SYNC"u8)))
                ? new ScriptFlushCommand()
                : ParsedCommand.Fail(FlushOption);
        }

        if (Ascii.EqualsIgnoreCase(sub, "KILL"u8))
            return argv.Length == 2 ? new ScriptKillCommand() : SubcommandArity("kill");
        if (Ascii.EqualsIgnoreCase(sub, "HELP"u8))
            return argv.Length == 2 ? new ScriptHelpCommand() : SubcommandArity("help");

        return ParsedCommand.Fail(Reply.Error($"ERR unknown subcommand '{Encoding.UTF8.GetString(sub)}'. Try SCRIPT HELP."));
    }

    private static ParsedCommand SubcommandArity(string name) => ParsedCommand.Fail(CommandParser.WrongArity("script|" + name));

    // numkeys as Redis checks it: an integer, not more than the arguments that follow, not negative.
    private static bool TrySplit(ReadOnlySpan<ReadOnlyMemory<byte>> argv, out byte[][] keys, out byte[][] arguments, out Reply? error)
    {
        keys = arguments = [];
        error = null;
        if (!RedisNumbers.TryParseInt64(argv[2].Span, out var count))
            error = CommandParser.NotAnInteger;
        else if (count > argv.Length - 3)
            error = TooManyKeys;
        else if (count < 0)
            error = NegativeKeys;
        if (error is not null)
            return false;

        keys = new byte[count][];
        for (var i = 0; i < keys.Length; i++)
            keys[i] = argv[3 + i].ToArray();
        arguments = new byte[argv.Length - 3 - count][];
        for (var i = 0; i < arguments.Length; i++)
            arguments[i] = argv[3 + keys.Length + i].ToArray();
        return true;
    }
}
