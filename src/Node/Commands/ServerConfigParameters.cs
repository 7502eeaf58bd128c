using System.Globalization;
using Microsoft.Extensions.Options;
using RaftKv.Node.Resp;
using RaftKv.StateMachine;

namespace RaftKv.Node.Commands;

/// <summary>Read-only parameters that tools ask for (<c>redis-benchmark</c>, Redis's test suite): what this node is.</summary>
public sealed class ServerConfigParameters(IOptions<RespServerOptions> resp) : IConfigParameters
{
    /// <inheritdoc/>
    public IEnumerable<ConfigParameter> Parameters =>
    [
        new("databases", static () => KeyValueStore.DatabaseCount.ToString(CultureInfo.InvariantCulture)),
        new("port", () => resp.Value.Port.ToString(CultureInfo.InvariantCulture)),
        new("bind", () => resp.Value.BindAddress),
        // Durability comes from the Raft log, flushed on a majority before a write is acknowledged: no RDB, no AOF.
        new("save", static () => ""),
        new("appendonly", static () => "no"),
    ];
}
