using RaftKv.Chaos.Tests.Checkers;
using RaftKv.Chaos.Tests.History;

namespace RaftKv.Chaos.Tests.CheckerTests;

/// <summary>"No reader with a writer, at most one writer" on hand-made reader-writer histories. Times and TTLs are milliseconds.</summary>
public sealed class ReaderWriterCheckerTests
{
    private static readonly ReaderWriterChecker Checker = new();

    [Fact]
    public void Readers_overlap_and_a_writer_follows_them()
    {
        var h = new HistoryBuilder();
        h.Acquire(1, "RW", "r1", 0, 10, ttlMs: 1000, token: 1, mode: LockMode.Read);
        h.Acquire(2, "RW", "r2", 5, 15, ttlMs: 1000, token: 2, mode: LockMode.Read);
        h.Acquire(3, "RW", "w3", 8, 60, ttlMs: 1000, token: 3, mode: LockMode.Write);   // queued behind the readers
        h.Release(1, "RW", "r1", 30, 35);
        h.Release(2, "RW", "r2", 40, 45);
        h.Release(3, "RW", "w3", 70, 75);
        h.Acquire(1, "RW", "r4", 72, 80, ttlMs: 1000, token: 4, mode: LockMode.Read);

        var result = Checker.Check(h.Operations);

        Assert.Equal(Verdict.Valid, result.Verdict);
        Assert.Contains("4 acquisitions of 1 reader-writer locks (1 writers)", result.Explanation, StringComparison.Ordinal);
        Assert.Contains("up to 2 readers at once", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void A_reader_with_a_writer_is_a_violation()
    {
        var h = new HistoryBuilder();
        var writer = h.Acquire(1, "RW", "w1", 0, 10, ttlMs: 1000, token: 1, mode: LockMode.Write);
        h.Release(1, "RW", "w1", 50, 55);
        var reader = h.Acquire(2, "RW", "r2", 20, 30, ttlMs: 1000, token: 2, mode: LockMode.Read);

        var result = Checker.Check(h.Operations);

        Assert.Equal(Verdict.Invalid, result.Verdict);
        Assert.Equal([writer, reader], result.Offending);
        Assert.Contains("rwlock 'RW' held by a reader with a writer", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void A_writer_with_readers_is_a_violation()
    {
        var h = new HistoryBuilder();
        var reader = h.Acquire(1, "RW", "r1", 0, 10, ttlMs: 1000, token: 1, mode: LockMode.Read);
        var writer = h.Acquire(2, "RW", "w2", 20, 30, ttlMs: 1000, token: 2, mode: LockMode.Write);

        var result = Checker.Check(h.Operations);

        Assert.Equal(Verdict.Invalid, result.Verdict);
        Assert.Equal([reader, writer], result.Offending);
        Assert.Contains("held by a writer with readers", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void Two_writers_are_a_violation()
    {
        var h = new HistoryBuilder();
        h.Acquire(1, "RW", "w1", 0, 10, ttlMs: 1000, token: 1, mode: LockMode.Write);
        h.Acquire(2, "RW", "w2", 5, 20, ttlMs: 1000, token: 2, mode: LockMode.Write);

        var result = Checker.Check(h.Operations);

        Assert.Equal(Verdict.Invalid, result.Verdict);
        Assert.Contains("held by two writers", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void A_writer_whose_lease_ended_or_whose_outcome_is_unknown_holds_nothing()
    {
        var h = new HistoryBuilder();
        h.Acquire(1, "RW", "w1", 0, 10, ttlMs: 100, token: 1, mode: LockMode.Write);   // lease until 100
        h.Acquire(2, "RW", "w2", 20, 30, Outcome.Info, ttlMs: 1000, mode: LockMode.Write);
        h.Acquire(3, "RW", "r3", 90, 101, ttlMs: 1000, token: 3, mode: LockMode.Read);

        Assert.Equal(Verdict.Valid, Checker.Check(h.Operations).Verdict);
    }

    [Fact]
    public void Fencing_tokens_of_readers_must_still_be_distinct_and_in_order()
    {
        var h = new HistoryBuilder();
        h.Acquire(1, "RW", "r1", 0, 10, ttlMs: 1000, token: 9, mode: LockMode.Read);
        h.Acquire(2, "RW", "r2", 20, 30, ttlMs: 1000, token: 8, mode: LockMode.Read);

        var result = Checker.Check(h.Operations);

        Assert.Equal(Verdict.Invalid, result.Verdict);
        Assert.Contains("fencing tokens went backwards", result.Explanation, StringComparison.Ordinal);
    }
}
