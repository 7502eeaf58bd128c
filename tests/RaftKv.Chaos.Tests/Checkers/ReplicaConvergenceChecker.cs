using System.Globalization;

namespace RaftKv.Chaos.Tests.Checkers;

/// <summary>What one node reported after healing: its applied index and the state machine's digest at that index.</summary>
public sealed record ReplicaState(string Node, long AppliedIndex, string Digest);

/// <summary>
/// After the nemesis has healed every fault and the cluster has had time to catch up, every replica must have applied
/// the same log prefix and hold the same state. Replicas at one applied index with different digests have diverged
/// (a determinism or replication bug); replicas at different indexes have not converged (one is lagging or stuck).
/// The caller polls the nodes and calls this with their latest answers, retrying while the verdict is invalid until
/// its patience runs out.
/// </summary>
public sealed class ReplicaConvergenceChecker
{
    public string Name => "replica-convergence";

    public CheckResult Check(IReadOnlyList<ReplicaState> replicas)
    {
        ArgumentNullException.ThrowIfNull(replicas);
        if (replicas.Count == 0)
            return CheckResult.Unknown(Name, "no replica reported its state");

        var byIndex = replicas.GroupBy(static r => r.AppliedIndex).OrderBy(static g => g.Key).ToList();
        foreach (var atIndex in byIndex)
        {
            var digests = atIndex.GroupBy(static r => r.Digest, StringComparer.Ordinal).ToList();
            if (digests.Count > 1)
                return CheckResult.Invalid(Name, string.Create(CultureInfo.InvariantCulture, $"replicas diverged at applied index {atIndex.Key}: {Describe(atIndex)}"), []);
        }

        if (byIndex.Count > 1)
            return CheckResult.Invalid(Name, $"replicas did not converge to one applied index: {Describe(replicas)}", []);

        var state = replicas[0];
        return CheckResult.Valid(Name, string.Create(CultureInfo.InvariantCulture,
            $"{replicas.Count} replicas at applied index {state.AppliedIndex} with digest {state.Digest}"));
    }

    private static string Describe(IEnumerable<ReplicaState> replicas) =>
        string.Join(", ", replicas.OrderBy(static r => r.Node, StringComparer.Ordinal)
            .Select(static r => string.Create(CultureInfo.InvariantCulture, $"{r.Node} at {r.AppliedIndex} digest {r.Digest}")));
}
