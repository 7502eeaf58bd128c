using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Microsoft.Extensions.Options;
using RaftKv.Node.Tls;

namespace RaftKv.Node.Resp;

/// <summary>
/// Serves RESP over TCP: accepts connections and runs each as a <see cref="RespSession"/> that hands requests to the
/// <see cref="IRespRequestHandler"/> and sends the replies back in request order.
/// </summary>
/// <remarks>
/// Register it with <see cref="RespServiceCollectionExtensions.AddRespServer"/>. The client limits are read live from
/// <see cref="ClientLimits"/>: a connection beyond <c>maxclients</c> is answered
/// <c>-ERR max number of clients reached</c> and closed; once a second a sweep closes connections idle for
/// <c>timeout</c> seconds and those over the soft output buffer limit for too long (Redis's <c>clientsCron</c>).
/// With a <see cref="RespTlsAuthenticator"/> a second listener serves TLS (Redis's <c>tls-port</c>): each connection
/// runs its handshake off the accept loop, then is served like a plaintext one over the <see cref="SslStream"/>.
/// </remarks>
public sealed class RespServer : IHostedService, IAsyncDisposable
{
    // Redis's clientsCron visits every client about once a second.
    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(1);

    private static readonly byte[] MaxClientsReply = Serialize(NodeReplies.MaxClientsReached);

    private readonly RespServerOptions _options;
    private readonly ClientLimits _limits;
    private readonly RespRequestParser _parser;
    private readonly IRespRequestHandler _handler;
    private readonly TimeProvider _time;
    private readonly ILogger<RespServer> _logger;
    private readonly RespTlsAuthenticator? _tls;
    private readonly ConcurrentDictionary<long, RespSession> _sessions = new();
    private readonly ConcurrentDictionary<Task, byte> _handshakes = new();
    private int _pendingHandshakes;
    private readonly CancellationTokenSource _stopping = new();
    private Socket? _listener;
    private Socket? _tlsListener;
    private bool _started;
    private Task _acceptLoop = Task.CompletedTask;
    private Task _tlsAcceptLoop = Task.CompletedTask;
    private Task _sweepLoop = Task.CompletedTask;
    private long _lastConnectionId;
    private long _totalConnections;
    private long _rejectedConnections;
    private long _closedPeakOutputBytes;
    private int _connectedClients;

    /// <summary>Creates the server; it listens from <see cref="StartAsync"/> on, for TLS too when <paramref name="tls"/> is given.</summary>
    public RespServer(
        IOptions<RespServerOptions> options,
        ClientLimits limits,
        IRespRequestHandler handler,
        TimeProvider time,
        ILogger<RespServer> logger,
        RespTlsAuthenticator? tls = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(limits);
        _options = options.Value;
        _limits = limits;
        _parser = new RespRequestParser(limits);
        _handler = handler;
        _time = time;
        _logger = logger;
        _tls = tls;
    }

    /// <summary>The plaintext listener's address, once started; null before, and when <c>Port</c> is 0.</summary>
    public IPEndPoint? LocalEndPoint { get; private set; }

    /// <summary>The plaintext port the server listens on, once started; 0 before, and when there is no plaintext listener.</summary>
    public int Port => LocalEndPoint?.Port ?? 0;

    /// <summary>The TLS listener's address, once started; null when TLS is off.</summary>
    public IPEndPoint? TlsLocalEndPoint { get; private set; }

    /// <summary>The TLS port the server listens on (Redis's <c>tls_port</c>), once started; 0 when TLS is off.</summary>
    public int TlsPort => TlsLocalEndPoint?.Port ?? 0;

    /// <summary>How many clients are connected now (Redis's <c>connected_clients</c>).</summary>
    public int ConnectedClients => Volatile.Read(ref _connectedClients);

    /// <summary>The connections open now, in no particular order (<c>CLIENT LIST</c>).</summary>
    public IEnumerable<RespConnection> Connections => _sessions.Values.Select(static session => session.Connection);

    /// <summary>How many connections have been accepted since start (Redis's <c>total_connections_received</c>).</summary>
    public long TotalConnectionsReceived => Interlocked.Read(ref _totalConnections);

    /// <summary>Connections refused because <c>maxclients</c> were connected (Redis's <c>rejected_connections</c>).</summary>
    public long RejectedConnections => Interlocked.Read(ref _rejectedConnections);

    /// <summary>The live client limits (<c>CONFIG SET</c> changes them).</summary>
    public ClientLimits Limits => _limits;

    /// <summary>
    /// Bytes of replies computed and not yet taken by the sockets, over every connection: what clients that do not
    /// read hold on this node.
    /// </summary>
    public long OutputBufferBytes => _sessions.Values.Sum(static session => session.Connection.OutputBufferBytes);

