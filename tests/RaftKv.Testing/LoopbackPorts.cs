using System.Net;
using System.Net.Sockets;

namespace RaftKv.Testing;

/// <summary>Free TCP ports on 127.0.0.1 for servers a test starts.</summary>
public static class LoopbackPorts
{
    /// <summary>
    /// Returns <paramref name="count"/> distinct ports that were free a moment ago (all bound at once, so none repeats).
    /// </summary>
    public static int[] Free(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToArray();
        foreach (var listener in listeners)
            listener.Start();
        var ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        foreach (var listener in listeners)
            listener.Stop();
        return ports;
    }
}
