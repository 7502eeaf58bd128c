using System.Globalization;
using System.Net;
using Microsoft.Extensions.Diagnostics.Metrics;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace RaftKv.Node.Telemetry;

/// <summary>
/// Wires the node's telemetry: its meter, the observed instruments, OpenTelemetry's reader with the Prometheus and OTLP
/// exporters, and the HTTP endpoint (<c>RaftKv:Http:Listen</c>) serving <c>/metrics</c>, <c>/health/live</c> and
/// <c>/health/ready</c>.
/// </summary>
internal static class NodeTelemetry
{
    // OpenTelemetry's IMetricsListener (OpenTelemetryMetricsListener.Name): rules for it decide what it exports.
    private const string OpenTelemetryListener = "OpenTelemetry";

    /// <summary>
    /// Registers the telemetry services and sets the addresses Kestrel listens on: the HTTP endpoint, if configured,
    /// and <paramref name="raftUrl"/> (the HTTP Raft transport's address; null with the TCP transport).
    /// </summary>
    /// <returns>True when Kestrel must run (it serves the HTTP endpoint, or Raft over HTTP).</returns>
    public static bool Add(WebApplicationBuilder builder, ClusterMemberOptions self, string? raftUrl)
    {
        var http = builder.Configuration.GetSection(HttpEndpointOptions.Section).Get<HttpEndpointOptions>() ?? new HttpEndpointOptions();
        var telemetry = builder.Configuration.GetSection(TelemetryOptions.Section).Get<TelemetryOptions>() ?? new TelemetryOptions();
        var listen = string.IsNullOrWhiteSpace(http.Listen) ? null : ParseListen(http.Listen);
        Uri? otlp = null;
        if (!string.IsNullOrWhiteSpace(telemetry.OtlpEndpoint)
            && (!Uri.TryCreate(telemetry.OtlpEndpoint, UriKind.Absolute, out otlp) || otlp.Scheme is not ("http" or "https")))
            throw new NodeStartupException($"'{TelemetryOptions.Section}:OtlpEndpoint' is '{telemetry.OtlpEndpoint}', not an http:// or https:// URL.");

        builder.Services.Configure<HttpEndpointOptions>(builder.Configuration.GetSection(HttpEndpointOptions.Section));
        builder.Services
            .AddMetrics()
            .AddSingleton<NodeMetrics>()
            .AddSingleton<Readiness>()
            .AddHostedService<ObservedMetrics>();

        if (listen is not null || otlp is not null)
        {
            builder.Services.AddOpenTelemetry()
                .ConfigureResource(resource => resource.AddService("raftkv", serviceInstanceId: self.Resp))
                .WithMetrics(metrics =>
                {
                    if (listen is not null)
                        metrics.AddPrometheusExporter();
                    if (otlp is not null)
                        metrics.AddOtlpExporter(exporter => exporter.Endpoint = otlp);
                });

            // Our meter only from this host's IMeterFactory (in-process test clusters run several nodes); DotNext's
            // meters are static, one per process.
            builder.Services.AddMetrics(metrics => metrics
                .EnableMetrics("RaftKv", null, OpenTelemetryListener, MeterScope.Local)
                .EnableMetrics("DotNext", null, OpenTelemetryListener, MeterScope.Global));
        }

        if (listen is null)
        {
            if (raftUrl is not null)
                builder.WebHost.UseUrls(raftUrl);
            return raftUrl is not null;
        }

        var url = "http://" + listen;
        builder.WebHost.UseUrls(raftUrl is null ? url : raftUrl + ";" + url);
        if (raftUrl is null)
        {
            // Kestrel serves only these three GETs: no body is ever read, headers are small, a slow or flooding client
            // holds a connection briefly. (With Raft over HTTP the same Kestrel carries AppendEntries and snapshots,
            // so its defaults stay.)
            builder.WebHost.ConfigureKestrel(kestrel =>
            {
                kestrel.AddServerHeader = false;
                kestrel.Limits.MaxConcurrentConnections = 64;
                kestrel.Limits.MaxRequestBodySize = 0;
                kestrel.Limits.MaxRequestLineSize = 2048;
                kestrel.Limits.MaxRequestHeadersTotalSize = 8192;
                kestrel.Limits.MaxRequestHeaderCount = 32;
                kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(5);
                kestrel.Limits.KeepAliveTimeout = TimeSpan.FromSeconds(30);
            });
        }

        builder.Services.AddSingleton(new HttpEndpoint(listen.Port, SharedWithRaft: raftUrl is not null));
        return true;
    }

    /// <summary>Maps the endpoints, when <c>RaftKv:Http:Listen</c> is set; call before the application starts.</summary>
    public static void Map(WebApplication app)
    {
        if (app.Services.GetService<HttpEndpoint>() is not { } endpoint)
            return;

        Only(endpoint, app.MapPrometheusScrapingEndpoint("/metrics"));
        Only(endpoint, app.MapGet("/health/live", static () => Results.Text("live\n")));
        Only(endpoint, app.MapGet("/health/ready", static (Readiness readiness) => readiness.NotReadyReason() is { } reason
            ? Results.Text(reason + "\n", statusCode: StatusCodes.Status503ServiceUnavailable)
            : Results.Text("ready\n")));
    }

    // With Raft over HTTP, Kestrel also listens on the Raft address: there the paths answer only requests whose Host
    // names the endpoint's port. Not otherwise, so a probe or scrape through a forwarded port (another Host) works.
    private static void Only(HttpEndpoint endpoint, IEndpointConventionBuilder route)
    {
        if (endpoint.SharedWithRaft)
            route.RequireHost("*:" + endpoint.Port.ToString(CultureInfo.InvariantCulture));
    }

    // host:port with an IP address or localhost: Kestrel binds a host name other than localhost to every interface.
    private static IPEndPoint ParseListen(string value)
    {
        var colon = value.LastIndexOf(':');
        var host = colon > 0 ? value[..colon] : "";
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
            value = "127.0.0.1" + value[colon..];
        if (!IPEndPoint.TryParse(value, out var endPoint) || endPoint.Port == 0 || colon < 0)
            throw new NodeStartupException($"'{HttpEndpointOptions.Section}:Listen' is '{value}', not host:port with an IP address (or localhost) and a port.");
        return endPoint;
    }

    /// <summary>The port the HTTP endpoint listens on, and whether Kestrel serves Raft too.</summary>
    private sealed record HttpEndpoint(int Port, bool SharedWithRaft);
}
