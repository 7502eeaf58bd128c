namespace RaftKv.Client.Topology;

/// <summary>
/// What the client knows about the cluster: the seeds it was given, the members it learned, the leader and its term,
/// and a hint where the leader is (from <c>-MOVED</c>). Thread-safe.
/// </summary>
internal sealed class ClusterTopology(IReadOnlyList<string> seeds, bool discoverMembers)
{
    private readonly Lock gate = new();
    private IReadOnlyList<string> members = [];
    private string? leaderHint;
    private string? leader;
    private string? leaderEndpoint;
    private long term;

    public string? Leader
    {
        get
        {
            lock (gate)
                return leader;
        }
    }

    public long Term
    {
        get
        {
            lock (gate)
                return term;
        }
    }

    /// <summary>Every node the client may connect to: the learned members, then any seed not among them.</summary>
    public IReadOnlyList<string> Members
    {
        get
        {
            lock (gate)
                return [.. members.Union(seeds)];
        }
    }

    /// <summary>Where to look for the leader, most promising first: the hint, the last leader, members, seeds.</summary>
    public IReadOnlyList<string> Candidates()
    {
        lock (gate)
        {
            var first = new[] { leaderHint, leaderEndpoint }.OfType<string>();
            return [.. first.Concat(members).Concat(seeds).Distinct()];
        }
    }

    /// <summary>True when the client may connect to <paramref name="address"/> (see <see cref="RaftKvClientOptions.DiscoverMembers"/>).</summary>
    public bool MayConnect(string address)
    {
        if (discoverMembers)
            return true;
        lock (gate)
            return seeds.Contains(address);
    }

    /// <summary>Remembers where a node said the leader is, to look there first.</summary>
    public void Hint(string address)
    {
        if (!MayConnect(address))
            return;
        lock (gate)
            leaderHint = address;
    }

    /// <summary>Takes in what a node said about the cluster; returns the change to announce, if the leader changed.</summary>
    public LeaderChangedEventArgs? Learn(RaftInfo info, string connectedTo)
    {
        lock (gate)
        {
            if (discoverMembers && info.Members.Count > 0)
                members = info.Members;
            if (!info.IsLeader)
                return null;

            leaderHint = null;
            leaderEndpoint = connectedTo;
            var newLeader = info.Leader ?? connectedTo;
            if (newLeader == leader && info.Term == term)
                return null;

            var change = new LeaderChangedEventArgs(leader, newLeader, info.Term);
            (leader, term) = (newLeader, info.Term);
            return change;
        }
    }
}
