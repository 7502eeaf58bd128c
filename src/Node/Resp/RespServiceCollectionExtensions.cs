using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace RaftKv.Node.Resp;

/// <summary>Registers the RESP server.</summary>
public static class RespServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="RespServer"/> as a singleton (so <c>INFO</c> can read its counters) and as a hosted
    /// service. Options bind from <paramref name="configuration"/>: <see cref="RespServerOptions"/> from
    /// <c>RaftKv:Resp</c> (<c>BindAddress</c>, <c>Port</c>, ...), <see cref="RespLimits"/> from <c>RaftKv:Limits</c>
    /// (the start values of the node's one <see cref="ClientLimits"/>, which <c>CONFIG SET</c> changes);
    /// <paramref name="configure"/> runs after binding. Register the <see cref="IRespRequestHandler"/> separately.
    /// A <see cref="TimeProvider"/> is added (the system clock) unless one is registered.
    /// </summary>
    public static IServiceCollection AddRespServer(
        this IServiceCollection services,
        IConfiguration configuration,
        Action<RespServerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);

        services.AddOptions<RespServerOptions>().Bind(configuration.GetSection(RespServerOptions.SectionName));
        services.AddOptions<RespLimits>().Bind(configuration.GetSection(RespLimits.SectionName));
        if (configure is not null)
            services.Configure(configure);

        services.TryAddSingleton(static provider => new ClientLimits(provider.GetRequiredService<IOptions<RespLimits>>().Value));
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<RespServer>();
        services.AddHostedService(static provider => provider.GetRequiredService<RespServer>());
        return services;
    }
}
