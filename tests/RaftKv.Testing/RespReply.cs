using System.Globalization;
using System.Text;
using RaftKv.StateMachine;

namespace RaftKv.Testing;

/// <summary>The type of a RESP2 or RESP3 reply; each value is the type's first byte on the wire.</summary>
/// <remarks>
/// RESP3 attributes (<c>|</c>) are not a reply of their own: they ride on the reply after them
/// (<see cref="RespReply.Attributes"/>).
/// </remarks>
public enum RespReplyType : byte
{
    /// <summary><c>+OK</c>.</summary>
    SimpleString = (byte)'+',
    /// <summary><c>-ERR message</c>.</summary>
    Error = (byte)'-',
    /// <summary><c>:42</c>.</summary>
    Integer = (byte)':',
    /// <summary><c>$5 hello</c>, or the null bulk <c>$-1</c>.</summary>
    BulkString = (byte)'$',
    /// <summary><c>*2 ...</c>, or the null array <c>*-1</c>.</summary>
    Array = (byte)'*',
    /// <summary>RESP3 <c>_</c>.</summary>
    Null = (byte)'_',
    /// <summary>RESP3 <c>#t</c> or <c>#f</c>.</summary>
    Boolean = (byte)'#',
    /// <summary>RESP3 <c>,3.14</c>, <c>,inf</c>, <c>,nan</c>.</summary>
    Double = (byte)',',
    /// <summary>RESP3 <c>(12345678901234567890</c>.</summary>
    BigNumber = (byte)'(',
    /// <summary>RESP3 <c>!21 SYNTAX invalid syntax</c>.</summary>
    BulkError = (byte)'!',
    /// <summary>RESP3 <c>=15 txt:Some string</c>.</summary>
    VerbatimString = (byte)'=',
    /// <summary>RESP3 <c>%2 ...</c>: keys and values.</summary>
    Map = (byte)'%',
    /// <summary>RESP3 <c>~2 ...</c>.</summary>
    Set = (byte)'~',
    /// <summary>RESP3 <c>&gt;3 ...</c>: out-of-band data such as a published message.</summary>
    Push = (byte)'>',
}

