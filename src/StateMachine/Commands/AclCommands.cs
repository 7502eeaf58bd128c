using System.Security.Cryptography;
using System.Text;
using MessagePack;
using RaftKv.StateMachine.Acl;
using C = RaftKv.StateMachine.Acl.AclCategories;

namespace RaftKv.StateMachine.Commands;

/// <summary>
/// <c>ACL</c>: the subcommands that read or change the replicated users. <c>SETUSER</c> and <c>DELUSER</c> are writes,
/// <c>GETUSER</c>, <c>LIST</c>, <c>USERS</c>, <c>CAT</c> and <c>DRYRUN</c> reads; <c>WHOAMI</c>, <c>LOG</c>, <c>SAVE</c>,
/// <c>LOAD</c>, <c>GENPASS</c> and <c>HELP</c> parse to <see cref="ParseOutcome.Unknown"/>: the node answers them.
/// </summary>
internal static class AclCommandTable
{
    /// <summary>The most rules one <c>ACL SETUSER</c> or one user of <c>ACL LOAD</c> carries.</summary>
    public const int MaxRules = 4096;

    public static CommandSpec[] Specs() =>
    [
        new("acl", -2, IsWrite: false, 0, 0, 0, Parse) { Categories = C.Slow, Subcommands = Subcommands.Of("acl") },
    ];

    private static readonly string[] NodeSubcommands = ["whoami", "log", "save", "load", "genpass", "help"];

    internal static ParsedCommand Parse(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        var name = argv[1].Span;
        foreach (var own in NodeSubcommands)
        {
            if (Ascii.EqualsIgnoreCase(name, own))
                return ParsedCommand.Unknown;
        }

        var acl = CommandTable.Find("acl")!;
        if (CommandTable.FindSubcommand(acl, name) is not { } sub)
            return ParsedCommand.Fail(Reply.Error($"ERR unknown subcommand '{RedisErrors.Printable(name)}'. Try ACL HELP."));
        if (!CommandParser.HasValidArity(sub.Arity, argv.Length))
            return ParsedCommand.Fail(CommandParser.WrongArity(sub.Name));

        return sub.Name switch
        {
            "acl|setuser" => ParseSetUser(argv),
            "acl|deluser" => new AclDelUserCommand { Names = [.. argv[2..].ToArray().Select(static a => a.ToArray())] },
            "acl|getuser" => new AclGetUserCommand(argv[2].ToArray()),
            "acl|list" => new AclListCommand(),
            "acl|users" => new AclUsersCommand(),
            "acl|cat" when argv.Length <= 3 => new AclCatCommand(argv.Length == 3 ? argv[2].ToArray() : null),
            "acl|cat" => ParsedCommand.Fail(Reply.Error($"ERR unknown subcommand or wrong number of arguments for '{RedisErrors.Printable(name)}'. Try ACL HELP.")),
            "acl|dryrun" => new AclDryRunCommand(argv[2].ToArray(), [.. argv[3..].ToArray().Select(static a => a.ToArray())]),
            _ => ParsedCommand.Unknown,
        };
    }

    private static ParsedCommand ParseSetUser(ReadOnlySpan<ReadOnlyMemory<byte>> argv)
    {
        var name = argv[2].Span;
        if (HasSpaces(name))
            return ParsedCommand.Fail(InvalidUserName);
        if (name.Length > AclTable.MaxNameBytes)
            return ParsedCommand.Fail(NameTooLong);
        if (argv.Length - 3 > MaxRules)
            return ParsedCommand.Fail(Reply.Error($"ERR ACL SETUSER takes at most {MaxRules} rules in RaftKv"));

        var rules = new byte[argv.Length - 3][];
        for (var i = 0; i < rules.Length; i++)
            rules[i] = HidePassword(argv[i + 3].Span);

        // Syntax is judged now, on a new user, so a mistyped rule never enters the log; what depends on the user's
        // current state (removing a password it lacks, a pattern after allkeys) is judged in apply.
        var scratch = AclUser.CreateNew(Encoding.Latin1.GetString(name));
        for (var i = 0; i < rules.Length; i++)
        {
            var rule = rules[i];
            if (rule is [(byte)'!', ..] && rule.Length == 65 && IsLowerHex(rule.AsSpan(1)))
                continue; // removing a password: only the stored user can say whether it has it
            if (scratch.Apply(rule) is { } reason)
                return ParsedCommand.Fail(SetUserError(argv[i + 3].Span, reason));
        }

        return new AclSetUserCommand { Name = name.ToArray(), Rules = rules };
    }

