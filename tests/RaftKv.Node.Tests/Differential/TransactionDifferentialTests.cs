using System.Text;
using RaftKv.Node.Tests.Cluster;

namespace RaftKv.Node.Tests.Differential;

/// <summary>
/// Transactions pipelined in one write to a real redis-server and to RaftKv, replies compared in order: queuing,
/// WATCH and EXEC must keep their places among the connection's other reads and writes. (One command at a time, they
/// are compared in <c>Scripts/transactions.redis</c>.)
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class TransactionDifferentialTests(DifferentialFixture fixture) : IClassFixture<DifferentialFixture>
{
    [Fact]
    public async Task Pipelined_transactions_answer_like_Redis()
    {
        await using var runner = await DifferentialRunner.ConnectAsync(fixture);
        await runner.FlushAllAsync();
        string[][] pipeline =
        [
            ["SET", "k", "1"], ["WATCH", "k"], ["GET", "k"], ["MULTI"], ["INCR", "k"], ["GET", "k"], ["EXEC"],
            ["WATCH", "k"], ["SET", "k", "changed"], ["MULTI"], ["INCR", "k"], ["EXEC"], ["GET", "k"],
            ["MULTI"], ["SET", "k"], ["SET", "k", "never"], ["EXEC"], ["GET", "k"],
            ["MULTI"], ["SELECT", "2"], ["SET", "k", "two"], ["EXEC"], ["GET", "k"], ["SELECT", "0"], ["GET", "k"],
            ["WATCH", "a", "b"], ["DEL", "a"], ["MULTI"], ["SET", "a", "x"], ["GET", "b"], ["EXEC"], ["GET", "a"],
            ["MULTI"], ["DISCARD"], ["EXEC"], ["MULTI"], ["MULTI"], ["PING"], ["EXEC"],
        ];

        await runner.RunPipelinedAsync([.. pipeline.Select(static c => c.Select(Encoding.UTF8.GetBytes).ToArray())], i => $"pipeline command {i}");

        Assert.True(runner.Mismatches.Count == 0, string.Join('\n', runner.Mismatches));
    }
}
