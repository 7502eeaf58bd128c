using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using static RaftKv.StateMachine.Scripting.LuaNative;

namespace RaftKv.StateMachine.Scripting;

/// <summary>
/// One Lua 5.4 state that runs scripts one at a time, each from the same image: the runtime built by
/// <see cref="ScriptPrelude"/>, copied back before every run, so nothing one script does can reach the next one and
/// a replica that restarted or restored a snapshot runs a script exactly as one that ran a thousand before it.
/// </summary>
/// <remarks>
/// <para>
/// Determinism beyond the image: the string hash seed, which Lua 5.4 draws from the clock and addresses, is fixed
/// (see <see cref="PatchSeed"/>); memory comes from a <see cref="LuaArena"/>, which makes addresses (the hash of
/// tables used as keys) identical relative to a 4 GiB-aligned base; the instruction budget and the memory cap stop a
/// script at the same instruction or allocation on every replica.
/// </para>
/// <para>
/// Native safety: a Lua error is a <c>longjmp</c>. Managed callbacks never raise one: they catch every exception and
/// report errors through return values that Lua code in the prelude raises. Allocations made while managed code calls
/// the Lua API cannot fail (<see cref="LuaArena.Unbounded"/>, after an estimate checked against the cap), so no memory
/// error can raise through a managed frame either. A runaway script is stopped by swapping the count hook for
/// <c>lua_error</c> itself, called by Lua directly, so the jump crosses native frames only.
/// </para>
/// Not thread-safe: one run at a time.
/// </remarks>
internal sealed unsafe partial class ScriptEngine : IDisposable
{
    private const int HookQuantum = 10_000;
    private const int GlobalsSlot = 16;
    private const uint FixedSeed = 0x52414654; // "RAFT"
    private const int MaxReplyDepth = 1000;

    private static readonly nint ErrorHook = Export("lua_error");
    private static readonly string[] Openers = ["luaopen_base", "luaopen_string", "luaopen_table", "luaopen_math", "luaopen_coroutine", "luaopen_debug"];
    private static readonly byte[] UserScriptSource = "@user_script\0"u8.ToArray();
    private static readonly byte[] TextMode = "t\0"u8.ToArray();
    private static readonly byte[] BinaryMode = "b\0"u8.ToArray();
    private static readonly byte[] InfoWhat = "Sl\0"u8.ToArray();

    private readonly LuaArena arena;
    private readonly ScriptLimits limits;
    private readonly GCHandle self;
    private readonly ArrayBufferWriter<byte> dump = new();
    private nint state;

    // The Lua thread managed code is working on: the main one, or the coroutine a runtime function runs in.
    private nint active;
    private int allocations;
    private bool seedPatched;
    private bool disposed;

    // The run in progress.
    private ScriptCallContext call;
    private Rand48 random;
    private long instructionsLeft;
    private int quantum;
    private bool running;
    private bool budgetExceeded;
    private bool memoryExceeded;
    private int errorLine;

