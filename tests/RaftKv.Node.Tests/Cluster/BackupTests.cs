using System.Collections.Concurrent;
using System.Globalization;
using RaftKv.Node.Backup;
using RaftKv.Node.Raft;
using RaftKv.StateMachine;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Cluster;

/// <summary>
/// Online backup (<c>BACKUP.*</c>, <c>RaftKv.Node backup</c>) and restore into a new cluster (<c>RaftKv.Node
/// restore</c>): a backup equals the cluster's state at its index, TTLs stay absolute in cluster time, the restored
/// cluster works, and every refusal answers an error and changes nothing.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class BackupTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("raftkv-backup-tests").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    private string NewFile(string name) => Path.Combine(directory, name);

    private static BackupEndpoint Endpoint(TestCluster cluster, int node) => new("127.0.0.1", cluster.RespPort(node), null, null, false, null, null, null);

    // The digest of the state a backup file holds, restored into a store of its own.
    private static string DigestOf(string file)
    {
        var store = new KeyValueStore();
        BackupFiles.RestoreInto(store, file);
        return store.ComputeDigest();
    }

    [Fact]
    public async Task A_backup_taken_under_concurrent_writes_equals_the_state_at_its_index()
    {
        await using var cluster = await TestCluster.StartAsync();
        var leader = await cluster.WaitForLeaderAsync();
        var backupNode = (leader + 1) % cluster.Size;
        var recorder = (leader + 2) % cluster.Size;

        // The recorder keeps the digest after every applied entry: the state at each point of the history.
        var digests = new ConcurrentDictionary<long, string>();
        var recorderState = cluster.Service<RaftStateMachine>(recorder);
        recorderState.AfterApplyForTesting = index => digests[index] = recorderState.Inspect(static s => s.ComputeDigest());

        using var stop = new CancellationTokenSource();
        var writers = Enumerable.Range(0, 3).Select(w => Task.Run(async () =>
        {
            await using var client = await cluster.ConnectAsync(w % cluster.Size);
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                await client.CallAsync("SET", $"w{w}:{i % 50}", $"v{i}");
                await client.CallAsync("INCR", $"counter{w}");
                await client.CallAsync("SET", $"ttl{w}:{i % 10}", "x", "PX", "600000");
            }
        })).ToArray();

        await UntilAsync(() => !digests.IsEmpty);
        var file = NewFile("concurrent.backup");
        var taken = await BackupFetch.FetchAsync(Endpoint(cluster, backupNode), file, CancellationToken.None);
        await UntilAsync(() => digests.Keys.Any(index => index > taken.Index));
        await stop.CancelAsync();
        await Task.WhenAll(writers);

        // Entries without a payload (a new leader's no-op) change nothing: the state at the index is the last recorded before it.
        var atIndex = digests.Where(p => p.Key <= taken.Index).MaxBy(static p => p.Key);
        var after = digests.Where(p => p.Key > taken.Index).MinBy(static p => p.Key);
        Assert.Equal(atIndex.Value, DigestOf(file));
        Assert.NotEqual(after.Value, atIndex.Value); // writes went on during the backup, so its index matters
    }

    [Fact]
    public async Task A_restored_cluster_has_the_backups_state_keeps_log_positions_increasing_accepts_writes_restarts_and_fails_over()
    {
        var file = NewFile("restore.backup");
        SnapshotWritten taken;
        long lastToken;
        string digest;
        await using (var source = await TestCluster.StartAsync())
        {
            var leader = await source.WaitForLeaderAsync();
            await using (var client = await source.ConnectAsync(leader))
            {
                for (var i = 0; i < 100; i++)
                    Assert.Equal(Reply.Ok, await client.CallAsync("SET", $"k{i}", $"v{i}"));
                lastToken = (await client.CallAsync("LOCK.ACQUIRE", "lock", "t1", "600000")).Integer;
                Assert.NotNull((await client.CallAsync("SCRIPT", "LOAD", "return 1")).Bulk);
            }

            taken = await BackupFetch.FetchAsync(Endpoint(source, leader), file, CancellationToken.None);
            digest = await source.WaitForConvergenceAsync();
        }

        Assert.Equal(digest, DigestOf(file));
        await using var restored = await TestCluster.StartAsync(restoreFrom: file);
        var newLeader = await restored.WaitForLeaderAsync();
        Assert.Equal(digest, await restored.WaitForConvergenceAsync());
        await using (var client = await restored.ConnectAsync(newLeader))
        {
            Assert.Equal("v7", Text(await client.CallAsync("GET", "k7")));
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "after", "restore"));
            Assert.Equal(1, (await client.CallAsync("LOCK.RELEASE", "lock", "t1")).Integer);
            var fencing = (await client.CallAsync("LOCK.ACQUIRE", "lock", "t2", "600000")).Integer;
            Assert.True(fencing > lastToken, $"fencing token {fencing} after the restore, {lastToken} before");
            Assert.True(fencing > taken.Index * 65536, "log positions continue past the backup's index");
        }

        var restartedDigest = await restored.WaitForConvergenceAsync();
        var follower = (newLeader + 1) % restored.Size;
        await restored.StopNodeAsync(follower);
        await restored.StartNodeAsync(follower);
        Assert.Equal(restartedDigest, await restored.WaitForConvergenceAsync());

        await restored.StopNodeAsync(newLeader);
        var failedOver = await restored.WaitForLeaderAsync();
        Assert.NotEqual(newLeader, failedOver);
        await using (var client = await restored.ConnectAsync(failedOver))
        {
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "after", "failover"));
            Assert.Equal("v7", Text(await client.CallAsync("GET", "k7")));
        }
    }

    [Fact]
    public async Task TTLs_in_a_backup_are_absolute_cluster_times_that_keep_counting_down_after_a_restore()
    {
        var file = NewFile("ttl.backup");
        await using (var source = await TestCluster.StartAsync())
        {
            var leader = await source.WaitForLeaderAsync();
            await using var client = await source.ConnectAsync(leader);
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "long", "v", "PX", "600000"));
            Assert.Equal(Reply.Ok, await client.CallAsync("SET", "short", "v", "PX", "1500"));
            await BackupFetch.FetchAsync(Endpoint(source, leader), file, CancellationToken.None);
        }

        await using var restored = await TestCluster.StartAsync(restoreFrom: file);
        var newLeader = await restored.WaitForLeaderAsync();
        await using var reader = await restored.ConnectAsync(newLeader);
        var first = (await reader.CallAsync("PTTL", "long")).Integer;
        Assert.InRange(first, 1, 600000);
        await UntilAsync(async () => (await reader.CallAsync("PTTL", "long")).Integer < first);
        await UntilAsync(async () => (await reader.CallAsync("EXISTS", "short")).Integer == 0);
    }

    [Fact]
    public async Task Backup_commands_refuse_unknown_ids_bad_offsets_and_counts_a_second_backup_and_users_without_admin()
    {
        await using var cluster = await TestCluster.StartAsync();
        var leader = await cluster.WaitForLeaderAsync();
        await using var client = await cluster.ConnectAsync(leader);
        Assert.Equal(Reply.Ok, await client.CallAsync("SET", "k", "v"));

        Assert.StartsWith("ERR no such backup", (await client.CallAsync("BACKUP.READ", "nope", "0", "10")).Text);
        Assert.StartsWith("ERR no such backup", (await client.CallAsync("BACKUP.END", "nope")).Text);
        Assert.StartsWith("ERR wrong number of arguments", (await client.CallAsync("BACKUP.READ", "nope")).Text);

        var started = await client.CallAsync("BACKUP.START");
        var id = Text(started.Items![0])!;
        var bytes = started.Items[4].Integer;
        Assert.StartsWith("ERR a backup is already in progress", (await client.CallAsync("BACKUP.START")).Text);
        Assert.StartsWith("ERR offset is out of range", (await client.CallAsync("BACKUP.READ", id, "-1", "10")).Text);
        Assert.StartsWith("ERR offset is out of range", (await client.CallAsync("BACKUP.READ", id, (bytes + 1).ToString(CultureInfo.InvariantCulture), "10")).Text);
        Assert.StartsWith("ERR count must be between", (await client.CallAsync("BACKUP.READ", id, "0", "0")).Text);
        Assert.StartsWith("ERR count must be between", (await client.CallAsync("BACKUP.READ", id, "0", "16777217")).Text);
        Assert.StartsWith("ERR value is not an integer", (await client.CallAsync("BACKUP.READ", id, "x", "10")).Text);
        Assert.Empty((await client.CallAsync("BACKUP.READ", id, bytes.ToString(CultureInfo.InvariantCulture), "10")).Bulk!);
        Assert.Equal((int)Math.Min(bytes, 10), (await client.CallAsync("BACKUP.READ", id, "0", "10")).Bulk!.Length);

        // Another node holds no backup of this id.
        await using (var other = await cluster.ConnectAsync((leader + 1) % cluster.Size))
            Assert.StartsWith("ERR no such backup", (await other.CallAsync("BACKUP.READ", id, "0", "10")).Text);

        Assert.Equal(Reply.Ok, await client.CallAsync("BACKUP.END", id));
        Assert.StartsWith("ERR no such backup", (await client.CallAsync("BACKUP.READ", id, "0", "10")).Text);
        Assert.Empty(Directory.EnumerateFiles(cluster.Service<OnlineBackup>(leader).Directory));

        // Administrators only: a user with every data command but not @admin is refused before anything runs.
        Assert.Equal(Reply.Ok, await client.CallAsync("ACL", "SETUSER", "app", "on", ">app-pw", "allkeys", "+@all", "-@admin"));
        await using var app = await cluster.ConnectAsync(leader);
        Assert.Equal(Reply.Ok, await app.CallAsync("AUTH", "app", "app-pw"));
        Assert.StartsWith("NOPERM", (await app.CallAsync("BACKUP.START")).Text);
        Assert.StartsWith("NOPERM", (await app.CallAsync("BACKUP.READ", id, "0", "10")).Text);
    }

    [Fact]
    public async Task Restore_refuses_a_damaged_backup_and_a_data_directory_that_holds_data_with_one_line_and_changes_nothing()
    {
        var file = NewFile("good.backup");
        await using (var source = await TestCluster.StartAsync())
        {
            var leader = await source.WaitForLeaderAsync();
            await using (var client = await source.ConnectAsync(leader))
                Assert.Equal(Reply.Ok, await client.CallAsync("SET", "k", "v"));
            await BackupFetch.FetchAsync(Endpoint(source, leader), file, CancellationToken.None);
        }

        var damaged = NewFile("damaged.backup");
        var bytes = await File.ReadAllBytesAsync(file);
        bytes[bytes.Length / 2] ^= 0x40;
        await File.WriteAllBytesAsync(damaged, bytes);
        var cut = NewFile("cut.backup");
        await File.WriteAllBytesAsync(cut, bytes[..(bytes.Length - 9)]);

        foreach (var bad in new[] { damaged, cut })
        {
            var target = NewFile("node-" + Path.GetFileName(bad));
            var (code, error) = await RunToolAsync("restore", bad, "--data-path", target);
            Assert.Equal(1, code);
            Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains("is not an intact RaftKv backup", error, StringComparison.Ordinal);
            Assert.False(Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any());
        }

        var used = Directory.CreateDirectory(NewFile("used")).FullName;
        await File.WriteAllTextAsync(Path.Combine(used, "something"), "x");
        var (usedCode, usedError) = await RunToolAsync("restore", file, "--data-path", used);
        Assert.Equal(1, usedCode);
        Assert.Contains("is not empty", usedError, StringComparison.Ordinal);
        Assert.Equal(["something"], Directory.EnumerateFileSystemEntries(used).Select(Path.GetFileName));

        var (okCode, _) = await RunToolAsync("restore", file, "--data-path", NewFile("fresh"));
        Assert.Equal(0, okCode);
    }

    private static async Task<(int Code, string Error)> RunToolAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await BackupTool.RunAsync(args, output, error, CancellationToken.None);
        return (code, error.ToString());
    }

    private static string? Text(Reply reply) => reply.Bulk is { } bytes ? System.Text.Encoding.UTF8.GetString(bytes) : null;

    // A condition that must become true; the bound is for liveness only, never a speed claim.
    private static Task UntilAsync(Func<bool> condition) => UntilAsync(() => Task.FromResult(condition()));

    private static async Task UntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition never became true");
            await Task.Delay(20);
        }
    }
}

/// <summary>Reads a backup file into a store of its own.</summary>
internal static class BackupFiles
{
    public static void RestoreInto(KeyValueStore store, string file)
    {
        using var stream = File.OpenRead(file);
        store.RestoreSnapshot(stream);
    }
}
