using System.Collections.Frozen;
using System.Globalization;
using System.Text;
using RaftKv.Node.Resp;
using RaftKv.Node.Security;
using RaftKv.StateMachine;
using RaftKv.StateMachine.Commands;

namespace RaftKv.Node.Commands;

/// <summary>
/// The commands that read or change a connection's own state — <c>SELECT</c>, <c>HELLO</c>, <c>CLIENT</c>,
/// <c>RESET</c>, <c>AUTH</c> — with Redis 7.0's replies and errors. They never touch the replicated state.
/// </summary>
/// <remarks>Who the connection is — users, passwords, permissions — is <see cref="AccessControl"/>'s.</remarks>
internal static class ConnectionCommands
{

    private static readonly string[] ClientTypes = ["normal", "slave", "replica", "pubsub", "master"];

    private static readonly (string Name, int Arity)[] ClientSubcommands =
        [("id", 2), ("getname", 2), ("setname", 3), ("info", 2), ("list", -2), ("help", 2)];

    // The full names of the subcommands (Redis's "client|list"), the very instances LastCommand is set to.
    private static readonly string[] ClientSubcommandNames = [.. ClientSubcommands.Select(static sub => "client|" + sub.Name)];

    // cmd= in CLIENT LIST shows a name from the command table, never the client's bytes (a name may hold a newline
    // and forge a line): as in Redis, whose c->lastcmd is the looked-up command, NULL for an unknown one.
    private static readonly FrozenDictionary<string, string> KnownCommandNames = CommandParser.Commands
        .Concat(NodeCommands.Specs)
        .Select(static spec => spec.Name.ToLowerInvariant())
        .Concat(ClientSubcommandNames)
        .Distinct(StringComparer.OrdinalIgnoreCase)
        .ToFrozenDictionary(static name => name, static name => name, StringComparer.OrdinalIgnoreCase);

    private static readonly string[] ClientHelp =
    [
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "    * ID <client-id> [<client-id> ...]",
        "      Return clients of specified IDs only.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "HELP",
        "    Print this help.",
    ];

    /// <summary><c>SELECT index</c>: later commands of the connection use database <c>index</c>.</summary>
    public static Reply Select(ReadOnlySpan<ReadOnlyMemory<byte>> argv, RespConnection connection)
    {
        switch (RedisNumbers.ParseInt32(argv[1].Span, out var index))
        {
            case IntegerParse.NotAnInteger:
                return Reply.Error("ERR value is not an integer or out of range");
            case IntegerParse.OutOfRange:
                return Reply.Error(RedisNumbers.Int32OutOfRange);
        }

        if ((uint)index >= KeyValueStore.DatabaseCount)
            return KeyValueStore.InvalidDatabase;
        connection.Database = index;
        return Reply.Ok;
    }

    /// <summary>
    /// <c>HELLO [protover [AUTH user pass] [SETNAME name]]</c>: switches the connection's RESP version and answers
    /// the server's description as a map (a flat array in RESP2), already in the new version.
    /// </summary>
    public static ValueTask<Reply> HelloAsync(ReadOnlySpan<ReadOnlyMemory<byte>> argv, RespConnection connection, AccessControl access, bool isLeader)
    {
        var version = 0L;
        if (argv.Length >= 2)
        {
            if (!RedisNumbers.TryParseInt64(argv[1].Span, out version))
                return new(NodeReplies.ProtocolVersionNotInteger);
            if (version is < 2 or > 3)
                return new(NodeReplies.NoProto);
        }

        ReadOnlyMemory<byte>? user = null;
        ReadOnlyMemory<byte> password = default;
        ReadOnlyMemory<byte>? name = null;
        for (var i = 2; i < argv.Length; i++)
        {
            var more = argv.Length - 1 - i;
            if (IsWord(argv[i].Span, "AUTH") && more >= 2)
            {
                user = argv[i + 1];
                password = argv[i + 2];
                i += 2;
            }
            else if (IsWord(argv[i].Span, "SETNAME") && more >= 1)
            {
                name = argv[++i];
            }
            else
            {
                return new(NodeReplies.HelloSyntax(CString(argv[i].Span)));
            }
        }

        // networking.c helloCommand: AUTH first (a failure changes nothing), then an unauthenticated client is refused.
        if (user is not { } u || access.Authenticate(connection, u.Span, password.Span))
            return new(HelloReply(connection, name, version, isLeader));
        return AfterBarrierAsync(connection, access, u.ToArray(), password.ToArray(), name?.ToArray(), version, isLeader);

        static async ValueTask<Reply> AfterBarrierAsync(
            RespConnection connection, AccessControl access, byte[] user, byte[] password, byte[]? name, long version, bool isLeader)
            => await access.AuthenticateAfterBarrierAsync(connection, user, password).ConfigureAwait(false)
                ? HelloReply(connection, name, version, isLeader)
                : NodeReplies.WrongPass;
    }

