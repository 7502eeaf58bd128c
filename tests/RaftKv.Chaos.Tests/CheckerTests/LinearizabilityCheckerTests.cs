using RaftKv.Chaos.Tests.Checkers;
using RaftKv.Chaos.Tests.History;

namespace RaftKv.Chaos.Tests.CheckerTests;

/// <summary>
/// The linearizability checker on hand-made register and counter histories: it accepts the legal ones (concurrency
/// resolved either way, unknown outcomes taking effect late or never) and rejects each kind of anomaly, naming the
/// offending operation. Times are milliseconds.
/// </summary>
public sealed class LinearizabilityCheckerTests
{
    private static readonly LinearizabilityChecker<string?> Register = new(new RegisterModel());
    private static readonly LinearizabilityChecker<long> Counter = new(new CounterModel());

    [Fact]
    public void An_empty_history_is_linearizable()
    {
        Assert.Equal(Verdict.Valid, Register.Check([]).Verdict);
    }

    [Fact]
    public void A_sequential_history_that_follows_the_register_is_linearizable()
    {
        var h = new HistoryBuilder();
        h.Read(1, "x", null, 0, 1);
        h.Write(1, "x", "a", 2, 3);
        h.Read(2, "x", "a", 4, 5);
        h.Cas(2, "x", "a", "b", 6, 7);
        h.Cas(1, "x", "a", "c", 8, 9, Outcome.Fail);
        h.Read(1, "x", "b", 10, 11);

        var result = Register.Check(h.Operations);

        Assert.Equal(Verdict.Valid, result.Verdict);
        Assert.Empty(result.Offending);
    }

    [Fact]
    public void Concurrent_writes_may_take_effect_in_either_order_but_then_reads_must_agree_on_it()
    {
        var h = new HistoryBuilder();
        h.Write(1, "x", "a", 0, 10);
        h.Write(2, "x", "b", 0, 10);
        h.Read(3, "x", "b", 5, 15);   // concurrent with both
        h.Read(3, "x", "a", 20, 30);  // so b took effect first, then a
        Assert.Equal(Verdict.Valid, Register.Check(h.Operations).Verdict);

        var stale = h.Read(4, "x", "b", 40, 50); // nobody wrote after 10: the value cannot change back
        var result = Register.Check(h.Operations);
        Assert.Equal(Verdict.Invalid, result.Verdict);
        Assert.Contains(stale, result.Offending);
    }

    [Fact]
    public void Operations_whose_times_touch_count_as_concurrent()
    {
        var h = new HistoryBuilder();
        h.Write(1, "x", "a", 0, 10);
        h.Read(2, "x", null, 10, 20); // invoked the instant the write returned: may still precede it

        Assert.Equal(Verdict.Valid, Register.Check(h.Operations).Verdict);
    }

