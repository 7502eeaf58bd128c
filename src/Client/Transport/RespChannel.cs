using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using RaftKv.Client.Protocol;
using RaftKv.Client.Topology;

namespace RaftKv.Client.Transport;

/// <summary>
/// One TCP connection to one node, shared by every caller: requests are queued, written in order by one writer
/// (everything queued meanwhile goes out in one flush) and matched with replies first in, first out.
/// </summary>
/// <remarks>
/// A channel closes once and for good: on a socket error, an unparseable reply, a reply owed for longer than the
/// reply timeout, or when retired and drained. Closing fails every request still on it with
/// <see cref="ConnectionLostException"/>; each <see cref="PendingReply"/> knows whether it had been sent.
/// </remarks>
internal sealed class RespChannel : IAsyncDisposable
{
    private readonly Socket socket;
    private readonly Stream stream;
    private readonly PipeReader input;
    private readonly PipeWriter output;
    private readonly Channel<PendingReply> outbox = Channel.CreateUnbounded<PendingReply>(new UnboundedChannelOptions { SingleWriter = false, SingleReader = false });
    private readonly ConcurrentQueue<PendingReply> awaiting = new();
    private readonly CancellationTokenSource closing = new();
    private readonly TaskCompletionSource closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TimeProvider time;
    private readonly TimeSpan replyTimeout;
    private readonly ILogger logger;
    private readonly ITimer watchdog;
    private readonly Task writing;
    private readonly Task reading;
    private int closeStarted;
    private volatile bool retiring;
    private volatile bool writerDone;

    private RespChannel(string endpoint, Socket socket, Stream stream, TimeProvider time, TimeSpan replyTimeout, ILogger logger)
    {
        Endpoint = endpoint;
        this.socket = socket;
        this.stream = stream;
        this.time = time;
        this.replyTimeout = replyTimeout;
        this.logger = logger;
        input = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
        output = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
        var period = TimeSpan.FromTicks(Math.Max(replyTimeout.Ticks / 4, TimeSpan.TicksPerMillisecond * 10));
        watchdog = time.CreateTimer(static state => ((RespChannel)state!).CheckOwedReplies(), this, period, period);
        writing = Task.Run(WriteLoopAsync);
        reading = Task.Run(ReadLoopAsync);
        _ = ReleaseStreamAsync();
    }

    /// <summary>The address this channel was opened to, as the client names it.</summary>
    public string Endpoint { get; }

    /// <summary>True while the channel takes new requests (not closed, not retiring).</summary>
    public bool IsOpen => Volatile.Read(ref closeStarted) == 0 && !retiring;

    /// <summary>Completes when the channel has closed.</summary>
    public Task Closed => closed.Task;

