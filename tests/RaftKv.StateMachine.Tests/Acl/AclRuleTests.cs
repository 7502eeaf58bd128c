using RaftKv.StateMachine.Acl;
using RaftKv.StateMachine.Commands;
using static RaftKv.StateMachine.Tests.Acl.AclDriver;

namespace RaftKv.StateMachine.Tests.Acl;

/// <summary>
/// ACL SETUSER's grammar, atomicity and the descriptions ACL LIST / GETUSER print. Expected texts are redis-server
/// 7.0.15's, captured with the same commands (single-command differences are in table order where Redis uses its hash
/// table's order: noted where it matters).
/// </summary>
public sealed class AclRuleTests
{
    private const string P1Hash = "f64551fcd6f07823cb87971cfb91446425da18286b3ab1ef935e0cbd7a69f68a"; // SHA-256("p1")

    private static string ListLine(AclDriver redis, string user)
        => Lines(redis.Admin("ACL", "LIST")).Single(line => line.StartsWith("user " + user + " ", StringComparison.Ordinal));

    [Fact]
    public void Default_user_is_Redis_s()
    {
        var redis = new AclDriver();
        Assert.Equal(["user default on nopass ~* &* +@all"], Lines(redis.Admin("ACL", "LIST")));
        Assert.False(redis.Store.Acl.Initialized);
        Assert.Equal(0, redis.Store.Acl.Version);
        Assert.True(redis.Store.Acl.Default.IsUnrestricted);
    }

    [Fact]
    public void Getuser_has_Redis_s_shape()
    {
        var redis = new AclDriver();
        Assert.Equal(Reply.Ok, redis.Admin("ACL", "SETUSER", "u1", "on", ">p1", "~lock:*", "+@all", "-@dangerous"));
        var reply = redis.Admin("ACL", "GETUSER", "u1");
        Assert.Equal(ReplyKind.Map, reply.Kind);
        var items = reply.Items!;
        Assert.Equal(12, items.Count);
        Assert.Equal(["flags", "passwords", "commands", "keys", "channels", "selectors"], items.Where((_, i) => i % 2 == 0).Select(Text));
        Assert.Equal(["on"], Lines(items[1]));
        Assert.Equal([P1Hash], Lines(items[3]));
        Assert.Equal("+@all -@dangerous", Text(items[5]));
        Assert.Equal("~lock:*", Text(items[7]));
        Assert.Equal("", Text(items[9]));
        Assert.Equal(Reply.EmptyArray, items[11]);
        Assert.Equal($"user u1 on #{P1Hash} ~lock:* resetchannels +@all -@dangerous", ListLine(redis, "u1"));

        var @default = redis.Admin("ACL", "GETUSER", "default").Items!;
        Assert.Equal(["on", "nopass"], Lines(@default[1]));
        Assert.Equal(["+@all", "~*", "&*"], [Text(@default[5]), Text(@default[7]), Text(@default[9])]);
        Assert.Equal(Reply.NullBulk, redis.Admin("ACL", "GETUSER", "nosuch"));
    }

    [Theory]
    [InlineData("bogus", "Syntax error")]
    [InlineData("+nosuch", "Unknown command or category name in ACL")]
    [InlineData("+@nosuch", "Unknown command or category name in ACL")]
    [InlineData("-@nosuch", "Unknown command or category name in ACL")]
    [InlineData("+config|nosuch", "Unknown command or category name in ACL")]
    [InlineData("+get|x|y", "Unknown command or category name in ACL")]
    [InlineData("-get|x", "Unknown command or category name in ACL")]
    [InlineData("+config|get|x", "Allowing first-arg of a subcommand is not supported")]
    [InlineData("+select|", "Syntax error")]
    [InlineData("#abc", "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters")]
    [InlineData("!abc", "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters")]
    [InlineData("%X~a", "Syntax error")]
    [InlineData("%~a", "Syntax error")]
    [InlineData("(+get ~x)", "Selectors are not supported by RaftKv")]
    public void Invalid_rules_answer_Redis_s_errors_at_parse(string rule, string reason)
    {
        var parsed = Redis.Parse("ACL", "SETUSER", "u2", "on", rule);
        Assert.Equal(ParseOutcome.Error, parsed.Outcome);
        Assert.Equal($"ERR Error in ACL SETUSER modifier '{rule}': {reason}", parsed.Error!.Text);
    }

