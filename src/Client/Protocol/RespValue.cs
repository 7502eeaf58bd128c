using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace RaftKv.Client;

/// <summary>
/// One reply from the server, as the wire carried it: a status, error, integer, bulk string, array or nil.
/// <see cref="RaftKvCommands.ExecuteAsync(string, object[])"/> returns it for commands without a typed method.
/// </summary>
/// <remarks>
/// Error replies to the command itself are raised as <see cref="RaftKvServerException"/>; an error value is only seen
/// nested inside an array (a Lua script can return one).
/// </remarks>
public sealed class RespValue
{
    private static readonly RespValue[] NoElements = [];

    private readonly long integer;
    private readonly byte[]? bytes;
    private readonly string? text;
    private readonly RespValue[] elements;

    private RespValue(RespType type, long integer, byte[]? bytes, string? text, RespValue[]? elements)
    {
        Type = type;
        this.integer = integer;
        this.bytes = bytes;
        this.text = text;
        this.elements = elements ?? NoElements;
    }

    /// <summary>The nil reply.</summary>
    public static RespValue Null { get; } = new(RespType.Null, 0, null, null, null);

    /// <summary>The <c>+OK</c> status.</summary>
    public static RespValue Ok { get; } = new(RespType.SimpleString, 0, null, "OK", null);

    /// <summary>The kind of reply.</summary>
    public RespType Type { get; }

    /// <summary>True for a nil bulk string or nil array.</summary>
    public bool IsNull => Type == RespType.Null;

    /// <summary>True for an error reply.</summary>
    public bool IsError => Type == RespType.Error;

    /// <summary>The elements of an array reply; empty for any other kind.</summary>
    public IReadOnlyList<RespValue> Elements => elements;

    /// <summary>
    /// The payload as bytes: a bulk string's content, a status or error text in UTF-8, an integer's decimal digits;
    /// empty for nil and arrays.
    /// </summary>
    public ReadOnlyMemory<byte> Bytes => Type switch
    {
        RespType.BulkString => bytes,
        RespType.SimpleString or RespType.Error => Encoding.UTF8.GetBytes(text!),
        RespType.Integer => Encoding.ASCII.GetBytes(integer.ToString(CultureInfo.InvariantCulture)),
        _ => ReadOnlyMemory<byte>.Empty,
    };

    internal static RespValue Status(string text) => text == "OK" ? Ok : new(RespType.SimpleString, 0, null, text, null);

    internal static RespValue Error(string text) => new(RespType.Error, 0, null, text, null);

    internal static RespValue FromInteger(long value) => new(RespType.Integer, value, null, null, null);

    internal static RespValue FromBulk(byte[] value) => new(RespType.BulkString, 0, value, null, null);

    internal static RespValue FromArray(RespValue[] values) => new(RespType.Array, 0, null, null, values);

    /// <summary>
    /// The reply as text: a status or error text, a bulk string decoded as UTF-8, an integer in decimal; null for nil.
    /// </summary>
    /// <exception cref="InvalidCastException">The reply is an array.</exception>
    public string? AsString() => Type switch
    {
        RespType.Null => null,
        RespType.SimpleString or RespType.Error => text,
        RespType.BulkString => Encoding.UTF8.GetString(bytes!),
        RespType.Integer => integer.ToString(CultureInfo.InvariantCulture),
        _ => throw new InvalidCastException("An array reply has no text; read its Elements."),
    };

    /// <summary>The bulk string's bytes (the array the reader filled, not a copy); null for nil.</summary>
    /// <exception cref="InvalidCastException">The reply is not a bulk string or nil.</exception>
    public byte[]? AsBytes() => Type switch
    {
        RespType.Null => null,
        RespType.BulkString => bytes,
        _ => throw new InvalidCastException($"A {Type} reply is not a bulk string."),
    };

    /// <summary>The reply as an integer: an integer reply, or a bulk or status string holding one.</summary>
    /// <exception cref="InvalidCastException">The reply is not an integer.</exception>
    public long AsInt64()
    {
        switch (Type)
        {
            case RespType.Integer:
                return integer;
            case RespType.BulkString when Utf8Parser.TryParse(bytes, out long parsed, out var consumed) && consumed == bytes!.Length:
                return parsed;
            case RespType.SimpleString when long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed):
                return parsed;
            default:
                throw new InvalidCastException($"The {Type} reply {this} is not an integer.");
        }
    }

    /// <summary>A readable rendering for logs and debugging: <c>"text"</c>, <c>(integer) 1</c>, <c>(nil)</c>, <c>[...]</c>.</summary>
    public override string ToString() => Type switch
    {
        RespType.Null => "(nil)",
        RespType.SimpleString => text!,
        RespType.Error => "(error) " + text,
        RespType.Integer => "(integer) " + integer.ToString(CultureInfo.InvariantCulture),
        RespType.BulkString => "\"" + Encoding.UTF8.GetString(bytes!) + "\"",
        _ => "[" + string.Join(", ", elements.Select(static e => e.ToString())) + "]",
    };
}
