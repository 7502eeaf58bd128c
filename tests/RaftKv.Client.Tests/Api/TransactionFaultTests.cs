using RaftKv.Client.Tests.Fakes;

namespace RaftKv.Client.Tests.Api;

/// <summary>
/// What a transaction's caller learns when EXEC is refused, lost or answered nil, against a scripted node: a lost
/// EXEC reply is an unknown outcome (never "not committed"), a refusal before anything ran is retried whole.
/// </summary>
public sealed class TransactionFaultTests
{
    [Fact]
    public async Task Commands_are_queued_on_a_connection_of_their_own_and_run_by_one_EXEC()
    {
        await using var node = new FakeNode();
        _ = new FakeTransactions(node);
        await using var client = await ConnectAsync(node);
        var shared = node.Received.Last().Connection;

        var transaction = client.CreateTransaction();
        var set = transaction.StringSetAsync("k", "v");
        var read = transaction.StringGetAsync("k");
        Assert.False(set.IsCompleted);

        Assert.True(await transaction.ExecuteAsync());

        Assert.True(await set);
        Assert.Equal("v", await read);
        var sent = node.Received.Where(r => r.Connection != shared && r.Name != "INFO").Select(static r => r.ToString());
        Assert.Equal(["MULTI", "SET k v", "GET k", "EXEC"], sent);
        Assert.Equal(["SET k v"], node.Applied);
    }

    [Fact]
    public async Task A_connection_EXEC_answered_on_is_reused_and_one_left_inside_MULTI_is_not()
    {
        await using var node = new FakeNode();
        _ = new FakeTransactions(node);
        await using var client = await ConnectAsync(node);

        for (var i = 0; i < 3; i++)
        {
            var transaction = client.CreateTransaction();
            _ = transaction.StringSetAsync("k", "v");
            Assert.True(await transaction.ExecuteAsync());
        }

        var failed = client.CreateTransaction();
        failed.AddCondition(Condition.KeyNotExists("k"));
        _ = failed.StringSetAsync("k", "w");
        Assert.False(await failed.ExecuteAsync());

        var after = client.CreateTransaction();
        _ = after.StringSetAsync("k", "x");
        Assert.True(await after.ExecuteAsync());

        var multis = node.Received.Where(static r => r.Name == "MULTI").Select(static r => r.Connection).ToArray();
        Assert.Equal(5, multis.Length);
        Assert.Single(multis[..4].Distinct());
        Assert.NotEqual(multis[3], multis[4]);
    }

    [Fact]
    public async Task An_EXEC_whose_reply_was_lost_after_it_ran_is_an_unknown_outcome_not_a_failure()
    {
        await using var node = new FakeNode();
        var transactions = new FakeTransactions(node) { OnExec = (_, run) => { run(); return FakeReply.Close; } };
        await using var client = await ConnectAsync(node);

        var transaction = client.CreateTransaction();
        var increment = transaction.StringIncrementAsync("n");
        var error = await Assert.ThrowsAsync<RaftKvUnknownOutcomeException>(() => transaction.ExecuteAsync());

        Assert.Equal("EXEC", error.Command);
        Assert.Same(error, await Assert.ThrowsAsync<RaftKvUnknownOutcomeException>(() => increment));
        Assert.Equal(1, transactions.Execs);
        Assert.Equal(["INCR n"], node.Applied);
    }

    [Fact]
    public async Task An_EXEC_answered_UNCERTAIN_is_an_unknown_outcome_and_is_not_sent_again()
    {
        await using var node = new FakeNode();
        var transactions = new FakeTransactions(node) { OnExec = (_, _) => FakeReply.Error("UNCERTAIN leadership changed while the write was in flight") };
        await using var client = await ConnectAsync(node);

        var transaction = client.CreateTransaction();
        _ = transaction.StringSetAsync("k", "v");

        await Assert.ThrowsAsync<RaftKvUnknownOutcomeException>(() => transaction.ExecuteAsync());
        Assert.Equal(1, transactions.Execs);
    }

    [Fact]
    public async Task An_EXEC_refused_before_it_ran_is_retried_whole_with_its_conditions_on_a_new_connection()
    {
        await using var node = new FakeNode();
        var transactions = new FakeTransactions(node) { OnExec = (attempt, _) => attempt == 1 ? FakeReply.Error("CLUSTERDOWN No Raft leader") : null };
        await using var client = await ConnectAsync(node);

        var transaction = client.CreateTransaction();
        transaction.AddCondition(Condition.KeyNotExists("k"));
        var set = transaction.StringSetAsync("k", "v");

        Assert.True(await transaction.ExecuteAsync());
        Assert.True(await set);
        Assert.Equal(2, transactions.Execs);
        Assert.Equal(2, node.Received.Count(static r => r.Name == "WATCH"));
        Assert.Equal(["SET k v"], node.Applied);
    }

