using DotNext.IO.Log;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.Http;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Options;
using RaftKv.Node.Backup;
using RaftKv.Node.Commands;
using RaftKv.Node.Peers;
using RaftKv.Node.Raft;
using RaftKv.Node.Security;
using RaftKv.Node.Telemetry;
using RaftKv.Node.Resp;
using RaftKv.Node.Routing;
using RaftKv.Node.Tls;

namespace RaftKv.Node.Hosting;

/// <summary>
/// Builds and runs a RaftKv node: the Raft member (DotNext's TCP transport, or HTTP in Kestrel), the state machine,
/// the peer channel to the other members and the RESP server.
/// </summary>
public static class RaftKvNode
{
    /// <summary>The configuration section holding DotNext's member settings (<c>publicEndPoint</c>, timeouts...).</summary>
    public const string RaftSection = "raft";

    /// <summary>
    /// Creates the node's application. Configuration comes from <paramref name="args"/> (<c>--config file.json</c>
    /// adds a JSON file; any <c>--Key=value</c> overrides) and <paramref name="configure"/> (tests).
    /// </summary>
    public static WebApplication Build(string[] args, Action<IConfigurationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        if (builder.Configuration["config"] is { Length: > 0 } file)
            builder.Configuration.AddJsonFile(Path.GetFullPath(file), optional: false);
        configure?.Invoke(builder.Configuration);
        builder.Configuration.AddCommandLine(args);

        ConfigureLogging(builder.Logging, builder.Configuration);

        var nodeOptions = builder.Configuration.GetSection(NodeOptions.Section).Get<NodeOptions>() ?? new NodeOptions();
        var publicEndPoint = builder.Configuration[$"{RaftSection}:publicEndPoint"]
            ?? throw new InvalidOperationException($"Missing '{RaftSection}:publicEndPoint' in the node configuration.");
        if (nodeOptions.Members.Count == 0)
            throw new NodeStartupException($"Missing '{NodeOptions.Section}:Members' in the node configuration.");
        if (nodeOptions.MaxMemory is { } maxMemory && !MemoryConfigParameters.TryParseMemory(maxMemory, out _))
            throw new NodeStartupException($"'{NodeOptions.Section}:MaxMemory' is '{maxMemory}', not a memory value (bytes, or a number with k, kb, m, mb, g or gb).");
        var respOptions = builder.Configuration.GetSection(RespServerOptions.SectionName).Get<RespServerOptions>() ?? new RespServerOptions();
        TlsConfiguration.AddRespTls(builder.Services, nodeOptions.Tls, respOptions.Port);
        var self = nodeOptions.Members.FirstOrDefault(m => SameAddress(m.Raft, publicEndPoint))
            ?? throw new NodeStartupException($"'{RaftSection}:publicEndPoint' {publicEndPoint} is not the Raft address of any of '{NodeOptions.Section}:Members'.");

        // The scheme of the Raft addresses picks the transport: tcp://host:port is DotNext's TCP transport, http:// its
        // HTTP/1.1 transport hosted in Kestrel.
        var tcp = TcpRaftTransport.IsTcp(publicEndPoint);
        var kestrel = NodeTelemetry.Add(builder, self, tcp ? null : nodeOptions.RaftListen ?? publicEndPoint);
        builder.Services.Configure<NodeOptions>(builder.Configuration.GetSection(NodeOptions.Section));
        builder.Services.Configure<SecurityOptions>(builder.Configuration.GetSection(SecurityOptions.Section));

        builder.Services.AddSingleton(new NodeIdentity(self));
        AddPeerChannel(builder.Services, nodeOptions, self);
        var clusterTls = ClusterTls.FromOptions(nodeOptions.Tls);
        if (clusterTls is not null && !tcp)
            throw new NodeStartupException("RaftKv:Tls:Cluster=true needs the TCP Raft transport (tcp:// member addresses): the HTTP transport is not protected.");
        builder.Services.AddSingleton(services => new PeerConnectionSecurity(
            services.GetRequiredService<ClusterSecret>(),
            clusterTls?.Reloading(services.GetRequiredService<TimeProvider>(), services.GetRequiredService<ILogger<ClusterTls>>())));

        var walOptions = new WriteAheadLog.Options
        {
            Location = nodeOptions.WalDirectory,

            // The WAL keeps one file, and one open handle, per chunk: at DotNext's default size a million writes
            // made ~20,000 files and the node died of "Too many open files". Bigger chunks keep that bounded.
            ChunkSize = nodeOptions.WalChunkBytes,
            MemoryManagement = nodeOptions.WalMemory,
            NoBuffering = nodeOptions.WalDirectIo,
        };

        // What UseStateMachine<T> registers, with DotNext's log replaced by one whose followers flush before they
        // acknowledge (see DurableWriteAheadLog).
        builder.Services
            .AddSingleton<RaftStateMachine>()
            .AddSingleton<IStateMachine>(services => services.GetRequiredService<RaftStateMachine>())
            .AddSingleton<IPersistentState>(services => new DurableWriteAheadLog(walOptions, services.GetRequiredService<IStateMachine>(), services.GetRequiredService<NodeRecovery>(), services.GetRequiredService<NodeMetrics>()))
            .AddSingleton<IAuditTrail<IRaftLogEntry>>(services => services.GetRequiredService<IPersistentState>())
            .ConfigureCluster<LeaderChangeLogger>();
        builder.Services
            .AddSingleton<NodeRecovery>()
            .AddHostedService<RecoveryStandby>();
        if (tcp)
        {
            builder.Services.AddTcpRaftCluster(builder.Configuration.GetSection(RaftSection), publicEndPoint, serveHttp: kestrel);
        }
        else
        {
            builder.Services.UseInMemoryConfigurationStorage(members =>
            {
                foreach (var member in nodeOptions.Members)
                    members.Add(new UriEndPoint(new Uri(member.Raft, UriKind.Absolute)));
            });
            builder.JoinCluster(RaftSection);
            builder.Services.AddOptions<HttpClusterMemberConfiguration>()
                .PostConfigure<NodeRecovery>(static (member, recovery) => member.Standby |= recovery.IsRecovering);
        }

        builder.Services
            .AddSingleton<TimeProvider>(services => services.GetRequiredService<IOptions<NodeOptions>>().Value.ClockOffset is var offset && offset != TimeSpan.Zero
                ? new OffsetTimeProvider(TimeProvider.System, offset)
                : TimeProvider.System)
            .AddSingleton<ClusterView>()
            .AddSingleton<ReadBarrier>()
            .AddSingleton<Proposer>()
            .AddSingleton<LeaderForwarder>()
            .AddSingleton<WriteLimits>()
            .AddSingleton<CommandRouter>()
            .AddSingleton<Locks.LockWaits>()
            .AddSingleton<Membership.ClusterMembership>()
            .AddSingleton<Membership.MembershipWatch>()
            .AddHostedService(static services => services.GetRequiredService<Membership.MembershipWatch>())
            .AddHostedService<IdleExpirySweep>()
            .AddHostedService<ConfiguredMaxMemory>()
            .AddSingleton<AclLog>()
            .AddSingleton<AccessControl>()
            .AddHostedService<ConfiguredUsers>()
            .AddSingleton<AclCommands>()
            .AddSingleton<IConfigParameters, SecurityConfigParameters>()
            .AddHostedService<StoppedApplierStepDown>()
            .AddSingleton<NodeCommands>()
            .AddSingleton<ConfigCommands>()
            .AddSingleton<OnlineBackup>()
            .AddSingleton<BackupCommands>()
            .AddSingleton<IConfigParameters, ServerConfigParameters>()
            .AddSingleton<IConfigParameters, ClientConfigParameters>()
            .AddSingleton<IConfigParameters, MemoryConfigParameters>()
            .AddCommandDiagnostics(builder.Configuration)
            .AddSingleton<IRespRequestHandler, CommandDispatcher>()
            .AddRespServer(builder.Configuration);

        return builder.Build();
    }

