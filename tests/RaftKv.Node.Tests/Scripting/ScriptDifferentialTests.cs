using RaftKv.Node.Tests.Cluster;
using RaftKv.StateMachine;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Scripting;

/// <summary>A real redis-server and a single-node RaftKv, shared by every differential scripting case.</summary>
public sealed class ScriptDifferentialFixture : IAsyncLifetime
{
    private TestCluster? cluster;

    internal RedisServer Redis { get; private set; } = null!;

    internal RespTestClient ToRedis { get; private set; } = null!;

    internal RespTestClient ToRaftKv { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Redis = await RedisServer.StartAsync();
        cluster = await TestCluster.StartAsync(size: 1);
        var leader = await cluster.WaitForLeaderAsync();
        ToRedis = await RespTestClient.ConnectAsync(Redis.Port);
        ToRaftKv = await cluster.ConnectAsync(leader);
    }

    public async Task DisposeAsync()
    {
        await ToRedis.DisposeAsync();
        await ToRaftKv.DisposeAsync();
        if (cluster is not null)
            await cluster.DisposeAsync();
        await Redis.DisposeAsync();
    }
}

/// <summary>
/// Scripts sent to redis-server 7.0 and to RaftKv must get the same replies, byte for byte: conversions both ways,
/// error texts (with Redis 7's <c>script: sha, on @user_script:N.</c> suffix), script cache commands, read-only
/// scripts, and the lock scripts of DistributedLock.Redis and of the design document.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ScriptDifferentialTests(ScriptDifferentialFixture fixture) : IClassFixture<ScriptDifferentialFixture>
{
    // DESIGN.md's (and redis.io's) release script, and DistributedLock.Redis 1.1.1's RedisMutexPrimitive scripts as
    // StackExchange.Redis's LuaScript sends them (parameters become KEYS[1], ARGV[1], ARGV[2]).
    internal const string Release = "if redis.call('get',KEYS[1]) == ARGV[1] then return redis.call('del',KEYS[1]) else return 0 end";

    internal const string DistributedLockRelease = """

            if redis.call('get', KEYS[1]) == ARGV[1] then
                return redis.call('del', KEYS[1])
            end
            return 0
""";

    internal const string DistributedLockExtend = """

            if redis.call('get', KEYS[1]) == ARGV[1] then
                return redis.call('pexpire', KEYS[1], ARGV[2])
            end
            return 0
""";

    public static TheoryData<string, string[][]> Cases => new()
    {
        { "integers, strings, booleans, nil", [
            ["EVAL", "return 1", "0"], ["EVAL", "return -7", "0"], ["EVAL", "return 'abc'", "0"], ["EVAL", "return true", "0"],
            ["EVAL", "return false", "0"], ["EVAL", "return nil", "0"], ["EVAL", "return", "0"], ["EVAL", "return function() end", "0"]] },
        { "numbers are truncated to integers", [
            ["EVAL", "return 3.99", "0"], ["EVAL", "return -3.99", "0"], ["EVAL", "return {1.5, -0.5, 2^53}", "0"],
            ["EVAL", "return 1e300", "0"], ["EVAL", "return 0/0", "0"], ["EVAL", "return -2^63", "0"], ["EVAL", "return 10/2", "0"]] },
        { "arrays stop at the first nil and nest", [
            ["EVAL", "return {1,2,3,'ciao',{1,2}}", "0"], ["EVAL", "return {1,2,nil,4}", "0"], ["EVAL", "return {}", "0"],
            ["EVAL", "return {x=1}", "0"], ["EVAL", "return {false, true, 'a'}", "0"], ["EVAL", "return {1, {2, {3, {4}}}}", "0"]] },
        { "status and error tables", [
            ["EVAL", "return {ok='fine'}", "0"], ["EVAL", "return {err='My Error'}", "0"], ["EVAL", "return {err='My Error', ok='x'}", "0"],
            ["EVAL", "return {err=''}", "0"], ["EVAL", "return {err=5}", "0"], ["EVAL", "return {ok=5}", "0"],
            ["EVAL", "return {1, 2, 3.5, 'x', {ok='s'}, {err='E r'}}", "0"], ["EVAL", "return {map={a=1}}", "0"]] },
        { "error_reply and status_reply", [
            ["EVAL", "return redis.error_reply('MY x')", "0"], ["EVAL", "return redis.error_reply('noprefix')", "0"],
            ["EVAL", "return redis.error_reply('')", "0"], ["EVAL", "return redis.error_reply('-X y')", "0"],
            ["EVAL", "return redis.error_reply()", "0"], ["EVAL", "return redis.error_reply(5)", "0"],
            ["EVAL", "return redis.status_reply('FINE')", "0"], ["EVAL", "return redis.status_reply()", "0"],
            ["EVAL", "local t = redis.error_reply('MY x') return type(t) .. t.err", "0"]] },
        { "KEYS, ARGV and numkeys", [
            ["EVAL", "return KEYS", "2", "a", "b", "c"], ["EVAL", "return ARGV", "2", "a", "b", "c"], ["EVAL", "return #KEYS", "0"],
            ["EVAL", "return 1", "-1"], ["EVAL", "return 1", "2", "a"], ["EVAL", "return 1", "x"], ["EVAL", "return 1"],
            ["EVAL", "return {#KEYS, #ARGV}", "3", "a", "b", "c"]] },
        { "redis.call replies to Lua", [
            ["EVAL", "return redis.call('set',KEYS[1],'v')", "1", "d:call"], ["EVAL", "return redis.call('get',KEYS[1])", "1", "d:call"],
            ["EVAL", "return redis.call('get','d:nokey')", "0"], ["EVAL", "return type(redis.call('get','d:nokey'))", "0"],
            ["EVAL", "return type(redis.call('set','d:call','v'))", "0"], ["EVAL", "local r = redis.call('set','d:call','v') return r.ok", "0"],
            ["EVAL", "return redis.call('set','d:call','w','GET')", "0"], ["EVAL", "return redis.call('del','d:call','d:nokey')", "0"]] },
        { "redis.call errors are raised, redis.pcall returns them", [
            ["SET", "d:str", "abc"],
            ["EVAL", "return redis.call('incr','d:str')", "0"], ["EVAL", "return redis.pcall('incr','d:str')", "0"],
            ["EVAL", "local r = redis.pcall('incr','d:str') return type(r) .. ':' .. tostring(r.err)", "0"],
            ["EVAL", "return redis.call('set','k')", "0"], ["EVAL", "return redis.pcall('set','k')", "0"],
            ["EVAL", "return redis.call('nosuch','k')", "0"], ["EVAL", "return redis.pcall('nosuch','k')", "0"],
            ["EVAL", "return redis.call()", "0"], ["EVAL", "return redis.pcall()", "0"],
            ["EVAL", "return redis.call('set','d:x','v','EX','x')", "0"],
            ["EVAL", "return redis.call('set','k', true)", "0"], ["EVAL", "return redis.call('set','k', {})", "0"],
            ["EVAL", "return redis.pcall('set','k',{})", "0"], ["EVAL", "return redis.call({},'k')", "0"],
            ["EVAL", "local function f()\n redis.call('nosuch')\nend\n\nf()", "0"]] },
        { "pcall sees the err text of error tables", [
            ["EVAL", "local ok, e = pcall(function() redis.call('nosuch') end) return e", "0"],
            ["EVAL", "local ok, e = pcall(function() redis.call('nosuch') end) return type(e)", "0"],
            ["EVAL", "local ok, e = pcall(function() error({err='X y'}) end) return e", "0"],
            ["EVAL", "local ok, e = pcall(function() error('x') end) return e", "0"],
            ["EVAL", "return pcall(function() redis.call('nosuch') end)", "0"]] },
        { "numbers as command arguments", [
            ["EVAL", "redis.call('set','d:n', 3.7) return redis.call('get','d:n')", "0"],
            ["EVAL", "redis.call('set','d:n', 0.1) return redis.call('get','d:n')", "0"],
            ["EVAL", "redis.call('set','d:n', 1e20) return redis.call('get','d:n')", "0"],
            ["EVAL", "redis.call('set','d:n', -0.0) return redis.call('get','d:n')", "0"],
            ["EVAL", "redis.call('set','d:n', 1/0) return redis.call('get','d:n')", "0"],
            ["EVAL", "redis.call('set','d:n', 42) return redis.call('get','d:n')", "0"],
            ["EVAL", "redis.call('set','d:n', 2^53) return redis.call('get','d:n')", "0"],
            ["EVAL", "redis.call('set','d:n', 10/2) return redis.call('get','d:n')", "0"]] },
        { "runtime errors", [
            ["EVAL", "error('boom')", "0"], ["EVAL", "error('boom', 0)", "0"], ["EVAL", "error({err='MYERR custom'})", "0"],
            ["EVAL", "error({err='nocode custom'})", "0"],
            ["EVAL", "return 1 + {}", "0"], ["EVAL", "\n\nlocal t = 5\nreturn t + {}", "0"], ["EVAL", "error()", "0"]] },
        { "compile errors", [
            ["EVAL", "return +", "0"], ["SCRIPT", "LOAD", "return +"]] },
        { "globals are protected", [
            ["EVAL", "return x", "0"], ["EVAL", "x = 1", "0"], ["EVAL", "print('x')", "0"], ["EVAL", "rawset(_G, 'x', 1) return x", "0"],
            ["EVAL", "setmetatable(_G, nil)", "0"], ["EVAL", "return type(getmetatable(_G))", "0"],
            ["EVAL", "local r = {} for k,v in pairs(redis) do r[#r+1] = k end table.sort(r) return r", "0"]] },
        { "library functions Redis scripts use", [
            ["EVAL", "return {type(unpack), type(loadstring), type(load), type(collectgarbage), type(gcinfo), type(dofile), type(loadfile), type(require), type(os), type(io), type(debug)}", "0"],
            ["EVAL", "return unpack({1,2,3})", "0"], ["EVAL", "return table.getn({1,2,3})", "0"], ["EVAL", "return loadstring('return 1')()", "0"],
            ["EVAL", "return loadstring('\\27Lua')", "0"], ["EVAL", "return {loadstring('syntax error')}", "0"],
            ["EVAL", "return string.format('%d %s %5.2f', 3, 'x', 2.5)", "0"], ["EVAL", "return tostring(3)", "0"],
            ["EVAL", "return {tonumber('0x10'), tonumber('10', 2), tonumber(' 5 ')}", "0"], ["EVAL", "return select('#', 1, nil, 3)", "0"],
            ["EVAL", "return math.floor(3.7)", "0"], ["EVAL", "local t = {5,3,9,1} table.sort(t) return t", "0"],
            ["EVAL", "local t = {} for i = 1, 300 do t[i] = (i * 7919) % 1000 end table.sort(t) return {t[1], t[150], t[300]}", "0"],
            ["EVAL", "return {string.rep('ab', 3), ('x'):upper(), string.sub('hello', 2, 3), string.len('abc')}", "0"],
            ["EVAL", "return {table.concat({'a','b','c'}, '-'), #'abc' .. 'x'}", "0"]] },
        { "redis helpers", [
            ["EVAL", "return redis.sha1hex('')", "0"], ["EVAL", "return redis.sha1hex()", "0"], ["EVAL", "return redis.sha1hex(123)", "0"],
            ["EVAL", "return redis.log(redis.LOG_WARNING, 'hello')", "0"], ["EVAL", "return redis.log()", "0"],
            ["EVAL", "return redis.log('x','y')", "0"], ["EVAL", "return redis.log(99,'y')", "0"],
            ["EVAL", "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}", "0"],
            ["EVAL", "return redis.setresp(3)", "0"], ["EVAL", "return redis.setresp(4)", "0"], ["EVAL", "return redis.setresp()", "0"],
            ["EVAL", "redis.setresp(3) return type(redis.call('get','d:nokey'))", "0"], ["EVAL", "redis.setresp(3) return redis.call('set','d:r3','v')", "0"],
            ["EVAL", "return redis.REDIS_VERSION", "0"], ["EVAL", "return redis.REDIS_VERSION_NUM", "0"],
            ["EVAL", "return math.random(0)", "0"], ["EVAL", "return math.random(1,2,3)", "0"], ["EVAL", "return math.random(3, 1)", "0"],
            ["EVAL", "return #redis.call('time')", "0"], ["EVAL", "return type(redis.call('time')[1])", "0"]] },
        { "commands scripts may and may not call", [
            ["EVAL", "return redis.call('ping')", "0"], ["EVAL", "return redis.call('ping','hi')", "0"], ["EVAL", "return redis.call('ping','a','b')", "0"],
            ["EVAL", "return redis.call('echo','hi')", "0"], ["EVAL", "return redis.call('script','load','return 1')", "0"],
            ["EVAL", "return redis.call('evalsha','x','0')", "0"], ["EVAL", "return redis.call('eval','return 1','0')", "0"],
            ["EVAL", "return redis.call('multi')", "0"], ["EVAL", "return redis.call('quit')", "0"]] },
        { "SELECT inside a script stays inside it", [
            ["EVAL", "redis.call('select',3) redis.call('set','d:indb3','v') return redis.call('get','d:indb3')", "0"],
            ["GET", "d:indb3"], ["EVAL", "return redis.call('select','99')", "0"], ["EVAL", "return redis.call('select','x')", "0"]] },
        { "script cache: LOAD, EXISTS, EVALSHA, FLUSH", [
            ["SCRIPT", "FLUSH"], ["SCRIPT", "LOAD", "return 'loaded'"],
            ["SCRIPT", "EXISTS", "b534286061d4b9e4026607613b95c06c06015ae8", "ffffffffffffffffffffffffffffffffffffffff", "x"],
            ["EVALSHA", "b534286061d4b9e4026607613b95c06c06015ae8", "0"],
            ["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"], ["EVALSHA", "abc", "0"], ["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "x"],
            ["EVAL", "return 'cached by eval'", "0"], ["EVALSHA", "14a0ec5969ac10dc856a79479466fd953463f052", "0"],
            ["SCRIPT", "FLUSH"], ["EVALSHA", "b534286061d4b9e4026607613b95c06c06015ae8", "0"],
            ["SCRIPT", "LOAD"], ["SCRIPT", "LOAD", "a", "b"], ["SCRIPT", "EXISTS"], ["SCRIPT", "FLUSH", "bogus"], ["SCRIPT", "FLUSH", "async"],
            ["SCRIPT", "FLUSH", "sync", "x"], ["SCRIPT", "bogus"], ["SCRIPT", "KILL"], ["SCRIPT", "KILL", "x"], ["SCRIPT"]] },
        { "read-only scripts", [
            ["SET", "d:ro", "value"],
            ["EVAL_RO", "return redis.call('get',KEYS[1])", "1", "d:ro"], ["EVAL_RO", "return redis.call('set','d:ro','b')", "1", "d:ro"],
            ["EVAL_RO", "return redis.pcall('set','d:ro','b')", "1", "d:ro"], ["GET", "d:ro"],
            ["EVALSHA_RO", "ffffffffffffffffffffffffffffffffffffffff", "0"], ["EVAL_RO", "return 1", "-1"]] },
        { "lock scripts", [
            ["SET", "d:lock", "token-1", "NX", "PX", "30000"],
            ["EVAL", Release, "1", "d:lock", "other"], ["EVAL", Release, "1", "d:lock", "token-1"], ["EVAL", Release, "1", "d:lock", "token-1"],
            ["SET", "d:lock2", "token-2", "NX", "PX", "30000"],
            ["EVAL", DistributedLockExtend, "1", "d:lock2", "other", "60000"], ["EVAL", DistributedLockExtend, "1", "d:lock2", "token-2", "60000"],
            ["EVAL", DistributedLockRelease, "1", "d:lock2", "other"], ["EVAL", DistributedLockRelease, "1", "d:lock2", "token-2"],
            ["EXISTS", "d:lock", "d:lock2"]] },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Replies_match_redis_server(string name, string[][] commands)
    {
        foreach (var argv in commands)
        {
            var expected = await fixture.ToRedis.CallAsync(argv);
            var actual = await fixture.ToRaftKv.CallAsync(argv);
            Assert.True(expected.Equals(actual), $"{name}: {string.Join(' ', argv)}\n  redis:  {expected}\n  raftkv: {actual}");
        }
    }
}
