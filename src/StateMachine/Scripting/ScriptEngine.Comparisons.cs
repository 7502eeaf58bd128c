using static RaftKv.StateMachine.Scripting.LuaNative;

namespace RaftKv.StateMachine.Scripting;

/// <summary>
/// The cost of comparing long strings, which happens inside single VM instructions (<c>==</c>: <c>memcmp</c>; <c>&lt;</c>,
/// <c>&lt;=</c>: <c>strcoll</c>) where no wrapper reaches: a loop comparing two distinct equal 50 MB strings held a
/// replica for minutes on one instruction budget. One comparison reads at most the shorter string, so while a script
/// holds two or more long strings every VM instruction costs, on top of itself, the length of the second-longest of
/// them divided by <see cref="ComparedBytesPerInstruction"/> — what a comparison of that length costs measured in VM
/// instructions. A script holding one big value (a <c>GET</c> of a large key) pays nothing extra; one holding two
/// pays for what it could compare.
/// </summary>
/// <remarks>
/// The allocator sees every new long string (a new block whose "old size" is Lua's type tag <c>LUA_TSTRING</c>) and
/// every freed block, in an order that is the same on every replica, so the surcharge — and the point where a script
/// stops — is too. When the surcharge rises, the count hook is re-armed at once (the quantum in progress is charged in
/// full at the old rate, never less), so the expensive instructions are counted from the next one on.
/// </remarks>
internal sealed unsafe partial class ScriptEngine
{
    // luaC_newobj passes novariant(tag) as the old size of a new object: LUA_TSTRING for short and long strings alike
    // (short ones are at most 40 bytes, under TrackedStringBytes).
    private const int StringTag = LUA_TSTRING;

    // Below this a comparison costs a few VM instructions' time at most; not worth tracking.
    private const long TrackedStringBytes = 256;

    // memcmp reads about 16 bytes per ns here; one VM instruction is about 4 ns.
    private const long ComparedBytesPerInstruction = 64;

    private readonly Dictionary<nint, long> longStrings = [];
    private readonly SortedSet<(long Length, nint Block)> longStringsBySize = [];
    // Varargs: f(...) copies every value of the vararg list inside one VM instruction. Only unpack and string.byte
    // make lists longer than a function's 255 registers (at most 8000 values, Redis's limit), so once a script has
    // made one of n >= 256 values, every instruction also costs n / 4 (16-byte values, about 4 per instruction's
    // time) for the rest of the run: the list may be passed on from call to call, out of sight.
    private const long SpreadValuesTracked = 256;
    private const long SpreadValuesPerInstruction = 4;

    private bool trackingStrings;
    private long comparisonSurcharge;
    private long spreadSurcharge;

    /// <summary>Extra instructions each VM instruction costs now (see the type's remarks).</summary>
    internal long Surcharge => comparisonSurcharge + spreadSurcharge;

    /// <summary>The prelude's <c>unpack</c> and <c>string.byte</c> report how many values they are about to return.</summary>
    private void NoteSpread(long values)
    {
        if (values < SpreadValuesTracked)
            return;
        var previous = Surcharge;
        spreadSurcharge = Math.Max(spreadSurcharge, values / SpreadValuesPerInstruction);
        Rearm(previous);
    }

    private void StartStringTracking()
    {
        longStrings.Clear();
        longStringsBySize.Clear();
        comparisonSurcharge = spreadSurcharge = 0;
        trackingStrings = true;
    }

    private void StopStringTracking()
    {
        trackingStrings = false;
        longStrings.Clear();
        longStringsBySize.Clear();
        comparisonSurcharge = spreadSurcharge = 0;
    }

    // From OnAllocate, after the arena answered.
    private void TrackBlock(nint block, nuint oldSize, nuint newSize, nint result)
    {
        if (!trackingStrings)
            return;
        if (block != 0 && longStrings.Count != 0 && longStrings.Remove(block, out var length))
        {
            longStringsBySize.Remove((length, block));
            UpdateSurcharge();
        }

        if (block == 0 && result != 0 && (int)oldSize == StringTag && (long)newSize >= TrackedStringBytes)
        {
            longStrings[result] = (long)newSize;
            longStringsBySize.Add(((long)newSize, result));
            UpdateSurcharge();
        }
    }

    private void UpdateSurcharge()
    {
        var second = 0L;
        if (longStringsBySize.Count >= 2)
        {
            using var descending = longStringsBySize.Reverse().GetEnumerator();
            descending.MoveNext();
            descending.MoveNext();
            second = descending.Current.Length;
        }

        var previous = Surcharge;
        comparisonSurcharge = second / ComparedBytesPerInstruction;
        Rearm(previous);
    }

    // When the surcharge rose from previous: the stretch in progress is charged in full at the old rate, and the hook
    // counts at the new one from the next instruction.
    private void Rearm(long previous)
    {
        if (Surcharge <= previous || !running || budgetExceeded)
            return;
        instructionsLeft -= quantum * (1 + previous);
        ArmCountHook();
    }

    // Sets the count hook for the next stretch: as many instructions as the budget pays for at the current rate.
    private void ArmCountHook()
    {
        if (instructionsLeft <= 0)
        {
            StopForBudget();
            return;
        }

        quantum = (int)Math.Clamp(instructionsLeft / (1 + Surcharge), 1, HookQuantum);
        lua_sethook(state, (nint)(delegate* unmanaged[Cdecl]<nint, nint, void>)&CountHook, LUA_MASKCOUNT, quantum);
    }
}
