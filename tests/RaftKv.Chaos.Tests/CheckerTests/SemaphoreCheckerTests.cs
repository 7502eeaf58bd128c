using RaftKv.Chaos.Tests.Checkers;
using RaftKv.Chaos.Tests.History;

namespace RaftKv.Chaos.Tests.CheckerTests;

/// <summary>"Never more than N holders" on hand-made semaphore histories. Times and TTLs are milliseconds.</summary>
public sealed class SemaphoreCheckerTests
{
    private static readonly SemaphoreChecker Checker = new();

    [Fact]
    public void Max_count_holders_at_once_are_safe()
    {
        var h = new HistoryBuilder();
        h.Acquire(1, "S", "o1", 0, 10, ttlMs: 1000, token: 1, permits: 2);
        h.Acquire(2, "S", "o2", 5, 20, ttlMs: 1000, token: 2, permits: 2);
        h.Acquire(3, "S", "o3", 15, 30, Outcome.Fail, ttlMs: 1000, permits: 2);  // full
        h.Release(1, "S", "o1", 40, 50);
        h.Acquire(3, "S", "o3", 45, 60, ttlMs: 1000, token: 3, permits: 2);     // invoked while o1 was releasing

        var result = Checker.Check(h.Operations);

        Assert.Equal(Verdict.Valid, result.Verdict);
        Assert.Contains("3 acquisitions of 1 semaphores", result.Explanation, StringComparison.Ordinal);
        Assert.Contains("at most 2 holders at once", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void One_holder_more_than_the_max_count_is_a_violation()
    {
        var h = new HistoryBuilder();
        var first = h.Acquire(1, "S", "o1", 0, 10, ttlMs: 1000, token: 1, permits: 2);
        var second = h.Acquire(2, "S", "o2", 5, 20, ttlMs: 1000, token: 2, permits: 2);
        h.Release(1, "S", "o1", 100, 110);
        var third = h.Acquire(3, "S", "o3", 25, 40, ttlMs: 1000, token: 3, permits: 2);

        var result = Checker.Check(h.Operations);

        Assert.Equal(Verdict.Invalid, result.Verdict);
        Assert.Equal([first, second, third], result.Offending);
        Assert.Contains("semaphore 'S' (max-count 2) had 3 holders", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void A_lease_that_ended_frees_its_permit()
    {
        var h = new HistoryBuilder();
        h.Acquire(1, "S", "o1", 0, 10, ttlMs: 100, token: 1, permits: 1);   // never released: holds until 100
        h.Acquire(2, "S", "o2", 90, 105, ttlMs: 100, token: 2, permits: 1);
        Assert.Equal(Verdict.Valid, Checker.Check(h.Operations).Verdict);

        h = new HistoryBuilder();
        h.Acquire(1, "S", "o1", 0, 10, ttlMs: 100, token: 1, permits: 1);
        h.Acquire(2, "S", "o2", 80, 99, ttlMs: 100, token: 2, permits: 1);   // granted before the lease could have ended
        Assert.Equal(Verdict.Invalid, Checker.Check(h.Operations).Verdict);
        Assert.Equal(Verdict.Valid, new SemaphoreChecker(new LockSafetyOptions { ClockSkewAllowance = TimeSpan.FromMilliseconds(5) }).Check(h.Operations).Verdict);
    }

    [Fact]
    public void Acquisitions_of_unknown_outcome_are_not_holders()
    {
        var h = new HistoryBuilder();
        h.Acquire(1, "S", "o1", 0, 10, Outcome.Info, ttlMs: 1000, permits: 1);
        h.Acquire(2, "S", "o2", 20, 30, ttlMs: 1000, token: 5, permits: 1);

        var result = Checker.Check(h.Operations);

        Assert.Equal(Verdict.Valid, result.Verdict);
        Assert.Contains("1 acquisitions of unknown outcome", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void A_history_where_no_acquisition_succeeded_is_unknown_not_valid()
    {
        var h = new HistoryBuilder();
        h.Acquire(1, "S", "o1", 0, 10, Outcome.Fail, ttlMs: 1000, permits: 2);

        var result = Checker.Check(h.Operations);

        Assert.Equal(Verdict.Unknown, result.Verdict);
        Assert.Equal(Verdict.Unknown, new ReaderWriterChecker().Check([h.Operations[0] with { Permits = null, Mode = LockMode.Read }]).Verdict);
    }

    [Fact]
    public void Fencing_tokens_must_be_distinct_and_in_real_time_order()
    {
        var h = new HistoryBuilder();
        h.Acquire(1, "S", "o1", 0, 10, ttlMs: 1000, token: 7, permits: 3);
        h.Acquire(2, "S", "o2", 5, 15, ttlMs: 1000, token: 7, permits: 3);
        h.Acquire(3, "S", "o3", 20, 30, ttlMs: 1000, token: 6, permits: 3);

        var result = Checker.Check(h.Operations);

        Assert.Equal(Verdict.Invalid, result.Verdict);
        Assert.Contains("fencing token 7 given to 2 acquisitions", result.Explanation, StringComparison.Ordinal);
        Assert.Contains("fencing tokens went backwards", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void Semaphores_are_judged_apart_and_the_mutex_checker_leaves_them_alone()
    {
        var h = new HistoryBuilder();
        h.Acquire(1, "S", "o1", 0, 10, ttlMs: 1000, token: 1, permits: 1);
        h.Acquire(2, "T", "o2", 0, 10, ttlMs: 1000, token: 2, permits: 1);
        h.Acquire(3, "T", "o3", 0, 10, ttlMs: 1000, token: 3, permits: 2);   // T was held by 2: one asked for 2 permits

        Assert.Equal(Verdict.Valid, Checker.Check(h.Operations).Verdict);
        Assert.Equal(Verdict.Valid, new LockSafetyChecker().Check(h.Operations).Verdict);
        Assert.Contains("0 acquisitions", new LockSafetyChecker().Check(h.Operations).Explanation, StringComparison.Ordinal);
    }
}
