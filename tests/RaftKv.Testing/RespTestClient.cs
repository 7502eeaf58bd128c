using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using RaftKv.StateMachine;

namespace RaftKv.Testing;

/// <summary>
/// A minimal RESP client for tests: sends commands as multibulk and reads replies with <see cref="RespReplyReader"/>,
/// as <see cref="Reply"/> (<see cref="CallAsync"/>) or exactly as they came over the wire, RESP2 or RESP3
/// (<see cref="CallRespAsync(byte[][])"/>).
/// </summary>
public sealed partial class RespTestClient : IAsyncDisposable
{
    private readonly TcpClient tcp;
    private readonly Stream stream;
    private readonly PipeReader input;
    private readonly RespReplyReader replies;

    private RespTestClient(TcpClient tcp, Stream? stream = null)
    {
        this.tcp = tcp;
        this.stream = stream ?? tcp.GetStream();
        input = PipeReader.Create(this.stream, new StreamPipeReaderOptions(bufferSize: 1 << 16, leaveOpen: true));
        replies = new RespReplyReader(input);
    }

    public static Task<RespTestClient> ConnectAsync(int port, CancellationToken token = default) => ConnectAsync("127.0.0.1", port, token);

    public static async Task<RespTestClient> ConnectAsync(string host, int port, CancellationToken token = default)
    {
        var tcp = new TcpClient { NoDelay = true };
        try
        {
            await tcp.ConnectAsync(host, port, token);
        }
        catch
        {
            tcp.Dispose();
            throw;
        }

        return new RespTestClient(tcp);
    }

    /// <summary>
    /// Connects over TLS: the handshake runs with <paramref name="tls"/> (target host, trust, client certificate) and
    /// fails with its <see cref="System.Security.Authentication.AuthenticationException"/> or <see cref="IOException"/>.
    /// </summary>
    public static async Task<RespTestClient> ConnectTlsAsync(int port, SslClientAuthenticationOptions tls, CancellationToken token = default)
    {
        var tcp = new TcpClient { NoDelay = true };
        SslStream? ssl = null;
        try
        {
            await tcp.ConnectAsync("127.0.0.1", port, token);
            ssl = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            await ssl.AuthenticateAsClientAsync(tls, timeout.Token);
        }
        catch
        {
            if (ssl is not null)
                await ssl.DisposeAsync();
            tcp.Dispose();
            throw;
        }

        return new RespTestClient(tcp, ssl);
    }

    /// <summary>The server's certificate, when connected over TLS.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate? RemoteCertificate => (stream as SslStream)?.RemoteCertificate;

    /// <summary>How long a send or a read waits before throwing <see cref="TimeoutException"/>.</summary>
    public TimeSpan ReplyTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Sends a command and reads its reply as a <see cref="Reply"/>.</summary>
    public async Task<Reply> CallAsync(params string[] argv)
    {
        await SendAsync(argv);
        return await ReadReplyAsync();
    }

    /// <summary>Sends a command (its arguments as UTF-8) and reads its reply as it came over the wire.</summary>
    public Task<RespReply> CallRespAsync(params string[] argv) => CallRespAsync([.. argv.Select(Encoding.UTF8.GetBytes)]);

    /// <summary>Sends a command and reads its reply as it came over the wire.</summary>
    public async Task<RespReply> CallRespAsync(params byte[][] argv)
    {
        await SendAsync([argv]);
        return await ReadRespAsync();
    }

    /// <summary>Sends a command, its arguments as UTF-8, without reading the reply.</summary>
    public Task SendAsync(params string[] argv) => SendAsync([argv.Select(Encoding.UTF8.GetBytes).ToArray()]);

    /// <summary>Sends several commands in one write (a pipeline) without reading their replies.</summary>
    public async Task SendAsync(IEnumerable<byte[][]> commands, CancellationToken token = default)
    {
        using var frame = new MemoryStream();
        foreach (var argv in commands)
        {
            frame.Write(Encoding.ASCII.GetBytes($"*{argv.Length}\r\n"));
            foreach (var arg in argv)
            {
                frame.Write(Encoding.ASCII.GetBytes($"${arg.Length}\r\n"));
                frame.Write(arg);
                frame.Write("\r\n"u8);
            }
        }

        await WithTimeoutAsync(async t => await stream.WriteAsync(frame.GetBuffer().AsMemory(0, (int)frame.Length), t), "send", token);
    }

    /// <summary>Reads the next reply as a <see cref="Reply"/>.</summary>
    /// <exception cref="InvalidDataException">The reply is not RESP, or is of a RESP3 type <see cref="Reply"/> cannot hold.</exception>
    public async Task<Reply> ReadReplyAsync(CancellationToken token = default) => (await ReadRespAsync(token)).ToReply();

    /// <summary>Reads the next reply as it came over the wire.</summary>
    public Task<RespReply> ReadRespAsync(CancellationToken token = default)
        => WithTimeoutAsync(t => replies.ReadAsync(t).AsTask(), "reply", token);

    private async Task<T> WithTimeoutAsync<T>(Func<CancellationToken, Task<T>> operation, string what, CancellationToken token)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
        timeout.CancelAfter(ReplyTimeout);
        try
        {
            return await operation(timeout.Token);
        }
        catch (OperationCanceledException) when (!token.IsCancellationRequested)
        {
            throw new TimeoutException($"No {what} within {ReplyTimeout}.");
        }
    }

    private Task WithTimeoutAsync(Func<CancellationToken, Task> operation, string what, CancellationToken token)
        => WithTimeoutAsync(async t =>
        {
            await operation(t);
            return true;
        }, what, token);

    /// <summary>Closes the socket at once, as a crashed client would (replies still awaited fail); then dispose as usual.</summary>
    public void Abort() => tcp.Client.Close(0);

    public async ValueTask DisposeAsync()
    {
        await input.CompleteAsync();
        if (stream is SslStream ssl)
            await ssl.DisposeAsync();
        tcp.Dispose();
    }
}