    [Fact]
    public void A_stale_read_is_not_linearizable_and_is_named()
    {
        var h = new HistoryBuilder();
        h.Write(1, "x", "a", 0, 10);
        h.Write(1, "x", "b", 20, 30);
        var stale = h.Read(2, "x", "a", 40, 50);

        var result = Register.Check(h.Operations);

        Assert.Equal(Verdict.Invalid, result.Verdict);
        Assert.Equal(stale, result.Offending.First(o => o.Kind == OpKind.Read));
        Assert.Contains("'x'", result.Explanation, StringComparison.Ordinal);
        Assert.Contains("leaves 'b'", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void A_lost_acknowledged_write_is_not_linearizable()
    {
        var h = new HistoryBuilder();
        h.Write(1, "x", "a", 0, 10);
        var lost = h.Read(2, "x", null, 20, 30);

        var result = Register.Check(h.Operations);

        Assert.Equal(Verdict.Invalid, result.Verdict);
        Assert.Contains(lost, result.Offending);
        Assert.Contains("leaves 'a'", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void A_read_of_a_value_never_written_is_not_linearizable()
    {
        var h = new HistoryBuilder();
        h.Write(1, "x", "a", 0, 10);
        var phantom = h.Read(2, "x", "z", 5, 15);

        var result = Register.Check(h.Operations);

        Assert.Equal(Verdict.Invalid, result.Verdict);
        Assert.Contains(phantom, result.Offending);
    }

    [Fact]
    public void Two_compare_and_sets_from_the_same_value_cannot_both_succeed()
    {
        var h = new HistoryBuilder();
        h.Write(1, "x", "a", 0, 10);
        var first = h.Cas(1, "x", "a", "b", 20, 30);
        var second = h.Cas(2, "x", "a", "c", 20, 30);

        var result = Register.Check(h.Operations);

        Assert.Equal(Verdict.Invalid, result.Verdict);
        Assert.Contains(result.Offending, o => o == first || o == second);
    }

    [Fact]
    public void A_write_of_unknown_outcome_may_take_effect_long_after_the_client_gave_up()
    {
        var h = new HistoryBuilder();
        h.Write(1, "x", "a", 0, 10);
        h.Write(2, "x", "b", 20, 30, Outcome.Info);
        h.Read(3, "x", "a", 40, 50);
        h.Read(3, "x", "b", 60, 70);
        h.Read(3, "x", "b", 80, 90);

        Assert.Equal(Verdict.Valid, Register.Check(h.Operations).Verdict);
    }

    [Fact]
    public void A_write_of_unknown_outcome_may_never_take_effect()
    {
        var h = new HistoryBuilder();
        h.Write(1, "x", "a", 0, 10);
        h.Write(2, "x", "b", 20, 30, Outcome.Info);
        h.Cas(2, "x", "a", "c", 35, 38, Outcome.Info);
        h.Read(3, "x", "a", 40, 50);
        h.Read(3, "x", "a", 60, 70);

        Assert.Equal(Verdict.Valid, Register.Check(h.Operations).Verdict);
    }

    [Fact]
    public void A_write_of_unknown_outcome_cannot_take_effect_before_it_was_invoked()
    {
        var h = new HistoryBuilder();
        h.Write(1, "x", "a", 0, 10);
        var early = h.Read(2, "x", "b", 20, 30);
        h.Write(3, "x", "b", 40, 50, Outcome.Info);

        var result = Register.Check(h.Operations);

        Assert.Equal(Verdict.Invalid, result.Verdict);
        Assert.Contains(early, result.Offending);
    }

    [Fact]
    public void A_write_of_unknown_outcome_takes_effect_once_it_cannot_be_undone()
    {
        var h = new HistoryBuilder();
        h.Write(1, "x", "a", 0, 10);
        h.Write(2, "x", "b", 20, 30, Outcome.Info);
        h.Read(3, "x", "b", 40, 50);
        h.Read(3, "x", "a", 60, 70);

        Assert.Equal(Verdict.Invalid, Register.Check(h.Operations).Verdict);
    }

    [Fact]
    public void A_compare_and_set_of_unknown_outcome_only_takes_effect_where_it_matches()
    {
        var h = new HistoryBuilder();
        h.Write(1, "x", "a", 0, 10);
        h.Cas(1, "x", "a", "b", 20, 30);
        h.Cas(2, "x", "a", "c", 20, 30, Outcome.Info);
        h.Read(3, "x", "b", 40, 50);
        Assert.Equal(Verdict.Valid, Register.Check(h.Operations).Verdict);

        // c could only have been set before the acknowledged CAS, which then could not have matched.
        h.Read(3, "x", "c", 60, 70);
        Assert.Equal(Verdict.Invalid, Register.Check(h.Operations).Verdict);
    }

    [Fact]
    public void A_failed_write_did_not_happen()
    {
        var h = new HistoryBuilder();
        h.Write(1, "x", "a", 0, 10);
        h.Write(2, "x", "b", 20, 30, Outcome.Fail);
        h.Read(3, "x", "a", 40, 50);
        Assert.Equal(Verdict.Valid, Register.Check(h.Operations).Verdict);

        var impossible = h.Read(3, "x", "b", 60, 70);
        var result = Register.Check(h.Operations);
        Assert.Equal(Verdict.Invalid, result.Verdict);
        Assert.Contains(impossible, result.Offending);
    }

    [Fact]
    public void Keys_are_checked_independently_and_the_bad_key_is_named()
    {
        var h = new HistoryBuilder();
        h.Write(1, "good", "a", 0, 10);
        h.Read(2, "good", "a", 20, 30);
        h.Write(1, "bad", "a", 0, 10);
        h.Read(2, "bad", "b", 20, 30);
        h.Read(2, "other", null, 20, 30);

        var result = Register.Check(h.Operations);

        Assert.Equal(Verdict.Invalid, result.Verdict);
        Assert.Contains("key 'bad'", result.Explanation, StringComparison.Ordinal);
        Assert.All(result.Offending, o => Assert.Equal("bad", o.Key));
    }

    [Fact]
    public void Operations_the_model_does_not_specify_are_ignored()
    {
        var h = new HistoryBuilder();
        h.Write(1, "x", "a", 0, 10);
        h.Acquire(2, "x", "owner", 20, 30, ttlMs: 100);
        h.Read(2, "x", "a", 40, 50);

        Assert.Equal(Verdict.Valid, Register.Check(h.Operations).Verdict);
    }

    [Fact]
    public void A_step_cap_gives_unknown_never_valid()
    {
        var h = new HistoryBuilder();
        for (var i = 0; i < 50; i++)
            h.Write(i, "x", "v" + i, 0, 100);
        h.Read(99, "x", "v0", 200, 210);

        var result = new LinearizabilityChecker<string?>(new RegisterModel(), new LinearizabilityOptions { MaxSteps = 10 }).Check(h.Operations);

        Assert.Equal(Verdict.Unknown, result.Verdict);
        Assert.Contains("step limit", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void A_pathological_history_hits_the_time_cap_and_is_unknown()
    {
        // Thirty fully concurrent writes, then a read of a value nobody wrote: the search must rule out every
        // (subset of writes, last write) pair — about 30 × 2^29 of them — before it could say invalid.
        var h = new HistoryBuilder();
        for (var i = 0; i < 30; i++)
            h.Write(i, "x", "v" + i, 0, 100);
        h.Read(99, "x", "never written", 200, 210);
        var checker = new LinearizabilityChecker<string?>(new RegisterModel(), new LinearizabilityOptions { TimeLimit = TimeSpan.FromMilliseconds(100) });

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var result = checker.Check(h.Operations);

        Assert.Equal(Verdict.Unknown, result.Verdict);
        Assert.Contains("time limit", result.Explanation, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
    }

    [Fact]
    public void A_memo_cap_gives_unknown()
    {
        var h = new HistoryBuilder();
        for (var i = 0; i < 30; i++)
            h.Write(i, "x", "v" + i, 0, 100);
        h.Read(99, "x", "never written", 200, 210);

        var result = new LinearizabilityChecker<string?>(new RegisterModel(), new LinearizabilityOptions { MaxMemoBytes = 1 << 20 }).Check(h.Operations);

        Assert.Equal(Verdict.Unknown, result.Verdict);
        Assert.Contains("memo limit of 1 MB", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void The_memo_keeps_many_concurrent_operations_tractable_when_a_linearization_exists()
    {
        // 40 concurrent writes of one value and reads of it: equal states collapse the orders into subsets.
        var h = new HistoryBuilder();
        for (var i = 0; i < 40; i++)
            h.Write(i, "x", "same", 0, 100);
        for (var i = 0; i < 10; i++)
            h.Read(100 + i, "x", "same", 50, 150);

        Assert.Equal(Verdict.Valid, new LinearizabilityChecker<string?>(new RegisterModel(), new LinearizabilityOptions { TimeLimit = TimeSpan.FromSeconds(5) }).Check(h.Operations).Verdict);
    }

    [Fact]
    public void Many_unknown_increments_are_decided_quickly_because_they_are_interchangeable()
    {
        // Without the symmetry, ruling out the impossible read would take 2^40 subsets of the unknown increments.
        var h = new HistoryBuilder();
        h.Incr(0, "c", 1, 0, 10);
        for (var i = 1; i <= 40; i++)
            h.Incr(i, "c", null, 20 + i, 200, Outcome.Info);
        h.ReadCounter(99, "c", 30, 100, 110);
        var checker = new LinearizabilityChecker<long>(new CounterModel(), new LinearizabilityOptions { MaxSteps = 1_000_000 });
        Assert.Equal(Verdict.Valid, checker.Check(h.Operations).Verdict);

        var impossible = h.ReadCounter(99, "c", 42, 300, 310);
        var result = checker.Check(h.Operations);
        Assert.Equal(Verdict.Invalid, result.Verdict);
        Assert.Contains(impossible, result.Offending);
    }

    [Fact]
    public void Unknown_increments_take_effect_only_after_their_invocation_even_when_interchangeable()
    {
        var h = new HistoryBuilder();
        h.Incr(1, "c", null, 0, 10, Outcome.Info);
        h.ReadCounter(2, "c", 2, 20, 30);            // needs two increments by now
        h.Incr(3, "c", null, 40, 50, Outcome.Info);  // but the second began only later

        Assert.Equal(Verdict.Invalid, Counter.Check(h.Operations).Verdict);
    }

    [Fact]
    public void Concurrent_increments_are_linearizable_in_the_order_their_results_give()
    {
        var h = new HistoryBuilder();
        h.Incr(1, "c", 2, 0, 10);
        h.Incr(2, "c", 1, 0, 10);
        h.Incr(3, "c", 3, 5, 15);
        h.ReadCounter(4, "c", 3, 20, 30);

        Assert.Equal(Verdict.Valid, Counter.Check(h.Operations).Verdict);
    }

    [Fact]
    public void Increments_returning_the_same_value_are_not_linearizable()
    {
        var h = new HistoryBuilder();
        h.Incr(1, "c", 1, 0, 10);
        var duplicate = h.Incr(2, "c", 1, 20, 30);

        var result = Counter.Check(h.Operations);

        Assert.Equal(Verdict.Invalid, result.Verdict);
        Assert.Contains(duplicate, result.Offending);
    }

    [Fact]
    public void A_counter_read_may_include_an_increment_of_unknown_outcome_but_no_more()
    {
        var h = new HistoryBuilder();
        h.Incr(1, "c", 1, 0, 10);
        h.Incr(2, "c", null, 0, 10, Outcome.Info);
        h.ReadCounter(3, "c", 2, 20, 30);
        Assert.Equal(Verdict.Valid, Counter.Check(h.Operations).Verdict);

        h.ReadCounter(3, "c", 3, 40, 50);
        Assert.Equal(Verdict.Invalid, Counter.Check(h.Operations).Verdict);
    }
}
