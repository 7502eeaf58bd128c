using Microsoft.Extensions.Time.Testing;

namespace RaftKv.Client.Tests.Fakes;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that counts the timers created on it, so a test can wait until code under test is
/// parked on a delay before moving the clock (moving it earlier would leave the delay waiting forever).
/// </summary>
internal sealed class CountingTimeProvider : TimeProvider
{
    private int timers;

    public FakeTimeProvider Fake { get; } = new();

    public int TimersCreated => Volatile.Read(ref timers);

    public override long TimestampFrequency => Fake.TimestampFrequency;

    public override DateTimeOffset GetUtcNow() => Fake.GetUtcNow();

    public override long GetTimestamp() => Fake.GetTimestamp();

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        // Counted once it exists on the fake clock: a test that moves the clock after seeing the count must not
        // slip in before the timer is there to fire.
        var timer = Fake.CreateTimer(callback, state, dueTime, period);
        Interlocked.Increment(ref timers);
        return timer;
    }

    public void Advance(TimeSpan by) => Fake.Advance(by);

    /// <summary>Waits until <paramref name="count"/> timers exist, then moves the clock by <paramref name="by"/>.</summary>
    public async Task AdvanceOnceWaitingAsync(int count, TimeSpan by)
    {
        await Eventually.TrueAsync(() => TimersCreated >= count, $"{count} timers");
        Advance(by);
    }
}
