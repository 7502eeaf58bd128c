using RaftKv.StateMachine.Acl;
using RaftKv.StateMachine.Commands;
using static RaftKv.StateMachine.Tests.Acl.AclDriver;

namespace RaftKv.StateMachine.Tests.Acl;

/// <summary>AclCheck: commands, categories, subcommands, keys with %R/%W, script keys, SESSION.EXEC's wrapped command.</summary>
public sealed class AclCheckTests
{
    private const string CommandDenied = "NOPERM this user has no permissions to run the '{0}' command";
    private const string KeyDenied = "NOPERM this user has no permissions to access one of the keys used as arguments";

    private static AclDriver With(params string[] rules)
    {
        var redis = new AclDriver();
        Assert.Equal(Reply.Ok, redis.Admin(["ACL", "SETUSER", "u", "on", ">pw", .. rules]));
        return redis;
    }

    private static string? Check(AclDriver redis, params string[] argv)
        => AclCheck.Check(redis.Store.Acl.Find("u")!, [.. Args(argv).Select(static a => (ReadOnlyMemory<byte>)a)])?.Text;

    [Fact]
    public void Categories_and_commands_decide_what_runs()
    {
        var redis = With("~*", "+@all", "-@dangerous");
        Assert.Equal(string.Format(null, CommandDenied, "flushall"), Check(redis, "flushall"));
        Assert.Equal(string.Format(null, CommandDenied, "config|get"), Check(redis, "config", "get", "x"));
        Assert.Equal(string.Format(null, CommandDenied, "keys"), Check(redis, "KEYS", "*"));
        Assert.Null(Check(redis, "set", "k", "v"));
        Assert.Null(Check(redis, "config", "help"));
        Assert.Null(Check(redis, "nosuchcommand")); // unknown: the caller answers it
        Assert.Null(Check(redis, "auth", "u", "pw")); // no_auth commands run whatever the rules say

        var readOnly = With("~*", "+@read", "+@connection");
        Assert.Null(Check(readOnly, "get", "k"));
        Assert.Null(Check(readOnly, "ping"));
        Assert.Null(Check(readOnly, "command", "info", "get")); // a command with subcommands takes them along
        Assert.Equal(string.Format(null, CommandDenied, "set"), Check(readOnly, "set", "k", "v"));
        Assert.Null(Check(readOnly, "client", "list")); // client|list is @connection too
        Assert.Equal(string.Format(null, CommandDenied, "client|kill"), Check(With("~*", "+@read", "+client|list"), "client", "kill", "x"));
    }

    [Fact]
    public void First_argument_rules_allow_one_argument()
    {
        var redis = With("~*", "-@all", "+select|0");
        Assert.Null(Check(redis, "select", "0"));
        Assert.Equal(string.Format(null, CommandDenied, "select"), Check(redis, "select", "1"));
        Assert.Equal(string.Format(null, CommandDenied, "select"), Check(redis, "select"));
    }

    [Fact]
    public void Key_patterns_need_the_access_each_key_gets()
    {
        var redis = With("%R~r:*", "%W~w:*", "+@all");
        Assert.Equal(KeyDenied, Check(redis, "get", "w:x"));
        Assert.Null(Check(redis, "get", "r:x"));
        Assert.Equal(KeyDenied, Check(redis, "set", "r:x", "1"));
        Assert.Null(Check(redis, "set", "w:x", "1"));
        Assert.Equal(KeyDenied, Check(redis, "set", "w:x", "1", "get")); // SET ... GET reads as well
        Assert.Equal(KeyDenied, Check(redis, "incr", "w:x"));
        Assert.Null(Check(redis, "strlen", "w:x")); // neither read nor written: any matching pattern
        Assert.Null(Check(redis, "exists", "w:x", "r:x"));
        Assert.Equal(KeyDenied, Check(redis, "exists", "w:x", "r:x", "zz"));
        Assert.Null(Check(redis, "copy", "r:1", "w:2"));
        Assert.Equal(KeyDenied, Check(redis, "copy", "w:1", "w:2"));
        Assert.Equal(KeyDenied, Check(redis, "mset", "w:1", "a", "r:1", "b"));
        Assert.Null(Check(redis, "mset", "w:1", "a", "w:2", "b"));
        Assert.Null(Check(redis, "lock.acquire", "w:l", "token", "1000"));
        Assert.Equal(KeyDenied, Check(redis, "lock.release", "w:l", "token"));
    }

