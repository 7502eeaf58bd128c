using Microsoft.Extensions.Options;
using RaftKv.Node.Raft;

namespace RaftKv.Node.Telemetry;

/// <summary>
/// Whether this node should receive traffic (<c>/health/ready</c>): a leader is known, its applied index is within
/// <see cref="HttpEndpointOptions.ReadyMaxApplyLag"/> entries of its commit index, its applier has not stopped, and it is a member (not waiting to be added, not removed).
/// </summary>
/// <remarks>
/// A node without a leader can serve neither a write nor a linearizable read (both wait, then fail), so a load
/// balancer should route around it; the node is still live.
/// </remarks>
public sealed class Readiness(ClusterView view, RaftStateMachine state, Membership.MembershipWatch membership, IOptions<HttpEndpointOptions> options)
{
    private readonly long maxLag = Math.Max(0, options.Value.ReadyMaxApplyLag);

    /// <summary>Null when ready; otherwise one line saying why not.</summary>
    public string? NotReadyReason()
    {
        if (state.Stopped is { } stop)
            return $"applier stopped at index {stop.Index}";
        if (membership.Refusal is { Text: { } notMember })
            return notMember.Replace("CLUSTERDOWN ", "", StringComparison.Ordinal);
        if (!view.CanRouteWrites)
            return "no known leader";
        var lag = view.Raft.AuditTrail.LastCommittedEntryIndex - state.AppliedIndex;
        return lag > maxLag ? $"applied index {state.AppliedIndex} is {lag} entries behind commit index (max {maxLag})" : null;
    }
}