    private static Reply HelloReply(RespConnection connection, ReadOnlyMemory<byte>? name, long version, bool isLeader)
    {
        if (connection.Authenticated != true)
            return NodeReplies.HelloNoAuth;
        if (name is { } n && SetName(connection, n.Span) is { } error)
            return error;

        if (version != 0)
            connection.Protocol = (int)version;
        return Reply.FromMap(
        [
            Reply.FromBulk("server"), Reply.FromBulk("redis"),
            Reply.FromBulk("version"), Reply.FromBulk(NodeCommands.RedisVersion),
            Reply.FromBulk("proto"), Reply.FromInteger(connection.Protocol),
            Reply.FromBulk("id"), Reply.FromInteger(connection.Id),
            Reply.FromBulk("mode"), Reply.FromBulk("standalone"),
            Reply.FromBulk("role"), Reply.FromBulk(isLeader ? "master" : "replica"),
            Reply.FromBulk("modules"), Reply.EmptyArray,
        ]);
    }

    /// <summary><c>CLIENT ID|GETNAME|SETNAME|INFO|LIST|HELP</c>.</summary>
    public static Reply Client(
        ReadOnlySpan<ReadOnlyMemory<byte>> argv, RespConnection connection, IEnumerable<RespConnection> all, DateTimeOffset now)
    {
        var sub = argv[1].Span;
        var match = -1;
        for (var i = 0; i < ClientSubcommands.Length && match < 0; i++)
        {
            if (Ascii.EqualsIgnoreCase(sub, ClientSubcommands[i].Name))
                match = i;
        }

        if (match < 0)
        {
            connection.LastCommand = null; // Redis shows cmd=NULL after an unknown subcommand
            return NodeReplies.UnknownSubcommand(Truncate(Encoding.UTF8.GetString(sub), 128), "CLIENT");
        }

        var (name, arity) = ClientSubcommands[match];
        if (!CommandParser.HasValidArity(arity, argv.Length))
            return CommandParser.WrongArity("client|" + name);

        connection.LastCommand = ClientSubcommandNames[match];
        switch (name)
        {
            case "id":
                return Reply.FromInteger(connection.Id);
            case "getname":
                return connection.Name is { } current ? Reply.FromBulk(current) : Reply.NullBulk;
            case "setname":
                return SetName(connection, argv[2].Span) ?? Reply.Ok;
            case "info":
                return Reply.FromVerbatim(Describe(connection, now) + "\n");
            case "help":
                return Reply.FromArray([.. ClientHelp.Select(Reply.Status)]);
            default:
                return List(argv, all, now);
        }
    }

    /// <summary>
    /// <c>RESET</c>: back to a fresh connection's state (database 0, RESP2, no name, no transaction or watched keys, and
    /// the <c>default</c> user — authenticated only if it has no password).
    /// </summary>
    public static Reply Reset(RespConnection connection, AccessControl access)
    {
        connection.Transaction = null;
        connection.Database = 0;
        connection.Protocol = 2;
        connection.Name = null;
        access.ResetToDefault(connection);
        return NodeReplies.Reset;
    }

    /// <summary><c>AUTH [user] password</c> (<c>AUTH password</c> is <c>AUTH default password</c>), with Redis 7.0's errors.</summary>
    public static ValueTask<Reply> AuthAsync(ReadOnlySpan<ReadOnlyMemory<byte>> argv, RespConnection connection, AccessControl access)
    {
        if (argv.Length > 3)
            return new(Reply.SyntaxError);

        // acl.c authCommand: the one-argument form is a misconfiguration while default needs no password.
        if (argv.Length == 2 && access.DefaultHasNoPassword)
        {
            return new(Reply.Error(
                "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"));
        }

        var user = argv.Length == 2 ? "default"u8 : argv[1].Span;
        if (access.Authenticate(connection, user, argv[^1].Span))
            return new(Reply.Ok);
        return AfterBarrierAsync(connection, access, user.ToArray(), argv[^1].ToArray());

        static async ValueTask<Reply> AfterBarrierAsync(RespConnection connection, AccessControl access, byte[] user, byte[] password)
            => await access.AuthenticateAfterBarrierAsync(connection, user, password).ConfigureAwait(false) ? Reply.Ok : NodeReplies.WrongPass;
    }

