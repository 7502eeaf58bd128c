using C = RaftKv.StateMachine.Acl.AclCategories;

namespace RaftKv.StateMachine.Commands;

/// <summary>
/// The subcommands Redis 7.0 defines for the commands RaftKv has that have subcommands (<c>SCRIPT</c>, <c>COMMAND</c>,
/// <c>CLIENT</c>, <c>CLUSTER</c>, <c>CONFIG</c>, <c>ACL</c>, <c>SLOWLOG</c>, <c>LATENCY</c>), with Redis's arity and ACL categories, from
/// <c>COMMAND INFO</c> of redis-server 7.0.15. They exist for ACL rules (<c>+config|get</c>, <c>-@dangerous</c> acting on
/// <c>config|set</c> only) and for <c>ACL CAT</c>; each family's parser or the node still decides what a subcommand does.
/// Listed whole, as Redis has them, also where the node answers a subcommand with an error.
/// </summary>
internal static class Subcommands
{
    private static readonly CommandParse NotParsed = static _ => ParsedCommand.Unknown;

    private static readonly (string FullName, int Arity, C Categories)[] Table =
    [
        ("script|flush", -2, C.Slow | C.Scripting),
        ("script|exists", -3, C.Slow | C.Scripting),
        ("script|help", 2, C.Slow | C.Scripting),
        ("script|kill", 2, C.Slow | C.Scripting),
        ("script|load", 3, C.Slow | C.Scripting),
        ("script|debug", 3, C.Slow | C.Scripting),
        ("command|count", 2, C.Slow | C.Connection),
        ("command|getkeys", -4, C.Slow | C.Connection),
        ("command|list", -2, C.Slow | C.Connection),
        ("command|docs", -2, C.Slow | C.Connection),
        ("command|help", 2, C.Slow | C.Connection),
        ("command|getkeysandflags", -4, C.Slow | C.Connection),
        ("command|info", -2, C.Slow | C.Connection),
        ("client|getname", 2, C.Slow | C.Connection),
        ("client|tracking", -3, C.Slow | C.Connection),
        ("client|list", -2, C.Admin | C.Slow | C.Dangerous | C.Connection),
        ("client|unblock", -3, C.Admin | C.Slow | C.Dangerous | C.Connection),
        ("client|reply", 3, C.Slow | C.Connection),
        ("client|caching", 3, C.Slow | C.Connection),
        ("client|getredir", 2, C.Slow | C.Connection),
        ("client|unpause", 2, C.Admin | C.Slow | C.Dangerous | C.Connection),
        ("client|trackinginfo", 2, C.Slow | C.Connection),
        ("client|pause", -3, C.Admin | C.Slow | C.Dangerous | C.Connection),
        ("client|help", 2, C.Slow | C.Connection),
        ("client|kill", -3, C.Admin | C.Slow | C.Dangerous | C.Connection),
        ("client|id", 2, C.Slow | C.Connection),
        ("client|info", 2, C.Slow | C.Connection),
        ("client|no-evict", 3, C.Admin | C.Slow | C.Dangerous | C.Connection),
        ("client|setname", 3, C.Slow | C.Connection),
        ("cluster|setslot", -4, C.Admin | C.Slow | C.Dangerous),
        ("cluster|replicate", 3, C.Admin | C.Slow | C.Dangerous),
        ("cluster|shards", 2, C.Slow),
        ("cluster|slaves", 3, C.Admin | C.Slow | C.Dangerous),
        ("cluster|links", 2, C.Slow),
        ("cluster|delslotsrange", -4, C.Admin | C.Slow | C.Dangerous),
        ("cluster|addslotsrange", -4, C.Admin | C.Slow | C.Dangerous),
        ("cluster|getkeysinslot", 4, C.Slow),
        ("cluster|slots", 2, C.Slow),
        ("cluster|reset", -2, C.Admin | C.Slow | C.Dangerous),
        ("cluster|saveconfig", 2, C.Admin | C.Slow | C.Dangerous),
        ("cluster|keyslot", 3, C.Slow),
        ("cluster|meet", -4, C.Admin | C.Slow | C.Dangerous),
        ("cluster|forget", 3, C.Admin | C.Slow | C.Dangerous),
        ("cluster|addslots", -3, C.Admin | C.Slow | C.Dangerous),
        ("cluster|delslots", -3, C.Admin | C.Slow | C.Dangerous),
        ("cluster|set-config-epoch", 3, C.Admin | C.Slow | C.Dangerous),
        ("cluster|flushslots", 2, C.Admin | C.Slow | C.Dangerous),
        ("cluster|nodes", 2, C.Slow),
        ("cluster|bumpepoch", 2, C.Admin | C.Slow | C.Dangerous),
        ("cluster|countkeysinslot", 3, C.Slow),
        ("cluster|help", 2, C.Slow),
        ("cluster|count-failure-reports", 3, C.Admin | C.Slow | C.Dangerous),
        ("cluster|myid", 2, C.Slow),
        ("cluster|info", 2, C.Slow),
        ("cluster|failover", -2, C.Admin | C.Slow | C.Dangerous),
        ("cluster|replicas", 3, C.Admin | C.Slow | C.Dangerous),
        ("config|get", -3, C.Admin | C.Slow | C.Dangerous),
        ("config|set", -4, C.Admin | C.Slow | C.Dangerous),
        ("config|help", 2, C.Slow),
        ("config|resetstat", 2, C.Admin | C.Slow | C.Dangerous),
        ("config|rewrite", 2, C.Admin | C.Slow | C.Dangerous),
        ("acl|cat", -2, C.Slow),
        ("acl|users", 2, C.Admin | C.Slow | C.Dangerous),
        ("acl|setuser", -3, C.Admin | C.Slow | C.Dangerous),
        ("acl|list", 2, C.Admin | C.Slow | C.Dangerous),
        ("acl|getuser", 3, C.Admin | C.Slow | C.Dangerous),
        ("acl|deluser", -3, C.Admin | C.Slow | C.Dangerous),
        ("acl|save", 2, C.Admin | C.Slow | C.Dangerous),
        ("acl|whoami", 2, C.Slow),
        ("acl|genpass", -2, C.Slow),
        ("acl|log", -2, C.Admin | C.Slow | C.Dangerous),
        ("acl|help", 2, C.Slow),
        ("acl|load", 2, C.Admin | C.Slow | C.Dangerous),
        ("acl|dryrun", -4, C.Admin | C.Slow | C.Dangerous),
        ("slowlog|len", 2, C.Admin | C.Slow | C.Dangerous),
        ("slowlog|reset", 2, C.Admin | C.Slow | C.Dangerous),
        ("slowlog|help", 2, C.Slow),
        ("slowlog|get", -2, C.Admin | C.Slow | C.Dangerous),
        ("latency|doctor", 2, C.Admin | C.Slow | C.Dangerous),
        ("latency|histogram", -2, C.Admin | C.Slow | C.Dangerous),
        ("latency|graph", 3, C.Admin | C.Slow | C.Dangerous),
        ("latency|latest", 2, C.Admin | C.Slow | C.Dangerous),
        ("latency|help", 2, C.Slow),
        ("latency|history", 3, C.Admin | C.Slow | C.Dangerous),
        ("latency|reset", -2, C.Admin | C.Slow | C.Dangerous),
    ];

    /// <summary>The subcommands of <paramref name="parent"/>, in table order, each named <c>parent|sub</c>.</summary>
    public static CommandSpec[] Of(string parent)
        => [.. Table.Where(row => row.FullName.StartsWith(parent + "|", StringComparison.Ordinal))
                    .Select(row => new CommandSpec(row.FullName, row.Arity, IsWrite: false, 0, 0, 0, NotParsed) { Categories = row.Categories })];
}
