using System.Net;
using System.Net.Sockets;

namespace RaftKv.Node.Tests.Resp;

/// <summary>
/// A client that speaks raw bytes, so tests can send malformed or oddly split requests and assert the exact bytes
/// that come back. Every read gives up after a generous timeout so a broken server fails the test instead of hanging it.
/// </summary>
internal sealed class RawRespClient : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly Socket _socket;
    private readonly NetworkStream _stream;

    private RawRespClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
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
        var bytes = new byte[length];
        using var timeout = new CancellationTokenSource(Timeout);
        await _stream.ReadExactlyAsync(bytes, timeout.Token);
        return bytes;
    }

    /// <summary>
    /// Asserts that the server closed the connection without sending anything more. A reset counts as closed: a
    /// server that closes with unread input in its socket resets the connection, as Redis does.
    /// </summary>
    public async Task ExpectClosedAsync()
    {
        var buffer = new byte[256];
        using var timeout = new CancellationTokenSource(Timeout);
        int read;
        try
        {
            read = await _stream.ReadAsync(buffer, timeout.Token);
        }
        catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionReset })
        {
            return;
        }

        Assert.True(read == 0, $"expected the server to close the connection, got \"{Sequences.Text(buffer.AsSpan(0, read))}\"");
    }

    public ValueTask DisposeAsync() => _stream.DisposeAsync();
}
