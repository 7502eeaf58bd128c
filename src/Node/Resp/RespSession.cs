using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using RaftKv.StateMachine;

namespace RaftKv.Node.Resp;

/// <summary>
/// One client connection: a read loop that parses requests and starts them in order, and a write loop that sends
/// their replies in the same order, joined by a bounded queue of pending replies.
/// </summary>
/// <remarks>
/// The queue bound is the connection's backpressure: when that many replies are pending, the read loop stops reading
/// and TCP flow control slows the client down. The write loop flushes once per burst (whenever the queue runs dry
/// or the next reply is not ready yet), not once per reply.
/// </remarks>
internal sealed class RespSession
{
    // Socket reads land in buffers of this size. The reader has no pause threshold, so a request of any size up to
    // RespLimits.MaxQueryBuffer (e.g. a 100 MB value) accumulates until it is complete.
    private const int ReceiveBufferSize = 16 * 1024;
    private const int SendBufferSize = 16 * 1024;

    // A client that pipelines without pause never lets the queue run dry; flush at this size so its replies still
    // leave and the unsent output stays bounded.
    private const int FlushThreshold = 64 * 1024;

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly RespRequestParser _parser;
    private readonly long _maxQueryBuffer;
    private readonly IRespRequestHandler _handler;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _aborted;
    private readonly Channel<PendingReply> _replies;
    private readonly RespRequest _request = new();
    private readonly TimeProvider _time;

    public RespSession(
        long id,
        Socket socket,
        RespRequestParser parser,
        long maxQueryBuffer,
        IRespRequestHandler handler,
        int maxPendingReplies,
        TimeProvider time,
        ILogger logger,
        CancellationToken serverStopping)
    {
        _socket = socket;
        _parser = parser;
        _maxQueryBuffer = maxQueryBuffer;
        _handler = handler;
        _logger = logger;
        _aborted = CancellationTokenSource.CreateLinkedTokenSource(serverStopping);
        _replies = Channel.CreateBounded<PendingReply>(new BoundedChannelOptions(maxPendingReplies)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });

        _stream = new NetworkStream(socket, ownsSocket: false);
        _input = PipeReader.Create(_stream, new StreamPipeReaderOptions(
            bufferSize: ReceiveBufferSize, leaveOpen: true, useZeroByteReads: true));
        _output = PipeWriter.Create(_stream, new StreamPipeWriterOptions(minimumBufferSize: SendBufferSize, leaveOpen: true));

