using RaftKv.Chaos.Tests.Checkers;
using RaftKv.Chaos.Tests.History;

namespace RaftKv.Chaos.Tests.CheckerTests;

/// <summary>No acknowledged add lost, nothing read that was not added, on hand-made set histories.</summary>
public sealed class SetCheckerTests
{
    private static readonly SetChecker Checker = new();

    [Fact]
    public void Every_acknowledged_add_read_back_with_unknown_adds_present_or_not_is_valid()
    {
        var h = new HistoryBuilder();
        h.AddElement(1, "s", "1", 0, 10);
        h.AddElement(2, "s", "2", 0, 10);
        h.AddElement(3, "s", "3", 5, 15, Outcome.Info);
        h.AddElement(3, "s", "4", 20, 25, Outcome.Info);
        h.AddElement(1, "s", "5", 20, 25, Outcome.Fail);
        h.ReadAll(9, "s", ["1", "2", "4"], 100, 110);

        var result = Checker.Check(h.Operations);

        Assert.Equal(Verdict.Valid, result.Verdict);
        Assert.Contains("1 of 2 unknown adds present", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void A_lost_acknowledged_add_is_a_violation()
    {
        var h = new HistoryBuilder();
        h.AddElement(1, "s", "1", 0, 10);
        var lost = h.AddElement(2, "s", "2", 0, 10);
        var read = h.ReadAll(9, "s", ["1"], 100, 110);

        var result = Checker.Check(h.Operations);

        Assert.Equal(Verdict.Invalid, result.Verdict);
        Assert.Equal([read, lost], result.Offending);
        Assert.Contains("1 acknowledged adds missing", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void An_add_acknowledged_after_the_read_began_need_not_be_in_it()
    {
        var h = new HistoryBuilder();
        h.AddElement(1, "s", "1", 0, 10);
        h.AddElement(2, "s", "2", 50, 150);
        h.ReadAll(9, "s", ["1"], 100, 110);

        Assert.Equal(Verdict.Valid, Checker.Check(h.Operations).Verdict);
    }

    [Fact]
    public void An_element_never_added_is_a_violation()
    {
        var h = new HistoryBuilder();
        h.AddElement(1, "s", "1", 0, 10);
        h.ReadAll(9, "s", ["1", "phantom"], 100, 110);

        var result = Checker.Check(h.Operations);

        Assert.Equal(Verdict.Invalid, result.Verdict);
        Assert.Contains("'phantom', which was never added", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void An_element_whose_add_failed_is_a_violation()
    {
        var h = new HistoryBuilder();
        var failed = h.AddElement(1, "s", "1", 0, 10, Outcome.Fail);
        h.ReadAll(9, "s", ["1"], 100, 110);

        var result = Checker.Check(h.Operations);

        Assert.Equal(Verdict.Invalid, result.Verdict);
        Assert.Contains(failed, result.Offending);
    }

    [Fact]
    public void An_element_read_before_its_add_began_is_a_violation()
    {
        var h = new HistoryBuilder();
        h.ReadAll(9, "s", ["1"], 0, 10);
        h.AddElement(1, "s", "1", 20, 30);

        Assert.Equal(Verdict.Invalid, Checker.Check(h.Operations).Verdict);
    }

    [Fact]
    public void An_element_that_vanishes_between_reads_was_lost_even_if_its_add_was_unknown()
    {
        var h = new HistoryBuilder();
        h.AddElement(1, "s", "1", 0, 10, Outcome.Info);
        h.ReadAll(9, "s", ["1"], 20, 30);
        h.ReadAll(9, "s", [], 40, 50);

        var result = Checker.Check(h.Operations);

        Assert.Equal(Verdict.Invalid, result.Verdict);
        Assert.Contains("elements read earlier are missing", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void A_set_never_read_is_unknown()
    {
        var h = new HistoryBuilder();
        h.AddElement(1, "s", "1", 0, 10);

        Assert.Equal(Verdict.Unknown, Checker.Check(h.Operations).Verdict);
        Assert.Equal(Verdict.Unknown, Checker.Check([]).Verdict);
    }
}