    /// <summary>The largest output any connection holds now (Redis's <c>client_recent_max_output_buffer</c>).</summary>
    public long MaxOutputBufferBytes => _sessions.Values.Select(static session => session.Connection.OutputBufferBytes).DefaultIfEmpty().Max();

    /// <summary>The largest partial request any connection holds now (Redis's <c>client_recent_max_input_buffer</c>).</summary>
    public long MaxInputBufferBytes => _sessions.Values.Select(static session => session.Connection.InputBufferBytes).DefaultIfEmpty().Max();

    /// <summary>The most output one connection has held at once since the server started, open or closed.</summary>
    public long PeakOutputBufferBytes => Math.Max(
        Interlocked.Read(ref _closedPeakOutputBytes),
        _sessions.Values.Select(static session => session.PeakOutputBytes).DefaultIfEmpty().Max());

    /// <summary>
    /// Binds the listening sockets (plaintext unless its port is 0, TLS when configured), so <see cref="Port"/> and
    /// <see cref="TlsPort"/> are known when this returns, and starts accepting.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// The server was started before, the bind address is not an IP address, or there is nothing to listen on.
    /// </exception>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(_stopping.IsCancellationRequested, this);
        if (_started)
            throw new InvalidOperationException("The RESP server is already started.");
        if (_options.Port == 0 && _tls is null)
            throw new InvalidOperationException($"{RespServerOptions.SectionName}:{nameof(RespServerOptions.Port)} is 0 and TLS is off: the RESP server has nothing to listen on.");

        var address = ParseBindAddress(_options.BindAddress);
        _started = true;
        if (_options.Port != 0)
        {
            _listener = Listen(new IPEndPoint(address, _options.Port));
            LocalEndPoint = (IPEndPoint)_listener.LocalEndPoint!;
            RespLog.Listening(_logger, LocalEndPoint);
        }

        if (_tls is not null)
        {
            try
            {
                _tlsListener = Listen(new IPEndPoint(address, _tls.Port));
            }
            catch
            {
                _listener?.Dispose();
                throw;
            }

            TlsLocalEndPoint = (IPEndPoint)_tlsListener.LocalEndPoint!;
            RespLog.ListeningTls(_logger, TlsLocalEndPoint);
        }

