namespace RaftKv.Node.Resp;

/// <summary>Where the RESP server listens, bound from the configuration section <see cref="SectionName"/>.</summary>
public sealed class RespServerOptions
{
    /// <summary>The configuration section these options are bound from.</summary>
    public const string SectionName = "RaftKv:Resp";

    /// <summary>The IP address to listen on: <c>127.0.0.1</c> by default, <c>0.0.0.0</c> or <c>::</c> for all.</summary>
    public string BindAddress { get; set; } = "127.0.0.1";

    /// <summary>
    /// The plaintext TCP port (Redis's <c>port</c>); 0 opens no plaintext listener, as in Redis (serve TLS only, on
    /// <c>RaftKv:Tls:Port</c>).
    /// </summary>
    public int Port { get; set; } = 6379;

    /// <summary>The listen backlog (Redis's <c>tcp-backlog</c>).</summary>
    public int Backlog { get; set; } = 511;

    /// <summary>
    /// How many requests of one connection may await their replies at once. A client that pipelines faster than
    /// its replies complete stops being read at this point, so its pending work stays bounded.
    /// </summary>
    public int MaxPendingReplies { get; set; } = 1024;
}
