using System.Text;
using RaftKv.Node.Resp;
using RaftKv.Node.Routing;
using RaftKv.StateMachine;
using RaftKv.StateMachine.Commands;

namespace RaftKv.Node.Commands;

/// <summary>What setting a configuration parameter to a value does.</summary>
public abstract record ConfigChange
{
    /// <summary>The value is refused; <paramref name="Reason"/> completes Redis's "CONFIG SET failed" error.</summary>
    public sealed record Invalid(string Reason) : ConfigChange;

    /// <summary>A setting of this node alone: <paramref name="Apply"/> makes it take effect (called only if every pair of the CONFIG SET is valid).</summary>
    public sealed record Local(Action Apply) : ConfigChange;

    /// <summary>A setting of the replicated state: <paramref name="Write"/> goes through the log, so every replica changes it at the same point.</summary>
    public sealed record Replicated(WriteCommand Write) : ConfigChange;
}

/// <summary>One parameter <c>CONFIG GET</c> shows and <c>CONFIG SET</c> may change, under Redis's name.</summary>
/// <param name="Name">Redis's name, lower case (e.g. <c>maxclients</c>).</param>
/// <param name="Get">The current value, as Redis prints it.</param>
/// <param name="Set">What setting it to a value does; null for a read-only parameter.</param>
public sealed record ConfigParameter(string Name, Func<string> Get, Func<string, ConfigChange>? Set = null)
{
    /// <summary>
    /// The configuration keys (<c>RaftKv:Limits:MaxClients</c>) and current values that <c>CONFIG REWRITE</c> writes
    /// for a per-node parameter changed by <c>CONFIG SET</c>; null for one the configuration file does not hold.
    /// </summary>
    public Func<IReadOnlyList<KeyValuePair<string, long>>>? Persisted { get; init; }
}

/// <summary>A group of configuration parameters (each concern registers its own in the container).</summary>
public interface IConfigParameters
{
    /// <summary>The parameters of this group.</summary>
    IEnumerable<ConfigParameter> Parameters { get; }
}

/// <summary>
/// <c>CONFIG GET pattern [pattern ...]</c>, <c>CONFIG SET parameter value [parameter value ...]</c>,
/// <c>CONFIG RESETSTAT</c>, <c>CONFIG REWRITE</c>, <c>CONFIG HELP</c>, with Redis 7.0's replies. A <c>CONFIG SET</c> is
/// all or nothing: every pair is checked before any takes effect. Per-node parameters change this node at once;
/// parameters of the replicated state (<c>maxmemory</c>...) change through the log, in the connection's order, and
/// CONFIG SET answers once this node has applied them too (a read barrier), so a CONFIG GET after it shows them.
/// <c>CONFIG RESETSTAT</c> zeroes what <c>INFO</c> shows of <see cref="CommandStats"/> (not the slow log, as in Redis);
/// <c>CONFIG REWRITE</c> writes the per-node parameters changed by <c>CONFIG SET</c> into the node's JSON file
/// (<see cref="ConfigFileRewriter"/>).
/// </summary>
public sealed class ConfigCommands(IEnumerable<IConfigParameters> groups, CommandRouter router, ReadBarrier barrier, CommandStats stats, ConfigFileRewriter rewriter)
{
    private readonly HashSet<string> changedLocally = new(StringComparer.Ordinal);

    private readonly ConfigParameter[] parameters = [.. groups.SelectMany(static g => g.Parameters).OrderBy(static p => p.Name, StringComparer.Ordinal)];

    /// <summary>The registered parameters, by name.</summary>
    public IReadOnlyList<ConfigParameter> Parameters => parameters;

    /// <summary>Runs a CONFIG command (arity already checked: at least two arguments).</summary>
    public ValueTask<Reply> ExecuteAsync(ReadOnlySpan<ReadOnlyMemory<byte>> argv, RespConnection connection)
    {
        var sub = Encoding.UTF8.GetString(argv[1].Span).ToUpperInvariant();
        switch (sub)
        {
            case "GET" when argv.Length >= 3:
                return new(Get(argv[2..]));
            case "SET" when argv.Length >= 4 && argv.Length % 2 == 0:
                return Set(argv[2..], connection);
            case "SET":
                return new(NodeReplies.ConfigSetArity);
            case "RESETSTAT" when argv.Length == 2:
                stats.Reset();
                return new(Reply.Ok);
            case "REWRITE" when argv.Length == 2:
                return new(Rewrite());
            case "HELP" when argv.Length == 2:
                return new(Help);
            case "GET" or "RESETSTAT" or "REWRITE" or "HELP":
                return new(NodeReplies.SubcommandArity(sub.ToLowerInvariant(), "config"));
            default:
                return new(NodeReplies.UnknownSubcommand(Encoding.UTF8.GetString(argv[1].Span), "CONFIG"));
        }
    }