    [Fact]
    public void State_dependent_errors_are_answered_by_apply_and_change_nothing()
    {
        var redis = new AclDriver();
        Assert.Equal(Reply.Ok, redis.Admin("ACL", "SETUSER", "u", "on", "allkeys", ">a"));
        var before = ListLine(redis, "u");
        var version = redis.Store.Acl.Version;

        // A pattern after allkeys, and removing a password the user lacks: both rules come after valid ones.
        Assert.Equal(
            "ERR Error in ACL SETUSER modifier '~a': Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            redis.Admin("ACL", "SETUSER", "u", "+get", "~a").Text);
        Assert.Equal(
            "ERR Error in ACL SETUSER modifier '!" + Hex("nosuch") + "': The password you are trying to remove from the user does not exist",
            redis.Admin("ACL", "SETUSER", "u", "off", "<nosuch").Text);
        Assert.Equal(before, ListLine(redis, "u"));
        Assert.Equal(version, redis.Store.Acl.Version);

        // Parse-time errors never reach the log either.
        var log = redis.Log.Count;
        Assert.StartsWith("ERR Error in ACL SETUSER modifier '&a'", redis.Admin("ACL", "SETUSER", "u", "allchannels", "&a").Text);
        Assert.Equal(log, redis.Log.Count);
    }

    [Fact]
    public void Channel_pattern_after_allchannels_is_refused()
    {
        var parsed = Redis.Parse("ACL", "SETUSER", "u4", "allchannels", "&a");
        Assert.Equal(
            "ERR Error in ACL SETUSER modifier '&a': Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            parsed.Error!.Text);
    }

    [Theory]
    [InlineData(new[] { "+get|x", "+config|get", "-config|get", "+select|0", "%R~", "%RW" }, "user u off ~ resetchannels -@all +get|x +select|0")]
    [InlineData(new[] { "~a", "allkeys" }, "user u off ~* resetchannels -@all")]
    [InlineData(new[] { "&a", "allchannels" }, "user u off &* -@all")]
    [InlineData(new[] { "on", "nopass", "~x", "+get", "reset" }, "user u off sanitize-payload resetchannels -@all")]
    [InlineData(new[] { "+@read", "-get", "+set", "%R~r:*", "%W~w:*", "%RW~b:*", "&ch*", "sanitize-payload" },
        "user u off sanitize-payload %R~r:* %W~w:* ~b:* resetchannels &ch* -@all +@read -get +set")]
    [InlineData(new[] { "nocommands", "+config|get" }, "user u off resetchannels -@all +config|get")]
    [InlineData(new[] { "nocommands", "+config|get", "+config" }, "user u off resetchannels -@all +config")]
    [InlineData(new[] { "nocommands", "+config", "-config|set" }, "user u off resetchannels -@all +config -config|set")]
    [InlineData(new[] { "allcommands", "-@all", "+@read", "-@read" }, "user u off resetchannels -@all")]
    [InlineData(new[] { "resetpass", ">a", ">b", "<a", "nopass" }, "user u off nopass resetchannels -@all")]
    [InlineData(new[] { "off", "resetkeys", "resetchannels", "~x", "%R~y", "allkeys", "resetkeys" }, "user u off resetchannels -@all")]
    [InlineData(new[] { "+@all", "-@dangerous" }, "user u off resetchannels +@all -@dangerous")]
    [InlineData(new[] { "ON", "NoPass", "AllKeys", "AllChannels", "AllCommands" }, "user u on nopass ~* &* +@all")]
    [InlineData(new[] { "skip-sanitize-payload", "%W~a", "%R~a" }, "user u off skip-sanitize-payload ~a resetchannels -@all")]
    public void Descriptions_match_redis_server(string[] rules, string expected)
    {
        var redis = new AclDriver();
        Assert.Equal(Reply.Ok, redis.Admin(["ACL", "SETUSER", "u", .. rules]));
        Assert.Equal(expected, ListLine(redis, "u"));
    }

    [Fact]
    public void Single_command_differences_follow_the_table_order()
    {
        // redis-server 7.0.15 printed "+@all -@admin -@string -info -restore-asking -flushdb -sort_ro -sort -swapdb -keys
        // -restore -migrate": the same categories; the single commands are ours only, in table order, not its hash order.
        var redis = new AclDriver();
        Assert.Equal(Reply.Ok, redis.Admin("ACL", "SETUSER", "u", "+@all", "-@dangerous", "+flushall", "-get", "-@string"));
        Assert.Equal("user u off resetchannels +@all -@admin -@string -keys -flushdb -swapdb -lock.list -info", ListLine(redis, "u"));
    }

    [Fact]
    public void Users_are_listed_in_byte_order()
    {
        var redis = new AclDriver();
        foreach (var name in new[] { "u2", "u10", "rw", "u1" })
            redis.Admin("ACL", "SETUSER", name);
        Assert.Equal(["default", "rw", "u1", "u10", "u2"], Lines(redis.Admin("ACL", "USERS")));
    }

    [Fact]
    public void Deluser_refuses_default_and_counts_what_existed()
    {
        var redis = new AclDriver();
        redis.Admin("ACL", "SETUSER", "u1");
        Assert.Equal("ERR The 'default' user cannot be removed", redis.Admin("ACL", "DELUSER", "u1", "default").Text);
        Assert.NotNull(redis.Store.Acl.Find("u1"));
        Assert.Equal(Reply.FromInteger(1), redis.Admin("ACL", "DELUSER", "nosuch", "u1"));
        Assert.Null(redis.Store.Acl.Find("u1"));
        Assert.True(redis.Store.Acl.Initialized);
    }

    [Fact]
    public void Acl_syntax_errors_are_Redis_s()
    {
        Assert.Equal("ERR wrong number of arguments for 'acl|setuser' command", Redis.Parse("ACL", "SETUSER").Error!.Text);
        Assert.Equal("ERR wrong number of arguments for 'acl|getuser' command", Redis.Parse("ACL", "GETUSER", "a", "b").Error!.Text);
        Assert.Equal("ERR wrong number of arguments for 'acl|list' command", Redis.Parse("ACL", "LIST", "x").Error!.Text);
        Assert.Equal("ERR unknown subcommand or wrong number of arguments for 'CAT'. Try ACL HELP.", Redis.Parse("ACL", "CAT", "a", "b").Error!.Text);
        Assert.Equal("ERR unknown subcommand 'nosuch'. Try ACL HELP.", Redis.Parse("ACL", "nosuch").Error!.Text);
        Assert.Equal("ERR Usernames can't contain spaces or null characters", Redis.Parse("ACL", "SETUSER", "a b").Error!.Text);
        Assert.Equal("ERR Usernames can't contain spaces or null characters", Redis.Parse("ACL", "SETUSER", "ab\0").Error!.Text);
        Assert.Equal("ERR ACL user names are limited to 1024 bytes in RaftKv", Redis.Parse("ACL", "SETUSER", new string('u', 1025)).Error!.Text);
        Assert.Equal(ParseOutcome.Write, Redis.Parse("ACL", "SETUSER", new string('u', 1024)).Outcome);

        // Apply refuses the same name from the log (bytes the parser would not make), alike on every replica.
        var tooLong = new AclSetUserCommand { Name = System.Text.Encoding.ASCII.GetBytes(new string('u', 1025)), Rules = [] };
        Assert.Contains("longer than 1024 bytes", tooLong.Validate()!.Text, StringComparison.Ordinal);
        foreach (var own in new[] { "WHOAMI", "LOG", "SAVE", "LOAD", "GENPASS", "HELP" })
            Assert.Equal(ParseOutcome.Unknown, Redis.Parse("ACL", own).Outcome);
    }

    [Fact]
    public void Cat_lists_categories_and_their_commands()
    {
        var redis = new AclDriver();
        Assert.Equal(
            ["keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection", "transaction", "scripting"],
            Lines(redis.Admin("ACL", "CAT")));
        Assert.Equal("ERR Unknown category 'nosuch'", redis.Admin("ACL", "CAT", "nosuch").Text);
        var dangerous = Lines(redis.Admin("ACL", "CAT", "DANGEROUS"));
        Assert.Equal("keys", dangerous[0]);
        Assert.Contains("flushall", dangerous);
        Assert.Contains("config|set", dangerous);
        Assert.Contains("acl|setuser", dangerous);
        Assert.DoesNotContain("config", dangerous);
        Assert.DoesNotContain("get", dangerous);
        var connection = Lines(redis.Admin("ACL", "CAT", "connection"));
        Assert.Contains("auth", connection);
        Assert.Contains("command|info", connection);
        Assert.Contains("client|setname", connection);
    }

    [Fact]
    public void Every_command_has_categories_and_subcommands_are_named_after_their_parent()
    {
        foreach (var spec in CommandTable.All)
        {
            Assert.NotEqual(AclCategories.None, spec.Categories);
            Assert.True((spec.Categories & (AclCategories.Fast | AclCategories.Slow)) != 0, spec.Name);
            foreach (var sub in spec.Subcommands)
            {
                Assert.StartsWith(spec.Name + "|", sub.Name, StringComparison.Ordinal);
                Assert.NotEqual(AclCategories.None, sub.Categories);
            }

            if (spec.FirstKey > 0)
                Assert.NotEmpty(spec.KeyAccess);
        }

        Assert.Equal(CommandTable.All.Count, CommandTable.All.Select(static s => s.Name).Distinct().Count());
        Assert.Same(CommandTable.Find("get"u8), CommandParser.Find("get"u8));
        Assert.NotNull(CommandTable.Find("CONFIG"u8));
        Assert.Equal("config|get", CommandTable.Resolve([.. Args("config", "GET", "x").Select(static a => (ReadOnlyMemory<byte>)a)])!.Name);
    }

    [Fact]
    public void Clear_passwords_never_reach_the_log()
    {
        var parsed = Redis.Parse("ACL", "SETUSER", "u", "on", ">hunter2-secret", "<other-secret");
        var command = Assert.IsType<AclSetUserCommand>(parsed.Write);
        var bytes = MessagePack.MessagePackSerializer.Serialize<WriteCommand>(command, KeyValueStore.SerializerOptions);
        Assert.Equal(-1, bytes.AsSpan().IndexOf("hunter2-secret"u8));
        Assert.Equal(-1, bytes.AsSpan().IndexOf("other-secret"u8));
        Assert.Equal(["on", "#" + Hex("hunter2-secret"), "!" + Hex("other-secret")], command.Rules.Select(static r => System.Text.Encoding.ASCII.GetString(r)));

        // A log entry carrying one anyway is refused, the same on every replica.
        var forged = new AclSetUserCommand { Name = "u"u8.ToArray(), Rules = [">clear"u8.ToArray()] };
        Assert.Equal("ERR invalid command: acl|setuser: Rules holds a clear password", forged.Validate()!.Text);
        var loaded = AclFile.Parse("user u on >file-secret ~* +@all\n");
        var load = loaded.ToLoadCommand(onlyIfUninitialized: true);
        Assert.Equal(-1, MessagePack.MessagePackSerializer.Serialize<WriteCommand>(load, KeyValueStore.SerializerOptions).AsSpan().IndexOf("file-secret"u8));
    }

    [Fact]
    public void Passwords_check_in_constant_time_against_hashes_only()
    {
        var redis = new AclDriver();
        redis.Admin("ACL", "SETUSER", "u", "on", ">p1", ">p2");
        var user = redis.Store.Acl.Find("u")!;
        Assert.True(user.CheckPassword("p1"u8));
        Assert.True(user.CheckPassword("p2"u8));
        Assert.False(user.CheckPassword("p3"u8));
        Assert.All(user.PasswordHashes, static h => Assert.Equal(32, h.Length));
        redis.Admin("ACL", "SETUSER", "u", "off");
        Assert.False(redis.Store.Acl.Find("u")!.CheckPassword("p1"u8));
        Assert.True(redis.Store.Acl.Default.CheckPassword("anything"u8));
    }

    [Fact]
    public void Users_are_capped()
    {
        var redis = new AclDriver();
        var users = Enumerable.Range(0, AclTable.MaxUsers - 1)
            .Select(i => new AclUserRules { Name = System.Text.Encoding.ASCII.GetBytes($"u{i}"), Rules = [] }).ToArray();
        Assert.Equal(Reply.Ok, redis.Apply("default", new AclLoadCommand { Users = users }));
        Assert.Equal(AclTable.MaxUsers, redis.Store.Acl.Count);
        Assert.Equal("ERR ACL users are limited to 10000 in RaftKv", redis.Admin("ACL", "SETUSER", "one-more").Text);
        Assert.Equal(Reply.Ok, redis.Admin("ACL", "SETUSER", "u1", "on"));
        Assert.Equal(redis.Store.ComputeUsedMemory(), redis.Store.UsedMemory);
    }

    internal static string Hex(string password)
        => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(password)));
}
