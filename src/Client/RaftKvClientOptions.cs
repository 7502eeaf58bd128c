namespace RaftKv.Client;

/// <summary>Settings of a <see cref="RaftKvConnection"/>; bind them from configuration or set them in code.</summary>
public sealed class RaftKvClientOptions
{
    /// <summary>
    /// Seed nodes' RESP addresses, <c>host:port</c> (<c>127.0.0.1:6381</c>, <c>[::1]:6381</c>, <c>kv1.internal:6381</c>).
    /// One reachable node is enough: the others are learned from it unless <see cref="DiscoverMembers"/> is off.
    /// </summary>
    public IList<string> Endpoints { get; } = [];

    /// <summary>
    /// Learn every member from <c>INFO raft</c> and follow the leader addresses the cluster advertises (default).
    /// Turn off when those addresses are not reachable from the client (NAT, port forwarding, a proxy): only
    /// <see cref="Endpoints"/> are then used, and a follower among them forwards writes to the leader.
    /// </summary>
    public bool DiscoverMembers { get; set; } = true;

    /// <summary>
    /// How long one operation may take, retries included, before it fails with <see cref="RaftKvTimeoutException"/>
    /// (nothing applied) or <see cref="RaftKvUnknownOutcomeException"/> (a write that may have been applied).
    /// </summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long opening a TCP connection to one node and asking it for its role may take.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// How long the connection may owe a reply before it is presumed dead (a node that hangs or a network that drops
    /// packets silently) and replaced; the requests on it are retried elsewhere.
    /// </summary>
    public TimeSpan ReplyTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The first retry's delay; each further retry doubles it, with jitter, up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan MinRetryDelay { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>The longest delay between two retries of one operation.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The session's time to live on the server without traffic (1 s to 24 h). The connection sends a keep-alive after
    /// a third of it without writes. A write whose reply was lost can be retried exactly once while its session lives.
    /// </summary>
    public TimeSpan SessionTtl { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The longest one blocked lock acquire waits on the server (its <c>WAIT</c>) before the client sends it again with
    /// the same token: a wait longer than this (or infinite) goes in rounds of this length. The server ends a wait at
    /// its deadline, so each new round queues at the tail — a waiter may lose its place to acquires that arrive in the
    /// moment between two rounds, once per round. The wait's connection may owe its reply this long plus twice
    /// <see cref="OperationTimeout"/> before it is presumed dead; a node cut off from the leader answers sooner.
    /// </summary>
    public TimeSpan MaxLockWait { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How often the connection asks its node whether it still leads, to move to a new leader promptly.</summary>
    public TimeSpan TopologyRefreshInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>TLS to the nodes; off unless <see cref="RaftKvTlsOptions.Enabled"/>.</summary>
    public RaftKvTlsOptions Tls { get; set; } = new();

    /// <summary>
    /// The user to authenticate as (<c>AUTH user password</c>); null sends <c>AUTH password</c>, Redis's default user.
    /// Needs <see cref="Password"/>.
    /// </summary>
    public string? User { get; set; }

    /// <summary>
    /// The password sent with <c>AUTH</c> on every connection the client opens, before anything else; null sends no
    /// AUTH. A refusal (<c>-WRONGPASS</c>) fails with <see cref="RaftKvAuthenticationException"/>, not retried. A node
    /// that answers that it needs no password is used as it is.
    /// </summary>
    public string? Password { get; set; }

    /// <summary>Checks the settings; throws <see cref="ArgumentException"/> naming the first bad one.</summary>
    public void Validate()
    {
        if (Endpoints.Count == 0)
            throw new ArgumentException("At least one endpoint (host:port) is required.", nameof(Endpoints));
        foreach (var endpoint in Endpoints)
            _ = Topology.EndpointAddress.Parse(endpoint);

        RequirePositive(OperationTimeout, nameof(OperationTimeout));
        RequirePositive(ConnectTimeout, nameof(ConnectTimeout));
        RequirePositive(ReplyTimeout, nameof(ReplyTimeout));
        RequirePositive(MinRetryDelay, nameof(MinRetryDelay));
        RequirePositive(TopologyRefreshInterval, nameof(TopologyRefreshInterval));
        RequirePositive(MaxLockWait, nameof(MaxLockWait));
        if (MaxRetryDelay < MinRetryDelay)
            throw new ArgumentException($"{nameof(MaxRetryDelay)} must be at least {nameof(MinRetryDelay)}.", nameof(MaxRetryDelay));
        if (User is not null && Password is null)
            throw new ArgumentException($"{nameof(User)} is set without a {nameof(Password)}.", nameof(Password));
        ArgumentNullException.ThrowIfNull(Tls, nameof(Tls));
        Tls.Validate();
        if (SessionTtl < TimeSpan.FromSeconds(1) || SessionTtl > TimeSpan.FromHours(24))
            throw new ArgumentException($"{nameof(SessionTtl)} must be between 1 second and 24 hours.", nameof(SessionTtl));
    }

    internal RaftKvClientOptions Snapshot()
    {
        var copy = new RaftKvClientOptions
        {
            DiscoverMembers = DiscoverMembers,
            OperationTimeout = OperationTimeout,
            ConnectTimeout = ConnectTimeout,
            ReplyTimeout = ReplyTimeout,
            MinRetryDelay = MinRetryDelay,
            MaxRetryDelay = MaxRetryDelay,
            SessionTtl = SessionTtl,
            TopologyRefreshInterval = TopologyRefreshInterval,
            MaxLockWait = MaxLockWait,
            Tls = Tls.Copy(),
            User = User,
            Password = Password,
        };
        foreach (var endpoint in Endpoints)
            copy.Endpoints.Add(Topology.EndpointAddress.Parse(endpoint).ToString());
        return copy;
    }

    private static void RequirePositive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero)
            throw new ArgumentException($"{name} must be positive.", name);
    }
}
