using System.Globalization;
using System.Net.Sockets;
using System.Text;
using RaftKv.StateMachine;

namespace RaftKv.Testing;

/// <summary>A minimal RESP2 client for tests: sends commands as multibulk and reads replies as <see cref="Reply"/>.</summary>
public sealed class RespTestClient : IAsyncDisposable
{
    private readonly TcpClient tcp;
    private readonly NetworkStream stream;
    private readonly BufferedStream input;

    private RespTestClient(TcpClient tcp)
    {
        this.tcp = tcp;
        stream = tcp.GetStream();
        input = new BufferedStream(stream, 1 << 16);
    }

    public static Task<RespTestClient> ConnectAsync(int port, CancellationToken token = default) => ConnectAsync("127.0.0.1", port, token);

    public static async Task<RespTestClient> ConnectAsync(string host, int port, CancellationToken token = default)
    {
        var tcp = new TcpClient { NoDelay = true };
        try
        {
            await tcp.ConnectAsync(host, port, token);
        }
        catch
        {
            tcp.Dispose();
            throw;
        }

        return new RespTestClient(tcp);
    }

    /// <summary>How long <see cref="ReadReplyAsync"/> waits before throwing <see cref="TimeoutException"/>.</summary>
    public TimeSpan ReplyTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public async Task<Reply> CallAsync(params string[] argv)
    {
        await SendAsync(argv);
        return await ReadReplyAsync();
    }

    public async Task SendAsync(params string[] argv)
    {
        var frame = new StringBuilder().Append('*').Append(argv.Length).Append("\r\n");
        foreach (var arg in argv)
            frame.Append('$').Append(Encoding.UTF8.GetByteCount(arg)).Append("\r\n").Append(arg).Append("\r\n");
        await stream.WriteAsync(Encoding.UTF8.GetBytes(frame.ToString()));
    }

    public async Task<Reply> ReadReplyAsync()
    {
        return await Task.Run(ReadReply).WaitAsync(ReplyTimeout);
    }

    private Reply ReadReply()
    {
        var line = ReadLine();
        var body = line[1..];
        return line[0] switch
        {
            '+' => Reply.Status(body),
            '-' => Reply.Error(body),
            ':' => Reply.FromInteger(long.Parse(body, CultureInfo.InvariantCulture)),
            '$' when body == "-1" => Reply.NullBulk,
            '$' => Reply.FromBulk(ReadExactly(int.Parse(body, CultureInfo.InvariantCulture))),
            '*' when body == "-1" => Reply.NullArray,
            '*' => Reply.FromArray([.. Enumerable.Range(0, int.Parse(body, CultureInfo.InvariantCulture)).Select(_ => ReadReply())]),
            _ => throw new InvalidDataException("Unexpected reply line: " + line),
        };
    }

    private byte[] ReadExactly(int length)
    {
        var bytes = new byte[length + 2];
        input.ReadExactly(bytes);
        return bytes[..length];
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
