using Medallion.Threading;
using Microsoft.Extensions.Logging.Abstractions;
using RaftKv.Client.Locks;
using RaftKv.Client.Tests.Fakes;

namespace RaftKv.Client.Tests.Locks;

/// <summary>
/// How an acquisition waits in the server's queue, on fake lock commands and a fake clock: the WAIT rounds it asks
/// for, the token it keeps across them, and what it does when a wait ends without an answer. Options: expiry 30 s,
/// skew 0.5 s (half the lease's validity: 14.75 s), the connection's longest wait 10 s.
/// </summary>
public sealed class QueuedAcquireTests
{
    private static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(10);

    private readonly CountingTimeProvider time = new();
    private readonly FakeLockCommands commands;

    public QueuedAcquireTests()
    {
        commands = new FakeLockCommands(time) { MaxWait = MaxWait };

        // The server holds each wait to its end and answers nil, as when the lock stays busy.
        commands.OnAcquireWaiting = (wait, _) =>
        {
            time.Advance(wait);
            return Task.FromResult<long?>(null);
        };
    }

    [Fact]
    public async Task A_zero_timeout_asks_once_without_waiting_in_the_queue()
    {
        Assert.Null(await Lock().TryAcquireAsync(TimeSpan.Zero));

        Assert.Equal([TimeSpan.Zero], commands.Waits);
        Assert.Empty(commands.Releases);
    }

    [Fact]
    public async Task A_timeout_within_one_round_is_one_wait_on_the_server_not_polling()
    {
        Assert.Null(await Lock().TryAcquireAsync(TimeSpan.FromSeconds(4)));

        Assert.Equal([TimeSpan.FromSeconds(4)], commands.Waits);
        Assert.Empty(commands.Releases);
    }

    [Fact]
    public async Task A_long_timeout_waits_in_rounds_of_the_longest_wait_with_the_same_token()
    {
        Assert.Null(await Lock().TryAcquireAsync(TimeSpan.FromSeconds(25)));

        Assert.Equal([MaxWait, MaxWait, TimeSpan.FromSeconds(5)], commands.Waits);
        Assert.Single(commands.Tokens.Distinct());
    }

    [Fact]
    public async Task A_grant_late_in_its_lease_is_confirmed_by_an_extension_before_it_is_returned()
    {
        commands.MaxWait = TimeSpan.FromMinutes(5);
        commands.OnAcquireWaiting = (wait, _) =>
        {
            time.Advance(wait);
            return Task.FromResult<long?>(42);
        };

        // 20 s of the 29.5 s lease spent waiting (counted from the send): more than half.
        await using var handle = await Lock().AcquireAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(42, handle.FencingToken);
        Assert.Equal(1, commands.Extensions);
        Assert.Equal([TimeSpan.FromSeconds(20)], commands.Waits);
    }

    [Fact]
    public async Task A_late_grant_that_the_extension_finds_gone_is_no_grant()
    {
        commands.MaxWait = TimeSpan.FromMinutes(5);
        commands.OnAcquireWaiting = (wait, _) =>
        {
            time.Advance(wait);
            return Task.FromResult<long?>(42);
        };
        commands.OnExtend = static _ => Task.FromResult(false);

        Assert.Null(await Lock().TryAcquireAsync(TimeSpan.FromSeconds(40)));
        Assert.Equal(1, commands.Extensions);
    }

    [Fact]
    public async Task An_early_grant_is_returned_without_an_extension()
    {
        commands.OnAcquireWaiting = (wait, _) =>
        {
            time.Advance(wait / 2);
            return Task.FromResult<long?>(42);
        };

        await using var handle = await Lock().AcquireAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(0, commands.Extensions);
    }

