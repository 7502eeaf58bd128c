using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RaftKv.Node.Resp;

namespace RaftKv.Node.Tests.Resp;

/// <summary>A <see cref="RespServer"/> on a free loopback port, stopped when disposed.</summary>
internal sealed class RespServerHarness : IAsyncDisposable
{
    private RespServerHarness(RespServer server) => Server = server;

    public RespServer Server { get; }

    public static async Task<RespServerHarness> StartAsync(
        IRespRequestHandler handler,
        RespLimits? limits = null,
        int maxPendingReplies = 1024,
        TimeProvider? time = null)
    {
        var options = new RespServerOptions { BindAddress = "127.0.0.1", Port = RaftKv.Testing.LoopbackPorts.Free(1)[0], MaxPendingReplies = maxPendingReplies };
        var server = new RespServer(Options.Create(options), new ClientLimits(limits ?? new RespLimits()), handler,
            time ?? TimeProvider.System, NullLogger<RespServer>.Instance);
        await server.StartAsync(CancellationToken.None);
        return new RespServerHarness(server);
    }

    public Task<RawRespClient> ConnectAsync() => RawRespClient.ConnectAsync(Server.Port);

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await Server.StopAsync(timeout.Token);
        await Server.DisposeAsync();
    }
}
