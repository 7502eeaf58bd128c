using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace RaftKv.Testing;

/// <summary>
/// A loopback TCP proxy in front of one server port that injects network faults: reset every connection, cut all
/// traffic silently (a partition: connections stay open, bytes vanish), heal, or lose the reply to one request.
/// </summary>
/// <remarks>
/// Faults act on whole chunks as the proxy reads them, which on loopback are whole requests and replies.
/// </remarks>
public sealed class TcpProxy : IAsyncDisposable
{
    private readonly TcpListener listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint target;
    private readonly ConcurrentDictionary<ProxiedConnection, byte> connections = new();
    private readonly CancellationTokenSource stopping = new();
    private readonly Task accepting;
    private readonly Lock gate = new();
    private volatile bool cut;
    private byte[]? replyLossMarker;
    private TaskCompletionSource? replyLost;

    private TcpProxy(int targetPort)
    {
        target = new IPEndPoint(IPAddress.Loopback, targetPort);
        listener.Start();
        Port = ((IPEndPoint)listener.LocalEndpoint).Port;
        accepting = Task.Run(AcceptLoopAsync);
    }

    /// <summary>The port clients connect to.</summary>
    public int Port { get; }

    /// <summary><c>127.0.0.1:port</c> of the proxy.</summary>
    public string Endpoint => $"127.0.0.1:{Port}";

    /// <summary>Connections open through the proxy now.</summary>
    public int ConnectionCount => connections.Count;

    /// <summary>Starts a proxy forwarding to <c>127.0.0.1:targetPort</c>.</summary>
    public static TcpProxy Start(int targetPort) => new(targetPort);

    /// <summary>Resets every open connection (both sides see a reset); new connections are forwarded as before.</summary>
    public void DropConnections()
    {
        foreach (var connection in connections.Keys)
            connection.Reset();
    }

    /// <summary>
    /// Partitions the server from its clients: bytes in both directions on open connections are discarded, and new
    /// connections are accepted but never reach the server. Nobody sees a reset; everybody sees silence.
    /// </summary>
    public void Cut()
    {
        cut = true;
        foreach (var connection in connections.Keys)
            connection.IsCut = true;
    }

    /// <summary>Ends a <see cref="Cut"/>: connections that lost bytes to it are reset; new ones are forwarded.</summary>
    public void Heal()
    {
        cut = false;
        foreach (var connection in connections.Keys.Where(static c => c.IsCut))
            connection.Reset();
    }

    /// <summary>
    /// Lets the next request containing <paramref name="marker"/> through to the server, then resets its connection
    /// instead of forwarding the server's next bytes: the server applied the request, the client never hears so.
    /// </summary>
    /// <returns>A task that completes when the reply has been lost.</returns>
    public Task LoseReplyTo(ReadOnlySpan<byte> marker)
    {
        lock (gate)
        {
            replyLossMarker = marker.ToArray();
            replyLost = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return replyLost.Task;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        listener.Stop();
        foreach (var connection in connections.Keys)
            connection.Reset();
        await accepting;
        await Task.WhenAll(connections.Keys.Select(static c => c.Completion));
        stopping.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptSocketAsync(stopping.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(Socket client)
    {
        client.NoDelay = true;
        Socket? upstream = null;
        if (!cut)
        {
            upstream = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await upstream.ConnectAsync(target, stopping.Token);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                upstream.Dispose();
                ProxiedConnection.ResetSocket(client);
                return;
            }
        }

        var connection = new ProxiedConnection(this, client, upstream) { IsCut = upstream is null };
        connections[connection] = 0;
        await connection.RunAsync();
        connections.TryRemove(connection, out _);
    }

    // Called with each chunk a client sends: arms the reply loss on this connection when the marker is in it.
    private bool MatchesReplyLoss(ReadOnlySpan<byte> chunk)
    {
        lock (gate)
        {
            if (replyLossMarker is null || chunk.IndexOf(replyLossMarker) < 0)
                return false;
            replyLossMarker = null;
            return true;
        }
    }

    private void ReplyLost()
    {
        lock (gate)
            replyLost?.TrySetResult();
    }

    private sealed class ProxiedConnection(TcpProxy proxy, Socket client, Socket? upstream)
    {
        private readonly TaskCompletionSource completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private volatile bool loseNextReply;
        private int reset;

        public volatile bool IsCut;

        public Task Completion => completion.Task;

        public static void ResetSocket(Socket socket)
        {
            try
            {
                socket.LingerState = new LingerOption(true, 0);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // Already closed.
            }

            socket.Dispose();
        }

        public async Task RunAsync()
        {
            await Task.WhenAll(PumpAsync(client, upstream, fromClient: true), upstream is null ? Task.CompletedTask : PumpAsync(upstream, client, fromClient: false));
            Reset();
            completion.TrySetResult();
        }

        public void Reset()
        {
            if (Interlocked.Exchange(ref reset, 1) != 0)
                return;
            ResetSocket(client);
            if (upstream is not null)
                ResetSocket(upstream);
        }

        private async Task PumpAsync(Socket from, Socket? to, bool fromClient)
        {
            var buffer = new byte[64 * 1024];
            try
            {
                while (true)
                {
                    var read = await from.ReceiveAsync(buffer, SocketFlags.None);
                    if (read == 0)
                        return;
                    if (IsCut || to is null)
                        continue;

                    var chunk = buffer.AsMemory(0, read);
                    if (fromClient && proxy.MatchesReplyLoss(chunk.Span))
                        loseNextReply = true;
                    if (!fromClient && loseNextReply)
                    {
                        Reset();
                        proxy.ReplyLost();
                        return;
                    }

                    await to.SendAsync(chunk, SocketFlags.None);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // The other side or a fault closed the connection.
            }
            finally
            {
                Reset();
            }
        }
    }
}
