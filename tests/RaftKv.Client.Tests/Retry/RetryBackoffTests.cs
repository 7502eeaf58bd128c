using Microsoft.Extensions.Time.Testing;
using RaftKv.Client.Retry;

namespace RaftKv.Client.Tests.Retry;

public sealed class RetryBackoffTests
{
    private static readonly TimeSpan Min = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan Max = TimeSpan.FromSeconds(1);

    [Fact]
    public void Each_delay_lies_between_half_and_all_of_a_doubling_ceiling_capped_at_the_maximum()
    {
        var random = new Random(42);
        var backoff = new RetryBackoff(Min, Max);
        for (var failure = 0; failure < 20; failure++)
        {
            var ceiling = TimeSpan.FromTicks(Math.Min(Max.Ticks, Min.Ticks << Math.Min(failure, 30)));
            var delay = backoff.Next(random);

            Assert.InRange(delay, ceiling / 2, ceiling);
        }
    }

    [Fact]
    public void Delays_are_jittered_so_clients_that_failed_together_spread_out()
    {
        var delays = Enumerable.Range(0, 50).Select(FirstDelay).Distinct().Count();

        Assert.True(delays > 40, $"only {delays} distinct first delays out of 50");

        static TimeSpan FirstDelay(int seed)
        {
            var backoff = new RetryBackoff(Min, Max);
            return backoff.Next(new Random(seed));
        }
    }

    [Fact]
    public void Reset_starts_over_from_the_shortest_delay()
    {
        var random = new Random(1);
        var backoff = new RetryBackoff(Min, Max);
        for (var i = 0; i < 10; i++)
            backoff.Next(random);

        backoff.Reset();

        Assert.Equal(0, backoff.Failures);
        Assert.InRange(backoff.Next(random), Min / 2, Min);
    }

    [Fact]
    public void A_huge_failure_count_never_overflows_past_the_maximum()
    {
        var random = new Random(5);
        var backoff = new RetryBackoff(Min, Max);
        for (var i = 0; i < 10; i++)
            backoff.Next(random);
        for (var i = 0; i < 500; i++)
            Assert.InRange(backoff.Next(random), Max / 2, Max);
    }
}

public sealed class OperationDeadlineTests
{
    [Fact]
    public void The_budget_runs_down_with_the_clock_and_then_fires_the_token()
    {
        var time = new FakeTimeProvider();
        using var deadline = OperationDeadline.Start(time, TimeSpan.FromSeconds(10), CancellationToken.None, CancellationToken.None);

        time.Advance(TimeSpan.FromSeconds(4));
        Assert.Equal(TimeSpan.FromSeconds(6), deadline.Remaining);
        Assert.False(deadline.Token.IsCancellationRequested);
        Assert.False(deadline.Expired);

        time.Advance(TimeSpan.FromSeconds(6));
        Assert.Equal(TimeSpan.Zero, deadline.Remaining);
        Assert.True(deadline.Token.IsCancellationRequested);
        Assert.True(deadline.Expired);
    }

    [Fact]
    public void A_caller_cancelling_is_not_an_expired_budget()
    {
        var time = new FakeTimeProvider();
        using var caller = new CancellationTokenSource();
        using var deadline = OperationDeadline.Start(time, TimeSpan.FromSeconds(10), caller.Token, CancellationToken.None);

        caller.Cancel();

        Assert.True(deadline.Token.IsCancellationRequested);
        Assert.False(deadline.Expired);
    }

    [Fact]
    public async Task A_retry_delay_is_cut_short_to_what_is_left_of_the_budget()
    {
        var time = new FakeTimeProvider();
        using var deadline = OperationDeadline.Start(time, TimeSpan.FromSeconds(1), CancellationToken.None, CancellationToken.None);
        time.Advance(TimeSpan.FromMilliseconds(900));

        var delay = deadline.DelayAsync(TimeSpan.FromSeconds(30));
        time.Advance(TimeSpan.FromMilliseconds(100));

        // The delay ends with the budget: it either completes or is cancelled by the expiring token, never waits 30 s.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await delay;
            deadline.Token.ThrowIfCancellationRequested();
        });
    }
}