    // The peer channel: the cluster secret (required once there is another member to talk to) and, before anything
    // else starts, the listener and the start-up check that this node's secret is the members' secret.
    private static void AddPeerChannel(IServiceCollection services, NodeOptions options, ClusterMemberOptions self)
    {
        var peer = options.Peer;
        var hasSecret = !string.IsNullOrEmpty(peer.ClusterSecret) || !string.IsNullOrEmpty(peer.ClusterSecretFile);

        // A single member with a secret and a peer address runs the peer channel too, so that it can grow (MEMBER.ADD).
        if (options.Members.Count == 1 && !(hasSecret && !string.IsNullOrEmpty(self.Peer)))
        {
            // Alone, a node forwards nothing; a secret is still honoured if configured.
            services.AddSingleton(_ => string.IsNullOrEmpty(peer.ClusterSecret) && string.IsNullOrEmpty(peer.ClusterSecretFile)
                ? new ClusterSecret(Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)))
                : ClusterSecret.FromOptions(peer));
            return;
        }

        ClusterSecret secret;
        try
        {
            secret = ClusterSecret.FromOptions(peer);
        }
        catch (InvalidOperationException e)
        {
            throw new NodeStartupException(e.Message);
        }

        var missing = options.Members.FindIndex(static m => string.IsNullOrEmpty(m.Peer));
        if (missing >= 0)
            throw new NodeStartupException($"'{NodeOptions.Section}:Members:{missing}:Peer' is not set: every member needs a peer-channel address (host:port), other than its RESP and Raft ports.");
        services.PostConfigure<NodeOptions>(o => o.Peer.Listen ??= self.Peer);
        services
            .AddSingleton(secret)
            .AddSingleton<IPeerRequestHandler, PeerRequestHandler>()
            .AddSingleton<PeerListener>()
            .AddHostedService(static provider => provider.GetRequiredService<PeerListener>())
            .AddSingleton<PeerSecretCheck>();
    }

    private static bool SameAddress(string first, string second)
        => Uri.TryCreate(first, UriKind.Absolute, out var a) && Uri.TryCreate(second, UriKind.Absolute, out var b)
            ? a.Scheme == b.Scheme && a.Port == b.Port && string.Equals(a.Host, b.Host, StringComparison.OrdinalIgnoreCase)
            : string.Equals(first, second, StringComparison.OrdinalIgnoreCase);

    /// <summary>Restores the last snapshot, then wires the Raft endpoint and starts the node.</summary>
    /// <remarks>
    /// The order matters: <c>UseConsensusProtocolHandler</c> resolves the cluster and with it the write-ahead log,
    /// whose constructor throws once a snapshot exists on disk unless the state machine was restored first.
    /// </remarks>
    public static async Task StartAsync(WebApplication app, CancellationToken token = default)
    {
        // Before anything listens or votes: a node whose cluster secret the other members refuse does not start. The
        // same probe asks the members' commit indexes, which decide (with the data directory) whether it recovers.
        long? membersCommitted = null;
        if (app.Services.GetService<PeerSecretCheck>() is { } check)
            membersCommitted = await check.RunAsync(token).ConfigureAwait(false);
        app.Services.GetRequiredService<NodeRecovery>().Decide(membersCommitted);
        try
        {
            await app.Services.GetRequiredService<RaftStateMachine>().RestoreAsync(token).ConfigureAwait(false);
        }
        catch (UnreadableSnapshotException e)
        {
            // One line naming the file, not a stack trace: restoring part of a state, or none, would diverge silently.
            throw new NodeStartupException(e.Message + " The node does not start on it: put back a good copy of this node's own data directory.");
        }
        // The configured users are read once, here (after the restore: AccessControl reaches the Raft cluster, whose log
        // must not be built before it): an unreadable or wrong ACL file stops the start before any port opens.
        _ = app.Services.GetRequiredService<AccessControl>();
        if (app.Services.GetService<IRaftHttpCluster>() is not null)
            app.UseConsensusProtocolHandler();
        NodeTelemetry.Map(app);
        try
        {
            await app.StartAsync(token).ConfigureAwait(false);
        }
        catch (Exception) when (app.Services.GetRequiredService<RaftStateMachine>().Stopped is { DamagedEntry: true } stop)
        {
            // The log built above applies the committed entries in the background and the Raft member's start waits for
            // that (DotNext's InitializeAsync), wrapping the apply's exception: the state machine kept what it was.
            throw new NodeStartupException(stop.Message + " The node does not start on it: replace this node's data by the documented procedure (docs/storage.md).");
        }
    }

    private static void ConfigureLogging(ILoggingBuilder logging, IConfiguration configuration)
    {
        logging.ClearProviders();
        ConsoleLogFormat.AddConsole(logging, configuration);

        // Defaults that keep a healthy node to a line per leader change; a "Logging" section in the config overrides
        // them. DotNext logs every failed heartbeat with a stack trace while a peer is down, ASP.NET every request.
        logging.AddFilter("DotNext", LogLevel.Error);
        logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        logging.AddFilter("Microsoft.Hosting", LogLevel.Warning);
        logging.AddFilter("System.Net.Http", LogLevel.Warning);
        logging.AddConfiguration(configuration.GetSection("Logging"));
    }
}
