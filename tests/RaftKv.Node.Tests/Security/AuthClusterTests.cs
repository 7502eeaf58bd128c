using System.Text;
using RaftKv.Node.Tests.Cluster;
using RaftKv.StateMachine;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Security;

/// <summary>
/// Authentication and ACL users on a three-node cluster started with <c>requirepass</c>: NOAUTH before AUTH for every
/// kind of command, users created through one node and used through another (after a leader change and after a
/// restart from a snapshot too), permissions checked on commands, keys and inside scripts, sessions owned by users.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class AuthClusterTests
{
    private const string Password = "s3cret-default-pass";
    private static readonly Reply NoAuth = Reply.Error("NOAUTH Authentication required.");
    private static readonly Reply WrongPass = Reply.Error("WRONGPASS invalid username-password pair or user is disabled.");

    private static Dictionary<string, string?> WithPassword()
        => new() { ["RaftKv:Security:RequirePass"] = Password };

    private static async Task<RespTestClient> LoginAsync(TestCluster cluster, int node, string user = "default", string password = Password)
    {
        var client = await cluster.ConnectAsync(node);
        Assert.Equal(Reply.Ok, await client.CallAsync("AUTH", user, password));
        return client;
    }

    [Fact]
    public async Task Before_AUTH_every_kind_of_command_gets_NOAUTH_and_changes_nothing()
    {
        await using var cluster = await TestCluster.StartAsync(settings: WithPassword());
        var leader = await cluster.WaitForLeaderAsync();
        for (var node = 0; node < cluster.Size; node++)
        {
            await using var client = await cluster.ConnectAsync(node);
            string[][] refused =
            [
                ["GET", "k"], ["SET", "k", "v"], ["DEL", "k"], ["KEYS", "*"], ["SCAN", "0"], ["FLUSHALL"],
                ["EVAL", "return 1", "0"], ["EVAL_RO", "return 1", "0"], ["SCRIPT", "FLUSH"],
                ["MULTI"], ["WATCH", "k"], ["EXEC"],
                ["SESSION.OPEN", "10000"], ["LOCK.ACQUIRE", "lock:a", "t", "10000"],
                ["INFO"], ["CLIENT", "LIST"], ["CONFIG", "SET", "requirepass", ""], ["CONFIG", "GET", "*"],
                ["ACL", "SETUSER", "mallory", "on", "nopass", "+@all", "~*"], ["ACL", "LIST"], ["ACL", "WHOAMI"],
                ["DEBUG", "DIGEST"], ["CLUSTER", "NODES"], ["SELECT", "1"], ["PING"], ["ECHO", "x"], ["COMMAND"], ["ROLE"],
            ];
            foreach (var argv in refused)
                Assert.Equal(NoAuth, await client.CallAsync(argv));

            // Redis answers an unknown name and a wrong number of arguments before it asks for authentication.
            Assert.Equal(Reply.Error("ERR unknown command 'NOSUCH', with args beginning with: 'x' "), await client.CallAsync("NOSUCH", "x"));
            Assert.Equal(Reply.Error("ERR wrong number of arguments for 'get' command"), await client.CallAsync("GET"));

            Assert.Equal(
                Reply.Error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"),
                await client.CallAsync("HELLO", "3"));
            Assert.Equal(WrongPass, await client.CallAsync("AUTH", "wrong"));
            Assert.Equal(WrongPass, await client.CallAsync("AUTH", "default", "wrong"));
            Assert.Equal(WrongPass, await client.CallAsync("AUTH", "nosuchuser", Password));
            Assert.Equal(NoAuth, await client.CallAsync("GET", "k"));
            Assert.Equal(NodeRepliesReset, await client.CallAsync("RESET"));
            Assert.Equal(NoAuth, await client.CallAsync("GET", "k"));
            Assert.Equal(Reply.Ok, await client.CallAsync("AUTH", Password));
            Assert.Equal(Reply.NullBulk, await client.CallAsync("GET", "k"));
            Assert.Equal(Reply.FromBulk("default"), await client.CallAsync("ACL", "WHOAMI"));

            // RESET goes back to default, unauthenticated since it has a password.
            Assert.Equal(NodeRepliesReset, await client.CallAsync("RESET"));
            Assert.Equal(NoAuth, await client.CallAsync("GET", "k"));
        }

        // Nothing the unauthenticated clients sent reached the state: no user mallory, no key, no session.
        await using var admin = await LoginAsync(cluster, leader);
        Assert.Equal(Reply.FromArray([Reply.FromBulk("default")]), await admin.CallAsync("ACL", "USERS"));
        Assert.Equal(Reply.FromInteger(0), await admin.CallAsync("DBSIZE"));
    }

    private static readonly Reply NodeRepliesReset = Reply.Status("RESET");

    [Fact]
    public async Task Before_AUTH_a_request_may_hold_10_arguments_of_16_KB_as_in_Redis_after_it_anything_within_the_limits()
    {
        await using var cluster = await TestCluster.StartAsync(size: 1, settings: WithPassword());
        await cluster.WaitForLeaderAsync();

        await using (var stranger = await cluster.ConnectAsync(0))
        {
            Assert.Equal(Reply.Error("ERR Protocol error: unauthenticated multibulk length"), await stranger.CallAsync([.. Enumerable.Repeat("x", 11)]));
            await Assert.ThrowsAnyAsync<Exception>(() => stranger.CallAsync("PING"));
        }

        await using (var stranger = await cluster.ConnectAsync(0))
        {
            Assert.Equal(Reply.Error("ERR Protocol error: unauthenticated bulk length"), await stranger.CallAsync("AUTH", new string('p', 16 * 1024 + 1)));
            await Assert.ThrowsAnyAsync<Exception>(() => stranger.CallAsync("PING"));
        }

        await using var client = await cluster.ConnectAsync(0);
        Assert.Equal(NoAuth, await client.CallAsync(["MGET", .. Enumerable.Repeat("x", 9)]));
        Assert.Equal(WrongPass, await client.CallAsync("AUTH", new string('p', 16 * 1024)));
        Assert.Equal(Reply.Ok, await client.CallAsync("AUTH", Password));
        Assert.Equal(Reply.Ok, await client.CallAsync("SET", "big", new string('v', 100_000)));
        Assert.Equal(Reply.FromInteger(1), await client.CallAsync("DEL", "big", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"));
    }

    [Fact]
    public async Task HELLO_AUTH_logs_in_and_switches_protocol_in_one_step()
    {
        await using var cluster = await TestCluster.StartAsync(settings: WithPassword());
        await cluster.WaitForLeaderAsync();
        await using var client = await cluster.ConnectAsync(0);
        var wrong = await client.CallRespAsync("HELLO", "3", "AUTH", "default", "nope");
        Assert.Equal(WrongPass, wrong.ToReply());
        var hello = await client.CallRespAsync("HELLO", "3", "AUTH", "default", Password, "SETNAME", "app");
        Assert.Equal(RespReplyType.Map, hello.Type);
        Assert.Equal(14, hello.Items!.Count);
        Assert.Equal(Reply.FromBulk("app"), await client.CallAsync("CLIENT", "GETNAME"));
    }

    [Fact]
    public async Task A_user_created_through_one_node_logs_in_on_every_node_and_after_a_leader_change()
    {
        await using var cluster = await TestCluster.StartAsync(settings: WithPassword());
        var leader = await cluster.WaitForLeaderAsync();
        var follower = (leader + 1) % cluster.Size;
        await using (var admin = await LoginAsync(cluster, follower))
            Assert.Equal(Reply.Ok, await admin.CallAsync("ACL", "SETUSER", "alice", "on", ">alice-pw", "~lock:*", "+@all", "-@dangerous"));

        // At once on every node: a login refused by a node that has not applied the user yet is judged again after a
        // read barrier.
        for (var node = 0; node < cluster.Size; node++)
        {
            await using var alice = await LoginAsync(cluster, node, "alice", "alice-pw");
            Assert.Equal(Reply.FromBulk("alice"), await alice.CallAsync("ACL", "WHOAMI"));
            Assert.Equal(Reply.Ok, await alice.CallAsync("SET", $"lock:{node}", "token"));
        }

        await cluster.StopNodeAsync(leader);
        var newLeader = await cluster.WaitForLeaderAsync();
        await using (var alice = await LoginAsync(cluster, newLeader, "alice", "alice-pw"))
            Assert.Equal(Reply.FromBulk("token"), await alice.CallAsync("GET", $"lock:{leader}"));
        await cluster.StartNodeAsync(leader);
        await using (var alice = await LoginAsync(cluster, leader, "alice", "alice-pw"))
            Assert.Equal(Reply.FromBulk("token"), await alice.CallAsync("GET", $"lock:{newLeader}"));
    }

    [Fact]
    public async Task Users_survive_a_restart_from_a_snapshot_and_the_password_is_nowhere_on_disk()
    {
        await using var cluster = await TestCluster.StartAsync(snapshotEvery: 20, settings: WithPassword());
        var leader = await cluster.WaitForLeaderAsync();
        const string secret = "bob-very-secret-password-42";
        await using (var admin = await LoginAsync(cluster, leader))
        {
            Assert.Equal(Reply.Ok, await admin.CallAsync("ACL", "SETUSER", "bob", "on", ">" + secret, "allkeys", "+@read", "+@write", "-@dangerous"));
            for (var i = 0; i < 60; i++)
                Assert.Equal(Reply.Ok, await admin.CallAsync("SET", $"k{i}", "v"));
            var info = await admin.CallAsync("INFO", "everything");
            Assert.DoesNotContain(secret, Encoding.UTF8.GetString(info.Bulk!), StringComparison.Ordinal);
        }

        await cluster.WaitForConvergenceAsync();
        var restarted = (leader + 2) % cluster.Size;
        await cluster.StopNodeAsync(restarted);
        await cluster.StartNodeAsync(restarted);
        await using (var bob = await LoginAsync(cluster, restarted, "bob", secret))
        {
            Assert.Equal(Reply.FromBulk("v"), await bob.CallAsync("GET", "k1"));
            Assert.Equal(Reply.Error("NOPERM this user has no permissions to run the 'flushall' command"), await bob.CallAsync("FLUSHALL"));
        }

        // Neither the log, the snapshots nor anything else under a node's data directory holds the password.
        var needle = Encoding.UTF8.GetBytes(secret);
        for (var node = 0; node < cluster.Size; node++)
        {
            foreach (var file in Directory.EnumerateFiles(cluster.DataPath(node), "*", SearchOption.AllDirectories))
            {
                var bytes = await ReadSharedAsync(file);
                Assert.True(bytes.AsSpan().IndexOf(needle) < 0, $"{file} holds the password");
            }
        }

        await cluster.WaitForConvergenceAsync();
    }

    private static async Task<byte[]> ReadSharedAsync(string path)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer);
        return buffer.ToArray();
    }

    [Fact]
    public async Task Key_patterns_and_categories_hold_for_commands_and_inside_scripts_on_every_node()
    {
        await using var cluster = await TestCluster.StartAsync(settings: WithPassword());
        var leader = await cluster.WaitForLeaderAsync();
        await using (var admin = await LoginAsync(cluster, leader))
            Assert.Equal(Reply.Ok, await admin.CallAsync("ACL", "SETUSER", "locker", "on", ">pw", "~lock:*", "+@all", "-@dangerous"));

        var noKey = Reply.Error("NOPERM this user has no permissions to access one of the keys used as arguments");
        for (var node = 0; node < cluster.Size; node++)
        {
            await using var locker = await LoginAsync(cluster, node, "locker", "pw");
            Assert.Equal(Reply.Ok, await locker.CallAsync("SET", "lock:x", "t", "PX", "60000"));
            Assert.Equal(noKey, await locker.CallAsync("SET", "other:x", "t"));
            Assert.Equal(noKey, await locker.CallAsync("GET", "other:x"));
            Assert.Equal(Reply.Error("NOPERM this user has no permissions to run the 'flushall' command"), await locker.CallAsync("FLUSHALL"));

            // Inside EVAL the script's own calls are checked at apply, on every replica alike.
            Assert.Equal(Reply.Ok, await locker.CallAsync("EVAL", "return redis.call('set', KEYS[1], 'v')", "1", "lock:y"));
            var denied = await locker.CallAsync("EVAL", "return redis.call('set', 'other:y', 'v')", "1", "lock:y");
            Assert.Equal(ReplyKind.Error, denied.Kind);
            Assert.StartsWith("ERR The user executing the script can't access at least one of the keys", denied.Text, StringComparison.Ordinal);
            var flush = await locker.CallAsync("EVAL", "return redis.call('flushall')", "0");
            Assert.StartsWith("ERR The user executing the script can't run this command or subcommand", flush.Text, StringComparison.Ordinal);
            Assert.Equal(Reply.FromInteger(0), await locker.CallAsync("EVAL", "return redis.acl_check_cmd('set', 'other:z', 'v') and 1 or 0", "0"));
            Assert.Equal(Reply.FromInteger(1), await locker.CallAsync("EVAL", "return redis.acl_check_cmd('set', 'lock:z', 'v') and 1 or 0", "0"));

            // A denied command in MULTI fails the transaction.
            Assert.Equal(Reply.Ok, await locker.CallAsync("MULTI"));
            Assert.Equal(noKey, await locker.CallAsync("SET", "other:x", "t"));
            Assert.Equal(Reply.Error("EXECABORT Transaction discarded because of previous errors."), await locker.CallAsync("EXEC"));
        }

        await using (var admin = await LoginAsync(cluster, leader))
        {
            Assert.Equal(Reply.FromInteger(0), await admin.CallAsync("EXISTS", "other:x", "other:y"));
            Assert.Equal(Reply.FromInteger(2), await admin.CallAsync("EXISTS", "lock:x", "lock:y"));
        }

        await cluster.WaitForConvergenceAsync();
    }

    [Fact]
    public async Task A_session_belongs_to_the_user_who_opened_it()
    {
        await using var cluster = await TestCluster.StartAsync(settings: WithPassword());
        var leader = await cluster.WaitForLeaderAsync();
        await using (var admin = await LoginAsync(cluster, leader))
        {
            Assert.Equal(Reply.Ok, await admin.CallAsync("ACL", "SETUSER", "alice", "on", ">a", "allkeys", "+@all"));
            Assert.Equal(Reply.Ok, await admin.CallAsync("ACL", "SETUSER", "bob", "on", ">b", "allkeys", "+@all"));
        }

        await using var alice = await LoginAsync(cluster, (leader + 1) % cluster.Size, "alice", "a");
        var session = await alice.CallAsync("SESSION.OPEN", "60000");
        Assert.Equal(ReplyKind.Integer, session.Kind);
        var id = session.Integer.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(Reply.Ok, await alice.CallAsync("SESSION.EXEC", id, "1", "1", "SET", "s:key", "alice"));

        await using var bob = await LoginAsync(cluster, leader, "bob", "b");
        await using var stranger = await cluster.ConnectAsync(leader);
        var unknown = await bob.CallAsync("SESSION.EXEC", "123456789", "1", "1", "SET", "s:key", "bob");
        Assert.True(unknown.Kind == ReplyKind.Error, unknown.ToString());

        // Another user's session answers exactly as one that does not exist, for EXEC, KEEPALIVE and CLOSE.
        Assert.Equal(unknown.Text!.Replace("123456789", id, StringComparison.Ordinal), (await bob.CallAsync("SESSION.EXEC", id, "2", "1", "SET", "s:key", "bob")).Text);
        Assert.Equal(await bob.CallAsync("SESSION.KEEPALIVE", "123456789"), await bob.CallAsync("SESSION.KEEPALIVE", id));
        Assert.Equal(await bob.CallAsync("SESSION.CLOSE", "123456789"), await bob.CallAsync("SESSION.CLOSE", id));
        Assert.Equal(Reply.FromBulk("alice"), await bob.CallAsync("GET", "s:key"));
        Assert.Equal(Reply.Ok, await alice.CallAsync("SESSION.EXEC", id, "2", "2", "SET", "s:key", "alice2"));
        Assert.Equal(Reply.FromInteger(1), await alice.CallAsync("SESSION.CLOSE", id));
    }

    [Fact]
    public async Task CONFIG_SET_requirepass_and_ACL_DELUSER_take_effect_on_every_node()
    {
        await using var cluster = await TestCluster.StartAsync(settings: WithPassword());
        var leader = await cluster.WaitForLeaderAsync();
        var follower = (leader + 1) % cluster.Size;
        await using var admin = await LoginAsync(cluster, follower);
        Assert.Equal(Reply.Ok, await admin.CallAsync("ACL", "SETUSER", "carol", "on", ">c", "allkeys", "+@all"));
        await using var carol = await LoginAsync(cluster, leader, "carol", "c");
        Assert.Contains("user=carol", Encoding.UTF8.GetString((await carol.CallAsync("CLIENT", "INFO")).Bulk!), StringComparison.Ordinal);

        Assert.Equal(Reply.Ok, await admin.CallAsync("CONFIG", "SET", "requirepass", "new-pass"));
        Assert.Equal(Reply.FromArray([Reply.FromBulk("requirepass"), Reply.FromBulk("")]), await admin.CallAsync("CONFIG", "GET", "requirepass"));
        for (var node = 0; node < cluster.Size; node++)
        {
            await using var client = await cluster.ConnectAsync(node);
            Assert.Equal(WrongPass, await client.CallAsync("AUTH", Password));
            Assert.Equal(Reply.Ok, await client.CallAsync("AUTH", "new-pass"));
        }

        // The connection that was logged in stays logged in (Redis's rule); a deleted user's connections are closed.
        Assert.Equal(Reply.NullBulk, await admin.CallAsync("GET", "nothing"));
        Assert.Equal(Reply.FromInteger(1), await admin.CallAsync("ACL", "DELUSER", "carol"));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        Reply last;
        do
        {
            last = await carol.CallAsync("PING");
        }
        while (last.Kind != ReplyKind.Error && DateTime.UtcNow < deadline);
        Assert.Equal(ReplyKind.Error, last.Kind);
        await Assert.ThrowsAnyAsync<Exception>(() => carol.CallAsync("PING"));
    }
}
