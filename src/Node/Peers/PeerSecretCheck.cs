using Microsoft.Extensions.Options;

namespace RaftKv.Node.Peers;

/// <summary>
/// At start, makes the peer handshake with every other member. If at least one answers and every member that answers
/// refuses this node's secret, the secrets disagree and this node is the odd one out: it does not start, and says so.
/// A member that does not answer (not started yet, down) is not counted, so a cluster starting all at once starts.
/// </summary>
/// <remarks>
/// A node never stops because one member refuses it while another accepts it: the refusing member is the misconfigured
/// one, and its own check (or its log) says so.
/// </remarks>
public sealed partial class PeerSecretCheck(
    IOptions<NodeOptions> options,
    NodeIdentity self,
    PeerConnectionSecurity security,
    ILogger<PeerSecretCheck> logger)
{
    /// <summary>Probes the other members; throws when every member that answered refused this node's secret.</summary>
    /// <exception cref="NodeStartupException">The secrets disagree.</exception>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        // By address: NodeIdentity was bound from the configuration before the options were, so it is another object.
        var peers = options.Value.Members.Select(static m => m.Peer)
            .Where(peer => !string.IsNullOrEmpty(peer) && !string.Equals(peer, self.Member.Peer, StringComparison.OrdinalIgnoreCase))
            .ToArray();
        if (peers.Length == 0)
            return;

        var timeout = options.Value.Peer.StartupCheckTimeout;
        var verdicts = await Task.WhenAll(peers.Select(peer => ProbeAsync(peer, timeout, cancellationToken))).ConfigureAwait(false);
        var answered = verdicts.Count(static v => v is not null);
        var refused = verdicts.Count(static v => v == HandshakeVerdict.WrongSecret);
        for (var i = 0; i < peers.Length; i++)
        {
            if (verdicts[i] is { } verdict && verdict != HandshakeVerdict.Accepted)
                LogPeerRefused(logger, peers[i], verdict);
        }

        if (answered > 0 && refused == answered)
        {
            throw new NodeStartupException(
                $"Every member that answered ({string.Join(", ", peers.Where((_, i) => verdicts[i] is not null))}) refused this node's "
                + "cluster secret: RaftKv:Peer:ClusterSecret (or ClusterSecretFile) must be the same on every member.");
        }
    }

    // Accepted, WrongSecret or UnsupportedVersion when the peer answered the handshake; null when it did not.
    private async Task<HandshakeVerdict?> ProbeAsync(string peer, TimeSpan timeout, CancellationToken token)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(token);
        deadline.CancelAfter(timeout);
        try
        {
            var (host, port) = PeerAddress.Split(peer);
            using var client = new System.Net.Sockets.TcpClient { NoDelay = true };
            await client.ConnectAsync(host, port, deadline.Token).ConfigureAwait(false);
            await using var stream = await security.ConnectAsync(client.GetStream(), host, HandshakeChannel.Peer, deadline.Token).ConfigureAwait(false);
            return HandshakeVerdict.Accepted;
        }
        catch (PeerHandshakeException e) when (e.Verdict is { } verdict)
        {
            return verdict;
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or OperationCanceledException or FormatException or PeerHandshakeException)
        {
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "The peer at {Peer} refused this node at start: {Verdict}")]
    private static partial void LogPeerRefused(ILogger logger, string peer, HandshakeVerdict verdict);
}
