using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace RaftKv.Node.Tls;

/// <summary>
/// The server side of the TLS handshake on the RESP TLS port (<see cref="TlsOptions.Port"/>): presents the current
/// certificate and checks the client's against <see cref="TlsOptions.CaCertFile"/> as
/// <see cref="TlsOptions.AuthClients"/> says.
/// </summary>
public sealed class RespTlsAuthenticator
{
    private const string ClientAuthUsage = "1.3.6.1.5.5.7.3.2";

    private static readonly RemoteCertificateValidationCallback AcceptAny = static (_, _, _, _) => true;
    private static readonly RemoteCertificateValidationCallback RequireValid = static (_, _, _, errors) => errors == SslPolicyErrors.None;
    private static readonly RemoteCertificateValidationCallback ValidOrNone =
        static (_, _, _, errors) => errors is SslPolicyErrors.None or SslPolicyErrors.RemoteCertificateNotAvailable;

    private readonly TlsOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    /// <summary>Creates the authenticator over <paramref name="credentials"/>, which may reload.</summary>
    public RespTlsAuthenticator(TlsOptions options, TlsCredentialSource credentials, TimeProvider time, ILogger<RespTlsAuthenticator> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        Credentials = credentials;
        _time = time;
        _logger = logger;
    }

    /// <summary>The TLS port to listen on.</summary>
    public int Port => _options.Port;

    /// <summary>The server certificate and the CA, reloaded when their files change.</summary>
    public TlsCredentialSource Credentials { get; }

    /// <summary>
    /// Runs the handshake on <paramref name="socket"/>; null (the reason logged) when it fails or does not finish
    /// within <see cref="TlsOptions.HandshakeTimeout"/>. The stream does not own the socket.
    /// </summary>
    public async Task<SslStream?> AuthenticateAsync(Socket socket, CancellationToken cancellationToken)
    {
        var remote = TryGetRemoteEndPoint(socket);
        var credentials = Credentials.Current;
        var options = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = credentials.Context,
            EnabledSslProtocols = _options.Protocols,
            ClientCertificateRequired = _options.AuthClients != TlsAuthClients.No,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            AllowRenegotiation = false,
            CertificateChainPolicy = _options.AuthClients == TlsAuthClients.No ? null : credentials.CreateChainPolicy(ClientAuthUsage),
            RemoteCertificateValidationCallback = _options.AuthClients switch
            {
                TlsAuthClients.No => AcceptAny,
                TlsAuthClients.Optional => ValidOrNone,
                _ => RequireValid,
            },
        };

        var stream = new SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false);
        using var timeout = new CancellationTokenSource(_options.HandshakeTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken);
        try
        {
            await stream.AuthenticateAsServerAsync(options, linked.Token).ConfigureAwait(false);
            return stream;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            TlsLog.HandshakeTimedOut(_logger, remote, _options.HandshakeTimeout);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The server is stopping.
        }
        catch (Exception e) when (e is AuthenticationException or IOException or SocketException or ObjectDisposedException)
        {
            // A plaintext client, a certificate the CA did not sign, no common protocol, a client that left.
            TlsLog.HandshakeFailed(_logger, remote, e.InnerException is { } inner ? $"{e.Message} ({inner.Message})" : e.Message);
        }

        await stream.DisposeAsync().ConfigureAwait(false);
        return null;
    }

    private static System.Net.EndPoint? TryGetRemoteEndPoint(Socket socket)
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
}
