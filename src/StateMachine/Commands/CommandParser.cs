using System.Text;
using RaftKv.StateMachine.Acl;

namespace RaftKv.StateMachine.Commands;

/// <summary>What parsing a request produced.</summary>
public enum ParseOutcome : byte
{
    /// <summary>Not a command of the state machine (the node may know it).</summary>
    Unknown,
    /// <summary>Rejected before execution: wrong arity or syntax. Never enters the log.</summary>
    Error,
    /// <summary>A write, to be proposed through the log.</summary>
    Write,
    /// <summary>A read, to be served locally after a read barrier.</summary>
    Read,
}

/// <summary>A parsed request: a write, a read, or the error to answer at once.</summary>
public readonly record struct ParsedCommand(ParseOutcome Outcome, WriteCommand? Write = null, ReadCommand? Read = null, Reply? Error = null)
{
    public static ParsedCommand Unknown => default;

    public static ParsedCommand Fail(Reply error) => new(ParseOutcome.Error, Error: error);

    public static implicit operator ParsedCommand(WriteCommand write) => new(ParseOutcome.Write, Write: write);

    public static implicit operator ParsedCommand(ReadCommand read) => new(ParseOutcome.Read, Read: read);
}

/// <summary>Parses one request's arguments into a command. <c>argv[0]</c> is the command name.</summary>
public delegate ParsedCommand CommandParse(ReadOnlySpan<ReadOnlyMemory<byte>> argv);

/// <summary>
/// A command of the state machine as <c>COMMAND</c> describes it. <see cref="Arity"/> follows Redis: positive is
/// exact, negative is a minimum, both counting the name.
/// </summary>
public sealed record CommandSpec(string Name, int Arity, bool IsWrite, int FirstKey, int LastKey, int KeyStep, CommandParse Parse)
{
    /// <summary>Redis 7.0's ACL categories of the command (<c>+@read</c>, <c>-@dangerous</c>...).</summary>
    public AclCategories Categories { get; init; }

    /// <summary>
    /// What ACL key patterns each key position needs (Redis's key specs reduced to read/write): the n-th key found from
    /// <see cref="FirstKey"/>/<see cref="LastKey"/>/<see cref="KeyStep"/> uses entry n, the last entry serving the rest.
    /// Empty for a command without fixed key positions (scripts: <see cref="AclCheck"/> reads their <c>numkeys</c>).
    /// </summary>
    public IReadOnlyList<KeyAccess> KeyAccess { get; init; } = [];

    /// <summary>The subcommands (<c>config|get</c>...), named <c>parent|sub</c>; empty for most commands.</summary>
    public IReadOnlyList<CommandSpec> Subcommands { get; init; } = [];

    /// <summary>Redis's <c>no_auth</c> flag (AUTH, HELLO, QUIT, RESET): runs whatever the user's command rules say.</summary>
    public bool NoAuth { get; init; }
}

/// <summary>
/// The data commands: name lookup, arity, option syntax. Errors found here are answered by the node at once and never
/// enter the log; what passes becomes a typed <see cref="WriteCommand"/> or <see cref="ReadCommand"/>.
/// </summary>
/// <remarks>
/// Adding a command: a class in <c>Commands/</c> (a write needs a new, never reused, <c>[Union]</c> tag on
/// <see cref="WriteCommand"/>), a <see cref="CommandSpec"/> below, tests in RaftKv.StateMachine.Tests.
/// </remarks>
public static class CommandParser
{
    /// <summary>Every data command, in the order <c>COMMAND</c> lists them.</summary>
    /// <remarks>Each family keeps its table in its own file; this list only joins them.</remarks>
    public static IReadOnlyList<CommandSpec> Commands { get; } = [.. StringCommandTable.Specs(), .. ScriptCommandTable.Specs(), .. SessionCommandTable.Specs(), .. AclCommandTable.Specs()];

    // Looked up by length first: a handful of ASCII comparisons, no string per request.
    private static readonly CommandSpec[][] ByLength = Commands
        .GroupBy(static spec => spec.Name.Length)
        .Aggregate(new CommandSpec[33][], static (table, group) =>
        {
            table[group.Key] = [.. group];
            return table;
        });

    /// <summary>Finds a data command by name, ignoring ASCII case.</summary>
    public static CommandSpec? Find(ReadOnlySpan<byte> name)
    {
        if (name.Length >= ByLength.Length || ByLength[name.Length] is not { } candidates)
            return null;

        foreach (var spec in candidates)
        {
            if (Ascii.EqualsIgnoreCase(name, spec.Name))
                return spec;
        }

        return null;
    }

