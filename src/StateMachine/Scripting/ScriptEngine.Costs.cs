using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static RaftKv.StateMachine.Scripting.LuaNative;

namespace RaftKv.StateMachine.Scripting;

// Work done in C, where the count hook cannot see it, charged to the instruction budget before it is done: a charge
// depends only on the arguments (or on the allocation sequence, itself the same everywhere), so every replica stops a
// script at the same point. The cost model is in src/StateMachine/Scripting/README.md.
internal sealed unsafe partial class ScriptEngine
{
    /// <summary>Bytes of heap growth charged as one instruction (copying into a new block is what follows it).</summary>
    internal const int AllocationBytesPerInstruction = 32;

    /// <summary>What entering a managed primitive costs (the call and the API around it), in instructions.</summary>
    internal const int CallCost = 16;

    private long allocationCarry;

    // Called by OnAllocate for every block that grows while a script runs. False: refuse the allocation (Lua raises a
    // memory error after the allocator returned; the run reports the budget).
    private bool ChargeAllocation(long growth)
    {
        allocationCarry += growth;
        if (allocationCarry < AllocationBytesPerInstruction)
            return true;
        var instructions = allocationCarry / AllocationBytesPerInstruction;
        allocationCarry %= AllocationBytesPerInstruction;
        return Charge(instructions);
    }

    /// <summary>Takes <paramref name="instructions"/> from the budget; false (and the script stops) when it runs out.</summary>
    private bool Charge(long instructions)
    {
        if (budgetExceeded)
            return false;
        instructionsLeft -= instructions;
        if (instructionsLeft >= 0)
            return true;
        StopForBudget();
        return false;
    }

    // As when the count hook finds the budget spent: every further instruction raises, so the script unwinds from the
    // charged call and a pcall that catches the error gets no further.
    private void StopForBudget()
    {
        budgetExceeded = true;
        if (running)
            lua_sethook(state, ErrorHook, LUA_MASKCOUNT, 1);
    }

    private static long ToCost(double cost)
        => double.IsNaN(cost) ? 0 : cost >= long.MaxValue ? long.MaxValue : cost <= 0 ? 0 : (long)Math.Ceiling(cost);

    /// <summary>
    /// <c>rawcharge(n [, values])</c>: the prelude charges the work of a library function before calling it; <c>values</c>,
    /// when given, is how many values it is about to return (see <see cref="NoteSpread"/>).
    /// </summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int RawCharge(nint luaState)
    {
        try
        {
            var cost = lua_isinteger(luaState, 1) != 0 ? lua_tointegerx(luaState, 1, null) : ToCost(lua_tonumberx(luaState, 1, null));
            var engine = EngineOf(luaState);
            if (engine.Charge(Math.Max(cost, 0)) && lua_isinteger(luaState, 2) != 0)
                engine.NoteSpread(lua_tointegerx(luaState, 2, null));
        }
        catch
        {
            // Nothing here can fail.
        }

        return 0;
    }

    private const int FindMode = 0;
    private const int FindPlainMode = 4;
    private const int GmatchMode = 2;
    private const int GsubMode = 3;

    /// <summary>
    /// <c>rawmatch(s, p, init, mode, lastmatch)</c>: one search of <see cref="LuaPattern"/> from the 1-based
    /// <c>init</c> (the prelude has checked the arguments). Answers nil when nothing matches (or the script was stopped),
    /// <c>false, message</c> for a bad pattern, or the match's start, end and captures: for <c>find</c> only explicit
    /// captures, otherwise the whole match when the pattern has none.
    /// </summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int RawMatch(nint luaState) => InApi(luaState, &MatchOf);

    private static int MatchOf(ScriptEngine engine, nint luaState) => engine.Match(luaState);

    // A primitive's body, run against the engine with the API entered; anything it throws answers nil (the prelude
    // treats nil as "stopped": the budget or memory error is already set).
    private static int InApi(nint luaState, delegate*<ScriptEngine, nint, int> body)
    {
        var engine = EngineOf(luaState);
        var previous = engine.active;
        engine.active = luaState;
        engine.EnterApi();
        try
        {
            return body(engine, luaState);
        }
        catch
        {
            lua_settop(luaState, 0);
            lua_pushnil(luaState);
            return 1;
        }
        finally
        {
            engine.LeaveApi();
            engine.active = previous;
        }
    }

