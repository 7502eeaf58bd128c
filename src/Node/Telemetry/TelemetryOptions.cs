namespace RaftKv.Node.Telemetry;

/// <summary>The node's HTTP endpoint for metrics and health (configuration section <c>RaftKv:Http</c>).</summary>
public sealed class HttpEndpointOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "RaftKv:Http";

    /// <summary>
    /// Where the endpoint listens, <c>host:port</c> with an IP address or <c>localhost</c> as host (e.g.
    /// <c>127.0.0.1:9381</c>). Unset or empty: the node serves no metrics or health over HTTP.
    /// </summary>
    public string? Listen { get; set; }

    /// <summary>
    /// The most entries this node's applied index may trail its commit index while <c>/health/ready</c> answers 200: a
    /// node replaying its log, or a follower catching up, serves reads that wait long, so it is not ready yet.
    /// </summary>
    public long ReadyMaxApplyLag { get; set; } = 1000;
}

/// <summary>Where metrics are pushed (configuration section <c>RaftKv:Telemetry</c>).</summary>
public sealed class TelemetryOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "RaftKv:Telemetry";

    /// <summary>An OTLP collector's URL (e.g. <c>http://127.0.0.1:4317</c> for gRPC); unset: no OTLP export.</summary>
    public string? OtlpEndpoint { get; set; }
}