    /// <summary>Parses a request; <see cref="ParseOutcome.Unknown"/> when the name is not a data command.</summary>
    public static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        if (argv.IsEmpty || Find(argv[0].Span) is not { } spec)
            return ParsedCommand.Unknown;
        return Parse(spec, argv);
    }

    /// <summary>
    /// Parses a request whose command was already looked up (in this table or <see cref="CommandTable"/>: a node
    /// command's spec parses as <see cref="ParseOutcome.Unknown"/>, or its wrong-arity error).
    /// </summary>
    public static ParsedCommand Parse(CommandSpec spec, ReadOnlySpan<ReadOnlyMemory<byte>> argv)
        => HasValidArity(spec.Arity, argv.Length) ? spec.Parse(argv) : ParsedCommand.Fail(WrongArity(spec.Name));

    /// <summary>Redis's arity rule: positive is exact, negative is a minimum.</summary>
    public static bool HasValidArity(int arity, int count) => arity >= 0 ? count == arity : count >= -arity;

    /// <summary><c>ERR wrong number of arguments for '...' command</c>.</summary>
    public static Reply WrongArity(string name) => Reply.Error($"ERR wrong number of arguments for '{name}' command");

    internal static ParsedCommand ParseGet(ReadOnlySpan<ReadOnlyMemory<byte>> argv) => new GetCommand(argv[1].ToArray());

    internal static ParsedCommand ParseDel(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        var keys = new byte[argv.Length - 1][];
        for (var i = 0; i < keys.Length; i++)
            keys[i] = argv[i + 1].ToArray();
        return new DelCommand { Keys = keys };
    }

    // t_string.c parseExtendedStringArgumentsOrReply, for SET: conflicting options are a syntax error, repeating one
    // is not (the last value wins), and an expire time is checked before anything runs.
    internal static ParsedCommand ParseSet(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        var condition = SetCondition.None;
        var expiry = SetExpiry.None;
        var unitIsSeconds = false;
        ReadOnlyMemory<byte> expiryArgument = default;
        var returnOld = false;

        for (var i = 3; i < argv.Length; i++)
        {
            var option = argv[i].Span;
            var hasNext = i + 1 < argv.Length;
            if (Ascii.EqualsIgnoreCase(option, "NX"u8) && condition != SetCondition.IfExists)
            {
                condition = SetCondition.IfNotExists;
            }
            else if (Ascii.EqualsIgnoreCase(option, "XX"u8) && condition != SetCondition.IfNotExists)
            {
                condition = SetCondition.IfExists;
            }
            else if (Ascii.EqualsIgnoreCase(option, "GET"u8))
            {
                returnOld = true;
            }
            else if (Ascii.EqualsIgnoreCase(option, "KEEPTTL"u8) && expiry is SetExpiry.None or SetExpiry.KeepTtl)
            {
                expiry = SetExpiry.KeepTtl;
            }
            else if (TryExpiryOption(option, out var kind, out var seconds) && hasNext
                     && (expiry == SetExpiry.None || (expiry == kind && unitIsSeconds == seconds)))
            {
                expiry = kind;
                unitIsSeconds = seconds;
                expiryArgument = argv[++i];
            }
            else
            {
                return ParsedCommand.Fail(Reply.SyntaxError);
            }
        }

        long expiryValue = 0;
        if (expiry is SetExpiry.RelativeMilliseconds or SetExpiry.AbsoluteMilliseconds)
        {
            if (!RedisNumbers.TryParseInt64(expiryArgument.Span, out expiryValue))
                return ParsedCommand.Fail(NotAnInteger);
            if (expiryValue <= 0 || (unitIsSeconds && expiryValue > long.MaxValue / 1000))
                return ParsedCommand.Fail(KeyValueStore.InvalidExpireTime("set"));
            if (unitIsSeconds)
                expiryValue *= 1000;
        }

        return new SetCommand
        {
            Key = argv[1].ToArray(),
            Value = argv[2].ToArray(),
            Condition = condition,
            Expiry = expiry,
            ExpiryValue = expiryValue,
            ReturnOldValue = returnOld,
        };

        static bool TryExpiryOption(ReadOnlySpan<byte> option, out SetExpiry kind, out bool seconds)
        {
            (kind, seconds) = option switch
            {
                _ when Ascii.EqualsIgnoreCase(option, "EX"u8) => (SetExpiry.RelativeMilliseconds, true),
                _ when Ascii.EqualsIgnoreCase(option, "PX"u8) => (SetExpiry.RelativeMilliseconds, false),
                _ when Ascii.EqualsIgnoreCase(option, "EXAT"u8) => (SetExpiry.AbsoluteMilliseconds, true),
                _ when Ascii.EqualsIgnoreCase(option, "PXAT"u8) => (SetExpiry.AbsoluteMilliseconds, false),
                _ => (SetExpiry.None, false),
            };
            return kind != SetExpiry.None;
        }
    }

    internal static Reply NotAnInteger { get; } = Reply.Error("ERR value is not an integer or out of range");
}
