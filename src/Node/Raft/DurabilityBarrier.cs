using Microsoft.Extensions.Options;
using RaftKv.Node.Hosting;
using RaftKv.StateMachine;

namespace RaftKv.Node.Raft;

/// <summary>
/// The leader's last step before acknowledging writes: confirms that a majority of the nodes — the leader and enough
/// followers — hold the entry committed <em>and checkpointed</em> in their write-ahead logs, so no crash, of any
/// number of nodes, can take it back.
/// </summary>
/// <remarks>
/// <para>
/// Raft's commit rule assumes a follower acknowledges an entry only once it is on stable storage. DotNext 6.12's
/// write-ahead log does not give that: a follower acknowledges entries as soon as it has appended them, but after a
/// restart the log keeps only the entries up to its last checkpoint, which is written (in the background) after the
/// entries are committed. Found by the chaos soak: all three nodes killed at once lost an acknowledged INCR, and the
/// old leader, which had applied it, diverged from the two others.
/// </para>
/// <para>
/// So the leader waits for its own checkpoint to cover the entry and asks the followers, over a RESP link,
/// <c>RAFTKV.DURABLE index</c>: each answers once it has applied the entry and its checkpoint covers it. With a majority confirmed, the writes are
/// acknowledged. Rounds are coalesced like read barriers: one in flight, and every entry waiting meanwhile is
/// confirmed by the next one, so a busy leader pays about one round per replication round.
/// </para>
/// </remarks>
public sealed partial class DurabilityBarrier(ClusterView view, LogCheckpoint checkpoint, IOptions<NodeOptions> options, ILogger<DurabilityBarrier> logger) : IAsyncDisposable
{
    private readonly Lock gate = new();
    private readonly Dictionary<string, PeerLink> links = [];
    private readonly TimeSpan timeout = options.Value.DurabilityTimeout;
    private TaskCompletionSource<bool>? next;
    private long confirmed;
    private long requested;
    private bool running;
    private long roundsIssued;

    /// <summary>Durability rounds run since start (<c>INFO stats</c>); entries proposed divided by this is the coalescing factor.</summary>
    public long RoundsIssued => Interlocked.Read(ref roundsIssued);

    /// <summary>
    /// Completes with true once a majority has the entry at <paramref name="index"/> (and every one before it)
    /// checkpointed; false if that could not be confirmed in time (the writes' outcome is then unknown).
    /// </summary>
    public Task<bool> ConfirmAsync(long index)
    {
        lock (gate)
        {
            if (index <= confirmed)
                return Task.FromResult(true);

            requested = Math.Max(requested, index);
            next ??= new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            var wait = next.Task;
            if (!running)
            {
                running = true;
                var group = next;
                next = null;
                _ = RunAsync(group, requested);
            }

            return wait;
        }
    }

    private async Task RunAsync(TaskCompletionSource<bool>? group, long target)
    {
        while (group is not null)
        {
            Interlocked.Increment(ref roundsIssued);
            bool durable;
            try
            {
                durable = await RoundAsync(target).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                LogRoundFailed(logger, target, e);
                durable = false;
            }

            lock (gate)
            {
                if (durable)
                    confirmed = Math.Max(confirmed, target);
            }

            group.TrySetResult(durable);

            lock (gate)
            {
                group = next;
                next = null;
                target = requested;
                running = group is not null;
            }
        }
    }

    private async Task<bool> RoundAsync(long target)
    {
        using var expiry = new CancellationTokenSource(timeout);
        var leaderFlush = checkpoint.WaitUntilCoversAsync(target, expiry.Token);
        var others = view.Members.Where(m => !view.IsLocal(m)).ToList();
        var needed = (view.Members.Count / 2 + 1) - 1;
        if (needed > 0)
        {
            // Followers learn the new commit index from the next replication round: start one now rather than wait for
            // the heartbeat.
            _ = ForceReplicationAsync();
            if (!await QuorumConfirmsAsync(others, target, needed).ConfigureAwait(false))
                return false;
        }

        await leaderFlush.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        return leaderFlush.IsCompletedSuccessfully;
    }

    private async Task<bool> QuorumConfirmsAsync(List<Hosting.ClusterMemberOptions> others, long target, int needed)
    {
        var pending = others.Select(m => (Task)LinkTo(m.Resp).ConfirmDurableAsync(target)).ToList();
        var confirmations = 0;
        using var expiry = new CancellationTokenSource(timeout);
        var deadline = Task.Delay(Timeout.InfiniteTimeSpan, expiry.Token);
        while (pending.Count > 0 && confirmations < needed)
        {
            var done = await Task.WhenAny([.. pending, deadline]).ConfigureAwait(false);
            if (done == deadline)
                return false;

            pending.Remove(done);
            if (((Task<Reply>)done).Result is { Kind: ReplyKind.Integer } reply && reply.Integer >= target)
                confirmations++;
        }

        return confirmations >= needed;
    }

    private async Task ForceReplicationAsync()
    {
        try
        {
            using var expiry = new CancellationTokenSource(timeout);
            await view.Raft.ForceReplicationAsync(expiry.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException or DotNext.Net.Cluster.Consensus.Raft.NotLeaderException)
        {
            // Not the leader any more, or a slow round: the confirmations decide.
        }
    }

    private PeerLink LinkTo(string address)
    {
        lock (gate)
        {
            if (links.TryGetValue(address, out var link) && !link.IsBroken)
                return link;
            if (link is not null)
                _ = link.DisposeAsync();
            return links[address] = new PeerLink(address, timeout, logger);
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        PeerLink[] all;
        lock (gate)
        {
            all = [.. links.Values];
            links.Clear();
        }

        foreach (var link in all)
            await link.DisposeAsync().ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Durability round for entry {Index} failed; its writes are answered UNCERTAIN")]
    private static partial void LogRoundFailed(ILogger logger, long index, Exception exception);
}
