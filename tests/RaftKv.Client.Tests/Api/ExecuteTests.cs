using RaftKv.Client.Tests.Fakes;

namespace RaftKv.Client.Tests.Api;

/// <summary>ExecuteAsync on the shared connection: what goes plain, what goes in the session, what it refuses to carry.</summary>
public sealed class ExecuteTests
{
    [Fact]
    public async Task An_acquire_that_waits_is_refused_and_one_that_does_not_runs_in_the_session()
    {
        await using var node = new FakeNode();
        await using var client = await TransactionFaultTests.ConnectAsync(node);

        await Assert.ThrowsAsync<NotSupportedException>(() => client.ExecuteAsync("LOCK.ACQUIRE", "k", "t", 1000, "WAIT", 500));
        await Assert.ThrowsAsync<NotSupportedException>(() => client.ExecuteAsync("rwlock.acquire", "k", "READ", "t", 1000, "OWNER", "me", "wait", "10"));
        await Assert.ThrowsAsync<NotSupportedException>(() => client.ExecuteAsync("SEMAPHORE.ACQUIRE", "k", 3, "t", 1000, "WAIT", 1));
        await client.ExecuteAsync("LOCK.ACQUIRE", "k", "t", 1000, "WAIT", 0);
        await client.ExecuteAsync("LOCK.ACQUIRE", "k", "t", 1000, "OWNER", "WAIT");
        await client.ExecuteAsync("LOCK.INFO", "k");
        await client.ExecuteAsync("LOCK.LIST");

        Assert.Equal(
            ["#1 LOCK.ACQUIRE k t 1000 WAIT 0", "#2 LOCK.ACQUIRE k t 1000 OWNER WAIT", "LOCK.INFO k", "LOCK.LIST"],
            node.Received.Where(static r => r.Command.StartsWith("LOCK.", StringComparison.Ordinal))
                .Select(static r => r.IsSessionExec ? $"#{r.Sequence} {string.Join(' ', r.Inner)}" : r.ToString()));
    }
}
