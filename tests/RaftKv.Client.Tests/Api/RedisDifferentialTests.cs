using System.Globalization;
using RaftKv.Client.Tests.Cluster;
using RaftKv.Testing;
using SE = StackExchange.Redis;

namespace RaftKv.Client.Tests.Api;

/// <summary>
/// The same calls through RaftKv.Client against the cluster and through StackExchange.Redis against a real
/// <c>redis-server</c>, in the same order: every result must be the same. A method named as StackExchange.Redis names
/// it must mean what it means there.
/// </summary>
[Collection(ClientClusterCollection.Name)]
public sealed class RedisDifferentialTests(ApiCluster fixture) : IClassFixture<ApiCluster>
{
    private static readonly (string Call, Func<RaftKvCommands, Task<object?>> Ours, Func<SE.IDatabase, Task<object?>> Theirs)[] Calls =
    [
        ("StringSet", async k => await k.StringSetAsync("d:a", "1"), async r => await r.StringSetAsync("d:a", "1")),
        ("StringSet NX on an existing key", async k => await k.StringSetAsync("d:a", "2", when: When.NotExists), async r => await r.StringSetAsync("d:a", "2", when: SE.When.NotExists)),
        ("StringSet XX on a missing key", async k => await k.StringSetAsync("d:b", "2", when: When.Exists), async r => await r.StringSetAsync("d:b", "2", when: SE.When.Exists)),
        ("StringSet with expiry", async k => await k.StringSetAsync("d:t", "v", TimeSpan.FromMinutes(1)), async r => await r.StringSetAsync("d:t", "v", TimeSpan.FromMinutes(1))),
        ("StringSet keepTtl", async k => await k.StringSetAsync("d:t", "w", null, keepTtl: true), async r => await r.StringSetAsync("d:t", "w", null, keepTtl: true)),
        ("TTL kept", async k => await k.KeyTimeToLiveAsync("d:t") is not null, async r => await r.KeyTimeToLiveAsync("d:t") is not null),
        ("StringSetAndGet", async k => await k.StringSetAndGetAsync("d:a", "3"), async r => (string?)await r.StringSetAndGetAsync("d:a", "3")),
        ("StringSetAndGet missing", async k => await k.StringSetAndGetAsync("d:c", "3"), async r => (string?)await r.StringSetAndGetAsync("d:c", "3")),
        ("StringGetSet", async k => await k.StringGetSetAsync("d:a", "4"), async r => (string?)await r.StringGetSetAsync("d:a", "4")),
        ("StringGetDelete", async k => await k.StringGetDeleteAsync("d:c"), async r => (string?)await r.StringGetDeleteAsync("d:c")),
        ("StringGetDelete missing", async k => await k.StringGetDeleteAsync("d:c"), async r => (string?)await r.StringGetDeleteAsync("d:c")),
        ("StringGetSetExpiry", async k => await k.StringGetSetExpiryAsync("d:a", TimeSpan.FromMinutes(1)), async r => (string?)await r.StringGetSetExpiryAsync("d:a", TimeSpan.FromMinutes(1))),
        ("StringGetSetExpiry persist", async k => await k.StringGetSetExpiryAsync("d:a", null), async r => (string?)await r.StringGetSetExpiryAsync("d:a", null)),
        ("no TTL", async k => await k.KeyTimeToLiveAsync("d:a") is null, async r => await r.KeyTimeToLiveAsync("d:a") is null),
        ("StringAppend", async k => await k.StringAppendAsync("d:s", "Hello World"), async r => await r.StringAppendAsync("d:s", "Hello World")),
        ("StringLength", async k => await k.StringLengthAsync("d:s"), async r => await r.StringLengthAsync("d:s")),
        ("StringSetRange", async k => await k.StringSetRangeAsync("d:s", 6, "Redis"), async r => (long)await r.StringSetRangeAsync("d:s", 6, "Redis")),
        ("StringGetRange", async k => await k.StringGetRangeAsync("d:s", -5, -1), async r => (string?)await r.StringGetRangeAsync("d:s", -5, -1)),
        ("StringGetRange missing", async k => await k.StringGetRangeAsync("d:none", 0, -1), async r => (string?)await r.StringGetRangeAsync("d:none", 0, -1)),
        ("StringIncrement", async k => await k.StringIncrementAsync("d:n"), async r => await r.StringIncrementAsync("d:n")),
        ("StringIncrement by", async k => await k.StringIncrementAsync("d:n", 41), async r => await r.StringIncrementAsync("d:n", 41)),
        ("StringDecrement", async k => await k.StringDecrementAsync("d:n", 50), async r => await r.StringDecrementAsync("d:n", 50)),
        ("StringIncrement double", async k => await k.StringIncrementAsync("d:n", 0.1), async r => await r.StringIncrementAsync("d:n", 0.1)),
        ("StringDecrement double", async k => await k.StringDecrementAsync("d:n", 1.25), async r => await r.StringDecrementAsync("d:n", 1.25)),
        ("MSET", async k => await k.StringSetAsync([new("d:m1", "1"), new("d:m2", "2")]), async r => await r.StringSetAsync([new("d:m1", "1"), new("d:m2", "2")])),
        ("MSETNX", async k => await k.StringSetAsync([new("d:m2", "x"), new("d:m3", "3")], When.NotExists), async r => await r.StringSetAsync([new("d:m2", "x"), new("d:m3", "3")], SE.When.NotExists)),
        ("MGET", async k => await k.StringGetAsync(["d:m1", "d:m2", "d:m3"]), async r => (await r.StringGetAsync(["d:m1", "d:m2", "d:m3"])).Select(static v => (string?)v).ToArray()),
        ("KeyExists", async k => await k.KeyExistsAsync("d:m1"), async r => await r.KeyExistsAsync("d:m1")),
        ("KeyExists many", async k => await k.KeyExistsAsync(["d:m1", "d:m1", "d:none"]), async r => await r.KeyExistsAsync(["d:m1", "d:m1", "d:none"])),
        ("KeyExpire NX", async k => await k.KeyExpireAsync("d:m1", TimeSpan.FromMinutes(1), ExpireWhen.HasNoExpiry), async r => await r.KeyExpireAsync("d:m1", TimeSpan.FromMinutes(1), SE.ExpireWhen.HasNoExpiry)),
        ("KeyExpire GT", async k => await k.KeyExpireAsync("d:m1", TimeSpan.FromSeconds(10), ExpireWhen.GreaterThanCurrentExpiry), async r => await r.KeyExpireAsync("d:m1", TimeSpan.FromSeconds(10), SE.ExpireWhen.GreaterThanCurrentExpiry)),
        ("KeyExpire null", async k => await k.KeyExpireAsync("d:m1", null), async r => await r.KeyExpireAsync("d:m1", (TimeSpan?)null)),
        ("KeyPersist without TTL", async k => await k.KeyPersistAsync("d:m1"), async r => await r.KeyPersistAsync("d:m1")),
        ("KeyExpire at", async k => await k.KeyExpireAsync("d:m2", new DateTime(2100, 1, 1, 0, 0, 0, DateTimeKind.Utc)), async r => await r.KeyExpireAsync("d:m2", new DateTime(2100, 1, 1, 0, 0, 0, DateTimeKind.Utc))),
        ("KeyExpireTime", async k => await k.KeyExpireTimeAsync("d:m2"), async r => await r.KeyExpireTimeAsync("d:m2")),
        ("KeyRename", async k => await k.KeyRenameAsync("d:m2", "d:m4"), async r => await r.KeyRenameAsync("d:m2", "d:m4")),
        ("KeyRename NX", async k => await k.KeyRenameAsync("d:m4", "d:m1", When.NotExists), async r => await r.KeyRenameAsync("d:m4", "d:m1", SE.When.NotExists)),
        ("KeyCopy", async k => await k.KeyCopyAsync("d:m4", "d:m1"), async r => await r.KeyCopyAsync("d:m4", "d:m1")),
        ("KeyCopy replace", async k => await k.KeyCopyAsync("d:m4", "d:m1", replace: true), async r => await r.KeyCopyAsync("d:m4", "d:m1", replace: true)),
        ("KeyType", async k => await k.KeyTypeAsync("d:m1"), async r => (await r.KeyTypeAsync("d:m1")).ToString().ToLowerInvariant()),
        ("KeyType missing", async k => await k.KeyTypeAsync("d:none"), async r => (await r.KeyTypeAsync("d:none")).ToString().ToLowerInvariant()),
        ("KeyDelete", async k => await k.KeyDeleteAsync(["d:m1", "d:m4", "d:none"]), async r => await r.KeyDeleteAsync(["d:m1", "d:m4", "d:none"])),
        ("ScriptEvaluate", async k => (await k.ScriptEvaluateAsync("return {KEYS[1], ARGV[1], 3}", ["d:x"], ["y"])).ToString(), async r => Render(await r.ScriptEvaluateAsync("return {KEYS[1], ARGV[1], 3}", ["d:x"], ["y"]))),
        ("StringGet", async k => await k.StringGetAsync("d:a"), async r => (string?)await r.StringGetAsync("d:a")),
    ];

