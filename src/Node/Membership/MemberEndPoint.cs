using System.Globalization;
using System.Net;
using System.Text;

namespace RaftKv.Node.Membership;

/// <summary>
/// A member's Raft endpoint that also carries the member's RESP and peer-channel addresses. DotNext keeps the members
/// as a set of endpoints in its configuration (log entries, InstallSnapshot, the <c>members</c> file); making the
/// endpoint carry the other two addresses lets every change of membership move them with it, atomically, on every
/// node — forwarding, <c>-MOVED</c>, <c>CLUSTER NODES</c> and clients follow from the same record.
/// </summary>
/// <remarks>
/// Equality and hashing are <see cref="IPEndPoint"/>'s (address and port of the Raft listener), as DotNext compares
/// members; <see cref="DotNext.Net.Cluster.ClusterMemberId"/> is derived from the same two.
/// </remarks>
public sealed class MemberEndPoint : IPEndPoint
{
    /// <summary>The longest address (Raft URL, RESP or peer <c>host:port</c>) accepted, in UTF-8 bytes.</summary>
    public const int MaxAddressBytes = 1024;

    private MemberEndPoint(IPAddress address, int port, string raft, string resp, string peer)
        : base(address, port)
    {
        Raft = raft;
        Resp = resp;
        Peer = peer;
        Options = new ClusterMemberOptions { Raft = raft, Resp = resp, Peer = peer };
    }

    /// <summary>The member's Raft URL as configured, e.g. <c>tcp://127.0.0.1:7381/</c>.</summary>
    public string Raft { get; }

    /// <summary>The member's RESP address, <c>host:port</c>.</summary>
    public string Resp { get; }

    /// <summary>The member's peer-channel address, <c>host:port</c> (empty for a single-node cluster).</summary>
    public string Peer { get; }

    /// <summary>The member as <c>RaftKv:Members</c> writes it (one object per endpoint: do not change it).</summary>
    public ClusterMemberOptions Options { get; }

    /// <summary>The endpoint of a configured member (its Raft host resolved now).</summary>
    /// <exception cref="FormatException">An address is malformed or too long.</exception>
    public static MemberEndPoint From(ClusterMemberOptions member) => Create(member.Raft, member.Resp, member.Peer);

    /// <summary>Checks the three addresses and resolves the Raft host.</summary>
    /// <exception cref="FormatException">An address is malformed or too long, or the Raft host does not resolve.</exception>
    public static MemberEndPoint Create(string raft, string resp, string peer)
    {
        var endPoint = ResolveRaft(raft);
        CheckHostPort(resp, "RESP", required: true);
        CheckHostPort(peer, "peer", required: false);
        return new MemberEndPoint(endPoint.Address, endPoint.Port, raft, resp, peer);
    }

    /// <summary>The Raft listener of <c>tcp://host:port/</c>, its host resolved (an IP literal, or by DNS).</summary>
    /// <exception cref="FormatException">Not a <c>tcp://host:port</c> URL, or the host does not resolve.</exception>
    public static IPEndPoint ResolveRaft(string raft)
    {
        if (Encoding.UTF8.GetByteCount(raft) > MaxAddressBytes
            || !Uri.TryCreate(raft, UriKind.Absolute, out var uri) || uri.Scheme != Hosting.TcpRaftTransport.Scheme || uri.Port <= 0)
            throw new FormatException($"'{Shorten(raft)}' is not a Raft address of the form tcp://host:port/.");
        if (IPAddress.TryParse(uri.Host, out var ip))
            return new IPEndPoint(ip, uri.Port);
        try
        {
            return new IPEndPoint(Dns.GetHostAddresses(uri.Host)[0], uri.Port);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IndexOutOfRangeException or ArgumentException)
        {
            throw new FormatException($"The host of the Raft address '{raft}' does not resolve: {e.Message}");
        }
    }

    private static void CheckHostPort(string address, string what, bool required)
    {
        if (address.Length == 0 && !required)
            return;
        var colon = address.LastIndexOf(':');
        if (Encoding.UTF8.GetByteCount(address) > MaxAddressBytes || colon <= 0
            || !int.TryParse(address.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535
            || address.AsSpan(0, colon).ContainsAny(" \r\n\t/"))
            throw new FormatException($"'{Shorten(address)}' is not a {what} address of the form host:port.");
    }

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + "...";

    /// <inheritdoc/>
    public override string ToString() => Raft;
}
