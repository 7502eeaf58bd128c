using System.Diagnostics;
using Microsoft.Extensions.Options;
using RaftKv.Node.Raft;
using RaftKv.Node.Resp;
using RaftKv.Node.Routing;
using RaftKv.StateMachine;
using RaftKv.StateMachine.Commands;
using RaftKv.StateMachine.Locks;

namespace RaftKv.Node.Locks;

/// <summary>
/// The blocked acquires of this node's clients (<c>LOCK.ACQUIRE ... WAIT</c>, RWLOCK, SEMAPHORE, also inside
/// <c>SESSION.EXEC</c>): apply queued them, and apply grants them — on every replica, in the entry that freed the lock —
/// so this node only waits for its own apply to say so (<see cref="RaftStateMachine.LockNotices"/>) and answers then.
/// Nothing polls; hand-off costs the one Raft round of the release.
/// </summary>
/// <remarks>
/// <para>
/// A follower that forwarded the acquire first waits until it has applied the entry that queued it, then looks at its
/// own state (the grant may already have happened), then waits for a notice. After a snapshot install the waits look
/// at the state again: grants inside the entries a snapshot stands for raise no notice.
/// </para>
/// <para>
/// If the client goes away while it waits, this node proposes the release of its token (the waiter, or a grant that
/// raced with the disconnect). If this node dies, the waiter stays queued; a grant to it ends with its lease, like any
/// lock's. If this node cannot learn the outcome by the end of the wait plus <see cref="NodeOptions.LockWaitGrace"/>,
/// or has known no leader for that long (it is cut off), the client is told <c>-UNCERTAIN</c> and must release with
/// its token (from another node).
/// </para>
/// </remarks>
public sealed partial class LockWaits : IDisposable
{
    private static readonly Reply UncertainWait = Reply.Error(
        "UNCERTAIN this node has not applied the end of the lock wait: the lock may have been granted; release it with the same token");

    private readonly RaftStateMachine stateMachine;
    private readonly ClusterView view;
    private readonly Proposer proposer;
    private readonly LeaderForwarder forwarder;
    private readonly TimeProvider time;
    private readonly Telemetry.NodeMetrics metrics;
    private readonly IOptions<NodeOptions> options;
    private readonly ILogger<LockWaits> logger;
    private readonly Dictionary<string, List<Waiter>> waiting = new(StringComparer.Ordinal);

    // How often a blocked acquire looks whether its node still knows a leader (a local check, nothing is sent).
    private static readonly TimeSpan LeaderCheckInterval = TimeSpan.FromSeconds(1);

    /// <summary>Subscribes to the state machine's lock notices.</summary>
    public LockWaits(
        RaftStateMachine stateMachine,
        ClusterView view,
        Proposer proposer,
        LeaderForwarder forwarder,
        TimeProvider time,
        Telemetry.NodeMetrics metrics,
        IOptions<NodeOptions> options,
        ILogger<LockWaits> logger)
    {
        this.stateMachine = stateMachine;
        this.view = view;
        this.proposer = proposer;
        this.forwarder = forwarder;
        this.time = time;
        this.metrics = metrics;
        this.options = options;
        this.logger = logger;
        stateMachine.LockNotices += OnNotices;
        stateMachine.Installed += OnInstalled;
    }

    /// <summary>Clients blocked in a lock wait on this node now.</summary>
    public int Waiting
    {
        get
        {
            lock (waiting)
                return waiting.Values.Sum(static list => list.Count);
        }
    }

    /// <summary>The acquire a write is, when it may block: the command itself or the one a session wraps.</summary>
    public static ILockAcquire? BlockingAcquire(WriteCommand command) => command switch
    {
        ILockAcquire { Waits: true } acquire => acquire,
        SessionExecCommand { Command: ILockAcquire { Waits: true } wrapped } => wrapped,
        _ => null,
    };

