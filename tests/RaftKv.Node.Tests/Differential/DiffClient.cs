using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace RaftKv.Node.Tests.Differential;

/// <summary>
/// A reply exactly as it came over the wire, RESP2 or RESP3: the type byte (<c>+ - : $ * _ % = ,</c>...), the line
/// or payload, and the elements of aggregates. Comparing two of these compares what clients would see.
/// </summary>
internal sealed record RespValue(char Type, string? Line = null, byte[]? Bytes = null, RespValue[]? Items = null)
{
    public bool IsError => Type == '-';

    public bool IsNull => Type == '_' || ((Type == '$' || Type == '*') && Bytes is null && Items is null);

    public long Integer => long.Parse(Line!, CultureInfo.InvariantCulture);

    public string Text => Bytes is not null ? Encoding.UTF8.GetString(Bytes) : Line ?? "";

    public bool SameAs(RespValue other)
        => Type == other.Type && Line == other.Line
           && (Bytes is null ? other.Bytes is null : other.Bytes is not null && Bytes.AsSpan().SequenceEqual(other.Bytes))
           && (Items is null ? other.Items is null : other.Items is not null && Items.Length == other.Items.Length
               && Items.Zip(other.Items).All(static p => p.First.SameAs(p.Second)));

    public override string ToString() => Type switch
    {
        '$' or '=' when Bytes is null => "(nil)",
        '$' or '=' => "\"" + Escape(Bytes!) + "\"",
        '*' or '%' or '~' when Items is null => "(nil array)",
        '*' or '%' or '~' => Type + "[" + string.Join(", ", Items!.Select(static i => i.ToString())) + "]",
        '_' => "(null)",
        _ => Type + Line,
    };

    private static string Escape(byte[] bytes)
    {
        var text = new StringBuilder();
        foreach (var b in bytes)
            text.Append(b is >= 0x20 and < 0x7f and not (byte)'"' and not (byte)'\\' ? ((char)b).ToString() : $"\\x{b:x2}");
        return text.ToString();
    }
}

/// <summary>A raw RESP client that reads RESP2 and RESP3 replies as <see cref="RespValue"/>, for differential tests.</summary>
internal sealed class DiffClient : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly TcpClient tcp;
    private readonly NetworkStream stream;
    private readonly BufferedStream input;

    private DiffClient(TcpClient tcp)
    {
        this.tcp = tcp;
        stream = tcp.GetStream();
        input = new BufferedStream(stream, 1 << 16);
    }

    public static async Task<DiffClient> ConnectAsync(int port)
    {
        var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync("127.0.0.1", port);
        return new DiffClient(tcp);
    }

    public async Task<RespValue> CallAsync(params byte[][] argv)
    {
        await SendAsync([argv]);
        return await ReadAsync();
    }

    public Task<RespValue> CallAsync(params string[] argv) => CallAsync([.. argv.Select(Encoding.UTF8.GetBytes)]);

    /// <summary>Sends several requests in one write (a pipeline).</summary>
    public async Task SendAsync(IEnumerable<byte[][]> requests)
    {
        using var frame = new MemoryStream();
        foreach (var argv in requests)
        {
            frame.Write(Encoding.ASCII.GetBytes($"*{argv.Length}\r\n"));
            foreach (var arg in argv)
            {
                frame.Write(Encoding.ASCII.GetBytes($"${arg.Length}\r\n"));
                frame.Write(arg);
                frame.Write("\r\n"u8);
            }
        }

        using var timeout = new CancellationTokenSource(Timeout);
        await stream.WriteAsync(frame.ToArray(), timeout.Token);
    }

    public async Task<RespValue> ReadAsync()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        return await Task.Run(Read, timeout.Token).WaitAsync(timeout.Token);
    }

    private RespValue Read()
    {
        var line = ReadLine();
        var type = line[0];
        var body = line[1..];
        switch (type)
        {
            case '$' or '=' or '!' when body == "-1":
                return new RespValue(type);
            case '$' or '=' or '!':
                var bytes = new byte[int.Parse(body, CultureInfo.InvariantCulture) + 2];
                input.ReadExactly(bytes);
                return new RespValue(type, Bytes: bytes[..^2]);
            case '*' or '~' or '>' when body == "-1":
                return new RespValue(type);
            case '*' or '~' or '>':
                return new RespValue(type, Items: [.. Enumerable.Range(0, int.Parse(body, CultureInfo.InvariantCulture)).Select(_ => Read())]);
            case '%' or '|':
                return new RespValue(type, Items: [.. Enumerable.Range(0, 2 * int.Parse(body, CultureInfo.InvariantCulture)).Select(_ => Read())]);
            default:
                return new RespValue(type, Line: body);
        }
    }

    private string ReadLine()
    {
        var line = new StringBuilder();
        while (true)
        {
            var b = input.ReadByte();
            if (b < 0)
                throw new EndOfStreamException("Connection closed by the server.");
            if (b == '\n' && line.Length > 0 && line[^1] == '\r')
                return line.ToString(0, line.Length - 1);
            line.Append((char)b);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await input.DisposeAsync();
        tcp.Dispose();
    }
}
