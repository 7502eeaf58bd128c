using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Configuration;
using RaftKv.Node.Hosting;

namespace RaftKv.Benchmarks;

/// <summary>
/// Issue 13's two measurements against one in-process node on free loopback ports (never 638x): the CPU one request of
/// a million empty arguments costs, and how much a client that never reads 100 replies of 16 MB (GETRANGE) makes the
/// node hold. Uses only the node's public start-up API and raw RESP, so the same file runs against older commits.
/// </summary>
/// <remarks><c>dotnet run -c Release --project bench/RaftKv.Benchmarks -- limits [client-output-buffer-limit]</c></remarks>
internal static class LimitsProbe
{
    private const int ValueBytes = 16 * 1024 * 1024;

    public static async Task RunAsync(string[] args)
    {
        var outputLimit = args.Length > 1 ? args[1] : null;
        var ports = FreePorts(3);
        var data = Path.Combine(Path.GetTempPath(), "raftkv-limits-" + Guid.NewGuid().ToString("N"));
        var settings = new Dictionary<string, string?>
        {
            ["raft:publicEndPoint"] = $"tcp://127.0.0.1:{ports[0]}/",
            ["raft:coldStart"] = "false",
            ["raft:lowerElectionTimeout"] = "300",
            ["raft:upperElectionTimeout"] = "600",
            ["RaftKv:DataPath"] = data,
            ["RaftKv:Resp:Port"] = ports[1].ToString(CultureInfo.InvariantCulture),
            ["RaftKv:Members:0:Raft"] = $"tcp://127.0.0.1:{ports[0]}/",
            ["RaftKv:Members:0:Resp"] = $"127.0.0.1:{ports[1]}",
            ["RaftKv:Members:0:Peer"] = $"127.0.0.1:{ports[2]}",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        var app = RaftKvNode.Build([], config => config.AddInMemoryCollection(settings));
        await RaftKvNode.StartAsync(app);
        try
        {
            var port = ports[1];
            await WaitForLeaderAsync(port);
            if (outputLimit is not null)
                Console.WriteLine($"CONFIG SET client-output-buffer-limit \"{outputLimit}\": {await CallAsync(port, "CONFIG", "SET", "client-output-buffer-limit", outputLimit)}");

            await MillionArgumentsAsync(port);
            await UnreadRepliesAsync(port);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            Directory.Delete(data, recursive: true);
        }
    }

    private static async Task MillionArgumentsAsync(int port)
    {
        const int arguments = 1_000_000;
        var text = new StringBuilder().Append(CultureInfo.InvariantCulture, $"*{arguments + 1}\r\n$4\r\nECHO\r\n");
        for (var i = 0; i < arguments; i++)
            text.Append("$0\r\n\r\n");
        var request = Encoding.ASCII.GetBytes(text.ToString());

        using var socket = await ConnectAsync(port);
        var process = Process.GetCurrentProcess();
        process.Refresh();
        var cpu = process.TotalProcessorTime;
        var wall = Stopwatch.StartNew();
        await socket.SendAsync(request);
        var reply = await ReadLineAsync(socket);
        wall.Stop();
        process.Refresh();
        Console.WriteLine(
            $"1M empty arguments ({request.Length} bytes): process CPU {(process.TotalProcessorTime - cpu).TotalSeconds:F2} s, " +
            $"wall {wall.Elapsed.TotalSeconds:F2} s, reply {reply}");
    }

    private static async Task UnreadRepliesAsync(int port)
    {
        Console.WriteLine($"SET big (16 MB): {await CallAsync(port, "SET", "big", new string('v', ValueBytes))}");
        Settle();
        var baseline = Snapshot();

        using var reader = await ConnectAsync(port);
        reader.ReceiveBufferSize = 64 * 1024;
        var getrange = Encoding.ASCII.GetBytes("*4\r\n$8\r\nGETRANGE\r\n$3\r\nbig\r\n$1\r\n0\r\n$2\r\n-1\r\n");
        var requests = new byte[getrange.Length * 100];
        for (var i = 0; i < 100; i++)
            getrange.CopyTo(requests, i * getrange.Length);
        await reader.SendAsync(requests);

        // Sample for 15 s; the client never reads.
        var peak = baseline;
        for (var i = 0; i < 75; i++)
        {
            await Task.Delay(200);
            var now = Snapshot();
            peak = (Math.Max(peak.Heap, now.Heap), Math.Max(peak.Rss, now.Rss));
        }

        var info = await CallAsync(port, "INFO", "clients");
        var connected = info.Split("\r\n").FirstOrDefault(l => l.StartsWith("connected_clients:", StringComparison.Ordinal)) ?? "?";
        Settle();
        var after = Snapshot();
        Console.WriteLine(
            $"100 unread GETRANGE replies of 16 MB: peak growth managed heap {Mb(peak.Heap - baseline.Heap)}, RSS {Mb(peak.Rss - baseline.Rss)}; " +
            $"after 15 s, heap {Mb(after.Heap - baseline.Heap)} above the baseline, {connected} (the probe's INFO connection included)");
    }

    private static void Settle()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
    }

    private static (long Heap, long Rss) Snapshot()
    {
        var process = Process.GetCurrentProcess();
        process.Refresh();
        return (GC.GetTotalMemory(false), process.WorkingSet64);
    }

    private static string Mb(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024):F0} MB");

    private static async Task WaitForLeaderAsync(int port)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            try
            {
                if (await CallAsync(port, "SET", "probe", "1") == "+OK")
                    return;
            }
            catch (SocketException)
            {
            }

            await Task.Delay(100);
        }

        throw new TimeoutException("The node elected no leader.");
    }

    // One command, its reply's first line (or the whole bulk for a bulk reply).
    private static async Task<string> CallAsync(int port, params string[] argv)
    {
        using var socket = await ConnectAsync(port);
        var request = new StringBuilder().Append(CultureInfo.InvariantCulture, $"*{argv.Length}\r\n");
        foreach (var argument in argv)
            request.Append(CultureInfo.InvariantCulture, $"${Encoding.UTF8.GetByteCount(argument)}\r\n{argument}\r\n");
        await socket.SendAsync(Encoding.UTF8.GetBytes(request.ToString()));
        var line = await ReadLineAsync(socket);
        if (!line.StartsWith('$') || line == "$-1")
            return line;

        var length = int.Parse(line.AsSpan(1), CultureInfo.InvariantCulture);
        var body = new byte[length + 2];
        for (var read = 0; read < body.Length;)
            read += await socket.ReceiveAsync(body.AsMemory(read));
        return Encoding.UTF8.GetString(body, 0, length);
    }

    private static async Task<string> ReadLineAsync(Socket socket)
    {
        var line = new StringBuilder();
        var one = new byte[1];
        while (await socket.ReceiveAsync(one) == 1 && one[0] != '\n')
        {
            if (one[0] != '\r')
                line.Append((char)one[0]);
        }

        return line.ToString();
    }

    private static async Task<Socket> ConnectAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        return socket;
    }

    private static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(static _ => new TcpListener(IPAddress.Loopback, 0)).ToArray();
        foreach (var listener in listeners)
            listener.Start();
        var ports = listeners.Select(static l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        foreach (var listener in listeners)
            listener.Stop();
        return ports;
    }
}
