using System.Text;

namespace RaftKv.StateMachine;

/// <summary>The shape of a reply, independent of the wire protocol that carries it.</summary>
public enum ReplyKind : byte
{
    /// <summary>A short status such as <c>OK</c> (RESP <c>+</c>).</summary>
    Status,
    /// <summary>An error; <see cref="Reply.Text"/> starts with its code, e.g. <c>ERR syntax error</c> (RESP <c>-</c>).</summary>
    Error,
    /// <summary>A signed 64-bit integer (RESP <c>:</c>).</summary>
    Integer,
    /// <summary>A binary-safe string (RESP <c>$</c>).</summary>
    Bulk,
    /// <summary>The null bulk string (RESP2 <c>$-1</c>).</summary>
    NullBulk,
    /// <summary>An array of replies (RESP <c>*</c>).</summary>
    Array,
    /// <summary>The null array (RESP2 <c>*-1</c>).</summary>
    NullArray,
    /// <summary>
    /// Key-value pairs, held flat in <see cref="Reply.Items"/> (key, value, key, value...): RESP3 <c>%</c>, a flat
    /// array in RESP2 (<c>HELLO</c>).
    /// </summary>
    Map,
    /// <summary>Text for humans (<c>CLIENT INFO</c>, <c>INFO</c>): RESP3 verbatim <c>=</c> with format <c>txt</c>, a bulk in RESP2.</summary>
    Verbatim,
}

/// <summary>
/// A command's reply as the state machine computes it. The state machine never writes RESP; the node turns a
/// <see cref="Reply"/> into bytes. Replies are immutable, so the common ones are shared instances.
/// </summary>
public sealed class Reply : IEquatable<Reply>
{
    private Reply(ReplyKind kind, string? text = null, long integer = 0, byte[]? bulk = null, Reply[]? items = null)
    {
        Kind = kind;
        Text = text;
        Integer = integer;
        Bulk = bulk;
        Items = items;
    }

    /// <summary>What kind of reply this is.</summary>
    public ReplyKind Kind { get; }

    /// <summary>The text of a <see cref="ReplyKind.Status"/> or <see cref="ReplyKind.Error"/> reply.</summary>
    public string? Text { get; }

    /// <summary>The value of an <see cref="ReplyKind.Integer"/> reply.</summary>
    public long Integer { get; }

    /// <summary>The bytes of a <see cref="ReplyKind.Bulk"/> reply.</summary>
    public byte[]? Bulk { get; }

    /// <summary>The elements of an <see cref="ReplyKind.Array"/> reply.</summary>
    public IReadOnlyList<Reply>? Items { get; }

    /// <summary><c>+OK</c>.</summary>
    public static Reply Ok { get; } = new(ReplyKind.Status, "OK");

    /// <summary><c>$-1</c>.</summary>
    public static Reply NullBulk { get; } = new(ReplyKind.NullBulk);

    /// <summary><c>*-1</c>.</summary>
    public static Reply NullArray { get; } = new(ReplyKind.NullArray);

    /// <summary><c>*0</c>.</summary>
    public static Reply EmptyArray { get; } = new(ReplyKind.Array, items: []);

    /// <summary><c>ERR syntax error</c>.</summary>
    public static Reply SyntaxError { get; } = Error("ERR syntax error");

    private static readonly Reply[] SmallIntegers = CreateSmallIntegers();

    /// <summary>A status reply (<c>+text</c>).</summary>
    public static Reply Status(string text) => text == "OK" ? Ok : new(ReplyKind.Status, text);

    /// <summary>An error reply; <paramref name="text"/> begins with the error code (<c>ERR</c>, <c>WRONGTYPE</c>, ...).</summary>
    public static Reply Error(string text) => new(ReplyKind.Error, text);

    /// <summary>An integer reply.</summary>
    public static Reply FromInteger(long value)
        => value is >= 0 and < 64 ? SmallIntegers[value] : new(ReplyKind.Integer, integer: value);

    /// <summary>A bulk reply that takes ownership of <paramref name="value"/>; null gives the null bulk reply.</summary>
    public static Reply FromBulk(byte[]? value) => value is null ? NullBulk : new(ReplyKind.Bulk, bulk: value);

    /// <summary>A bulk reply holding the UTF-8 bytes of <paramref name="value"/>.</summary>
    public static Reply FromBulk(string value) => new(ReplyKind.Bulk, bulk: Encoding.UTF8.GetBytes(value));

    /// <summary>A map reply from alternating keys and values; takes ownership of <paramref name="keysAndValues"/>.</summary>
    public static Reply FromMap(Reply[] keysAndValues)
        => keysAndValues.Length % 2 == 0
            ? new(ReplyKind.Map, items: keysAndValues)
            : throw new ArgumentException("A map needs a value for every key.", nameof(keysAndValues));

    /// <summary>A verbatim text reply (format <c>txt</c>) holding the UTF-8 bytes of <paramref name="text"/>.</summary>
    public static Reply FromVerbatim(string text) => new(ReplyKind.Verbatim, bulk: Encoding.UTF8.GetBytes(text));

    /// <summary>An array reply that takes ownership of <paramref name="items"/>.</summary>
    public static Reply FromArray(Reply[] items) => items.Length == 0 ? EmptyArray : new(ReplyKind.Array, items: items);

    /// <summary>True for error replies.</summary>
    public bool IsError => Kind == ReplyKind.Error;

    /// <inheritdoc/>
    public bool Equals(Reply? other)
    {
        if (ReferenceEquals(this, other))
            return true;
        if (other is null || other.Kind != Kind)
            return false;

        return Kind switch
        {
            ReplyKind.Status or ReplyKind.Error => Text == other.Text,
            ReplyKind.Integer => Integer == other.Integer,
            ReplyKind.Bulk or ReplyKind.Verbatim => Bulk.AsSpan().SequenceEqual(other.Bulk),
            ReplyKind.Array or ReplyKind.Map => Items!.SequenceEqual(other.Items!),
            _ => true,
        };
    }

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as Reply);

    /// <inheritdoc/>
    public override int GetHashCode() => Kind switch
    {
        ReplyKind.Status or ReplyKind.Error => HashCode.Combine(Kind, Text),
        ReplyKind.Integer => HashCode.Combine(Kind, Integer),
        ReplyKind.Bulk or ReplyKind.Verbatim => HashCode.Combine(Kind, Bulk!.Length),
        ReplyKind.Array or ReplyKind.Map => HashCode.Combine(Kind, Items!.Count),
        _ => (int)Kind,
    };

    /// <summary>A readable form for test output, close to what redis-cli prints.</summary>
    public override string ToString() => Kind switch
    {
        ReplyKind.Status => Text!,
        ReplyKind.Error => "(error) " + Text,
        ReplyKind.Integer => "(integer) " + Integer.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ReplyKind.Bulk or ReplyKind.Verbatim => "\"" + Encoding.UTF8.GetString(Bulk!) + "\"",
        ReplyKind.Array => "[" + string.Join(", ", Items!) + "]",
        ReplyKind.Map => "{" + string.Join(", ", Items!.Chunk(2).Select(static p => $"{p[0]}: {p[1]}")) + "}",
        _ => "(nil)",
    };

    private static Reply[] CreateSmallIntegers()
    {
        var values = new Reply[64];
        for (var i = 0; i < values.Length; i++)
            values[i] = new(ReplyKind.Integer, integer: i);
        return values;
    }
}