    // CLIENT LIST [TYPE type] | [ID id ...]: every connection is a normal client.
    private static Reply List(ReadOnlySpan<ReadOnlyMemory<byte>> argv, IEnumerable<RespConnection> all, DateTimeOffset now)
    {
        IEnumerable<RespConnection> selected = all.OrderBy(static c => c.Id);
        if (argv.Length == 4 && IsWord(argv[2].Span, "TYPE"))
        {
            var type = CString(argv[3].Span);
            if (!ClientTypes.Contains(type, StringComparer.OrdinalIgnoreCase))
                return NodeReplies.UnknownClientType(type);
            if (!type.Equals("normal", StringComparison.OrdinalIgnoreCase))
                selected = [];
        }
        else if (argv.Length > 3 && IsWord(argv[2].Span, "ID"))
        {
            var ids = new List<long>();
            for (var i = 3; i < argv.Length; i++)
            {
                if (!RedisNumbers.TryParseInt64(argv[i].Span, out var id))
                    return NodeReplies.InvalidClientId;
                ids.Add(id);
            }

            var byId = all.ToDictionary(static c => c.Id);
            selected = [.. ids.Where(byId.ContainsKey).Select(id => byId[id])];
        }
        else if (argv.Length != 2)
        {
            return Reply.SyntaxError;
        }

        var text = new StringBuilder();
        foreach (var client in selected)
            text.Append(Describe(client, now)).Append('\n');
        return Reply.FromVerbatim(text.ToString());
    }

    // networking.c catClientInfoString, field for field. qbuf is the partial request the connection holds, oll its
    // replies not yet written out, omem their bytes until the socket takes them (what client-output-buffer-limit
    // counts); fd is -1 because the socket is not exposed. Nothing the client chose is printed as sent: the name is
    // printable ASCII without spaces (SetName) and cmd comes from the command table.
    /// <summary>The connection as one line of <c>CLIENT LIST</c> (also <c>ACL LOG</c>'s <c>client-info</c>).</summary>
    internal static string DescribeClient(RespConnection client, DateTimeOffset now) => Describe(client, now);

    private static string Describe(RespConnection client, DateTimeOffset now)
    {
        var age = (long)(now - client.ConnectedAt).TotalSeconds;
        var idle = Math.Max(0, (long)(now - client.LastInteraction).TotalSeconds);
        var command = KnownCommandName(client.LastCommand);
        var input = client.InputBufferBytes;
        var output = client.OutputBufferBytes;
        return string.Create(CultureInfo.InvariantCulture,
            $"id={client.Id} addr={client.RemoteEndPoint} laddr={client.LocalEndPoint} fd=-1 name={client.Name} age={age} idle={idle} " +
            $"flags=N db={client.Database} sub=0 psub=0 ssub=0 multi=-1 qbuf={input} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 " +
            $"obl=0 oll={client.PendingReplies} omem={output} tot-mem={input + output} events=r cmd={command} user={client.UserName} redir=-1 resp={client.Protocol}");
    }

    /// <summary>The command table's name for <paramref name="lastCommand"/> in lower case, or <c>NULL</c> when it names no command.</summary>
    /// <remarks>
    /// A subcommand's name (<c>client|list</c>) counts only when this class set it: a client may well send a command
    /// named <c>client|list</c>, which Redis shows as <c>NULL</c>.
    /// </remarks>
    internal static string KnownCommandName(string? lastCommand)
        => lastCommand is not null && KnownCommandNames.TryGetValue(lastCommand, out var known)
            && (!known.Contains('|', StringComparison.Ordinal) || ReferenceEquals(known, lastCommand))
            ? known
            : "NULL";

    // networking.c clientSetNameOrReply: empty removes the name; otherwise printable ASCII without spaces only.
    private static Reply? SetName(RespConnection connection, ReadOnlySpan<byte> name)
    {
        foreach (var c in name)
        {
            if (c is < (byte)'!' or > (byte)'~')
                return NodeReplies.BadClientName;
        }

        connection.Name = name.IsEmpty ? null : Encoding.ASCII.GetString(name);
        return null;
    }

    // Redis compares option words as C strings (up to a NUL), ignoring case.
    private static bool IsWord(ReadOnlySpan<byte> argument, string word)
        => Ascii.EqualsIgnoreCase(argument.IndexOf((byte)0) is var nul and >= 0 ? argument[..nul] : argument, word);

    private static string CString(ReadOnlySpan<byte> argument)
        => Encoding.UTF8.GetString(argument.IndexOf((byte)0) is var nul and >= 0 ? argument[..nul] : argument);

    private static string Truncate(string text, int max) => text.Length <= max ? text : text[..max];
}
