using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Options;

namespace RaftKv.Node.Peers;

/// <summary>What the peer listener hands each request frame to (routing implements it).</summary>
public interface IPeerRequestHandler
{
    /// <summary>
    /// Starts handling one request. <paramref name="payload"/> is valid only until this returns: decode it before.
    /// Returns null for a type this node does not know, which closes the connection.
    /// </summary>
    /// <exception cref="InvalidDataException">The payload is malformed: the connection is closed.</exception>
    Task<PeerFrame>? Handle(byte type, in ReadOnlySequence<byte> payload);
}

/// <summary>One frame: its type and payload.</summary>
public readonly record struct PeerFrame(byte Type, ReadOnlyMemory<byte> Payload);

/// <summary>
/// The peer channel's server: a listener of its own (never the RESP port) that accepts only connections completing
/// mutual TLS (with <c>RaftKv:Tls:Cluster</c>) and the handshake with the cluster secret, then serves their request frames, answering in request order.
/// </summary>
/// <remarks>
/// Nothing a connection sends before it proves the secret is read beyond the fixed-size handshake; a frame that is
/// empty, oversized, of an unknown type or malformed closes the connection, and what it carried is not acted on.
/// </remarks>
public sealed partial class PeerListener : IHostedService, IAsyncDisposable
{
    // Answers pending per connection before the listener stops reading that connection (backpressure): a follower
    // keeps at most a few links, each carrying many clients' writes.
    private const int MaxPendingAnswers = 16 * 1024;

    private readonly PeerOptions options;
    private readonly PeerConnectionSecurity security;
    private readonly IPeerRequestHandler handler;
    private readonly ILogger<PeerListener> logger;
    private readonly CancellationTokenSource stopping = new();
    private readonly ConcurrentDictionary<long, Task> connections = new();
    private Socket? listener;
    private Task acceptLoop = Task.CompletedTask;
    private long lastConnection;
    private long accepted;
    private long refused;

    /// <summary>Creates the listener; it listens from <see cref="StartAsync"/> on.</summary>
    public PeerListener(IOptions<NodeOptions> options, PeerConnectionSecurity security, IPeerRequestHandler handler, ILogger<PeerListener> logger)
    {
        this.options = options.Value.Peer;
        this.security = security;
        this.handler = handler;
        this.logger = logger;
    }

    /// <summary>The bound address, once started.</summary>
    public IPEndPoint? LocalEndPoint { get; private set; }

    /// <summary>Connections that proved the secret since start.</summary>
    public long ConnectionsAccepted => Interlocked.Read(ref accepted);

    /// <summary>Connections refused or dropped in the handshake since start (wrong secret, wrong version, not a peer, too slow).</summary>
    public long ConnectionsRefused => Interlocked.Read(ref refused);

