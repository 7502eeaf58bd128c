using System.Runtime.InteropServices;

namespace RaftKv.StateMachine.Scripting;

/// <summary>
/// The memory of one Lua state: a fixed region whose base is aligned to 4 GiB, with a deterministic size-class
/// allocator, a byte limit, and an image that resets the state before every script.
/// </summary>
/// <remarks>
/// <para>
/// Why a region of our own and not malloc. (1) Determinism: Lua hashes tables, functions and other objects used as
/// table keys by the low 32 bits of their address, so iteration order (<c>pairs</c>) follows addresses. Here every
/// address is <c>base + offset</c> with <c>base</c> a multiple of 2^32 and offsets decided by this allocator alone,
/// so the low 32 bits, and with them the order, are the same on every replica. (2) A memory cap that stops a script
/// at the same allocation everywhere. (3) <see cref="Restore"/>: copying the image back makes the next script start
/// from a bitwise-identical state (relative to the base), whatever the previous one did.
/// </para>
/// <para>
/// Size classes: multiples of 16 bytes up to 256, then four classes per power of two. Freed blocks go to their
/// class's list; no coalescing. Lua passes the old size on free and realloc, so blocks need no header.
/// </para>
/// </remarks>
internal sealed unsafe class LuaArena : IDisposable
{
    private const int SmallLimit = 256;
    private const int SmallClasses = SmallLimit / 16;
    private const int MaxClasses = SmallClasses + (4 * 48);
    private const long AddressAlignment = 1L << 32;

    private readonly nint reservation;
    private readonly nuint reservationLength;
    private readonly byte* start;
    private readonly long capacity;
    private readonly nint[] freeLists = new nint[MaxClasses];
    private readonly HashSet<nint> overflow = [];
    private long bump;
    private long used;
    private long limit;
    private long highWater;
    private byte[] image = [];
    private nint[] imageFreeLists = [];
    private long imageBump;
    private long imageUsed;
    private bool disposed;

    /// <summary>Reserves <paramref name="capacity"/> bytes of address space; pages are committed as they are touched.</summary>
    public LuaArena(long capacity)
    {
        this.capacity = capacity;
        reservationLength = (nuint)(capacity + AddressAlignment);
        reservation = LinuxMemory.Map(0, reservationLength, LinuxMemory.PROT_NONE,
            LinuxMemory.MAP_PRIVATE | LinuxMemory.MAP_ANONYMOUS | LinuxMemory.MAP_NORESERVE, -1, 0);
        if (reservation == LinuxMemory.MapFailed)
            throw new InvalidOperationException($"Could not reserve {reservationLength} bytes of address space for Lua (errno {Marshal.GetLastPInvokeError()}).");

        var aligned = (nint)(((long)reservation + (AddressAlignment - 1)) & ~(AddressAlignment - 1));
        if (LinuxMemory.Protect(aligned, (nuint)capacity, LinuxMemory.PROT_READ | LinuxMemory.PROT_WRITE) != 0)
        {
            LinuxMemory.Unmap(reservation, reservationLength);
            throw new InvalidOperationException($"Could not make the Lua arena writable (errno {Marshal.GetLastPInvokeError()}).");
        }

        start = (byte*)aligned;
        limit = capacity;
    }

    /// <summary>True when <paramref name="address"/> lies in the arena (an object of this Lua state).</summary>
    public bool Contains(nint address) => (byte*)address >= start && (byte*)address < start + capacity;

    /// <summary>Bytes held by live blocks (class sizes).</summary>
    public long Used => used;

    /// <summary>Bytes held when the image was taken: the runtime every script starts from.</summary>
    public long ImageUsed => imageUsed;

    /// <summary>
    /// When true, allocations ignore <see cref="Limit"/> (but not the arena's end). Set while managed code calls the
    /// Lua API, so that no allocation made on managed code's behalf fails and raises across a managed frame.
    /// </summary>
    public bool Unbounded { get; set; }

    /// <summary>The byte budget of live blocks; an allocation that would exceed it fails (Lua raises a memory error).</summary>
    public long Limit
    {
        get => limit;
        set => limit = value;
    }

    /// <summary>Set when an allocation was refused; the engine then stops the script.</summary>
    public bool Refused { get; private set; }

    /// <summary>Bytes a block of <paramref name="size"/> occupies, for callers that estimate before allocating.</summary>
    public static long BlockSize(long size) => ClassSize(ClassOf(size));

