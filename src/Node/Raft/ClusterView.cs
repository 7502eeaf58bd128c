using System.Net;
using DotNext.Net.Cluster.Consensus.Raft;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Options;
using RaftKv.Node.Membership;
using RaftKv.StateMachine;

namespace RaftKv.Node.Raft;

/// <summary>What this node knows of the cluster, in the terms RESP clients need: who leads, and where to send writes.</summary>
/// <remarks>
/// With the TCP transport the members are DotNext's current configuration, whose endpoints carry their RESP and peer
/// addresses (<see cref="MemberEndPoint"/>): they follow every MEMBER.ADD/REMOVE. With the HTTP transport (static
/// membership) they are <c>RaftKv:Members</c>.
/// </remarks>
public sealed class ClusterView(IRaftCluster cluster, IOptions<NodeOptions> options)
{
    private readonly List<ClusterMemberOptions> configured = options.Value.Members;

    /// <summary>The Raft cluster.</summary>
    public IRaftCluster Raft => cluster;

    /// <summary>True while this node is a leader whose leadership is live (its token not yet cancelled).</summary>
    public bool IsLeader => !cluster.LeadershipToken.IsCancellationRequested;

    /// <summary>True when the cluster's current leader, as this node sees it, is this node.</summary>
    public bool LeaderIsLocal => cluster.Leader is { IsRemote: false };

    /// <summary>True when a write can be routed now: this node leads, or it knows which node does.</summary>
    public bool CanRouteWrites => IsLeader || cluster.Leader is not null;

    /// <summary>The current term.</summary>
    public long Term => cluster.Term;

    /// <summary>The leader's RESP address (<c>host:port</c>), or null when there is no known leader.</summary>
    public string? LeaderRespAddress => cluster.Leader is { } leader ? FindMember(leader.EndPoint)?.Resp : null;

    /// <summary>The leader's peer-channel address (<c>host:port</c>), or null when there is no known leader.</summary>
    public string? LeaderPeerAddress => cluster.Leader is { } leader ? FindMember(leader.EndPoint)?.Peer is { Length: > 0 } peer ? peer : null : null;

    /// <summary>The leader's Raft endpoint as text, or null.</summary>
    public string? LeaderRaftAddress => cluster.Leader?.EndPoint is { } endPoint ? Describe(endPoint) : null;

    /// <summary>The members of the cluster as this node has applied them, this one included (if it is a member).</summary>
    public IReadOnlyList<ClusterMemberOptions> Members
    {
        get
        {
            if (!UsesMemberEndPoints)
                return configured;
            var current = new List<ClusterMemberOptions>();
            foreach (var member in cluster.Members)
            {
                if (member.EndPoint is MemberEndPoint endPoint)
                    current.Add(endPoint.Options);
            }

            current.Sort(static (a, b) => string.CompareOrdinal(a.Raft, b.Raft));
            return current;
        }
    }

    /// <summary>True when this node is in the cluster's configuration as it has applied it (false while it waits to be added, or once removed).</summary>
    public bool IsMember => cluster.Members.Any(static m => !m.IsRemote);

    private bool UsesMemberEndPoints => cluster is RaftCluster;

    /// <summary>
    /// What a client gets for a write this node cannot take: <c>-MOVED 0 host:port</c> of the leader, as redisraft
    /// answers and <c>redis-cli -c</c> follows, or <c>-CLUSTERDOWN</c> when no leader is known.
    /// </summary>
    public Reply NotLeaderReply()
        => LeaderRespAddress is { } address && !LeaderIsLocal
            ? NodeReplies.Moved(address)
            : NodeReplies.NoLeader;

    /// <summary>
    /// Waits until some leader is known (or this node leads), at most <paramref name="within"/>: elections take a few
    /// hundred milliseconds, and a client is better served by a short wait than by an error.
    /// </summary>
    public async Task WaitForKnownLeaderAsync(TimeSpan within, CancellationToken token)
    {
        var deadline = DateTime.UtcNow + within;
        while (cluster.Leader is null && !IsLeader && DateTime.UtcNow < deadline)
            await Task.Delay(PollInterval, token).ConfigureAwait(false);
    }

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(10);

    /// <summary>True when <paramref name="member"/> is this node.</summary>
    public bool IsLocal(ClusterMemberOptions member)
        => cluster.Members.FirstOrDefault(static m => !m.IsRemote) is { } local && FindMember(local.EndPoint) is { } found && found.Raft == member.Raft;

    /// <summary>Splits <c>host:port</c>; the port is -1 when there is none.</summary>
    public static (string Host, int Port) SplitHostPort(string address)
    {
        var colon = address.LastIndexOf(':');
        return colon > 0 && int.TryParse(address.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port)
            ? (address[..colon], port)
            : (address, -1);
    }

    private ClusterMemberOptions? FindMember(EndPoint endPoint)
    {
        if (endPoint is MemberEndPoint known)
            return known.Options;
        var (host, port) = endPoint switch
        {
            UriEndPoint uri => (uri.Uri.Host, uri.Uri.Port),
            IPEndPoint ip => (ip.Address.ToString(), ip.Port),
            DnsEndPoint dns => (dns.Host, dns.Port),
            _ => (string.Empty, -1),
        };

        foreach (var member in configured)
        {
            if (Uri.TryCreate(member.Raft, UriKind.Absolute, out var raft)
                && raft.Port == port && string.Equals(raft.Host, host, StringComparison.OrdinalIgnoreCase))
                return member;
        }

        return null;
    }

    private static string Describe(EndPoint endPoint) => endPoint is UriEndPoint uri ? uri.Uri.ToString() : endPoint.ToString() ?? "";
}