    [Fact]
    public async Task A_WATCH_that_failed_is_retried_rather_than_reported_as_a_changed_key()
    {
        // A node answers EXEC nil after a WATCH it could not read: sending EXEC then would report "not committed" for a
        // transaction no key ever stopped.
        await using var node = new FakeNode();
        var transactions = new FakeTransactions(node) { OnWatch = attempt => attempt == 1 ? FakeReply.Error("CLUSTERDOWN No Raft leader") : null };
        await using var client = await ConnectAsync(node);

        var transaction = client.CreateTransaction();
        transaction.AddCondition(Condition.KeyNotExists("k"));
        _ = transaction.StringSetAsync("k", "v");

        Assert.True(await transaction.ExecuteAsync());
        Assert.Equal(1, transactions.Execs);
    }

    [Fact]
    public async Task A_condition_that_does_not_hold_sends_no_command_and_cancels_every_task()
    {
        await using var node = new FakeNode();
        var transactions = new FakeTransactions(node);
        await using var client = await ConnectAsync(node);
        Assert.True(await client.StringSetAsync("k", "taken"));

        var transaction = client.CreateTransaction();
        transaction.AddCondition(Condition.KeyNotExists("k"));
        var set = transaction.StringSetAsync("k", "mine");

        Assert.False(await transaction.ExecuteAsync());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => set);
        Assert.Equal(0, transactions.Execs);
        Assert.DoesNotContain(node.Received, static r => r.ToString() == "SET k mine");
    }

    [Fact]
    public async Task EXEC_nil_means_a_watched_key_changed_and_is_false()
    {
        await using var node = new FakeNode();
        var transactions = new FakeTransactions(node) { OnExec = (_, _) => FakeReply.Null };
        await using var client = await ConnectAsync(node);

        var transaction = client.CreateTransaction();
        transaction.AddCondition(Condition.StringNotEqual("k", "x"));
        var set = transaction.StringSetAsync("k", "x");

        Assert.False(await transaction.ExecuteAsync());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => set);
        Assert.Empty(node.Applied);
    }

    [Fact]
    public async Task EXECABORT_fails_the_transaction_and_each_refused_command_with_its_own_error()
    {
        await using var node = new FakeNode();
        _ = new FakeTransactions(node);
        await using var client = await ConnectAsync(node);
        var transactionsAnswer = node.Intercept!;
        node.Intercept = request => request.Name switch
        {
            "BOGUS" => FakeReply.Error("ERR unknown command 'BOGUS'"),
            "EXEC" => FakeReply.Error("EXECABORT Transaction discarded because of previous errors."),
            _ => transactionsAnswer(request),
        };

        var transaction = client.CreateTransaction();
        var set = transaction.StringSetAsync("k", "v");
        var bogus = transaction.ExecuteAsync("BOGUS", "x");

        var error = await Assert.ThrowsAsync<RaftKvServerException>(() => transaction.ExecuteAsync());
        Assert.Equal("EXECABORT", error.Prefix);
        Assert.Equal("ERR", (await Assert.ThrowsAsync<RaftKvServerException>(() => bogus)).Prefix);
        Assert.Equal("EXECABORT", (await Assert.ThrowsAsync<RaftKvServerException>(() => set)).Prefix);
        Assert.Empty(node.Applied);
    }

    [Fact]
    public async Task A_transaction_runs_once_and_refuses_commands_after()
    {
        await using var node = new FakeNode();
        _ = new FakeTransactions(node);
        await using var client = await ConnectAsync(node);

        var transaction = client.CreateTransaction();
        _ = transaction.StringSetAsync("k", "v");
        Assert.True(await transaction.ExecuteAsync());

        await Assert.ThrowsAsync<InvalidOperationException>(() => transaction.ExecuteAsync());
        await Assert.ThrowsAsync<InvalidOperationException>(() => transaction.StringSetAsync("k", "w"));
        await Assert.ThrowsAsync<NotSupportedException>(() => transaction.ExecuteAsync("WATCH", "k"));
    }

    internal static Task<RaftKvConnection> ConnectAsync(FakeNode node)
        => RaftKvConnection.ConnectAsync(new RaftKvClientOptions
        {
            Endpoints = { node.Endpoint },
            OperationTimeout = TimeSpan.FromSeconds(10),
            ConnectTimeout = TimeSpan.FromSeconds(2),
            ReplyTimeout = TimeSpan.FromSeconds(5),
            MinRetryDelay = TimeSpan.FromMilliseconds(5),
            MaxRetryDelay = TimeSpan.FromMilliseconds(100),
            TopologyRefreshInterval = TimeSpan.FromHours(1),
        });
}
