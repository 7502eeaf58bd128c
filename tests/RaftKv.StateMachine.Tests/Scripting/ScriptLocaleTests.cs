using System.Runtime.InteropServices;
using RaftKv.StateMachine.Scripting;
using static RaftKv.StateMachine.Tests.Replies;

namespace RaftKv.StateMachine.Tests.Scripting;

/// <summary>
/// Lua compares strings with the C library's <c>strcoll</c> and changes case with its ctype tables, so a script's
/// answer to <c>'a' &lt; 'B'</c> would follow the process's locale, which may differ from node to node. The engine
/// puts both in the "C" locale, whatever the process had.
/// </summary>
public sealed class ScriptLocaleTests
{
    private const long T = 1_700_000_000_000;

    [Fact]
    public void An_engine_puts_collation_and_character_classes_in_the_C_locale()
    {
        Assert.NotEqual(0, LuaNative.setlocale(LuaNative.LC_COLLATE, "C.UTF-8"));
        Assert.NotEqual(0, LuaNative.setlocale(LuaNative.LC_CTYPE, "C.UTF-8"));

        var redis = new LuaRedis();
        Assert.Equal(Int(1), redis.Exec(T, "EVAL", "return 1", "0"));
        Assert.Equal("C", Marshal.PtrToStringUTF8(LuaNative.setlocale(LuaNative.LC_COLLATE, null)));
        Assert.Equal("C", Marshal.PtrToStringUTF8(LuaNative.setlocale(LuaNative.LC_CTYPE, null)));

        // Byte order, as in Redis under the C locale: 'B' (66) sorts before 'a' (97); bytes above 127 have no case.
        Assert.Equal(Reply.FromArray([Int(1), Int(0), Bulk("\u00e9")]),
            Reply.FromArray([
                redis.Exec(T, "EVAL", "return 'B' < 'a' and 1 or 0", "0"),
                redis.Exec(T, "EVAL", "return 'a' < 'B' and 1 or 0", "0"),
                redis.Exec(T, "EVAL", "return string.upper(ARGV[1])", "0", "\u00e9"),
            ]));
    }
}
