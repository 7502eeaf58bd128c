using RaftKv.StateMachine;

namespace RaftKv.Chaos.Tests.CheckerTests;

/// <summary>The observer's reading of <c>LOCK.INFO</c> replies: the FIFO checker's evidence is only as good as this.</summary>
public sealed class LockInfoReplyTests
{
    private static Reply Waiter(string token) => Reply.FromArray(
        [Reply.FromBulk(token), Reply.FromBulk("p1"), Reply.FromBulk("write"), Reply.FromInteger(900), Reply.FromInteger(3000)]);

    [Fact]
    public void The_waiters_are_read_in_queue_order()
    {
        var reply = Reply.FromArray(
        [
            Reply.FromBulk("kind"), Reply.FromBulk("mutex"), Reply.FromBulk("max-count"), Reply.FromInteger(1),
            Reply.FromBulk("holders"), Reply.FromArray([Reply.FromArray([Reply.FromBulk("h"), Reply.FromBulk(""), Reply.FromInteger(7), Reply.FromInteger(100), Reply.FromBulk("write")])]),
            Reply.FromBulk("waiters"), Reply.FromArray([Waiter("b"), Waiter("a")]),
        ]);

        Assert.Equal(["b", "a"], Workloads.Workloads.Waiters(reply));
        Assert.Equal(["b", "a"], Workloads.Workloads.Waiters(Reply.FromMap([.. reply.Items!])));
    }

    [Fact]
    public void Nil_is_no_waiters_and_an_unexpected_shape_is_no_evidence()
    {
        Assert.Equal([], Workloads.Workloads.Waiters(Reply.NullBulk));
        Assert.Equal([], Workloads.Workloads.Waiters(Reply.NullArray));
        Assert.Null(Workloads.Workloads.Waiters(Reply.FromArray([Reply.FromBulk("kind"), Reply.FromBulk("mutex")])));
        Assert.Null(Workloads.Workloads.Waiters(Reply.FromArray([Reply.FromBulk("waiters"), Reply.FromInteger(3)])));
        Assert.Null(Workloads.Workloads.Waiters(Reply.FromArray([Reply.FromBulk("waiters"), Reply.FromArray([Reply.FromInteger(3)])])));
        Assert.Null(Workloads.Workloads.Waiters(Reply.FromInteger(1)));
    }
}
