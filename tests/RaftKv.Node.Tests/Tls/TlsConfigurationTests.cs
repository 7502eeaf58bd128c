using System.Security.Authentication;
using RaftKv.Node.Hosting;
using RaftKv.Node.Tls;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Tls;

/// <summary>What a node says at start about TLS settings it cannot use.</summary>
public sealed class TlsConfigurationTests : IDisposable
{
    private readonly TestCertificates certificates = TestCertificates.Create();

    public void Dispose() => certificates.Dispose();

    private TlsOptions Valid() => new()
    {
        Port = 16380,
        CertFile = certificates.Node.CertFile,
        KeyFile = certificates.Node.KeyFile,
        CaCertFile = certificates.Ca.CertFile,
    };

    [Fact]
    public void Defaults_are_Redis_s_no_TLS_listener_client_certificates_required_TLS_1_2_and_1_3()
    {
        var options = new TlsOptions();
        Assert.Equal(0, options.Port);
        Assert.Equal(TlsAuthClients.Yes, options.AuthClients);
        Assert.Equal(SslProtocols.Tls12 | SslProtocols.Tls13, options.Protocols);
        Assert.False(options.Cluster);
        Assert.Null(TlsConfiguration.Validate(options, plaintextPort: 6379));
        Assert.Equal("ca.crt", new TlsOptions { CaCertFile = "ca.crt" }.EffectiveClusterCaCertFile);
    }

    [Fact]
    public void The_options_bind_from_RaftKv_Tls_with_Redis_s_values()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["RaftKv:Tls:Port"] = "6390",
            ["RaftKv:Tls:AuthClients"] = "optional",
            ["RaftKv:Tls:Protocols"] = "Tls12, Tls13",
            ["RaftKv:Tls:Cluster"] = "true",
        }).Build();

        var options = configuration.GetSection(NodeOptions.Section).Get<NodeOptions>()!.Tls;

        Assert.Equal(6390, options.Port);
        Assert.Equal(TlsAuthClients.Optional, options.AuthClients);
        Assert.Equal(SslProtocols.Tls12 | SslProtocols.Tls13, options.Protocols);
        Assert.True(options.Cluster);
    }

    [Fact]
    public void Valid_files_load()
    {
        var credentials = TlsConfiguration.Validate(Valid(), plaintextPort: 0);
        Assert.Equal(certificates.Node.Certificate.Thumbprint, credentials!.Certificate.Thumbprint);
        Assert.Equal(certificates.Ca.Certificate.Thumbprint, Assert.Single(credentials.Trust).Thumbprint);
    }

    [Fact]
    public void A_TLS_port_without_a_certificate_is_refused()
    {
        var options = Valid();
        options.CertFile = null;
        Assert.Contains("'RaftKv:Tls:CertFile' is not", Refusal(options));
        options = Valid();
        options.KeyFile = "";
        Assert.Contains("'RaftKv:Tls:KeyFile' is not", Refusal(options));
    }

    [Fact]
    public void Missing_files_are_named()
    {
        var options = Valid();
        options.CertFile = Path.Combine(certificates.Directory, "missing.crt");
        Assert.Contains($"'{options.CertFile}' does not exist", Refusal(options));
        options = Valid();
        options.CaCertFile = Path.Combine(certificates.Directory, "missing-ca.crt");
        Assert.Contains("missing-ca.crt' does not exist", Refusal(options));
    }

    [Fact]
    public void A_key_that_does_not_fit_the_certificate_is_refused()
    {
        var options = Valid();
        options.KeyFile = certificates.Client.KeyFile;
        Assert.Contains("does not fit the certificate", Refusal(options));
    }

    [Fact]
    public void A_file_that_is_not_PEM_is_refused()
    {
        var options = Valid();
        options.CaCertFile = Path.Combine(certificates.Directory, "garbage.crt");
        File.WriteAllText(options.CaCertFile, "hello");
        Assert.Contains("holds no PEM certificate", Refusal(options));
    }

    [Fact]
    public void Client_certificates_need_a_CA_unless_AuthClients_is_No()
    {
        var options = Valid();
        options.CaCertFile = null;
        Assert.Contains("'RaftKv:Tls:CaCertFile' is not set", Refusal(options));
        options.AuthClients = TlsAuthClients.No;
        Assert.NotNull(TlsConfiguration.Validate(options, plaintextPort: 0));
    }

    [Fact]
    public void Protocols_older_than_TLS_1_2_are_refused()
    {
        var options = Valid();
        options.Protocols = SslProtocols.Tls12 | (SslProtocols)0x300; // Tls11
        Assert.Contains("only Tls12 and Tls13", Refusal(options));
        options.Protocols = SslProtocols.Tls13;
        Assert.NotNull(TlsConfiguration.Validate(options, plaintextPort: 0));
    }

    [Fact]
    public void A_node_with_neither_a_plaintext_nor_a_TLS_port_is_refused()
    {
        Assert.Contains("both 0", Refusal(new TlsOptions(), plaintextPort: 0));
        var same = Valid();
        Assert.Contains("are both 16380", Refusal(same, plaintextPort: 16380));
    }

    [Fact]
    public void Cluster_TLS_checks_the_member_files_too()
    {
        var options = new TlsOptions { Cluster = true, CertFile = certificates.Node.CertFile, KeyFile = certificates.Node.KeyFile };
        Assert.Contains("ClusterCaCertFile", Refusal(options));
        options.ClusterCaCertFile = certificates.Ca.CertFile;
        Assert.Null(TlsConfiguration.Validate(options, plaintextPort: 6379));
    }

    [Fact]
    public void The_node_does_not_start_with_a_TLS_port_and_no_certificate()
    {
        var settings = new Dictionary<string, string?>
        {
            ["raft:publicEndPoint"] = "tcp://127.0.0.1:17390/",
            ["RaftKv:Members:0:Raft"] = "tcp://127.0.0.1:17390/",
            ["RaftKv:Members:0:Resp"] = "127.0.0.1:16390",
            ["RaftKv:Resp:Port"] = "16390",
            ["RaftKv:Tls:Port"] = "16391",
        };
        var e = Assert.Throws<NodeStartupException>(() => RaftKvNode.Build([], config => config.AddInMemoryCollection(settings)));
        Assert.Contains("'RaftKv:Tls:CertFile'", e.Message);
    }

    private static string Refusal(TlsOptions options, int plaintextPort = 6379)
        => Assert.Throws<NodeStartupException>(() => TlsConfiguration.Validate(options, plaintextPort)).Message;
}