    [Fact]
    public async Task A_grant_after_a_long_wait_is_extended_when_half_its_remaining_lease_has_passed()
    {
        commands.MaxWait = TimeSpan.FromMinutes(5);
        commands.OnAcquireWaiting = (wait, _) =>
        {
            time.Advance(wait);
            return Task.FromResult<long?>(7);
        };

        await using var handle = await Lock().AcquireAsync(TimeSpan.FromSeconds(14));

        // The lease counts from the send: 29.5 s valid, 14 s of it spent waiting; the first extension comes when half
        // of the remaining 15.5 s has passed, not a full cadence (10 s) later.
        await time.AdvanceOnceWaitingAsync(2, TimeSpan.FromMilliseconds(7750) - TimeSpan.FromTicks(1));
        await Task.Delay(50);
        Assert.Equal(0, commands.Extensions);
        time.Advance(TimeSpan.FromTicks(1));
        await Eventually.TrueAsync(() => commands.Extensions == 1, "the first extension");
        Assert.False(handle.HandleLostToken.IsCancellationRequested);
    }

    [Fact]
    public async Task An_infinite_wait_keeps_its_place_by_reissuing_the_same_token_until_granted()
    {
        var rounds = 0;
        commands.OnAcquireWaiting = (wait, _) =>
        {
            time.Advance(wait);
            return Task.FromResult<long?>(++rounds == 4 ? 9 : null);
        };

        await using var handle = await Lock().AcquireAsync();

        Assert.Equal(9, handle.FencingToken);
        Assert.Equal(Enumerable.Repeat(MaxWait, 4), commands.Waits);
        Assert.Single(commands.Tokens.Distinct());
    }

    [Fact]
    public async Task Cancelling_a_queued_wait_releases_the_same_token_before_reporting_the_cancellation()
    {
        var waiting = new TaskCompletionSource();
        commands.OnAcquireWaiting = async (_, cancellation) =>
        {
            waiting.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellation);
            return null;
        };
        using var cancel = new CancellationTokenSource();

