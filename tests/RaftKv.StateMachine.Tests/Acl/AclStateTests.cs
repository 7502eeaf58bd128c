using System.Buffers;
using MessagePack;
using RaftKv.StateMachine.Acl;
using RaftKv.StateMachine.Commands;
using static RaftKv.StateMachine.Tests.Acl.AclDriver;
using static RaftKv.StateMachine.Tests.SnapshotBytes;

namespace RaftKv.StateMachine.Tests.Acl;

/// <summary>Users as replicated state: log, snapshots, digest; and what apply does with the caller's user.</summary>
public sealed class AclStateTests
{
    private static string[] AclList(KeyValueStore store) => Lines(store.Read(new AclListCommand(), T));

    private static AclDriver Populated()
    {
        var redis = new AclDriver();
        redis.Admin("ACL", "SETUSER", "locker", "on", ">pw", "~lock:*", "+@all", "-@dangerous");
        redis.Admin("ACL", "SETUSER", "reader", "on", "nopass", "%R~*", "+@read", "+select|0", "&news");
        redis.Admin("ACL", "SETUSER", "gone", "on");
        redis.Admin("ACL", "DELUSER", "gone");
        redis.Exec("locker", "SET", "lock:a", "1");
        Assert.Equal(ReplyKind.Integer, redis.Exec("locker", "SESSION.OPEN", "5000").Kind);
        redis.Admin("SET", "plain", "x");
        return redis;
    }

    [Fact]
    public void The_same_log_gives_the_same_users_and_digest_on_every_replica()
    {
        var leader = Populated();
        var follower = new KeyValueStore();
        var index = 0L;
        foreach (var batch in leader.Log)
            follower.Apply(batch, ++index);

        Assert.Equal(leader.Store.ComputeDigest(), follower.ComputeDigest());
        Assert.Equal(AclList(leader.Store), AclList(follower));
        Assert.Equal(leader.Store.Acl.Version, follower.Acl.Version);
        Assert.Equal(leader.Store.UsedMemory, follower.UsedMemory);
        Assert.Equal(follower.ComputeUsedMemory(), follower.UsedMemory);
    }

    [Fact]
    public void Users_survive_a_snapshot_and_are_in_the_digest()
    {
        var redis = Populated();
        var restored = Restore(Snapshot(redis.Store));
        Assert.Equal(redis.Store.ComputeDigest(), restored.ComputeDigest());
        Assert.Equal(AclList(redis.Store), AclList(restored));
        Assert.True(restored.Acl.Initialized);
        Assert.Equal(redis.Store.Acl.Version, restored.Acl.Version);
        Assert.Equal("locker", Assert.Single(restored.Sessions.All).Owner);
        Assert.True(restored.Acl.Find("locker")!.CheckPassword("pw"u8));
        Assert.Equal(redis.Store.UsedMemory, restored.UsedMemory);
        Assert.Equal(Snapshot(redis.Store), Snapshot(restored));

        var before = redis.Store.ComputeDigest();
        redis.Admin("ACL", "SETUSER", "reader", "-get");
        Assert.NotEqual(before, redis.Store.ComputeDigest());
    }

    [Fact]
    public void A_table_never_changed_leaves_the_digest_as_it_was()
    {
        // The digest of a store without ACL writes has no ACL part: replicas of a log written before ACLs agree with it.
        var plain = new AclDriver();
        plain.Admin("SET", "k", "v");
        var digest = plain.Store.ComputeDigest();
        Assert.False(plain.Store.Acl.Initialized);
        Assert.Equal(digest, Restore(Snapshot(plain.Store)).ComputeDigest());
    }

    [Fact]
    public void An_older_snapshot_restores_with_Redis_s_default_user_uninitialized()
    {
        // Format 3: [3, clusterTime, databases, scripts, sessions, settings]; a session of 5 fields (no owner).
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        writer.WriteArrayHeader(6);
        writer.Write(3);
        writer.Write(T);
        writer.WriteArrayHeader(0);
        writer.WriteArrayHeader(0);
        writer.WriteArrayHeader(1);
        writer.WriteArrayHeader(5);
        writer.Write(65536L);
        writer.Write(5000L);
        writer.Write(T + 5000);
        writer.Write(1L);
        writer.WriteArrayHeader(0);
        writer.WriteMapHeader(0);
        writer.Flush();

        var redis = Populated();
        redis.Store.RestoreSnapshot(new ReadOnlySequence<byte>(buffer.WrittenMemory));
        Assert.Equal(["user default on nopass ~* &* +@all"], AclList(redis.Store));
        Assert.False(redis.Store.Acl.Initialized);
        Assert.Equal(0, redis.Store.Acl.Version);
        Assert.Equal(AclTable.DefaultUserName, Assert.Single(redis.Store.Sessions.All).Owner);
    }

