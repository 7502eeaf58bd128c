using System.Buffers;
using System.Text;
using RaftKv.Node.Resp;
using RaftKv.StateMachine;

namespace RaftKv.Node.Tests.Resp;

public sealed class RespWriterTests
{
    public static TheoryData<Reply, string> Replies => new()
    {
        { Reply.Ok, "+OK\r\n" },
        { Reply.Status("PONG"), "+PONG\r\n" },
        { Reply.Status(""), "+\r\n" },
        { Reply.Error("ERR syntax error"), "-ERR syntax error\r\n" },
        { Reply.Error("WRONGTYPE Operation against a key"), "-WRONGTYPE Operation against a key\r\n" },
        { Reply.FromInteger(0), ":0\r\n" },
        { Reply.FromInteger(1), ":1\r\n" },
        { Reply.FromInteger(-1), ":-1\r\n" },
        { Reply.FromInteger(1234567), ":1234567\r\n" },
        { Reply.FromInteger(long.MinValue), ":-9223372036854775808\r\n" },
        { Reply.FromInteger(long.MaxValue), ":9223372036854775807\r\n" },
        { Reply.FromBulk("hello"), "$5\r\nhello\r\n" },
        { Reply.FromBulk([]), "$0\r\n\r\n" },
        { Reply.FromBulk([0, (byte)'\r', (byte)'\n', 0xFF]), "$4\r\n\0\r\n\xFF\r\n" },
        { Reply.NullBulk, "$-1\r\n" },
        { Reply.EmptyArray, "*0\r\n" },
        { Reply.NullArray, "*-1\r\n" },
        { Reply.FromArray([Reply.FromBulk("a"), Reply.FromInteger(42)]), "*2\r\n$1\r\na\r\n:42\r\n" },
    };

    [Theory]
    [MemberData(nameof(Replies))]
    public void Each_reply_kind_is_written_as_RESP2(Reply reply, string expected)
    {
        Assert.Equal(expected, Write(reply));
    }

    [Fact]
    public void Nested_arrays_are_written_depth_first()
    {
        var reply = Reply.FromArray(
        [
            Reply.FromInteger(1),
            Reply.FromArray([Reply.FromBulk("x"), Reply.NullBulk, Reply.EmptyArray]),
            Reply.NullArray,
            Reply.Error("ERR inner"),
        ]);

        Assert.Equal("*4\r\n:1\r\n*3\r\n$1\r\nx\r\n$-1\r\n*0\r\n*-1\r\n-ERR inner\r\n", Write(reply));
    }

    [Fact]
    public void Line_breaks_in_status_and_error_text_become_spaces()
    {
        Assert.Equal("-ERR bad  input\r\n", Write(Reply.Error("ERR bad\r\ninput")));
        Assert.Equal("+a b\r\n", Write(Reply.Status("a\nb")));
    }

    [Fact]
    public void Status_text_is_written_as_UTF8()
    {
        var output = new ArrayBufferWriter<byte>();

        RespWriter.Write(output, Reply.Status("héllo €"));

        Assert.Equal("+héllo €\r\n"u8.ToArray(), output.WrittenSpan.ToArray());
    }

    [Fact]
    public void A_large_bulk_is_written_whole_across_buffer_segments()
    {
        var value = new byte[1024 * 1024 + 7];
        new Random(42).NextBytes(value);
        var output = new ArrayBufferWriter<byte>(initialCapacity: 256);

        RespWriter.Write(output, Reply.FromBulk(value));

        var header = Encoding.ASCII.GetBytes($"${value.Length}\r\n");
        Assert.Equal([.. header, .. value, .. "\r\n"u8], output.WrittenSpan.ToArray());
    }

    private static string Write(Reply reply)
    {
        var output = new ArrayBufferWriter<byte>();
        RespWriter.Write(output, reply);
        return Sequences.Text(output.WrittenSpan);
    }
}