    [Fact]
    public void Script_keys_come_from_numkeys()
    {
        var redis = With("~lock:*", "+@all");
        Assert.Null(Check(redis, "eval", "return 1", "1", "lock:x"));
        Assert.Equal(KeyDenied, Check(redis, "eval", "return 1", "2", "lock:x", "other:x"));
        Assert.Null(Check(redis, "eval", "return 1", "1", "lock:x", "other:x")); // an argument, not a key
        Assert.Equal(KeyDenied, Check(redis, "evalsha_ro", new string('a', 40), "1", "other:x"));
        Assert.Null(Check(redis, "eval", "return 1", "x", "other:x")); // no keys found: the command's own error follows

        var reader = With("%R~*", "+@all");
        Assert.Null(Check(reader, "eval_ro", "return 1", "1", "k"));
        Assert.Equal(KeyDenied, Check(reader, "eval", "return 1", "1", "k"));
    }

    [Fact]
    public void SESSION_EXEC_is_checked_as_the_command_it_wraps()
    {
        var redis = With("~lock:*", "+@all", "-flushall");
        Assert.Null(Check(redis, "session.exec", "65536", "1", "0", "set", "lock:x", "v"));
        Assert.Equal(KeyDenied, Check(redis, "session.exec", "65536", "1", "0", "set", "other:x", "v"));
        Assert.Equal(string.Format(null, CommandDenied, "flushall"), Check(redis, "session.exec", "65536", "1", "0", "flushall"));
        var noSessions = With("~*", "+@all", "-session.exec");
        Assert.Equal(string.Format(null, CommandDenied, "session.exec"), Check(noSessions, "session.exec", "65536", "1", "0", "get", "k"));
    }

    [Fact]
    public void Dryrun_answers_as_redis_server()
    {
        var redis = With("~lock:*", "+@all", "-@dangerous", "-config");
        Assert.Equal("This user has no permissions to run the 'flushall' command", Text(redis.Admin("ACL", "DRYRUN", "u", "flushall")));
        Assert.Equal("This user has no permissions to access the 'other:x' key", Text(redis.Admin("ACL", "DRYRUN", "u", "set", "other:x", "1")));
        Assert.Equal(Reply.Ok, redis.Admin("ACL", "DRYRUN", "u", "set", "lock:x", "1"));
        Assert.Equal("This user has no permissions to run the 'config|get' command", Text(redis.Admin("ACL", "DRYRUN", "u", "config", "get", "x")));
        Assert.Equal("ERR User 'nosuch' not found", redis.Admin("ACL", "DRYRUN", "nosuch", "get", "x").Text);
        Assert.Equal("ERR Command 'nosuchcmd' not found", redis.Admin("ACL", "DRYRUN", "u", "nosuchcmd").Text);
        Assert.Equal("ERR Command 'config' not found", redis.Admin("ACL", "DRYRUN", "u", "config", "nosuch").Text);
        Assert.Equal("ERR wrong number of arguments for 'get' command", redis.Admin("ACL", "DRYRUN", "u", "get").Text);
        Assert.Equal("ERR wrong number of arguments for 'config' command", redis.Admin("ACL", "DRYRUN", "u", "config").Text);
        Assert.Equal(ReplyKind.Bulk, redis.Admin("ACL", "DRYRUN", "u", "flushall").Kind);
    }

    [Fact]
    public void An_unrestricted_user_costs_no_argument_work()
    {
        var redis = new AclDriver();
        var user = redis.Store.Acl.Default;
        Assert.True(user.IsUnrestricted);
        Assert.Null(AclCheck.Check(user, [.. Args("set", "any", "v").Select(static a => (ReadOnlyMemory<byte>)a)]));
        redis.Admin("ACL", "SETUSER", "u", "+@all", "-get", "~*");
        Assert.False(redis.Store.Acl.Find("u")!.IsUnrestricted);
        redis.Admin("ACL", "SETUSER", "u", "+get");
        Assert.False(redis.Store.Acl.Find("u")!.IsUnrestricted); // every bit set, but no longer by +@all alone (as Redis)
        redis.Admin("ACL", "SETUSER", "u", "allcommands");
        Assert.True(redis.Store.Acl.Find("u")!.IsUnrestricted);
    }
}