    [Fact]
    public void A_snapshot_with_a_damaged_user_is_refused_whole()
    {
        var redis = Populated();
        var bytes = Snapshot(redis.Store);
        var at = bytes.AsSpan().IndexOf("~lock:*"u8);
        bytes[at] = (byte)'?'; // "?lock:*" is no rule
        var target = new AclDriver();
        target.Admin("SET", "k", "v");
        var before = target.Store.ComputeDigest();
        Assert.Throws<InvalidDataException>(() => target.Store.RestoreSnapshot(new ReadOnlySequence<byte>(bytes)));
        Assert.Equal(before, target.Store.ComputeDigest());
    }

    [Fact]
    public void A_command_of_a_user_deleted_meanwhile_changes_nothing()
    {
        var redis = new AclDriver();
        redis.Admin("ACL", "SETUSER", "u", "on", "~*", "+@all");
        var write = Redis.Parse("SET", "k", "v").Write!;
        redis.Admin("ACL", "DELUSER", "u");
        var digest = redis.Store.ComputeDigest();
        var reply = redis.Store.Apply(new CommandBatch { Timestamp = T, Commands = [write], Users = ["u"] }, 100).Single();
        Assert.Equal(KeyValueStore.UserGone, reply);
        Assert.StartsWith("NOPERM", reply.Text, StringComparison.Ordinal);
        Assert.False(redis.Store.Keyspace.Contains("k"u8, long.MaxValue - 1));
        Assert.Equal(digest, redis.Store.ComputeDigest());
    }

    [Fact]
    public void A_batch_without_users_keeps_its_bytes_and_users_travel_only_when_needed()
    {
        var plain = new CommandBatch { Timestamp = 1, Commands = [new DelCommand { Keys = [[1]] }] };
        var withUsers = new CommandBatch { Timestamp = 1, Commands = [new DelCommand { Keys = [[1]] }], Users = ["u"] };
        var plainBytes = MessagePackSerializer.Serialize(plain, KeyValueStore.SerializerOptions);
        var userBytes = MessagePackSerializer.Serialize(withUsers, KeyValueStore.SerializerOptions);
        Assert.Equal(0x93, plainBytes[0]);
        Assert.Equal(0x94, userBytes[0]);
        Assert.Equal("u", Assert.Single(Roundtrip(withUsers).Users!));
        Assert.Null(Roundtrip(plain).Users);
        var mismatched = new CommandBatch { Timestamp = 1, Commands = [new DelCommand { Keys = [[1]] }], Users = ["u", "v"] };
        Assert.Equal("ERR invalid command batch: Users does not match Commands", new KeyValueStore().Apply(mismatched).Single().Text);
    }

    [Fact]
    public void Load_replaces_every_user_and_only_once_when_asked()
    {
        var redis = new AclDriver();
        var file = AclFile.Parse("user alice on >secret ~app:* +@read\n\nuser default on #" + AclRuleTests.Hex("root") + " ~* &* +@all\n");
        Assert.Null(file.Error);
        Assert.Equal(Reply.Ok, redis.Apply("default", file.ToLoadCommand(onlyIfUninitialized: true)));
        Assert.True(redis.Store.Acl.Find("alice")!.CheckPassword("secret"u8));
        Assert.False(redis.Store.Acl.Default.CheckPassword("x"u8));
        Assert.True(redis.Store.Acl.Default.CheckPassword("root"u8));

        // Once initialized, a node's configuration does not overwrite what the log set.
        var again = AclFile.RequirePass("other").ToLoadCommand(onlyIfUninitialized: true);
        var version = redis.Store.Acl.Version;
        Assert.Equal(Reply.Ok, redis.Apply("default", again));
        Assert.Equal(version, redis.Store.Acl.Version);
        Assert.NotNull(redis.Store.Acl.Find("alice"));

        // ACL LOAD itself replaces everything; default comes back as Redis starts it when the file lacks it.
        Assert.Equal(Reply.Ok, redis.Apply("default", AclFile.Parse("user bob on nopass +@all ~*").ToLoadCommand(false)));
        Assert.Equal(["user bob on nopass ~* resetchannels +@all", "user default on nopass ~* &* +@all"], AclList(redis.Store));

        var requirePass = new AclDriver();
        requirePass.Apply("default", AclFile.RequirePass("pw").ToLoadCommand(true));
        Assert.Equal(["user default on #" + AclRuleTests.Hex("pw") + " ~* &* +@all"], AclList(requirePass.Store));
    }

