using RaftKv.Chaos.Tests.Checkers;

namespace RaftKv.Chaos.Tests.CheckerTests;

public sealed class ReplicaConvergenceCheckerTests
{
    private static readonly ReplicaConvergenceChecker Checker = new();

    [Fact]
    public void Replicas_at_one_index_with_one_digest_have_converged()
    {
        var result = Checker.Check([new("node1", 120, "ab12"), new("node2", 120, "ab12"), new("node3", 120, "ab12")]);

        Assert.Equal(Verdict.Valid, result.Verdict);
        Assert.Contains("3 replicas at applied index 120", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void Different_digests_at_one_index_are_divergence()
    {
        var result = Checker.Check([new("node1", 120, "ab12"), new("node2", 120, "ff00"), new("node3", 120, "ab12")]);

        Assert.Equal(Verdict.Invalid, result.Verdict);
        Assert.Contains("diverged at applied index 120", result.Explanation, StringComparison.Ordinal);
        Assert.Contains("node2 at 120 digest ff00", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void A_replica_behind_the_others_has_not_converged()
    {
        var result = Checker.Check([new("node1", 120, "ab12"), new("node2", 118, "0123"), new("node3", 120, "ab12")]);

        Assert.Equal(Verdict.Invalid, result.Verdict);
        Assert.Contains("did not converge", result.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public void No_replica_is_unknown()
    {
        Assert.Equal(Verdict.Unknown, Checker.Check([]).Verdict);
    }
}
