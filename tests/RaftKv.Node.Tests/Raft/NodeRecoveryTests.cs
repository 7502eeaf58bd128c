using System.Net;
using DotNext.IO.Log;
using DotNext.Net.Cluster;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RaftKv.Node.Raft;

namespace RaftKv.Node.Tests.Raft;

/// <summary>
/// Recovery mode without a cluster: when a node enters it, that its log refuses every vote while in it (and answers as
/// DotNext's own otherwise), that the marker survives a restart, and what the target index is made of.
/// </summary>
public sealed class NodeRecoveryTests : IDisposable
{
    private static readonly ClusterMemberId Candidate = ClusterMemberId.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 7001));
    private static readonly ClusterMemberId Other = ClusterMemberId.FromEndPoint(new IPEndPoint(IPAddress.Loopback, 7002));

    private readonly string path = Path.Combine(Path.GetTempPath(), "raftkv-recovery-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(path))
            Directory.Delete(path, recursive: true);
    }

    [Fact]
    public async Task A_log_in_recovery_refuses_every_vote_and_counts_the_refusals()
    {
        var recovery = Recovery(recover: true);
        recovery.Decide(membersCommitted: null);
        Assert.True(recovery.IsRecovering);
        Assert.True(File.Exists(Path.Combine(path, RecoveryMarker.FileName)));

        await using var log = Open(recovery);
        IPersistentState state = log;
        Assert.False(state.IsVotedFor(in Candidate));
        Assert.False(state.IsVotedFor(in Other));
        Assert.Equal(2, recovery.VotesRefused);
    }

    [Fact]
    public async Task Outside_recovery_the_log_answers_as_DotNexts_own()
    {
        var recovery = Recovery(recover: false);
        recovery.Decide(membersCommitted: null);
        Assert.False(recovery.IsRecovering);

        await using var log = Open(recovery);
        IPersistentState state = log;
        Assert.True(state.IsVotedFor(in Candidate));
        await state.UpdateVotedForAsync(Candidate);
        Assert.True(state.IsVotedFor(in Candidate));
        Assert.False(state.IsVotedFor(in Other));
        Assert.Equal(0, recovery.VotesRefused);
    }

    [Fact]
    public async Task The_first_commit_the_leader_asks_for_sets_the_target_and_later_ones_do_not_move_it()
    {
        var recovery = Recovery(recover: true);
        recovery.Decide(membersCommitted: 1);
        await using var log = Open(recovery);
        IAuditTrail<IRaftLogEntry> trail = log;
        await trail.AppendAsync(new LogEntryProducer<BinaryLogEntry>([Entry(), Entry(), Entry()]), 1, skipCommitted: true);

        await ((IAuditTrail)log).CommitAsync(2);
        Assert.Equal(2, recovery.TargetIndex);
        await ((IAuditTrail)log).CommitAsync(3);
        Assert.Equal(2, recovery.TargetIndex);

        // No Raft member here, so no leader to record a vote for: it stays in recovery.
        Assert.True(recovery.IsRecovering);
    }

    [Fact]
    public void A_node_restarted_in_recovery_stays_in_it_with_the_index_it_knew()
    {
        Recovery(recover: false).Enter("a committed entry was found lost", 42);

        var restarted = Recovery(recover: false);
        restarted.Decide(membersCommitted: 7);
        Assert.True(restarted.IsRecovering);
        Assert.Equal(42, restarted.TargetIndex);
    }

    [Fact]
    public void An_empty_data_directory_recovers_only_when_a_member_has_a_log()
    {
        var fresh = Recovery(recover: false);
        fresh.Decide(membersCommitted: 0);
        Assert.False(fresh.IsRecovering);

        var alone = Recovery(recover: false);
        alone.Decide(membersCommitted: null);
        Assert.False(alone.IsRecovering);

        var wiped = Recovery(recover: false);
        wiped.Decide(membersCommitted: 5);
        Assert.True(wiped.IsRecovering);
        Assert.Equal(5, wiped.TargetIndex);
    }

    [Fact]
    public void Recover_on_a_data_directory_with_a_log_refuses_to_start()
    {
        var wal = Directory.CreateDirectory(Path.Combine(path, "wal"));
        File.WriteAllBytes(Path.Combine(wal.FullName, "checkpoint"), [1]);

        var e = Assert.Throws<NodeStartupException>(() => Recovery(recover: true).Decide(membersCommitted: null));
        Assert.Contains("holds a log", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(path, RecoveryMarker.FileName)));
    }

    [Theory]
    [InlineData("{\"reason\":\"x\",\"knownIndex\":-1,\"since\":\"2026-01-01T00:00:00Z\"}")]
    [InlineData("{\"reason\":\"x\",\"knownIndex\":")]
    [InlineData("")]
    public void An_unreadable_marker_stops_the_start_naming_the_file(string content)
    {
        Directory.CreateDirectory(path);
        var marker = Path.Combine(path, RecoveryMarker.FileName);
        File.WriteAllText(marker, content);

        var e = Assert.Throws<NodeStartupException>(() => Recovery(recover: false).Decide(membersCommitted: null));
        Assert.Contains(marker, e.Message, StringComparison.Ordinal);
    }

    private NodeRecovery Recovery(bool recover)
        => new(
            Options.Create(new NodeOptions { DataPath = path, Storage = { Recover = recover } }),
            TimeProvider.System,
            new ServiceCollection().BuildServiceProvider(),
            NullLogger<NodeRecovery>.Instance);

    private DurableWriteAheadLog Open(NodeRecovery recovery)
        => new(new WriteAheadLog.Options { Location = Path.Combine(path, "wal") }, IStateMachine.CreateNoOp(), recovery);

    private static BinaryLogEntry Entry() => new() { Term = 1, Content = new byte[] { 1 } };
}