    /// <summary>
    /// The client's reply to a blocking acquire: the proposal's reply, unless apply queued it — then the reply once
    /// this node applied its grant or the end of its wait.
    /// </summary>
    public async Task<Reply> FollowAsync(Task<Reply> proposed, ILockAcquire acquire, int database, RespConnection connection)
    {
        var reply = await proposed.ConfigureAwait(false);
        if (!LockReplies.IsQueued(reply, out var position))
            return reply;

        var started = time.GetTimestamp();
        var waiter = new Waiter(database, Key(acquire.LockName, acquire.Token));
        Register(waiter);
        string outcome = "abandoned";
        try
        {
            var result = await WaitAsync(waiter, acquire, database, position >> 16, connection).ConfigureAwait(false);
            outcome = result.Outcome;
            return result.Reply;
        }
        finally
        {
            Unregister(waiter);
            metrics.LockWaitEnded(time.GetElapsedTime(started), outcome);
            if (outcome == "abandoned")
                ReleaseAbandoned(acquire, database, connection);
        }
    }

    private async Task<(Reply Reply, string Outcome)> WaitAsync(Waiter waiter, ILockAcquire acquire, int database, long index, RespConnection connection)
    {
        using var expiry = CancellationTokenSource.CreateLinkedTokenSource(connection.InputEnded);
        expiry.CancelAfter(TimeSpan.FromMilliseconds(Math.Min(acquire.Wait, (long)TimeSpan.FromDays(1).TotalMilliseconds)) + options.Value.LockWaitGrace);
        try
        {
            // A follower that forwarded the acquire may not have applied the entry that queued it yet.
            await view.Raft.AuditTrail.WaitForApplyAsync(index, expiry.Token).ConfigureAwait(false);
            while (true)
            {
                var signal = waiter.Arm();
                var status = Status(acquire, database);
                if (status.Holding)
                    return (Reply.FromInteger(status.Fencing), "granted");
                if (!status.Waiting)
                    return (Reply.NullBulk, "timed_out");

                var notice = await NoticeOrLeaderlessAsync(signal, expiry.Token).ConfigureAwait(false);
                switch (notice?.Kind)
                {
                    case LockNoticeKind.Granted:
                        return (Reply.FromInteger(notice.Value.Fencing), "granted");
                    case LockNoticeKind.TimedOut:
                        return (Reply.NullBulk, "timed_out");
                    case LockNoticeKind.Released:
                        return (Reply.NullBulk, "released");
                }

                // No notice: a snapshot replaced the state; look again.
            }
        }
        catch (OperationCanceledException) when (connection.InputEnded.IsCancellationRequested)
        {
            return (NodeReplies.ConnectionClosing, "abandoned");
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException)
        {
            // The wait is over by now in cluster time, or this node is cut off from the leader: what it knows.
            var status = Status(acquire, database);
            LogWaitOutlived(logger, acquire.Wait, status.Holding, status.Waiting);
            return status.Holding ? (Reply.FromInteger(status.Fencing), "granted")
                : status.Waiting ? (UncertainWait, "uncertain")
                : (Reply.NullBulk, "timed_out");
        }
    }

    // The notice, or null when the state must be looked at again; throws TimeoutException when this node has known no
    // leader for LockWaitGrace: cut off, it will not apply the wait's end, and its client should try another node.
    private async Task<LockNotice?> NoticeOrLeaderlessAsync(Task<LockNotice?> signal, CancellationToken token)
    {
        var grace = options.Value.LockWaitGrace;
        long? leaderlessSince = null;
        while (true)
        {
            var check = Task.Delay(LeaderCheckInterval, time, token);
            if (await Task.WhenAny(signal, check).ConfigureAwait(false) == signal)
                return await signal.ConfigureAwait(false);
            await check.ConfigureAwait(false); // throws once the wait is over or the client gone
            if (view.CanRouteWrites)
                leaderlessSince = null;
            else if ((leaderlessSince ??= time.GetTimestamp()) is var since && time.GetElapsedTime(since) >= grace)
                throw new TimeoutException("no leader known for " + grace);
        }
    }

