using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Resp;

/// <summary>
/// A client that speaks raw bytes, so tests can send malformed or oddly split requests and assert the exact bytes
/// that come back, or read a reply whose exact bytes do not matter as a <see cref="RespReply"/>. Every read gives up
/// after a generous timeout so a broken server fails the test instead of hanging it.
/// </summary>
internal sealed class RawRespClient : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly PipeReader _input;
    private readonly RespReplyReader _replies;

    private RawRespClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _input = PipeReader.Create(_stream, new StreamPipeReaderOptions(leaveOpen: true));
        _replies = new RespReplyReader(_input);
    }

    /// <summary>The client's own address, which the server sees as the connection's remote end point.</summary>
    public EndPoint LocalEndPoint => _socket.LocalEndPoint!;

    public static async Task<RawRespClient> ConnectAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeout = new CancellationTokenSource(Timeout);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), timeout.Token);
        return new RawRespClient(socket);
    }

    public Task SendAsync(string text) => SendAsync(Sequences.Bytes(text));

    public async Task SendAsync(byte[] bytes)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await _stream.WriteAsync(bytes, timeout.Token);
    }

    /// <summary>Reads exactly as many bytes as <paramref name="expected"/> holds and asserts they are those bytes.</summary>
    public async Task ExpectAsync(string expected) => Assert.Equal(expected, Sequences.Text(await ReadAsync(expected.Length)));

    public async Task<byte[]> ReadAsync(int length)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        while (true)
        {
            var result = await _input.ReadAsync(timeout.Token);
            if (result.Buffer.Length >= length)
            {
                var bytes = result.Buffer.Slice(0, length).ToArray();
                _input.AdvanceTo(result.Buffer.GetPosition(length));
                return bytes;
            }

            _input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
            if (result.IsCompleted)
                throw new EndOfStreamException($"The server closed the connection after {result.Buffer.Length} of {length} bytes.");
        }
    }

    /// <summary>Reads and discards whatever has arrived; returns how many bytes that was, 0 once the server closed.</summary>
    public async Task<long> ReadSomeAsync()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var result = await _input.ReadAsync(timeout.Token);
        var length = result.Buffer.Length;
        _input.AdvanceTo(result.Buffer.End);
        return length == 0 && result.IsCompleted ? 0 : length;
    }

    /// <summary>Reads the next reply, RESP2 or RESP3, with the tests' one reply reader.</summary>
    public async Task<RespReply> ReadReplyAsync()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        return await _replies.ReadAsync(timeout.Token);
    }

    /// <summary>
    /// Asserts that the server closed the connection without sending anything more. A reset counts as closed: a
    /// server that closes with unread input in its socket resets the connection, as Redis does.
    /// </summary>
    public async Task ExpectClosedAsync()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        ReadResult result;
        try
        {
            result = await _input.ReadAsync(timeout.Token);
        }
        catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionReset })
        {
            return;
        }

        var unread = result.Buffer.Slice(0, Math.Min(result.Buffer.Length, 256)).ToArray();
        _input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        Assert.True(unread.Length == 0, $"expected the server to close the connection, got \"{Sequences.Text(unread)}\"");
    }

    public async ValueTask DisposeAsync()
    {
        await _input.CompleteAsync();
        await _stream.DisposeAsync();
    }
}
