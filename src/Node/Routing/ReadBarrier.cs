using DotNext.Net.Cluster;
using DotNext.Net.Cluster.Consensus.Raft;
using Microsoft.Extensions.Options;
using RaftKv.Node.Raft;
using RaftKv.Node.Telemetry;

namespace RaftKv.Node.Routing;

/// <summary>
/// Coalesces linearizable read barriers: any number of concurrent reads share one barrier. On the leader a barrier is
/// DotNext's <c>ApplyReadBarrierAsync</c> (a replication round that confirms leadership, then the apply of every
/// appended entry); on a follower it asks the leader for a read index over the peer channel (a ReadIndex message,
/// which runs the leader's barrier: <see cref="PeerRequestHandler"/>) and waits until it has applied that index itself.
/// </summary>
/// <remarks>
/// <para>
/// A follower does not use DotNext's own follower barrier: it asks the leader for its commit index, which right after
/// an election can lag writes the previous leader acknowledged, and which the leader gives without confirming it still
/// leads: right after an election the new leader's commit index can lag writes the previous leader acknowledged (it
/// learns them only when it commits an entry of its own term), and the chaos soak caught a follower read returning a
/// counter value below one already acknowledged.
/// </para>
/// <para>
/// A read may not join a barrier that is already in flight: that barrier may have fixed its commit index before a
/// write this read must observe was acknowledged. Reads that arrive during a barrier form the next group, whose
/// barrier starts as soon as the current one ends; so one barrier is in flight at a time and a read waits for at most
/// two.
/// </para>
/// </remarks>
public sealed class ReadBarrier(ClusterView view, LeaderForwarder forwarder, IOptions<NodeOptions> options, TimeProvider time, NodeMetrics metrics)
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(20);
    private readonly IRaftCluster cluster = view.Raft;
    private readonly TimeSpan timeout = options.Value.ReadBarrierTimeout;
    private readonly Lock gate = new();
    private bool running;
    private TaskCompletionSource? next;
    private long barriersIssued;
    private long readIndexesRequested;
    private long readIndexesServed;

    /// <summary>Barriers issued to Raft; reads served divided by this is the coalescing factor.</summary>
    public long BarriersIssued => Interlocked.Read(ref barriersIssued);

    /// <summary>Read indexes this node (as a follower) obtained from the leader.</summary>
    public long ReadIndexesRequested => Interlocked.Read(ref readIndexesRequested);

    /// <summary>Read indexes this node (as the leader) gave followers.</summary>
    public long ReadIndexesServed => Interlocked.Read(ref readIndexesServed);

    internal void CountReadIndexServed() => Interlocked.Increment(ref readIndexesServed);

    /// <summary>Completes once everything committed before the call is applied on this node.</summary>
    /// <exception cref="QuorumUnreachableException">No leader is reachable.</exception>
    public Task WaitAsync(CancellationToken token)
    {
        Task wait;
        lock (gate)
        {
            next ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            wait = next.Task;
            if (!running)
            {
                running = true;
                var group = next;
                next = null;
                _ = RunAsync(group);
            }
        }

        return token.CanBeCanceled ? wait.WaitAsync(token) : wait;
    }

    // Bounded, so a barrier stuck on a vanished leader cannot hold every later read hostage; while no leader is known
    // or the known one is unreachable (an election is under way) it retries, so reads ride through an election
    // instead of failing at once.
    // True when it ran on the leader, false for a read index.
    private async Task<bool> BarrierAsync()
    {
        using var expiry = new CancellationTokenSource(timeout);
        while (true)
        {
            try
            {
                if (view.IsLeader)
                {
                    await cluster.ApplyReadBarrierAsync(expiry.Token).ConfigureAwait(false);
                    return true;
                }

                if (await forwarder.ReadIndexAsync().WaitAsync(expiry.Token).ConfigureAwait(false) is { } index)
                {
                    Interlocked.Increment(ref readIndexesRequested);
                    await cluster.AuditTrail.WaitForApplyAsync(index, expiry.Token).ConfigureAwait(false);
                    return false;
                }

                // No leader known, the link to it broke, or the node asked no longer leads: ask again.
                await Task.Delay(RetryDelay, expiry.Token).ConfigureAwait(false);
            }
            // Right after the leader stops it is unreachable until the election names another: ask again.
            catch (Exception e) when (e is QuorumUnreachableException or MemberUnavailableException && !expiry.IsCancellationRequested)
            {
                await Task.Delay(RetryDelay, expiry.Token).ConfigureAwait(false);
            }
        }
    }

    private async Task RunAsync(TaskCompletionSource? group)
    {
        while (group is not null)
        {
            Interlocked.Increment(ref barriersIssued);
            try
            {
                var started = time.GetTimestamp();
                var onLeader = await BarrierAsync().ConfigureAwait(false);
                metrics.ReadBarrierPassed(time.GetElapsedTime(started), onLeader);
                group.TrySetResult();
            }
            catch (Exception e)
            {
                group.TrySetException(e);
            }

            lock (gate)
            {
                group = next;
                next = null;
                running = group is not null;
            }
        }
    }
}
