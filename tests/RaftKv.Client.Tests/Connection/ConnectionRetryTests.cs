using System.Net;
using System.Net.Sockets;
using RaftKv.Client.Tests.Fakes;

namespace RaftKv.Client.Tests.Connection;

/// <summary>
/// Retries, sessions and discovery against scripted fake nodes: each failure the protocol names, forced exactly where
/// it matters, with the server's view of what was applied.
/// </summary>
public sealed class ConnectionRetryTests
{
    [Fact]
    public async Task Reads_go_plain_and_writes_go_in_the_session_numbered_in_order()
    {
        await using var node = new FakeNode();
        await using var client = await ConnectAsync(node);

        Assert.True(await client.StringSetAsync("a", "1"));
        Assert.Equal("1", await client.StringGetAsync("a"));
        Assert.Equal(1, await client.StringIncrementAsync("n"));

        var session = client.SessionId!.Value;
        Assert.Equal(
            ["SESSION.OPEN 60000", $"SESSION.EXEC {session} 1 1 SET a 1", "GET a", $"SESSION.EXEC {session} 2 2 INCR n"],
            Requests(node, except: "INFO"));
    }

    [Fact]
    public async Task A_write_whose_reply_was_lost_is_retried_with_the_same_number_and_answered_from_the_record()
    {
        await using var node = new FakeNode();
        var lost = 0;
        node.Intercept = request =>
        {
            if (request.Command != "SET" || Interlocked.Exchange(ref lost, 1) != 0)
                return null;
            node.Answer(request);
            return FakeReply.Close;
        };
        await using var client = await ConnectAsync(node);

        Assert.True(await client.StringSetAsync("lock", "me", when: When.NotExists));

        Assert.Equal(["SET lock me NX"], node.Applied);
        var attempts = node.Received.Where(static r => r.IsSessionExec && r.Command == "SET").ToArray();
        Assert.Equal(2, attempts.Length);
        Assert.Equal((attempts[0].SessionId, attempts[0].Sequence), (attempts[1].SessionId, attempts[1].Sequence));
    }

    [Fact]
    public async Task UNCERTAIN_is_retried_in_the_same_session_and_the_write_is_applied_once()
    {
        await using var node = new FakeNode();
        var uncertain = 0;
        node.Intercept = request =>
        {
            if (request.Command != "INCR" || Interlocked.Exchange(ref uncertain, 1) != 0)
                return null;
            node.Answer(request);
            return FakeReply.Error("UNCERTAIN leadership changed while the write was in flight");
        };
        await using var client = await ConnectAsync(node);

        Assert.Equal(1, await client.StringIncrementAsync("counter"));

        Assert.Equal(["INCR counter"], node.Applied);
    }

    [Fact]
    public async Task NOSESSION_for_a_write_that_never_ran_opens_a_new_session_and_sends_it_there()
    {
        await using var node = new FakeNode();
        await using var client = await ConnectAsync(node);
        var first = client.SessionId;
        node.ExpireSessions();

        Assert.True(await client.StringSetAsync("k", "v"));

        Assert.NotEqual(first, client.SessionId);
        Assert.Equal(["SET k v"], node.Applied);
    }

    [Fact]
    public async Task A_write_that_may_have_run_in_a_session_that_then_expired_has_an_unknown_outcome()
    {
        await using var node = new FakeNode();
        var lost = 0;
        node.Intercept = request =>
        {
            if (request.Command != "INCR" || Interlocked.Exchange(ref lost, 1) != 0)
                return null;
            node.Answer(request);
            node.ExpireSessions();
            return FakeReply.Close;
        };
        await using var client = await ConnectAsync(node);

        var error = await Assert.ThrowsAsync<RaftKvUnknownOutcomeException>(() => client.StringIncrementAsync("counter"));

        Assert.Equal("INCR", error.Command);
        Assert.Contains("session expired", error.Message, StringComparison.Ordinal);
        Assert.Equal(["INCR counter"], node.Applied);
    }

    [Fact]
    public async Task A_hung_connection_is_replaced_after_the_reply_timeout_and_the_write_is_applied_once()
    {
        await using var node = new FakeNode();
        var hung = 0;
        node.Intercept = request =>
        {
            if (request.Command != "SET" || Interlocked.Exchange(ref hung, 1) != 0)
                return null;
            node.Answer(request);
            return FakeReply.Mute;
        };
        await using var client = await ConnectAsync(node, o => o.ReplyTimeout = TimeSpan.FromMilliseconds(300));

        Assert.True(await client.StringSetAsync("k", "v"));

        Assert.Equal(["SET k v"], node.Applied);
    }

