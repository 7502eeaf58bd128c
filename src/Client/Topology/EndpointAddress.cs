using System.Globalization;
using System.Net;

namespace RaftKv.Client.Topology;

/// <summary>A node's RESP address, <c>host:port</c>, as configured or as the cluster advertises it.</summary>
internal readonly record struct EndpointAddress(string Host, int Port)
{
    /// <summary>Parses <c>host:port</c> or <c>[ipv6]:port</c>.</summary>
    /// <exception cref="ArgumentException">Not an address with a port.</exception>
    public static EndpointAddress Parse(string text)
        => TryParse(text, out var address)
            ? address
            : throw new ArgumentException($"'{text}' is not host:port.", nameof(text));

    public static bool TryParse(string? text, out EndpointAddress address)
    {
        address = default;
        var colon = text?.LastIndexOf(':') ?? -1;
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port)
            || port is < 1 or > 65535)
            return false;

        var host = text![..colon];
        if (host.StartsWith('[') && host.EndsWith(']'))
            host = host[1..^1];
        if (host.Length == 0)
            return false;
        address = new EndpointAddress(host, port);
        return true;
    }

    public EndPoint ToEndPoint()
        => IPAddress.TryParse(Host, out var ip) ? new IPEndPoint(ip, Port) : new DnsEndPoint(Host, Port);

    public override string ToString()
        => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}
