using RaftKv.StateMachine;

namespace RaftKv.Chaos.Tests.CheckerTests;

/// <summary>The observer's reading of <c>LOCK.INFO</c> replies: the FIFO checker's evidence is only as good as this.</summary>
public sealed class LockInfoReplyTests
{
    private static Reply Waiter(string token) => Reply.FromArray(
        [Reply.FromBulk(token), Reply.FromBulk("p1"), Reply.FromBulk("write"), Reply.FromInteger(900), Reply.FromInteger(3000)]);

    [Fact]
    public void The_holders_and_the_waiters_are_read_in_queue_order()
    {
        var reply = Reply.FromArray(
        [
            Reply.FromBulk("kind"), Reply.FromBulk("mutex"), Reply.FromBulk("max-count"), Reply.FromInteger(1),
            Reply.FromBulk("holders"), Reply.FromArray([Reply.FromArray([Reply.FromBulk("h"), Reply.FromBulk(""), Reply.FromInteger(7), Reply.FromInteger(100), Reply.FromBulk("write")])]),
            Reply.FromBulk("waiters"), Reply.FromArray([Waiter("b"), Waiter("a")]),
        ]);

        Assert.Equal(["b", "a"], Workloads.Workloads.LockInfoTokens(reply, "waiters"));
        Assert.Equal(["b", "a"], Workloads.Workloads.LockInfoTokens(Reply.FromMap([.. reply.Items!]), "waiters"));
        Assert.Equal(["h"], Workloads.Workloads.LockInfoTokens(reply, "holders"));
    }

    [Fact]
    public void Nil_is_none_and_an_unexpected_shape_is_no_evidence()
    {
        Assert.Equal([], Workloads.Workloads.LockInfoTokens(Reply.NullBulk, "waiters"));
        Assert.Equal([], Workloads.Workloads.LockInfoTokens(Reply.NullArray, "waiters"));
        Assert.Null(Workloads.Workloads.LockInfoTokens(Reply.FromArray([Reply.FromBulk("kind"), Reply.FromBulk("mutex")]), "waiters"));
        Assert.Null(Workloads.Workloads.LockInfoTokens(Reply.FromArray([Reply.FromBulk("waiters"), Reply.FromInteger(3)]), "waiters"));
        Assert.Null(Workloads.Workloads.LockInfoTokens(Reply.FromArray([Reply.FromBulk("waiters"), Reply.FromArray([Reply.FromInteger(3)])]), "waiters"));
        Assert.Null(Workloads.Workloads.LockInfoTokens(Reply.FromInteger(1), "waiters"));
    }
}
