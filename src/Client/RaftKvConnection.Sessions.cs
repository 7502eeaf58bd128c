using RaftKv.Client.Commands;
using RaftKv.Client.Retry;
using RaftKv.Client.Sessions;
using RaftKv.Client.Transport;

namespace RaftKv.Client;

// The connection's server session: opened on connect, reopened lazily after it expires, kept alive while idle.
public sealed partial class RaftKvConnection
{
    // Disposal waits at most this long for the server to confirm SESSION.CLOSE; an unclosed session expires anyway.
    private static readonly TimeSpan SessionCloseWait = TimeSpan.FromSeconds(1);

    /// <summary>The open session, or a new one (<c>SESSION.OPEN ttl</c>) when there is none.</summary>
    private async ValueTask<ClientSession> EnsureSessionAsync(OperationDeadline deadline)
    {
        if (Volatile.Read(ref session) is { } current)
            return current;

        await sessionGate.WaitAsync(deadline.Token).ConfigureAwait(false);
        try
        {
            if (Volatile.Read(ref session) is { } opened)
                return opened;

            // A SESSION.OPEN whose reply is lost is simply sent again: the session it may have created is never used
            // and expires after its TTL.
            var reply = await RunAsync(openSession, deadline).ConfigureAwait(false);
            var fresh = new ClientSession(reply.AsInt64(), time.GetTimestamp());
            Volatile.Write(ref session, fresh);
            Log.SessionOpened(logger, fresh.Id);
            return fresh;
        }
        finally
        {
            sessionGate.Release();
        }
    }

    /// <summary>The server no longer knows <paramref name="expired"/>: the next write opens a new session.</summary>
    private void ForgetSession(ClientSession expired, string reason)
    {
        if (Interlocked.CompareExchange(ref session, null, expired) == expired)
            Log.SessionLost(logger, expired.Id, reason);
    }

    /// <summary>Sends <c>SESSION.KEEPALIVE</c> for a session idle for a third of its TTL.</summary>
    private async Task KeepSessionAliveAsync()
    {
        var idleLimit = options.SessionTtl / 3;
        using var timer = new PeriodicTimer(options.SessionTtl / 6, time);
        while (await timer.WaitForNextTickAsync(shutdown.Token).ConfigureAwait(false))
        {
            if (Volatile.Read(ref session) is not { } current || time.GetElapsedTime(current.LastActivity) < idleLimit)
                continue;

            var sentAt = time.GetTimestamp();
            try
            {
                using var deadline = StartDeadline(CancellationToken.None);
                await RunAsync(new RaftKvCommand("SESSION.KEEPALIVE", [current.Id], Delivery.Idempotent), deadline).ConfigureAwait(false);
                current.Touch(sentAt);
            }
            catch (RaftKvServerException e) when (e.Prefix == "NOSESSION")
            {
                ForgetSession(current, e.Error);
            }
            catch (Exception e) when (e is RaftKvException or TimeoutException)
            {
                Log.KeepAliveFailed(logger, current.Id, e.Message);
            }
        }
    }

    /// <summary>Closes the session on the way out, so the server can forget it before its TTL.</summary>
    private async Task CloseSessionAsync(RespChannel last)
    {
        if (Interlocked.Exchange(ref session, null) is not { } current || !last.IsOpen)
            return;

        using var limit = new CancellationTokenSource(options.ReplyTimeout < SessionCloseWait ? options.ReplyTimeout : SessionCloseWait);
        try
        {
            await last.SendAsync(new PendingReply(new RaftKvCommand("SESSION.CLOSE", [current.Id], Delivery.Idempotent)), limit.Token)
                .ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            // Best effort: the session expires after its TTL anyway.
        }
    }
}
