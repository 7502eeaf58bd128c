using RaftKv.Client.Tests.Fakes;

namespace RaftKv.Client.Tests.Api;

/// <summary>A batch holds its commands until Execute, then sends them in order, each with its own task and delivery.</summary>
public sealed class BatchTests
{
    [Fact]
    public async Task Nothing_is_sent_before_Execute_then_everything_goes_in_order_reads_plain_and_writes_in_the_session()
    {
        await using var node = new FakeNode();
        await using var client = await TransactionFaultTests.ConnectAsync(node);
        var before = node.Received.Count;

        var batch = client.CreateBatch();
        var set = batch.StringSetAsync("a", "1");
        var increment = batch.StringIncrementAsync("n");
        var read = batch.StringGetAsync("a");
        var exists = batch.KeyExistsAsync("missing");
        Assert.Equal(4, batch.Count);
        Assert.Equal(before, node.Received.Count);
        Assert.False(set.IsCompleted);

        batch.Execute();

        Assert.True(await set);
        Assert.Equal(1, await increment);
        Assert.Equal("1", await read);
        Assert.False(await exists);
        Assert.Equal(
            ["#1 SET a 1", "#2 INCR n", "GET a", "EXISTS missing"],
            node.Received.Skip(before).Where(static r => r.Name != "INFO")
                .Select(static r => r.IsSessionExec ? $"#{r.Sequence} {string.Join(' ', r.Inner)}" : r.ToString()));
    }

    [Fact]
    public async Task A_command_that_fails_fails_only_its_own_task()
    {
        await using var node = new FakeNode();
        node.Intercept = request => request.Command == "INCR" ? FakeReply.Error("ERR value is not an integer or out of range") : null;
        await using var client = await TransactionFaultTests.ConnectAsync(node);

        var batch = client.CreateBatch();
        var increment = batch.StringIncrementAsync("text");
        var set = batch.StringSetAsync("k", "v");
        batch.Execute();

        Assert.Equal("ERR", (await Assert.ThrowsAsync<RaftKvServerException>(() => increment)).Prefix);
        Assert.True(await set);
        Assert.Throws<InvalidOperationException>(batch.Execute);
        await Assert.ThrowsAsync<InvalidOperationException>(() => batch.StringGetAsync("k"));
    }
}
