using RaftKv.Node.Tests.Cluster;

namespace RaftKv.Node.Tests.Differential;

/// <summary>
/// The hand-written cases of <c>Scripts/*.redis</c>, each run on a real redis-server and on RaftKv with the replies
/// compared (see <see cref="DifferentialRunner"/>). A failure lists every differing command with both replies.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ScriptedDifferentialTests(DifferentialFixture fixture) : IClassFixture<DifferentialFixture>
{
    public static TheoryData<string> Cases => [.. CommandScript.LoadAll().Select(static c => c.ToString())];

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Redis_and_RaftKv_reply_alike(string name)
    {
        var script = CommandScript.LoadAll().Single(c => c.ToString() == name);
        await using var runner = await DifferentialRunner.ConnectAsync(fixture);
        await runner.FlushAllAsync();

        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        foreach (var step in script.Steps)
        {
            if (step.Tokens is null)
            {
                await Task.Delay(step.SleepMs);
                continue;
            }

            var onRedis = step.Tokens.Select(t => CommandScript.Expand(t, now, runner.RedisClientId)).ToArray();
            var onRaftKv = step.Tokens.Select(t => CommandScript.Expand(t, now, runner.RaftKvClientId)).ToArray();
            await runner.RunAsync(onRedis, onRaftKv, $"{script.File}:{step.Line}");
        }

        Assert.True(runner.Mismatches.Count == 0, $"{name}:\n" + string.Join('\n', runner.Mismatches));
    }

    [Fact]
    public async Task Pipelined_reads_and_writes_take_effect_in_the_order_sent()
    {
        await using var runner = await DifferentialRunner.ConnectAsync(fixture);
        await runner.FlushAllAsync();
        string[][] pipeline =
        [
            ["SET", "k", "1"], ["GET", "k"], ["DEL", "k"], ["GET", "k"], ["INCR", "k"], ["EXISTS", "k"], ["SELECT", "1"],
            ["GET", "k"], ["SET", "k", "db1"], ["SELECT", "0"], ["GET", "k"], ["APPEND", "k", "x"], ["STRLEN", "k"],
            ["SWAPDB", "0", "1"], ["GET", "k"], ["KEYS", "*"], ["FLUSHALL"], ["DBSIZE"],
        ];

        await runner.RunPipelinedAsync([.. pipeline.Select(static c => c.Select(System.Text.Encoding.UTF8.GetBytes).ToArray())], i => $"pipeline command {i}");

        Assert.True(runner.Mismatches.Count == 0, string.Join('\n', runner.Mismatches));
    }

    [Fact]
    public void Every_script_has_cases_and_every_case_has_commands()
    {
        var cases = CommandScript.LoadAll();
        Assert.NotEmpty(cases);
        Assert.All(cases, static c => Assert.Contains(c.Steps, static s => s.Tokens is not null));
        Assert.Equal(cases.Count, cases.Select(static c => c.ToString()).Distinct().Count());
    }
}
