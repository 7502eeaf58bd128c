using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace RaftKv.Testing;

/// <summary>
/// A throw-away PKI for TLS tests, made in memory and written as PEM files to a temporary directory (deleted on
/// dispose): a CA with a node certificate (serverAuth and clientAuth, SAN 127.0.0.1, ::1 and localhost) and a client
/// certificate, and a second, unrelated CA with its own node and client certificates for refusal tests.
/// </summary>
/// <remarks>Keys are ECDSA P-256 (fast to make; OpenSSL, redis-cli and .NET all take them).</remarks>
public sealed class TestCertificates : IDisposable
{
    private TestCertificates(string directory)
    {
        Directory = directory;
        Ca = TestCertificateAuthority.Create(directory, "ca", "RaftKv Test CA");
        OtherCa = TestCertificateAuthority.Create(directory, "other-ca", "Unrelated Test CA");
        Node = Ca.IssueNode("node");
        Client = Ca.IssueClient("client");
        OtherNode = OtherCa.IssueNode("other-node");
        OtherClient = OtherCa.IssueClient("other-client");
    }

    /// <summary>Where the PEM files are.</summary>
    public string Directory { get; }

    /// <summary>The cluster's CA (<c>ca.crt</c>).</summary>
    public TestCertificateAuthority Ca { get; }

    /// <summary>A CA nothing trusts (<c>other-ca.crt</c>).</summary>
    public TestCertificateAuthority OtherCa { get; }

    /// <summary>A node certificate from <see cref="Ca"/> (<c>node.crt</c>, <c>node.key</c>), for servers and for members as clients.</summary>
    public TestCertificate Node { get; }

    /// <summary>A client certificate from <see cref="Ca"/> (<c>client.crt</c>, <c>client.key</c>).</summary>
    public TestCertificate Client { get; }

    /// <summary>A node certificate from <see cref="OtherCa"/>: valid in form, signed by the wrong CA.</summary>
    public TestCertificate OtherNode { get; }

    /// <summary>A client certificate from <see cref="OtherCa"/>.</summary>
    public TestCertificate OtherClient { get; }

    /// <summary>Makes the certificates in a new temporary directory.</summary>
    public static TestCertificates Create()
    {
        var directory = Path.Combine(Path.GetTempPath(), "raftkv-tests", "tls-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(directory);
        return new TestCertificates(directory);
    }

    /// <summary>
    /// Node settings for a RESP TLS listener on <paramref name="port"/> with <see cref="Node"/>'s files and
    /// <see cref="Ca"/>. A value may be a <see cref="TestCluster"/> placeholder such as <c>{TlsPort}</c>.
    /// </summary>
    public Dictionary<string, string?> NodeSettings(string port, string authClients = "Yes") => new()
    {
        ["RaftKv:Tls:Port"] = port,
        ["RaftKv:Tls:CertFile"] = Node.CertFile,
        ["RaftKv:Tls:KeyFile"] = Node.KeyFile,
        ["RaftKv:Tls:CaCertFile"] = Ca.CertFile,
        ["RaftKv:Tls:AuthClients"] = authClients,
    };

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp directory.
        }
    }
}

/// <summary>A certificate with its private key, and the PEM files holding them.</summary>
/// <param name="Certificate">The certificate with its private key.</param>
/// <param name="CertFile">The certificate, PEM.</param>
/// <param name="KeyFile">The private key, PEM (PKCS#8, unencrypted).</param>
public sealed record TestCertificate(X509Certificate2 Certificate, string CertFile, string KeyFile)
{
    /// <summary>Copies the certificate and key over <paramref name="certFile"/> and <paramref name="keyFile"/> (a renewal, for reload tests).</summary>
    public void CopyTo(string certFile, string keyFile)
    {
        File.Copy(CertFile, certFile, overwrite: true);
        File.Copy(KeyFile, keyFile, overwrite: true);
    }
}

/// <summary>A test CA that issues node and client certificates, written next to its own <c>name.crt</c>.</summary>
public sealed class TestCertificateAuthority
{
    private const string ServerAuth = "1.3.6.1.5.5.7.3.1";
    private const string ClientAuth = "1.3.6.1.5.5.7.3.2";

    private readonly string directory;

    private TestCertificateAuthority(string directory, X509Certificate2 certificate, string certFile)
    {
        this.directory = directory;
        Certificate = certificate;
        CertFile = certFile;
    }

    /// <summary>The CA certificate, with its key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The CA certificate, PEM.</summary>
    public string CertFile { get; }

    /// <summary>Makes a self-signed CA and writes <c>name.crt</c> (and <c>name.key</c>) to <paramref name="directory"/>.</summary>
    public static TestCertificateAuthority Create(string directory, string name, string subject)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={subject}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddYears(1));
        var certFile = Path.Combine(directory, name + ".crt");
        File.WriteAllText(certFile, certificate.ExportCertificatePem());
        File.WriteAllText(Path.Combine(directory, name + ".key"), key.ExportPkcs8PrivateKeyPem());
        return new TestCertificateAuthority(directory, certificate, certFile);
    }

    /// <summary>A node certificate (serverAuth and clientAuth; SAN 127.0.0.1, ::1, localhost), as <c>name.crt</c>/<c>name.key</c>.</summary>
    public TestCertificate IssueNode(string name) => Issue(name, [ServerAuth, ClientAuth], san: true);

    /// <summary>A client certificate (clientAuth), as <c>name.crt</c>/<c>name.key</c>.</summary>
    public TestCertificate IssueClient(string name) => Issue(name, [ClientAuth], san: false);

    private TestCertificate Issue(string name, string[] usages, bool san)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        var oids = new OidCollection();
        foreach (var usage in usages)
            oids.Add(new Oid(usage));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(oids, false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, true, false));
        if (san)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            names.AddIpAddress(IPAddress.IPv6Loopback);
            names.AddDnsName("localhost");
            request.CertificateExtensions.Add(names.Build());
        }

        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        using var signed = request.Create(Certificate, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(30), serial);
        var certificate = signed.CopyWithPrivateKey(key);
        var certFile = Path.Combine(directory, name + ".crt");
        var keyFile = Path.Combine(directory, name + ".key");
        File.WriteAllText(certFile, certificate.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        return new TestCertificate(certificate, certFile, keyFile);
    }
}
