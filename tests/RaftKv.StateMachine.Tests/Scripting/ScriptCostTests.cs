using System.Buffers;
using RaftKv.StateMachine.Scripting;
using static RaftKv.StateMachine.Tests.Replies;

namespace RaftKv.StateMachine.Tests.Scripting;

/// <summary>
/// Work a script makes Lua do in C (library functions, pattern matching, heap growth) is charged to the instruction
/// budget before it is done, so no script can keep apply busy past its budget, and two replicas stop it at the same
/// point; and a script's reply nests no deeper than <see cref="ReplySerializer.MaxDepth"/>. No timing is asserted:
/// the tests check the error, that the charge follows the input, and that two stores agree.
/// </summary>
public sealed class ScriptCostTests
{
    private const long T = 1_700_000_000_000;
    private const string BudgetError = "ERR Script exceeded its instruction budget of ";

    // Each would keep every replica busy in C for seconds to forever (measured before the charges: string.rep('', 1.5e9)
    // 6.2 s; the backtracking find 25 s; the tonumber loop 10 s); now each stops at its budget.
    public static TheoryData<string> Expensive =>
    [
        "return #string.rep('', 2^62)",
        "return #string.rep('x', 2^40)",
        "return #string.rep('ab', 1e9, ',')",
        "return #string.rep('', 1.5e9)",
        "local s = '' for i = 1, 20 do s = s .. string.rep('a', 50000) end for i = 1, 1e9 do s = s:upper() s = s:lower() end",
        "local s = string.rep('a', 1e6) for i = 1, 1e9 do s:reverse() end",
        "local a, b = string.rep('x', 5e7), string.rep('x', 5e7) local n = 0 for i = 1, 1e9 do if a == b then n = n + 1 end end return n",
        "local a, b = string.rep('x', 5e7), string.rep('x', 5e7) local n = 0 for i = 1, 1e9 do if a < b or a <= b then n = n + 1 end end return n",
        "local a, b = string.rep('x', 1e5), string.rep('x', 1e5) local t = {[a] = 1} for i = 1, 1e9 do local _ = t[b] end",
        "local t = {} for i = 1, 7999 do t[i] = i end local function g(...) return 0 end local function f(...) for i = 1, 1e9 do g(...) end end f(table.unpack(t))",
        "local function g(...) return 0 end local function f(...) for i = 1, 1e9 do g(...) end end f(string.byte(string.rep('a', 7999), 1, -1))",
        "return string.find(string.rep('a', 5000), '.-.-.-b')",
        "return string.find(string.rep('a', 100000), 'a*b')",
        "return #string.gsub(string.rep('a', 100000), 'a*b', 'x')",
        "return string.match(string.rep('(', 100000), '%b()x')",
        "local n = 0 for w in string.gmatch(string.rep('a', 50000), 'a-b') do n = n + 1 end return n",
        "local s = string.rep('a', 1e6) for i = 1, 1e9 do string.find(s, 'b', 1, true) end",
        "local t = {} for i = 1, 1e5 do t[i] = 'x' end for i = 1, 1e9 do table.concat(t) end",
        "local t = {} for i = 1, 8000 do t[i] = i end for i = 1, 1e9 do local a = select('#', table.unpack(t)) end",
        "for i = 1, 1e9 do local n = select('#', table.unpack({}, 1, 7999)) end",
        "local t = {} for i = 1, 1e5 do t[i] = i end for i = 1, 1e9 do table.insert(t, 1, i) table.remove(t, 1) end",
        "local t = {} for i = 1, 2e5 do t[i] = (i * 7919) % 10007 end table.sort(t) table.sort(t, function(a, b) return a > b end) for i = 1, 1e9 do table.sort(t) end",
        "local s = string.rep(' ', 1e7) for i = 1, 1e9 do tonumber(s) end",
        "local s = string.rep('0', 1e7) for i = 1, 1e9 do local x = s + 1 end",
        "local t = {} for i = 1, 3e5 do t[i] = {} end for i = 1, 1e9 do collectgarbage() end",
        "local s = string.rep('x', 1e7) for i = 1, 1e9 do redis.sha1hex(s) end",
        "local s = string.rep('x', 1e6) for i = 1, 1e9 do redis.call('echo', s) end",
        "local s = 'return 1 --' .. string.rep('x', 1e6) for i = 1, 1e9 do load(s) end",
        "local f = string.rep('x', 1e6) for i = 1, 1e9 do string.format(f) end",
        "local s = string.rep('a', 1e6) for i = 1, 1e9 do local x = s .. 'b' end",
        "local s = string.rep('a', 7999) for i = 1, 1e9 do string.byte(s, 1, -1) end",
    ];

