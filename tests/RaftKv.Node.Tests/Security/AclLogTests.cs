using RaftKv.Node.Tests.Cluster;
using RaftKv.StateMachine;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Security;

/// <summary>
/// <c>ACL LOG</c>: this node's refusals — failed AUTH, commands and keys refused before routing — with Redis 7.0's fields,
/// grouped as Redis groups them, newest first, bounded by <c>acllog-max-len</c>.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class AclLogTests
{
    private static Dictionary<string, string> Fields(Reply entry)
    {
        var items = entry.Items!;
        var fields = new Dictionary<string, string>();
        for (var i = 0; i + 1 < items.Count; i += 2)
            fields[System.Text.Encoding.UTF8.GetString(items[i].Bulk!)] = items[i + 1].Kind == ReplyKind.Integer
                ? items[i + 1].Integer.ToString(System.Globalization.CultureInfo.InvariantCulture)
                : System.Text.Encoding.UTF8.GetString(items[i + 1].Bulk!);
        return fields;
    }

    [Fact]
    public async Task Failed_AUTH_and_refused_commands_and_keys_are_logged_grouped_newest_first_and_RESET_empties_the_log()
    {
        await using var cluster = await TestCluster.StartAsync(size: 1, settings: new Dictionary<string, string?>
        {
            ["RaftKv:Security:RequirePass"] = "admin",
            ["RaftKv:Security:AclLogMaxLength"] = "3",
        });
        await cluster.WaitForLeaderAsync();
        await using var admin = await cluster.ConnectAsync(0);
        Assert.Equal(Reply.Ok, await admin.CallAsync("AUTH", "admin"));
        Assert.Equal(Reply.Ok, await admin.CallAsync("ACL", "SETUSER", "app", "on", ">app", "~lock:*", "+@all", "-@dangerous", "-config|set"));

        await using var app = await cluster.ConnectAsync(0);
        Assert.Equal(Reply.Error("WRONGPASS invalid username-password pair or user is disabled."), await app.CallAsync("AUTH", "app", "wrong"));
        Assert.Equal(Reply.Ok, await app.CallAsync("AUTH", "app", "app"));
        Assert.Equal(ReplyKind.Error, (await app.CallAsync("GET", "other:1")).Kind);
        Assert.Equal(ReplyKind.Error, (await app.CallAsync("GET", "other:1")).Kind);
        Assert.Equal(ReplyKind.Error, (await app.CallAsync("CONFIG", "SET", "maxmemory", "0")).Kind);

        var log = await admin.CallAsync("ACL", "LOG");
        Assert.Equal(3, log.Items!.Count);
        var newest = Fields(log.Items[0]);
        Assert.Equal(("1", "command", "toplevel", "config|set", "app"), (newest["count"], newest["reason"], newest["context"], newest["object"], newest["username"]));
        Assert.Contains("user=app", newest["client-info"], StringComparison.Ordinal);
        Assert.True(double.Parse(newest["age-seconds"], System.Globalization.CultureInfo.InvariantCulture) >= 0);
        var key = Fields(log.Items[1]);
        Assert.Equal(("2", "key", "other:1"), (key["count"], key["reason"], key["object"]));
        var auth = Fields(log.Items[2]);
        Assert.Equal(("1", "auth", "AUTH", "app"), (auth["count"], auth["reason"], auth["object"], auth["username"]));

        // Inside MULTI the context is multi; the log keeps acllog-max-len entries, dropping the oldest.
        Assert.Equal(Reply.Ok, await app.CallAsync("MULTI"));
        Assert.Equal(ReplyKind.Error, (await app.CallAsync("FLUSHALL")).Kind);
        Assert.Equal(ReplyKind.Error, (await app.CallAsync("EXEC")).Kind);
        log = await admin.CallAsync("ACL", "LOG");
        Assert.Equal(3, log.Items!.Count);
        Assert.Equal(("flushall", "multi"), (Fields(log.Items[0])["object"], Fields(log.Items[0])["context"]));
        Assert.DoesNotContain(log.Items, static e => Fields(e)["reason"] == "auth");

        Assert.Single((await admin.CallAsync("ACL", "LOG", "1")).Items!);
        Assert.Equal(Reply.EmptyArray, await admin.CallAsync("ACL", "LOG", "0"));
        Assert.Equal(Reply.Error("ERR value is not an integer or out of range"), await admin.CallAsync("ACL", "LOG", "x"));
        Assert.Equal(Reply.Error("ERR unknown subcommand or wrong number of arguments for 'LOG'. Try ACL HELP."), await admin.CallAsync("ACL", "LOG", "1", "2"));
        Assert.Equal(Reply.Ok, await admin.CallAsync("ACL", "LOG", "RESET"));
        Assert.Equal(Reply.EmptyArray, await admin.CallAsync("ACL", "LOG"));
    }
}
