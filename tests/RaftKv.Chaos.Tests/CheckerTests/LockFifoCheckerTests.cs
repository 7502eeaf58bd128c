using RaftKv.Chaos.Tests.Checkers;
using RaftKv.Chaos.Tests.History;

namespace RaftKv.Chaos.Tests.CheckerTests;

/// <summary>"FIFO among waiters that were queued" on hand-made histories with LOCK.INFO reads. Times are milliseconds.</summary>
public sealed class LockFifoCheckerTests
{
    private static readonly LockFifoChecker Checker = new();

    [Fact]
    public void Waiters_granted_in_the_order_a_read_listed_them_are_fifo()
    {
        var h = new HistoryBuilder();
        h.Acquire(1, "L", "h", 0, 5, ttlMs: 1000, token: 10);
        h.Acquire(2, "L", "a", 6, 40, ttlMs: 1000, token: 20);
        h.Acquire(3, "L", "b", 7, 60, ttlMs: 1000, token: 30);
        h.LockInfo(9, "L", ["a", "b"], 10, 12);
        h.Release(1, "L", "h", 30, 35);
        h.Release(2, "L", "a", 50, 55);

        var result = Checker.Check(h.Operations);

        Assert.Equal(Verdict.Valid, result.Verdict);
        Assert.Contains("1 pairs", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void A_waiter_granted_before_one_listed_ahead_of_it_is_a_violation()
    {
        var h = new HistoryBuilder();
        var a = h.Acquire(2, "L", "a", 6, 60, ttlMs: 1000, token: 30);
        var b = h.Acquire(3, "L", "b", 7, 40, ttlMs: 1000, token: 20);
        var read = h.LockInfo(9, "L", ["a", "b"], 10, 12);

        var result = Checker.Check(h.Operations);

        Assert.Equal(Verdict.Invalid, result.Verdict);
        Assert.Equal([read, a, b], result.Offending);
        Assert.Contains("lock 'L' granted out of queue order", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void A_later_arrival_granted_before_a_waiter_seen_queued_is_a_violation()
    {
        var h = new HistoryBuilder();
        h.Acquire(2, "L", "a", 0, 80, ttlMs: 1000, token: 30);
        h.LockInfo(9, "L", ["a"], 10, 12);
        h.Acquire(3, "L", "b", 13, 40, ttlMs: 1000, token: 20);   // invoked after the read saw a queued

        var result = Checker.Check(h.Operations);

        Assert.Equal(Verdict.Invalid, result.Verdict);
        Assert.Contains("saw the first queued before the second was invoked", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void An_arrival_concurrent_with_the_read_proves_no_order()
    {
        var h = new HistoryBuilder();
        h.Acquire(2, "L", "a", 0, 80, ttlMs: 1000, token: 30);
        h.Acquire(3, "L", "b", 11, 40, ttlMs: 1000, token: 20);   // invoked before the read completed: may be ahead
        h.LockInfo(9, "L", ["a"], 10, 12);

        var result = Checker.Check(h.Operations);

        Assert.Equal(Verdict.Valid, result.Verdict);
        Assert.Contains("0 pairs", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void A_waiter_whose_wait_ended_or_whose_outcome_is_unknown_may_be_passed()
    {
        var h = new HistoryBuilder();
        h.Acquire(1, "L", "a", 0, 50, Outcome.Fail);            // WAIT ended: nil
        h.Acquire(2, "L", "c", 1, 50, Outcome.Info);            // connection lost while queued
        h.LockInfo(9, "L", ["a", "c"], 10, 12);
        h.Acquire(3, "L", "b", 20, 40, ttlMs: 1000, token: 5);

        Assert.Equal(Verdict.Valid, Checker.Check(h.Operations).Verdict);
    }

    [Fact]
    public void A_token_used_by_two_acquisitions_is_left_out()
    {
        var h = new HistoryBuilder();
        h.Acquire(2, "L", "a", 0, 5, Outcome.Info);
        h.Acquire(2, "L", "a", 6, 80, ttlMs: 1000, token: 30);   // a retry with the same token
        h.LockInfo(9, "L", ["a"], 1, 3);
        h.Acquire(3, "L", "b", 4, 40, ttlMs: 1000, token: 20);

        Assert.Equal(Verdict.Valid, Checker.Check(h.Operations).Verdict);
    }

    [Fact]
    public void A_holder_seen_while_a_waiter_queued_ahead_of_it_still_waits_is_a_violation_even_if_that_waiter_gives_up()
    {
        var h = new HistoryBuilder();
        var a = h.Acquire(2, "L", "a", 0, 90, Outcome.Fail);     // its WAIT ended later
        h.Acquire(3, "L", "b", 1, 40, ttlMs: 1000, token: 20);
        h.LockInfo(9, "L", ["a", "b"], 10, 12);
        var read = h.LockInfo(9, "L", ["a"], 50, 52, holders: ["b"]);
        var b = h.Operations[1];

        var result = Checker.Check(h.Operations);

        Assert.Equal(Verdict.Invalid, result.Verdict);
        Assert.Equal([read, a, b], result.Offending);
        Assert.Contains("shows 'b' holding while 'a', queued ahead of it, still waits", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void A_holder_with_a_waiter_behind_it_or_of_unknown_place_is_fine()
    {
        var h = new HistoryBuilder();
        h.Acquire(2, "L", "a", 0, 90, ttlMs: 1000, token: 30);
        h.Acquire(3, "L", "b", 1, 40, ttlMs: 1000, token: 20);   // concurrent with a: either may be first
        h.Acquire(4, "L", "c", 45, 95, ttlMs: 1000, token: 40);
        h.LockInfo(9, "L", ["a"], 42, 44, holders: ["b"]);
        h.LockInfo(9, "L", ["c"], 92, 93, holders: ["a"]);         // c came after a was seen queued: behind it

        Assert.Equal(Verdict.Valid, Checker.Check(h.Operations).Verdict);
    }

    [Fact]
    public void A_history_whose_lock_info_reads_all_failed_is_unknown_not_valid()
    {
        var h = new HistoryBuilder();
        h.Acquire(2, "L", "a", 0, 80, ttlMs: 1000, token: 30);
        h.LockInfo(9, "L", [], 10, 12, Outcome.Fail);

        var result = Checker.Check(h.Operations);

        Assert.Equal(Verdict.Unknown, result.Verdict);
        Assert.Contains("none of 1 LOCK.INFO reads succeeded", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void Locks_are_judged_apart()
    {
        var h = new HistoryBuilder();
        h.Acquire(2, "L", "a", 0, 80, ttlMs: 1000, token: 30);
        h.LockInfo(9, "L", ["a"], 10, 12);
        h.Acquire(3, "M", "b", 13, 40, ttlMs: 1000, token: 20);   // another lock

        Assert.Equal(Verdict.Valid, Checker.Check(h.Operations).Verdict);
    }
}
