using System.Net;

namespace RaftKv.Node.Tls;

/// <summary>TLS log messages.</summary>
internal static partial class TlsLog
{
    [LoggerMessage(Level = LogLevel.Information,
        Message = "TLS certificate reloaded from {CertFile}: {Subject} (thumbprint {Thumbprint}, expires {NotAfter:u})")]
    public static partial void CredentialsReloaded(ILogger logger, string certFile, string subject, string thumbprint, DateTime notAfter);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "TLS files changed but cannot be loaded; still serving the previous certificate (thumbprint {Thumbprint}) from {CertFile}: {Reason}")]
    public static partial void ReloadFailed(ILogger logger, string certFile, string thumbprint, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "TLS handshake with {RemoteEndPoint} failed: {Reason}")]
    public static partial void HandshakeFailed(ILogger logger, EndPoint? remoteEndPoint, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "TLS handshake with {RemoteEndPoint} did not finish within {Timeout}")]
    public static partial void HandshakeTimedOut(ILogger logger, EndPoint? remoteEndPoint, TimeSpan timeout);
}