/// <summary>
/// A reply exactly as it came over the wire, RESP2 or RESP3: its type, the line of a simple type, the payload of a
/// blob, or the elements of an aggregate. Two replies are equal when a client would see the same bytes, so comparing
/// them compares what clients of two servers see. <see cref="ToReply"/> gives the <see cref="Reply"/> the state
/// machine would have computed.
/// </summary>
public sealed class RespReply(
    RespReplyType type, string? line = null, byte[]? bytes = null, IReadOnlyList<RespReply>? items = null, IReadOnlyList<RespReply>? attributes = null)
    : IEquatable<RespReply>
{
    /// <summary>The reply's type.</summary>
    public RespReplyType Type { get; } = type;

    /// <summary>
    /// The text after the type byte of a simple type (<c>+ - : _ # , (</c>), one char per byte (Latin-1) so that no
    /// byte is lost; null for the other types.
    /// </summary>
    public string? Line { get; } = line;

    /// <summary>
    /// The payload of a blob (<c>$ ! =</c>), a verbatim string's format (<c>txt:</c>) included; null for the null bulk
    /// (<c>$-1</c>) and the other types.
    /// </summary>
    public byte[]? Bytes { get; } = bytes;

    /// <summary>
    /// The elements of an aggregate (<c>* ~ &gt;</c>), or a map's keys and values alternating (<c>%</c>); null for the
    /// null array (<c>*-1</c>) and the other types.
    /// </summary>
    public IReadOnlyList<RespReply>? Items { get; } = items;

    /// <summary>The RESP3 attributes (<c>|</c>) sent just before this reply, keys and values alternating; null when none were.</summary>
    public IReadOnlyList<RespReply>? Attributes { get; } = attributes;

    /// <summary>True for <c>-</c> and <c>!</c> replies.</summary>
    public bool IsError => Type is RespReplyType.Error or RespReplyType.BulkError;

    /// <summary>True for RESP3 <c>_</c> and for RESP2's null bulk and null array (<c>$-1</c>, <c>*-1</c>).</summary>
    public bool IsNull => Type == RespReplyType.Null || (Line is null && Bytes is null && Items is null);

    /// <summary>The value of an <see cref="RespReplyType.Integer"/> reply.</summary>
    /// <exception cref="InvalidOperationException">The reply is not an integer.</exception>
    public long Integer => Type == RespReplyType.Integer
        ? long.Parse(Line!, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture)
        : throw new InvalidOperationException("Not an integer reply: " + this);

    /// <summary>A blob's payload as UTF-8, else the line, else empty.</summary>
    public string Text => Bytes is not null ? Encoding.UTF8.GetString(Bytes) : Line ?? "";

    /// <summary>
    /// The reply as a <see cref="Reply"/>: every RESP2 type, and the RESP3 map and <c>txt</c> verbatim string.
    /// Attributes are dropped, as RESP3 lets a client do.
    /// </summary>
    /// <exception cref="InvalidDataException">The reply is of a RESP3 type <see cref="Reply"/> cannot hold.</exception>
    public Reply ToReply() => Type switch
    {
        RespReplyType.SimpleString => Reply.Status(Line!),
        RespReplyType.Error => Reply.Error(Line!),
        RespReplyType.Integer => Reply.FromInteger(Integer),
        RespReplyType.BulkString => Reply.FromBulk(Bytes),
        RespReplyType.Array => Items is null ? Reply.NullArray : Reply.FromArray([.. Items.Select(static i => i.ToReply())]),
        RespReplyType.Map when Items is not null => Reply.FromMap([.. Items.Select(static i => i.ToReply())]),
        RespReplyType.VerbatimString when Bytes is not null && Bytes.AsSpan().StartsWith("txt:"u8)
            => Reply.FromVerbatim(Encoding.UTF8.GetString(Bytes.AsSpan(4))),
        _ => throw new InvalidDataException("No Reply holds this RESP3 reply: " + this),
    };

    /// <inheritdoc/>
    public bool Equals(RespReply? other)
        => other is not null && Type == other.Type && Line == other.Line
           && (Bytes is null ? other.Bytes is null : other.Bytes is not null && Bytes.AsSpan().SequenceEqual(other.Bytes))
           && SameItems(Items, other.Items) && SameItems(Attributes, other.Attributes);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as RespReply);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Type, Line, Bytes?.Length, Items?.Count);

    /// <summary>A readable form for test output: <c>+OK</c>, <c>"bytes"</c> (escaped), <c>*[...]</c>, <c>(nil)</c>.</summary>
    public override string ToString()
    {
        var shown = Type switch
        {
            RespReplyType.Null => "(null)",
            RespReplyType.BulkString or RespReplyType.VerbatimString when Bytes is null => "(nil)",
            RespReplyType.BulkString or RespReplyType.VerbatimString => "\"" + Escape(Bytes!) + "\"",
            RespReplyType.BulkError => "!\"" + Escape(Bytes ?? []) + "\"",
            _ when Line is null && Bytes is null && Items is null => "(nil array)",
            _ when Items is not null => (char)Type + "[" + string.Join(", ", Items) + "]",
            _ => (char)Type + Line,
        };
        return Attributes is null ? shown : "|[" + string.Join(", ", Attributes) + "]" + shown;
    }

    private static bool SameItems(IReadOnlyList<RespReply>? items, IReadOnlyList<RespReply>? others)
        => items is null ? others is null : others is not null && items.SequenceEqual(others);

    private static string Escape(byte[] bytes)
    {
        var text = new StringBuilder();
        foreach (var b in bytes)
            text.Append(b is >= 0x20 and < 0x7f and not (byte)'"' and not (byte)'\\' ? ((char)b).ToString() : $"\\x{b:x2}");
        return text.ToString();
    }
}
