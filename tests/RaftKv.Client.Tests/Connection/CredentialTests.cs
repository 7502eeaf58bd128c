using RaftKv.Client.Tests.Fakes;

namespace RaftKv.Client.Tests.Connection;

/// <summary>
/// <c>User</c>/<c>Password</c> against scripted nodes answering as Redis 7 does: AUTH first on every connection, a
/// refusal final, a node without a password usable as it is.
/// </summary>
public sealed class CredentialTests
{
    private const string WrongPass = "WRONGPASS invalid username-password pair or user is disabled.";
    private const string NoPassword = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?";

    [Fact]
    public async Task AUTH_user_password_is_the_first_request_on_every_connection_also_after_a_leader_change()
    {
        await using var first = new FakeNode();
        await using var second = new FakeNode { IsLeader = false };
        first.Members = second.Members = [first.Endpoint, second.Endpoint];
        second.Leader = first.Endpoint;
        await using var client = await ConnectAsync([first.Endpoint], o => (o.User, o.Password) = ("app", "s3cret"));
        Assert.True(await client.StringSetAsync("a", "1"));

        // The leader moves: the first node now names the second and drops its clients.
        (first.IsLeader, first.Leader, first.Term) = (false, second.Endpoint, 2);
        (second.IsLeader, second.Leader, second.Term) = (true, null, 2);
        // (A read: the fake nodes share no session, so a write that was in flight on the dropped connection could
        // not learn its outcome on the second one.)
        first.DropConnections();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!second.Received.Any(static r => r.Name == "GET"))
        {
            Assert.Null(await client.StringGetAsync("b"));
            Assert.True(DateTime.UtcNow < deadline, "the client moved to the new leader");
        }

        Assert.Equal(second.Endpoint, client.Leader);

        foreach (var node in new[] { first, second })
        {
            var byConnection = node.Received.GroupBy(static r => r.Connection).ToArray();
            Assert.NotEmpty(byConnection);
            Assert.All(byConnection, connection => Assert.Equal(["AUTH", "app", "s3cret"], connection.First().Args));
        }

        Assert.Contains(second.Received, static r => r.Name == "GET" && r.Args[1] == "b");
    }

    [Fact]
    public async Task Without_a_user_AUTH_carries_the_password_alone_and_without_a_password_no_AUTH_is_sent()
    {
        await using var node = new FakeNode();
        await using (var client = await ConnectAsync([node.Endpoint], o => o.Password = "s3cret"))
            Assert.Null(await client.StringGetAsync("x"));
        Assert.Equal(["AUTH", "s3cret"], node.Received.First().Args);

        await using var plain = new FakeNode();
        await using (var client = await ConnectAsync([plain.Endpoint]))
            Assert.Null(await client.StringGetAsync("x"));
        Assert.DoesNotContain(plain.Received, static r => r.Name == "AUTH");
    }

    [Fact]
    public async Task WRONGPASS_fails_the_connect_at_once_and_is_not_retried()
    {
        await using var node = new FakeNode { Intercept = static r => r.Name == "AUTH" ? FakeReply.Error(WrongPass) : null };
        var started = DateTime.UtcNow;

        var e = await Assert.ThrowsAsync<RaftKvAuthenticationException>(() => ConnectAsync([node.Endpoint], o => (o.User, o.Password) = ("app", "wrong")));

        Assert.Equal(WrongPass, e.Error);
        Assert.Equal("app", e.User);
        Assert.Equal(node.Endpoint, e.Endpoint);
        Assert.DoesNotContain("wrong", e.Message.Replace("WRONGPASS", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Single(node.Received, static r => r.Name == "AUTH");
        Assert.DoesNotContain(node.Received, static r => r.Name != "AUTH");
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5), "refused at once, not after the operation timeout");
    }

    [Fact]
    public async Task A_password_refused_on_a_later_connection_fails_the_operation_with_the_refusal()
    {
        await using var node = new FakeNode();
        await using var client = await ConnectAsync([node.Endpoint], o => o.Password = "old");
        Assert.True(await client.StringSetAsync("a", "1"));

        // The password was changed on the cluster; the next connection the client opens is refused.
        node.Intercept = static r => r.Name == "AUTH" ? FakeReply.Error(WrongPass) : null;
        node.DropConnections();

        var e = await Assert.ThrowsAsync<RaftKvAuthenticationException>(() => client.StringGetAsync("a"));
        Assert.Equal(WrongPass, e.Error);
        Assert.Null(e.User);
    }

    [Fact]
    public async Task A_node_that_needs_no_password_is_used_as_it_is()
    {
        await using var node = new FakeNode { Intercept = static r => r.Name == "AUTH" ? FakeReply.Error(NoPassword) : null };
        await using var client = await ConnectAsync([node.Endpoint], o => o.Password = "unneeded");

        Assert.True(await client.StringSetAsync("a", "1"));
        Assert.Equal("1", await client.StringGetAsync("a"));
    }

    [Fact]
    public async Task A_node_that_cannot_answer_AUTH_yet_is_retried_like_any_unready_node()
    {
        var refusals = 0;
        await using var node = new FakeNode();
        node.Intercept = r => r.Name == "AUTH" && Interlocked.Increment(ref refusals) <= 2 ? FakeReply.Error("CLUSTERDOWN No Raft leader") : null;

        await using var client = await ConnectAsync([node.Endpoint], o => o.Password = "s3cret");

        Assert.True(await client.StringSetAsync("a", "1"));
        Assert.Equal(3, node.Received.Count(static r => r.Name == "AUTH"));
    }

    [Fact]
    public void Credentials_and_TLS_settings_are_checked()
    {
        var options = new RaftKvClientOptions { Endpoints = { "127.0.0.1:1" }, User = "app" };
        Assert.Contains("Password", Assert.Throws<ArgumentException>(options.Validate).Message, StringComparison.Ordinal);

        options = new RaftKvClientOptions { Endpoints = { "127.0.0.1:1" }, Tls = { CaCertificateFile = "ca.crt" } };
        Assert.Contains("Enabled is false", Assert.Throws<ArgumentException>(options.Validate).Message, StringComparison.Ordinal);

        options = new RaftKvClientOptions { Endpoints = { "127.0.0.1:1" }, Tls = { Enabled = true, CaCertificateFile = "/nonexistent/ca.crt" } };
        Assert.Contains("does not exist", Assert.Throws<ArgumentException>(options.Validate).Message, StringComparison.Ordinal);

        options = new RaftKvClientOptions { Endpoints = { "127.0.0.1:1" }, Tls = { Enabled = true, ClientCertificateFile = "client.crt" } };
        Assert.Contains("go together", Assert.Throws<ArgumentException>(options.Validate).Message, StringComparison.Ordinal);
    }

    private static Task<RaftKvConnection> ConnectAsync(string[] endpoints, Action<RaftKvClientOptions>? configure = null)
    {
        var options = new RaftKvClientOptions
        {
            OperationTimeout = TimeSpan.FromSeconds(10),
            ConnectTimeout = TimeSpan.FromSeconds(2),
            ReplyTimeout = TimeSpan.FromSeconds(5),
            MinRetryDelay = TimeSpan.FromMilliseconds(5),
            MaxRetryDelay = TimeSpan.FromMilliseconds(100),
            TopologyRefreshInterval = TimeSpan.FromHours(1),
        };
        foreach (var endpoint in endpoints)
            options.Endpoints.Add(endpoint);
        configure?.Invoke(options);
        return RaftKvConnection.ConnectAsync(options);
    }
}
