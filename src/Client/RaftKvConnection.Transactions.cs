using System.Collections.Concurrent;
using RaftKv.Client.Commands;
using RaftKv.Client.Protocol;
using RaftKv.Client.Retry;
using RaftKv.Client.Transport;

namespace RaftKv.Client;

// MULTI/EXEC for RaftKvTransaction, on a connection of its own (WATCH and MULTI are connection state), kept for the
// next transaction when it ends cleanly.
public sealed partial class RaftKvConnection
{
    private static readonly RaftKvCommand Multi = new("MULTI", [], Delivery.Idempotent);
    private static readonly RaftKvCommand Exec = new("EXEC", [], Delivery.AtMostOnce);

    // Connections a transaction finished cleanly on, kept for the next: a connection per transaction would leave a
    // socket in TIME_WAIT per transaction and pay TCP, TLS and AUTH each time.
    private const int MaxIdleTransactionChannels = 4;
    private readonly ConcurrentQueue<RespChannel> idleTransactionChannels = new();

    /// <summary>
    /// Runs a transaction until it has a definite outcome or the deadline passes; on commit completes every queued
    /// command from EXEC's replies. See <see cref="RaftKvTransaction"/> for what each outcome means.
    /// </summary>
    /// <remarks>
    /// Three round trips with conditions, two without: <c>WATCH</c>; then the conditions' reads and <c>MULTI</c>;
    /// then the commands and <c>EXEC</c>. The reads wait for WATCH's reply: a read served before WATCH recorded its
    /// key could see an older value than the one recorded, and EXEC, finding the recorded value unchanged, would
    /// commit on a condition judged on the older one. MULTI is confirmed before any command is sent, so a refused
    /// MULTI (an ACL) cannot leave the commands to run one by one.
    /// </remarks>
    internal async Task<bool> RunTransactionAsync(IReadOnlyList<Condition> conditions, IReadOnlyList<QueuedCommand> commands, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
        if (conditions.Count == 0 && commands.Count == 0)
            return true;

        using var deadline = StartDeadline(cancellationToken);
        var backoff = new RetryBackoff(options.MinRetryDelay, options.MaxRetryDelay);
        PendingReply? exec = null;
        Exception? lastFailure = null;
        try
        {
            while (true)
            {
                var shared = await GetChannelAsync(deadline).ConfigureAwait(false);
                RespChannel dedicated;
                try
                {
                    dedicated = await TakeTransactionChannelAsync(shared.Endpoint, deadline).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not RaftKvAuthenticationException)
                {
                    deadline.Token.ThrowIfCancellationRequested();
                    lastFailure = e;
                    shared.Retire();
                    await RetryAfterAsync(Exec, e.Message, ref backoff, deadline).ConfigureAwait(false);
                    continue;
                }

                string retryReason;
                var reusable = false;
                try
                {
                    if (!await PrepareAsync(dedicated, conditions, deadline).ConfigureAwait(false))
                        return false;

                    // Pipelined: the commands and EXEC leave in one write.
                    var queuedReplies = new Task<RespValue>[commands.Count + 1];
                    for (var i = 0; i < commands.Count; i++)
                        queuedReplies[i] = dedicated.SendAsync(new PendingReply(commands[i].Command), deadline.Token);
                    exec = new PendingReply(Exec);
                    queuedReplies[^1] = dedicated.SendAsync(exec, deadline.Token);
                    var replies = await Task.WhenAll(queuedReplies).ConfigureAwait(false);
                    if (Committed(replies, commands, out retryReason) is { } committed)
                    {
                        // EXEC ended the transaction and dropped the watches: the connection is as new.
                        reusable = true;
                        return committed;
                    }

                    lastFailure = new RaftKvServerException(retryReason);
                }
                catch (ConnectionLostException lost) when (exec is not { WasSent: true })
                {
                    retryReason = lost.Message;
                    lastFailure = lost;
                }
                catch (ConnectionLostException lost)
                {
                    throw new RaftKvUnknownOutcomeException("EXEC", "the connection was lost after it was sent", lost);
                }
                catch (RetryableRefusal refusal)
                {
                    retryReason = refusal.Message;
                    lastFailure = new RaftKvServerException(refusal.Message);
                }
                finally
                {
                    await ReleaseTransactionChannelAsync(dedicated, reusable).ConfigureAwait(false);
                }

                if (ServerErrors.Classify(retryReason) is ServerErrorKind.Moved or ServerErrorKind.NotReady)
                {
                    if (ServerErrors.MovedTo(retryReason) is { } leader)
                        topology.Hint(leader);
                    shared.Retire();
                }

                exec = null;
                await RetryAfterAsync(Exec, retryReason, ref backoff, deadline).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException e) when (!deadline.CallerToken.IsCancellationRequested)
        {
            if (deadline.ShutdownToken.IsCancellationRequested)
                throw new ObjectDisposedException(nameof(RaftKvConnection), e);
            throw exec is { WasSent: true }
                ? new RaftKvUnknownOutcomeException("EXEC", $"no reply within the operation timeout of {options.OperationTimeout}", lastFailure ?? e)
                : new RaftKvTimeoutException(
                    $"The transaction did not complete within {options.OperationTimeout}; it was not applied. Last failure: {lastFailure?.Message ?? lastDiscoveryFailure ?? "none"}",
                    lastFailure ?? e);
        }
    }

    /// <summary>An idle transaction connection to <paramref name="endpoint"/>, or a new one.</summary>
    private async Task<RespChannel> TakeTransactionChannelAsync(string endpoint, OperationDeadline deadline)
    {
        while (idleTransactionChannels.TryDequeue(out var idle))
        {
            if (idle.IsOpen && idle.Endpoint == endpoint)
                return idle;
            await idle.DisposeAsync().ConfigureAwait(false);
        }

        using var limit = deadline.Within(options.ConnectTimeout);
        return await RespChannel.ConnectAsync(endpoint, channelSetup, time, options.ReplyTimeout, logger, limit.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// Keeps a connection whose transaction ended with EXEC's answer for the next transaction; closes any other (a
    /// MULTI left open, a refusal, a failure) and any beyond <see cref="MaxIdleTransactionChannels"/>.
    /// </summary>
    private async ValueTask ReleaseTransactionChannelAsync(RespChannel channel, bool reusable)
    {
        if (reusable && channel.IsOpen && idleTransactionChannels.Count < MaxIdleTransactionChannels && Volatile.Read(ref disposed) == 0)
        {
            idleTransactionChannels.Enqueue(channel);
            if (Volatile.Read(ref disposed) == 0)
                return;

            // Disposal began meanwhile and may have emptied the queue before this one was in it.
            await CloseIdleTransactionChannelsAsync().ConfigureAwait(false);
            return;
        }

        await channel.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Closes the idle transaction connections (at disposal).</summary>
    private async Task CloseIdleTransactionChannelsAsync()
    {
        while (idleTransactionChannels.TryDequeue(out var idle))
            await idle.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>WATCH, the conditions' reads and MULTI; false when a condition does not hold (nothing was queued).</summary>
    private static async Task<bool> PrepareAsync(RespChannel channel, IReadOnlyList<Condition> conditions, OperationDeadline deadline)
    {
        var holds = true;
        if (conditions.Count > 0)
        {
            var keys = conditions.Select(static c => c.Key).Distinct(StringComparer.Ordinal).Select(static k => (RespArgument)k).ToArray();
            EnsureAccepted(await channel.SendAsync(new PendingReply(new RaftKvCommand("WATCH", keys, Delivery.Idempotent)), deadline.Token).ConfigureAwait(false));

            var checks = new Task<RespValue>[conditions.Count];
            for (var i = 0; i < conditions.Count; i++)
                checks[i] = channel.SendAsync(new PendingReply(conditions[i].Check), deadline.Token);
            var multi = channel.SendAsync(new PendingReply(Multi), deadline.Token);
            var readings = await Task.WhenAll(checks).ConfigureAwait(false);
            for (var i = 0; i < readings.Length; i++)
                holds &= conditions[i].HoldsFor(EnsureAccepted(readings[i]));
            EnsureAccepted(await multi.ConfigureAwait(false));
        }
        else
        {
            EnsureAccepted(await channel.SendAsync(new PendingReply(Multi), deadline.Token).ConfigureAwait(false));
        }

        // A condition that does not hold leaves MULTI open and nothing queued: closing the connection discards it.
        return holds;
    }

    /// <summary>
    /// Reads EXEC's reply (the last of <paramref name="replies"/>, after each command's QUEUED): true committed, false
    /// a watched key changed, null not applied and worth retrying (<paramref name="retryReason"/> says why).
    /// </summary>
    private static bool? Committed(RespValue[] replies, IReadOnlyList<QueuedCommand> commands, out string retryReason)
    {
        retryReason = "";
        var exec = replies[^1];
        if (exec.IsNull)
            return false;

        if (!exec.IsError)
        {
            var results = exec.Elements;
            if (results.Count != commands.Count)
                throw new RaftKvUnknownOutcomeException("EXEC", $"it answered {results.Count} replies for {commands.Count} commands");
            for (var i = 0; i < commands.Count; i++)
                commands[i].Complete(results[i]);
            return true;
        }

        var error = exec.AsString()!;
        switch (ServerErrors.Classify(error))
        {
            case ServerErrorKind.Moved or ServerErrorKind.NotReady:
                retryReason = error;
                return null;
            case ServerErrorKind.Uncertain:
                throw new RaftKvUnknownOutcomeException("EXEC", "leadership changed while it was in flight", new RaftKvServerException(error));
        }

        // EXECABORT: a command was refused while queued. A refusal a retry fixes (a follower redirecting writes) makes
        // the whole transaction worth retrying; any other is the command's own error, and nothing ran.
        for (var i = 0; i < commands.Count; i++)
        {
            if (replies[i].IsError && ServerErrors.Classify(replies[i].AsString()!) is ServerErrorKind.Moved or ServerErrorKind.NotReady)
            {
                retryReason = replies[i].AsString()!;
                return null;
            }
        }

        for (var i = 0; i < commands.Count; i++)
        {
            if (replies[i].IsError)
                commands[i].Complete(replies[i]);
        }

        throw new RaftKvServerException(error);
    }

    /// <summary>The reply, unless it is an error: one a retry fixes becomes <see cref="RetryableRefusal"/>, any other is final.</summary>
    private static RespValue EnsureAccepted(RespValue reply)
    {
        if (!reply.IsError)
            return reply;
        var error = reply.AsString()!;
        throw ServerErrors.Classify(error) is ServerErrorKind.Moved or ServerErrorKind.NotReady or ServerErrorKind.Uncertain
            ? new RetryableRefusal(error)
            : new RaftKvServerException(error);
    }

    /// <summary>A step before EXEC was refused in a way a new attempt can fix; nothing was applied.</summary>
    private sealed class RetryableRefusal(string error) : Exception(error);
}
