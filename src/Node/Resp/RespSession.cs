using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using RaftKv.StateMachine;

namespace RaftKv.Node.Resp;

/// <summary>
/// One client connection: a read loop that parses requests and starts them in order, and a write loop that sends
/// their replies in the same order, joined by a bounded queue of pending replies.
/// </summary>
/// <remarks>
/// <para>
/// The queue bound is the connection's backpressure: when that many replies are pending, the read loop stops reading
/// and TCP flow control slows the client down. The write loop flushes once per burst (whenever the queue runs dry
/// or the next reply is not ready yet), not once per reply.
/// </para>
/// <para>
/// The queue bound counts replies, not bytes, so the connection also counts the bytes of its replies from the moment
/// each is computed until the socket has taken them (<see cref="RespConnection.OutputBufferBytes"/>) and is closed
/// when they reach <c>client-output-buffer-limit</c>, as Redis does. A reply larger than
/// <see cref="FlushThreshold"/> is written and flushed piece by piece, so the send buffer never holds a second copy
/// of it. The server's sweep (<see cref="CheckTimers"/>) closes the connection when it has been idle for
/// <c>timeout</c> seconds or over the soft output limit for too long.
/// </para>
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

    // "Not over the soft output limit" for _overSoftLimitSince (a TimeProvider timestamp otherwise).
    private const long NotOverSoftLimit = long.MinValue;

    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly RespRequestParser _parser;
    private readonly ClientLimits _limits;
    private readonly IRespRequestHandler _handler;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _aborted;
    private readonly CancellationTokenSource _inputEnded;
    private readonly Channel<PendingReply> _replies;
    private readonly RespRequest _request = new();
    private readonly TimeProvider _time;
    private long _overSoftLimitSince = NotOverSoftLimit;
    private long _peakOutputBytes;
    private int _closing;

    public RespSession(
        long id,
        Socket socket,
        Stream? stream,
        RespRequestParser parser,
        ClientLimits limits,
        IRespRequestHandler handler,
        int maxPendingReplies,
        TimeProvider time,
        ILogger logger,
        CancellationToken serverStopping)
    {
        _socket = socket;
        _parser = parser;
        _limits = limits;
        _handler = handler;
        _logger = logger;
        _aborted = CancellationTokenSource.CreateLinkedTokenSource(serverStopping);
        _inputEnded = CancellationTokenSource.CreateLinkedTokenSource(_aborted.Token);
        _replies = Channel.CreateBounded<PendingReply>(new BoundedChannelOptions(maxPendingReplies)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });

        // Plaintext reads the socket; TLS an SslStream over it, after its handshake. Either way the pipes below are the
        // same, so requests are parsed from the pipe's buffers (no copy per argument) with or without TLS.
        _stream = stream ?? new NetworkStream(socket, ownsSocket: false);
        _input = PipeReader.Create(_stream, new StreamPipeReaderOptions(
            bufferSize: ReceiveBufferSize, leaveOpen: true, useZeroByteReads: true));
        _output = PipeWriter.Create(_stream, new StreamPipeWriterOptions(minimumBufferSize: SendBufferSize, leaveOpen: true));

        _time = time;
        Connection = new RespConnection(id, TryGetRemoteEndPoint(socket), TryGetLocalEndPoint(socket), time.GetUtcNow(), _aborted.Token, _inputEnded.Token);
        handler.Accepted(Connection);
    }

    /// <summary>The connection as handlers see it.</summary>
    public RespConnection Connection { get; }

    /// <summary>The most bytes of output this connection has held at once.</summary>
    public long PeakOutputBytes => Interlocked.Read(ref _peakOutputBytes);

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
                Connection.LastInteraction = _time.GetUtcNow();
                var buffer = result.Buffer;

                RespParseResult parsed;
                while ((parsed = _parser.Parse(buffer, _request, unauthenticated: Connection.Authenticated == false)).Status == RespParseStatus.Complete)
                {
                    // A limit closed the connection: run nothing more (the cancellation reaches the loops shortly).
                    if (Volatile.Read(ref _closing) != 0)
                        return;

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
                        var error = Track(new ValueTask<Reply>(NodeReplies.ProtocolError(parsed.Error!)), Connection.Protocol);
                        await EnqueueAsync(new PendingReply(error, CloseAfter: true, Connection.Protocol), aborted).ConfigureAwait(false);
                        return;
                    case RespParseStatus.QueryBufferLimitExceeded:
                        // Redis closes such a client without a reply; the replies before it are still sent.
                        RespLog.QueryBufferLimitExceeded(_logger, Connection.Id, _limits.MaxQueryBuffer);
                        return;
                }

                Connection.SetInputBytes(buffer.Slice(parsed.Consumed).Length);

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
            CancelInputEnded();
        }
    }

    private void CancelInputEnded()
    {
        try
        {
            _inputEnded.Cancel();
        }
        catch (AggregateException e)
        {
            RespLog.ConnectionFailed(_logger, Connection.Id, e);
        }
    }

    private PendingReply Dispatch()
    {
        Connection.LastCommand = _request.NameUpper;
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

        var protocol = Connection.Protocol;
        return new PendingReply(Track(reply, protocol), Connection.IsCloseRequested, protocol);
    }

    /// <summary>
    /// The reply with its size in bytes, counted into the connection's output once it is computed (at once when it
    /// already is, which is the common case and allocates nothing). A failed reply becomes
    /// <see cref="NodeReplies.InternalError"/>, counted likewise.
    /// </summary>
    private ValueTask<SizedReply> Track(ValueTask<Reply> reply, int protocol)
        => reply.IsCompletedSuccessfully ? new(Account(reply.Result, protocol)) : TrackAsync(reply, protocol);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<SizedReply> TrackAsync(ValueTask<Reply> pending, int protocol)
    {
        Reply reply;
        try
        {
            reply = await pending.ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !Connection.Aborted.IsCancellationRequested)
        {
            RespLog.HandlerFailed(_logger, "a request", Connection.Id, e);
            reply = NodeReplies.InternalError;
        }

        return Account(reply, protocol);
    }

    private SizedReply Account(Reply reply, int protocol)
    {
        var size = RespWriter.Measure(reply, protocol);
        var held = Connection.AddOutputBytes(size);
        var peak = Interlocked.Read(ref _peakOutputBytes);
        while (held > peak && Interlocked.CompareExchange(ref _peakOutputBytes, held, peak) is var seen && seen != peak)
            peak = seen;
        CheckOutputLimits(held);
        return new SizedReply(reply, size);
    }

    /// <summary>
    /// Redis's <c>checkClientOutputBufferLimits</c>: close at once at the hard limit; at the soft limit, note when it
    /// was first reached and close once it has been held for longer than the soft seconds.
    /// </summary>
    private void CheckOutputLimits(long held)
    {
        var limit = _limits.OutputBuffer.Normal;
        if (limit.Hard > 0 && held >= limit.Hard)
        {
            if (TryClose())
                RespLog.OutputBufferLimitReached(_logger, Connection.Id, held, "hard", limit.Hard);
            return;
        }

        if (limit.Soft > 0 && held >= limit.Soft)
        {
            var now = _time.GetTimestamp();
            var since = Interlocked.CompareExchange(ref _overSoftLimitSince, now, NotOverSoftLimit);
            if (since != NotOverSoftLimit && _time.GetElapsedTime(since, now) > TimeSpan.FromSeconds(limit.SoftSeconds) && TryClose())
                RespLog.OutputBufferLimitReached(_logger, Connection.Id, held, "soft", limit.Soft);

            return;
        }

        if (Volatile.Read(ref _overSoftLimitSince) != NotOverSoftLimit)
            Volatile.Write(ref _overSoftLimitSince, NotOverSoftLimit);
    }

    /// <summary>
    /// The server's periodic check (Redis's <c>clientsCron</c>): closes the connection when it has been idle longer
    /// than <c>timeout</c> — never while a reply is being computed, queued or sent — or held its output over the soft
    /// limit for too long.
    /// </summary>
    public void CheckTimers(DateTimeOffset now)
    {
        var timeout = _limits.IdleTimeoutSeconds;
        if (timeout > 0 && Connection.PendingReplies == 0 && Connection.OutputBufferBytes == 0
            && now - Connection.LastInteraction > TimeSpan.FromSeconds(timeout))
        {
            if (TryClose())
                RespLog.IdleTimeout(_logger, Connection.Id, timeout);
            return;
        }

        if (Connection.OutputBufferBytes is var held and > 0)
            CheckOutputLimits(held);
    }

    /// <summary>
    /// Closes the connection without sending what is pending (a limit was reached); callable from any thread. True
    /// for the call that closed it, false once it is closing already. The read and write loops stop at once; the
    /// cancellation runs on the thread pool, never on the thread that completed a reply.
    /// </summary>
    private bool TryClose()
    {
        if (Interlocked.Exchange(ref _closing, 1) != 0)
            return false;
        Connection.MarkClosing();
        ThreadPool.UnsafeQueueUserWorkItem(static session => session.Abort(), this, preferLocal: false);
        return true;
    }

    private void Abort()
    {
        try
        {
            _aborted.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Closed already.
        }
        catch (AggregateException e)
        {
            RespLog.ConnectionFailed(_logger, Connection.Id, e);
        }
    }

    private async ValueTask EnqueueAsync(PendingReply pending, CancellationToken cancellationToken)
    {
        Connection.AddPendingReplies(1);
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
                        await FlushAsync(aborted).ConfigureAwait(false);

                    var (reply, size) = await pending.Reply.ConfigureAwait(false);

                    // A limit closed the connection (perhaps for this very reply): send nothing more.
                    if (Volatile.Read(ref _closing) != 0)
                        return;

                    if (size <= FlushThreshold)
                        RespWriter.Write(_output, reply, pending.Protocol);
                    else
                        await WriteInPiecesAsync(reply, pending.Protocol, aborted).ConfigureAwait(false);
                    Connection.AddPendingReplies(-1);

                    if (pending.CloseAfter)
                    {
                        await FlushAsync(aborted).ConfigureAwait(false);
                        return;
                    }

                    if (_output.UnflushedBytes >= FlushThreshold)
                        await FlushAsync(aborted).ConfigureAwait(false);
                }

                if (_output.UnflushedBytes > 0)
                    await FlushAsync(aborted).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested || Volatile.Read(ref _closing) != 0)
        {
            // The server is stopping, or a limit closed the connection.
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            RespLog.ConnectionLost(_logger, Connection.Id, e.Message);
        }
    }

    /// <summary>
    /// Writes a large reply in pieces of at most <see cref="FlushThreshold"/>, flushing between them: the send
    /// buffer holds one piece, not a copy of the whole reply, and a client that stops reading stops the copying.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteInPiecesAsync(Reply reply, int protocol, CancellationToken cancellationToken)
    {
        switch (reply.Kind)
        {
            case ReplyKind.Bulk or ReplyKind.Verbatim when (reply.Bulk?.Length ?? 0) > FlushThreshold:
                var payload = RespWriter.WritePrefix(_output, reply, protocol);
                for (var offset = 0; offset < payload.Length; offset += FlushThreshold)
                {
                    _output.Write(payload.Span.Slice(offset, Math.Min(FlushThreshold, payload.Length - offset)));
                    if (_output.UnflushedBytes >= FlushThreshold)
                        await FlushAsync(cancellationToken).ConfigureAwait(false);
                }

                _output.Write("\r\n"u8);
                break;
            case ReplyKind.Array or ReplyKind.Map:
                RespWriter.WritePrefix(_output, reply, protocol);
                var items = reply.Items ?? [];
                for (var i = 0; i < items.Count; i++)
                {
                    await WriteInPiecesAsync(items[i], protocol, cancellationToken).ConfigureAwait(false);
                    if (_output.UnflushedBytes >= FlushThreshold)
                        await FlushAsync(cancellationToken).ConfigureAwait(false);
                }

                break;
            default:
                RespWriter.Write(_output, reply, protocol);
                break;
        }
    }

    /// <summary>Sends what is buffered; once the socket has taken it, it no longer counts as the client's output.</summary>
    private async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _closing) != 0)
            throw new OperationCanceledException("A limit closed the connection.");

        var bytes = _output.UnflushedBytes;
        await _output.FlushAsync(cancellationToken).ConfigureAwait(false);
        var held = Connection.AddOutputBytes(-bytes);
        Connection.LastInteraction = _time.GetUtcNow();
        if (held < _limits.OutputBuffer.Normal.Soft && Volatile.Read(ref _overSoftLimitSince) != NotOverSoftLimit)
            Volatile.Write(ref _overSoftLimitSince, NotOverSoftLimit);
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

    private static async ValueTask ObserveAsync(ValueTask<SizedReply> reply)
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
        // Replies still completing find the connection closed and count against no limit.
        Volatile.Write(ref _closing, 1);
        Connection.MarkClosing();
        await _aborted.CancelAsync().ConfigureAwait(false);

        // The write loop flushed everything it finished; output still buffered belongs to an aborted connection.
        // Completing with an error discards it instead of blocking on a client that may have stopped reading.
        await _output.CompleteAsync(new OperationCanceledException("The connection is closing.")).ConfigureAwait(false);
        await _input.CompleteAsync().ConfigureAwait(false);
        if (_stream is System.Net.Security.SslStream tls)
            await SendCloseNotifyAsync(tls).ConfigureAwait(false);
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
        _inputEnded.Dispose();
        _aborted.Dispose();
    }

    // TLS's orderly close (close_notify), so the client can tell the end of the connection from a truncation. Both
    // loops have ended, so nothing else writes; a client that does not read gets no more than a moment.
    private async Task SendCloseNotifyAsync(System.Net.Security.SslStream tls)
    {
        try
        {
            await tls.ShutdownAsync().WaitAsync(TimeSpan.FromSeconds(1), _time).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or InvalidOperationException
            or NotSupportedException or TimeoutException or System.Security.Authentication.AuthenticationException)
        {
            // The client is gone, or the stream was mid-write when a limit closed it: close without it.
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
    /// <param name="Reply">The handler's reply, tracked; awaited exactly once, by the write loop or when the connection closes.</param>
    /// <param name="CloseAfter">Close the connection once this reply is sent and flushed.</param>
    /// <param name="Protocol">The RESP version in force when the request was handled, which the reply is written in.</param>
    private readonly record struct PendingReply(ValueTask<SizedReply> Reply, bool CloseAfter, int Protocol);

    /// <summary>A computed reply and the bytes it takes in RESP, counted in the connection's output until sent.</summary>
    private readonly record struct SizedReply(Reply Reply, long Bytes);
}
