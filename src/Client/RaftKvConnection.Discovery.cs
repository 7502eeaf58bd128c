using RaftKv.Client.Retry;
using RaftKv.Client.Topology;
using RaftKv.Client.Transport;

namespace RaftKv.Client;

// Finding the leader and holding the one connection to it.
public sealed partial class RaftKvConnection
{
    /// <summary>
    /// The open connection to the leader, or a new one when there is none: one caller discovers, the others wait for
    /// it. Discovery asks the candidates <c>INFO raft</c> in turn and backs off between rounds until the deadline.
    /// </summary>
    private async ValueTask<RespChannel> GetChannelAsync(OperationDeadline deadline)
    {
        var current = Volatile.Read(ref channel);
        if (current is { IsOpen: true })
            return current;

        await channelGate.WaitAsync(deadline.Token).ConfigureAwait(false);
        try
        {
            current = Volatile.Read(ref channel);
            if (current is { IsOpen: true })
                return current;

            var backoff = new RetryBackoff(options.MinRetryDelay, options.MaxRetryDelay);
            while (true)
            {
                if (await FindLeaderAsync(deadline).ConfigureAwait(false) is { } found)
                {
                    if (shutdown.IsCancellationRequested)
                    {
                        // Disposal ran meanwhile and will not see this channel: close it here.
                        await found.DisposeAsync().ConfigureAwait(false);
                        throw new ObjectDisposedException(nameof(RaftKvConnection));
                    }

                    Volatile.Write(ref channel, found);
                    current?.Retire();
                    return found;
                }

                await deadline.DelayAsync(backoff.Next(Random.Shared)).ConfigureAwait(false);
            }
        }
        finally
        {
            channelGate.Release();
        }
    }

    /// <summary>
    /// One round over the candidates. A node that leads wins; a follower's word on who leads moves that node to the
    /// front. When the leader is one the client may not contact (<see cref="RaftKvClientOptions.DiscoverMembers"/>
    /// off) and no configured endpoint leads, a follower that knows the leader is used: it forwards.
    /// </summary>
    private async Task<RespChannel?> FindLeaderAsync(OperationDeadline deadline)
    {
        var candidates = topology.Candidates().ToList();
        var tried = new HashSet<string>();
        RespChannel? forwarder = null;
        string? forwardedTo = null;
        try
        {
            for (var i = 0; i < candidates.Count; i++)
            {
                var endpoint = candidates[i];
                if (!tried.Add(endpoint) || await ProbeAsync(endpoint, deadline).ConfigureAwait(false) is not (RespChannel probe, RaftInfo info))
                    continue;

                Announce(topology.Learn(info, endpoint));
                if (info.IsLeader)
                {
                    if (forwarder is not null)
                        await forwarder.DisposeAsync().ConfigureAwait(false);
                    Log.ConnectedToLeader(logger, endpoint, info.Leader, info.Term);
                    return probe;
                }

                if (info.Leader is { } leader && topology.MayConnect(leader) && !tried.Contains(leader))
                    candidates.Insert(i + 1, leader);
                candidates.AddRange(topology.Candidates().Except(candidates));

                // A follower is worth keeping only as a way to a leader the client may not contact itself (behind NAT
                // or a proxy). Otherwise the leader it names is either tried next or gone (a follower still naming a
                // leader that just died): better to wait for the election than to sit on a follower.
                if (info.Leader is { } named && !topology.MayConnect(named) && forwarder is null)
                    (forwarder, forwardedTo) = (probe, named);
                else
                    await probe.DisposeAsync().ConfigureAwait(false);
            }
        }
        catch
        {
            if (forwarder is not null)
                await forwarder.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        if (forwarder is not null)
            Log.UsingForwarder(logger, forwarder.Endpoint, forwardedTo);
        return forwarder;
    }

    /// <summary>Connects to <paramref name="endpoint"/> and asks for <c>INFO raft</c>; null when it cannot answer.</summary>
    private async Task<(RespChannel Channel, RaftInfo Info)?> ProbeAsync(string endpoint, OperationDeadline deadline)
    {
        RespChannel? probe = null;
        try
        {
            using var limit = deadline.Within(options.ConnectTimeout);
            probe = await RespChannel.ConnectAsync(endpoint, channelSetup, time, options.ReplyTimeout, logger, limit.Token).ConfigureAwait(false);
            var reply = await probe.SendAsync(new PendingReply(infoRaft), limit.Token).ConfigureAwait(false);
            if (reply.IsError)
                throw new RaftKvServerException(reply.AsString()!);
            var result = (probe, RaftInfo.Parse(reply.AsString()!));
            probe = null;
            return result;
        }
        catch (RaftKvAuthenticationException)
        {
            // Wrong credentials: another node or a retry will not fix them.
            throw;
        }
        catch (Exception e)
        {
            // Whatever failed, a spent budget ends the discovery (the caller turns it into a timeout).
            deadline.Token.ThrowIfCancellationRequested();
            lastDiscoveryFailure = $"{endpoint}: {e.Message}";
            Log.ProbeFailed(logger, endpoint, e.Message);
            return null;
        }
        finally
        {
            if (probe is not null)
                await probe.DisposeAsync().ConfigureAwait(false);
        }
    }

    private void Announce(LeaderChangedEventArgs? change)
    {
        if (change is null)
            return;
        Log.LeaderChanged(logger, change.PreviousLeader, change.Leader, change.Term);
        leaderChanges.Writer.TryWrite(change);
    }
}