    [Fact]
    public async Task MOVED_sends_the_client_to_the_leader_it_names()
    {
        await using var oldLeader = new FakeNode();
        await using var newLeader = new FakeNode();
        oldLeader.Members = newLeader.Members = [oldLeader.Endpoint, newLeader.Endpoint];
        await using var client = await ConnectAsync(oldLeader);
        oldLeader.Intercept = request => request.IsSessionExec ? FakeReply.Error($"MOVED 0 {newLeader.Endpoint}") : null;

        Assert.True(await client.StringSetAsync("k", "v"));

        Assert.Equal(newLeader.Endpoint, client.Leader);
        Assert.Empty(oldLeader.Applied);
        Assert.Equal(["SET k v"], newLeader.Applied);
    }

    [Fact]
    public async Task Connecting_through_a_follower_finds_the_leader_it_names()
    {
        await using var follower = new FakeNode();
        await using var leader = new FakeNode();
        follower.Members = leader.Members = [follower.Endpoint, leader.Endpoint];
        (follower.IsLeader, follower.Leader) = (false, leader.Endpoint);

        await using var client = await ConnectAsync(follower);
        Assert.True(await client.StringSetAsync("k", "v"));

        Assert.Equal(leader.Endpoint, client.Leader);
        Assert.Equal(new[] { follower.Endpoint, leader.Endpoint }.Order(), client.Members.Order());
        Assert.Equal(["SET k v"], leader.Applied);
    }

    [Fact]
    public async Task Behind_a_proxy_a_follower_naming_an_unreachable_leader_is_used_to_forward()
    {
        await using var follower = new FakeNode { IsLeader = false, Leader = "10.1.2.3:6381" };
        await using var client = await ConnectAsync(follower, o => o.DiscoverMembers = false);

        Assert.True(await client.StringSetAsync("k", "v"));

        Assert.Equal(["SET k v"], follower.Applied);
    }

    [Fact]
    public async Task A_follower_naming_a_dead_leader_is_not_settled_for_while_members_are_discovered()
    {
        using var dead = new Socket(SocketType.Stream, ProtocolType.Tcp);
        dead.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        await using var follower = new FakeNode { IsLeader = false, Leader = dead.LocalEndPoint!.ToString() };

        await Assert.ThrowsAsync<RaftKvTimeoutException>(() => ConnectAsync(follower, o => o.OperationTimeout = TimeSpan.FromMilliseconds(500)));
    }

    [Fact]
    public async Task CLUSTERDOWN_until_the_deadline_is_a_timeout_and_nothing_was_applied()
    {
        await using var node = new FakeNode();
        await using var client = await ConnectAsync(node, o => o.OperationTimeout = TimeSpan.FromSeconds(2));
        node.Intercept = request =>
        {
            if (!request.IsSessionExec)
                return null;
            node.IsLeader = false;
            return FakeReply.Error("CLUSTERDOWN No Raft leader");
        };

        var error = await Assert.ThrowsAsync<RaftKvTimeoutException>(() => client.StringSetAsync("k", "v"));

        Assert.Contains("CLUSTERDOWN", error.Message, StringComparison.Ordinal);
        Assert.Empty(node.Applied);
    }

    [Fact]
    public async Task A_write_still_unanswered_at_the_deadline_has_an_unknown_outcome()
    {
        await using var node = new FakeNode();
        await using var client = await ConnectAsync(node, o => (o.OperationTimeout, o.ReplyTimeout) = (TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30)));
        node.Intercept = request => request.Command == "SET" ? FakeReply.Mute : null;

