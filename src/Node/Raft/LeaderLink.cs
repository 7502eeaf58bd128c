using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using MessagePack;
using RaftKv.StateMachine;
using RaftKv.StateMachine.Commands;

namespace RaftKv.Node.Raft;

/// <summary>
/// One pipelined RESP connection from a follower to the leader, carrying forwarded writes
/// (<c>RAFTKV.PROPOSE db command</c>, <see cref="ForwardAsync"/>) or read-index requests (<see cref="ReadIndexAsync"/>)
/// and their replies in order. Requests written in the order they are made reach the leader in that order, which keeps
/// each client's forwarded writes in order.
/// </summary>
/// <remarks>
/// A write whose request bytes left this node has an unknown outcome if the link breaks or times out before the
/// reply: the leader may have applied it. Only writes never sent are reported as refused.
/// </remarks>
internal sealed partial class LeaderLink : IAsyncDisposable
{
    private static readonly byte[] ProposeHeader = "*3\r\n$14\r\nRAFTKV.PROPOSE\r\n"u8.ToArray();

    private readonly Socket socket = new(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
    private readonly Channel<Pending> outgoing = Channel.CreateUnbounded<Pending>(new() { SingleReader = true });
    private readonly Queue<Pending> awaitingReply = new();
    private readonly Lock gate = new();
    private readonly CancellationTokenSource closed = new();
    private readonly TimeSpan timeout;
    private readonly ILogger logger;
    private bool broken;

    /// <summary>
    /// Opens a link to <paramref name="address"/> (<c>host:port</c>). Requests can be queued at once; they leave, in
    /// order, when the connection is up, or are refused if it cannot be made.
    /// </summary>
    public LeaderLink(string address, TimeSpan timeout, ILogger logger)
    {
        Address = address;
        this.timeout = timeout;
        this.logger = logger;
        _ = RunAsync();
    }

    /// <summary>The leader's RESP address this link talks to.</summary>
    public string Address { get; }

    /// <summary>True once the link failed or was closed; a new one must be opened.</summary>
    public bool IsBroken
    {
        get
        {
            lock (gate)
                return broken;
        }
    }

    private async Task RunAsync()
    {
        NetworkStream stream;
        try
        {
            var colon = Address.LastIndexOf(':');
            var port = int.Parse(Address.AsSpan(colon + 1), System.Globalization.CultureInfo.InvariantCulture);
            using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(closed.Token);
            connectTimeout.CancelAfter(timeout);
            await socket.ConnectAsync(Address[..colon], port, connectTimeout.Token).ConfigureAwait(false);
            stream = new NetworkStream(socket, ownsSocket: false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException or FormatException)
        {
            LogConnectFailed(logger, Address, e.Message);
            Break();
            return;
        }

        var input = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024));
        await Task.WhenAll(WriteLoopAsync(stream), ReadLoopAsync(input)).ConfigureAwait(false);
        await stream.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Sends a write to the leader and waits for its reply, at most the link's timeout.</summary>
    public Task<Reply> ForwardAsync(WriteCommand command, int database) => SendAsync(Encode(command, database));

    /// <summary>Asks the leader for a read index (<c>RAFTKV.READINDEX</c>): <c>:index</c>, or a refusal.</summary>
    public Task<Reply> ReadIndexAsync() => SendAsync(ReadIndexFrame);

    private static readonly byte[] ReadIndexFrame = "*1\r\n$16\r\nRAFTKV.READINDEX\r\n"u8.ToArray();

    private async Task<Reply> SendAsync(byte[] frame)
    {
        var request = new Pending(frame);
        lock (gate)
        {
            if (broken || !outgoing.Writer.TryWrite(request))
                return ClusterView.NoLeader;
        }

        try
        {
            return await request.Outcome.Task.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The leader is slow or paused: the write may still be applied. Drop the link so no later reply is
            // matched to the wrong request.
            LogTimedOut(logger, Address);
            Break();
            return request.Sent ? Proposer.UncertainOutcome : ClusterView.NoLeader;
        }
    }

    // *3 $14 RAFTKV.PROPOSE $n <db> $n <MessagePack of the command>
    private static byte[] Encode(WriteCommand command, int database)
    {
        var body = MessagePackSerializer.Serialize(command, KeyValueStore.SerializerOptions);
        Span<byte> db = stackalloc byte[11];
        Utf8Formatter.TryFormat(database, db, out var dbLength);
        var header = Encoding.ASCII.GetBytes($"${dbLength}\r\n");
        var bodyHeader = Encoding.ASCII.GetBytes($"\r\n${body.Length}\r\n");
        var frame = new byte[ProposeHeader.Length + header.Length + dbLength + bodyHeader.Length + body.Length + 2];
        var span = frame.AsSpan();
        ProposeHeader.CopyTo(span);
        span = span[ProposeHeader.Length..];
        header.CopyTo(span);
        span = span[header.Length..];
        db[..dbLength].CopyTo(span);
        span = span[dbLength..];
        bodyHeader.CopyTo(span);
        span = span[bodyHeader.Length..];
        body.CopyTo(span);
        "\r\n"u8.CopyTo(span[body.Length..]);
        return frame;
    }

    private async Task WriteLoopAsync(NetworkStream stream)
    {
        var reader = outgoing.Reader;
        var buffer = new ArrayBufferWriter<byte>(64 * 1024);
        try
        {
            while (await reader.WaitToReadAsync(closed.Token).ConfigureAwait(false))
            {
                // Everything queued meanwhile goes out in one write: forwarded writes batch like a pipelining client.
                buffer.ResetWrittenCount();
                lock (gate)
                {
                    while (reader.TryRead(out var request))
                    {
                        buffer.Write(request.Frame);
                        request.Sent = true;
                        awaitingReply.Enqueue(request);
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
                while (TryReadReply(ref buffer, out var reply))
                {
                    Pending? request;
                    lock (gate)
                        awaitingReply.TryDequeue(out request);
                    if (request is null)
                        throw new InvalidDataException("A reply nobody asked for.");
                    request.Outcome.TrySetResult(reply);
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

    // The leader answers a bulk string (the MessagePack of the reply) or, for a request it could not take at all, an
    // error line. Nothing else is expected.
    private static bool TryReadReply(ref ReadOnlySequence<byte> buffer, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Reply? outcome)
    {
        outcome = null;
        var reader = new SequenceReader<byte>(buffer);
        if (!reader.TryReadTo(out ReadOnlySequence<byte> line, "\r\n"u8))
            return false;

        var text = line.ToArray();
        if (text.Length == 0)
            throw new InvalidDataException("Empty reply line.");

        switch (text[0])
        {
            case (byte)'-':
                outcome = Reply.Error(Encoding.UTF8.GetString(text.AsSpan(1)));
                break;
            case (byte)'$':
                if (!Utf8Parser.TryParse(text.AsSpan(1), out int length, out var consumed) || consumed != text.Length - 1 || length < 0)
                    throw new InvalidDataException("Bad bulk length.");
                if (reader.Remaining < length + 2)
                    return false;
                var body = reader.UnreadSequence.Slice(0, length).ToArray();
                reader.Advance(length + 2);
                outcome = ReplySerializer.Deserialize(body);
                break;
            default:
                throw new InvalidDataException("Unexpected reply type '" + (char)text[0] + "'.");
        }

        buffer = buffer.Slice(reader.Position);
        return true;
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
            unanswered = [.. awaitingReply];
            awaitingReply.Clear();
        }

        closed.Cancel();
        socket.Dispose();

        // Sent and unanswered: the leader may have applied them. Never sent: certainly not.
        foreach (var request in unanswered)
            request.Outcome.TrySetResult(Proposer.UncertainOutcome);
        while (outgoing.Reader.TryRead(out var request))
            request.Outcome.TrySetResult(ClusterView.NoLeader);
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

        public TaskCompletionSource<Reply> Outcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Could not connect to the leader at {Address}: {Problem}")]
    private static partial void LogConnectFailed(ILogger logger, string address, string problem);

    [LoggerMessage(Level = LogLevel.Warning, Message = "No reply from the leader at {Address} in time; forwarded writes in flight have an unknown outcome")]
    private static partial void LogTimedOut(ILogger logger, string address);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Unexpected reply from the leader at {Address}: {Problem}")]
    private static partial void LogProtocolError(ILogger logger, string address, string problem);
}
