using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RaftKv.Client.Commands;
using RaftKv.Client.Retry;
using RaftKv.Client.Sessions;
using RaftKv.Client.Topology;
using RaftKv.Client.Transport;

namespace RaftKv.Client;

/// <summary>
/// A long-lived, thread-safe connection to a RaftKv cluster: finds the leader, sends every caller's commands over one
/// pipelined connection to it, follows it when it moves, and retries writes exactly once through a server session.
/// Create one per application and share it, as with StackExchange.Redis's <c>ConnectionMultiplexer</c>.
/// </summary>
/// <remarks>
/// <para>
/// Writes travel inside the connection's session (<c>SESSION.EXEC id seq ack ...</c>). When a write's reply is lost
/// (connection dropped, leader killed, <c>-UNCERTAIN</c>) the client sends the same sequence number again, to
/// whichever node leads by then, and the server answers from its record if the first attempt was applied: a retried
/// <c>SET k v NX</c> answers OK, not nil. Reads are sent plain and retried freely.
/// </para>
/// <para>
/// Failures a retry can fix (<c>-MOVED</c>, <c>-CLUSTERDOWN</c>, a lost connection, an election) are retried with
/// exponential backoff until <see cref="RaftKvClientOptions.OperationTimeout"/>. What reaches the caller is the
/// command's result, <see cref="RaftKvServerException"/> (the command's own error), <see cref="RaftKvTimeoutException"/>
/// (nothing applied), <see cref="RaftKvUnknownOutcomeException"/> (a write may have been applied, once), or
/// <see cref="OperationCanceledException"/> when the caller cancels — a write cancelled after it was sent may have
/// been applied.
/// </para>
/// </remarks>
public sealed partial class RaftKvConnection : IAsyncDisposable
{
    private readonly RaftKvClientOptions options;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private readonly ClusterTopology topology;
    private readonly ChannelSetup channelSetup;
    private readonly RaftKvCommand infoRaft = new("INFO", ["raft"], Delivery.Idempotent);
    private readonly RaftKvCommand openSession;
    private readonly CancellationTokenSource shutdown = new();

    // Not disposed with the connection: operations still unwinding may touch them, and they hold no unmanaged
    // resource unless AvailableWaitHandle is used, which it is not.
    private readonly SemaphoreSlim channelGate = new(1, 1);
    private readonly SemaphoreSlim sessionGate = new(1, 1);
    private readonly ConcurrentDictionary<string, bool> refusedInSession = new(StringComparer.OrdinalIgnoreCase);
    private readonly Channel<LeaderChangedEventArgs> leaderChanges = Channel.CreateUnbounded<LeaderChangedEventArgs>(new UnboundedChannelOptions { SingleReader = true });
    private RespChannel? channel;
    private ClientSession? session;
    private Task background = Task.CompletedTask;
    private string? lastDiscoveryFailure;
    private int disposed;

    private RaftKvConnection(RaftKvClientOptions options, ILoggerFactory loggerFactory, TimeProvider time)
    {
        this.options = options;
        this.time = time;
        LoggerFactory = loggerFactory;
        logger = loggerFactory.CreateLogger<RaftKvConnection>();
        topology = new ClusterTopology([.. options.Endpoints], options.DiscoverMembers);
        channelSetup = new ChannelSetup(TlsConnector.Create(options.Tls), options.User, options.Password);
        openSession = new RaftKvCommand("SESSION.OPEN", [(long)options.SessionTtl.TotalMilliseconds], Delivery.Idempotent);
    }

    /// <summary>
    /// Raised, in order and off the request path, when the connection finds a new leader: another node, or the same
    /// node in a new term. A handler that throws is logged and does not stop later notifications.
    /// </summary>
    public event EventHandler<LeaderChangedEventArgs>? LeaderChanged;

    /// <summary>The leader's RESP address as the cluster advertises it; null before the first discovery.</summary>
    public string? Leader => topology.Leader;

    /// <summary>The Raft term of <see cref="Leader"/>.</summary>
    public long Term => topology.Term;

    /// <summary>The nodes the client knows of: members learned from the cluster and the configured endpoints.</summary>
    public IReadOnlyList<string> Members => topology.Members;

    internal ILoggerFactory LoggerFactory { get; }

    /// <summary>The current session's id; null when none is open (before the first write after one expired).</summary>
    internal long? SessionId => Volatile.Read(ref session)?.Id;

