using System.Net;
using System.Net.Sockets;
using System.Text;
using RaftKv.Node.Tests.Cluster;
using RaftKv.StateMachine;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Telemetry;

/// <summary>The metrics and health endpoint (<c>RaftKv:Http:Listen</c>) on a three-node cluster in this process.</summary>
[Collection(ClusterCollection.Name)]
public sealed class HttpEndpointTests
{
    private static readonly Dictionary<string, string?> WithHttp = new() { ["RaftKv:Http:Listen"] = "127.0.0.1:{HttpPort}" };
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Metrics_parse_as_Prometheus_text_and_hold_our_meter_and_DotNexts()
    {
        await using var cluster = await TestCluster.StartAsync(settings: WithHttp);
        var leader = await cluster.WaitForLeaderAsync();
        await using (var client = await cluster.ConnectAsync(leader))
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "k", "v"));

        using var http = new HttpClient();
        var response = await http.GetAsync(Url(cluster, leader, "/metrics"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType);
        var samples = PrometheusText.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(1, samples.Single("raftkv_raft_role", ("role", "leader")));
        Assert.Equal(0, samples.Single("raftkv_raft_role", ("role", "follower")));
        Assert.True(samples.Single("raftkv_raft_term") >= 1);
        Assert.True(samples.Single("raftkv_raft_applied_index") >= 1);
        Assert.Contains(samples, s => s.Name == "raftkv_write_proposal_to_commit_duration_seconds_bucket");
        Assert.Contains(samples, s => s.Name.StartsWith("raftkv_apply_commands_per_entry", StringComparison.Ordinal));
        // DotNext's WAL meter (entries-commit-count and the others of DotNext.IO.WriteAheadLog).
        Assert.Contains(samples, s => s.Name.StartsWith("entries_commit_count", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_term_gauge_increases_after_an_election()
    {
        await using var cluster = await TestCluster.StartAsync(settings: WithHttp);
        var leader = await cluster.WaitForLeaderAsync();
        var follower = (leader + 1) % cluster.Size;
        var before = (await ScrapeAsync(cluster, follower)).Single("raftkv_raft_term");

        await cluster.StopNodeAsync(leader);
        await cluster.WaitForLeaderAsync();

        await Until(async () => (await ScrapeAsync(cluster, follower)).Single("raftkv_raft_term") > before, "the term did not increase");
        Assert.True((await ScrapeAsync(cluster, follower)).Single("raftkv_raft_leader_changes_total") >= 1);
    }

    [Fact]
    public async Task Write_latency_histograms_count_every_write_sent()
    {
        const int writes = 25;
        await using var cluster = await TestCluster.StartAsync(settings: WithHttp);
        var leader = await cluster.WaitForLeaderAsync();
        var before = await ScrapeAsync(cluster, leader);
        var repliesBefore = before.SingleOrZero("raftkv_write_commit_to_reply_duration_seconds_count");
        var entriesBefore = before.SingleOrZero("raftkv_write_proposal_to_commit_duration_seconds_count");

        await using (var client = await cluster.ConnectAsync(leader))
        {
            for (var i = 0; i < writes; i++)
                Assert.Equal(Reply.Ok, await client.CallAsync("SET", $"k{i}", "v"));
        }

        // One client waiting for each reply: one entry per write.
        await Until(async () =>
        {
            var after = await ScrapeAsync(cluster, leader);
            // A scrape is cached 300 ms: an earlier one may not hold the histograms yet.
            return after.SingleOrZero("raftkv_write_commit_to_reply_duration_seconds_count") >= repliesBefore + writes
                && after.SingleOrZero("raftkv_write_proposal_to_commit_duration_seconds_count") >= entriesBefore + writes;
        }, "the latency histograms did not count the writes");

        // Commands by name, from INFO commandstats' counters: the SETs, and a WRONGTYPE-free error by its first word.
        await using (var client = await cluster.ConnectAsync(leader))
            Assert.True((await client.CallAsync("INCR", "k0")).IsError);
        await Until(async () =>
        {
            var after = await ScrapeAsync(cluster, leader);
            return after.Any(x => x.Name == "raftkv_commands_calls_total" && x.Labels.GetValueOrDefault("command") == "set" && x.Value >= writes)
                && after.Any(x => x.Name == "raftkv_commands_failed_total" && x.Labels.GetValueOrDefault("command") == "incr" && x.Value >= 1)
                && after.Any(x => x.Name == "raftkv_errors_total" && x.Labels.GetValueOrDefault("error") == "ERR" && x.Value >= 1);
        }, "the commands by name were not exported");
    }

    [Fact]
    public async Task Readiness_turns_503_on_a_node_that_loses_the_majority_and_200_when_it_returns()
    {
        await using var cluster = await TestCluster.StartAsync(settings: WithHttp);
        await cluster.WaitForLeaderAsync();
        const int node = 0;
        using var http = new HttpClient();
        var ready = await http.GetAsync(Url(cluster, node, "/health/ready"));
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("ready\n", await ready.Content.ReadAsStringAsync());

        await cluster.StopNodeAsync(1);
        await cluster.StopNodeAsync(2);
        string? reason = null;
        await Until(async () =>
        {
            var response = await http.GetAsync(Url(cluster, node, "/health/ready"));
            reason = await response.Content.ReadAsStringAsync();
            return response.StatusCode == HttpStatusCode.ServiceUnavailable;
        }, "readiness did not turn 503 without a majority");
        Assert.Equal("no known leader\n", reason);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(Url(cluster, node, "/health/live"))).StatusCode);

        await Task.WhenAll(cluster.StartNodeAsync(1), cluster.StartNodeAsync(2));
        await Until(async () => (await http.GetAsync(Url(cluster, node, "/health/ready"))).StatusCode == HttpStatusCode.OK,
            "readiness did not return to 200");
    }

    [Fact]
    public async Task Liveness_answers_200_live()
    {
        await using var cluster = await TestCluster.StartAsync(size: 1, settings: WithHttp);
        using var http = new HttpClient();
        var response = await http.GetAsync(Url(cluster, 0, "/health/live"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("live\n", await response.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(Url(cluster, 0, "/other"))).StatusCode);
    }

    [Fact]
    public async Task Without_Http_Listen_the_node_listens_for_no_HTTP()
    {
        await using var cluster = await TestCluster.StartAsync(size: 1);
        await using (var client = await cluster.ConnectAsync(0))
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "k", "v"));

        using var socket = new TcpClient();
        await Assert.ThrowsAnyAsync<SocketException>(() => socket.ConnectAsync(IPAddress.Loopback, cluster.HttpPort(0)));
    }

    [Fact]
    public async Task A_garbage_request_gets_400_and_the_node_keeps_serving()
    {
        await using var cluster = await TestCluster.StartAsync(size: 1, settings: WithHttp);
        foreach (var garbage in new[] { "GARBAGE\r\n\r\n", "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", "\0\x01\x02\r\n\r\n" })
        {
            using var socket = new TcpClient();
            await socket.ConnectAsync(IPAddress.Loopback, cluster.HttpPort(0));
            var stream = socket.GetStream();
            await stream.WriteAsync(Encoding.Latin1.GetBytes(garbage));
            var buffer = new byte[256];
            var read = await stream.ReadAsync(buffer).AsTask().WaitAsync(Deadline);
            Assert.StartsWith("HTTP/1.1 400", Encoding.Latin1.GetString(buffer, 0, read));
        }

        using var http = new HttpClient();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(Url(cluster, 0, "/health/ready"))).StatusCode);
        await using var client = await cluster.ConnectAsync(0);
        Assert.Equal(Reply.Ok, await client.CallAsync("SET", "k", "v"));
    }

    [Fact]
    public async Task Over_the_HTTP_transport_the_endpoint_listens_next_to_Raft()
    {
        await using var cluster = await TestCluster.StartAsync(settings: WithHttp, transport: "http");
        var leader = await cluster.WaitForLeaderAsync();
        var samples = await ScrapeAsync(cluster, leader);
        Assert.Equal(1, samples.Single("raftkv_raft_role", ("role", "leader")));

        // The Raft address does not serve the endpoint.
        using var http = new HttpClient();
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"http://127.0.0.1:{cluster.RaftPort(leader)}/health/live")).StatusCode);
    }

    [Theory]
    [InlineData("RaftKv:Http:Listen", "9381")]
    [InlineData("RaftKv:Http:Listen", "example.com:9381")]
    [InlineData("RaftKv:Http:Listen", "127.0.0.1:0")]
    [InlineData("RaftKv:Telemetry:OtlpEndpoint", "collector:4317")]
    public async Task A_bad_endpoint_setting_stops_the_start_with_its_name(string key, string value)
    {
        var error = await Assert.ThrowsAsync<NodeStartupException>(() => TestCluster.StartAsync(size: 1, settings: new Dictionary<string, string?> { [key] = value }));
        Assert.Contains(key, error.Message);
    }

    [Fact]
    public async Task With_an_OTLP_endpoint_and_no_collector_the_node_serves()
    {
        // Nothing listens on the collector's port: the exporter's failures stay in the exporter.
        await using var cluster = await TestCluster.StartAsync(size: 1, settings: new Dictionary<string, string?>(WithHttp)
        {
            ["RaftKv:Telemetry:OtlpEndpoint"] = "http://127.0.0.1:{TlsPort}",
        });
        await using (var client = await cluster.ConnectAsync(0))
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "k", "v"));
        Assert.True((await ScrapeAsync(cluster, 0)).Single("raftkv_raft_applied_index") >= 1);
    }

    [Fact]
    public void The_parser_refuses_what_is_not_Prometheus_text()
    {
        var good = "# HELP up Whether up\n# TYPE up gauge\nup{job=\"a\",x=\"b\\\"c\"} 1\n";
        Assert.Equal(1, PrometheusText.Parse(good).Single("up", ("job", "a")));
        Assert.Throws<FormatException>(() => PrometheusText.Parse(good + "up{job=\"a\" 1\n"));
        Assert.Throws<FormatException>(() => PrometheusText.Parse(good + "up 1x\n"));
        Assert.Throws<FormatException>(() => PrometheusText.Parse(good + "down 1\n"));
        Assert.Throws<FormatException>(() => PrometheusText.Parse(good + "# TYPE up gauge\n"));
        Assert.Throws<FormatException>(() => PrometheusText.Parse(good + "up{job=a} 1\n"));
        Assert.Throws<FormatException>(() => PrometheusText.Parse("<html>error</html>\n"));
    }

    private static string Url(TestCluster cluster, int node, string path) => $"http://127.0.0.1:{cluster.HttpPort(node)}{path}";

    private static async Task<IReadOnlyList<PrometheusText.Sample>> ScrapeAsync(TestCluster cluster, int node)
    {
        using var http = new HttpClient();
        return PrometheusText.Parse(await http.GetStringAsync(Url(cluster, node, "/metrics")));
    }

    private static async Task Until(Func<Task<bool>> condition, string failure)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, failure);
            await Task.Delay(100);
        }
    }
}
