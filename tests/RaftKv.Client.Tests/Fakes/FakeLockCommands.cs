using System.Collections.Concurrent;
using RaftKv.Client.Locks;

namespace RaftKv.Client.Tests.Fakes;

/// <summary>Lock commands answered by the test, counting what the handle asked for.</summary>
internal sealed class FakeLockCommands(TimeProvider time) : ILockCommands
{
    private int extensions;

    public TimeProvider TimeProvider => time;

    public Func<CancellationToken, Task<long?>> OnAcquire { get; set; } = static _ => Task.FromResult<long?>(1);

    public Func<CancellationToken, Task<bool>> OnExtend { get; set; } = static _ => Task.FromResult(true);

    public int Acquisitions { get; private set; }

    public int Extensions => Volatile.Read(ref extensions);

    public ConcurrentQueue<string> Tokens { get; } = new();

    public ConcurrentQueue<string> Releases { get; } = new();

    public Task<long?> AcquireLockAsync(string key, string token, TimeSpan ttl, CancellationToken cancellationToken)
    {
        Acquisitions++;
        Tokens.Enqueue(token);
        return OnAcquire(cancellationToken);
    }

    public async Task<bool> ExtendLockAsync(string key, string token, TimeSpan ttl, CancellationToken cancellationToken)
    {
        var result = await OnExtend(cancellationToken);
        Interlocked.Increment(ref extensions);
        return result;
    }

    public Task<bool> ReleaseLockAsync(string key, string token, CancellationToken cancellationToken)
    {
        Releases.Enqueue(token);
        return Task.FromResult(true);
    }
}
