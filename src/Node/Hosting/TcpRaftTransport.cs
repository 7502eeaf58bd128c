using System.Net;
using DotNext.Net.Cluster.Consensus.Raft;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using RaftKv.Node.Membership;
using RaftKv.Node.Raft;

namespace RaftKv.Node.Hosting;

/// <summary>
/// The Raft member over TCP (members addressed <c>tcp://host:port</c>) instead of HTTP/1.1 through Kestrel and
/// HttpClient: one persistent connection per peer and DotNext's binary framing, without an HTTP request and response
/// per AppendEntries. The sockets are RaftKv's (<see cref="AuthenticatedRaftTransport"/>, DotNext's custom transport):
/// every connection proves the cluster secret — inside mutual TLS with <c>RaftKv:Tls:Cluster</c> — before DotNext reads
/// a byte of it.
/// </summary>
internal static class TcpRaftTransport
{
    public const string Scheme = "tcp";

    /// <summary>True when <paramref name="address"/> (a member's Raft address) names the TCP transport.</summary>
    public static bool IsTcp(string address)
        => Uri.TryCreate(address, UriKind.Absolute, out var uri) && uri.Scheme == Scheme;

    /// <summary>
    /// Registers the TCP Raft member as <see cref="IRaftCluster"/>, started and stopped with the host. Kestrel runs only
    /// when <paramref name="serveHttp"/> (the metrics and health endpoint, <c>RaftKv:Http:Listen</c>).
    /// </summary>
    public static IServiceCollection AddTcpRaftCluster(this IServiceCollection services, IConfiguration raft, string publicEndPoint, bool serveHttp)
    {
        services
            .AddSingleton(provider =>
            {
                var node = provider.GetRequiredService<IOptions<NodeOptions>>().Value;
                var lower = raft.GetValue("lowerElectionTimeout", 150);
                var transport = provider.GetRequiredService<AuthenticatedRaftTransport>();
                var self = MemberEndPoint.From(provider.GetRequiredService<NodeIdentity>().Member);
                var storage = MemberStorage(node);
                var configuration = new RaftCluster.CustomTransportConfiguration(Resolve(node.RaftListen ?? publicEndPoint), transport, transport)
                {
                    PublicEndPoint = self,
                    ConfigurationStorage = storage,
                    LowerElectionTimeout = lower,
                    UpperElectionTimeout = raft.GetValue("upperElectionTimeout", lower * 2),
                    // One request to a peer; rpcTimeout is the HTTP transport's name for the same bound.
                    RequestTimeout = raft.GetValue<TimeSpan?>("rpcTimeout") ?? raft.GetValue("requestTimeout", TimeSpan.FromSeconds(2)),
                    // Covers the TCP connect, TLS and the handshake.
                    ConnectTimeout = TimeSpan.FromMilliseconds(lower),
                    HeartbeatThreshold = raft.GetValue("heartbeatThreshold", 0.5),
                    ColdStart = raft.GetValue("coldStart", false),
                    // A node in recovery must not become a candidate: its own vote counts without asking its log.
                    Standby = raft.GetValue("standby", false) || provider.GetRequiredService<NodeRecovery>().IsRecovering,
                    // Rounds of replication a member being added must keep up with before it becomes a voter.
                    WarmupRounds = raft.GetValue("warmupRounds", 10),
                    LoggerFactory = provider.GetRequiredService<ILoggerFactory>(),
                };

                return new RaftCluster(configuration) { AuditTrail = provider.GetRequiredService<IPersistentState>() };
            })
            .AddSingleton<AuthenticatedRaftTransport>()
            .AddSingleton<IRaftCluster>(provider => provider.GetRequiredService<RaftCluster>())
            .AddHostedService<Host>();
        if (!serveHttp)
            services.AddSingleton<IServer, NoHttpServer>();
        return services;
    }

    // The member list lives in the data directory and changes through the log (MEMBER.ADD / MEMBER.REMOVE). A data
    // directory without one starts from RaftKv:Members — unless this node joins a running cluster (RaftKv:Join): it
    // then starts with no members at all, which DotNext runs as a frozen standby until the leader's configuration
    // entry that adds it reaches this node's log.
    private static MemberConfigurationStorage MemberStorage(NodeOptions node)
    {
        var dataPath = Path.GetFullPath(node.DataPath);
        if (!MemberConfigurationStorage.Exists(dataPath) && !node.Join)
            MemberConfigurationStorage.WriteInitial(dataPath, node.Members.Select(MemberEndPoint.From));
        return new MemberConfigurationStorage(Path.Combine(dataPath, MemberConfigurationStorage.FileName));
    }

    private static IPEndPoint Resolve(string address)
    {
        var uri = new Uri(address, UriKind.Absolute);
        return IPAddress.TryParse(uri.Host, out var ip)
            ? new IPEndPoint(ip, uri.Port)
            : new IPEndPoint(Dns.GetHostAddresses(uri.Host)[0], uri.Port);
    }

    /// <summary>Starts the member with the host (after the state machine was restored) and stops it on shutdown.</summary>
    private sealed class Host(RaftCluster cluster, IEnumerable<IClusterMemberLifetime> lifetimes) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            foreach (var lifetime in lifetimes)
                lifetime.OnStart(cluster, new Dictionary<string, string>());
            await cluster.StartAsync(cancellationToken).ConfigureAwait(false);
        }

        public async Task StopAsync(CancellationToken cancellationToken)
        {
            await cluster.StopAsync(cancellationToken).ConfigureAwait(false);
            foreach (var lifetime in lifetimes)
                lifetime.OnStop(cluster);
        }
    }

    /// <summary>With Raft on its own transport and no HTTP endpoint configured, the node serves no HTTP: no Kestrel, no port.</summary>
    private sealed class NoHttpServer : IServer
    {
        public IFeatureCollection Features { get; } = new FeatureCollection();

        public Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken)
            where TContext : notnull
            => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public void Dispose()
        {
        }
    }
}
