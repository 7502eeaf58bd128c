using System.Buffers;
using System.Text;
using RaftKv.Client.Protocol;

namespace RaftKv.Client.Tests.Protocol;

public sealed class RespReaderTests
{
    [Theory]
    [InlineData("+OK\r\n", RespType.SimpleString, "OK")]
    [InlineData("+PONG\r\n", RespType.SimpleString, "PONG")]
    [InlineData("-ERR wrong number of arguments\r\n", RespType.Error, "ERR wrong number of arguments")]
    [InlineData(":42\r\n", RespType.Integer, "42")]
    [InlineData(":-7\r\n", RespType.Integer, "-7")]
    [InlineData("$5\r\nhello\r\n", RespType.BulkString, "hello")]
    [InlineData("$0\r\n\r\n", RespType.BulkString, "")]
    [InlineData("$-1\r\n", RespType.Null, null)]
    [InlineData("*-1\r\n", RespType.Null, null)]
    public void Reads_each_scalar_reply(string wire, RespType type, string? text)
    {
        var value = ReadSingle(wire);

        Assert.Equal(type, value.Type);
        Assert.Equal(text, value.AsString());
    }

    [Fact]
    public void Reads_nested_arrays_with_errors_and_nils_inside()
    {
        var value = ReadSingle("*3\r\n:1\r\n*2\r\n$1\r\na\r\n-ERR inner\r\n*0\r\n");

        Assert.Equal(RespType.Array, value.Type);
        Assert.Equal(1, value.Elements[0].AsInt64());
        Assert.Equal("a", value.Elements[1].Elements[0].AsString());
        Assert.True(value.Elements[1].Elements[1].IsError);
        Assert.Empty(value.Elements[2].Elements);
    }

    [Fact]
    public void A_bulk_string_may_hold_CRLF_and_any_byte()
    {
        var payload = new byte[] { 0, 13, 10, 255, 36, 42 };
        var wire = Concat("$6\r\n"u8.ToArray(), payload, "\r\n"u8.ToArray());

        var buffer = new ReadOnlySequence<byte>(wire);
        Assert.True(RespReader.TryRead(ref buffer, out var value));

        Assert.Equal(payload, value.AsBytes());
        Assert.True(buffer.IsEmpty);
    }

    [Fact]
    public void Every_incomplete_prefix_waits_and_leaves_the_buffer_untouched()
    {
        var wire = Encoding.ASCII.GetBytes("*3\r\n+OK\r\n$11\r\nhello world\r\n*2\r\n:1\r\n$-1\r\n");
        for (var length = 0; length < wire.Length; length++)
        {
            var buffer = new ReadOnlySequence<byte>(wire, 0, length);
            var before = buffer;

            Assert.False(RespReader.TryRead(ref buffer, out _), $"a prefix of {length} bytes was read as complete");
            Assert.Equal(before, buffer);
        }

        var complete = new ReadOnlySequence<byte>(wire);
        Assert.True(RespReader.TryRead(ref complete, out var value));
        Assert.Equal("hello world", value.Elements[1].AsString());
    }

    [Fact]
    public void A_reply_split_across_one_byte_segments_reads_the_same()
    {
        var wire = Encoding.ASCII.GetBytes("*2\r\n$5\r\nhello\r\n:12345\r\n");

        var buffer = Segmented(wire, 1);
        Assert.True(RespReader.TryRead(ref buffer, out var value));

        Assert.Equal("hello", value.Elements[0].AsString());
        Assert.Equal(12345, value.Elements[1].AsInt64());
        Assert.True(buffer.IsEmpty);
    }

    [Fact]
    public void A_big_bulk_string_across_many_segments_arrives_whole()
    {
        var payload = new byte[3 * 1024 * 1024 + 17];
        new Random(7).NextBytes(payload);
        var wire = Concat(Encoding.ASCII.GetBytes($"${payload.Length}\r\n"), payload, "\r\n"u8.ToArray());

        var partial = Segmented(wire[..^1], 4096);
        Assert.False(RespReader.TryRead(ref partial, out _));

        var buffer = Segmented(wire, 4096);
        Assert.True(RespReader.TryRead(ref buffer, out var value));
        Assert.Equal(payload, value.AsBytes());
    }

    [Fact]
    public void Pipelined_replies_are_read_one_at_a_time_in_order()
    {
        var buffer = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes("+OK\r\n:2\r\n$1\r\nx\r\n:4"));
        var values = new List<string?>();
        while (RespReader.TryRead(ref buffer, out var value))
            values.Add(value.AsString());

        Assert.Equal(["OK", "2", "x"], values);
        Assert.Equal(":4", Encoding.ASCII.GetString(buffer.ToArray()));
    }

    [Theory]
    [InlineData("!5\r\nhello\r\n")]
    [InlineData(":12a\r\n")]
    [InlineData("$3\r\nabcXY")]
    [InlineData("$-2\r\n")]
    [InlineData("*x\r\n")]
    public void Bytes_that_are_not_RESP2_are_a_protocol_error(string wire)
    {
        Assert.Throws<RespProtocolException>(() =>
        {
            var buffer = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(wire));
            RespReader.TryRead(ref buffer, out _);
        });
    }

    [Fact]
    public void Arrays_nested_beyond_the_limit_are_refused()
    {
        var wire = string.Concat(Enumerable.Repeat("*1\r\n", RespReader.MaxDepth + 1)) + ":1\r\n";

        Assert.Throws<RespProtocolException>(() =>
        {
            var buffer = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(wire));
            RespReader.TryRead(ref buffer, out _);
        });
    }

    private static RespValue ReadSingle(string wire)
    {
        var buffer = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(wire));
        Assert.True(RespReader.TryRead(ref buffer, out var value));
        Assert.True(buffer.IsEmpty);
        return value;
    }

    private static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(static p => p)];

    private static ReadOnlySequence<byte> Segmented(byte[] bytes, int segmentSize)
    {
        Segment? first = null;
        Segment? last = null;
        for (var offset = 0; offset < bytes.Length; offset += segmentSize)
        {
            var memory = bytes.AsMemory(offset, Math.Min(segmentSize, bytes.Length - offset));
            last = last is null ? first = new Segment(memory, 0) : last.Append(memory);
        }

        return first is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(first, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