    private int Match(nint luaState)
    {
        nuint subjectLength, patternLength;
        var subject = lua_tolstring(luaState, 1, &subjectLength);
        var pattern = lua_tolstring(luaState, 2, &patternLength);
        var from = lua_tointegerx(luaState, 3, null) - 1;
        var mode = (int)lua_tointegerx(luaState, 4, null);
        var lastMatch = lua_tointegerx(luaState, 5, null);
        if (!Charge(CallCost))
            return Stopped(luaState, memory: false);
        var matcher = new LuaPattern(subject, (long)subjectLength, pattern, (long)patternLength, Math.Max(instructionsLeft, 0));
        long start, end;
        bool found;
        try
        {
            if (mode == FindPlainMode || (mode == FindMode && LuaPattern.HasNoSpecials(new ReadOnlySpan<byte>(pattern, checked((int)patternLength)))))
            {
                start = matcher.PlainFind(from, new ReadOnlySpan<byte>(pattern, checked((int)patternLength)));
                Charge(matcher.StepsTaken);
                lua_settop(luaState, 0);
                if (start < 0)
                {
                    lua_pushnil(luaState);
                    return 1;
                }

                lua_pushinteger(luaState, start + 1);
                lua_pushinteger(luaState, start + (long)patternLength);
                return 2;
            }

            var anchor = mode != GmatchMode && patternLength > 0 && pattern[0] == '^';
            found = matcher.Search(from, anchor ? 1 : 0, anchor, lastMatch, out start, out end);
        }
        catch (LuaPatternException e)
        {
            return PatternFailed(luaState, matcher, e);
        }

        Charge(matcher.StepsTaken);
        if (!found)
        {
            lua_settop(luaState, 0);
            lua_pushnil(luaState);
            return 1;
        }

        // Captures are read before the stack is cleared: the subject stays alive while they are copied.
        var count = matcher.Level == 0 && mode != FindMode ? 1 : matcher.Level;
        var captures = new (long Start, long Length)[count];
        long bytes = 0;
        try
        {
            for (var i = 0; i < count; i++)
            {
                captures[i] = matcher.Capture(i, start, end);
                bytes += LuaArena.BlockSize(Math.Max(captures[i].Length, 0) + 25) + 16;
            }
        }
        catch (LuaPatternException e)
        {
            lua_settop(luaState, 2);
            lua_pushboolean(luaState, 0);
            PushBytes(System.Text.Encoding.UTF8.GetBytes(e.Message));
            return 2;
        }

        if (arena.Used + bytes > arena.Limit || lua_checkstack(luaState, count + 4) == 0)
        {
            StopForMemory();
            lua_settop(luaState, 0);
            lua_pushnil(luaState);
            return 1;
        }

        var top = lua_gettop(luaState);
        lua_pushinteger(luaState, start + 1);
        lua_pushinteger(luaState, end);
        foreach (var (captureStart, length) in captures)
        {
            if (length == LuaPattern.CapturePosition)
                lua_pushinteger(luaState, captureStart + 1);
            else
                lua_pushlstring(luaState, subject + captureStart, (nuint)length);
        }

        return lua_gettop(luaState) - top;
    }

    /// <summary>
    /// <c>rawgsub(s, p, repl, max)</c>: <c>string.gsub</c> with a string replacement, whole. Answers the result and
    /// the count, <c>false, message</c> for a bad pattern or replacement, or nil when the script was stopped.
    /// </summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int RawGsub(nint luaState) => InApi(luaState, &GsubOf);

    private static int GsubOf(ScriptEngine engine, nint luaState) => engine.Gsub(luaState);

