using RaftKv.Client.Tests.Cluster;
using RaftKv.Client.Tests.Fakes;
using RaftKv.Testing;
using static RaftKv.Client.Tests.Cluster.ClusterClients;

namespace RaftKv.Client.Tests.Api;

/// <summary>Transactions and key iteration across a leader stop: they go on, and no outcome is misreported.</summary>
[Collection(ClientClusterCollection.Name)]
public sealed class TransactionFailoverTests
{
    [Fact]
    public async Task Transactions_keep_committing_across_a_leader_stop_and_every_outcome_is_true_or_unknown()
    {
        await using var cluster = await TestCluster.StartAsync();
        var leader = await cluster.WaitForLeaderAsync();
        await using var client = await ConnectAsync(cluster);

        using var stop = new CancellationTokenSource();
        long committed = 0, unknown = 0, afterStop = 0;
        var leaderStopped = 0;
        var worker = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var transaction = client.CreateTransaction();
                var increment = transaction.StringIncrementAsync("failover:n");
                _ = transaction.StringSetAsync("failover:last", "x");
                try
                {
                    Assert.True(await transaction.ExecuteAsync(), "a transaction without conditions or watches always commits");
                    Assert.True(await increment > 0);
                    Interlocked.Increment(ref committed);
                    if (Volatile.Read(ref leaderStopped) == 1)
                        Interlocked.Increment(ref afterStop);
                }
                catch (RaftKvUnknownOutcomeException)
                {
                    Interlocked.Increment(ref unknown);
                }
            }
        });

        await Eventually.TrueAsync(() => Interlocked.Read(ref committed) >= 20 || worker.IsCompleted, "transactions commit");
        await cluster.StopNodeAsync(leader);
        Volatile.Write(ref leaderStopped, 1);
        await Eventually.TrueAsync(() => Interlocked.Read(ref afterStop) >= 20 || worker.IsCompleted, "transactions commit under the new leader");
        await stop.CancelAsync();
        await worker;

        var value = long.Parse((await client.StringGetAsync("failover:n"))!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(value, committed, committed + unknown);
        Assert.NotEqual(Endpoint(cluster, leader), client.Leader);
    }

    [Fact]
    public async Task KeysAsync_goes_on_from_its_cursor_on_the_new_leader_and_returns_every_key_once()
    {
        await using var cluster = await TestCluster.StartAsync();
        var leader = await cluster.WaitForLeaderAsync();
        await using var client = await ConnectAsync(cluster);
        var expected = Enumerable.Range(0, 100).Select(static i => $"iter:{i}").ToArray();
        Assert.True(await client.StringSetAsync([.. expected.Select(static k => new KeyValuePair<string, string>(k, "v"))]));

        var seen = new List<string>();
        await foreach (var key in client.KeysAsync("iter:*", pageSize: 10))
        {
            seen.Add(key);
            if (seen.Count == 20)
                await cluster.StopNodeAsync(leader);
        }

        Assert.NotEqual(Endpoint(cluster, leader), client.Leader);
        Assert.Equal(expected.Order(), seen.Order());
    }
}
