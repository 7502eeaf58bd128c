using Medallion.Threading;
using Microsoft.Extensions.Logging;
using RaftKv.Client.Locks;

namespace RaftKv.Client;

/// <summary>
/// A held lock — a <see cref="RaftKvDistributedLock"/>, either side of a <see cref="RaftKvDistributedReaderWriterLock"/>,
/// or a ticket of a <see cref="RaftKvDistributedSemaphore"/>: its fencing token, a token that fires if it can no longer
/// be proven held, and an extension that keeps it alive until disposal releases it.
/// </summary>
/// <remarks>
/// The lease is counted from when the acquire (later: the last confirmed extension) was <em>sent</em>, not when its
/// reply came, and is shortened by <see cref="RaftKvLockOptions.MaxClockSkew"/>: whatever delayed the reply (a wait
/// in the server's queue included), the lease on the cluster started no earlier than that. When no extension is confirmed within the lease, or an
/// extension finds the key no longer holds this handle's token, <see cref="HandleLostToken"/> fires; stop touching
/// the protected resource then.
/// </remarks>
public sealed class RaftKvLockHandle : IDistributedSynchronizationHandle
{
    private readonly LockResource resource;
    private readonly string token;
    private readonly ILockCommands commands;
    private readonly RaftKvLockOptions options;
    private readonly ILogger logger;
    private readonly TimeProvider time;
    private readonly Lock gate = new();

    // Never disposed: a lease check on a timer thread may be cancelling it while the handle is disposed, and a
    // CancellationTokenSource without a timer holds nothing that needs disposal.
    private readonly CancellationTokenSource lost = new();
    private readonly CancellationTokenSource stopping = new();
    private readonly ITimer leaseTimer;
    private readonly Task extending;
    private long leaseStart;
    private bool settled;
    private int disposed;

    internal RaftKvLockHandle(LockResource resource, string token, long fencingToken, long acquireSentAt, ILockCommands commands, RaftKvLockOptions options, ILogger logger)
    {
        this.resource = resource;
        Name = resource.Name;
        FencingToken = fencingToken;
        this.token = token;
        this.commands = commands;
        this.options = options;
        this.logger = logger;
        time = commands.TimeProvider;
        leaseStart = acquireSentAt;
        leaseTimer = time.CreateTimer(static state => ((RaftKvLockHandle)state!).CheckLease(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        CheckLease();
        extending = Task.Run(ExtendWhileHeldAsync);
    }

    /// <summary>The lock's name (for a mutex: its key).</summary>
    public string Name { get; }

    /// <summary>
    /// This acquisition's fencing token: larger than that of every earlier acquisition of any lock in the cluster.
    /// Send it with every write to the protected resource, which must refuse tokens below the largest it has seen.
    /// </summary>
    public long FencingToken { get; }

    /// <summary>
    /// Fires when the lock can no longer be proven held: no extension was confirmed within
    /// <see cref="RaftKvLockOptions.Expiry"/> − <see cref="RaftKvLockOptions.MaxClockSkew"/> of the last confirmed one,
    /// or an extension found the lock no longer held by this handle. It does not fire after the handle is disposed.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The handle was disposed.</exception>
    public CancellationToken HandleLostToken
    {
        get
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
            return lost.Token;
        }
    }

    /// <summary>
    /// Stops extending and releases the lock (<c>LOCK.RELEASE</c>, <c>RWLOCK.RELEASE</c>, <c>SEMAPHORE.RELEASE</c>:
    /// by this handle's token only); the next waiters in the server's queue are granted by the same log entry. Idempotent.
    /// </summary>
    /// <remarks>A release that fails is logged, not thrown: the lock then expires after its TTL.</remarks>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
            return;

        await stopping.CancelAsync().ConfigureAwait(false);
        await extending.ConfigureAwait(false);
        lock (gate)
            settled = true;
        await leaseTimer.DisposeAsync().ConfigureAwait(false);
        stopping.Dispose();

        try
        {
            await commands.ReleaseAsync(resource, token, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RaftKvException or TimeoutException or ObjectDisposedException)
        {
            Log.LockReleaseFailed(logger, Name, e.Message);
        }
    }

    /// <summary>Synchronous <see cref="DisposeAsync"/>, for <see cref="IDisposable"/>; prefer <c>await using</c>.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private async Task ExtendWhileHeldAsync()
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token, lost.Token);
        var cancellation = linked.Token;
        var pause = FirstPause();
        try
        {
            while (true)
            {
                await Task.Delay(pause, time, cancellation).ConfigureAwait(false);
                var sentAt = time.GetTimestamp();
                try
                {
                    if (!await commands.ExtendAsync(resource, token, options.Expiry, cancellation).ConfigureAwait(false))
                    {
                        Lose("the lock is no longer held by this handle's token");
                        return;
                    }

                    Renewed(sentAt);
                    pause = options.Cadence;
                }
                catch (Exception e) when (e is RaftKvException or TimeoutException or ObjectDisposedException)
                {
                    // The lease timer decides when this becomes a loss; until then keep trying, sooner than usual.
                    Log.LockExtensionFailed(logger, Name, e.Message);
                    pause = options.Cadence / 4;
                }
            }
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            // Disposed, or lost: either way there is nothing left to extend.
        }
    }

    // A lease that starts short (granted after a wait in the server's queue, counted from when the wait was sent) is
    // extended when half of what is left of it has passed, not a full cadence later.
    private TimeSpan FirstPause()
    {
        TimeSpan left;
        lock (gate)
            left = options.Validity - time.GetElapsedTime(leaseStart);
        return left / 2 < options.Cadence ? (left > TimeSpan.Zero ? left / 2 : TimeSpan.Zero) : options.Cadence;
    }

    private void Renewed(long sentAt)
    {
        lock (gate)
        {
            if (sentAt > leaseStart)
                leaseStart = sentAt;
        }

        CheckLease();
    }

    // Runs on the lease timer and after each renewal: either re-arms the timer for the end of the current lease or,
    // when that end has passed, declares the lock lost.
    private void CheckLease()
    {
        lock (gate)
        {
            if (settled)
                return;
            var remaining = options.Validity - time.GetElapsedTime(leaseStart);
            if (remaining > TimeSpan.Zero)
            {
                leaseTimer.Change(remaining, Timeout.InfiniteTimeSpan);
                return;
            }
        }

        Lose("no extension was confirmed within the lease (expiry minus maximum clock skew)");
    }

    private void Lose(string reason)
    {
        lock (gate)
        {
            if (settled)
                return;
            settled = true;
        }

        Log.LockLost(logger, Name, FencingToken, reason);
        lost.Cancel();
    }
}