        await Assert.ThrowsAsync<RaftKvUnknownOutcomeException>(() => client.StringSetAsync("k", "v"));
    }

    [Fact]
    public async Task No_reachable_node_is_a_timeout_when_connecting()
    {
        // Bound but not listening: connections are refused, and no other test can take the port meanwhile.
        using var closed = new Socket(SocketType.Stream, ProtocolType.Tcp);
        closed.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var options = new RaftKvClientOptions { Endpoints = { closed.LocalEndPoint!.ToString()! }, OperationTimeout = TimeSpan.FromMilliseconds(500) };

        await Assert.ThrowsAsync<RaftKvTimeoutException>(() => RaftKvConnection.ConnectAsync(options));
    }

    [Fact]
    public async Task Server_errors_reach_the_caller_with_their_text_and_are_not_retried()
    {
        await using var node = new FakeNode();
        node.Intercept = request => request.Command == "INCR" ? FakeReply.Error("ERR value is not an integer or out of range") : null;
        await using var client = await ConnectAsync(node);

        var error = await Assert.ThrowsAsync<RaftKvServerException>(() => client.StringIncrementAsync("text"));

        Assert.Equal("ERR", error.Prefix);
        Assert.Equal("ERR value is not an integer or out of range", error.Error);
        Assert.Single(node.Received, static r => r.Command == "INCR");
    }

    [Fact]
    public async Task A_command_the_server_refuses_inside_a_session_is_sent_plain_from_then_on()
    {
        await using var node = new FakeNode();
        node.Intercept = request => request.IsSessionExec && request.Command == "DEBUGX" ? FakeReply.Error("ERR SESSION.EXEC wraps data commands only") : null;
        await using var client = await ConnectAsync(node);

        Assert.Equal("OK", (await client.ExecuteAsync("DEBUGX", "a")).AsString());
        Assert.Equal("OK", (await client.ExecuteAsync("DEBUGX", "b")).AsString());

        Assert.Equal(["SESSION.EXEC", "DEBUGX", "DEBUGX"], node.Received.Where(static r => r.Command == "DEBUGX").Select(static r => r.Name));
    }

    [Theory]
    [InlineData("SELECT")]
    [InlineData("multi")]
    [InlineData("SUBSCRIBE")]
    [InlineData("SESSION.EXEC")]
    public async Task Commands_that_change_connection_state_are_refused(string command)
    {
        await using var node = new FakeNode();
        await using var client = await ConnectAsync(node);

        await Assert.ThrowsAsync<NotSupportedException>(() => client.ExecuteAsync(command, "1"));
    }

    [Fact]
    public async Task The_leader_moving_is_noticed_and_announced()
    {
        await using var first = new FakeNode();
        await using var second = new FakeNode();
        first.Members = second.Members = [first.Endpoint, second.Endpoint];
        (second.IsLeader, second.Leader) = (false, first.Endpoint);
        await using var client = await ConnectAsync(first, o => o.TopologyRefreshInterval = TimeSpan.FromMilliseconds(50));
        var changes = new System.Collections.Concurrent.ConcurrentQueue<LeaderChangedEventArgs>();
        client.LeaderChanged += (_, change) => changes.Enqueue(change);

        (first.IsLeader, first.Leader) = (false, second.Endpoint);
        (second.IsLeader, second.Leader, second.Term) = (true, null, 2);

        await Eventually.TrueAsync(() => changes.Any(c => c.Leader == second.Endpoint), "the new leader is announced");
        var change = changes.Last();
        Assert.Equal((first.Endpoint, 2L), (change.PreviousLeader, change.Term));
        Assert.Equal(second.Endpoint, client.Leader);
    }

    [Fact]
    public async Task An_idle_session_is_kept_alive_and_a_lost_one_is_replaced_at_the_next_write()
    {
        await using var node = new FakeNode();
        await using var client = await ConnectAsync(node, o => o.SessionTtl = TimeSpan.FromSeconds(1));

        await Eventually.TrueAsync(() => node.Received.Any(static r => r.Name == "SESSION.KEEPALIVE"), "a keep-alive");
        var first = client.SessionId;
        node.ExpireSessions();
        await Eventually.TrueAsync(() => client.SessionId is null, "the client notices the session is gone");

        Assert.True(await client.StringSetAsync("k", "v"));
        Assert.NotNull(client.SessionId);
        Assert.NotEqual(first, client.SessionId);
    }

    [Fact]
    public async Task Disposing_closes_the_session()
    {
        await using var node = new FakeNode();
        var client = await ConnectAsync(node);
        var session = client.SessionId;

        await client.DisposeAsync();

        Assert.Contains(node.Received, r => r.Name == "SESSION.CLOSE" && r.Args[1] == session.ToString());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.StringGetAsync("k"));
    }

    [Fact]
    public async Task Concurrent_callers_share_one_pipelined_connection()
    {
        await using var node = new FakeNode();
        await using var client = await ConnectAsync(node);

        var results = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => client.StringIncrementAsync("shared")));

        Assert.Equal(Enumerable.Range(1, 200).Select(static i => (long)i), results.Order());
        var sequences = node.Received.Where(static r => r.IsSessionExec).Select(static r => r.Sequence).ToArray();
        Assert.Equal(200, sequences.Distinct().Count());
    }

    private static async Task<RaftKvConnection> ConnectAsync(FakeNode node, Action<RaftKvClientOptions>? configure = null)
    {
        var options = new RaftKvClientOptions
        {
            Endpoints = { node.Endpoint },
            OperationTimeout = TimeSpan.FromSeconds(10),
            ConnectTimeout = TimeSpan.FromSeconds(2),
            ReplyTimeout = TimeSpan.FromSeconds(5),
            MinRetryDelay = TimeSpan.FromMilliseconds(5),
            MaxRetryDelay = TimeSpan.FromMilliseconds(100),
            TopologyRefreshInterval = TimeSpan.FromHours(1),
        };
        configure?.Invoke(options);
        return await RaftKvConnection.ConnectAsync(options);
    }

    private static string[] Requests(FakeNode node, string except)
        => [.. node.Received.Where(r => r.Name != except).Select(static r => r.ToString())];
}
