using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using RaftKv.Node.Peers;

namespace RaftKv.Node.Hosting;

/// <summary>
/// The Raft port's connections, handed to DotNext through <c>RaftCluster.CustomTransportConfiguration</c>: each one,
/// in both directions, is opened with <see cref="PeerConnectionSecurity"/> — mutual TLS when <c>RaftKv:Tls:Cluster</c>
/// is on, then the cluster-secret handshake bound to <see cref="HandshakeChannel.Raft"/> — and only then carries
/// DotNext's Raft protocol (the same framing as its TCP transport). A sender that cannot do both never reaches DotNext:
/// no Vote, AppendEntries, InstallSnapshot or Resign from it is read.
/// </summary>
/// <remarks>
/// Handshakes run beside the accept loop, each bounded by <c>RaftKv:Peer:HandshakeTimeout</c>, so a silent or slow
/// connection holds up nothing but itself; DotNext's listener only ever sees authenticated connections.
/// </remarks>
public sealed partial class AuthenticatedRaftTransport(
    PeerConnectionSecurity security,
    IOptions<NodeOptions> options,
    ILogger<AuthenticatedRaftTransport> logger) : IConnectionListenerFactory, IConnectionFactory
{
    // DotNext sizes its protocol buffer from the pipe's first span: the TCP transport's 64 KB block.
    private const int BlockSize = 64 * 1024;

    private long accepted;
    private long refused;

    /// <summary>Incoming Raft connections that completed the handshake since start.</summary>
    public long ConnectionsAccepted => Interlocked.Read(ref accepted);

    /// <summary>Incoming Raft connections refused or dropped before DotNext saw a byte (TLS, secret, not a member, too slow).</summary>
    public long ConnectionsRefused => Interlocked.Read(ref refused);

    /// <inheritdoc/>
    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var socket = PeerAddress.Listen(endpoint, "The Raft port");
        return ValueTask.FromResult<IConnectionListener>(new Listener(this, socket));
    }

    /// <inheritdoc/>
    public async ValueTask<ConnectionContext> ConnectAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endpoint, cancellationToken).ConfigureAwait(false);
            var host = endpoint switch
            {
                IPEndPoint ip => ip.Address.ToString(),
                DnsEndPoint dns => dns.Host,
                _ => endpoint.ToString() ?? "",
            };
            var stream = await security.ConnectAsync(new NetworkStream(socket, ownsSocket: true), host, HandshakeChannel.Raft, cancellationToken)
                .ConfigureAwait(false);
            return new Connection(stream, socket.LocalEndPoint, socket.RemoteEndPoint);
        }
        catch (PeerHandshakeException e)
        {
            LogConnectRefused(logger, endpoint, e.Message);
            socket.Dispose();
            throw;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private async Task<Connection?> AuthenticateAsync(Socket socket, CancellationToken token)
    {
        var remote = socket.RemoteEndPoint;
        Stream stream = new NetworkStream(socket, ownsSocket: true);
        try
        {
            socket.NoDelay = true;
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(token);
            deadline.CancelAfter(options.Value.Peer.HandshakeTimeout);
            (stream, var verdict) = await security.AcceptAsync(stream, HandshakeChannel.Raft, deadline.Token).ConfigureAwait(false);
            if (verdict == HandshakeVerdict.Accepted)
            {
                Interlocked.Increment(ref accepted);
                return new Connection(stream, socket.LocalEndPoint, remote);
            }

            Interlocked.Increment(ref refused);
            LogRefused(logger, remote, verdict.ToString());
        }
        catch (Exception e) when (e is PeerHandshakeException or IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            Interlocked.Increment(ref refused);
            if (!token.IsCancellationRequested)
                LogRefused(logger, remote, e is OperationCanceledException ? "no handshake within " + options.Value.Peer.HandshakeTimeout : e.Message);
        }

        await stream.DisposeAsync().ConfigureAwait(false);
        return null;
    }

    /// <summary>Accepts sockets and authenticates them beside the loop; DotNext takes only the ones that passed.</summary>
    private sealed class Listener : IConnectionListener
    {
        private readonly AuthenticatedRaftTransport transport;
        private readonly Socket socket;
        private readonly CancellationTokenSource stopping = new();
        private readonly Channel<Connection> ready = Channel.CreateUnbounded<Connection>();
        private readonly ConcurrentDictionary<Task, byte> handshakes = new();
        private readonly Task acceptLoop;

        public Listener(AuthenticatedRaftTransport transport, Socket socket)
        {
            this.transport = transport;
            this.socket = socket;
            EndPoint = socket.LocalEndPoint!;
            acceptLoop = AcceptLoopAsync();
        }

        public EndPoint EndPoint { get; }

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            try
            {
                return await ready.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (ChannelClosedException)
            {
                return null;
            }
        }

        public async ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            if (stopping.IsCancellationRequested)
                return;
            await stopping.CancelAsync().ConfigureAwait(false);
            socket.Dispose();
            await acceptLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await Task.WhenAll(handshakes.Keys).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            ready.Writer.TryComplete();
        }

        public async ValueTask DisposeAsync()
        {
            await UnbindAsync().ConfigureAwait(false);
            while (ready.Reader.TryRead(out var connection))
                await connection.DisposeAsync().ConfigureAwait(false);
            stopping.Dispose();
        }

        private async Task AcceptLoopAsync()
        {
            var token = stopping.Token;
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
                catch (SocketException)
                {
                    await Task.Delay(50, token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                    continue;
                }

                var handshake = HandshakeAsync(connection, token);
                handshakes.TryAdd(handshake, 0);
                _ = handshake.ContinueWith(t => handshakes.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }

        private async Task HandshakeAsync(Socket connection, CancellationToken token)
        {
            await Task.Yield();
            if (await transport.AuthenticateAsync(connection, token).ConfigureAwait(false) is { } authenticated
                && !ready.Writer.TryWrite(authenticated))
            {
                await authenticated.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>An authenticated stream as the duplex pipe DotNext's generic transport reads and writes.</summary>
    private sealed class Connection : ConnectionContext, IDisposable
    {
        private readonly Stream stream;
        private readonly CancellationTokenSource closed = new();
        private int disposed;

        public Connection(Stream stream, EndPoint? local, EndPoint? remote)
        {
            this.stream = stream;
            LocalEndPoint = local;
            RemoteEndPoint = remote;
            ConnectionClosed = closed.Token;
            Transport = new Pipe(
                PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: BlockSize, leaveOpen: true)),
                PipeWriter.Create(stream, new StreamPipeWriterOptions(minimumBufferSize: BlockSize, leaveOpen: true)));
        }

        public override string ConnectionId { get; set; } = Guid.NewGuid().ToString("N");

        public override IFeatureCollection Features { get; } = new FeatureCollection();

        public override IDictionary<object, object?> Items { get; set; } = new ConnectionItems();

        public override IDuplexPipe Transport { get; set; }

        public override void Abort(ConnectionAbortedException abortReason) => Dispose();

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) != 0)
                return;
            closed.Cancel();
            stream.Dispose();
            Transport.Input.Complete();
            try
            {
                Transport.Output.Complete();
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException)
            {
                // The stream is gone: nothing left to flush.
            }

            closed.Dispose();
        }

        public override ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }

        private sealed class Pipe(PipeReader input, PipeWriter output) : IDuplexPipe
        {
            public PipeReader Input { get; } = input;

            public PipeWriter Output { get; } = output;
        }
    }

    [LoggerMessage(EventId = NodeLogEvents.RaftConnectionRefused, EventName = nameof(NodeLogEvents.RaftConnectionRefused), Level = LogLevel.Warning, Message = "Refused a connection to the Raft port from {Remote}: {Problem}")]
    private static partial void LogRefused(ILogger logger, EndPoint? remote, string problem);

    [LoggerMessage(EventId = NodeLogEvents.RaftRefusedByMember, EventName = nameof(NodeLogEvents.RaftRefusedByMember), Level = LogLevel.Warning, Message = "The Raft port of {Member} refused this node: {Problem}")]
    private static partial void LogConnectRefused(ILogger logger, EndPoint member, string problem);
}