    [Theory]
    [MemberData(nameof(Expensive))]
    public void Work_in_C_answers_the_budget_error_identically_on_two_stores(string work)
    {
        var script = "redis.call('incr', 'before') " + work;
        var (reply, first) = RunOnTwoStores(ScriptLimits.Default, script);
        // The budget, or for work that piles up garbage faster than the collector runs, the memory cap.
        Assert.Matches("^ERR Script exceeded its (instruction budget of 100000000 instructions|memory limit of 268435456 bytes)", reply.Text);

        // The write made before the stop stays, as for any script stopped by a limit.
        Assert.Equal(Bulk("1"), first.Exec(T, "GET", "before"));
    }

    [Fact]
    public void The_charge_grows_with_the_work_so_a_smaller_budget_stops_sooner()
    {
        var small = new LuaRedis(new ScriptLimits { InstructionBudget = 1_000_000 });
        var large = new LuaRedis(new ScriptLimits { InstructionBudget = 10_000_000 });
        const string Rep = "return #string.rep('', 4000000)";
        Assert.StartsWith(BudgetError + "1000000 instructions", small.Exec(T, "EVAL", Rep, "0").Text, StringComparison.Ordinal);
        Assert.Equal(Int(0), large.Exec(T, "EVAL", Rep, "0"));
        Assert.Equal(Int(0), small.Exec(T, "EVAL", "return #string.rep('', 1000000)", "0"));

        // Pattern steps: a backtracking search that fits one budget and not the other.
        const string Find = "return string.find(string.rep('a', 1000), '.-b')";
        Assert.StartsWith(BudgetError + "1000000 instructions", small.Exec(T, "EVAL", Find, "0").Text, StringComparison.Ordinal);
        Assert.Equal(Nil, large.Exec(T, "EVAL", Find, "0"));

        // Heap growth: building 16 MB charges half a million instructions on top of the loop.
        const string Grow = "local t = {} for i = 1, 256 do t[i] = string.rep('m', 65536) .. i end return #t";
        Assert.StartsWith(BudgetError + "1000000 instructions", small.Exec(T, "EVAL", Grow, "0").Text, StringComparison.Ordinal);
        // Holding 256 strings of 64 KB, each instruction also pays for a 64 KB comparison (ScriptEngine.Comparisons).
        Assert.Equal(Int(256), new LuaRedis(new ScriptLimits { InstructionBudget = 100_000_000 }).Exec(T, "EVAL", Grow, "0"));
    }

    [Fact]
    public void Unpack_and_byte_stop_at_Redis_s_8000_values()
    {
        var redis = new LuaRedis();
        Assert.Equal(Int(7999), redis.Exec(T, "EVAL", "return select('#', table.unpack({}, 1, 7999))", "0"));
        Assert.StartsWith("ERR user_script:1: too many results to unpack", redis.Exec(T, "EVAL", "return select('#', table.unpack({}, 1, 8001))", "0").Text, StringComparison.Ordinal);
        Assert.Equal(Int(7999), redis.Exec(T, "EVAL", "return select('#', string.byte(string.rep('a', 7999), 1, -1))", "0"));
        Assert.StartsWith("ERR user_script:1: string slice too long", redis.Exec(T, "EVAL", "return select('#', string.byte(string.rep('a', 8001), 1, -1))", "0").Text, StringComparison.Ordinal);

        // A list of n >= 256 values makes every later instruction cost n / 4 more (its copies are out of sight), which
        // still leaves the common DEL of a thousand keys followed by some work well inside the budget.
        Assert.Equal(Int(10_000), redis.Exec(T, "EVAL",
            "local keys = {} for i = 1, 1000 do keys[i] = 'k' .. i end redis.call('del', unpack(keys)) local n = 0 for i = 1, 10000 do n = n + 1 end return n", "0"));
    }

