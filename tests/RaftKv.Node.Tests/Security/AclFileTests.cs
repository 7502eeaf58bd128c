using System.Text;
using RaftKv.Node.Tests.Cluster;
using RaftKv.StateMachine;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Security;

/// <summary>
/// The configured users (<c>RaftKv:Security:AclFile</c>, <c>RequirePassFile</c>) as a cluster's initial users, and the
/// node's own ACL subcommands: <c>SAVE</c> and <c>LOAD</c> of that file, <c>GENPASS</c>.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class AclFileTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("raftkv-acl-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(directory, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public async Task The_ACL_file_gives_the_initial_users_SAVE_writes_hashes_and_LOAD_replaces_every_user()
    {
        var file = Write("users.acl", "user default on >admin-pw ~* &* +@all\nuser alice on >alice-pw ~lock:* +@all -@dangerous\n");
        await using var cluster = await TestCluster.StartAsync(size: 1, settings: new Dictionary<string, string?> { ["RaftKv:Security:AclFile"] = file });
        await cluster.WaitForLeaderAsync();

        await using var admin = await cluster.ConnectAsync(0);
        Assert.Equal(Reply.Error("NOAUTH Authentication required."), await admin.CallAsync("GET", "k"));
        Assert.Equal(Reply.Ok, await admin.CallAsync("AUTH", "admin-pw"));
        await using (var alice = await cluster.ConnectAsync(0))
        {
            Assert.Equal(Reply.Ok, await alice.CallAsync("AUTH", "alice", "alice-pw"));
            Assert.Equal(Reply.Error("NOPERM this user has no permissions to run the 'flushall' command"), await alice.CallAsync("FLUSHALL"));
        }

        // SAVE writes the users as ACL LIST shows them: hashes, never the passwords.
        Assert.Equal(Reply.Ok, await admin.CallAsync("ACL", "SETUSER", "bob", "on", ">bob-pw", "allkeys", "+@read"));
        Assert.Equal(Reply.Ok, await admin.CallAsync("ACL", "SAVE"));
        var saved = await File.ReadAllTextAsync(file);
        Assert.Contains("user bob on #", saved, StringComparison.Ordinal);
        Assert.DoesNotContain("bob-pw", saved, StringComparison.Ordinal);
        Assert.DoesNotContain("admin-pw", saved, StringComparison.Ordinal);
        Assert.True(saved.Split("\n", StringSplitOptions.RemoveEmptyEntries).Length == 3, saved);

        // LOAD replaces every user with the file's: bob, deleted since, is back; carol, added since, is gone.
        Assert.Equal(Reply.FromInteger(1), await admin.CallAsync("ACL", "DELUSER", "bob"));
        Assert.Equal(Reply.Ok, await admin.CallAsync("ACL", "SETUSER", "carol", "on", "nopass"));
        Assert.Equal(Reply.Ok, await admin.CallAsync("ACL", "LOAD"));
        Assert.Equal(Reply.FromArray([Reply.FromBulk("alice"), Reply.FromBulk("bob"), Reply.FromBulk("default")]), await admin.CallAsync("ACL", "USERS"));
        await using (var bob = await cluster.ConnectAsync(0))
            Assert.Equal(Reply.Ok, await bob.CallAsync("AUTH", "bob", "bob-pw"));

        // A file with an error changes nothing and says where it is.
        await File.WriteAllTextAsync(file, "user dave on >x +@all\nnot a user line\n");
        var refused = await admin.CallAsync("ACL", "LOAD");
        Assert.Equal(ReplyKind.Error, refused.Kind);
        Assert.Contains(":2", refused.Text, StringComparison.Ordinal);
        Assert.Equal(3, (await admin.CallAsync("ACL", "USERS")).Items!.Count);

        // The users are the cluster's now: a restart does not load the file again over them.
        await File.WriteAllTextAsync(file, "user default on nopass ~* +@all\n");
        await cluster.StopNodeAsync(0);
        await cluster.StartNodeAsync(0);
        await cluster.WaitForLeaderAsync();
        await using var again = await cluster.ConnectAsync(0);
        Assert.Equal(Reply.Error("NOAUTH Authentication required."), await again.CallAsync("GET", "k"));
        Assert.Equal(Reply.Ok, await again.CallAsync("AUTH", "admin-pw"));
    }

    [Fact]
    public async Task A_wrong_ACL_file_or_an_unreadable_password_file_stops_the_start_with_the_reason()
    {
        var bad = Write("bad.acl", "user eve on >x +nosuchcommand\n");
        var thrown = await Assert.ThrowsAsync<NodeStartupException>(
            () => TestCluster.StartAsync(size: 1, settings: new Dictionary<string, string?> { ["RaftKv:Security:AclFile"] = bad }));
        Assert.Contains("bad.acl:1", thrown.Message, StringComparison.Ordinal);

        thrown = await Assert.ThrowsAsync<NodeStartupException>(
            () => TestCluster.StartAsync(size: 1, settings: new Dictionary<string, string?> { ["RaftKv:Security:RequirePassFile"] = Path.Combine(directory, "missing") }));
        Assert.Contains("RequirePassFile", thrown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RequirePassFile_sets_the_default_password_and_GENPASS_makes_random_hex()
    {
        var file = Write("pass", "  from-a-file \n");
        await using var cluster = await TestCluster.StartAsync(size: 1, settings: new Dictionary<string, string?> { ["RaftKv:Security:RequirePassFile"] = file });
        await cluster.WaitForLeaderAsync();
        await using var client = await cluster.ConnectAsync(0);
        Assert.Equal(Reply.Error("WRONGPASS invalid username-password pair or user is disabled."), await client.CallAsync("AUTH", " from-a-file "));
        Assert.Equal(Reply.Ok, await client.CallAsync("AUTH", "from-a-file"));

        var first = Encoding.ASCII.GetString((await client.CallAsync("ACL", "GENPASS")).Bulk!);
        var second = Encoding.ASCII.GetString((await client.CallAsync("ACL", "GENPASS")).Bulk!);
        Assert.Matches("^[0-9a-f]{64}$", first);
        Assert.NotEqual(first, second);
        Assert.Matches("^[0-9a-f]{2}$", Encoding.ASCII.GetString((await client.CallAsync("ACL", "GENPASS", "5")).Bulk!));
        Assert.Equal(
            Reply.Error("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096"),
            await client.CallAsync("ACL", "GENPASS", "0"));
    }
}
