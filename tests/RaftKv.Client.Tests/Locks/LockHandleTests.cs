using Medallion.Threading;
using Microsoft.Extensions.Logging.Abstractions;
using RaftKv.Client.Locks;
using RaftKv.Client.Tests.Fakes;

namespace RaftKv.Client.Tests.Locks;

/// <summary>
/// The lock handle's lease arithmetic on a fake clock: expiry 3 s, skew 0.5 s (so a lease is good for 2.5 s after it
/// was requested), extension every second. Timers on the fake clock: #1 the lease timer, then one per extension pause.
/// </summary>
public sealed class LockHandleTests
{
    private static readonly TimeSpan Cadence = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Validity = TimeSpan.FromMilliseconds(2500);

    private readonly CountingTimeProvider time = new();
    private readonly FakeLockCommands commands;

    public LockHandleTests() => commands = new FakeLockCommands(time);

    [Fact]
    public async Task Confirmed_extensions_keep_the_lock_long_past_its_expiry()
    {
        var handle = await AcquireAsync();

        for (var round = 1; round <= 6; round++)
        {
            await time.AdvanceOnceWaitingAsync(1 + round, Cadence);
            await Eventually.TrueAsync(() => commands.Extensions == round, $"extension {round}");
        }

        Assert.False(handle.HandleLostToken.IsCancellationRequested);
        await handle.DisposeAsync();
    }

    [Fact]
    public async Task An_extension_that_finds_the_key_taken_over_loses_the_lock_at_once()
    {
        commands.OnExtend = static _ => Task.FromResult(false);
        var handle = await AcquireAsync();

        await time.AdvanceOnceWaitingAsync(2, Cadence);

        await Eventually.TrueAsync(() => handle.HandleLostToken.IsCancellationRequested, "the loss");
        await handle.DisposeAsync();
    }

    [Fact]
    public async Task Unanswered_extensions_lose_the_lock_exactly_when_the_lease_runs_out()
    {
        var extensionStarted = new TaskCompletionSource();
        commands.OnExtend = async cancellation =>
        {
            extensionStarted.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellation);
            return true;
        };
        var handle = await AcquireAsync();

        await time.AdvanceOnceWaitingAsync(2, Cadence);
        await extensionStarted.Task.WaitAsync(TimeSpan.FromSeconds(30));
        time.Advance(Validity - Cadence - TimeSpan.FromTicks(1));
        Assert.False(handle.HandleLostToken.IsCancellationRequested);