        if (_listener is not null)
            _acceptLoop = AcceptLoopAsync(_listener, tls: false, _stopping.Token);
        if (_tlsListener is not null)
            _tlsAcceptLoop = AcceptLoopAsync(_tlsListener, tls: true, _stopping.Token);
        _sweepLoop = SweepLoopAsync(_stopping.Token);
        return Task.CompletedTask;
    }

    private Socket Listen(IPEndPoint endPoint)
    {
        var listener = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endPoint.Address.Equals(IPAddress.IPv6Any))
                listener.DualMode = true;
            listener.Bind(endPoint);
            listener.Listen(_options.Backlog);
            return listener;
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Stops accepting, closes every connection (aborting what their replies wait for) and waits for them to finish,
    /// or until <paramref name="cancellationToken"/> says to stop waiting.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (!_started || _stopping.IsCancellationRequested)
            return;

        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener?.Dispose();
        _tlsListener?.Dispose();
        await _acceptLoop.WaitAsync(cancellationToken).ConfigureAwait(false);
        await _tlsAcceptLoop.WaitAsync(cancellationToken).ConfigureAwait(false);
        await _sweepLoop.WaitAsync(cancellationToken).ConfigureAwait(false);

        // Handshakes see the cancellation and end; none starts a session once stopping.
        await Task.WhenAll(_handshakes.Keys).WaitAsync(cancellationToken).ConfigureAwait(false);

        // Every session's token is linked to _stopping, so they are all closing; no new ones start after the accept loop.
        var closing = _sessions.Values.Select(static session => session.Completion);
        await Task.WhenAll(closing).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops the server if it is running.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _listener?.Dispose();
        _tlsListener?.Dispose();
        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync(Socket listener, bool tls, CancellationToken stopping)
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

            if (tls)
                StartHandshake(socket, stopping);
            else if (TryAdmit(out var connected, out var maxClients))
                StartSession(socket, null, stopping);
            else
                Refuse(socket, connected, maxClients);
        }
    }

    // Counts the client in unless maxclients are connected. Plaintext and TLS connections are admitted from different
    // threads, so the count is taken and checked in one step.
    private bool TryAdmit(out int connected, out long maxClients)
    {
        maxClients = _limits.MaxClients;
        connected = Interlocked.Increment(ref _connectedClients);
        if (connected <= maxClients)
            return true;
        connected = Interlocked.Decrement(ref _connectedClients);
        return false;
    }

    // The handshake runs beside the accept loop, so a client that is slow to finish it (or never does, within the
    // handshake timeout) delays nobody else.
    private void StartHandshake(Socket socket, CancellationToken stopping)
    {
        // Handshakes not yet done are bounded like clients: maxclients of them at once (each ends within the
        // handshake timeout), so connections that never finish one cannot pile up.
        var maxClients = _limits.MaxClients;
        var pending = Interlocked.Increment(ref _pendingHandshakes);
        if (pending > maxClients)
        {
            Interlocked.Decrement(ref _pendingHandshakes);
            Interlocked.Increment(ref _rejectedConnections);
            RespLog.TooManyHandshakes(_logger, TryGetRemoteEndPoint(socket), maxClients);
            socket.Dispose();
            return;
        }

        try
        {
            // The handshake is a few round trips; Nagle would only delay them.
            socket.NoDelay = true;
        }
        catch (SocketException)
        {
            // Reset already; the handshake will fail.
        }

        var handshake = HandshakeAsync(socket, stopping);
        _handshakes[handshake] = 0;
        _ = handshake.ContinueWith(static (done, state) =>
            {
                var server = (RespServer)state!;
                server._handshakes.TryRemove(done, out _);
                Interlocked.Decrement(ref server._pendingHandshakes);
            },
            this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task HandshakeAsync(Socket socket, CancellationToken stopping)
    {
        SslStream? stream = null;
        var handedOver = false;
        try
        {
            stream = await _tls!.AuthenticateAsync(socket, stopping).ConfigureAwait(false);
            if (stream is null || stopping.IsCancellationRequested)
                return;

            if (TryAdmit(out var connected, out var maxClients))
            {
                StartSession(socket, stream, stopping);
                handedOver = true;
                return;
            }

            await RefuseAsync(stream, socket, connected, maxClients).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // A bug: it must cost this connection only.
            RespLog.AcceptFailed(_logger, e);
        }
        finally
        {
            if (!handedOver)
            {
                if (stream is not null)
                    await stream.DisposeAsync().ConfigureAwait(false);
                socket.Dispose();
            }
        }
    }

    private void StartSession(Socket socket, Stream? stream, CancellationToken stopping)
    {
        var id = Interlocked.Increment(ref _lastConnectionId);
        Interlocked.Increment(ref _totalConnections);

        var session = new RespSession(id, socket, stream, _parser, _limits, _handler, _options.MaxPendingReplies,
            _time, _logger, stopping);
        _sessions[id] = session;
        RespLog.Connected(_logger, id, session.Connection.RemoteEndPoint);
        session.Start(OnSessionClosed);
    }

    // Redis's acceptCommonHandler: write the error (once, without waiting: a fresh socket's send buffer is empty) and
    // close. The refused connection is not counted in total_connections_received.
    private void Refuse(Socket socket, int connected, long maxClients)
    {
        Interlocked.Increment(ref _rejectedConnections);
        try
        {
            RespLog.MaxClientsReached(_logger, socket.RemoteEndPoint, connected, maxClients);
            socket.Blocking = false;
            socket.Send(MaxClientsReply, SocketFlags.None, out _);
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // The client is gone already.
        }
        finally
        {
            socket.Dispose();
        }
    }

    // The TLS form of Refuse: the error goes out encrypted, then the connection closes.
    private async Task RefuseAsync(SslStream stream, Socket socket, int connected, long maxClients)
    {
        Interlocked.Increment(ref _rejectedConnections);
        RespLog.MaxClientsReached(_logger, TryGetRemoteEndPoint(socket), connected, maxClients);
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1), _time);
            await stream.WriteAsync(MaxClientsReply, timeout.Token).ConfigureAwait(false);
            await stream.FlushAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
        {
            // The client is gone already, or does not read.
        }
    }

    private static EndPoint? TryGetRemoteEndPoint(Socket socket)
    {
        try
        {
            return socket.RemoteEndPoint;
        }
        catch (SocketException)
        {
            return null;
        }
    }

    private async Task SweepLoopAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(SweepInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
            {
                var now = _time.GetUtcNow();
                foreach (var session in _sessions.Values)
                    session.CheckTimers(now);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Stopping.
        }
        catch (Exception e)
        {
            RespLog.SweepFailed(_logger, e);
        }
    }

    private static byte[] Serialize(StateMachine.Reply reply)
    {
        var bytes = new ArrayBufferWriter<byte>();
        RespWriter.Write(bytes, reply);
        return bytes.WrittenSpan.ToArray();
    }

    private void OnSessionClosed(RespSession session)
    {
        var peak = session.PeakOutputBytes;
        var seen = Interlocked.Read(ref _closedPeakOutputBytes);
        while (peak > seen && Interlocked.CompareExchange(ref _closedPeakOutputBytes, peak, seen) is var current && current != seen)
            seen = current;
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
