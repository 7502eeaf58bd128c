using Medallion.Threading;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RaftKv.Client;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary><c>services.AddRaftKv(...)</c>: the connection and the lock provider for dependency injection.</summary>
public static class RaftKvServiceCollectionExtensions
{
    /// <summary>
    /// Registers a singleton <see cref="RaftKvConnection"/> configured by <paramref name="configureClient"/> (on top of
    /// any <c>services.Configure&lt;RaftKvClientOptions&gt;(...)</c>, e.g. bound from configuration) and a singleton
    /// <see cref="RaftKvDistributedSynchronizationProvider"/> on it, also as DistributedLock's
    /// <see cref="IDistributedLockProvider"/>, <see cref="IDistributedReaderWriterLockProvider"/> and
    /// <see cref="IDistributedSemaphoreProvider"/>, with the locks configured by <paramref name="configureLocks"/>
    /// (and <c>services.Configure&lt;RaftKvLockOptions&gt;(...)</c>).
    /// </summary>
    /// <remarks>
    /// <para>
    /// The connection is made when it is first resolved (directly or through the provider): that resolution blocks
    /// until a leader is found and a session opened, and throws <see cref="RaftKvTimeoutException"/> when none is found
    /// within <see cref="RaftKvClientOptions.OperationTimeout"/> (the next resolution tries again). Resolve it at start-up
    /// to fail fast. It uses the container's <see cref="ILoggerFactory"/> and <see cref="TimeProvider"/> when registered.
    /// </para>
    /// <para>
    /// The connection is disposed with the container; it is <see cref="IAsyncDisposable"/> only, so dispose the
    /// container with <c>DisposeAsync</c> (the .NET host does).
    /// </para>
    /// </remarks>
    public static IServiceCollection AddRaftKv(
        this IServiceCollection services, Action<RaftKvClientOptions>? configureClient = null, Action<RaftKvLockOptions>? configureLocks = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var client = services.AddOptions<RaftKvClientOptions>();
        if (configureClient is not null)
            client.Configure(configureClient);
        return services.AddRaftKvCore(static provider => provider.GetRequiredService<IOptions<RaftKvClientOptions>>().Value, configureLocks);
    }

    /// <summary>
    /// Registers the connection and the lock provider as <see cref="AddRaftKv(IServiceCollection, Action{RaftKvClientOptions}?, Action{RaftKvLockOptions}?)"/>
    /// does, with the client settings in <paramref name="options"/> (read when the connection is made).
    /// </summary>
    public static IServiceCollection AddRaftKv(this IServiceCollection services, RaftKvClientOptions options, Action<RaftKvLockOptions>? configureLocks = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        return services.AddRaftKvCore(_ => options, configureLocks);
    }

    private static IServiceCollection AddRaftKvCore(
        this IServiceCollection services, Func<IServiceProvider, RaftKvClientOptions> clientOptions, Action<RaftKvLockOptions>? configureLocks)
    {
        var locks = services.AddOptions<RaftKvLockOptions>();
        if (configureLocks is not null)
            locks.Configure(configureLocks);

        // A DI factory is synchronous, and the connection is worth nothing until it has found a leader.
        services.TryAddSingleton(provider => RaftKvConnection.ConnectAsync(
                clientOptions(provider), provider.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance, provider.GetService<TimeProvider>())
            .GetAwaiter().GetResult());
        services.TryAddSingleton(static provider => new RaftKvDistributedSynchronizationProvider(
            provider.GetRequiredService<RaftKvConnection>(), provider.GetRequiredService<IOptions<RaftKvLockOptions>>().Value));
        services.TryAddSingleton<IDistributedLockProvider>(static provider => provider.GetRequiredService<RaftKvDistributedSynchronizationProvider>());
        services.TryAddSingleton<IDistributedReaderWriterLockProvider>(static provider => provider.GetRequiredService<RaftKvDistributedSynchronizationProvider>());
        services.TryAddSingleton<IDistributedSemaphoreProvider>(static provider => provider.GetRequiredService<RaftKvDistributedSynchronizationProvider>());
        return services;
    }
}