    /// <summary>
    /// <c>&gt;password</c> becomes <c>#sha256hex</c> and <c>&lt;password</c> becomes <c>!sha256hex</c>, so no clear
    /// password ever enters the log (Redis stores only the hash either way).
    /// </summary>
    internal static byte[] HidePassword(ReadOnlySpan<byte> rule)
    {
        if (rule.IsEmpty || rule[0] is not ((byte)'>' or (byte)'<'))
            return rule.ToArray();
        var hex = Convert.ToHexStringLower(SHA256.HashData(rule[1..]));
        return Encoding.ASCII.GetBytes((rule[0] == (byte)'>' ? "#" : "!") + hex);
    }

    private static bool IsLowerHex(ReadOnlySpan<byte> text)
    {
        foreach (var c in text)
        {
            if (c is not ((>= (byte)'0' and <= (byte)'9') or (>= (byte)'a' and <= (byte)'f')))
                return false;
        }

        return true;
    }

    // ACLStringHasSpaces.
    internal static bool HasSpaces(ReadOnlySpan<byte> text) => text.IndexOfAny(" \t\n\v\f\r\0"u8) >= 0;

    public static Reply InvalidUserName { get; } = Reply.Error("ERR Usernames can't contain spaces or null characters");

    public static Reply NameTooLong { get; } = Reply.Error($"ERR ACL user names are limited to {AclTable.MaxNameBytes} bytes in RaftKv");

    public static Reply DefaultCannotBeRemoved { get; } = Reply.Error("ERR The 'default' user cannot be removed");

    public static Reply TooManyUsers { get; } = Reply.Error($"ERR ACL users are limited to {AclTable.MaxUsers} in RaftKv");

    public static Reply SetUserError(ReadOnlySpan<byte> rule, string reason)
        => Reply.Error($"ERR Error in ACL SETUSER modifier '{RedisErrors.Printable(rule)}': {reason}");

    /// <summary>The <c>exec</c>-style refusal of rules a log entry may not carry: null when they are fine.</summary>
    internal static Reply? ValidateRules(string command, string field, byte[][]? rules)
    {
        if (RedisErrors.RequiredArguments(command, field, rules) is { } invalid)
            return invalid;
        if (rules!.Length > MaxRules)
            return RedisErrors.InvalidCommand(command, $"{field} holds more than {MaxRules} rules");
        foreach (var rule in rules)
        {
            if (rule is [(byte)'>' or (byte)'<', ..])
                return RedisErrors.InvalidCommand(command, $"{field} holds a clear password");
        }

        return null;
    }

    /// <summary>The name a log entry carries, checked as the parser checks it; null when it is fine.</summary>
    internal static Reply? ValidateName(string command, string field, byte[]? name)
        => RedisErrors.Required(command, field, name)
           ?? (HasSpaces(name) ? RedisErrors.InvalidCommand(command, $"{field} holds spaces or null characters") : null)
           ?? (name!.Length > AclTable.MaxNameBytes ? RedisErrors.InvalidCommand(command, $"{field} is longer than {AclTable.MaxNameBytes} bytes") : null);
}

/// <summary>
/// <c>ACL SETUSER name rule...</c>: creates the user (as Redis: <c>off</c>, no passwords, commands, keys or channels)
/// or changes it. The rules apply to a copy, which replaces the user only when every rule applied: an invalid rule
/// changes nothing. Passwords travel as hashes (<c>#</c>, <c>!</c>): the parser rewrote <c>&gt;</c> and <c>&lt;</c>.
/// </summary>
[MessagePackObject]
public sealed class AclSetUserCommand : WriteCommand
{
    /// <summary>The user's name.</summary>
    [Key(0)]
    public required byte[] Name { get; init; }

    /// <summary>The rules, in order; never a clear password.</summary>
    [Key(1)]
    public required byte[][] Rules { get; init; }

    /// <summary>
    /// The users the proposing node was configured with, loaded first when the table was never initialized (see
    /// <see cref="AclLoadCommand.LoadConfiguredFirst"/>); null otherwise.
    /// </summary>
    [Key(2)]
    public AclUserRules[]? ConfiguredUsers { get; init; }

    /// <inheritdoc/>
    public override Reply? Validate()
        => AclCommandTable.ValidateName("acl|setuser", nameof(Name), Name) ?? AclCommandTable.ValidateRules("acl|setuser", nameof(Rules), Rules)
           ?? AclLoadCommand.ValidateUsers("acl|setuser", nameof(ConfiguredUsers), ConfiguredUsers, required: false);

    private protected override Reply ApplyCore(in CommandContext context)
    {
        var table = context.Store.Acl;
        if (AclLoadCommand.LoadConfiguredFirst(table, ConfiguredUsers) is { } failed)
            return failed;
        var name = Encoding.Latin1.GetString(Name);
        var existing = table.Find(name);
        if (existing is null && table.Count >= AclTable.MaxUsers)
            return AclCommandTable.TooManyUsers;

        var user = existing?.Clone() ?? AclUser.CreateNew(name);
        foreach (var rule in Rules)
        {
            if (user.Apply(rule) is { } reason)
                return AclCommandTable.SetUserError(rule, reason);
        }

        table.Put(user);
        return Reply.Ok;
    }
}

