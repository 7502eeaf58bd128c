using System.Buffers;
using System.Globalization;
using RaftKv.StateMachine.Commands;

namespace RaftKv.StateMachine.Tests.Acl;

/// <summary>
/// A seeded random log of ACL changes and data commands from several users (scripts, EXEC, sessions among them): a
/// follower replaying the log and a replica restored from a snapshot half-way answer and end exactly as the leader.
/// </summary>
public sealed class AclDeterminismTests
{
    private static readonly string[] Users = ["default", "alice", "bob"];

    private static readonly string[][] Rules =
    [
        ["on", "~*", "+@all"], ["~lock:*", "+@all", "-@dangerous"], ["resetkeys", "%R~*", "%W~w:*"], ["-set", "+get"],
        ["+@scripting"], ["-@scripting"], ["+@transaction", "+session.open", "+session.exec"], ["reset", "on"], ["allkeys"],
        ["-eval"], ["+@write"], [">pw", "<pw"],
    ];

    private static string[] Command(Random rng, List<long> sessions)
    {
        string Key() => new[] { "lock:a", "w:b", "c", "lock:d" }[rng.Next(4)];
        return rng.Next(12) switch
        {
            0 => ["ACL", "SETUSER", Users[1 + rng.Next(2)], .. Rules[rng.Next(Rules.Length)]],
            1 => ["SET", Key(), "v" + rng.Next(100).ToString(CultureInfo.InvariantCulture)],
            2 => ["GET", Key()],
            3 => rng.Next(2) == 0 ? ["EVAL", "return redis.pcall('set', ARGV[1], 'x')", "0", Key()] : ["EVAL", "return redis.pcall('incr', KEYS[1])", "1", Key()],
            4 => ["EVAL", "return {redis.acl_check_cmd('flushall'), redis.acl_check_cmd('set', ARGV[1], 'v')}", "0", Key()],
            5 => ["SESSION.OPEN", "60000"],
            6 when sessions.Count > 0 => ["SESSION.EXEC", sessions[rng.Next(sessions.Count)].ToString(CultureInfo.InvariantCulture), (1 + rng.Next(5)).ToString(CultureInfo.InvariantCulture), "0", "SET", Key(), "s"],
            7 when sessions.Count > 0 => ["SESSION.CLOSE", sessions[rng.Next(sessions.Count)].ToString(CultureInfo.InvariantCulture)],
            8 => ["DEL", Key()],
            9 => ["FLUSHALL"],
            10 => rng.Next(4) == 0 ? ["ACL", "DELUSER", Users[1 + rng.Next(2)]] : ["INCR", Key()],
            _ => ["APPEND", Key(), "z"],
        };
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Leader_follower_and_restored_replica_agree(int seed)
    {
        var rng = new Random(seed);
        var leader = new AclDriver();
        var sessions = new List<long>();
        var replies = new List<Reply>();
        replies.Add(leader.Admin("ACL", "SETUSER", "alice", "on", "~*", "+@all"));
        replies.Add(leader.Admin("ACL", "SETUSER", "bob", "on", "~lock:*", "+@all"));
        for (var i = 0; i < 400; i++)
        {
            var user = Users[rng.Next(Users.Length)];
            if (leader.Store.Acl.Find(user) is null)
                user = "default";
            var argv = Command(rng, sessions);
            var before = leader.Log.Count;
            Reply reply;
            if (rng.Next(6) == 0)
            {
                // A transaction, re-checked at apply.
                reply = leader.Apply(user, new TransactionCommand { Commands = [Redis.Args(argv), Redis.Args("GET", "lock:a")] });
            }
            else
            {
                reply = leader.Exec(user, argv);
            }

            if (argv[0] == "SESSION.OPEN" && reply.Kind == ReplyKind.Integer)
                sessions.Add(reply.Integer);
            if (leader.Log.Count > before)
                replies.Add(reply);
        }

        var follower = new KeyValueStore();
        var restored = (KeyValueStore?)null;
        var half = leader.Log.Count / 2;
        for (var i = 0; i < leader.Log.Count; i++)
        {
            var reply = follower.Apply(leader.Log[i], i + 1).Single();
            Assert.Equal(replies[i], reply);
            if (restored is not null)
                Assert.Equal(replies[i], restored.Apply(leader.Log[i], i + 1).Single());
            if (i == half)
            {
                var buffer = new ArrayBufferWriter<byte>();
                follower.WriteSnapshot(buffer);
                restored = new KeyValueStore();
                restored.RestoreSnapshot(new ReadOnlySequence<byte>(buffer.WrittenMemory));
                Assert.Equal(follower.ComputeDigest(), restored.ComputeDigest());
            }
        }

        Assert.Equal(leader.Store.ComputeDigest(), follower.ComputeDigest());
        Assert.Equal(leader.Store.ComputeDigest(), restored!.ComputeDigest());
        Assert.Equal(leader.Store.UsedMemory, restored.UsedMemory);
        Assert.Equal(restored.ComputeUsedMemory(), restored.UsedMemory);
        Assert.Contains(replies, static r => r.IsError && r.Text!.StartsWith("NOPERM", StringComparison.Ordinal)
                                             || (r.Kind == ReplyKind.Array && r.Items!.Any(static i => i.IsError && i.Text!.StartsWith("NOPERM", StringComparison.Ordinal))));
    }
}