    private LockStatus Status(ILockAcquire acquire, int database)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        return stateMachine.Inspect(store =>
        {
            var keyspace = store.Databases[database];
            return keyspace.Locks.StatusOf(keyspace, acquire.LockName, acquire.Token, Math.Max(now, store.ClusterTime));
        });
    }

    // The client is gone: take its waiter (or the grant that raced with the disconnect) back, so the next waiter does
    // not wait for a lease nobody extends. Best effort: if it fails, the grant ends with its lease.
    private void ReleaseAbandoned(ILockAcquire acquire, int database, RespConnection connection)
    {
        var release = acquire.ReleaseCommand();
        _ = Task.Run(async () =>
        {
            try
            {
                var outcome = view.IsLeader || view.LeaderIsLocal
                    ? await proposer.ProposeAsync(release, database, connection.UserName).ConfigureAwait(false)
                    : await forwarder.ForwardAsync(release, database, connection.UserName, connection.Id).ConfigureAwait(false);
                LogAbandonedReleased(logger, connection.Id, outcome.Kind.ToString());
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                LogAbandonedReleaseFailed(logger, connection.Id, e.GetType().Name);
            }
        });
    }

    private void OnNotices(LockNotice[] notices, long clusterTime)
    {
        lock (waiting)
        {
            if (waiting.Count == 0)
                return;
            foreach (var notice in notices)
            {
                if (!waiting.TryGetValue(Key(notice.Name, notice.Token), out var list))
                    continue;
                foreach (var waiter in list)
                {
                    if (waiter.Database == notice.Database && waiter.Signal(notice) && notice.Kind == LockNoticeKind.Granted)
                        metrics.LockHandedOff(TimeSpan.FromMilliseconds(Math.Max(0, time.GetUtcNow().ToUnixTimeMilliseconds() - clusterTime)));
                }
            }
        }
    }

    private void OnInstalled()
    {
        lock (waiting)
        {
            foreach (var list in waiting.Values)
            {
                foreach (var waiter in list)
                    waiter.Signal(null);
            }
        }
    }

    private void Register(Waiter waiter)
    {
        lock (waiting)
        {
            if (!waiting.TryGetValue(waiter.Key, out var list))
                waiting[waiter.Key] = list = [];
            list.Add(waiter);
        }
    }

    private void Unregister(Waiter waiter)
    {
        lock (waiting)
        {
            if (waiting.TryGetValue(waiter.Key, out var list) && list.Remove(waiter) && list.Count == 0)
                waiting.Remove(waiter.Key);
        }
    }

    private static string Key(byte[] name, byte[] token) => Convert.ToBase64String(name) + " " + Convert.ToBase64String(token);

    /// <inheritdoc/>
    public void Dispose()
    {
        stateMachine.LockNotices -= OnNotices;
        stateMachine.Installed -= OnInstalled;
    }

    // One blocked acquire. Arm() before each look at the state; a notice (or null: look again) completes the armed signal.
    private sealed class Waiter(int database, string key)
    {
        private readonly Lock gate = new();
        private TaskCompletionSource<LockNotice?> signal = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int Database { get; } = database;

        public string Key { get; } = key;

        public Task<LockNotice?> Arm()
        {
            lock (gate)
            {
                if (signal.Task.IsCompleted && signal.Task.Result is null)
                    signal = new(TaskCreationOptions.RunContinuationsAsynchronously);
                return signal.Task;
            }
        }

        public bool Signal(LockNotice? notice)
        {
            lock (gate)
                return signal.TrySetResult(notice);
        }
    }

    [LoggerMessage(EventId = NodeLogEvents.LockWaitOutlived, Level = LogLevel.Warning, Message = "A lock wait of {WaitMs} ms outlived its grace without this node applying its end (holding: {Holding}, waiting: {Waiting}); the client is told what this node knows")]
    private static partial void LogWaitOutlived(ILogger logger, long waitMs, bool holding, bool waiting);

    [LoggerMessage(EventId = NodeLogEvents.LockWaitAbandoned, Level = LogLevel.Debug, Message = "Connection {ConnectionId} left a lock wait: its token's release was proposed ({Outcome})")]
    private static partial void LogAbandonedReleased(ILogger logger, long connectionId, string outcome);

    [LoggerMessage(EventId = NodeLogEvents.LockWaitReleaseFailed, Level = LogLevel.Warning, Message = "Connection {ConnectionId} left a lock wait and the release of its token failed ({Reason}); a grant to it ends with its lease")]
    private static partial void LogAbandonedReleaseFailed(ILogger logger, long connectionId, string reason);
}