/// <summary><c>ACL DELUSER name...</c>: removes the users; replies how many existed. <c>default</c> cannot be removed.</summary>
[MessagePackObject]
public sealed class AclDelUserCommand : WriteCommand
{
    /// <summary>The names.</summary>
    [Key(0)]
    public required byte[][] Names { get; init; }

    /// <summary>As <see cref="AclSetUserCommand.ConfiguredUsers"/>.</summary>
    [Key(1)]
    public AclUserRules[]? ConfiguredUsers { get; init; }

    /// <inheritdoc/>
    public override Reply? Validate()
        => RedisErrors.RequiredArguments("acl|deluser", nameof(Names), Names, minimum: 1)
           ?? (Names.Length > AclTable.MaxUsers ? RedisErrors.InvalidCommand("acl|deluser", $"{nameof(Names)} holds more than {AclTable.MaxUsers} names") : null)
           ?? AclLoadCommand.ValidateUsers("acl|deluser", nameof(ConfiguredUsers), ConfiguredUsers, required: false);

    private protected override Reply ApplyCore(in CommandContext context)
    {
        if (AclLoadCommand.LoadConfiguredFirst(context.Store.Acl, ConfiguredUsers) is { } failed)
            return failed;

        foreach (var name in Names)
        {
            if (name.AsSpan().SequenceEqual("default"u8))
                return AclCommandTable.DefaultCannotBeRemoved;
        }

        var table = context.Store.Acl;
        var deleted = 0;
        foreach (var name in Names)
        {
            if (table.Remove(Encoding.Latin1.GetString(name)))
                deleted++;
        }

        table.Changed();
        return Reply.FromInteger(deleted);
    }
}

/// <summary>A user and its rules, as <c>ACL LOAD</c> carries them (an aclfile line: <c>user name rules...</c>).</summary>
[MessagePackObject]
public sealed class AclUserRules
{
    /// <summary>The user's name.</summary>
    [Key(0)]
    public required byte[] Name { get; init; }

    /// <summary>The rules, applied in order to a new user; passwords as hashes only.</summary>
    [Key(1)]
    public required byte[][] Rules { get; init; }
}

/// <summary>
/// Replaces every user with <see cref="Users"/> (built from new users), adding <c>default</c> as Redis starts with it
/// when they do not define it. The node proposes it from its configuration (<c>requirepass</c>, <c>aclfile</c>) at
/// first start, with <see cref="OnlyIfUninitialized"/>, and for <c>ACL LOAD</c>. All or nothing.
/// </summary>
[MessagePackObject]
public sealed class AclLoadCommand : WriteCommand
{
    /// <summary>The users.</summary>
    [Key(0)]
    public required AclUserRules[] Users { get; init; }

    /// <summary>When true, does nothing (answers OK) once the table was initialized by any ACL write.</summary>
    [Key(1)]
    public bool OnlyIfUninitialized { get; init; }

    /// <inheritdoc/>
    public override Reply? Validate() => ValidateUsers("acl|load", nameof(Users), Users, required: true);

    internal static Reply? ValidateUsers(string name, string field, AclUserRules[]? users, bool required)
    {
        if (users is null)
            return required ? RedisErrors.Required(name, field, users) : null;
        if (users.Length > AclTable.MaxUsers)
            return RedisErrors.InvalidCommand(name, $"{field} holds more than {AclTable.MaxUsers} users");
        for (var i = 0; i < users.Length; i++)
        {
            var item = $"{field}[{i}]";
            var invalid = RedisErrors.Required(name, item, users[i])
                          ?? AclCommandTable.ValidateName(name, item + ".Name", users[i].Name)
                          ?? AclCommandTable.ValidateRules(name, item + ".Rules", users[i].Rules);
            if (invalid is not null)
                return invalid;
        }

        return null;
    }

    /// <summary>
    /// Before the first change of users in a table never initialized, the users the proposing node was configured
    /// with (<c>requirepass</c>, <c>aclfile</c>) are loaded: otherwise that change would mark the table initialized and
    /// the configured users — proposed by the leader a moment later, only if uninitialized — would never load, leaving
    /// <c>default</c> without its password. Null when done or nothing to do; the error when they do not load.
    /// </summary>
    internal static Reply? LoadConfiguredFirst(AclTable table, AclUserRules[]? configured)
        => configured is null || table.Initialized ? null : Load(table, configured) is { Kind: ReplyKind.Error } failed ? failed : null;

