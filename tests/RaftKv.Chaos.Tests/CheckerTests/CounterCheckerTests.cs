using RaftKv.Chaos.Tests.Checkers;
using RaftKv.Chaos.Tests.History;

namespace RaftKv.Chaos.Tests.CheckerTests;

/// <summary>The counter's bounds: acknowledged increments kept, unknown ones optional, nothing invented.</summary>
public sealed class CounterCheckerTests
{
    private static readonly CounterChecker Checker = new();

    [Fact]
    public void A_final_value_between_acknowledged_and_acknowledged_plus_unknown_is_valid()
    {
        foreach (var final in new long[] { 3, 4, 5 })
        {
            var h = new HistoryBuilder();
            h.Incr(1, "c", 1, 0, 10);
            h.Incr(2, "c", 2, 5, 15);
            h.Incr(3, "c", null, 5, 15, Outcome.Info);
            h.Incr(1, "c", null, 20, 30, Outcome.Info);
            h.Incr(2, "c", null, 20, 30, Outcome.Fail);
            h.Incr(3, "c", 3, 20, 40);
            h.ReadCounter(9, "c", final, 100, 110);

            Assert.Equal(Verdict.Valid, Checker.Check(h.Operations).Verdict);
        }
    }

    [Fact]
    public void A_final_value_below_the_acknowledged_increments_is_a_violation()
    {
        var h = new HistoryBuilder();
        h.Incr(1, "c", null, 0, 10);
        h.Incr(2, "c", null, 0, 10);
        h.Incr(3, "c", null, 0, 10, Outcome.Info);
        var read = h.ReadCounter(9, "c", 1, 100, 110);

        var result = Checker.Check(h.Operations);

        Assert.Equal(Verdict.Invalid, result.Verdict);
        Assert.Equal([read], result.Offending);
        Assert.Contains("acknowledged increment was lost", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void A_final_value_above_every_possible_increment_is_a_violation()
    {
        var h = new HistoryBuilder();
        h.Incr(1, "c", null, 0, 10);
        h.Incr(2, "c", null, 0, 10, Outcome.Info);
        h.Incr(3, "c", null, 0, 10, Outcome.Fail);
        h.ReadCounter(9, "c", 3, 100, 110);

        var result = Checker.Check(h.Operations);

        Assert.Equal(Verdict.Invalid, result.Verdict);
        Assert.Contains("is above 2", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void Increments_by_an_amount_count_that_amount()
    {
        var h = new HistoryBuilder();
        h.Incr(1, "c", 5, 0, 10, by: 5);
        h.Incr(2, "c", null, 20, 30, Outcome.Info, by: 10);
        h.ReadCounter(9, "c", 15, 100, 110);
        Assert.Equal(Verdict.Valid, Checker.Check(h.Operations).Verdict);

        h.ReadCounter(9, "c", 16, 120, 130);
        Assert.Equal(Verdict.Invalid, Checker.Check(h.Operations).Verdict);
    }

    [Fact]
    public void Values_read_one_after_another_never_decrease()
    {
        var h = new HistoryBuilder();
        h.Incr(1, "c", null, 0, 10, Outcome.Info);
        h.Incr(2, "c", null, 0, 10, Outcome.Info);
        var high = h.ReadCounter(9, "c", 2, 20, 30);
        var low = h.ReadCounter(9, "c", 1, 40, 50);

        var result = Checker.Check(h.Operations);

        Assert.Equal(Verdict.Invalid, result.Verdict);
        Assert.Equal([high, low], result.Offending);
    }

    [Fact]
    public void Two_increments_returning_the_same_value_are_a_violation()
    {
        var h = new HistoryBuilder();
        h.Incr(1, "c", 1, 0, 10);
        h.Incr(2, "c", 1, 0, 10);

        var result = Checker.Check(h.Operations);

        Assert.Equal(Verdict.Invalid, result.Verdict);
        Assert.Contains("2 increments returned 1", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void A_counter_never_observed_is_unknown()
    {
        var h = new HistoryBuilder();
        h.Incr(1, "c", null, 0, 10, Outcome.Info);

        Assert.Equal(Verdict.Unknown, Checker.Check(h.Operations).Verdict);
    }
}