        time.Advance(TimeSpan.FromTicks(1));
        Assert.True(handle.HandleLostToken.IsCancellationRequested);
        await handle.DisposeAsync();
    }

    [Fact]
    public async Task The_lease_counts_from_when_the_acquire_was_sent_not_when_its_reply_came()
    {
        commands.OnExtend = static cancellation => Task.Delay(Timeout.Infinite, cancellation).ContinueWith(static _ => true, TaskScheduler.Default);
        commands.OnAcquire = _ =>
        {
            time.Advance(TimeSpan.FromSeconds(1));
            return Task.FromResult<long?>(7);
        };
        var handle = await AcquireAsync();

        time.Advance(Validity - TimeSpan.FromSeconds(1) - TimeSpan.FromTicks(1));
        Assert.False(handle.HandleLostToken.IsCancellationRequested);
        time.Advance(TimeSpan.FromTicks(1));
        Assert.True(handle.HandleLostToken.IsCancellationRequested);
        await handle.DisposeAsync();
    }

    [Fact]
    public async Task Disposing_releases_once_with_the_handles_token_and_ends_monitoring()
    {
        var handle = await AcquireAsync();
        Assert.Equal(1, handle.FencingToken);

        await handle.DisposeAsync();
        handle.Dispose();
        time.Advance(TimeSpan.FromMinutes(1));

        Assert.Equal(commands.Tokens, commands.Releases);
        Assert.Throws<ObjectDisposedException>(() => handle.HandleLostToken);
        Assert.Equal(0, commands.Extensions);
    }

    [Fact]
    public async Task A_busy_lock_is_tried_once_with_a_zero_timeout()
    {
        commands.OnAcquire = static _ => Task.FromResult<long?>(null);
        var resource = Lock();

        Assert.Null(await resource.TryAcquireAsync());
        Assert.Equal(1, commands.Acquisitions);
    }

    [Fact]
    public async Task A_busy_lock_is_polled_with_the_same_token_until_it_frees()
    {
        var busy = 3;
        var system = new FakeLockCommands(TimeProvider.System) { OnAcquire = _ => Task.FromResult<long?>(--busy < 0 ? 99 : null) };
        var resource = new RaftKvDistributedLock("lock:k", system, NullLogger.Instance, FastPolling());

        await using var handle = await resource.AcquireAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(99, handle.FencingToken);
        Assert.Single(system.Tokens.Distinct());
        Assert.All(system.Waits, static wait => Assert.Equal(TimeSpan.Zero, wait));
    }

    [Fact]
    public async Task A_lock_busy_past_the_timeout_is_a_TimeoutException_from_Acquire()
    {
        var system = new FakeLockCommands(TimeProvider.System) { OnAcquire = static _ => Task.FromResult<long?>(null) };
        var resource = new RaftKvDistributedLock("lock:k", system, NullLogger.Instance, FastPolling());

        await Assert.ThrowsAsync<TimeoutException>(async () => await resource.AcquireAsync(TimeSpan.FromMilliseconds(100)));
        Assert.True(system.Acquisitions > 1);
        Assert.Single(system.Tokens.Distinct());
    }

    [Fact]
    public async Task An_acquisition_with_an_unknown_outcome_whose_release_is_confirmed_is_not_acquired()
    {
        commands.OnAcquire = static _ => throw new RaftKvUnknownOutcomeException("LOCK.ACQUIRE", "test");

        Assert.Null(await Lock().TryAcquireAsync());

        Assert.Equal(commands.Tokens, commands.Releases);
    }

    [Fact]
    public async Task An_acquisition_with_an_unknown_outcome_whose_release_fails_stays_unknown_and_is_handed_back_in_the_background()
    {
        commands.OnAcquire = static _ => throw new RaftKvUnknownOutcomeException("LOCK.ACQUIRE", "test");
        var releases = 0;
        commands.OnRelease = () => Interlocked.Increment(ref releases) == 1
            ? throw new RaftKvTimeoutException("no leader", new TimeoutException())
            : Task.FromResult(true);

        await Assert.ThrowsAsync<RaftKvUnknownOutcomeException>(async () => await Lock().TryAcquireAsync());

        await Eventually.TrueAsync(() => commands.Releases.Count == 2, "the release retried in the background");
        Assert.Single(commands.Releases.Concat(commands.Tokens).Distinct());
    }

    [Fact]
    public async Task The_DistributedLock_interfaces_hand_out_the_same_handles()
    {
        IDistributedLock resource = Lock();

        await using var handle = await resource.AcquireAsync();

        var typed = Assert.IsType<RaftKvLockHandle>(handle);
        Assert.Equal("lock:k", typed.Name);
        Assert.Equal("lock:k", resource.Name);
    }

    [Theory]
    [InlineData(1000, 1000, null)]
    [InlineData(3000, 500, 2500)]
    [InlineData(3000, -1, null)]
    [InlineData(0, 0, null)]
    public void Options_that_cannot_hold_a_lease_are_refused(int expiryMs, int skewMs, int? cadenceMs)
    {
        var options = new RaftKvLockOptions
        {
            Expiry = TimeSpan.FromMilliseconds(expiryMs),
            MaxClockSkew = TimeSpan.FromMilliseconds(skewMs),
            ExtensionCadence = cadenceMs is { } c ? TimeSpan.FromMilliseconds(c) : null,
        };

        Assert.Throws<ArgumentException>(options.Validate);
    }

    [Fact]
    public void An_owner_name_longer_than_the_server_takes_is_refused()
    {
        Assert.Throws<ArgumentException>(new RaftKvLockOptions { Owner = new string('é', 513) }.Validate);
        new RaftKvLockOptions { Owner = new string('e', 1024) }.Validate();
    }

    private RaftKvDistributedLock Lock()
        => new("lock:k", commands, NullLogger.Instance, new RaftKvLockOptions
        {
            Expiry = TimeSpan.FromSeconds(3),
            MaxClockSkew = TimeSpan.FromMilliseconds(500),
            ExtensionCadence = Cadence,
        });

    private async Task<RaftKvLockHandle> AcquireAsync()
        => await Lock().TryAcquireAsync() ?? throw new InvalidOperationException("The fake lock was busy.");

    private static RaftKvLockOptions FastPolling() => new()
    {
        Queued = false,
        MinBusyWaitSleepTime = TimeSpan.FromMilliseconds(1),
        MaxBusyWaitSleepTime = TimeSpan.FromMilliseconds(5),
    };
}