    private protected override Reply ApplyCore(in CommandContext context)
    {
        var table = context.Store.Acl;
        if (OnlyIfUninitialized && table.Initialized)
            return Reply.Ok;
        return Load(table, Users);
    }

    private static Reply Load(AclTable table, AclUserRules[] users)
    {
        var built = new Dictionary<string, AclUser>(StringComparer.Ordinal);
        foreach (var definition in users)
        {
            var name = Encoding.Latin1.GetString(definition.Name);
            if (built.ContainsKey(name))
                return Reply.Error($"ERR Duplicate user '{RedisErrors.Printable(definition.Name)}' found");
            if (AclTable.Build(name, definition.Rules, out var rule, out var reason) is not { } user)
                return Reply.Error($"ERR Error in ACL LOAD for user '{RedisErrors.Printable(definition.Name)}' modifier '{RedisErrors.Printable(rule)}': {reason}");
            built.Add(name, user);
        }

        table.ReplaceAll(built.Values);
        return Reply.Ok;
    }
}

/// <summary><c>ACL GETUSER name</c>: the user's flags, password hashes, command rules, key and channel patterns, selectors.</summary>
public sealed class AclGetUserCommand(byte[] name) : ReadCommand
{
    internal override Reply Execute(in CommandContext context)
    {
        if (context.Store.Acl.Find(name) is not { } user)
            return Reply.NullBulk;
        return Reply.FromMap(
        [
            Reply.FromBulk("flags"), Reply.FromArray([.. user.FlagNamesInOrder().Select(Reply.FromBulk)]),
            Reply.FromBulk("passwords"), Reply.FromArray([.. user.PasswordHashes.Select(static h => Reply.FromBulk(Convert.ToHexStringLower(h)))]),
            Reply.FromBulk("commands"), Latin1(user.DescribeCommands()),
            Reply.FromBulk("keys"), Latin1(user.DescribeKeyPatterns()),
            Reply.FromBulk("channels"), Latin1(user.DescribeChannels()),
            Reply.FromBulk("selectors"), Reply.EmptyArray,
        ]);
    }

    internal static Reply Latin1(string text) => Reply.FromBulk(Encoding.Latin1.GetBytes(text));
}

/// <summary><c>ACL LIST</c>: each user as an aclfile line.</summary>
public sealed class AclListCommand : ReadCommand
{
    internal override Reply Execute(in CommandContext context)
        => Reply.FromArray([.. context.Store.Acl.Users.Select(static u => AclGetUserCommand.Latin1(u.Describe()))]);
}

/// <summary><c>ACL USERS</c>: the users' names, in byte order.</summary>
public sealed class AclUsersCommand : ReadCommand
{
    internal override Reply Execute(in CommandContext context)
        => Reply.FromArray([.. context.Store.Acl.Users.Select(static u => AclGetUserCommand.Latin1(u.Name))]);
}

/// <summary>
/// <c>ACL CAT [category]</c>: the categories, or the commands and subcommands of one, in <see cref="CommandTable"/>'s
/// order (Redis lists them in its hash table's order, which changes at every start).
/// </summary>
public sealed class AclCatCommand(byte[]? category) : ReadCommand
{
    internal override Reply Execute(in CommandContext context)
    {
        if (category is null)
            return Reply.FromArray([.. AclCategoryNames.All.Select(static c => Reply.FromBulk(c.Name))]);
        if (!AclCategoryNames.TryParse(category, out var flag))
            return Reply.Error($"ERR Unknown category '{RedisErrors.Printable(category.AsSpan(0, Math.Min(category.Length, 128)))}'");
        return Reply.FromArray([.. AclCommands.Flattened.Where(c => (c.Categories & flag) != 0).Select(static c => Reply.FromBulk(c.FullName))]);
    }
}

/// <summary><c>ACL DRYRUN user command [arg...]</c>: whether the user could run the command, without running it.</summary>
public sealed class AclDryRunCommand(byte[] user, byte[][] command) : ReadCommand
{
    internal override Reply Execute(in CommandContext context)
    {
        if (context.Store.Acl.Find(user) is not { } found)
            return Reply.Error($"ERR User '{RedisErrors.Printable(user)}' not found");
        var argv = Array.ConvertAll(command, static a => (ReadOnlyMemory<byte>)a);
        if (CommandTable.Resolve(argv) is not { } spec)
            return Reply.Error($"ERR Command '{RedisErrors.Printable(command[0])}' not found");
        if (!CommandParser.HasValidArity(spec.Arity, argv.Length))
            return CommandParser.WrongArity(spec.Name);
        var denial = AclCheck.Evaluate(found, argv, out var denied, out var position);
        return denial == AclDenial.None ? Reply.Ok : Reply.FromBulk(Encoding.Latin1.GetBytes(AclCheck.Explain(denial, denied, argv, position)));
    }
}
