using System.Diagnostics;
using System.Net.Sockets;

namespace RaftKv.Testing;

/// <summary>
/// A real <c>redis-server</c> (Debian's package; <c>run-tests.sh</c> installs it) on a free loopback port, for
/// differential tests. Disposing stops it. A missing binary is a failure, never a skip.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private readonly Process process;

    private RedisServer(Process process, int port)
    {
        this.process = process;
        Port = port;
    }

    /// <summary>The port it listens on (127.0.0.1).</summary>
    public int Port { get; }

    /// <summary>Starts a server with persistence off and waits until it answers PING.</summary>
    public static async Task<RedisServer> StartAsync(params string[] extraArguments)
    {
        var binary = new[] { "/usr/bin/redis-server", "/usr/local/bin/redis-server" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("redis-server is not installed: run ./run-tests.sh (it installs Debian's redis-server) or apt-get install -y redis-server.");
        var port = LoopbackPorts.Free(1)[0];
        var start = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in new[] { "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no" }.Concat(extraArguments))
            start.ArgumentList.Add(argument);

        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start redis-server.");
        process.OutputDataReceived += static (_, _) => { };
        process.ErrorDataReceived += static (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new RedisServer(process, port);

        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await using var client = await RespTestClient.ConnectAsync(port);
                if ((await client.CallAsync("PING")).Text == "PONG")
                    return server;
            }
            catch (SocketException) when (deadline.Elapsed < TimeSpan.FromSeconds(10) && !process.HasExited)
            {
                await Task.Delay(20);
            }
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        process.Dispose();
    }
}