    private Reply Get(ReadOnlySpan<ReadOnlyMemory<byte>> patterns)
    {
        // Redis 7.0 answers a name without glob characters as it was sent ("DATABASES"), a pattern's matches by name.
        var matched = new List<(ConfigParameter Parameter, string Name)>();
        foreach (var pattern in patterns)
        {
            var text = Encoding.UTF8.GetString(pattern.Span);
            var lower = Encoding.UTF8.GetBytes(text.ToLowerInvariant());
            var literal = text.AsSpan().IndexOfAny("*?[\\") < 0;
            foreach (var parameter in parameters)
            {
                if (!matched.Exists(m => m.Parameter == parameter) && GlobPattern.IsMatch(lower, Encoding.UTF8.GetBytes(parameter.Name)))
                    matched.Add((parameter, literal ? text : parameter.Name));
            }
        }

        return Reply.FromMap([.. matched.SelectMany(static m => new[] { Reply.FromBulk(m.Name), Reply.FromBulk(m.Parameter.Get()) })]);
    }

    private ValueTask<Reply> Set(ReadOnlySpan<ReadOnlyMemory<byte>> pairs, RespConnection connection)
    {
        var changes = new List<ConfigChange>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < pairs.Length; i += 2)
        {
            var name = Encoding.UTF8.GetString(pairs[i].Span).ToLowerInvariant();
            var parameter = parameters.FirstOrDefault(p => p.Name == name);
            if (parameter is null)
                return new(NodeReplies.ConfigUnknownOption(name));
            if (parameter.Set is null)
                return new(NodeReplies.ConfigSetFailed(name, "can't set immutable config"));
            if (!seen.Add(name))
                return new(NodeReplies.ConfigSetFailed(name, "duplicate parameter"));
            var change = parameter.Set(Encoding.UTF8.GetString(pairs[i + 1].Span));
            if (change is ConfigChange.Invalid invalid)
                return new(NodeReplies.ConfigSetFailed(name, invalid.Reason));
            changes.Add(change);
            if (change is ConfigChange.Local && parameter.Persisted is not null)
            {
                lock (changedLocally)
                    changedLocally.Add(name);
            }
        }

        var writes = new List<Task<Reply>>();
        foreach (var change in changes)
        {
            switch (change)
            {
                case ConfigChange.Local local:
                    local.Apply();
                    break;
                case ConfigChange.Replicated replicated:
                    writes.Add(router.WriteAsync(replicated.Write, connection));
                    break;
            }
        }

        return writes.Count == 0 ? new(Reply.Ok) : new(AllAsync(writes, barrier, connection.Aborted));

        static async Task<Reply> AllAsync(List<Task<Reply>> writes, ReadBarrier barrier, CancellationToken aborted)
        {
            foreach (var write in writes)
            {
                var reply = await write.ConfigureAwait(false);
                if (reply.IsError)
                    return reply;
            }

            // Applied on the leader; wait until this node (a follower, maybe) has applied it as well. Should no barrier
            // be had, the setting is set all the same: it is only not yet visible here.
            await barrier.WaitAsync(aborted).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            return Reply.Ok;
        }
    }

    // The values of the parameters changed since start, read now: a later CONFIG SET of the same one is written too.
    private Reply Rewrite()
    {
        string[] changed;
        lock (changedLocally)
            changed = [.. changedLocally];
        var values = parameters.Where(p => changed.Contains(p.Name)).SelectMany(static p => p.Persisted!()).ToList();
        return rewriter.Rewrite(values);
    }

    private static readonly Reply Help = Reply.FromArray(
    [
        Reply.Status("CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"),
        Reply.Status("GET <pattern>"),
        Reply.Status("    Return parameters matching the glob-like <pattern> and their values."),
        Reply.Status("SET <directive> <value>"),
        Reply.Status("    Set the configuration <directive> to <value>."),
        Reply.Status("RESETSTAT"),
        Reply.Status("    Reset statistics reported by the INFO command."),
        Reply.Status("REWRITE"),
        Reply.Status("    Rewrite the configuration file."),
        Reply.Status("HELP"),
        Reply.Status("    Prints this help."),
    ]);
}
