using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace RaftKv.StateMachine.Scripting;

/// <summary>
/// The slice of the Lua 5.4 C API the script engine uses, bound directly to the <c>lua54</c> library that the KeraLua
/// package ships (KeraLua's managed wrapper marshals through delegates; function pointers are cheaper and let callbacks
/// be <see cref="UnmanagedCallersOnlyAttribute"/> methods that need no rooting).
/// </summary>
/// <remarks>
/// The rule every caller follows: a Lua error is a <c>longjmp</c>, which must never cross a managed frame. Managed code
/// therefore only calls functions that cannot raise (raw access, pushes while the arena cannot fail, <c>lua_pcallk</c>),
/// and managed callbacks signal errors by return values that Lua code then raises.
/// </remarks>
internal static unsafe partial class LuaNative
{
    private const string Library = "lua54";

    // glibc's categories: Lua's string comparison (`<`, `<=`) uses strcoll, and lstrlib's upper/lower/%a use the ctype
    // functions, so both follow the C library's locale.
    public const int LC_CTYPE = 0;
    public const int LC_COLLATE = 3;

    /// <summary>The C library's <c>setlocale</c>; <paramref name="locale"/> null queries. Returns the locale's name or 0.</summary>
    [LibraryImport("libc.so.6", EntryPoint = "setlocale", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint setlocale(int category, string? locale);

    public const int LUA_OK = 0;
    public const int LUA_ERRRUN = 2;
    public const int LUA_ERRSYNTAX = 3;
    public const int LUA_ERRMEM = 4;

    public const int LUA_TNONE = -1;
    public const int LUA_TNIL = 0;
    public const int LUA_TBOOLEAN = 1;
    public const int LUA_TLIGHTUSERDATA = 2;
    public const int LUA_TNUMBER = 3;
    public const int LUA_TSTRING = 4;
    public const int LUA_TTABLE = 5;

    public const int LUA_MULTRET = -1;
    public const int LUA_REGISTRYINDEX = -1_000_000 - 1000;
    public const int LUA_RIDX_GLOBALS = 2;

    public const int LUA_MASKCOUNT = 1 << 3;

    public const int LUA_GCSTOP = 0;
    public const int LUA_GCRESTART = 1;
    public const int LUA_GCCOLLECT = 2;
    public const int LUA_GCISRUNNING = 9;

    /// <summary>Size of <c>lua_Debug</c> on 64-bit Lua 5.4 is 136 bytes; callers allocate this much to be safe.</summary>
    public const int DebugRecordSize = 256;

    // lua_Debug field offsets on LP64 (Lua 5.4): event, name, namewhat, what, source, srclen, currentline.
    public const int DebugSourceOffset = 32;
    public const int DebugCurrentLineOffset = 48;

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial nint lua_newstate(delegate* unmanaged[Cdecl]<nint, nint, nuint, nuint, nint> allocator, nint userData);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int lua_gettop(nint state);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void lua_settop(nint state, int index);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int lua_checkstack(nint state, int extra);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int lua_type(nint state, int index);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int lua_isinteger(nint state, int index);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial double lua_tonumberx(nint state, int index, int* isNumber);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial long lua_tointegerx(nint state, int index, int* isNumber);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int lua_toboolean(nint state, int index);

    /// <summary>Only ever called on values of type string: on a number it would convert in place (and allocate).</summary>
    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial byte* lua_tolstring(nint state, int index, nuint* length);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void lua_pushnil(nint state);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void lua_pushinteger(nint state, long value);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void lua_pushnumber(nint state, double value);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void lua_pushboolean(nint state, int value);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial byte* lua_pushlstring(nint state, byte* bytes, nuint length);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void lua_pushcclosure(nint state, nint function, int upvalues);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void lua_pushvalue(nint state, int index);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void lua_createtable(nint state, int arraySize, int hashSize);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int lua_rawget(nint state, int index);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int lua_rawgeti(nint state, int index, long key);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void lua_rawset(nint state, int index);

    /// <summary>Raw traversal; raises only for a key that is not in the table, which callers never pass.</summary>
    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int lua_next(nint state, int index);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void lua_rawseti(nint state, int index, long key);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int lua_pcallk(nint state, int arguments, int results, int messageHandler, nint context, nint continuation);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int luaL_loadbufferx(nint state, byte* buffer, nuint length, byte* chunkName, byte* mode);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int lua_dump(nint state, delegate* unmanaged[Cdecl]<nint, byte*, nuint, nint, int> writer, nint data, int strip);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int lua_iscfunction(nint state, int index);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial nint lua_topointer(nint state, int index);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial nint lua_tocfunction(nint state, int index);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial byte* lua_getupvalue(nint state, int function, int n);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial void lua_sethook(nint state, nint hook, int mask, int count);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int lua_getstack(nint state, int level, byte* debugRecord);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int lua_getinfo(nint state, byte* what, byte* debugRecord);

    [LibraryImport(Library)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    public static partial int lua_gc(nint state, int what, int argument);

    /// <summary>Exported functions that are passed to Lua as values (library openers, the error hook).</summary>
    public static nint Export(string name)
    {
        var handle = NativeLibrary.Load(Library, typeof(LuaNative).Assembly, null);
        return NativeLibrary.GetExport(handle, name);
    }
}

/// <summary>Reserving address space from the kernel (Linux), for the script arena.</summary>
internal static partial class LinuxMemory
{
    public const int PROT_NONE = 0;
    public const int PROT_READ = 1;
    public const int PROT_WRITE = 2;
    public const int MAP_PRIVATE = 0x02;
    public const int MAP_ANONYMOUS = 0x20;
    public const int MAP_NORESERVE = 0x4000;
    public const int MADV_DONTNEED = 4;
    public static readonly nint MapFailed = -1;

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    public static partial nint Map(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    public static partial int Unmap(nint address, nuint length);

    [LibraryImport("libc", EntryPoint = "mprotect", SetLastError = true)]
    public static partial int Protect(nint address, nuint length, int protection);

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    public static partial int Advise(nint address, nuint length, int advice);
}
