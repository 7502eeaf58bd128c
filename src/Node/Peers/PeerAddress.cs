using System.Globalization;
using System.Net;

namespace RaftKv.Node.Peers;

/// <summary>Peer addresses as configured: <c>host:port</c>.</summary>
public static class PeerAddress
{
    /// <summary>Resolves <c>host:port</c> (an IP address or a host name) to an endpoint.</summary>
    /// <exception cref="FormatException">Not <c>host:port</c>.</exception>
    public static IPEndPoint Resolve(string address)
    {
        var (host, port) = Split(address);
        if (IPAddress.TryParse(host, out var ip))
            return new IPEndPoint(ip, port);
        var addresses = Dns.GetHostAddresses(host);
        return addresses.Length > 0
            ? new IPEndPoint(addresses[0], port)
            : throw new FormatException($"The peer host '{host}' does not resolve.");
    }

    /// <summary>A socket bound to <paramref name="endPoint"/> and listening (what the peer channel and the Raft port accept on).</summary>
    /// <exception cref="InvalidOperationException">It cannot bind; the message names <paramref name="what"/> and the address.</exception>
    public static System.Net.Sockets.Socket Listen(EndPoint endPoint, string what)
    {
        var socket = new System.Net.Sockets.Socket(endPoint.AddressFamily, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        try
        {
            socket.Bind(endPoint);
            socket.Listen(128);
            return socket;
        }
        catch (System.Net.Sockets.SocketException e)
        {
            socket.Dispose();
            throw new InvalidOperationException($"{what} cannot listen on {endPoint}: {e.Message}", e);
        }
    }

    /// <summary>Splits <c>host:port</c>; IPv6 hosts may be bracketed (<c>[::1]:8380</c>).</summary>
    /// <exception cref="FormatException">Not <c>host:port</c> with a port from 0 to 65535.</exception>
    public static (string Host, int Port) Split(string address)
    {
        var colon = address.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(address.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > IPEndPoint.MaxPort)
            throw new FormatException($"'{address}' is not host:port.");
        var host = address[..colon];
        if (host.StartsWith('[') && host.EndsWith(']'))
            host = host[1..^1];
        return (host, port);
    }
}
