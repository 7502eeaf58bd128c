using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace RaftKv.Node.Resp;

/// <summary>
/// Serves RESP over TCP: accepts connections and runs each as a <see cref="RespSession"/> that hands requests to the
/// <see cref="IRespRequestHandler"/> and sends the replies back in request order.
/// </summary>
/// <remarks>Register it with <see cref="RespServiceCollectionExtensions.AddRespServer"/>.</remarks>
public sealed class RespServer : IHostedService, IAsyncDisposable
{
    private readonly RespServerOptions _options;
    private readonly RespRequestParser _parser;
    private readonly long _maxQueryBuffer;
    private readonly IRespRequestHandler _handler;
    private readonly TimeProvider _time;
    private readonly ILogger<RespServer> _logger;
    private readonly ConcurrentDictionary<long, RespSession> _sessions = new();
    private readonly CancellationTokenSource _stopping = new();
    private Socket? _listener;
    private Task _acceptLoop = Task.CompletedTask;
    private long _lastConnectionId;
    private long _totalConnections;
    private int _connectedClients;

    /// <summary>Creates the server; it listens from <see cref="StartAsync"/> on.</summary>
    /// <exception cref="ArgumentException">A limit in <paramref name="limits"/> is out of range.</exception>
    public RespServer(
        IOptions<RespServerOptions> options,
        IOptions<RespLimits> limits,
        IRespRequestHandler handler,
        TimeProvider time,
        ILogger<RespServer> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(limits);
        _options = options.Value;
        _parser = new RespRequestParser(limits.Value);
        _maxQueryBuffer = limits.Value.MaxQueryBuffer;
        _handler = handler;
        _time = time;
        _logger = logger;
    }

    /// <summary>The address the server listens on, once started (with the actual port when 0 was configured).</summary>
    public IPEndPoint? LocalEndPoint { get; private set; }

    /// <summary>The port the server listens on, once started; 0 before.</summary>
    public int Port => LocalEndPoint?.Port ?? 0;

    /// <summary>How many clients are connected now (Redis's <c>connected_clients</c>).</summary>
    public int ConnectedClients => Volatile.Read(ref _connectedClients);

    /// <summary>The connections open now, in no particular order (<c>CLIENT LIST</c>).</summary>
    public IEnumerable<RespConnection> Connections => _sessions.Values.Select(static session => session.Connection);

    /// <summary>How many connections have been accepted since start (Redis's <c>total_connections_received</c>).</summary>
    public long TotalConnectionsReceived => Interlocked.Read(ref _totalConnections);

    /// <summary>Binds the listening socket, so <see cref="Port"/> is known when this returns, and starts accepting.</summary>
    /// <exception cref="InvalidOperationException">The server was started before, or the bind address is not an IP address.</exception>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(_stopping.IsCancellationRequested, this);
        if (_listener is not null)
            throw new InvalidOperationException("The RESP server is already started.");

        var endPoint = new IPEndPoint(ParseBindAddress(_options.BindAddress), _options.Port);
        var listener = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endPoint.Address.Equals(IPAddress.IPv6Any))
                listener.DualMode = true;
            listener.Bind(endPoint);
            listener.Listen(_options.Backlog);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        _listener = listener;
        LocalEndPoint = (IPEndPoint)listener.LocalEndPoint!;
        RespLog.Listening(_logger, LocalEndPoint);
        _acceptLoop = AcceptLoopAsync(listener, _stopping.Token);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Stops accepting, closes every connection (aborting what their replies wait for) and waits for them to finish,
    /// or until <paramref name="cancellationToken"/> says to stop waiting.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_listener is null || _stopping.IsCancellationRequested)
            return;

        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        await _acceptLoop.WaitAsync(cancellationToken).ConfigureAwait(false);

        // Every session's token is linked to _stopping, so they are all closing; no new ones start after the accept loop.
        var closing = _sessions.Values.Select(static session => session.Completion);
        await Task.WhenAll(closing).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops the server if it is running.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _listener?.Dispose();
        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync(Socket listener, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception e) when (stopping.IsCancellationRequested && e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            catch (SocketException e)
            {
                // Usually transient (a client that reset before we accepted, or out of file descriptors): pause briefly
                // so the second kind does not spin.
                RespLog.AcceptFailed(_logger, e);
                await DelayQuietlyAsync(TimeSpan.FromMilliseconds(50), stopping).ConfigureAwait(false);
                continue;
            }

            StartSession(socket, stopping);
        }
    }

    private void StartSession(Socket socket, CancellationToken stopping)
    {
        var id = Interlocked.Increment(ref _lastConnectionId);
        Interlocked.Increment(ref _totalConnections);
        Interlocked.Increment(ref _connectedClients);

        var session = new RespSession(id, socket, _parser, _maxQueryBuffer, _handler, _options.MaxPendingReplies,
            _time, _logger, stopping);
        _sessions[id] = session;
        RespLog.Connected(_logger, id, session.Connection.RemoteEndPoint);
        session.Start(OnSessionClosed);
    }

    private void OnSessionClosed(RespSession session)
    {
        _sessions.TryRemove(session.Connection.Id, out _);
        Interlocked.Decrement(ref _connectedClients);
        RespLog.Disconnected(_logger, session.Connection.Id);
    }

    private async Task DelayQuietlyAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping: the accept loop checks the token next.
        }
    }

    private static IPAddress ParseBindAddress(string address)
    {
        if (IPAddress.TryParse(address, out var parsed))
            return parsed;
        if (string.Equals(address, "localhost", StringComparison.OrdinalIgnoreCase))
            return IPAddress.Loopback;
        throw new InvalidOperationException(
            $"{RespServerOptions.SectionName}:{nameof(RespServerOptions.BindAddress)} '{address}' is not an IP address.");
    }
}