    /// <summary>Builds the runtime and takes its image.</summary>
    /// <exception cref="InvalidOperationException">Lua could not be set up deterministically here.</exception>
    public ScriptEngine(ScriptLimits limits)
    {
        this.limits = limits;
        arena = new LuaArena((limits.MemoryLimitBytes * 2) + (64L << 20));
        self = GCHandle.Alloc(this, GCHandleType.Weak);
        try
        {
            Build();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Heap bytes of the runtime every script starts from (the image).</summary>
    public long BaselineBytes => arena.ImageUsed;

    /// <summary>
    /// Puts the C library's collation and character classes in the "C" locale: otherwise a node
    /// started under, say, <c>LANG=en_US.UTF-8</c> (if anything in the process called <c>setlocale(LC_ALL, "")</c>)
    /// would answer <c>'a' &lt; 'B'</c> or <c>string.upper</c> of a byte above 127 differently from a node in the C
    /// locale, and replicas would diverge. Process-wide, but .NET's own culture support does not use the C locale. Set
    /// at every build of an engine's image (cheap, and robust to anything that changed it since).
    /// </summary>
    internal static void UseCLocale()
    {
        if (!OperatingSystem.IsLinux())
            return;
        if (setlocale(LC_COLLATE, "C") == 0 || setlocale(LC_CTYPE, "C") == 0)
            throw new InvalidOperationException("setlocale(\"C\") failed: Lua's string comparison would depend on the process's locale.");
    }

    private void Build()
    {
        UseCLocale();
        arena.Reset();
        arena.Unbounded = true;
        state = lua_newstate(&Allocate, GCHandle.ToIntPtr(self));
        if (state == 0)
            throw new InvalidOperationException("lua_newstate failed.");
        if (!seedPatched)
            throw new InvalidOperationException("Could not fix Lua's string hash seed: unknown Lua build (expected 5.4, LP64).");
        active = state;

        // LUA_EXTRASPACE: the pointer-sized block before the state, where callbacks find their engine.
        *(nint*)(state - sizeof(nint)) = GCHandle.ToIntPtr(self);

        var source = Encoding.UTF8.GetBytes(ScriptPrelude.Source);
        var name = Encoding.UTF8.GetBytes(ScriptPrelude.ChunkName + "\0");
        fixed (byte* text = source)
        fixed (byte* chunk = name)
        fixed (byte* mode = TextMode)
        {
            if (luaL_loadbufferx(state, text, (nuint)source.Length, chunk, mode) != LUA_OK)
                throw new InvalidOperationException("The script runtime does not compile: " + TopString());
        }

        foreach (var opener in Openers)
            lua_pushcclosure(state, Export(opener), 0);
        lua_pushcclosure(state, (nint)(delegate* unmanaged[Cdecl]<nint, int>)&RedisCall, 0);
        lua_pushcclosure(state, (nint)(delegate* unmanaged[Cdecl]<nint, int>)&RedisPCall, 0);
        lua_pushcclosure(state, (nint)(delegate* unmanaged[Cdecl]<nint, int>)&Sha1Hex, 0);
        lua_pushcclosure(state, (nint)(delegate* unmanaged[Cdecl]<nint, int>)&SetResp, 0);
        lua_pushcclosure(state, (nint)(delegate* unmanaged[Cdecl]<nint, int>)&Random, 0);
        lua_pushcclosure(state, (nint)(delegate* unmanaged[Cdecl]<nint, int>)&RandomSeed, 0);
        lua_pushcclosure(state, (nint)(delegate* unmanaged[Cdecl]<nint, int>)&IsCommand, 0);
        lua_pushcclosure(state, (nint)(delegate* unmanaged[Cdecl]<nint, int>)&InArena, 0);
        lua_pushcclosure(state, (nint)(delegate* unmanaged[Cdecl]<nint, int>)&RawCharge, 0);
        lua_pushcclosure(state, (nint)(delegate* unmanaged[Cdecl]<nint, int>)&RawMatch, 0);
        lua_pushcclosure(state, (nint)(delegate* unmanaged[Cdecl]<nint, int>)&RawGsub, 0);
        lua_pushcclosure(state, (nint)(delegate* unmanaged[Cdecl]<nint, int>)&AclCheckCommand, 0);
        if (lua_pcallk(state, Openers.Length + 12, 2, 0, 0, 0) != LUA_OK)
            throw new InvalidOperationException("The script runtime failed to start: " + TopString());

        var globals = lua_gettop(state) - 1;
        BoxLightFunctions(globals);
        foreach (var library in new[] { "string"u8.ToArray(), "table"u8.ToArray(), "math"u8.ToArray(), "redis"u8.ToArray() })
        {
            PushBytes(library);
            lua_rawget(state, globals);
            BoxLightFunctions(lua_gettop(state));
            lua_settop(state, -2);
        }

        // Scripts and whatever they load() see the proxy as their environment; the engine keeps the real globals.
        lua_rawseti(state, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
        lua_rawseti(state, LUA_REGISTRYINDEX, GlobalsSlot);
        lua_settop(state, 0);
        lua_gc(state, LUA_GCCOLLECT, 0);
        arena.CaptureImage();
        arena.Unbounded = false;
    }

    /// <summary>
    /// Library functions are light C functions, hashed by their address in the loaded library when used as table keys;
    /// that address differs between processes. The same functions as C closures (with an unused upvalue) are objects
    /// in the arena, whose hash is the same on every replica.
    /// </summary>
    private void BoxLightFunctions(int table)
    {
        lua_pushnil(state);
        while (lua_next(state, table) != 0)
        {
            if (lua_iscfunction(state, -1) == 0)
            {
                lua_settop(state, -2);
            }
            else if (lua_getupvalue(state, -1, 1) != null)
            {
                // A closure already (lua_getupvalue pushed its first upvalue): drop both.
                lua_settop(state, -3);
            }
            else
            {
                var function = lua_tocfunction(state, -1);
                lua_settop(state, -2);
                lua_pushvalue(state, -1);
                lua_pushnil(state);
                lua_pushcclosure(state, function, 1);
                lua_rawset(state, table);
            }
        }
    }

    /// <summary>
    /// Compiles a script body; returns its bytecode, or null with Lua's message (<c>user_script:1: ...</c>).
    /// Compiling under the memory cap from the image makes the outcome identical on every replica.
    /// </summary>
    public byte[]? Compile(ReadOnlySpan<byte> body, out string? error)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        arena.Restore();
        arena.Limit = arena.ImageUsed + limits.MemoryLimitBytes;
        int status;
        fixed (byte* text = body)
        fixed (byte* chunk = UserScriptSource)
        fixed (byte* mode = TextMode)
        {
            status = luaL_loadbufferx(state, text, (nuint)body.Length, chunk, mode);
        }

        if (status != LUA_OK)
        {
            arena.Unbounded = true;
            error = status == LUA_ERRMEM ? "not enough memory" : TopString();
            arena.Unbounded = false;
            return null;
        }

        dump.ResetWrittenCount();
        lua_dump(state, &WriteDump, GCHandle.ToIntPtr(self), 0);
        error = null;
        return dump.WrittenSpan.ToArray();
    }

    /// <summary>Runs compiled bytecode as <c>EVAL</c> does, against <paramref name="context"/>.</summary>
    public Reply Run(byte[] bytecode, in ScriptCallContext context)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        arena.Restore();
        arena.Limit = arena.ImageUsed + limits.MemoryLimitBytes;
        call = context;
        database = context.Database;
        protocol = 2;
        random.Seed(0);
        instructionsLeft = limits.InstructionBudget;
        allocationCarry = 0;
        budgetExceeded = memoryExceeded = replyTooDeep = false;
        errorLine = -1;
        StartStringTracking();
        try
        {
            return Execute(bytecode);
        }
        finally
        {
            StopStringTracking();
            running = false;
            lua_sethook(state, 0, 0, 0);
            arena.Unbounded = false;
            call = default;
        }
    }

    private Reply Execute(byte[] bytecode)
    {
        // Index 1: the message handler, which notes the user script line an error came from.
        lua_pushcclosure(state, (nint)(delegate* unmanaged[Cdecl]<nint, int>)&MessageHandler, 0);
        int status;
        fixed (byte* code = bytecode)
        fixed (byte* chunk = UserScriptSource)
        fixed (byte* mode = BinaryMode)
        {
            status = luaL_loadbufferx(state, code, (nuint)bytecode.Length, chunk, mode);
        }

        if (status != LUA_OK)
            return MemoryLimitError();

        if (arena.Used + EstimateArguments(call.Keys) + EstimateArguments(call.Arguments) > arena.Limit)
            return MemoryLimitError();

        EnterApi();
        lua_rawgeti(state, LUA_REGISTRYINDEX, GlobalsSlot);
        SetArray("KEYS"u8, call.Keys);
        SetArray("ARGV"u8, call.Arguments);
        lua_settop(state, 2);
        LeaveApi();
        if (memoryExceeded)
            return MemoryLimitError();

        ArmCountHook();
        running = true;
        status = lua_pcallk(state, 0, 1, 1, 0, 0);
        running = false;
        lua_sethook(state, 0, 0, 0);

        EnterApi();
        if (budgetExceeded)
            return WithLocation($"ERR Script exceeded its instruction budget of {limits.InstructionBudget} instructions");
        if (memoryExceeded || status == LUA_ERRMEM)
            return MemoryLimitError();
        if (status != LUA_OK)
            return ErrorReply();
        var reply = ToReply(-1, 0);
        return replyTooDeep ? ReplyTooDeep : reply;
    }

    private Reply MemoryLimitError() => WithLocation($"ERR Script exceeded its memory limit of {limits.MemoryLimitBytes} bytes");

    private Reply WithLocation(string message)
        => Reply.Error(errorLine >= 0 ? $"{message} script: {call.Sha}, on @user_script:{errorLine}." : message);

    // Redis 7's error-handler format: the 'err' text of an error table, or "ERR " and the error as a string.
    private Reply ErrorReply()
    {
        string message;
        switch (lua_type(state, -1))
        {
            case LUA_TTABLE:
                message = RawField(-1, "err"u8) is { } text ? text : "ERR unknown error";
                break;
            case LUA_TSTRING:
                message = "ERR " + TopString();
                break;
            case LUA_TNUMBER:
                message = "ERR " + LuaNumberText(-1);
                break;
            case LUA_TBOOLEAN:
                message = lua_toboolean(state, -1) != 0 ? "ERR true" : "ERR false";
                break;
            case LUA_TNIL:
                message = "ERR nil";
                break;
            default:
                message = "ERR " + TypeName(lua_type(state, -1));
                break;
        }

        return WithLocation(message);
    }

    private static string TypeName(int type) => type switch
    {
        LUA_TLIGHTUSERDATA or 7 => "userdata",
        6 => "function",
        8 => "thread",
        _ => "value",
    };

    // Allocation is allowed to exceed the cap while managed code calls the Lua API (see LuaArena.Unbounded), and the
    // collector is paused so that no finalizer runs Lua code under a managed frame.
    private bool gcWasRunning;

    private void EnterApi()
    {
        arena.Unbounded = true;
        gcWasRunning = lua_gc(state, LUA_GCISRUNNING, 0) != 0;
        if (gcWasRunning)
            lua_gc(state, LUA_GCSTOP, 0);
    }

    private void LeaveApi()
    {
        if (gcWasRunning)
            lua_gc(state, LUA_GCRESTART, 0);
        arena.Unbounded = false;
        if (arena.Used > arena.Limit)
            StopForMemory();
    }

    private void StopForMemory()
    {
        memoryExceeded = true;
        if (running)
            lua_sethook(state, ErrorHook, LUA_MASKCOUNT, 1);
    }

    private void SetArray(ReadOnlySpan<byte> name, byte[][] values)
    {
        PushBytes(name);
        lua_createtable(active, values.Length, 0);
        for (var i = 0; i < values.Length; i++)
        {
            PushBytes(values[i]);
            lua_rawseti(active, -2, i + 1);
        }

        lua_rawset(active, -3);
    }

    // Strings, a table header and array slots, rounded to the arena's classes, with room for the string table to grow.
    private static long EstimateArguments(byte[][] values)
    {
        var total = 128L + LuaArena.BlockSize(16L * values.Length);
        foreach (var value in values)
            total += LuaArena.BlockSize(value.Length + 25) + 16;
        return total;
    }

    private void PushBytes(ReadOnlySpan<byte> bytes)
    {
        fixed (byte* pointer = bytes)
            lua_pushlstring(active, pointer, (nuint)bytes.Length);
    }

    private string TopString()
    {
        if (lua_type(state, -1) != LUA_TSTRING)
            return "(non-string error)";
        nuint length;
        var text = lua_tolstring(state, -1, &length);
        return Encoding.UTF8.GetString(text, (int)length);
    }

    /// <summary>Reads <c>t[name]</c> without metamethods; null unless it is a string.</summary>
    private string? RawField(int index, ReadOnlySpan<byte> name)
    {
        index = index < 0 ? lua_gettop(state) + index + 1 : index;
        PushBytes(name);
        var type = lua_rawget(state, index);
        string? value = null;
        if (type == LUA_TSTRING)
        {
            nuint length;
            var text = lua_tolstring(state, -1, &length);
            value = Encoding.UTF8.GetString(text, (int)length);
        }

        lua_settop(state, -2);
        return value;
    }

    private string LuaNumberText(int index)
    {
        if (lua_isinteger(state, index) != 0)
            return lua_tointegerx(state, index, null).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return LuaFormat.G(lua_tonumberx(state, index, null), 14);
    }

    private static ScriptEngine EngineOf(nint luaState)
        => (ScriptEngine)GCHandle.FromIntPtr(*(nint*)(luaState - sizeof(nint))).Target!;

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static nint Allocate(nint userData, nint block, nuint oldSize, nuint newSize)
    {
        try
        {
            var engine = (ScriptEngine)GCHandle.FromIntPtr(userData).Target!;
            return engine.OnAllocate(block, oldSize, newSize);
        }
        catch
        {
            // A failed allocation is a Lua memory error, raised by Lua after this frame has returned.
            return 0;
        }
    }

    private nint OnAllocate(nint block, nuint oldSize, nuint newSize)
    {
        if (!seedPatched && ++allocations == 2)
            PatchSeed();

        // Growth is charged to the budget before Lua fills the block. (With no block, oldSize is a type tag, not a size.)
        var growth = (long)newSize - (block == 0 ? 0 : (long)oldSize);
        if (running && growth > 0 && !ChargeAllocation(growth) && !arena.Unbounded)
            return 0;

        var result = arena.Reallocate(block, oldSize, newSize);
        TrackBlock(block, oldSize, newSize, result);
        if (result == 0 && newSize > 0)
            StopForMemory();
        else if (allocations == 1 && block == 0)
            firstBlock = result;
        return result;
    }

    private nint firstBlock;

    /// <summary>
    /// Lua 5.4 seeds its string hash from the clock and from addresses (<c>luai_makeseed</c>), so the iteration order
    /// of string-keyed tables, and even when a table grows, would differ between replicas. <c>lua_newstate</c> stores
    /// the seed in <c>global_State</c> and creates the first string only after its second allocation: at that moment
    /// this finds the structure (its <c>frealloc</c> and <c>ud</c> fields hold our values, followed by the fields
    /// <c>lua_newstate</c> has just zeroed) and overwrites the seed with a constant.
    /// </summary>
    private void PatchSeed()
    {
        var allocator = (nint)(delegate* unmanaged[Cdecl]<nint, nint, nuint, nuint, nint>)&Allocate;
        var userData = GCHandle.ToIntPtr(self);
        var block = (byte*)firstBlock;
        for (var offset = 0; offset <= 1024; offset += sizeof(nint))
        {
            var g = block + offset;
            // global_State (5.4, LP64): frealloc, ud, totalbytes, GCdebt, GCestimate, lastatomic, strt{hash,nuse,size},
            // l_registry (nil), nilvalue (integer 0 until the state is complete), seed.
            if (*(nint*)g == allocator && *(nint*)(g + 8) == userData && *(nint*)(g + 48) == 0 && *(long*)(g + 56) == 0
                && g[72] == 0 && g[88] == 3)
            {
                *(uint*)(g + 96) = FixedSeed;
                seedPatched = true;
                return;
            }
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int WriteDump(nint luaState, byte* data, nuint size, nint userData)
    {
        try
        {
            var engine = (ScriptEngine)GCHandle.FromIntPtr(userData).Target!;
            engine.dump.Write(new ReadOnlySpan<byte>(data, (int)size));
            return 0;
        }
        catch
        {
            return 1;
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void CountHook(nint luaState, nint debug)
    {
        try
        {
            EngineOf(luaState).OnCount(luaState);
        }
        catch
        {
            // Nothing here can fail; a hook must never let an exception reach Lua.
        }
    }

    private void OnCount(nint luaState)
    {
        // Each instruction of the stretch, plus what comparing long strings or copying varargs may have cost in it.
        instructionsLeft -= quantum * (1 + Surcharge);
        if (instructionsLeft <= 0)
        {
            // From now on every instruction raises: the script unwinds, and a pcall that catches it gets no further.
            budgetExceeded = true;
            lua_sethook(luaState, ErrorHook, LUA_MASKCOUNT, 1);
        }
        else if (instructionsLeft < quantum * (1 + Surcharge) || Surcharge > 0 || quantum < HookQuantum)
        {
            ArmCountHook();
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int MessageHandler(nint luaState)
    {
        try
        {
            EngineOf(luaState).NoteErrorLine(luaState);
        }
        catch
        {
            // The location is decoration; the error itself is returned unchanged.
        }

        return 1;
    }

    // Redis reports the line of the innermost user script function at the error (not of the runtime's wrappers).
    private void NoteErrorLine(nint luaState)
    {
        var record = stackalloc byte[DebugRecordSize];
        fixed (byte* what = InfoWhat)
        {
            for (var level = 1; level < 200 && lua_getstack(luaState, level, record) != 0; level++)
            {
                lua_getinfo(luaState, what, record);
                var source = *(byte**)(record + DebugSourceOffset);
                if (source != null && new ReadOnlySpan<byte>(source, UserScriptSource.Length - 1).SequenceEqual(UserScriptSource.AsSpan(0, UserScriptSource.Length - 1))
                    && source[UserScriptSource.Length - 1] == 0)
                {
                    errorLine = *(int*)(record + DebugCurrentLineOffset);
                    return;
                }
            }
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (disposed)
            return;
        disposed = true;

        // Every Lua object lives in the arena: releasing it releases the state (lua_close would only run finalizers).
        arena.Dispose();
        if (self.IsAllocated)
            self.Free();
        state = 0;
    }
}

/// <summary>What a script runs against: the caller's store, database and time, and its keys and arguments.</summary>
internal readonly struct ScriptCallContext(
    KeyValueStore store, int database, long now, bool readOnly, string sha, byte[][] keys, byte[][] arguments, Acl.AclUser user)
{
    /// <summary>The caller: every <c>redis.call</c> is checked against its ACL permissions.</summary>
    public Acl.AclUser User { get; } = user;

    public KeyValueStore Store { get; } = store;

    public int Database { get; } = database;

    public long Now { get; } = now;

    /// <summary>EVAL_RO / EVALSHA_RO: writes are refused.</summary>
    public bool ReadOnly { get; } = readOnly;

    public string Sha { get; } = sha;

    public byte[][] Keys { get; } = keys;

    public byte[][] Arguments { get; } = arguments;
}
