using Microsoft.Extensions.Options;
using RaftKv.Node.Commands;
using RaftKv.StateMachine.Commands;

namespace RaftKv.Node.Raft;

/// <summary>
/// How a configured <c>RaftKv:MaxMemory</c> reaches the replicated state: while this node leads (its leadership token
/// live) and its applied state says <c>maxmemory</c> was never set, it proposes the configured value with
/// <see cref="ConfigSetCommand.OnlyIfUnset"/>. The state machine applies the first such entry and answers the others
/// <c>:0</c>, so the value is set once for the cluster's lifetime, whichever leader proposed it and whatever a
/// <c>CONFIG SET</c> racing it did; afterwards only <c>CONFIG SET</c> changes it. Nodes configured differently
/// disagree harmlessly: the first leader's value wins. Without the setting nothing is proposed.
/// </summary>
internal sealed partial class ConfiguredMaxMemory(
    ClusterView view,
    Proposer proposer,
    RaftStateMachine stateMachine,
    TimeProvider time,
    IOptions<NodeOptions> options,
    ILogger<ConfiguredMaxMemory> logger) : BackgroundService
{
    private static readonly TimeSpan CheckInterval = TimeSpan.FromMilliseconds(200);

    /// <inheritdoc/>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Value.MaxMemory is not { } text || !MemoryConfigParameters.TryParseMemory(text, out var configured))
            return;

        var proposal = new ConfigSetCommand { Setting = ReplicatedSetting.MaxMemory, Value = configured, OnlyIfUnset = true };
        using var timer = new PeriodicTimer(CheckInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                // Once set, it is set for good (no entry unsets it): nothing more to do on this node.
                if (stateMachine.Inspect(static s => s.MaxMemorySetting is not null))
                    return;
                if (!view.IsLeader || stateMachine.Stopped is not null)
                    continue;

                var outcome = await proposer.ProposeAsync(proposal).WaitAsync(stoppingToken).ConfigureAwait(false);
                if (outcome.Reply is { Kind: StateMachine.ReplyKind.Integer, Integer: 1 })
                    LogProposed(logger, configured);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "maxmemory was never set: set it to the configured {Bytes} bytes (RaftKv:MaxMemory); from now on CONFIG SET maxmemory changes it")]
    private static partial void LogProposed(ILogger logger, long bytes);
}
