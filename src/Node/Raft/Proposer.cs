using System.Buffers;
using DotNext.Net.Cluster.Consensus.Raft;
using Microsoft.Extensions.Options;
using RaftKv.Node.Routing;
using RaftKv.Node.Telemetry;
using RaftKv.StateMachine;
using RaftKv.StateMachine.Acl;
using RaftKv.StateMachine.Commands;

namespace RaftKv.Node.Raft;

/// <summary>
/// Turns writes into log entries with group commit: while one entry replicates, every write that arrives joins the
/// next one, so a busy leader writes one entry per round trip however many clients it serves. The leader stamps each
/// entry with cluster time.
/// </summary>
/// <remarks>
/// One entry is in flight at a time, which keeps writes in arrival order (a pipelining client sees its writes applied
/// in the order it sent them) and makes the batch size adapt to load by itself.
/// </remarks>
public sealed partial class Proposer(
    ClusterView view,
    RaftStateMachine stateMachine,
    TimeProvider time,
    IOptions<NodeOptions> options,
    NodeMetrics metrics,
    ILogger<Proposer> logger) : IDisposable
{
    private readonly int maxBatch = Math.Clamp(options.Value.MaxBatchCommands, 1, CommandContext.MaxCommandsPerEntry);
    private readonly TimeSpan leadershipWait = options.Value.LeadershipWait;
    private readonly bool checksums = options.Value.LogChecksums;
    private readonly Queue<ProposedBatch> sealedBatches = new();
    private readonly ArrayBufferWriter<byte> payload = new(1 << 16);
    private readonly CancellationTokenSource lifetime = new();
    private readonly Lock gate = new();
    private ProposedBatch? open;
    private bool pumping;
    private long lastStamp;
    private long entriesProposed;
    private long commandsProposed;

    /// <summary>Writes this node answered <c>-OOM</c> without proposing them (its applied state already refused them).</summary>
    public long RefusedForMemory => Interlocked.Read(ref refusedForMemory);

    private long refusedForMemory;

    /// <summary>Log entries proposed by this node since start.</summary>
    public long EntriesProposed => Interlocked.Read(ref entriesProposed);

    /// <summary>Commands proposed by this node since start; divided by <see cref="EntriesProposed"/>, the batch size.</summary>
    public long CommandsProposed => Interlocked.Read(ref commandsProposed);

    /// <summary>
    /// Proposes a write; completes once the entry carrying it is committed and applied here (answered with its
    /// reply), refused before the append (not applied), or in doubt (leadership lost after the append: unknown).
    /// </summary>
    public async Task<WriteOutcome> ProposeAsync(WriteCommand command, int database = 0, string user = AclTable.DefaultUserName)
    {
        // A leader whose applier stopped steps down; meanwhile it takes nothing, so a forwarding follower routes again.
        if (stateMachine.Stopped is not null)
            return WriteOutcome.NotApplied;

        // A write the applied state already refuses for memory is answered without a log entry (Redis refuses at
        // arrival too): a full store must not fill the log, which holds every entry until the next snapshot, with
        // writes every replica would refuse. What does enter the log is judged again by apply, alike everywhere.
        if (stateMachine.RefusalForMemory(command, database, time.GetUtcNow().ToUnixTimeMilliseconds()) is { } refused)
        {
            Interlocked.Increment(ref refusedForMemory);
            return WriteOutcome.Answered(refused);
        }

        ProposedBatch batch;
        int position;
        var startPump = false;
        lock (gate)
        {
            if (open is null || open.IsFull)
            {
                if (open is not null)
                    sealedBatches.Enqueue(open);
                open = new ProposedBatch(maxBatch);
            }

            batch = open;
            position = batch.Add(command, database, user);
            if (!pumping)
                pumping = startPump = true;
        }

        if (startPump)
            _ = PumpAsync();

        var result = await batch.Result.ConfigureAwait(false);
        if (result.Replies is not null)
            metrics.ReplyHandedOver(time.GetElapsedTime(batch.AppliedAt));
        return result.At(position);
    }

    /// <summary>
    /// Proposes an entry even if no write is waiting, and completes once it is applied (or refused): its apply sweeps
    /// expired keys at the entry's cluster time. Joins the open batch when writes are waiting anyway.
    /// </summary>
    public Task ProposeSweepAsync()
    {
        ProposedBatch batch;
        var startPump = false;
        lock (gate)
        {
            open ??= new ProposedBatch(maxBatch);
            batch = open;
            if (!pumping)
                pumping = startPump = true;
        }

        if (startPump)
            _ = PumpAsync();
        return batch.Result;
    }

    private async Task PumpAsync()
    {
        while (true)
        {
            ProposedBatch? batch;
            lock (gate)
            {
                if (!sealedBatches.TryDequeue(out batch))
                {
                    batch = open;
                    open = null;
                }

                if (batch is null)
                {
                    pumping = false;
                    return;
                }
            }

            try
            {
                await ReplicateAsync(batch).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                LogReplicationFailed(logger, e);
                batch.Fail(WriteOutcomeKind.Unknown);
            }
        }
    }

    private async Task ReplicateAsync(ProposedBatch batch)
    {
        var cluster = view.Raft;
        if (!view.IsLeader)
        {
            // Elected but not yet live (the token lags the election by a moment), or not the leader at all.
            if (!view.LeaderIsLocal || !await WaitForLeadershipAsync().ConfigureAwait(false))
            {
                batch.Fail(WriteOutcomeKind.NotApplied);
                return;
            }
        }

        var stamp = lastStamp = ClusterTime.NextStamp(time.GetUtcNow().ToUnixTimeMilliseconds(), Math.Max(lastStamp, stateMachine.ClusterTime));
        payload.ResetWrittenCount();
        KeyValueStore.WriteBatch(payload, batch.Seal(stamp), checksums);
        Interlocked.Increment(ref entriesProposed);
        Interlocked.Add(ref commandsProposed, batch.Count);

        try
        {
            // Returns once the entry is committed and applied here; apply hands the replies to the batch.
            var appending = time.GetTimestamp();
            await cluster.ReplicateAsync(payload.WrittenMemory, batch, lifetime.Token).ConfigureAwait(false);
            if (batch.AppliedAt != 0)
                metrics.ProposalCommitted(time.GetElapsedTime(appending, batch.AppliedAt));
        }
        catch (NotLeaderException e) when (e.InnerException is null)
        {
            // Refused before anything was appended: definitely not applied.
            batch.Fail(WriteOutcomeKind.NotApplied);
            return;
        }
        catch (Exception e) when (e is NotLeaderException or OperationCanceledException or TimeoutException)
        {
            // Appended, then leadership was lost: the entry may still commit under the next leader.
        }

        // Not applied by now: the index was taken by another leader's entry, or we stopped waiting. An unknown
        // outcome (a no-op for a batch apply already answered).
        batch.Fail(WriteOutcomeKind.Unknown);
    }

    private async Task<bool> WaitForLeadershipAsync()
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(lifetime.Token);
            timeout.CancelAfter(leadershipWait);
            await view.Raft.WaitForLeadershipAsync(timeout.Token).ConfigureAwait(false);
            return view.IsLeader;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        lifetime.Cancel();
        lifetime.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replicating a batch failed; its writes have an unknown outcome")]
    private static partial void LogReplicationFailed(ILogger logger, Exception exception);
}
