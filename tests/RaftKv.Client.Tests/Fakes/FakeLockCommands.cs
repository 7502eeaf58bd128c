using System.Collections.Concurrent;
using RaftKv.Client.Locks;

namespace RaftKv.Client.Tests.Fakes;

/// <summary>Lock commands answered by the test, recording what the lock and its handle asked for.</summary>
internal sealed class FakeLockCommands(TimeProvider time) : ILockCommands
{
    private int extensions;
    private int acquisitions;

    public TimeProvider TimeProvider => time;

    public TimeSpan MaxWait { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Answers an acquire, given the wait it asked the server for.</summary>
    public Func<TimeSpan, CancellationToken, Task<long?>> OnAcquireWaiting { get; set; } = static (_, _) => Task.FromResult<long?>(1);

    /// <summary>Answers an acquire regardless of its wait.</summary>
    public Func<CancellationToken, Task<long?>> OnAcquire
    {
        set => OnAcquireWaiting = (_, cancellation) => value(cancellation);
    }

    public Func<CancellationToken, Task<bool>> OnExtend { get; set; } = static _ => Task.FromResult(true);

    public Func<Task<bool>> OnRelease { get; set; } = static () => Task.FromResult(true);

    public int Acquisitions => Volatile.Read(ref acquisitions);

    public int Extensions => Volatile.Read(ref extensions);

    /// <summary>The token of every acquire, in order.</summary>
    public ConcurrentQueue<string> Tokens { get; } = new();

    /// <summary>The wait of every acquire, in order (zero: it did not wait).</summary>
    public ConcurrentQueue<TimeSpan> Waits { get; } = new();

    /// <summary>What every acquire named: family, name, mode and max-count, and owner.</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    public ConcurrentQueue<string> Releases { get; } = new();

    public Task<long?> AcquireAsync(LockResource resource, string token, TimeSpan ttl, TimeSpan wait, string owner, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref acquisitions);
        Tokens.Enqueue(token);
        Waits.Enqueue(wait);
        Requests.Enqueue($"{resource.AcquireCommand} {resource.Name} {resource.Mode ?? resource.MaxCount.ToString(System.Globalization.CultureInfo.InvariantCulture)} {owner}");
        return OnAcquireWaiting(wait, cancellationToken);
    }

    public async Task<bool> ExtendAsync(LockResource resource, string token, TimeSpan ttl, CancellationToken cancellationToken)
    {
        var result = await OnExtend(cancellationToken);
        Interlocked.Increment(ref extensions);
        return result;
    }

    public Task<bool> ReleaseAsync(LockResource resource, string token, CancellationToken cancellationToken)
    {
        Releases.Enqueue(token);
        return OnRelease();
    }
}