    [Fact]
    public void One_big_string_costs_nothing_extra_two_pay_for_what_they_could_compare()
    {
        // One 50 MB value held (a GET of a big key): a million-iteration loop runs as it would without it.
        Assert.Equal(Int(1_000_000), new LuaRedis().Exec(T, "EVAL", "local a = string.rep('x', 5e7) local n = 0 for i = 1, 1e6 do n = n + 1 end return n", "0"));
        // Two small strings: no surcharge either.
        Assert.Equal(Int(1_000_000), new LuaRedis().Exec(T, "EVAL", "local a, b = 'abc', 'abc' local n = 0 for i = 1, 1e6 do if a == b then n = n + 1 end end return n", "0"));
        // Two 1 MB strings: each instruction costs what comparing 1 MB does, so the same loop stops at the budget.
        Assert.StartsWith(BudgetError, new LuaRedis().Exec(T, "EVAL", "local a, b = string.rep('x', 1e6), string.rep('y', 1e6) local n = 0 for i = 1, 1e6 do n = n + 1 end return n", "0").Text, StringComparison.Ordinal);
        // Once one is garbage and collected, the surcharge is gone.
        Assert.Equal(Int(1_000_000), new LuaRedis().Exec(T, "EVAL", "local a = string.rep('x', 1e6) local b = string.rep('y', 1e6) b = nil collectgarbage() local n = 0 for i = 1, 1e6 do n = n + 1 end return n", "0"));
    }

    [Fact]
    public void A_string_larger_than_the_memory_cap_is_refused_before_it_is_built()
    {
        var capped = new LuaRedis(new ScriptLimits { MemoryLimitBytes = 2 << 20 });
        Assert.StartsWith("ERR Script exceeded its memory limit of 2097152 bytes", capped.Exec(T, "EVAL", "return #string.rep('x', 3 * 1048576)", "0").Text, StringComparison.Ordinal);
        Assert.StartsWith("ERR Script exceeded its memory limit of 2097152 bytes", capped.Exec(T, "EVAL", "local s = string.rep('x', 1048576) return #string.gsub(s, 'x', 'yy')", "0").Text, StringComparison.Ordinal);
        Assert.StartsWith("ERR Script exceeded its memory limit of 2097152 bytes", capped.Exec(T, "EVAL", "return #string.gsub('x', 'x', string.rep('%0', 1048576))", "0").Text, StringComparison.Ordinal);
        Assert.Equal(Int(4), capped.Exec(T, "EVAL", "return #string.gsub('xx', 'x', 'yy')", "0"));
    }

    [Fact]
    public void Ordinary_scripts_still_work()
    {
        var redis = new LuaRedis();
        const string Release = "if redis.call('get',KEYS[1])==ARGV[1] then return redis.call('del',KEYS[1]) else return 0 end";
        redis.Exec(T, "SET", "res", "token");
        Assert.Equal(Int(0), redis.Exec(T, "EVAL", Release, "1", "res", "other"));
        Assert.Equal(Int(1), redis.Exec(T, "EVAL", Release, "1", "res", "token"));
        Assert.Equal(
            Reply.FromArray([Bulk("ABC"), Bulk("x-x-x"), Bulk("cba"), Int(3), Bulk("a,b"), Bulk("key"), Bulk("value"), Bulk("h*llo"), Int(1)]),
            redis.Exec(T, "EVAL", """
                local k, v = string.match('key=value', '(%w+)=(%w+)')
                local s, n = string.gsub('hello', 'e', '*')
                return {string.upper('abc'), string.rep('x', 3, '-'), string.reverse('abc'), #table.concat({1, 2, 3}),
                  table.concat({'a', 'b'}, ','), k, v, s, n}
                """, "0"));
    }

