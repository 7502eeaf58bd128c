using System.Globalization;

namespace RaftKv.Client.Protocol;

/// <summary>
/// One argument of a command, kept in the form the caller gave it (text, bytes or an integer) and encoded straight
/// into the send buffer: no byte array per argument.
/// </summary>
internal readonly struct RespArgument
{
    private readonly string? text;
    private readonly ReadOnlyMemory<byte> bytes;
    private readonly long integer;

    private RespArgument(ArgumentKind kind, string? text, ReadOnlyMemory<byte> bytes, long integer)
    {
        Kind = kind;
        this.text = text;
        this.bytes = bytes;
        this.integer = integer;
    }

    public enum ArgumentKind : byte
    {
        Text,
        Bytes,
        Integer,
    }

    public ArgumentKind Kind { get; }

    public string Text => text!;

    public ReadOnlyMemory<byte> Bytes => bytes;

    public long Integer => integer;

    public static implicit operator RespArgument(string value) => new(ArgumentKind.Text, value, default, 0);

    public static implicit operator RespArgument(ReadOnlyMemory<byte> value) => new(ArgumentKind.Bytes, null, value, 0);

    public static implicit operator RespArgument(byte[] value) => new(ArgumentKind.Bytes, null, value, 0);

    public static implicit operator RespArgument(long value) => new(ArgumentKind.Integer, null, default, value);

    /// <summary>
    /// Converts what a caller of <see cref="RaftKvCommands.ExecuteAsync(string, object[])"/> passed: text, bytes,
    /// integers and floating-point numbers (in Redis's invariant notation).
    /// </summary>
    public static RespArgument From(object value) => value switch
    {
        string s => s,
        byte[] b => b,
        ReadOnlyMemory<byte> m => m,
        Memory<byte> m => (ReadOnlyMemory<byte>)m,
        long l => l,
        int i => i,
        short s => s,
        sbyte s => s,
        byte b => b,
        uint u => u,
        ushort u => u,
        ulong u => u.ToString(CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        decimal d => d.ToString(CultureInfo.InvariantCulture),
        null => throw new ArgumentNullException(nameof(value), "A command argument cannot be null."),
        _ => throw new ArgumentException(
            $"A command argument must be text, bytes or a number; got {value.GetType().Name}.", nameof(value)),
    };

    public override string ToString() => Kind switch
    {
        ArgumentKind.Text => text!,
        ArgumentKind.Integer => integer.ToString(CultureInfo.InvariantCulture),
        _ => $"<{bytes.Length} bytes>",
    };
}