    private int Gsub(nint luaState)
    {
        nuint subjectLength, patternLength, replacementLength;
        var subject = lua_tolstring(luaState, 1, &subjectLength);
        var pattern = lua_tolstring(luaState, 2, &patternLength);
        var replacementPointer = lua_tolstring(luaState, 3, &replacementLength);
        var replacement = new ReadOnlySpan<byte>(replacementPointer, checked((int)replacementLength));
        var max = lua_tointegerx(luaState, 4, null);
        var length = (long)subjectLength;
        if (!Charge(CallCost))
            return Stopped(luaState, memory: false);
        var anchor = patternLength > 0 && pattern[0] == '^';
        var matcher = new LuaPattern(subject, length, pattern, (long)patternLength, Math.Max(instructionsLeft, 0));
        var output = new ArrayBufferWriter<byte>();
        long position = 0, lastMatch = -1, count = 0, copied = 0;
        try
        {
            while (count < max)
            {
                if (!matcher.Search(position, anchor ? 1 : 0, anchor: true, lastMatch, out var start, out var end))
                {
                    if (position >= length)
                        break;
                    position++;
                }
                else
                {
                    count++;
                    Append(matcher, output, subject + copied, position - copied);
                    AddReplacement(matcher, output, subject, replacement, start, end);
                    position = lastMatch = copied = end;
                }

                if (anchor)
                    break;
            }
        }
        catch (LuaPatternException e)
        {
            if (e.OutOfMemory)
            {
                Charge(matcher.StepsTaken);
                return Stopped(luaState, memory: true);
            }

            return PatternFailed(luaState, matcher, e);
        }

        try
        {
            Append(matcher, output, subject + copied, length - copied);
        }
        catch (LuaPatternException e)
        {
            Charge(e.OutOfSteps ? matcher.StepsAllowed + 1 : matcher.StepsTaken);
            return Stopped(luaState, memory: e.OutOfMemory);
        }

        if (!Charge(matcher.StepsTaken))
            return Stopped(luaState, memory: false);
        if (arena.Used + LuaArena.BlockSize(output.WrittenCount + 25) + 16 > arena.Limit)
            return Stopped(luaState, memory: true);

        lua_settop(luaState, 0);
        PushBytes(output.WrittenSpan);
        lua_pushinteger(luaState, count);
        return 2;
    }

    // A matcher that ran out of steps or met a malformed pattern: its steps are charged and the prelude's wrapper gets
    // nil (out of steps: the charge spent the budget, so the script stops at its next instruction) or false and the
    // pattern's error, which it raises.
    private int PatternFailed(nint luaState, LuaPattern matcher, LuaPatternException e)
    {
        Charge(e.OutOfSteps ? matcher.StepsAllowed + 1 : matcher.StepsTaken);
        lua_settop(luaState, 0);
        if (e.OutOfSteps)
        {
            lua_pushnil(luaState);
            return 1;
        }

        lua_pushboolean(luaState, 0);
        PushBytes(System.Text.Encoding.UTF8.GetBytes(e.Message));
        return 2;
    }

    private int Stopped(nint luaState, bool memory)
    {
        if (memory)
            StopForMemory();
        lua_settop(luaState, 0);
        lua_pushnil(luaState);
        return 1;
    }

    // Output bytes are charged as they are produced, and refused beyond the memory cap before they are copied.
    private void Append(LuaPattern matcher, ArrayBufferWriter<byte> output, byte* from, long count)
    {
        if (count <= 0)
            return;
        matcher.Charge(count / AllocationBytesPerInstruction);
        if (output.WrittenCount + count > limits.MemoryLimitBytes)
            throw new LuaPatternException(null, memory: true);
        output.Write(new ReadOnlySpan<byte>(from, checked((int)count)));
    }

    // Lua's add_s: %0 the match, %1-%9 a capture (a position as its number), %% a percent sign.
    private void AddReplacement(LuaPattern matcher, ArrayBufferWriter<byte> output, byte* subject, ReadOnlySpan<byte> replacement, long start, long end)
    {
        while (true)
        {
            var escape = replacement.IndexOf((byte)'%');
            fixed (byte* text = replacement)
                Append(matcher, output, text, escape < 0 ? replacement.Length : escape);
            if (escape < 0)
                return;

            var next = escape + 1 < replacement.Length ? replacement[escape + 1] : (byte)0;
            if (next == '%')
            {
                fixed (byte* text = "%"u8)
                    Append(matcher, output, text, 1);
            }
            else if (next == '0')
            {
                Append(matcher, output, subject + start, end - start);
            }
            else if (next is >= (byte)'1' and <= (byte)'9')
            {
                var (captureStart, length) = matcher.Capture(next - '1', start, end);
                if (length == LuaPattern.CapturePosition)
                {
                    var digits = System.Text.Encoding.ASCII.GetBytes((captureStart + 1).ToString(CultureInfo.InvariantCulture));
                    fixed (byte* text = digits)
                        Append(matcher, output, text, digits.Length);
                }
                else
                    Append(matcher, output, subject + captureStart, length);
            }
            else
            {
                throw new LuaPatternException("invalid use of '%' in replacement string");
            }

            replacement = replacement[Math.Min(escape + 2, replacement.Length)..];
        }
    }
}
