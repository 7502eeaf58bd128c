using System.Buffers;
using System.Text;

namespace RaftKv.Node.Resp;

/// <summary>
/// One parsed request: its arguments, <c>Arguments[0]</c> being the command name as the client sent it.
/// </summary>
/// <remarks>
/// A connection reuses one instance for all its requests: the arguments live in a pooled arena that the next parse
/// overwrites, so they are valid only until then. Copy what must outlive the call that received the request.
/// Not thread-safe.
/// </remarks>
public sealed class RespRequest : IDisposable
{
    // A connection keeps what a typical request needs; a rare large request (a 100 MB value, a million arguments)
    // gets its own buffers, which go back to the pool when the next, ordinary request arrives.
    private const int RetainedArenaBytes = 64 * 1024;
    private const int RetainedArgumentSlots = 1024;
    private const int MaxCachedNames = 256;
    private const int MaxCachedNameLength = 64;

    private byte[] _arena = [];
    private ReadOnlyMemory<byte>[] _arguments = new ReadOnlyMemory<byte>[16];
    private int _count;
    private string? _nameUpper;
    private HashSet<string>? _names;

    /// <summary>The number of arguments, the command name included.</summary>
    public int Count => _count;

    /// <summary>The arguments; <c>Arguments[0]</c> is the command name as sent. Valid until the next parse.</summary>
    public ReadOnlySpan<ReadOnlyMemory<byte>> Arguments => _arguments.AsSpan(0, _count);

    /// <summary>
    /// True when the command name equals <paramref name="upperCaseAscii"/> ignoring ASCII case, e.g.
    /// <c>request.NameEquals("GET"u8)</c>.
    /// </summary>
    public bool NameEquals(ReadOnlySpan<byte> upperCaseAscii)
        => _count > 0 && Ascii.EqualsIgnoreCase(_arguments[0].Span, upperCaseAscii);

    /// <summary>
    /// The command name in upper case, for logs and statistics. Names seen before on this connection are returned
    /// from a small cache, so a steady stream of known commands does not allocate.
    /// </summary>
    public string NameUpper => _nameUpper ??= ComputeNameUpper();

    /// <summary>
    /// Where the parser stopped inside a request still arriving, so the next parse resumes there instead of starting
    /// over (see <see cref="RespRequestParser"/>). Kept here because a request object belongs to one connection.
    /// </summary>
    internal RespParseProgress Progress;

    /// <summary>
    /// Bytes the parser has stepped over or searched for this connection since it was created: the work counter that
    /// shows framing is linear in the bytes received (each byte is examined a bounded number of times, however the
    /// request is split into reads).
    /// </summary>
    internal long BytesExamined { get; set; }

    /// <summary>Returns the arena and argument buffers to the pool.</summary>
    public void Dispose()
    {
        Progress = default;
        Clear();
        ReturnArena();
    }

    /// <summary>
    /// Starts a new request of <paramref name="argumentCount"/> arguments holding <paramref name="totalBytes"/> bytes
    /// and returns the arena the caller copies them into, in order, announcing each with <see cref="AddArgument"/>.
    /// </summary>
    internal Span<byte> Begin(int argumentCount, int totalBytes)
    {
        Clear();
        EnsureArgumentSlots(argumentCount);
        EnsureArena(totalBytes);
        return _arena.AsSpan(0, totalBytes);
    }

    /// <summary>Appends the argument stored at <paramref name="offset"/> in the arena returned by <see cref="Begin"/>.</summary>
    internal void AddArgument(int offset, int length)
    {
        if (_count == _arguments.Length)
            Array.Resize(ref _arguments, _arguments.Length * 2);
        _arguments[_count++] = new ReadOnlyMemory<byte>(_arena, offset, length);
    }

    private void Clear()
    {
        // Stale slots would keep a returned arena alive after the pool has let go of it.
        _arguments.AsSpan(0, _count).Clear();
        _count = 0;
        _nameUpper = null;
    }

    private void EnsureArgumentSlots(int count)
    {
        if (count > _arguments.Length || (_arguments.Length > RetainedArgumentSlots && count <= RetainedArgumentSlots))
            _arguments = new ReadOnlyMemory<byte>[Math.Max(count, 16)];
    }

    private void EnsureArena(int size)
    {
        if (size <= _arena.Length && (_arena.Length <= RetainedArenaBytes || size > RetainedArenaBytes))
            return;

        ReturnArena();
        _arena = ArrayPool<byte>.Shared.Rent(Math.Max(size, 4096));
    }

    private void ReturnArena()
    {
        if (_arena.Length > 0)
            ArrayPool<byte>.Shared.Return(_arena);
        _arena = [];
    }

    private string ComputeNameUpper()
    {
        if (_count == 0)
            return string.Empty;

        var name = _arguments[0].Span;
        if (name.Length > MaxCachedNameLength)
            return Encoding.UTF8.GetString(name).ToUpperInvariant();

        Span<char> upper = stackalloc char[MaxCachedNameLength];
        if (Ascii.ToUpper(name, upper, out var written) != OperationStatus.Done)
            return Encoding.UTF8.GetString(name).ToUpperInvariant();
        upper = upper[..written];

        _names ??= new HashSet<string>(StringComparer.Ordinal);
        if (_names.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(upper, out var cached))
            return cached;

        var created = new string(upper);
        if (_names.Count < MaxCachedNames)
            _names.Add(created);
        return created;
    }
}

/// <summary>
/// How far the parser got in a request whose bytes have not all arrived. Valid only for a buffer that starts at
/// <see cref="FrameStart"/> and holds at least the bytes seen before, which is what a connection hands back after
/// <c>AdvanceTo(consumed: FrameStart, examined: End)</c>: the pipe keeps those segments, so the positions stay valid.
/// </summary>
internal struct RespParseProgress
{
    /// <summary>True while a partial request is being tracked.</summary>
    public bool IsActive;

    /// <summary>An inline request (one line) rather than a multibulk.</summary>
    public bool IsInline;

    /// <summary>Where the partial request begins.</summary>
    public SequencePosition FrameStart;

    /// <summary>Where to continue: the start of the first line or argument not yet framed.</summary>
    public SequencePosition Resume;

    /// <summary>Bytes from <see cref="FrameStart"/> to <see cref="Resume"/>.</summary>
    public long ResumeOffset;

    /// <summary>Bytes after <see cref="Resume"/> already searched for the end of the line there, in vain.</summary>
    public long Scanned;

    /// <summary>Bytes of the buffer the progress was saved from, from <see cref="FrameStart"/>.</summary>
    public long Buffered;

    /// <summary>The declared argument count of a multibulk; -1 while its <c>*N</c> line is incomplete.</summary>
    public long Count;

    /// <summary>Arguments already framed.</summary>
    public int Framed;

    /// <summary>The total length of the arguments already framed.</summary>
    public long ArgumentBytes;
}