    [Fact]
    public async Task The_calls_StackExchange_Redis_also_has_answer_as_they_do_against_redis_server()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var se = await SE.ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{redis.Port}");
        var theirs = se.GetDatabase();

        foreach (var (call, ours, expected) in Calls)
        {
            var want = Show(await expected(theirs));
            var got = Show(await ours(fixture.Client));
            Assert.True(want == got, $"{call}: StackExchange.Redis against redis-server answered {want}, RaftKv.Client {got}");
        }
    }

    [Fact]
    public async Task A_transaction_with_conditions_commits_or_not_as_it_does_against_redis_server()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var se = await SE.ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{redis.Port}");
        var theirs = se.GetDatabase();

        foreach (var (condition, theirCondition) in new (Condition, SE.Condition)[]
        {
            (Condition.KeyNotExists("dt:k"), SE.Condition.KeyNotExists("dt:k")),
            (Condition.KeyNotExists("dt:k"), SE.Condition.KeyNotExists("dt:k")),
            (Condition.StringEqual("dt:k", "1"), SE.Condition.StringEqual("dt:k", "1")),
            (Condition.StringEqual("dt:k", "1"), SE.Condition.StringEqual("dt:k", "1")),
            (Condition.StringNotEqual("dt:k", "1"), SE.Condition.StringNotEqual("dt:k", "1")),
            (Condition.KeyExists("dt:k"), SE.Condition.KeyExists("dt:k")),
            (Condition.KeyExists("dt:none"), SE.Condition.KeyExists("dt:none")),
        })
        {
            var ours = fixture.Client.CreateTransaction();
            ours.AddCondition(condition);
            var ourIncrement = ours.StringIncrementAsync("dt:k");
            var committed = await ours.ExecuteAsync();

            var their = theirs.CreateTransaction();
            their.AddCondition(theirCondition);
            var theirIncrement = their.StringIncrementAsync("dt:k");
            var theirCommitted = await their.ExecuteAsync();

            Assert.True(theirCommitted == committed, $"{condition}: redis-server committed {theirCommitted}, RaftKv {committed}");
            if (committed)
                Assert.Equal(await theirIncrement, await ourIncrement);
            Assert.Equal((string?)await theirs.StringGetAsync("dt:k"), await fixture.Client.StringGetAsync("dt:k"));
        }
    }

    private static string Render(SE.RedisResult result)
        => result.Resp2Type == SE.ResultType.Array
            ? "[" + string.Join(", ", ((SE.RedisResult[])result!).Select(Render)) + "]"
            : result.Resp2Type == SE.ResultType.Integer ? $"(integer) {(long)result}" : $"\"{(string?)result}\"";

    private static string Show(object? value) => value switch
    {
        null => "(nil)",
        bool b => b ? "true" : "false",
        string s => $"\"{s}\"",
        string?[] values => "[" + string.Join(", ", values.Select(Show)) + "]",
        DateTime time => time.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture),
        IFormattable number => number.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
