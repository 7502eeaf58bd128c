using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace RaftKv.Node.Tests.Peers;

/// <summary>
/// A CA and a node certificate signed by it (serverAuth + clientAuth, SAN 127.0.0.1/localhost), written as PEM files
/// (<see cref="CaFile"/>, <see cref="CertFile"/>, <see cref="KeyFile"/>) in a temporary directory removed on dispose.
/// </summary>
public sealed class ClusterCertificateFiles : IDisposable
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), "raftkv-certs", Guid.NewGuid().ToString("N"));

    public ClusterCertificateFiles(string caName)
    {
        Directory.CreateDirectory(directory);
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest($"CN={caName}", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        using var ca = caRequest.CreateSelfSigned(now.AddDays(-1), now.AddDays(30));

        using var nodeKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var nodeRequest = new CertificateRequest($"CN={caName} node", nodeKey, HashAlgorithmName.SHA256);
        nodeRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        nodeRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        nodeRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        nodeRequest.CertificateExtensions.Add(names.Build());
        using var node = nodeRequest.Create(ca, now.AddDays(-1), now.AddDays(29), RandomNumberGenerator.GetBytes(16));

        File.WriteAllText(CaFile, ca.ExportCertificatePem());
        File.WriteAllText(CertFile, node.ExportCertificatePem());
        File.WriteAllText(KeyFile, nodeKey.ExportPkcs8PrivateKeyPem());
    }

    public string CaFile => Path.Combine(directory, "ca.crt");

    public string CertFile => Path.Combine(directory, "node.crt");

    public string KeyFile => Path.Combine(directory, "node.key");

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
