using System.Globalization;
using System.Text;
using Microsoft.Extensions.Options;
using RaftKv.Node.Resp;
using RaftKv.StateMachine;

namespace RaftKv.Node.Commands;

/// <summary>
/// What this node is and how it keeps data, under Redis's names, answered truthfully (tools ask for them:
/// <c>redis-benchmark</c>, Redis's test suite), and the slow log's settings. Only <c>slowlog-log-slower-than</c> and
/// <c>slowlog-max-len</c> can be set (per node; <c>CONFIG REWRITE</c> writes them to <c>RaftKv:SlowLog</c>).
/// </summary>
/// <remarks>
/// <c>appendonly</c> is <c>yes</c> and <c>appendfsync</c> <c>always</c>: the Raft log is an append-only file, and an
/// entry is flushed on a majority before a write is acknowledged. <c>save</c> is empty and cannot be set: snapshots are
/// taken by applied entries and log bytes (<c>RaftKv:SnapshotEveryEntries</c>, <c>SnapshotLogBytes</c>), not by time
/// and changes, so Redis's "seconds changes" pairs have no meaning here. <c>dir</c> is the data directory,
/// <c>dbfilename</c> the folder in it that holds snapshots. No latency monitor, no latency histograms.
/// </remarks>
public sealed class ServerConfigParameters(IOptions<RespServerOptions> resp, IOptions<NodeOptions> node, SlowLog slowLog, IServiceProvider services) : IConfigParameters
{
    private const string NotAnInteger = "argument couldn't be parsed into an integer";

    /// <inheritdoc/>
    public IEnumerable<ConfigParameter> Parameters =>
    [
        new("databases", static () => KeyValueStore.DatabaseCount.ToString(CultureInfo.InvariantCulture)),
        new("port", () => resp.Value.Port.ToString(CultureInfo.InvariantCulture)),
        new("bind", () => resp.Value.BindAddress),
        new("tls-port", () => services.GetRequiredService<RespServer>().TlsPort.ToString(CultureInfo.InvariantCulture)),
        new("save", static () => "", static _ => new ConfigChange.Invalid("RaftKv snapshots by applied entries and log bytes (RaftKv:SnapshotEveryEntries, RaftKv:SnapshotLogBytes), not by time")),
        new("appendonly", static () => "yes"),
        new("appendfsync", static () => "always"),
        new("dir", () => Path.GetFullPath(node.Value.DataPath)),
        new("dbfilename", static () => "snapshots"),
        new("latency-monitor-threshold", static () => "0"),
        new("latency-tracking", static () => "no"),
        new("slowlog-log-slower-than", () => Format(slowLog.LogSlowerThan), SetLogSlowerThan)
        {
            Persisted = () => [KeyValuePair.Create($"{SlowLogOptions.Section}:{nameof(SlowLogOptions.LogSlowerThan)}", slowLog.LogSlowerThan)],
        },
        new("slowlog-max-len", () => Format(slowLog.MaxLength), SetMaxLength)
        {
            Persisted = () => [KeyValuePair.Create($"{SlowLogOptions.Section}:{nameof(SlowLogOptions.MaxLength)}", slowLog.MaxLength)],
        },
    ];

    private ConfigChange SetLogSlowerThan(string value)
        => Integer(value, -1) is { } invalid ? invalid : new ConfigChange.Local(() => slowLog.LogSlowerThan = long.Parse(value, CultureInfo.InvariantCulture));

    private ConfigChange SetMaxLength(string value)
        => Integer(value, 0) is { } invalid ? invalid : new ConfigChange.Local(() => slowLog.MaxLength = long.Parse(value, CultureInfo.InvariantCulture));

    private static ConfigChange.Invalid? Integer(string value, long min)
    {
        if (!RespRequestParser.TryParseInteger(Encoding.UTF8.GetBytes(value), out var parsed))
            return new(NotAnInteger);
        return parsed < min ? new(string.Create(CultureInfo.InvariantCulture, $"argument must be between {min} and {long.MaxValue} inclusive")) : null;
    }

    private static string Format(long value) => value.ToString(CultureInfo.InvariantCulture);
}
