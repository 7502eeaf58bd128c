using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Channels;

namespace RaftKv.Node.Peers;

/// <summary>How a request on a <see cref="PeerLink"/> ended.</summary>
public enum PeerCallStatus
{
    /// <summary>The peer answered; the answer frame is in the result.</summary>
    Answered,

    /// <summary>The request never left this node (no connection, or it broke first): the peer did not see it.</summary>
    NotSent,

    /// <summary>The request was sent and no answer came (the link broke or timed out): the peer may have acted on it.</summary>
    Lost,
}

/// <summary>The end of one request on a <see cref="PeerLink"/>.</summary>
public readonly record struct PeerCallResult(PeerCallStatus Status, byte Type = 0, byte[]? Payload = null);

/// <summary>
/// One authenticated (and, with <c>RaftKv:Tls:Cluster</c>, TLS) pipelined connection to a peer's channel. Requests made in order leave in that order and their
/// answers come back in that order, which keeps each client's forwarded writes in order.
/// </summary>
/// <remarks>
/// The connection is opened and the handshake made in the background; requests queued meanwhile leave once it is
/// up, or end <see cref="PeerCallStatus.NotSent"/> if it cannot be made. A broken link stays broken: open a new one.
/// </remarks>
public sealed partial class PeerLink : IAsyncDisposable
{
    private readonly Socket socket = new(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
    private readonly Channel<Pending> outgoing = Channel.CreateUnbounded<Pending>(new() { SingleReader = true });
    private readonly Queue<Pending> awaitingAnswer = new();
    private readonly Lock gate = new();
    private readonly CancellationTokenSource closed = new();
    private readonly PeerConnectionSecurity security;
    private readonly TimeSpan timeout;
    private readonly long maxFrameBytes;
    private readonly ILogger logger;
    private bool broken;

    /// <summary>Opens a link to the peer channel at <paramref name="address"/> (<c>host:port</c>).</summary>
    /// <param name="address">The peer's channel address.</param>
    /// <param name="security">TLS (if configured) and the cluster secret the handshake proves.</param>
    /// <param name="timeout">How long a connect, a handshake, or one request may take.</param>
    /// <param name="maxFrameBytes">The largest answer frame accepted.</param>
    /// <param name="logger">Where connection problems are logged.</param>
    public PeerLink(string address, PeerConnectionSecurity security, TimeSpan timeout, long maxFrameBytes, ILogger logger)
    {
        Address = address;
        this.security = security;
        this.timeout = timeout;
        this.maxFrameBytes = maxFrameBytes;
        this.logger = logger;
        _ = RunAsync();
    }

    /// <summary>The peer's channel address.</summary>
    public string Address { get; }

    /// <summary>True once the link failed or was closed.</summary>
    public bool IsBroken
    {
        get
        {
            lock (gate)
                return broken;
        }
    }

    /// <summary>Sends <paramref name="frame"/> (made by <see cref="PeerProtocol.Frame"/>) and waits for its answer, at most the link's timeout.</summary>
    public async Task<PeerCallResult> CallAsync(byte[] frame)
    {
        var request = new Pending(frame);
        lock (gate)
        {
            if (broken || !outgoing.Writer.TryWrite(request))
                return new(PeerCallStatus.NotSent);
        }

        try
        {
            return await request.Outcome.Task.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The peer is slow or paused: it may still act. Drop the link so no later answer is matched to the wrong request.
            LogTimedOut(logger, Address);
            Break();
            return new(request.Sent ? PeerCallStatus.Lost : PeerCallStatus.NotSent);
        }
    }

    private async Task RunAsync()
    {
        Stream stream;
        try
        {
            using var connecting = CancellationTokenSource.CreateLinkedTokenSource(closed.Token);
            connecting.CancelAfter(timeout);
            var (host, port) = PeerAddress.Split(Address);
            await socket.ConnectAsync(host, port, connecting.Token).ConfigureAwait(false);
            stream = await security.ConnectAsync(new NetworkStream(socket, ownsSocket: false), host, HandshakeChannel.Peer, connecting.Token).ConfigureAwait(false);
        }
        catch (PeerHandshakeException e) when (e.Verdict is not null)
        {
            LogRefused(logger, Address, e.Message);
            Break();
            return;
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or ObjectDisposedException or FormatException or PeerHandshakeException)
        {
            LogConnectFailed(logger, Address, e.Message);
            Break();
            return;
        }

        var input = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024));
        await Task.WhenAll(WriteLoopAsync(stream), ReadLoopAsync(input)).ConfigureAwait(false);
        await stream.DisposeAsync().ConfigureAwait(false);
    }

    private async Task WriteLoopAsync(Stream stream)
    {
        var reader = outgoing.Reader;
        var buffer = new ArrayBufferWriter<byte>(64 * 1024);
        try
        {
            while (await reader.WaitToReadAsync(closed.Token).ConfigureAwait(false))
            {
                // Everything queued meanwhile goes out in one write, as a pipelining client's requests would.
                buffer.ResetWrittenCount();
                lock (gate)
                {
                    while (reader.TryRead(out var request))
                    {
                        buffer.Write(request.Frame);
                        request.Sent = true;
                        awaitingAnswer.Enqueue(request);
                    }
                }

                await stream.WriteAsync(buffer.WrittenMemory, closed.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            Break();
        }
    }

    private async Task ReadLoopAsync(PipeReader input)
    {
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(closed.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                while (PeerProtocol.TryReadFrame(ref buffer, maxFrameBytes, out var type, out var payload))
                {
                    Pending? request;
                    lock (gate)
                        awaitingAnswer.TryDequeue(out request);
                    if (request is null)
                        throw new InvalidDataException("An answer nobody asked for.");
                    request.Outcome.TrySetResult(new(PeerCallStatus.Answered, type, payload.ToArray()));
                }

                input.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                    break;
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException or InvalidDataException)
        {
            if (e is InvalidDataException)
                LogProtocolError(logger, Address, e.Message);
        }

        Break();
    }

    private void Break()
    {
        Pending[] unanswered;
        lock (gate)
        {
            if (broken)
                return;
            broken = true;
            outgoing.Writer.TryComplete();
            unanswered = [.. awaitingAnswer];
            awaitingAnswer.Clear();
        }

        closed.Cancel();
        socket.Dispose();

        // Sent and unanswered: the peer may have acted on them. Never sent: certainly not.
        foreach (var request in unanswered)
            request.Outcome.TrySetResult(new(PeerCallStatus.Lost));
        while (outgoing.Reader.TryRead(out var request))
            request.Outcome.TrySetResult(new(PeerCallStatus.NotSent));
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync()
    {
        Break();
        return ValueTask.CompletedTask;
    }

    private sealed class Pending(byte[] frame)
    {
        public byte[] Frame { get; } = frame;

        public volatile bool Sent;

        public TaskCompletionSource<PeerCallResult> Outcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Could not connect to the peer channel at {Address}: {Problem}")]
    private static partial void LogConnectFailed(ILogger logger, string address, string problem);

    [LoggerMessage(EventId = NodeLogEvents.RefusedByPeer, EventName = nameof(NodeLogEvents.RefusedByPeer), Level = LogLevel.Error, Message = "The peer at {Address} refused this node: {Problem}")]
    private static partial void LogRefused(ILogger logger, string address, string problem);

    [LoggerMessage(Level = LogLevel.Warning, Message = "No answer from the peer at {Address} in time; requests in flight have an unknown outcome")]
    private static partial void LogTimedOut(ILogger logger, string address);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Unexpected answer from the peer at {Address}: {Problem}")]
    private static partial void LogProtocolError(ILogger logger, string address, string problem);
}
