using Microsoft.Extensions.Logging;

namespace RaftKv.Client.Locks;

/// <summary>
/// Takes one kind of lock (mutex, read or write side of a reader-writer lock, semaphore), shared by the three lock
/// types: queued in the server's FIFO queue by default, polling when <see cref="RaftKvLockOptions.Queued"/> is off.
/// </summary>
/// <remarks>
/// <para>
/// The attempts of one acquisition send the same token, so a retried or re-issued acquire keeps the waiter's place
/// in the queue and a grant that raced a lost reply is answered again (with a newer fencing token), never held twice.
/// A token given back after an unknown outcome is never used again.
/// </para>
/// <para>
/// A queued wait goes to the server in rounds of at most <see cref="ILockCommands.MaxWait"/>. The lease of a grant is
/// counted from when its round was sent (the grant happened at or after that, but the reply does not say when): a
/// grant that leaves less than half the lease by that count is confirmed by an extension before it is returned, so a
/// long wait never hands out a lease that may be about to end — and a grant that ended meanwhile is not one.
/// </para>
/// <para>
/// The server ends a wait at its deadline; the next round then queues the token again at the tail. A waiter loses its
/// place only to acquires that arrived in that moment, between the end of one round and the start of the next.
/// </para>
/// <para>
/// An attempt that may have taken effect without this client learning it (cancelled after it was sent, unknown
/// outcome) is followed by a release with the same token before the caller hears anything: it then counts as not
/// acquired only when that release was confirmed; otherwise it is the unknown outcome it is.
/// </para>
/// </remarks>
internal sealed class LockAcquirer(LockResource resource, ILockCommands commands, RaftKvLockOptions options, ILogger logger)
{
    private readonly TimeProvider time = commands.TimeProvider;

    public LockResource Resource => resource;

    /// <summary>
    /// Tries to take the lock within <paramref name="timeout"/> (0: one attempt that never waits;
    /// <see cref="Timeout.InfiniteTimeSpan"/>: until taken).
    /// </summary>
    /// <returns>The handle, or null when the lock was not granted within <paramref name="timeout"/>.</returns>
    public async ValueTask<RaftKvLockHandle?> TryAcquireAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (timeout < TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan)
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "The timeout must be non-negative or Timeout.InfiniteTimeSpan.");
        cancellationToken.ThrowIfCancellationRequested();

        var token = NewToken();
        var started = time.GetTimestamp();
        while (true)
        {
            var (wait, last) = NextWait(timeout, started);

            // The lease is counted from before the first send: a retried attempt may have been applied at the first.
            var sentAt = time.GetTimestamp();
            long? fencingToken = null;
            var interrupted = false;
            try
            {
                fencingToken = await commands.AcquireAsync(resource, token, options.Expiry, wait, options.OwnerName, cancellationToken).ConfigureAwait(false);
                if (fencingToken is not null && options.Validity - time.GetElapsedTime(sentAt) < options.Validity / 2)
                {
                    var extendSentAt = time.GetTimestamp();
                    if (await commands.ExtendAsync(resource, token, options.Expiry, cancellationToken).ConfigureAwait(false))
                        sentAt = extendSentAt;
                    else
                        fencingToken = null;
                }
            }
            catch (OperationCanceledException e) when (cancellationToken.IsCancellationRequested)
            {
                await GiveBackAsync(token, "it was cancelled after it was sent", e).ConfigureAwait(false);
                throw;
            }
            catch (RaftKvUnknownOutcomeException unknown)
            {
                await GiveBackAsync(token, unknown.Message, unknown).ConfigureAwait(false);

                // A release of the old token may still be on its way (the node releases a waiter whose connection
                // ended): whatever comes next must not be taken back by it.
                token = NewToken();
                fencingToken = null;
                interrupted = true;
            }
            catch (RaftKvTimeoutException late) when (fencingToken is not null)
            {
                // Granted, but the extension that was to confirm the grant found no leader: do not leave it held.
                await GiveBackAsync(token, late.Message, late).ConfigureAwait(false);
                throw;
            }

            if (fencingToken is { } fence)
                return new RaftKvLockHandle(resource, token, fence, sentAt, commands, options, logger);
            if ((last && !interrupted) || (timeout != Timeout.InfiniteTimeSpan && time.GetElapsedTime(started) >= timeout))
                return null;
            if (!options.Queued)
                await PauseAsync(timeout, started, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Takes the lock within <paramref name="timeout"/> (null: until taken).</summary>
    /// <exception cref="TimeoutException">The lock was not granted within <paramref name="timeout"/>.</exception>
    public async ValueTask<RaftKvLockHandle> AcquireAsync(TimeSpan? timeout, CancellationToken cancellationToken)
        => await TryAcquireAsync(timeout ?? Timeout.InfiniteTimeSpan, cancellationToken).ConfigureAwait(false)
            ?? throw new TimeoutException($"{resource} was not granted within {timeout}.");

    private static string NewToken() => Guid.NewGuid().ToString("N");

    // How long the next attempt waits on the server, and whether it is the last one (its wait covers what is left of
    // the timeout). Polling attempts never wait on the server.
    private (TimeSpan Wait, bool Last) NextWait(TimeSpan timeout, long started)
    {
        var remaining = timeout == Timeout.InfiniteTimeSpan ? Timeout.InfiniteTimeSpan : timeout - time.GetElapsedTime(started);
        if (timeout != Timeout.InfiniteTimeSpan && remaining <= TimeSpan.Zero)
            return (TimeSpan.Zero, true);
        if (!options.Queued)
            return (TimeSpan.Zero, false);

        var round = commands.MaxWait;
        return timeout != Timeout.InfiniteTimeSpan && remaining <= round ? (remaining, true) : (round, false);
    }

    private Task PauseAsync(TimeSpan timeout, long started, CancellationToken cancellationToken)
    {
        var pause = options.MinBusyWaitSleepTime + ((options.MaxBusyWaitSleepTime - options.MinBusyWaitSleepTime) * Random.Shared.NextDouble());
        if (timeout != Timeout.InfiniteTimeSpan && pause > timeout - time.GetElapsedTime(started))
            pause = timeout - time.GetElapsedTime(started);
        return pause > TimeSpan.Zero ? Task.Delay(pause, time, cancellationToken) : Task.CompletedTask;
    }

    // Releases a token whose acquire may have queued it or granted it without this client learning so, so that it
    // neither holds the lock nor waits for it. Throws the unknown outcome when the release cannot be confirmed.
    private async Task GiveBackAsync(string token, string why, Exception cause)
    {
        try
        {
            await commands.ReleaseAsync(resource, token, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RaftKvException or TimeoutException or ObjectDisposedException)
        {
            Log.LockReleaseFailed(logger, resource.Name, e.Message);
            ReleaseInBackground(token);
            throw new RaftKvUnknownOutcomeException(
                resource.AcquireCommand,
                $"{why}; releasing its token failed too ({e.Message}), so it may hold {resource.Name} until its TTL runs out",
                cause);
        }
    }

    private void ReleaseInBackground(string token)
        => _ = Task.Run(async () =>
        {
            try
            {
                await commands.ReleaseAsync(resource, token, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RaftKvException or TimeoutException or ObjectDisposedException)
            {
                Log.LockReleaseFailed(logger, resource.Name, e.Message);
            }
        });
}