    /// <summary>
    /// Opens a TCP connection to <paramref name="endpoint"/> and sets it up as <paramref name="setup"/> says (TLS
    /// handshake, then AUTH) before anything else is sent on it.
    /// </summary>
    /// <exception cref="RaftKvAuthenticationException">The node refused the credentials.</exception>
    public static async Task<RespChannel> ConnectAsync(
        string endpoint, ChannelSetup setup, TimeProvider time, TimeSpan replyTimeout, ILogger logger, CancellationToken cancellationToken)
    {
        var address = EndpointAddress.Parse(endpoint);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Stream stream;
        try
        {
            await socket.ConnectAsync(address.ToEndPoint(), cancellationToken).ConfigureAwait(false);
            stream = new NetworkStream(socket, ownsSocket: false);
            if (setup.Tls is { } tls)
                stream = await tls.AuthenticateAsync(stream, address.Host, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var channel = new RespChannel(endpoint, socket, stream, time, replyTimeout, logger);
        try
        {
            await setup.AuthenticateAsync(channel, logger, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await channel.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return channel;
    }

    /// <summary>
    /// Queues <paramref name="pending"/> and waits for its reply. When <paramref name="cancellationToken"/> fires the
    /// attempt is abandoned (never sent if it had not been); <see cref="PendingReply.WasSent"/> then tells which.
    /// </summary>
    /// <exception cref="ConnectionLostException">The channel closed before the reply arrived.</exception>
    public async Task<RespValue> SendAsync(PendingReply pending, CancellationToken cancellationToken)
    {
        if (!IsOpen || !outbox.Writer.TryWrite(pending))
            throw new ConnectionLostException(Endpoint, retiring ? "the connection is being replaced" : "the connection is closed");

        try
        {
            return await pending.Reply.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            pending.TryAbandon();
            throw;
        }
    }

    /// <summary>Takes no new requests; sends what is queued, closes once every reply has arrived.</summary>
    public void Retire()
    {
        retiring = true;
        outbox.Writer.TryComplete();
    }

    /// <summary>Closes now, failing every request still on the channel with <paramref name="reason"/>.</summary>
    public void Abort(Exception reason) => Close(reason);

    public async ValueTask DisposeAsync()
    {
        Close(new ObjectDisposedException(nameof(RespChannel)));
        await Task.WhenAll(writing, reading).ConfigureAwait(false);
        closing.Dispose();
    }

    // The stream (an SslStream holds native state) goes once neither loop can touch it, however the channel closed.
    private async Task ReleaseStreamAsync()
    {
        try
        {
            await Task.WhenAll(writing, reading).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The loops report through Close; here only the stream matters.
        }

        try
        {
            await stream.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // The socket is gone already.
        }
    }

    private async Task WriteLoopAsync()
    {
        try
        {
            var reader = outbox.Reader;
            while (await reader.WaitToReadAsync(closing.Token).ConfigureAwait(false))
            {
                while (reader.TryRead(out var pending))
                {
                    if (!pending.TryClaim(time.GetTimestamp()))
                        continue;
                    pending.WriteTo(output);
                    awaiting.Enqueue(pending);
                }

                var flushed = await output.FlushAsync(closing.Token).ConfigureAwait(false);
                if (flushed.IsCompleted)
                {
                    Close(new ConnectionLostException(Endpoint, "the server stopped reading"));
                    return;
                }
            }

            // Retired and drained: close when the last reply is in (or now, when none is owed).
            writerDone = true;
            if (awaiting.IsEmpty)
                Close(null);
        }
        catch (Exception e)
        {
            Close(e);
        }
        finally
        {
            FailLeftoversIfClosed();
            try
            {
                // Closed: what is still buffered goes nowhere (completing with an error discards it, no write to a
                // disposed socket). Retired and drained: nothing is buffered.
                await output.CompleteAsync(Volatile.Read(ref closeStarted) != 0 ? new ConnectionLostException(Endpoint, "the connection closed") : null).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                // The socket closed under the last flush.
            }
        }
    }

    private async Task ReadLoopAsync()
    {
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(closing.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                try
                {
                    while (RespReader.TryRead(ref buffer, out var reply))
                    {
                        if (!awaiting.TryDequeue(out var pending))
                            throw new RespProtocolException("A reply arrived that no request was waiting for.");
                        pending.Complete(reply);
                    }
                }
                finally
                {
                    input.AdvanceTo(buffer.Start, buffer.End);
                }

                if (writerDone && awaiting.IsEmpty)
                {
                    Close(null);
                    return;
                }

                if (result.IsCompleted)
                {
                    Close(new ConnectionLostException(Endpoint, "closed by the server"));
                    return;
                }
            }
        }
        catch (Exception e)
        {
            Close(e);
        }
        finally
        {
            FailLeftoversIfClosed();
            await input.CompleteAsync().ConfigureAwait(false);
        }
    }

    // A node that hangs, or a network that silently drops packets, leaves a TCP connection open and quiet: only a
    // reply owed for too long tells. Replacing the connection moves every request on it to a working node.
    private void CheckOwedReplies()
    {
        if (awaiting.TryPeek(out var oldest) && time.GetElapsedTime(oldest.SentAt) > replyTimeout)
            Close(new TimeoutException($"{Endpoint} owed a reply for more than {replyTimeout.TotalMilliseconds:0} ms."));
    }

    private void Close(Exception? reason)
    {
        if (Interlocked.Exchange(ref closeStarted, 1) == 1)
            return;

        if (reason is not null && reason is not ObjectDisposedException)
            Log.ChannelClosed(logger, Endpoint, reason.Message);
        outbox.Writer.TryComplete();
        watchdog.Dispose();
        closing.Cancel();
        socket.Dispose();
        FailLeftoversIfClosed(reason);
        closed.TrySetResult();
    }

    // Called by Close and again when each loop ends: a request the writer was putting on the wire while the channel
    // closed lands in 'awaiting' after Close looked, and must not wait forever.
    private void FailLeftoversIfClosed(Exception? reason = null)
    {
        if (Volatile.Read(ref closeStarted) == 0)
            return;

        var lost = reason as ConnectionLostException ?? new ConnectionLostException(Endpoint, reason?.Message ?? "the connection closed", reason);
        while (awaiting.TryDequeue(out var pending))
            pending.Fail(lost);
        while (outbox.Reader.TryRead(out var pending))
            pending.Fail(lost);
    }
}
