using Medallion.Threading;
using Microsoft.Extensions.Logging;
using RaftKv.Client.Locks;

namespace RaftKv.Client;

/// <summary>
/// Creates RaftKv's locks, reader-writer locks and semaphores by name on one connection — DistributedLock's
/// <see cref="IDistributedLockProvider"/>, <see cref="IDistributedReaderWriterLockProvider"/> and
/// <see cref="IDistributedSemaphoreProvider"/>, as DistributedLock.Redis's <c>RedisDistributedSynchronizationProvider</c>
/// is for Redis. <c>services.AddRaftKv(...)</c> registers it.
/// </summary>
public sealed class RaftKvDistributedSynchronizationProvider : IDistributedLockProvider, IDistributedReaderWriterLockProvider, IDistributedSemaphoreProvider
{
    private readonly ILockCommands commands;
    private readonly RaftKvLockOptions options;
    private readonly ILoggerFactory loggerFactory;

    /// <summary>Creates the provider; every lock it makes uses <paramref name="connection"/> and <paramref name="options"/>.</summary>
    public RaftKvDistributedSynchronizationProvider(RaftKvConnection connection, RaftKvLockOptions? options = null)
        : this(connection ?? throw new ArgumentNullException(nameof(connection)), connection.LoggerFactory, options)
    {
    }

    internal RaftKvDistributedSynchronizationProvider(ILockCommands commands, ILoggerFactory loggerFactory, RaftKvLockOptions? options)
    {
        this.commands = commands;
        this.loggerFactory = loggerFactory;
        this.options = RaftKvLockOptions.ValidatedCopy(options);
    }

    /// <summary>The mutex named <paramref name="name"/> (the string key it is held in).</summary>
    public RaftKvDistributedLock CreateLock(string name)
        => new(name, commands, loggerFactory.CreateLogger<RaftKvDistributedLock>(), options);

    /// <summary>The reader-writer lock named <paramref name="name"/>.</summary>
    public RaftKvDistributedReaderWriterLock CreateReaderWriterLock(string name)
        => new(name, commands, loggerFactory.CreateLogger<RaftKvDistributedReaderWriterLock>(), options);

    /// <summary>The semaphore named <paramref name="name"/>, admitting <paramref name="maxCount"/> holders at once.</summary>
    public RaftKvDistributedSemaphore CreateSemaphore(string name, int maxCount)
        => new(name, maxCount, commands, loggerFactory.CreateLogger<RaftKvDistributedSemaphore>(), options);

    IDistributedLock IDistributedLockProvider.CreateLock(string name) => CreateLock(name);

    IDistributedReaderWriterLock IDistributedReaderWriterLockProvider.CreateReaderWriterLock(string name) => CreateReaderWriterLock(name);

    IDistributedSemaphore IDistributedSemaphoreProvider.CreateSemaphore(string name, int maxCount) => CreateSemaphore(name, maxCount);
}
