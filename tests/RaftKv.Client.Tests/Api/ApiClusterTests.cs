using System.Security.Cryptography;
using System.Text;
using RaftKv.Client.Tests.Cluster;
using RaftKv.Testing;

namespace RaftKv.Client.Tests.Api;

/// <summary>One in-process three-node cluster for the API tests of a class; each test keeps to keys of its own.</summary>
public sealed class ApiCluster : IAsyncLifetime
{
    public TestCluster Cluster { get; private set; } = null!;

    public RaftKvConnection Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Cluster = await TestCluster.StartAsync();
        await Cluster.WaitForLeaderAsync();
        Client = await ClusterClients.ConnectAsync(Cluster);
    }

    public async Task DisposeAsync()
    {
        await Client.DisposeAsync();
        await Cluster.DisposeAsync();
    }
}

/// <summary>The typed commands, batches and transactions against a real cluster: each answers as Redis 7.0 does.</summary>
[Collection(ClientClusterCollection.Name)]
public sealed class ApiClusterTests(ApiCluster fixture) : IClassFixture<ApiCluster>
{
    private readonly RaftKvConnection kv = fixture.Client;

    [Fact]
    public async Task String_commands_answer_as_Redis_does()
    {
        Assert.True(await kv.StringSetAsync("s:ttl", "1", TimeSpan.FromMinutes(1)));
        Assert.True(await kv.StringSetAsync("s:ttl", "2", null, keepTtl: true));
        Assert.NotNull(await kv.KeyTimeToLiveAsync("s:ttl"));
        Assert.True(await kv.StringSetAsync("s:ttl", "3"));
        Assert.Null(await kv.KeyTimeToLiveAsync("s:ttl"));
        await Assert.ThrowsAsync<ArgumentException>(() => kv.StringSetAsync("s:ttl", "4", TimeSpan.FromMinutes(1), keepTtl: true));

        Assert.Null(await kv.StringSetAndGetAsync("s:swap", "a"));
        Assert.Equal("a", await kv.StringSetAndGetAsync("s:swap", "b"));
        Assert.Equal("b", await kv.StringSetAndGetAsync("s:swap", "c", when: When.NotExists));
        Assert.Equal("b", await kv.StringGetSetAsync("s:swap", "d"));
        Assert.Equal("d", await kv.StringGetDeleteAsync("s:swap"));
        Assert.False(await kv.KeyExistsAsync("s:swap"));
        Assert.Null(await kv.StringGetDeleteAsync("s:swap"));

        Assert.True(await kv.StringSetAsync("s:ex", "v"));
        Assert.Equal("v", await kv.StringGetSetExpiryAsync("s:ex", TimeSpan.FromMinutes(5)));
        Assert.InRange(await kv.KeyTimeToLiveAsync("s:ex") ?? TimeSpan.Zero, TimeSpan.FromMinutes(4), TimeSpan.FromMinutes(5));
        Assert.Equal("v", await kv.StringGetSetExpiryAsync("s:ex", null));
        Assert.Null(await kv.KeyTimeToLiveAsync("s:ex"));
        var at = DateTime.UtcNow.AddHours(1);
        Assert.Equal("v", await kv.StringGetSetExpiryAsync("s:ex", at));
        Assert.InRange(await kv.KeyExpireTimeAsync("s:ex") ?? DateTime.MinValue, at.AddSeconds(-1), at.AddSeconds(1));
        await Assert.ThrowsAsync<ArgumentException>(() => kv.StringGetSetExpiryAsync("s:ex", new DateTime(2030, 1, 1)));

        Assert.Equal(5, await kv.StringAppendAsync("s:text", "Hello"));
        Assert.Equal(11, await kv.StringAppendAsync("s:text", " World"));
        Assert.Equal(11, await kv.StringLengthAsync("s:text"));
        Assert.Equal(0, await kv.StringLengthAsync("s:missing"));
        Assert.Equal(11, await kv.StringSetRangeAsync("s:text", 6, "Redis"));
        Assert.Equal("Hello", await kv.StringGetRangeAsync("s:text", 0, 4));
        Assert.Equal("Redis", await kv.StringGetRangeAsync("s:text", -5, -1));
        Assert.Equal("", await kv.StringGetRangeAsync("s:missing", 0, -1));
        Assert.Equal(5, await kv.StringSetRangeAsync("s:padded", 3, new byte[] { 1, 2 }));
        Assert.Equal(new byte[] { 0, 0, 0, 1, 2 }, await kv.StringGetBytesAsync("s:padded"));
        Assert.Equal(6, await kv.StringAppendAsync("s:padded", new byte[] { 255 }));

        Assert.Equal(-1, await kv.StringDecrementAsync("s:n"));
        Assert.Equal(-11, await kv.StringDecrementAsync("s:n", 10));
        Assert.Equal(-10.5, await kv.StringIncrementAsync("s:n", 0.5));
        Assert.Equal(-10.75, await kv.StringDecrementAsync("s:n", 0.25));
        Assert.Equal("-10.75", await kv.StringGetAsync("s:n"));
        Assert.Equal("ERR", (await Assert.ThrowsAsync<RaftKvServerException>(() => kv.StringIncrementAsync("s:text"))).Prefix);

        Assert.True(await kv.StringSetAsync([new("s:m1", "1"), new("s:m2", "2")]));
        Assert.False(await kv.StringSetAsync([new("s:m2", "x"), new("s:m3", "3")], When.NotExists));
        Assert.True(await kv.StringSetAsync([new("s:m3", "3"), new("s:m4", "4")], When.NotExists));
        Assert.Equal(new string?[] { "1", "2", "3", "4", null }, await kv.StringGetAsync(["s:m1", "s:m2", "s:m3", "s:m4", "s:m5"]));
        Assert.Equal("1"u8.ToArray(), (await kv.StringGetBytesAsync(["s:m1"]))[0]);
        Assert.Empty(await kv.StringGetAsync(Array.Empty<string>()));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => kv.StringSetAsync([new("s:m1", "1")], When.Exists));
    }

    [Fact]
    public async Task Key_commands_answer_as_Redis_does()
    {
        Assert.True(await kv.StringSetAsync("k:a", "1"));
        Assert.True(await kv.KeyExistsAsync("k:a"));
        Assert.Equal(2, await kv.KeyExistsAsync(["k:a", "k:a", "k:none"]));
        Assert.Equal("string", await kv.KeyTypeAsync("k:a"));
        Assert.Equal("none", await kv.KeyTypeAsync("k:none"));

        Assert.False(await kv.KeyExpireAsync("k:a", TimeSpan.FromMinutes(1), ExpireWhen.HasExpiry));
        Assert.True(await kv.KeyExpireAsync("k:a", TimeSpan.FromMinutes(1), ExpireWhen.HasNoExpiry));
        Assert.False(await kv.KeyExpireAsync("k:a", TimeSpan.FromMinutes(2), ExpireWhen.HasNoExpiry));
        Assert.False(await kv.KeyExpireAsync("k:a", TimeSpan.FromSeconds(30), ExpireWhen.GreaterThanCurrentExpiry));
        Assert.True(await kv.KeyExpireAsync("k:a", TimeSpan.FromSeconds(30), ExpireWhen.LessThanCurrentExpiry));
        Assert.InRange(await kv.KeyTimeToLiveAsync("k:a") ?? TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30));
        var at = DateTime.UtcNow.AddDays(1);
        Assert.True(await kv.KeyExpireAsync("k:a", at));
        Assert.InRange(await kv.KeyExpireTimeAsync("k:a") ?? DateTime.MinValue, at.AddSeconds(-1), at.AddSeconds(1));
        Assert.True(await kv.KeyPersistAsync("k:a"));
        Assert.False(await kv.KeyPersistAsync("k:a"));
        Assert.Null(await kv.KeyExpireTimeAsync("k:a"));
        Assert.False(await kv.KeyExpireAsync("k:none", TimeSpan.FromMinutes(1)));
        await Assert.ThrowsAsync<ArgumentException>(() => kv.KeyExpireAsync("k:a", (TimeSpan?)null, ExpireWhen.HasExpiry));

        Assert.True(await kv.StringSetAsync("k:gone", "x"));
        Assert.True(await kv.KeyExpireAsync("k:gone", DateTime.UtcNow.AddDays(-1)));
        Assert.False(await kv.KeyExistsAsync("k:gone"));

        Assert.True(await kv.KeyRenameAsync("k:a", "k:b"));
        Assert.Equal("1", await kv.StringGetAsync("k:b"));
        Assert.True(await kv.StringSetAsync("k:c", "3"));
        Assert.False(await kv.KeyRenameAsync("k:b", "k:c", When.NotExists));
        Assert.True(await kv.KeyRenameAsync("k:b", "k:d", When.NotExists));
        var noSuchKey = await Assert.ThrowsAsync<RaftKvServerException>(() => kv.KeyRenameAsync("k:none", "k:e"));
        Assert.Equal("ERR no such key", noSuchKey.Error);

        Assert.True(await kv.KeyCopyAsync("k:d", "k:copy"));
        Assert.False(await kv.KeyCopyAsync("k:c", "k:copy"));
        Assert.True(await kv.KeyCopyAsync("k:c", "k:copy", replace: true));
        Assert.Equal("3", await kv.StringGetAsync("k:copy"));

        Assert.NotNull(await kv.KeyRandomAsync());
        Assert.True(await kv.DatabaseSizeAsync() >= 3);
        Assert.True(await kv.PingAsync() >= TimeSpan.Zero);
    }

    [Fact]
    public async Task KeysAsync_returns_every_matching_key_once_across_pages()
    {
        var expected = Enumerable.Range(0, 57).Select(static i => $"scan:{i}").ToHashSet();
        await kv.StringSetAsync([.. expected.Select(static k => new KeyValuePair<string, string>(k, "v"))]);
        await kv.StringSetAsync("scanx:other", "v");

        var seen = new List<string>();
        await foreach (var key in kv.KeysAsync("scan:*", pageSize: 10))
            seen.Add(key);

        Assert.Equal(expected.Order(), seen.Order());
    }

    [Fact]
    public async Task Scripts_run_by_text_by_hash_and_read_only()
    {
        const string script = "return redis.call('get', KEYS[1]) .. ARGV[1]";
        Assert.True(await kv.StringSetAsync("lua:k", "value-"));

        var hash = await kv.ScriptLoadAsync(script);
        Assert.Equal(SHA1.HashData(Encoding.UTF8.GetBytes(script)), hash);
        Assert.Equal("value-1", (await kv.ScriptEvaluateAsync(hash, ["lua:k"], [1])).AsString());
        Assert.Equal("value-2", (await kv.ScriptEvaluateReadOnlyAsync(script, ["lua:k"], [2])).AsString());
        Assert.Equal("value-3", (await kv.ScriptEvaluateReadOnlyAsync(hash, ["lua:k"], [3])).AsString());
        Assert.Equal("value-x", (await kv.ScriptEvaluateAsync(script, ["lua:k"], ["x"])).AsString());

        var unknown = await Assert.ThrowsAsync<RaftKvServerException>(() => kv.ScriptEvaluateAsync(new byte[20], ["lua:k"]));
        Assert.Equal("NOSCRIPT", unknown.Prefix);
        await Assert.ThrowsAsync<RaftKvServerException>(() => kv.ScriptEvaluateReadOnlyAsync("return redis.call('set', KEYS[1], 'w')", ["lua:k"]));
        Assert.Equal("value-", await kv.StringGetAsync("lua:k"));
    }

    [Fact]
    public async Task A_batch_runs_every_command_with_its_own_result()
    {
        var batch = kv.CreateBatch();
        var set = batch.StringSetAsync("batch:a", "1");
        var increments = Enumerable.Range(0, 20).Select(_ => batch.StringIncrementAsync("batch:n")).ToArray();
        var read = batch.StringGetAsync("batch:a");
        var floating = batch.StringIncrementAsync("batch:a", 1.5);
        var generic = batch.ExecuteAsync("STRLEN", "batch:a");
        batch.Execute();

        Assert.True(await set);
        Assert.Equal(Enumerable.Range(1, 20).Select(static i => (long)i), (await Task.WhenAll(increments)).Order());
        Assert.Equal("1", await read);
        Assert.Equal(2.5, await floating);
        Assert.Equal(3, (await generic).AsInt64());
    }

    [Fact]
    public async Task A_transaction_commits_its_commands_together_and_reports_each_reply()
    {
        var transaction = kv.CreateTransaction();
        var set = transaction.StringSetAsync("tx:a", "text");
        var increment = transaction.StringIncrementAsync("tx:n", 5);
        var notANumber = transaction.StringIncrementAsync("tx:a");
        var read = transaction.StringGetAsync("tx:a");

        Assert.True(await transaction.ExecuteAsync());

        Assert.True(await set);
        Assert.Equal(5, await increment);
        Assert.Equal("ERR", (await Assert.ThrowsAsync<RaftKvServerException>(() => notANumber)).Prefix);
        Assert.Equal("text", await read);
    }

    [Fact]
    public async Task A_transaction_commits_only_while_its_conditions_hold()
    {
        var create = kv.CreateTransaction();
        create.AddCondition(Condition.KeyNotExists("tx:owner"));
        var created = create.StringSetAsync("tx:owner", "a");
        Assert.True(await create.ExecuteAsync());
        Assert.True(await created);

        var again = kv.CreateTransaction();
        again.AddCondition(Condition.KeyNotExists("tx:owner"));
        var overwritten = again.StringSetAsync("tx:owner", "b");
        Assert.False(await again.ExecuteAsync());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => overwritten);

        var swap = kv.CreateTransaction();
        swap.AddCondition(Condition.KeyExists("tx:owner"));
        swap.AddCondition(Condition.StringEqual("tx:owner", "a"));
        swap.AddCondition(Condition.StringNotEqual("tx:owner", "b"));
        _ = swap.StringSetAsync("tx:owner", "c");
        Assert.True(await swap.ExecuteAsync());

        var stale = kv.CreateTransaction();
        stale.AddCondition(Condition.StringEqual("tx:owner", "a"));
        _ = stale.StringSetAsync("tx:owner", "d");
        Assert.False(await stale.ExecuteAsync());
        Assert.Equal("c", await kv.StringGetAsync("tx:owner"));
    }

    [Fact]
    public async Task Optimistic_increments_through_conditions_lose_no_update_under_contention()
    {
        Assert.True(await kv.StringSetAsync("tx:counter", "0"));
        var committed = 0;
        var workers = Enumerable.Range(0, 4).Select(worker => Task.Run(async () =>
        {
            for (var done = 0; done < 5;)
            {
                var current = await kv.StringGetAsync("tx:counter") ?? "0";
                var transaction = kv.CreateTransaction();
                transaction.AddCondition(Condition.StringEqual("tx:counter", current));
                _ = transaction.StringSetAsync("tx:counter", (long.Parse(current, System.Globalization.CultureInfo.InvariantCulture) + 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
                if (await transaction.ExecuteAsync())
                {
                    done++;
                    Interlocked.Increment(ref committed);
                }
            }
        })).ToArray();
        await Task.WhenAll(workers);

        Assert.Equal(20, committed);
        Assert.Equal("20", await kv.StringGetAsync("tx:counter"));
    }

    [Fact]
    public async Task A_transaction_refused_while_queued_runs_nothing()
    {
        var transaction = kv.CreateTransaction();
        var set = transaction.StringSetAsync("tx:aborted", "v");
        var bogus = transaction.ExecuteAsync("NOSUCHCOMMAND", "x");

        Assert.Equal("EXECABORT", (await Assert.ThrowsAsync<RaftKvServerException>(() => transaction.ExecuteAsync())).Prefix);
        Assert.Equal("ERR", (await Assert.ThrowsAsync<RaftKvServerException>(() => bogus)).Prefix);
        await Assert.ThrowsAsync<RaftKvServerException>(() => set);
        Assert.False(await kv.KeyExistsAsync("tx:aborted"));
    }

    [Fact]
    public async Task Lock_commands_through_ExecuteAsync_run_in_the_session_and_lock_reads_go_plain()
    {
        var fencing = (await kv.ExecuteAsync("LOCK.ACQUIRE", "api:lock", "token-1", 30_000, "OWNER", "api-test")).AsInt64();
        Assert.True(fencing > 0);
        Assert.True(
            (await kv.ExecuteAsync("LOCK.ACQUIRE", "api:lock", "token-2", 30_000, "WAIT", 0)).IsNull,
            "a held lock answers nil to an acquire that does not wait");

        var info = (await kv.ExecuteAsync("LOCK.INFO", "api:lock")).Elements.Select(static e => e.Type == RespType.Array ? "[...]" : e.AsString()).ToArray();
        Assert.Equal("mutex", info[Array.IndexOf(info, "kind") + 1]);
        var listed = (await kv.ExecuteAsync("LOCK.LIST", "api:*")).Elements;
        Assert.Equal("api:lock", Assert.Single(listed).Elements[0].AsString());
        await Assert.ThrowsAsync<NotSupportedException>(() => kv.ExecuteAsync("LOCK.ACQUIRE", "api:lock", "token-2", 30_000, "WAIT", 1000));
        Assert.Equal(1, (await kv.ExecuteAsync("LOCK.RELEASE", "api:lock", "token-1")).AsInt64());
    }
}
