using Microsoft.Extensions.Options;

namespace RaftKv.Node.Peers;

/// <summary>
/// At start, makes the peer handshake with every other member. If at least one answers and every member that answers
/// refuses this node's secret, the secrets disagree and this node is the odd one out: it does not start, and says so.
/// A member that does not answer (not started yet, down) is not counted, so a cluster starting all at once starts.
/// A member that accepts is then asked its commit index (the LogState frame): a node with an empty data directory
/// learns from it whether the cluster has data this node lost (<see cref="Raft.NodeRecovery"/>).
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
    /// <summary>
    /// Probes the other members; throws when every member that answered refused this node's secret. Returns the highest
    /// commit index the members answered, or null when none did (down, or older members that do not know the question).
    /// </summary>
    /// <exception cref="NodeStartupException">The secrets disagree.</exception>
    public async Task<long?> RunAsync(CancellationToken cancellationToken)
    {
        // By address: NodeIdentity was bound from the configuration before the options were, so it is another object.
        var peers = options.Value.Members.Select(static m => m.Peer)
            .Where(peer => !string.IsNullOrEmpty(peer) && !string.Equals(peer, self.Member.Peer, StringComparison.OrdinalIgnoreCase))
            .ToArray();
        if (peers.Length == 0)
            return null;

        var timeout = options.Value.Peer.StartupCheckTimeout;
        var answers = await Task.WhenAll(peers.Select(peer => ProbeAsync(peer, timeout, cancellationToken))).ConfigureAwait(false);
        var verdicts = answers.Select(static a => a.Verdict).ToArray();
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

        return answers.Max(static a => a.Committed);
    }

    // Accepted, WrongSecret or UnsupportedVersion when the peer answered the handshake, null when it did not; once
    // accepted, its commit index if it answered the LogState question.
    private async Task<(HandshakeVerdict? Verdict, long? Committed)> ProbeAsync(string peer, TimeSpan timeout, CancellationToken token)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(token);
        deadline.CancelAfter(timeout);
        using var client = new System.Net.Sockets.TcpClient { NoDelay = true };
        Stream stream;
        try
        {
            var (host, port) = PeerAddress.Split(peer);
            await client.ConnectAsync(host, port, deadline.Token).ConfigureAwait(false);
            stream = await security.ConnectAsync(client.GetStream(), host, HandshakeChannel.Peer, deadline.Token).ConfigureAwait(false);
        }
        catch (PeerHandshakeException e) when (e.Verdict is { } verdict)
        {
            return (verdict, null);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or OperationCanceledException or FormatException or PeerHandshakeException)
        {
            return (null, null);
        }

        await using (stream.ConfigureAwait(false))
            return (HandshakeVerdict.Accepted, await AskCommittedAsync(stream, deadline.Token).ConfigureAwait(false));
    }

    // A member older than the LogState frame closes the connection on it: no answer, not an error.
    private static async Task<long?> AskCommittedAsync(Stream stream, CancellationToken token)
    {
        try
        {
            await stream.WriteAsync(Routing.PeerMessages.LogStateRequest, token).ConfigureAwait(false);
            await stream.FlushAsync(token).ConfigureAwait(false);
            var answer = new byte[PeerProtocol.FrameHeaderLength + sizeof(long)];
            await stream.ReadExactlyAsync(answer.AsMemory(0, PeerProtocol.FrameHeaderLength), token).ConfigureAwait(false);
            if (System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(answer) != 1 + sizeof(long))
                return null;
            await stream.ReadExactlyAsync(answer.AsMemory(PeerProtocol.FrameHeaderLength), token).ConfigureAwait(false);
            return Routing.PeerMessages.DecodeLogState(answer[sizeof(uint)], answer.AsSpan(PeerProtocol.FrameHeaderLength));
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or OperationCanceledException or ObjectDisposedException)
        {
            return null;
        }
    }

    [LoggerMessage(EventId = NodeLogEvents.RefusedByPeerAtStart, EventName = nameof(NodeLogEvents.RefusedByPeerAtStart), Level = LogLevel.Error, Message = "The peer at {Peer} refused this node at start: {Verdict}")]
    private static partial void LogPeerRefused(ILogger logger, string peer, HandshakeVerdict verdict);
}
