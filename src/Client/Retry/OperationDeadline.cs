namespace RaftKv.Client.Retry;

/// <summary>
/// One operation's time budget, retries included, combined with the caller's token and the connection's shutdown:
/// <see cref="Token"/> fires on whichever comes first, and <see cref="Expired"/> tells whether it was the budget.
/// </summary>
internal sealed class OperationDeadline : IDisposable
{
    private readonly TimeProvider time;
    private readonly TimeSpan budget;
    private readonly long started;
    private readonly CancellationTokenSource timeout;
    private readonly CancellationTokenSource linked;

    private OperationDeadline(TimeProvider time, TimeSpan budget, CancellationToken caller, CancellationToken shutdown)
    {
        this.time = time;
        this.budget = budget;
        CallerToken = caller;
        ShutdownToken = shutdown;
        started = time.GetTimestamp();
        timeout = new CancellationTokenSource(budget, time);
        linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, caller, shutdown);
    }

    /// <summary>Fires when the budget is spent, the caller cancels or the connection shuts down.</summary>
    public CancellationToken Token => linked.Token;

    /// <summary>The caller's own token.</summary>
    public CancellationToken CallerToken { get; }

    /// <summary>The connection's shutdown token.</summary>
    public CancellationToken ShutdownToken { get; }

    /// <summary>True when the budget is spent (and not merely the caller cancelling).</summary>
    public bool Expired => timeout.IsCancellationRequested || Remaining <= TimeSpan.Zero;

    /// <summary>What is left of the budget.</summary>
    public TimeSpan Remaining
    {
        get
        {
            var left = budget - time.GetElapsedTime(started);
            return left > TimeSpan.Zero ? left : TimeSpan.Zero;
        }
    }

    public static OperationDeadline Start(TimeProvider time, TimeSpan budget, CancellationToken caller, CancellationToken shutdown)
        => new(time, budget, caller, shutdown);

    /// <summary>
    /// A token that fires after <paramref name="limit"/> or with <see cref="Token"/>, whichever is first. The limit
    /// runs on the system clock: it bounds waits on the network, which a test's fake clock does not move.
    /// </summary>
    public CancellationTokenSource Within(TimeSpan limit)
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(Token);
        if (limit < Remaining)
            source.CancelAfter(limit);
        return source;
    }

    /// <summary>Waits <paramref name="delay"/>, cut short to the budget; throws when <see cref="Token"/> fires.</summary>
    public Task DelayAsync(TimeSpan delay)
    {
        var wait = delay < Remaining ? delay : Remaining;
        return Task.Delay(wait, time, Token);
    }

    public void Dispose()
    {
        linked.Dispose();
        timeout.Dispose();
    }
}
