using System.Buffers;
using System.Text;
using DotNext.IO.Log;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using RaftKv.Node.Raft;
using RaftKv.StateMachine;
using RaftKv.StateMachine.Commands;

namespace RaftKv.Node.Tests.Raft;

/// <summary>
/// The follower side of the log (what DotNext calls for AppendEntries): entries on disk before the call returns, and
/// a request overlapping the log truncates it only where an entry conflicts.
/// </summary>
public sealed class DurableWriteAheadLogTests : IDisposable
{
    private readonly string path = Path.Combine(Path.GetTempPath(), "raftkv-wal-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(path))
            Directory.Delete(path, recursive: true);
    }

    [Fact]
    public async Task A_stale_request_for_entries_already_held_keeps_the_entries_after_them()
    {
        await using var log = Open();
        await AppendAsFollowerAsync(log, 1, (1, "a"), (1, "b"), (1, "c"), (1, "d"));

        // A request the leader gave up on (timed out) and which arrives after a later one: entries 1-2 again.
        // DotNext's own log cut everything after entry 2 here, although this node had acknowledged 3 and 4.
        await AppendAsFollowerAsync(log, 1, (1, "a"), (1, "b"));

        Assert.Equal(4, log.LastEntryIndex);
        Assert.Equal([(1L, "a"), (1L, "b"), (1L, "c"), (1L, "d")], await ReadAsync(log, 1, 4));
        Assert.Equal(2, log.EntriesAlreadyHeld);
    }

    [Fact]
    public async Task A_conflicting_entry_replaces_the_log_from_that_index_on()
    {
        await using var log = Open();
        await AppendAsFollowerAsync(log, 1, (1, "a"), (1, "b"), (1, "c"), (1, "d"));

        // A new leader (term 2) whose log agrees up to entry 2 and then differs.
        await AppendAsFollowerAsync(log, 2, (1, "b"), (2, "x"));

        Assert.Equal(3, log.LastEntryIndex);
        Assert.Equal([(1L, "a"), (1L, "b"), (2L, "x")], await ReadAsync(log, 1, 3));
    }

    [Fact]
    public async Task Entries_past_those_already_held_are_appended()
    {
        await using var log = Open();
        await AppendAsFollowerAsync(log, 1, (1, "a"), (1, "b"));
        await AppendAsFollowerAsync(log, 2, (1, "b"), (1, "c"), (2, "d"));

        Assert.Equal(4, log.LastEntryIndex);
        Assert.Equal([(1L, "a"), (1L, "b"), (1L, "c"), (2L, "d")], await ReadAsync(log, 1, 4));
    }

    [Fact]
    public async Task Received_entries_are_in_the_checkpoint_when_the_append_returns()
    {
        await using var log = Open();
        for (var round = 0; round < 20; round++)
        {
            var start = round * 3 + 1;
            await AppendAsFollowerAsync(log, start, (1, $"{round}a"), (1, $"{round}b"), (1, $"{round}c"));

            // What a restart keeps.
            Assert.Equal(start + 2, WalCheckpoint.LastFlushedIndex(path));
        }

        Assert.Equal(20, log.FollowerFlushes);
    }

    [Fact]
    public async Task A_received_entry_that_fails_its_checksum_is_not_written_and_the_request_is_refused()
    {
        await using var log = Open();
        var good = Enveloped("c");
        var damaged = (byte[])good.Clone();
        damaged[^2] ^= 0x01;

        var refused = await Assert.ThrowsAsync<InvalidDataException>(() => AppendAsFollowerAsync(log, 1, Enveloped("a"), Enveloped("b"), damaged, Enveloped("d")));
        Assert.Contains("Received log entry 3 fails its checksum", refused.Message, StringComparison.Ordinal);
        Assert.Equal(1, log.ReceivedEntriesRefused);
        Assert.Equal(2, log.LastEntryIndex);

        // The leader sends it again, undamaged: appended after the two that were kept.
        await AppendAsFollowerAsync(log, 3, good, Enveloped("d"));
        Assert.Equal(4, log.LastEntryIndex);
        using var reader = await log.ReadAsync(3, 3);
        Assert.True(reader[0].TryGetPayload(out var payload));
        Assert.Equal(good, payload.ToArray());
    }

    [Fact]
    public async Task Received_entries_without_an_envelope_are_written_as_before()
    {
        await using var log = Open();
        var bare = new ArrayBufferWriter<byte>();
        KeyValueStore.WriteBatch(bare, new CommandBatch { Timestamp = 1 }, checksum: false);

        await AppendAsFollowerAsync(log, 1, bare.WrittenSpan.ToArray(), Encoding.UTF8.GetBytes("not a batch"));
        Assert.Equal(2, log.LastEntryIndex);
        Assert.Equal(0, log.ReceivedEntriesRefused);
    }

    private static byte[] Enveloped(string value)
    {
        var buffer = new ArrayBufferWriter<byte>();
        KeyValueStore.WriteBatch(buffer, new CommandBatch { Timestamp = 1, Commands = [new DelCommand { Keys = [Encoding.UTF8.GetBytes(value)] }] });
        return buffer.WrittenSpan.ToArray();
    }

    private static Task AppendAsFollowerAsync(IAuditTrail<IRaftLogEntry> log, long startIndex, params byte[][] payloads)
    {
        var producer = new LogEntryProducer<BinaryLogEntry>([.. payloads.Select(static p => new BinaryLogEntry { Term = 1, Content = p })]);
        return log.AppendAsync(producer, startIndex, skipCommitted: true).AsTask();
    }

    private DurableWriteAheadLog Open() => new(new WriteAheadLog.Options { Location = path }, IStateMachine.CreateNoOp());

    private static Task AppendAsFollowerAsync(IAuditTrail<IRaftLogEntry> log, long startIndex, params (long Term, string Text)[] entries)
    {
        var producer = new LogEntryProducer<BinaryLogEntry>(
            [.. entries.Select(static e => new BinaryLogEntry { Term = e.Term, Content = Encoding.UTF8.GetBytes(e.Text) })]);
        return log.AppendAsync(producer, startIndex, skipCommitted: true).AsTask();
    }

    private static async Task<List<(long Term, string Text)>> ReadAsync(WriteAheadLog log, long from, long to)
    {
        using var reader = await log.ReadAsync(from, to);
        return [.. reader.Select(static entry => (entry.Term, entry.TryGetPayload(out var payload) ? Encoding.UTF8.GetString(payload.ToArray()) : "?"))];
    }
}
