using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace RaftKv.Node.Tls;

/// <summary>
/// A certificate with its private key and chain, ready for <see cref="SslStream"/>, and the CA certificates the other
/// side's certificate must chain to. Immutable: a reload makes a new one.
/// </summary>
public sealed class TlsCredentials
{
    private TlsCredentials(X509Certificate2 certificate, SslStreamCertificateContext context, X509Certificate2Collection trust)
    {
        Certificate = certificate;
        Context = context;
        Trust = trust;
    }

    /// <summary>The certificate this side presents, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The certificate, its chain and (when a CA is set) the CA names sent in a certificate request.</summary>
    public SslStreamCertificateContext Context { get; }

    /// <summary>The CA certificates trusted for the other side; empty when no CA file is set.</summary>
    public X509Certificate2Collection Trust { get; }

    /// <summary>
    /// A chain policy that trusts <see cref="Trust"/> only (never the system store), for certificates usable for
    /// <paramref name="usage"/> (the <c>clientAuth</c> or <c>serverAuth</c> key usage OID). No revocation check,
    /// no downloads (Redis checks neither).
    /// </summary>
    public X509ChainPolicy CreateChainPolicy(string usage)
    {
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
            DisableCertificateDownloads = true,
        };
        policy.CustomTrustStore.AddRange(Trust);
        policy.ApplicationPolicy.Add(new Oid(usage));
        return policy;
    }

    /// <summary>Reads the files. Every problem is a <see cref="TlsFileException"/> whose message names the file and says what is wrong.</summary>
    public static TlsCredentials Load(TlsFiles files)
    {
        ArgumentNullException.ThrowIfNull(files);
        var chain = ReadCertificates(files.CertFile, "certificate");
        RequireReadable(files.KeyFile, "key");

        X509Certificate2 certificate;
        try
        {
            certificate = files.KeyFilePassword is { } password
                ? X509Certificate2.CreateFromEncryptedPemFile(files.CertFile, password, files.KeyFile)
                : X509Certificate2.CreateFromPemFile(files.CertFile, files.KeyFile);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new TlsFileException($"The key in '{files.KeyFile}' does not fit the certificate in '{files.CertFile}', or cannot be read{(files.KeyFilePassword is null ? " (an encrypted key needs KeyFilePassword)" : " with KeyFilePassword")}: {e.Message}", e);
        }

        if (!certificate.HasPrivateKey)
            throw new TlsFileException($"'{files.KeyFile}' holds no private key for the certificate in '{files.CertFile}'.");

        var trust = files.CaCertFile is { Length: > 0 } ca ? ReadCertificates(ca, "CA certificate") : [];
        var intermediates = new X509Certificate2Collection();
        for (var i = 1; i < chain.Count; i++)
            intermediates.Add(chain[i]);

        // The CA names go into the server's certificate request, so a client holding several certificates picks the right one.
        var context = SslStreamCertificateContext.Create(
            certificate,
            intermediates,
            offline: true,
            trust: trust.Count > 0 ? SslCertificateTrust.CreateForX509Collection(trust, sendTrustInHandshake: true) : null);
        return new TlsCredentials(certificate, context, trust);
    }

    private static X509Certificate2Collection ReadCertificates(string file, string what)
    {
        RequireReadable(file, what);
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPemFile(file);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new TlsFileException($"The {what} file '{file}' is not valid PEM: {e.Message}", e);
        }

        if (certificates.Count == 0)
            throw new TlsFileException($"The {what} file '{file}' holds no PEM certificate (-----BEGIN CERTIFICATE-----).");
        return certificates;
    }

    private static void RequireReadable(string file, string what)
    {
        if (!File.Exists(file))
            throw new TlsFileException($"The {what} file '{file}' does not exist.");
        try
        {
            using var stream = File.OpenRead(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TlsFileException($"The {what} file '{file}' cannot be read: {e.Message}", e);
        }
    }
}

/// <summary>Where a <see cref="TlsCredentials"/> is read from (PEM files).</summary>
/// <param name="CertFile">The certificate, then its chain.</param>
/// <param name="KeyFile">The certificate's private key.</param>
/// <param name="KeyFilePassword">The key's password, or null for a plain key.</param>
/// <param name="CaCertFile">The CA certificates the other side must chain to, or null.</param>
public sealed record TlsFiles(string CertFile, string KeyFile, string? KeyFilePassword, string? CaCertFile)
{
    /// <summary>The files, for a check whether any changed.</summary>
    public IEnumerable<string> All => CaCertFile is { Length: > 0 } ca ? [CertFile, KeyFile, ca] : [CertFile, KeyFile];
}

/// <summary>A TLS certificate, key or CA file is missing or unusable; the message says which and why.</summary>
public sealed class TlsFileException(string message, Exception? innerException = null) : Exception(message, innerException);