        var acquiring = Lock().TryAcquireAsync(TimeSpan.FromSeconds(5), cancel.Token).AsTask();
        await waiting.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => acquiring);
        Assert.Equal(commands.Tokens, commands.Releases);
    }

    [Fact]
    public async Task A_cancelled_wait_whose_release_fails_is_an_unknown_outcome_not_a_cancellation()
    {
        commands.OnAcquireWaiting = static async (_, cancellation) =>
        {
            await Task.Delay(Timeout.Infinite, cancellation);
            return null;
        };
        commands.OnRelease = static () => throw new RaftKvUnknownOutcomeException("LOCK.RELEASE", "test");
        using var cancel = new CancellationTokenSource();

        var acquiring = Lock().TryAcquireAsync(TimeSpan.FromSeconds(5), cancel.Token).AsTask();
        await Eventually.TrueAsync(() => commands.Acquisitions == 1, "the wait");
        await cancel.CancelAsync();

        await Assert.ThrowsAsync<RaftKvUnknownOutcomeException>(() => acquiring);
    }

    [Fact]
    public async Task A_wait_with_an_unknown_outcome_is_released_then_reported_not_acquired()
    {
        commands.OnAcquireWaiting = (wait, _) =>
        {
            time.Advance(wait);
            throw new RaftKvUnknownOutcomeException("LOCK.ACQUIRE", "no answer within its wait");
        };

        Assert.Null(await Lock().TryAcquireAsync(TimeSpan.FromSeconds(3)));

        Assert.Equal(commands.Tokens, commands.Releases);
    }

    [Fact]
    public async Task A_cancelled_token_throws_before_anything_is_sent()
    {
        using var cancel = new CancellationTokenSource();
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await Lock().TryAcquireAsync(TimeSpan.FromSeconds(1), cancel.Token));
        Assert.Equal(0, commands.Acquisitions);
    }

    [Theory]
    [InlineData(-2)]
    [InlineData(-1000)]
    public async Task A_negative_timeout_other_than_infinite_is_refused(int milliseconds)
    {
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await Lock().TryAcquireAsync(TimeSpan.FromMilliseconds(milliseconds)));
        Assert.Equal(0, commands.Acquisitions);
    }

    [Fact]
    public async Task A_failed_acquire_throws_TimeoutException_from_Acquire_and_null_from_TryAcquire()
    {
        IDistributedLock resource = Lock();

        await Assert.ThrowsAsync<TimeoutException>(async () => await resource.AcquireAsync(TimeSpan.FromSeconds(1)));
        Assert.Null(await resource.TryAcquireAsync(TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task Every_acquisition_uses_a_new_token_so_the_lock_is_not_reentrant()
    {
        var resource = Lock();
        commands.OnAcquire = static _ => Task.FromResult<long?>(1);
        await using var first = await resource.AcquireAsync();
        commands.OnAcquireWaiting = (wait, _) =>
        {
            time.Advance(wait);
            return Task.FromResult<long?>(null);
        };

        Assert.Null(await resource.TryAcquireAsync(TimeSpan.FromSeconds(1)));
        Assert.Equal(2, commands.Tokens.Distinct().Count());
    }

    [Fact]
    public async Task Read_write_and_semaphore_acquires_name_their_family_mode_and_owner()
    {
        commands.OnAcquire = static _ => Task.FromResult<long?>(1);
        var options = Options();
        options.Owner = "worker-7";
        var provider = new RaftKvDistributedSynchronizationProvider(commands, NullLoggerFactory.Instance, options);

        await (await provider.CreateReaderWriterLock("rw").AcquireReadLockAsync()).DisposeAsync();
        await (await provider.CreateReaderWriterLock("rw").AcquireWriteLockAsync()).DisposeAsync();
        await (await provider.CreateSemaphore("pool", 3).AcquireAsync()).DisposeAsync();
        await (await provider.CreateLock("m").AcquireAsync()).DisposeAsync();

        Assert.Equal(
            ["RWLOCK.ACQUIRE rw READ worker-7", "RWLOCK.ACQUIRE rw WRITE worker-7", "SEMAPHORE.ACQUIRE pool 3 worker-7", "LOCK.ACQUIRE m 1 worker-7"],
            commands.Requests);
        Assert.Equal(commands.Tokens, commands.Releases);
    }

    [Fact]
    public void The_default_owner_is_the_machine_and_the_process()
    {
        commands.OnAcquire = static _ => Task.FromResult<long?>(null);

        Assert.Null(Lock().TryAcquire());

        Assert.EndsWith($" {Environment.MachineName}:{Environment.ProcessId}", commands.Requests.Single(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_provider_hands_out_each_kind_through_DistributedLocks_interfaces()
    {
        var provider = new RaftKvDistributedSynchronizationProvider(commands, NullLoggerFactory.Instance, Options());

        Assert.IsType<RaftKvDistributedLock>(((IDistributedLockProvider)provider).CreateLock("a"));
        var rw = Assert.IsType<RaftKvDistributedReaderWriterLock>(((IDistributedReaderWriterLockProvider)provider).CreateReaderWriterLock("b"));
        var semaphore = Assert.IsType<RaftKvDistributedSemaphore>(((IDistributedSemaphoreProvider)provider).CreateSemaphore("c", 4));
        Assert.Equal("b", rw.Name);
        Assert.Equal(("c", 4), (semaphore.Name, semaphore.MaxCount));
        Assert.Throws<ArgumentOutOfRangeException>(() => provider.CreateSemaphore("d", 0));
        Assert.Throws<ArgumentException>(() => provider.CreateLock(""));
    }

    [Fact]
    public void Acquire_arguments_follow_the_command_contract()
    {
        Assert.Equal(
            "m t 30000 WAIT 5000 OWNER o",
            string.Join(' ', LockResource.Mutex("m").AcquireArguments("t", 30000, 5000, "o")));
        Assert.Equal(
            "rw WRITE t 30000",
            string.Join(' ', LockResource.Write("rw").AcquireArguments("t", 30000, 0, "")));
        Assert.Equal(
            "s 5 t 1000 OWNER o",
            string.Join(' ', LockResource.Semaphore("s", 5).AcquireArguments("t", 1000, 0, "o")));
    }

    private RaftKvDistributedLock Lock() => new("lock:k", commands, NullLogger.Instance, Options());

    private static RaftKvLockOptions Options() => new() { Expiry = TimeSpan.FromSeconds(30), MaxClockSkew = TimeSpan.FromMilliseconds(500) };
}