    /// <inheritdoc/>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var address = options.Listen ?? throw new InvalidOperationException("RaftKv:Peer:Listen is not set.");
        var endPoint = PeerAddress.Resolve(address);
        var socket = PeerAddress.Listen(endPoint, "The peer channel");
        listener = socket;
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        LogListening(logger, LocalEndPoint);
        acceptLoop = AcceptLoopAsync(socket, stopping.Token);
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (listener is null || stopping.IsCancellationRequested)
            return;
        await stopping.CancelAsync().ConfigureAwait(false);
        listener.Dispose();
        await acceptLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await Task.WhenAll(connections.Values).WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        stopping.Dispose();
    }

    private async Task AcceptLoopAsync(Socket socket, CancellationToken token)
    {
        while (!token.IsCancellationRequested)
        {
            Socket connection;
            try
            {
                connection = await socket.AcceptAsync(token).ConfigureAwait(false);
            }
            catch (Exception e) when (token.IsCancellationRequested && e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            catch (SocketException e)
            {
                LogAcceptFailed(logger, e.Message);
                await Task.Delay(50, token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                continue;
            }

            var id = Interlocked.Increment(ref lastConnection);
            connections[id] = ServeAsync(id, connection, token);
        }
    }

    private async Task ServeAsync(long id, Socket socket, CancellationToken token)
    {
        await Task.Yield();
        var remote = socket.RemoteEndPoint;
        using var closing = CancellationTokenSource.CreateLinkedTokenSource(token);
        Stream stream = new NetworkStream(socket, ownsSocket: true);
        var proved = false;
        try
        {
            socket.NoDelay = true;
            using (var handshake = CancellationTokenSource.CreateLinkedTokenSource(token))
            {
                handshake.CancelAfter(options.HandshakeTimeout);
                (stream, var verdict) = await security.AcceptAsync(stream, HandshakeChannel.Peer, handshake.Token).ConfigureAwait(false);
                if (verdict != HandshakeVerdict.Accepted)
                {
                    Interlocked.Increment(ref refused);
                    LogRefused(logger, remote, verdict);
                    return;
                }
            }

            proved = true;
            Interlocked.Increment(ref accepted);
            LogAccepted(logger, remote);
            var answers = Channel.CreateBounded<Task<PeerFrame>>(new BoundedChannelOptions(MaxPendingAnswers)
            {
                SingleReader = true,
                SingleWriter = true,
            });
            var input = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, leaveOpen: true));
            var output = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
            var writing = WriteLoopAsync(answers.Reader, output, closing);
            try
            {
                await ReadLoopAsync(input, answers.Writer, remote, closing.Token).ConfigureAwait(false);
            }
            finally
            {
                answers.Writer.TryComplete();
            }

            // The write loop sends every answer still pending unless the connection is closing for good.
            await writing.ConfigureAwait(false);
            await input.CompleteAsync().ConfigureAwait(false);
            await output.CompleteAsync().ConfigureAwait(false);
        }
        catch (PeerHandshakeException e)
        {
            Interlocked.Increment(ref refused);
            LogHandshakeFailed(logger, remote, e.Message);
        }
        catch (OperationCanceledException) when (!proved && !token.IsCancellationRequested)
        {
            Interlocked.Increment(ref refused);
            LogHandshakeFailed(logger, remote, "no handshake within " + options.HandshakeTimeout);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            LogConnectionLost(logger, remote, e.Message);
        }
        finally
        {
            await closing.CancelAsync().ConfigureAwait(false);
            await stream.DisposeAsync().ConfigureAwait(false);
            connections.TryRemove(id, out _);
        }
    }

    private async Task ReadLoopAsync(PipeReader input, ChannelWriter<Task<PeerFrame>> answers, EndPoint? remote, CancellationToken token)
    {
        while (true)
        {
            var result = await input.ReadAsync(token).ConfigureAwait(false);
            var buffer = result.Buffer;
            try
            {
                while (PeerProtocol.TryReadFrame(ref buffer, options.MaxFrameBytes, out var type, out var payload))
                {
                    var answer = handler.Handle(type, payload)
                        ?? throw new InvalidDataException($"Unknown peer message type {type}.");
                    await answers.WriteAsync(answer, token).ConfigureAwait(false);
                }
            }
            catch (InvalidDataException e)
            {
                LogMalformed(logger, remote, e.Message);
                return;
            }

            // Keep a partial frame; wait for bytes beyond what was seen, so a large frame is read in linear time.
            input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
                return;
        }
    }

    private static async Task WriteLoopAsync(ChannelReader<Task<PeerFrame>> answers, PipeWriter output, CancellationTokenSource closing)
    {
        var token = closing.Token;
        try
        {
            while (await answers.WaitToReadAsync(token).ConfigureAwait(false))
            {
                while (answers.TryRead(out var pending))
                {
                    if (!pending.IsCompleted && output.UnflushedBytes > 0)
                        await output.FlushAsync(token).ConfigureAwait(false);
                    var answer = await pending.ConfigureAwait(false);
                    PeerProtocol.WriteFrame(output, answer.Type, answer.Payload.Span);
                }

                await output.FlushAsync(token).ConfigureAwait(false);
            }
        }
        catch (Exception)
        {
            // The follower went away (or, a bug, an answer could not be made), or this node is stopping; the answers left behind are its unknown outcomes.
            // Stop reading too, so no more requests are taken that could not be answered.
            await closing.CancelAsync().ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Peer channel listening on {EndPoint}")]
    private static partial void LogListening(ILogger logger, EndPoint endPoint);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Peer {Remote} connected and proved the cluster secret")]
    private static partial void LogAccepted(ILogger logger, EndPoint? remote);

    [LoggerMessage(EventId = NodeLogEvents.PeerRefused, EventName = nameof(NodeLogEvents.PeerRefused), Level = LogLevel.Error, Message = "Refused peer connection from {Remote}: {Verdict} (every member must use the same RaftKv:Peer:ClusterSecret and version)")]
    private static partial void LogRefused(ILogger logger, EndPoint? remote, HandshakeVerdict verdict);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dropped connection from {Remote} on the peer port: {Problem}")]
    private static partial void LogHandshakeFailed(ILogger logger, EndPoint? remote, string problem);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Closing peer connection from {Remote}: {Problem}")]
    private static partial void LogMalformed(ILogger logger, EndPoint? remote, string problem);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Peer connection from {Remote} lost: {Problem}")]
    private static partial void LogConnectionLost(ILogger logger, EndPoint? remote, string problem);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Accepting a peer connection failed: {Problem}")]
    private static partial void LogAcceptFailed(ILogger logger, string problem);
}
