using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using RaftKv.Node.Peers;
using RaftKv.Node.Raft;
using RaftKv.Node.Tests.Cluster;
using RaftKv.StateMachine;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Deploy;

/// <summary>
/// With <c>RaftKv:LogFormat=json</c> the operator's events are one JSON object each, with their id
/// (<see cref="NodeLogEvents"/>) and their fields under <c>State</c>. The lines are made by the node's own JSON console
/// formatter (taken from its services, with its options) into a buffer instead of the process's shared console.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class StructuredLogTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private static readonly Dictionary<string, string?> JsonLogs = new()
    {
        [Hosting.ConsoleLogFormat.Key] = "json",
        ["Logging:LogLevel:RaftKv"] = "Information",
    };

    [Fact]
    public async Task Snapshot_written_and_installed_are_json_events_with_index_keys_and_bytes()
    {
        var lines = new ConcurrentQueue<(int Node, string Line)>();
        await using var cluster = await TestCluster.StartAsync(snapshotEvery: 5, settings: JsonLogs, onBuilt: (n, services) => Capture(n, services, lines));
        var leader = await cluster.WaitForLeaderAsync();
        var follower = (leader + 1) % cluster.Size;
        await cluster.StopNodeAsync(follower);
        await using (var client = await cluster.ConnectAsync(leader))
        {
            for (var i = 0; i < 30; i++)
                Assert.Equal(Reply.Ok, await client.CallAsync("SET", $"k{i}", "v"));
        }

        var written = await EventAsync(lines, NodeLogEvents.SnapshotWritten, node: leader);
        foreach (var field in new[] { "Index", "Keys", "Bytes", "Milliseconds" })
            Assert.Equal(JsonValueKind.Number, written.GetProperty("State").GetProperty(field).ValueKind);
        Assert.Equal("Information", written.GetProperty("LogLevel").GetString());

        // The stopped follower is behind the leader's compacted log: it gets the snapshot.
        await cluster.StartNodeAsync(follower);
        var installed = await EventAsync(lines, NodeLogEvents.SnapshotInstalled, node: follower);
        var state = installed.GetProperty("State");
        Assert.True(state.GetProperty("Index").GetInt64() >= 5);
        Assert.True(state.GetProperty("Keys").GetInt64() >= 5);
        Assert.True(state.GetProperty("Term").GetInt64() >= 0);
        Assert.True(state.GetProperty("Bytes").GetInt64() > 0);
        Assert.Equal("RaftKv.Node.Raft.RaftStateMachine", installed.GetProperty("Category").GetString());
    }

    [Fact]
    public async Task A_refused_peer_and_a_stopped_applier_are_json_events_with_their_fields()
    {
        var lines = new ConcurrentQueue<(int Node, string Line)>();
        await using var cluster = await TestCluster.StartAsync(settings: JsonLogs, onBuilt: (n, services) => Capture(n, services, lines));
        var leader = await cluster.WaitForLeaderAsync();

        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync(IPAddress.Loopback, cluster.PeerPort(leader));
            await Assert.ThrowsAsync<PeerHandshakeException>(
                () => PeerHandshake.ConnectAsync(tcp.GetStream(), new ClusterSecret("another-cluster-secret-0123"), CancellationToken.None));
        }

        var refused = await EventAsync(lines, NodeLogEvents.PeerRefused, node: leader);
        Assert.Equal(nameof(HandshakeVerdict.WrongSecret), refused.GetProperty("State").GetProperty("Verdict").GetString());
        Assert.StartsWith("127.0.0.1:", refused.GetProperty("State").GetProperty("Remote").GetString());
        Assert.Equal("Error", refused.GetProperty("LogLevel").GetString());

        var follower = (leader + 1) % cluster.Size;
        cluster.Service<RaftStateMachine>(follower).BeforeApplyForTesting = static _ => throw new InvalidOperationException("injected by the test");
        await using (var client = await cluster.ConnectAsync(leader))
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "k", "v"));

        var stopped = await EventAsync(lines, NodeLogEvents.ApplierStopped, node: follower);
        Assert.Equal("Critical", stopped.GetProperty("LogLevel").GetString());
        var index = stopped.GetProperty("State").GetProperty("Index").GetInt64();
        Assert.True(index > 0);
        Assert.Contains("injected by the test", stopped.GetProperty("Exception").GetString());
        var standby = await EventAsync(lines, NodeLogEvents.ApplierStandby, node: follower);
        Assert.Equal(index, standby.GetProperty("State").GetProperty("Index").GetInt64());
    }

    [Theory]
    [InlineData("xml")]
    [InlineData("jsonl")]
    public void An_unknown_log_format_stops_the_start_with_a_clear_reason(string format)
    {
        var error = Assert.Throws<NodeStartupException>(() => Hosting.RaftKvNode.Build([$"--{Hosting.ConsoleLogFormat.Key}={format}"]));
        Assert.Equal($"'RaftKv:LogFormat' is '{format}': use simple (one text line per event) or json (one JSON object per line).", error.Message);
    }

    private static void Capture(int node, IServiceProvider services, ConcurrentQueue<(int, string)> lines)
    {
        var formatter = services.GetServices<ConsoleFormatter>().Single(static f => f.Name == ConsoleFormatterNames.Json);
        services.GetRequiredService<ILoggerFactory>().AddProvider(new FormatterCapture(formatter, line => lines.Enqueue((node, line))));
    }

    // The first event with this id from that node, parsed (every captured line must parse).
    private static async Task<JsonElement> EventAsync(ConcurrentQueue<(int Node, string Line)> lines, int eventId, int node)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            foreach (var (from, line) in lines)
            {
                Assert.DoesNotContain('\n', line);
                using var json = JsonDocument.Parse(line);
                if (from == node && json.RootElement.GetProperty("EventId").GetInt32() == eventId)
                    return json.RootElement.Clone();
            }

            Assert.True(DateTime.UtcNow < deadline, $"no event {eventId} from node{node + 1} within {Patience}");
            await Task.Delay(100);
        }
    }

    /// <summary>A logger provider writing each event through a console formatter into a callback, one line each.</summary>
    private sealed class FormatterCapture(ConsoleFormatter formatter, Action<string> write) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, formatter, write);

        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConsoleFormatter formatter, Action<string> write) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> format)
            {
                using var text = new StringWriter();
                formatter.Write(new LogEntry<TState>(logLevel, category, eventId, state, exception, format), null, text);
                write(text.ToString().TrimEnd('\r', '\n'));
            }
        }
    }
}