    [Fact]
    public void Aclfile_errors_name_their_lines_and_load_nothing()
    {
        var parsed = AclFile.Parse("user a on +nosuch\nuser b on bogus\nfoo\nuser a on\nuser c <nope\nuser d on ~x\n", "users.acl");
        Assert.Empty(parsed.Users);
        Assert.Equal(
            "users.acl:1: Error in applying operation '+nosuch': Unknown command or category name in ACL. "
            + "users.acl:2: Syntax error. users.acl:3 should start with user keyword followed by the username. "
            + "WARNING: Duplicate user 'a' found on line 4. "
            + "users.acl:5: The password you are trying to remove from the user does not exist.",
            parsed.Error);
        Assert.Throws<InvalidOperationException>(() => parsed.ToLoadCommand(false));
    }

    // ---- The caller's user at apply ----

    [Fact]
    public void Scripts_run_as_their_caller()
    {
        var redis = new AclDriver();
        redis.Admin("ACL", "SETUSER", "locker", "on", "~lock:*", "+@all", "-@dangerous");
        Assert.Equal(Reply.Ok, redis.Exec("locker", "EVAL", "return redis.call('set','lock:x','1')", "0"));
        var denied = redis.Exec("locker", "EVAL", "return redis.call('set','other:x','1')", "0");
        Assert.StartsWith("ERR The user executing the script can't access at least one of the keys mentioned in the command arguments", denied.Text, StringComparison.Ordinal);
        Assert.False(redis.Store.Keyspace.Contains("other:x"u8, long.MaxValue - 1));
        var flush = redis.Exec("locker", "EVAL", "return redis.call('flushall')", "0");
        Assert.StartsWith("ERR The user executing the script can't run this command or subcommand", flush.Text, StringComparison.Ordinal);
        Assert.Equal(Reply.Error("ERR The user executing the script can't run this command or subcommand"), redis.Exec("locker", "EVAL", "return redis.pcall('flushall')", "0"));
        Assert.True(redis.Store.Keyspace.Contains("lock:x"u8, 0));

        // The same script as default may do both; EVAL_RO is checked too (it runs as a read).
        Assert.Equal(Reply.Ok, redis.Admin("EVAL", "return redis.call('set','other:x','1')", "0"));
        redis.Admin("ACL", "SETUSER", "reader", "on", "%R~lock:*", "+@all");
        Assert.Equal(Reply.FromBulk("1"u8.ToArray()), redis.Exec("reader", "EVAL_RO", "return redis.call('get','lock:x')", "0"));
        Assert.StartsWith("ERR The user executing the script can't access", redis.Exec("reader", "EVAL_RO", "return redis.call('get','other:x')", "0").Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Acl_check_cmd_answers_truthfully()
    {
        var redis = new AclDriver();
        redis.Admin("ACL", "SETUSER", "locker", "on", "~lock:*", "+@all", "-@dangerous");
        Assert.Equal(Reply.NullBulk, redis.Exec("locker", "EVAL", "return redis.acl_check_cmd('flushall')", "0"));
        Assert.Equal(Reply.FromInteger(1), redis.Exec("locker", "EVAL", "return redis.acl_check_cmd('set','lock:x','1')", "0"));
        Assert.Equal(Reply.NullBulk, redis.Exec("locker", "EVAL", "return redis.acl_check_cmd('set','other:x','1')", "0"));
        Assert.Equal(Reply.FromInteger(1), redis.Exec("locker", "EVAL", "return redis.acl_check_cmd('get')", "0"));
        Assert.Equal(Reply.NullBulk, redis.Exec("locker", "EVAL", "return redis.acl_check_cmd('config','get','x')", "0"));
        Assert.StartsWith("ERR Invalid command passed to redis.acl_check_cmd()", redis.Exec("locker", "EVAL", "return redis.acl_check_cmd('nosuch')", "0").Text, StringComparison.Ordinal);
        Assert.StartsWith("ERR Invalid command passed to redis.acl_check_cmd()", redis.Exec("locker", "EVAL", "return redis.acl_check_cmd(1)", "0").Text, StringComparison.Ordinal);
        Assert.StartsWith("ERR Please specify at least one argument for this redis lib call", redis.Exec("locker", "EVAL", "return redis.acl_check_cmd()", "0").Text, StringComparison.Ordinal);
        Assert.Equal(Reply.FromInteger(1), redis.Admin("EVAL", "return redis.acl_check_cmd('flushall')", "0"));
    }

    [Fact]
    public void EXEC_checks_its_commands_again_at_apply()
    {
        var redis = new AclDriver();
        redis.Admin("ACL", "SETUSER", "u", "on", "~lock:*", "+@all");
        var exec = new TransactionCommand { Commands = [Redis.Args("SET", "lock:a", "1"), Redis.Args("SET", "lock:b", "1"), Redis.Args("GET", "lock:a")] };
        redis.Admin("ACL", "SETUSER", "u", "resetkeys", "~lock:a", "-get");
        var reply = redis.Apply("u", exec);
        Assert.Equal(
        [
            Reply.Ok,
            Reply.Error("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: no permission to touch the specified keys"),
            Reply.Error("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: no permission to execute the command or subcommand"),
        ], reply.Items!);
        Assert.False(redis.Store.Keyspace.Contains("lock:b"u8, long.MaxValue - 1));
    }

    [Fact]
    public void The_node_s_ACL_subcommands_are_refused_inside_MULTI_and_the_state_machine_s_are_queued()
    {
        var argv = Args("ACL", "WHOAMI").Select(static a => (ReadOnlyMemory<byte>)a).ToArray();
        Assert.Equal(QueueCheck.Refuse, TransactionCommand.CheckQueued(argv, out var error));
        Assert.Equal(TransactionCommand.NotAllowed, error);
        argv = Args("ACL", "SETUSER", "u", "on").Select(static a => (ReadOnlyMemory<byte>)a).ToArray();
        Assert.Equal(QueueCheck.Queue, TransactionCommand.CheckQueued(argv, out _));
        var redis = new AclDriver();
        var reply = redis.Apply("default", new TransactionCommand { Commands = [Redis.Args("ACL", "SETUSER", "u", "on"), Redis.Args("ACL", "WHOAMI")] });
        Assert.Equal([Reply.Ok, TransactionCommand.NotAllowed], reply.Items!);
    }

    [Fact]
    public void Sessions_belong_to_the_user_that_opened_them()
    {
        var redis = new AclDriver();
        redis.Admin("ACL", "SETUSER", "alice", "on", "~*", "+@all");
        redis.Admin("ACL", "SETUSER", "mallory", "on", "~*", "+@all");
        var id = redis.Exec("alice", "SESSION.OPEN", "60000").Integer.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var missing = redis.Exec("alice", "SESSION.KEEPALIVE", "12345");

        Assert.Equal(missing, redis.Exec("mallory", "SESSION.KEEPALIVE", id));
        Assert.Equal(missing, redis.Exec("mallory", "SESSION.EXEC", id, "1", "0", "SET", "k", "stolen"));
        Assert.Equal(redis.Exec("alice", "SESSION.CLOSE", "12345"), redis.Exec("mallory", "SESSION.CLOSE", id));
        Assert.Equal(missing, redis.Admin("SESSION.EXEC", id, "1", "0", "SET", "k", "stolen"));
        Assert.False(redis.Store.Keyspace.Contains("k"u8, long.MaxValue - 1));

        Assert.Equal(Reply.Ok, redis.Exec("alice", "SESSION.EXEC", id, "1", "0", "SET", "k", "mine"));
        Assert.Equal(Reply.Ok, redis.Exec("alice", "SESSION.KEEPALIVE", id));
        Assert.Equal(Reply.FromInteger(1), redis.Exec("alice", "SESSION.CLOSE", id));
    }
}