        _time = time;
        Connection = new RespConnection(id, TryGetRemoteEndPoint(socket), TryGetLocalEndPoint(socket), time.GetUtcNow(), _aborted.Token);
    }

    /// <summary>The connection as handlers see it.</summary>
    public RespConnection Connection { get; }

    /// <summary>Completes when the connection is closed and cleaned up; never faults.</summary>
    public Task Completion { get; private set; } = Task.CompletedTask;

    /// <summary>Runs the connection; <paramref name="onClosed"/> is called once it is closed.</summary>
    public void Start(Action<RespSession> onClosed) => Completion = RunAsync(onClosed);

    private async Task RunAsync(Action<RespSession> onClosed)
    {
        // The loops end quietly on anything a client can cause; what reaches these handlers is a bug, and it must
        // cost this connection only.
        try
        {
            await ServeAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            RespLog.ConnectionFailed(_logger, Connection.Id, e);
        }

        try
        {
            await CloseAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            RespLog.ConnectionFailed(_logger, Connection.Id, e);
        }
        finally
        {
            onClosed(this);
        }
    }

    private async Task ServeAsync()
    {
        ConfigureSocket();
        var reading = ReadLoopAsync();
        try
        {
            await WriteLoopAsync().ConfigureAwait(false);
        }
        finally
        {
            // When the write side ends first (QUIT, a protocol error, a broken socket), stop reading too.
            await _aborted.CancelAsync().ConfigureAwait(false);
            await reading.ConfigureAwait(false);
        }

        await ObserveUnsentRepliesAsync().ConfigureAwait(false);
    }

    private async Task ReadLoopAsync()
    {
        var aborted = _aborted.Token;
        try
        {
            while (true)
            {
                var result = await _input.ReadAsync(aborted).ConfigureAwait(false);
                var buffer = result.Buffer;

                RespParseResult parsed;
                while ((parsed = _parser.Parse(buffer, _request)).Status == RespParseStatus.Complete)
                {
                    buffer = buffer.Slice(parsed.Consumed);
                    var pending = Dispatch();
                    await EnqueueAsync(pending, aborted).ConfigureAwait(false);
                    if (pending.CloseAfter)
                        return;
                }

                switch (parsed.Status)
                {
                    case RespParseStatus.ProtocolError:
                        RespLog.ProtocolError(_logger, Connection.Id, parsed.Error);
                        var error = new ValueTask<Reply>(NodeReplies.ProtocolError(parsed.Error!));
                        await EnqueueAsync(new PendingReply(error, CloseAfter: true, Connection.Protocol), aborted).ConfigureAwait(false);
                        return;
                    case RespParseStatus.QueryBufferLimitExceeded:
                        // Redis closes such a client without a reply; the replies before it are still sent.
                        RespLog.QueryBufferLimitExceeded(_logger, Connection.Id, _maxQueryBuffer);
                        return;
                }

                // Keep the partial request, and wait for bytes beyond everything seen so far.
                _input.AdvanceTo(parsed.Consumed, result.Buffer.End);
                if (result.IsCompleted)
                    return; // The client will send no more; a partial request at the end is dropped.
            }
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // Closing: QUIT, a protocol error, a broken write side or the server stopping.
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            RespLog.ConnectionLost(_logger, Connection.Id, e.Message);
        }
        finally
        {
            _replies.Writer.TryComplete();
        }
    }

    private PendingReply Dispatch()
    {
        Connection.LastCommand = _request.NameUpper;
        Connection.LastInteraction = _time.GetUtcNow();
        ValueTask<Reply> reply;
        try
        {
            reply = _handler.HandleAsync(_request, Connection);
        }
        catch (Exception e)
        {
            RespLog.HandlerFailed(_logger, _request.NameUpper, Connection.Id, e);
            reply = new ValueTask<Reply>(NodeReplies.InternalError);
        }

        return new PendingReply(reply, Connection.IsCloseRequested, Connection.Protocol);
    }

    private async ValueTask EnqueueAsync(PendingReply pending, CancellationToken cancellationToken)
    {
        try
        {
            await _replies.Writer.WriteAsync(pending, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await ObserveAsync(pending.Reply).ConfigureAwait(false);
            throw;
        }
    }

    private async Task WriteLoopAsync()
    {
        var replies = _replies.Reader;
        var aborted = _aborted.Token;
        try
        {
            while (await replies.WaitToReadAsync(aborted).ConfigureAwait(false))
            {
                while (replies.TryRead(out var pending))
                {
                    // The client can use the replies before this one while it is being computed.
                    if (!pending.Reply.IsCompleted && _output.UnflushedBytes > 0)
                        await _output.FlushAsync(aborted).ConfigureAwait(false);

                    RespWriter.Write(_output, await ResolveAsync(pending.Reply).ConfigureAwait(false), pending.Protocol);

                    if (pending.CloseAfter)
                    {
                        await _output.FlushAsync(aborted).ConfigureAwait(false);
                        return;
                    }

                    if (_output.UnflushedBytes >= FlushThreshold)
                        await _output.FlushAsync(aborted).ConfigureAwait(false);
                }

                if (_output.UnflushedBytes > 0)
                    await _output.FlushAsync(aborted).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The server is stopping.
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            RespLog.ConnectionLost(_logger, Connection.Id, e.Message);
        }
    }

    private async ValueTask<Reply> ResolveAsync(ValueTask<Reply> reply)
    {
        try
        {
            return await reply.ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !_aborted.IsCancellationRequested)
        {
            RespLog.HandlerFailed(_logger, "a request", Connection.Id, e);
            return NodeReplies.InternalError;
        }
    }

    /// <summary>
    /// Waits for replies that will never be sent: every handler call is awaited exactly once, so a pooled
    /// <see cref="ValueTask{TResult}"/> source is released and no fault goes unobserved. The connection's token is
    /// canceled by now, so handlers that honor it finish promptly.
    /// </summary>
    private async Task ObserveUnsentRepliesAsync()
    {
        while (_replies.Reader.TryRead(out var pending))
            await ObserveAsync(pending.Reply).ConfigureAwait(false);
    }

    private static async ValueTask ObserveAsync(ValueTask<Reply> reply)
    {
        try
        {
            await reply.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Nobody is left to tell; the handler logs what matters to it.
        }
    }

    private void ConfigureSocket()
    {
        try
        {
            // Replies are flushed once per burst already; Nagle would only add latency (Redis sets TCP_NODELAY too).
            _socket.NoDelay = true;
            _socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
        }
        catch (SocketException)
        {
            // The client reset already; the read loop will find out and end.
        }
    }

    private async Task CloseAsync()
    {
        await _aborted.CancelAsync().ConfigureAwait(false);

        // The write loop flushed everything it finished; output still buffered belongs to an aborted connection.
        // Completing with an error discards it instead of blocking on a client that may have stopped reading.
        await _output.CompleteAsync(new OperationCanceledException("The connection is closing.")).ConfigureAwait(false);
        await _input.CompleteAsync().ConfigureAwait(false);
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // Already reset by the client.
        }

        await _stream.DisposeAsync().ConfigureAwait(false);
        _socket.Dispose();
        _request.Dispose();
        _aborted.Dispose();
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

    private static EndPoint? TryGetLocalEndPoint(Socket socket)
    {
        try
        {
            return socket.LocalEndPoint;
        }
        catch (SocketException)
        {
            return null;
        }
    }

    /// <summary>A request's reply, in the order the requests came.</summary>
    /// <param name="Reply">The handler's reply; awaited exactly once, by the write loop or when the connection closes.</param>
    /// <param name="CloseAfter">Close the connection once this reply is sent and flushed.</param>
    /// <param name="Protocol">The RESP version in force when the request was handled, which the reply is written in.</param>
    private readonly record struct PendingReply(ValueTask<Reply> Reply, bool CloseAfter, int Protocol);
}