    /// <summary>Connects to the cluster: finds the leader and opens a session.</summary>
    /// <exception cref="RaftKvTimeoutException">No leader was found within <see cref="RaftKvClientOptions.OperationTimeout"/>.</exception>
    /// <exception cref="RaftKvAuthenticationException">A node refused <see cref="RaftKvClientOptions.User"/>/<see cref="RaftKvClientOptions.Password"/>.</exception>
    public static Task<RaftKvConnection> ConnectAsync(RaftKvClientOptions options, CancellationToken cancellationToken = default)
        => ConnectAsync(options, null, null, cancellationToken);

    /// <summary>Connects to the cluster with a logger factory and, for tests, a time provider.</summary>
    /// <exception cref="RaftKvTimeoutException">No leader was found within <see cref="RaftKvClientOptions.OperationTimeout"/>.</exception>
    public static async Task<RaftKvConnection> ConnectAsync(
        RaftKvClientOptions options,
        ILoggerFactory? loggerFactory,
        TimeProvider? timeProvider = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var connection = new RaftKvConnection(options.Snapshot(), loggerFactory ?? NullLoggerFactory.Instance, timeProvider ?? TimeProvider.System);
        try
        {
            using var deadline = connection.StartDeadline(cancellationToken);
            try
            {
                await connection.GetChannelAsync(deadline).ConfigureAwait(false);
            }
            catch (OperationCanceledException e) when (deadline.Expired && !cancellationToken.IsCancellationRequested)
            {
                throw new RaftKvTimeoutException(
                    $"No RaftKv leader found within {options.OperationTimeout} (endpoints: {string.Join(", ", options.Endpoints)}; last failure: {connection.lastDiscoveryFailure ?? "none"}).",
                    e);
            }

            await connection.EnsureSessionAsync(deadline).ConfigureAwait(false);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        connection.StartBackgroundWork();
        return connection;
    }

    /// <summary>
    /// Closes the session (best effort) and the connection. Operations still running fail with
    /// <see cref="ObjectDisposedException"/>.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
            return;

        await shutdown.CancelAsync().ConfigureAwait(false);
        leaderChanges.Writer.TryComplete();
        await background.ConfigureAwait(false);
        await CloseIdleTransactionChannelsAsync().ConfigureAwait(false);

        // Under the gate: a discovery finishing now either installs its channel before this takes it, or sees the
        // shutdown and closes the channel itself.
        RespChannel? last;
        await channelGate.WaitAsync().ConfigureAwait(false);
        try
        {
            last = Interlocked.Exchange(ref channel, null);
        }
        finally
        {
            channelGate.Release();
        }

        if (last is not null)
        {
            await CloseSessionAsync(last).ConfigureAwait(false);
            await last.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Runs <paramref name="command"/> with retries until it has a definite result or the deadline passes.</summary>
    internal async Task<RespValue> ExecuteAsync(RaftKvCommand command, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
        using var deadline = StartDeadline(cancellationToken);
        return await RunAsync(command, deadline).ConfigureAwait(false);
    }

    /// <summary>How a command named <paramref name="name"/> is delivered, given what the server has said so far.</summary>
    internal Delivery DeliveryOf(string name)
        => refusedInSession.ContainsKey(name) ? Delivery.AtMostOnce : CommandCatalog.Classify(name);

    private OperationDeadline StartDeadline(CancellationToken cancellationToken)
        => OperationDeadline.Start(time, options.OperationTimeout, cancellationToken, shutdown.Token);

    private async Task<RespValue> RunAsync(RaftKvCommand command, OperationDeadline deadline)
    {
        var write = command.Delivery == Delivery.ExactlyOnce ? new SessionWrite() : null;
        var backoff = new RetryBackoff(options.MinRetryDelay, options.MaxRetryDelay);
        var maybeApplied = false;
        Exception? lastFailure = null;
        try
        {
            while (true)
            {
                var current = await GetChannelAsync(deadline).ConfigureAwait(false);
                var pending = write is null ? new PendingReply(command) : await StampAsync(command, write, deadline).ConfigureAwait(false);

                RespValue reply;
                try
                {
                    reply = await current.SendAsync(pending, deadline.Token).ConfigureAwait(false);
                }
                catch (ConnectionLostException lost)
                {
                    lastFailure = lost;
                    if (pending.WasSent && command.Delivery != Delivery.Idempotent)
                    {
                        if (command.Delivery == Delivery.AtMostOnce)
                            throw new RaftKvUnknownOutcomeException(command.Name, "the connection was lost after it was sent", lost);
                        maybeApplied = true;
                        write!.MarkMayHaveBeenApplied();
                    }

                    await RetryAfterAsync(command, lost.Message, ref backoff, deadline).ConfigureAwait(false);
                    continue;
                }
                catch (OperationCanceledException) when (pending.WasSent && command.Delivery != Delivery.Idempotent)
                {
                    maybeApplied = true;
                    write?.MarkMayHaveBeenApplied();
                    throw;
                }

                if (!reply.IsError)
                {
                    write?.Session!.Touch(pending.SentAt);
                    return reply;
                }

                var error = reply.AsString()!;
                lastFailure = new RaftKvServerException(error);
                switch (ServerErrors.Classify(error))
                {
                    case ServerErrorKind.Moved:
                        if (ServerErrors.MovedTo(error) is { } leader)
                            topology.Hint(leader);
                        current.Retire();
                        await RetryAfterAsync(command, error, ref backoff, deadline).ConfigureAwait(false);
                        continue;

                    case ServerErrorKind.NotReady:
                        current.Retire();
                        await RetryAfterAsync(command, error, ref backoff, deadline).ConfigureAwait(false);
                        continue;

                    case ServerErrorKind.Uncertain when command.Delivery != Delivery.Idempotent:
                        if (command.Delivery == Delivery.AtMostOnce)
                            throw new RaftKvUnknownOutcomeException(command.Name, "leadership changed while it was in flight", lastFailure);
                        maybeApplied = true;
                        write!.MarkMayHaveBeenApplied();
                        current.Retire();
                        await RetryAfterAsync(command, error, ref backoff, deadline).ConfigureAwait(false);
                        continue;

                    case ServerErrorKind.Uncertain:
                        current.Retire();
                        await RetryAfterAsync(command, error, ref backoff, deadline).ConfigureAwait(false);
                        continue;

                    case ServerErrorKind.NoSession when write is not null:
                        ForgetSession(write.Session!, error);
                        if (write.MayHaveBeenApplied)
                            throw new RaftKvUnknownOutcomeException(command.Name, "its session expired before a retry could learn the outcome", lastFailure);
                        write.Release();
                        continue;

                    case ServerErrorKind.SessionFull when write is not null:
                        await RetryAfterAsync(command, error, ref backoff, deadline).ConfigureAwait(false);
                        continue;

                    case ServerErrorKind.RefusedInSession when write is not null:
                        // Nothing was applied; the server runs this command only outside sessions, as any Redis client sends it.
                        refusedInSession[command.Name] = true;
                        Log.RefusedInSession(logger, command.Name);
                        write.Release();
                        write = null;
                        command = command.WithoutSession();
                        continue;

                    default:
                        write?.Session!.Touch(pending.SentAt);
                        throw (RaftKvServerException)lastFailure;
                }
            }
        }
        catch (OperationCanceledException e) when (!deadline.CallerToken.IsCancellationRequested)
        {
            if (deadline.ShutdownToken.IsCancellationRequested)
                throw new ObjectDisposedException(nameof(RaftKvConnection), e);
            maybeApplied |= write?.MayHaveBeenApplied ?? false;
            throw maybeApplied
                ? new RaftKvUnknownOutcomeException(command.Name, $"no reply within the operation timeout of {options.OperationTimeout}", lastFailure ?? e)
                : new RaftKvTimeoutException(
                    $"{command.Name} did not complete within {options.OperationTimeout}{(command.Delivery == Delivery.Idempotent ? "" : "; it was not applied")}. "
                    + $"Last failure: {lastFailure?.Message ?? lastDiscoveryFailure ?? "none"}",
                    lastFailure ?? e);
        }
        finally
        {
            write?.Release();
        }
    }

    // Numbers the write in the current session (opening one if needed) and builds the attempt.
    private async ValueTask<PendingReply> StampAsync(RaftKvCommand command, SessionWrite write, OperationDeadline deadline)
    {
        var current = await EnsureSessionAsync(deadline).ConfigureAwait(false);
        if (write.Session is { } bound && !ReferenceEquals(bound, current) && write.MayHaveBeenApplied)
        {
            // A session is replaced only after the server said it no longer knows it: the record that could tell
            // whether this write was applied is gone.
            throw new RaftKvUnknownOutcomeException(command.Name, "its session expired before a retry could learn the outcome");
        }

        write.Bind(current);
        var (sequence, ack) = write.Stamp();
        return new PendingReply(command, current.Id, sequence, ack);
    }

    private Task RetryAfterAsync(RaftKvCommand command, string reason, ref RetryBackoff backoff, OperationDeadline deadline)
    {
        var delay = backoff.Next(Random.Shared);
        Log.Retrying(logger, command.Name, (long)delay.TotalMilliseconds, reason);
        return deadline.DelayAsync(delay);
    }
}