    /// <summary>The allocator behind <c>lua_Alloc</c>: allocate, free or resize.</summary>
    public nint Reallocate(nint block, nuint oldSize, nuint newSize)
    {
        if (newSize == 0)
        {
            if (block != 0)
                Free(block, (long)oldSize);
            return 0;
        }

        if (block == 0)
            return Allocate((long)newSize);

        var oldClass = ClassOf((long)oldSize);
        var newClass = ClassOf((long)newSize);
        if (oldClass == newClass)
            return block;

        var moved = Allocate((long)newSize);
        if (moved == 0)
        {
            // Lua assumes shrinking never fails: keep the block. It is larger than its new class, which only wastes
            // space (and counts a little more against the limit until freed).
            return newSize < oldSize ? block : 0;
        }

        Buffer.MemoryCopy((void*)block, (void*)moved, (long)newSize, (long)Math.Min(oldSize, newSize));
        Free(block, (long)oldSize);
        return moved;
    }

    /// <summary>Takes the image: the current contents and allocator state, restored by <see cref="Restore"/>.</summary>
    public void CaptureImage()
    {
        image = new Span<byte>(start, checked((int)bump)).ToArray();
        imageFreeLists = (nint[])freeLists.Clone();
        imageBump = bump;
        imageUsed = used;
    }

    /// <summary>
    /// Puts the image back: the Lua state becomes exactly what it was when the image was taken. Memory a large script
    /// touched beyond the image is returned to the kernel, so an idle engine does not keep its peak.
    /// </summary>
    public void Restore()
    {
        foreach (var block in overflow)
            NativeMemory.Free((void*)block);
        overflow.Clear();

        if (highWater - imageBump > 16L << 20)
        {
            var from = (imageBump + 4095) & ~4095L;
            LinuxMemory.Advise((nint)(start + from), (nuint)(highWater - from), LinuxMemory.MADV_DONTNEED);
        }

        image.CopyTo(new Span<byte>(start, image.Length));
        imageFreeLists.CopyTo(freeLists, 0);
        bump = highWater = imageBump;
        used = imageUsed;
        Refused = false;
    }

    /// <summary>Forgets everything allocated (before a new state is built).</summary>
    public void Reset()
    {
        foreach (var block in overflow)
            NativeMemory.Free((void*)block);
        overflow.Clear();
        Array.Clear(freeLists);
        bump = highWater = used = 0;
        Refused = false;
    }

    private nint Allocate(long size)
    {
        var sizeClass = ClassOf(size);
        var blockSize = ClassSize(sizeClass);
        if (!Unbounded && used + blockSize > limit)
        {
            Refused = true;
            return 0;
        }

        nint block;
        if (freeLists[sizeClass] != 0)
        {
            block = freeLists[sizeClass];
            freeLists[sizeClass] = *(nint*)block;
        }
        else if (bump + blockSize <= capacity)
        {
            block = (nint)(start + bump);
            bump += blockSize;
            highWater = Math.Max(highWater, bump);
        }
        else if (Unbounded)
        {
            // Managed code is pushing values the engine estimated to fit, but fragmentation used up the region. Failing
            // here would raise across a managed frame; a block outside the region keeps the process safe (such
            // blocks are released at the next Restore).
            block = (nint)NativeMemory.AlignedAlloc((nuint)blockSize, 16);
            overflow.Add(block);
        }
        else
        {
            Refused = true;
            return 0;
        }

        used += blockSize;
        return block;
    }

    private void Free(nint block, long size)
    {
        var sizeClass = ClassOf(size);
        used -= ClassSize(sizeClass);
        if (overflow.Remove(block))
        {
            NativeMemory.Free((void*)block);
            return;
        }

        *(nint*)block = freeLists[sizeClass];
        freeLists[sizeClass] = block;
    }

    private static int ClassOf(long size)
    {
        if (size <= SmallLimit)
            return (int)((Math.Max(size, 1) + 15) >> 4) - 1;

        // Four classes per power of two above 256: (1 + q/4) * 2^k for q = 1..4.
        var k = 63 - (int)ulong.LeadingZeroCount((ulong)(size - 1));
        var powerOfTwo = 1L << k;
        var step = powerOfTwo >> 2;
        var quarter = (int)((size - powerOfTwo + step - 1) / step);
        return SmallClasses + ((k - 8) * 4) + quarter - 1;
    }

    private static long ClassSize(int sizeClass)
    {
        if (sizeClass < SmallClasses)
            return (sizeClass + 1) * 16L;

        var k = ((sizeClass - SmallClasses) / 4) + 8;
        var quarter = ((sizeClass - SmallClasses) % 4) + 1;
        return (1L << k) + (quarter * (1L << (k - 2)));
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (disposed)
            return;
        disposed = true;
        foreach (var block in overflow)
            NativeMemory.Free((void*)block);
        overflow.Clear();
        LinuxMemory.Unmap(reservation, reservationLength);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the address space if the owner forgot to.</summary>
    ~LuaArena()
    {
        if (!disposed)
            LinuxMemory.Unmap(reservation, reservationLength);
    }
}