    // Lua 5.4's own answers (checked against the native string library before it was replaced).
    [Theory]
    [InlineData("return {string.find('hello world', '(l+)(o)')}", "[(integer) 3, (integer) 5, \"ll\", \"o\"]")]
    [InlineData("return {string.find('hello', '()ll()')}", "[(integer) 3, (integer) 4, (integer) 3, (integer) 5]")]
    [InlineData("return {string.find('a.b', '.', 1, true)}", "[(integer) 2, (integer) 2]")]
    [InlineData("return {string.find('hello', '', 7)}", "[]")]
    [InlineData("return {string.match('  trim me  ', '^%s*(.-)%s*$')}", "[\"trim me\"]")]
    [InlineData("return {string.match('f(a(b)c)d', '%b()')}", "[\"(a(b)c)\"]")]
    [InlineData("return {string.match('THE quick', '%f[%a]%a+', 4)}", "[\"quick\"]")]
    [InlineData("return {string.match('hello', '(h)(e)(l)%3')}", "[\"h\", \"e\", \"l\"]")]
    [InlineData("local r = {} for w in string.gmatch('a,b,,c', '([^,]*)') do r[#r + 1] = '<' .. w .. '>' end return table.concat(r)", "\"<a><b><><c>\"")]
    [InlineData("return {string.gsub('hello', '', '-')}", "[\"-h-e-l-l-o-\", (integer) 6]")]
    [InlineData("return {string.gsub('abc', 'b*', '-')}", "[\"-a-c-\", (integer) 3]")]
    [InlineData("return {string.gsub('abc', '()', '%1')}", "[\"1a2b3c4\", (integer) 4]")]
    [InlineData("return {string.gsub('$name is $age', '%$(%w+)', {name = 'bob', age = 3})}", "[\"bob is 3\", (integer) 2]")]
    [InlineData("return {string.gsub('hello', 'l', function(c) return c:upper() end)}", "[\"heLLo\", (integer) 2]")]
    [InlineData("return {string.gsub('aaa', '^a', 'X')}", "[\"Xaa\", (integer) 1]")]
    [InlineData("return {pcall(string.find, 'a', '[')}", "[(nil), \"malformed pattern (missing ']')\"]")]
    [InlineData("return {pcall(string.gsub, 'a', 'a', '%2')}", "[(nil), \"invalid capture index %2\"]")]
    [InlineData("return {pcall(string.match, string.rep('a', 300), string.rep('a?', 250))}", "[(nil), \"pattern too complex\"]")]
    [InlineData("return {pcall(string.match, string.rep('a', 300), string.rep('(a)', 33))}", "[(nil), \"too many captures\"]")]
    public void The_counted_matcher_answers_as_Lua(string script, string expected)
        => Assert.Equal(expected, new LuaRedis().Exec(T, "EVAL", script, "0").ToString());

    [Fact]
    public void Collectgarbage_keeps_the_options_of_Redis_Lua()
    {
        var redis = new LuaRedis();
        Assert.Equal(Int(1), redis.Exec(T, "EVAL", "collectgarbage() collectgarbage('step') return collectgarbage('count') > 0 and 1 or 0", "0"));
        Assert.StartsWith("ERR user_script:1: bad argument #1 to 'collectgarbage' (invalid option 'generational')",
            redis.Exec(T, "EVAL", "collectgarbage('generational')", "0").Text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(63)]
    [InlineData(64)]
    public void A_reply_nested_up_to_the_serializer_depth_is_answered_and_round_trips(int tables)
    {
        var (reply, _) = RunOnTwoStores(ScriptLimits.Default, $"local t = 7 for i = 1, {tables} do t = {{t}} end return t");
        Assert.True(ReplySerializer.IsWritable(reply));
        Assert.Equal(reply, ReplySerializer.Deserialize(ReplySerializer.Serialize(reply)));
        Assert.Equal(Int(7), reply.Flatten());
    }

    [Theory]
    [InlineData(65)]
    [InlineData(200)]
    public void A_reply_nested_deeper_answers_the_stack_limit_error(int tables)
    {
        var (reply, _) = RunOnTwoStores(ScriptLimits.Default, $"redis.call('incr', 'n') local t = 7 for i = 1, {tables} do t = {{t}} end return t");
        Assert.Equal(Err("ERR reached lua stack limit"), reply);
        Assert.True(ReplySerializer.IsWritable(reply));
    }

    // The same script on two stores: the same reply and the same state.
    private static (Reply Reply, LuaRedis First) RunOnTwoStores(ScriptLimits limits, string script)
    {
        var first = new LuaRedis(new ScriptLimits { InstructionBudget = limits.InstructionBudget, MemoryLimitBytes = limits.MemoryLimitBytes });
        var second = new LuaRedis(new ScriptLimits { InstructionBudget = limits.InstructionBudget, MemoryLimitBytes = limits.MemoryLimitBytes });
        var reply = first.Exec(T, "EVAL", script, "0");
        Assert.Equal(reply, second.Exec(T, "EVAL", script, "0"));
        Assert.Equal(first.Store.ComputeDigest(), second.Store.ComputeDigest());

        var image = new ArrayBufferWriter<byte>();
        first.Store.WriteSnapshot(image);
        Assert.NotEmpty(image.WrittenSpan.ToArray());
        return (reply, first);
    }
}
