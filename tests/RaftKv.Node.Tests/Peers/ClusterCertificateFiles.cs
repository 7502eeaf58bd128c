using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace RaftKv.Node.Tests.Peers;

/// <summary>
/// A CA and a node certificate signed by it (serverAuth + clientAuth, SAN 127.0.0.1/localhost), written as PEM files
/// (<see cref="CaFile"/>, <see cref="CertFile"/>, <see cref="KeyFile"/>) in a temporary directory removed on dispose;
/// <see cref="Issue"/> makes more node certificates of the same CA.
/// </summary>
public sealed class ClusterCertificateFiles : IDisposable
{
    public static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");
    public static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2");

    private readonly string directory = Path.Combine(Path.GetTempPath(), "raftkv-certs", Guid.NewGuid().ToString("N"));
    private readonly ECDsa caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly X509Certificate2 ca;
    private readonly string caName;

    public ClusterCertificateFiles(string caName)
    {
        this.caName = caName;
        Directory.CreateDirectory(directory);
        var caRequest = new CertificateRequest($"CN={caName}", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        ca = caRequest.CreateSelfSigned(now.AddDays(-1), now.AddDays(30));
        File.WriteAllText(CaFile, ca.ExportCertificatePem());
        (CertFile, KeyFile) = Issue("node", [ServerAuth, ClientAuth]);
    }

    public string CaFile => Path.Combine(directory, "ca.crt");

    public string CertFile { get; }

    public string KeyFile { get; }

    /// <summary>Writes <c>name.crt</c> and <c>name.key</c>, a node certificate of this CA with the given extended key usages (none: no such extension, every use allowed).</summary>
    public (string CertFile, string KeyFile) Issue(string name, Oid[] usages)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={caName} {name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        if (usages.Length > 0)
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([.. usages], false)); // none: any use
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        var now = DateTimeOffset.UtcNow;
        using var certificate = request.Create(ca, now.AddDays(-1), now.AddDays(29), RandomNumberGenerator.GetBytes(16));
        var (certFile, keyFile) = (Path.Combine(directory, name + ".crt"), Path.Combine(directory, name + ".key"));
        File.WriteAllText(certFile, certificate.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        return (certFile, keyFile);
    }

    /// <summary>The settings that turn on mutual TLS between nodes with these files.</summary>
    public Dictionary<string, string?> ClusterTlsSettings() => new()
    {
        ["RaftKv:Tls:Cluster"] = "true",
        ["RaftKv:Tls:CertFile"] = CertFile,
        ["RaftKv:Tls:KeyFile"] = KeyFile,
        ["RaftKv:Tls:ClusterCaCertFile"] = CaFile,
    };

    public void Dispose()
    {
        ca.Dispose();
        caKey.Dispose();
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }
}
