using C = RaftKv.StateMachine.Acl.AclCategories;
using K = RaftKv.StateMachine.Acl.KeyAccess;

namespace RaftKv.StateMachine.Commands;

/// <summary>
/// The metadata of the commands the node serves itself (connection, server, cluster view, transactions): arity, key
/// positions and Redis 7.0's ACL categories. They live here, next to the data commands, because ACL rules
/// (<c>+@connection</c>, <c>-config|set</c>) are applied by the state machine and must know every command; the node's
/// <c>NodeCommands.Specs</c> and <c>TransactionCommands.Specs</c> are these lists. None of them parses here
/// (<see cref="ParseOutcome.Unknown"/>).
/// </summary>
public static class NodeCommandTable
{
    private static readonly CommandParse NotParsed = static _ => ParsedCommand.Unknown;

    /// <summary>The connection, server and cluster commands, in the order <c>COMMAND</c> lists them.</summary>
    public static IReadOnlyList<CommandSpec> Server { get; } =
    [
        new("ping", -1, IsWrite: false, 0, 0, 0, NotParsed) { Categories = C.Fast | C.Connection },
        new("echo", 2, IsWrite: false, 0, 0, 0, NotParsed) { Categories = C.Fast | C.Connection },
        new("quit", -1, IsWrite: false, 0, 0, 0, NotParsed) { Categories = C.Fast | C.Connection, NoAuth = true },
        new("command", -1, IsWrite: false, 0, 0, 0, NotParsed) { Categories = C.Slow | C.Connection, Subcommands = Subcommands.Of("command") },
        new("role", 1, IsWrite: false, 0, 0, 0, NotParsed) { Categories = C.Admin | C.Fast | C.Dangerous },
        new("info", -1, IsWrite: false, 0, 0, 0, NotParsed) { Categories = C.Slow | C.Dangerous },
        new("time", 1, IsWrite: false, 0, 0, 0, NotParsed) { Categories = C.Fast },
        new("select", 2, IsWrite: false, 0, 0, 0, NotParsed) { Categories = C.Fast | C.Connection },
        new("hello", -1, IsWrite: false, 0, 0, 0, NotParsed) { Categories = C.Fast | C.Connection, NoAuth = true },
        new("client", -2, IsWrite: false, 0, 0, 0, NotParsed) { Categories = C.Slow, Subcommands = Subcommands.Of("client") },
        new("reset", 1, IsWrite: false, 0, 0, 0, NotParsed) { Categories = C.Fast | C.Connection, NoAuth = true },
        new("auth", -2, IsWrite: false, 0, 0, 0, NotParsed) { Categories = C.Fast | C.Connection, NoAuth = true },
        new("cluster", -2, IsWrite: false, 0, 0, 0, NotParsed) { Categories = C.Slow, Subcommands = Subcommands.Of("cluster") },
        new("debug", -2, IsWrite: false, 0, 0, 0, NotParsed) { Categories = C.Admin | C.Slow | C.Dangerous },
        new("config", -2, IsWrite: false, 0, 0, 0, NotParsed) { Categories = C.Slow, Subcommands = Subcommands.Of("config") },
        new("bgsave", -1, IsWrite: false, 0, 0, 0, NotParsed) { Categories = C.Admin | C.Slow | C.Dangerous },
        new("lastsave", 1, IsWrite: false, 0, 0, 0, NotParsed) { Categories = C.Admin | C.Fast | C.Dangerous },
        new("slowlog", -2, IsWrite: false, 0, 0, 0, NotParsed) { Categories = C.Slow, Subcommands = Subcommands.Of("slowlog") },
        new("latency", -2, IsWrite: false, 0, 0, 0, NotParsed) { Categories = C.Slow, Subcommands = Subcommands.Of("latency") },

        // RaftKv's online backup (docs/storage.md): it reads the whole state, so it is for administrators only.
        new("backup.start", 1, IsWrite: false, 0, 0, 0, NotParsed) { Categories = C.Admin | C.Slow | C.Dangerous },
        new("backup.read", 4, IsWrite: false, 0, 0, 0, NotParsed) { Categories = C.Admin | C.Slow | C.Dangerous },
        new("backup.end", 2, IsWrite: false, 0, 0, 0, NotParsed) { Categories = C.Admin | C.Slow | C.Dangerous },

        // RaftKv's runtime membership (docs/resp-extensions.md): changing who votes is for administrators only.
        new("member.add", 4, IsWrite: false, 0, 0, 0, NotParsed) { Categories = C.Admin | C.Slow | C.Dangerous },
        new("member.remove", 2, IsWrite: false, 0, 0, 0, NotParsed) { Categories = C.Admin | C.Slow | C.Dangerous },
        new("member.list", 1, IsWrite: false, 0, 0, 0, NotParsed) { Categories = C.Admin | C.Slow | C.Dangerous },
    ];

    /// <summary><c>MULTI</c>, <c>EXEC</c>, <c>DISCARD</c>, <c>WATCH</c>, <c>UNWATCH</c>, in that order (the node indexes it).</summary>
    public static IReadOnlyList<CommandSpec> Transaction { get; } =
    [
        new("multi", 1, IsWrite: false, 0, 0, 0, NotParsed) { Categories = C.Fast | C.Transaction },
        new("exec", 1, IsWrite: false, 0, 0, 0, NotParsed) { Categories = C.Slow | C.Transaction },
        new("discard", 1, IsWrite: false, 0, 0, 0, NotParsed) { Categories = C.Fast | C.Transaction },
        new("watch", -2, IsWrite: false, 1, -1, 1, NotParsed) { Categories = C.Fast | C.Transaction, KeyAccess = [K.None] },
        new("unwatch", 1, IsWrite: false, 0, 0, 0, NotParsed) { Categories = C.Fast | C.Transaction },
    ];
}
