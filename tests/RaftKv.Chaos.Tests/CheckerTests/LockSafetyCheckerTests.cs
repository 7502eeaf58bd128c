using RaftKv.Chaos.Tests.Checkers;
using RaftKv.Chaos.Tests.History;

namespace RaftKv.Chaos.Tests.CheckerTests;

/// <summary>Mutual exclusion and fencing on hand-made lock histories. Times and TTLs are milliseconds.</summary>
public sealed class LockSafetyCheckerTests
{
    private static readonly LockSafetyChecker Checker = new();

    [Fact]
    public void Holders_one_after_another_are_safe()
    {
        var h = new HistoryBuilder();
        h.Acquire(1, "L", "o1", 0, 10, ttlMs: 1000, token: 5);
        h.Acquire(2, "L", "o2", 5, 12, Outcome.Fail);            // taken
        h.Release(1, "L", "o1", 50, 60);
        h.Acquire(2, "L", "o2", 55, 70, ttlMs: 1000, token: 9);  // invoked while o1 was releasing
        h.Release(2, "L", "o2", 80, 90);

        var result = Checker.Check(h.Operations);

        Assert.Equal(Verdict.Valid, result.Verdict);
        Assert.Contains("2 acquisitions", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void Two_holders_at_once_are_a_violation()
    {
        var h = new HistoryBuilder();
        var first = h.Acquire(1, "L", "o1", 0, 10, ttlMs: 1000);
        var release = h.Release(1, "L", "o1", 100, 110);
        var second = h.Acquire(2, "L", "o2", 40, 50, ttlMs: 1000);

        var result = Checker.Check(h.Operations);

        Assert.Equal(Verdict.Invalid, result.Verdict);
        Assert.Equal([first, release, second], result.Offending);
        Assert.Contains("lock 'L' held twice", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void A_lease_ends_its_ttl_after_the_acquire_was_invoked()
    {
        var h = new HistoryBuilder();
        h.Acquire(1, "L", "o1", 0, 10, ttlMs: 100);  // never released: holds until 100
        h.Acquire(2, "L", "o2", 95, 105, ttlMs: 100);
        Assert.Equal(Verdict.Valid, Checker.Check(h.Operations).Verdict);

        h = new HistoryBuilder();
        h.Acquire(1, "L", "o1", 0, 10, ttlMs: 100);
        h.Acquire(2, "L", "o2", 80, 99, ttlMs: 100); // granted before the first lease could have ended
        Assert.Equal(Verdict.Invalid, Checker.Check(h.Operations).Verdict);
    }

    [Fact]
    public void A_clock_skew_allowance_shortens_every_lease()
    {
        var h = new HistoryBuilder();
        h.Acquire(1, "L", "o1", 0, 10, ttlMs: 100);
        h.Acquire(2, "L", "o2", 80, 95, ttlMs: 100);

        Assert.Equal(Verdict.Invalid, Checker.Check(h.Operations).Verdict);
        Assert.Equal(Verdict.Valid, new LockSafetyChecker(new LockSafetyOptions { ClockSkewAllowance = TimeSpan.FromMilliseconds(10) }).Check(h.Operations).Verdict);
    }

    [Fact]
    public void A_lock_without_ttl_is_held_until_released()
    {
        var h = new HistoryBuilder();
        h.Acquire(1, "L", "o1", 0, 10);
        h.Acquire(2, "L", "o2", 5000, 5010);

        Assert.Equal(Verdict.Invalid, Checker.Check(h.Operations).Verdict);
    }

    [Fact]
    public void Acquisitions_of_unknown_outcome_are_not_holders()
    {
        var h = new HistoryBuilder();
        h.Acquire(1, "L", "o1", 0, 10, Outcome.Info, ttlMs: 1000);
        h.Acquire(2, "L", "o2", 20, 30, ttlMs: 1000);
        h.Release(1, "L", "o1", 40, 50, Outcome.Info);

        var result = Checker.Check(h.Operations);

        Assert.Equal(Verdict.Valid, result.Verdict);
        Assert.Contains("1 acquisitions of unknown outcome", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void Different_locks_may_be_held_at_once()
    {
        var h = new HistoryBuilder();
        h.Acquire(1, "A", "o1", 0, 10, ttlMs: 1000, token: 1);
        h.Acquire(2, "B", "o2", 0, 10, ttlMs: 1000, token: 2);

        Assert.Equal(Verdict.Valid, Checker.Check(h.Operations).Verdict);
    }

    [Fact]
    public void Fencing_tokens_must_increase_in_real_time_order()
    {
        var h = new HistoryBuilder();
        var first = h.Acquire(1, "L", "o1", 0, 10, ttlMs: 100, token: 7);
        h.Release(1, "L", "o1", 20, 30);
        var second = h.Acquire(2, "L", "o2", 40, 50, ttlMs: 100, token: 3);

        var result = Checker.Check(h.Operations);

        Assert.Equal(Verdict.Invalid, result.Verdict);
        Assert.Equal([first, second], result.Offending);
        Assert.Contains("fencing tokens went backwards", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void Concurrent_acquisitions_may_carry_tokens_in_either_order()
    {
        var h = new HistoryBuilder();
        h.Acquire(1, "L", "o1", 0, 10, ttlMs: 1000, token: 7);
        h.Release(1, "L", "o1", 12, 14);
        h.Acquire(2, "L", "o2", 5, 20, ttlMs: 1000, token: 3); // began before the first completed

        Assert.Equal(Verdict.Valid, Checker.Check(h.Operations).Verdict);
    }

    [Fact]
    public void A_fencing_token_given_twice_is_a_violation()
    {
        var h = new HistoryBuilder();
        h.Acquire(1, "L", "o1", 0, 10, ttlMs: 100, token: 4);
        h.Release(1, "L", "o1", 12, 14);
        h.Acquire(2, "L", "o2", 5, 20, ttlMs: 100, token: 4);

        var result = Checker.Check(h.Operations);

        Assert.Equal(Verdict.Invalid, result.Verdict);
        Assert.Contains("fencing token 4 given to 2 acquisitions", result.Explanation, StringComparison.Ordinal);
    }
}
