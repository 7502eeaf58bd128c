using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace RaftKv.Node.Backup;

/// <summary>How <c>RaftKv.Node backup</c> reaches a node: address, credentials and TLS files, as redis-cli names them.</summary>
/// <param name="Host">The node's RESP host.</param>
/// <param name="Port">The node's RESP port.</param>
/// <param name="User">The ACL user, or null for <c>AUTH password</c> alone.</param>
/// <param name="Password">The password, or null for none.</param>
/// <param name="Tls">Whether to speak TLS.</param>
/// <param name="CaCertFile">The CA that signed the node's certificate (trusted alone), or null for the system's.</param>
/// <param name="CertFile">A client certificate for mutual TLS, or null.</param>
/// <param name="KeyFile">Its private key.</param>
public sealed record BackupEndpoint(
    string Host, int Port, string? User, string? Password, bool Tls, string? CaCertFile, string? CertFile, string? KeyFile);

/// <summary>
/// One plain RESP2 connection to one node, for the backup tool alone: a backup's id belongs to the node that wrote it,
/// so every command must reach that node (RaftKv.Client follows the leader and retries, which is right for data and
/// wrong here). Replies are read as untrusted input: a bulk longer than asked or a malformed frame is an error.
/// </summary>
public sealed class BackupConnection : IAsyncDisposable
{
    private const int MaxLineBytes = 64 * 1024;
    private readonly Stream stream;

    private BackupConnection(Stream stream) => this.stream = stream;

    /// <summary>Connects, runs the TLS handshake when asked and authenticates when a password is given.</summary>
    /// <exception cref="BackupException">The node refused the credentials.</exception>
    public static async Task<BackupConnection> ConnectAsync(BackupEndpoint endpoint, CancellationToken token)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Stream stream;
        try
        {
            await socket.ConnectAsync(endpoint.Host, endpoint.Port, token).ConfigureAwait(false);
            stream = new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        if (endpoint.Tls)
            stream = await AuthenticateTlsAsync(stream, endpoint, token).ConfigureAwait(false);
        var connection = new BackupConnection(new BufferedStream(stream, 1 << 16));
        if (endpoint.Password is { } password)
        {
            var reply = endpoint.User is { } user
                ? await connection.SendAsync(["AUTH", user, password], token).ConfigureAwait(false)
                : await connection.SendAsync(["AUTH", password], token).ConfigureAwait(false);
            if (reply.Error is { } refused)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                throw new BackupException($"{endpoint.Host}:{endpoint.Port} refused the credentials: {refused}");
            }
        }

        return connection;
    }

    private static async Task<Stream> AuthenticateTlsAsync(Stream transport, BackupEndpoint endpoint, CancellationToken token)
    {
        var options = new SslClientAuthenticationOptions { TargetHost = endpoint.Host, CertificateRevocationCheckMode = X509RevocationMode.NoCheck };
        if (endpoint.CertFile is { } certFile)
        {
            var certificate = X509Certificate2.CreateFromPemFile(certFile, endpoint.KeyFile ?? certFile);
            options.ClientCertificateContext = SslStreamCertificateContext.Create(certificate, null);
        }

        if (endpoint.CaCertFile is { } caFile)
        {
            var policy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck, DisableCertificateDownloads = true,
            };
            policy.CustomTrustStore.ImportFromPemFile(caFile);
            options.CertificateChainPolicy = policy;
        }

        var tls = new SslStream(transport, leaveInnerStreamOpen: false);
        try
        {
            await tls.AuthenticateAsClientAsync(options, token).ConfigureAwait(false);
            return tls;
        }
        catch
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Sends one command and reads its reply.</summary>
    /// <exception cref="BackupException">The connection closed, or the reply is not RESP.</exception>
    public async Task<BackupReply> SendAsync(IReadOnlyList<string> argv, CancellationToken token)
    {
        var request = new StringBuilder().Append('*').Append(argv.Count).Append("\r\n");
        foreach (var argument in argv)
            request.Append('$').Append(Encoding.UTF8.GetByteCount(argument)).Append("\r\n").Append(argument).Append("\r\n");
        await stream.WriteAsync(Encoding.UTF8.GetBytes(request.ToString()), token).ConfigureAwait(false);
        await stream.FlushAsync(token).ConfigureAwait(false);
        return await ReadReplyAsync(depth: 0, token).ConfigureAwait(false);
    }

    private async Task<BackupReply> ReadReplyAsync(int depth, CancellationToken token)
    {
        var line = await ReadLineAsync(token).ConfigureAwait(false);
        if (line.Length == 0)
            throw new BackupException("The node sent an empty reply line.");
        var body = line[1..];
        switch (line[0])
        {
            case '+':
                return new BackupReply(Text: body);
            case '-':
                return new BackupReply(Error: body);
            case ':':
                return new BackupReply(Integer: ParseLength(body, allowNegative: true));
            case '$':
                var length = ParseLength(body, allowNegative: true);
                if (length < 0)
                    return new BackupReply();
                if (length > OnlineBackup.MaxReadBytes)
                    throw new BackupException($"The node sent a bulk of {length} bytes, more than a backup read may hold.");
                var bytes = new byte[length + 2];
                await stream.ReadExactlyAsync(bytes, token).ConfigureAwait(false);
                if (bytes[^2] != '\r' || bytes[^1] != '\n')
                    throw new BackupException("The node sent a bulk without its CRLF.");
                return new BackupReply(Bulk: bytes.AsMemory(0, (int)length));
            case '*' when depth == 0:
                var count = ParseLength(body, allowNegative: true);
                if (count > 64)
                    throw new BackupException($"The node sent an array of {count} items where a few were expected.");
                var items = new BackupReply[Math.Max(count, 0)];
                for (var i = 0; i < items.Length; i++)
                    items[i] = await ReadReplyAsync(depth + 1, token).ConfigureAwait(false);
                return new BackupReply(Items: items);
            default:
                throw new BackupException($"The node sent a reply this tool does not expect: '{line[..Math.Min(line.Length, 40)]}'.");
        }
    }

    private static long ParseLength(string text, bool allowNegative)
        => long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) && (allowNegative || value >= 0)
            ? value
            : throw new BackupException($"The node sent '{text}' where a number belongs.");

    private async Task<string> ReadLineAsync(CancellationToken token)
    {
        var line = new StringBuilder();
        var one = new byte[1];
        while (true)
        {
            if (await stream.ReadAsync(one, token).ConfigureAwait(false) == 0)
                throw new BackupException("The node closed the connection.");
            if (one[0] == '\n' && line.Length > 0 && line[^1] == '\r')
                return line.ToString(0, line.Length - 1);
            if (line.Length >= MaxLineBytes)
                throw new BackupException("The node sent a reply line too long to be one.");
            line.Append((char)one[0]);
        }
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => stream.DisposeAsync();
}

/// <summary>One RESP2 reply as the backup tool reads it: exactly one of the members is set (none: a null).</summary>
public sealed record BackupReply(
    string? Text = null, string? Error = null, long? Integer = null, ReadOnlyMemory<byte>? Bulk = null, BackupReply[]? Items = null);

/// <summary>A backup or restore that cannot go on; the message is the one line the tool prints.</summary>
public sealed class BackupException(string message, Exception? inner = null) : Exception(message, inner);
