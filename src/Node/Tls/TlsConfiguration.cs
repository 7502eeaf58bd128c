using System.Security.Authentication;

namespace RaftKv.Node.Tls;

/// <summary>Checks <see cref="TlsOptions"/> at start and registers the RESP TLS listener's services.</summary>
public static class TlsConfiguration
{
    private const string Section = TlsOptions.SectionName;

    /// <summary>
    /// Validates <paramref name="options"/> (with the plaintext RESP port, to refuse a node with no listener at all)
    /// and, when a TLS port is set, registers <see cref="TlsCredentialSource"/> and <see cref="RespTlsAuthenticator"/>
    /// with the credentials loaded now.
    /// </summary>
    /// <exception cref="NodeStartupException">What to change, naming the setting or file.</exception>
    public static void AddRespTls(IServiceCollection services, TlsOptions options, int plaintextPort)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        var credentials = Validate(options, plaintextPort);
        if (credentials is null)
            return;

        var files = FilesOf(options, options.AuthClients == TlsAuthClients.No ? null : options.CaCertFile);
        services.AddSingleton(provider => new TlsCredentialSource(
            files, credentials, provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<ILogger<TlsCredentialSource>>()));
        services.AddSingleton(provider => new RespTlsAuthenticator(
            options, provider.GetRequiredService<TlsCredentialSource>(), provider.GetRequiredService<TimeProvider>(),
            provider.GetRequiredService<ILogger<RespTlsAuthenticator>>()));
    }

    /// <summary>
    /// Checks the settings and loads the client-facing credentials when <see cref="TlsOptions.Port"/> is set; null
    /// when it is not. With <see cref="TlsOptions.Cluster"/> the files members use are checked too.
    /// </summary>
    /// <exception cref="NodeStartupException">What to change.</exception>
    public static TlsCredentials? Validate(TlsOptions options, int plaintextPort)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Port is < 0 or > 65535)
            throw new NodeStartupException($"'{Section}:Port' is {options.Port}: a TCP port (1-65535), or 0 for no TLS listener.");
        if (options.Port == 0 && plaintextPort == 0)
            throw new NodeStartupException("'RaftKv:Resp:Port' and 'RaftKv:Tls:Port' are both 0: the node would serve no clients. Set one of them.");
        if (options.Port != 0 && options.Port == plaintextPort)
            throw new NodeStartupException($"'{Section}:Port' and 'RaftKv:Resp:Port' are both {options.Port}; set 'RaftKv:Resp:Port' to 0 to serve TLS only.");
        if (options.Port == 0 && !options.Cluster)
            return null;

        var allowed = TlsOptions.DefaultProtocols;
        if (options.Protocols == SslProtocols.None || (options.Protocols & ~allowed) != 0)
            throw new NodeStartupException($"'{Section}:Protocols' is '{options.Protocols}': only Tls12 and Tls13 are allowed (e.g. 'Tls12, Tls13' or 'Tls13').");
        if (options.HandshakeTimeout <= TimeSpan.Zero)
            throw new NodeStartupException($"'{Section}:HandshakeTimeout' must be positive.");

        var why = options.Port != 0 ? $"'{Section}:Port' is set" : $"'{Section}:Cluster' is on";
        if (string.IsNullOrEmpty(options.CertFile))
            throw new NodeStartupException($"{why} but '{Section}:CertFile' is not: the node needs a certificate (PEM) to serve TLS.");
        if (string.IsNullOrEmpty(options.KeyFile))
            throw new NodeStartupException($"{why} but '{Section}:KeyFile' is not: the node needs the certificate's private key (PEM).");

        TlsCredentials? clients = null;
        if (options.Port != 0)
        {
            if (options.AuthClients != TlsAuthClients.No && string.IsNullOrEmpty(options.CaCertFile))
                throw new NodeStartupException($"'{Section}:AuthClients' is {options.AuthClients} but '{Section}:CaCertFile' is not set: client certificates are checked against that CA only. Set it, or AuthClients to No.");
            clients = Load(FilesOf(options, options.AuthClients == TlsAuthClients.No ? null : options.CaCertFile));
        }

        if (options.Cluster)
        {
            if (string.IsNullOrEmpty(options.EffectiveClusterCaCertFile))
                throw new NodeStartupException($"'{Section}:Cluster' is on but neither '{Section}:ClusterCaCertFile' nor '{Section}:CaCertFile' is set: members' certificates are checked against that CA.");
            _ = Load(FilesOf(options, options.EffectiveClusterCaCertFile));
        }

        return clients;
    }

    private static TlsFiles FilesOf(TlsOptions options, string? ca)
        => new(Path.GetFullPath(options.CertFile!), Path.GetFullPath(options.KeyFile!), options.KeyFilePassword,
            string.IsNullOrEmpty(ca) ? null : Path.GetFullPath(ca));

    private static TlsCredentials Load(TlsFiles files)
    {
        try
        {
            return TlsCredentials.Load(files);
        }
        catch (TlsFileException e)
        {
            throw new NodeStartupException($"TLS ({Section}): {e.Message}");
        }
    }
}
