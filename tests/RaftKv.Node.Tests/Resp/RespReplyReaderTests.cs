using System.Buffers;
using System.IO.Pipelines;
using RaftKv.StateMachine;
using RaftKv.Testing;

namespace RaftKv.Node.Tests.Resp;

/// <summary>The tests' one RESP reply reader: every RESP2 and RESP3 type, replies arriving in pieces, and bad bytes.</summary>
public sealed class RespReplyReaderTests
{
    private static RespReply Simple(RespReplyType type, string line) => new(type, line);

    private static RespReply Blob(RespReplyType type, string payload) => new(type, bytes: Sequences.Bytes(payload));

    private static RespReply Aggregate(RespReplyType type, params RespReply[] items) => new(type, items: items);

    private static readonly RespReply Ok = Simple(RespReplyType.SimpleString, "OK");

    public static TheoryData<string, RespReply> Wires => new()
    {
        { "+OK\r\n", Ok },
        { "+\r\n", Simple(RespReplyType.SimpleString, "") },
        { "-ERR unknown command 'x'\r\n", Simple(RespReplyType.Error, "ERR unknown command 'x'") },
        { ":42\r\n", Simple(RespReplyType.Integer, "42") },
        { ":-9223372036854775808\r\n", Simple(RespReplyType.Integer, "-9223372036854775808") },
        { "$5\r\nhello\r\n", Blob(RespReplyType.BulkString, "hello") },
        { "$0\r\n\r\n", Blob(RespReplyType.BulkString, "") },
        { "$4\r\n\r\n\0\xff\r\n", Blob(RespReplyType.BulkString, "\r\n\0\xff") },
        { "$-1\r\n", new RespReply(RespReplyType.BulkString) },
        { "*-1\r\n", new RespReply(RespReplyType.Array) },
        { "*0\r\n", Aggregate(RespReplyType.Array) },
        { "*3\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n-ERR inner\r\n", Aggregate(RespReplyType.Array, Simple(RespReplyType.Integer, "1"), Aggregate(RespReplyType.Array, Blob(RespReplyType.BulkString, "a"), new RespReply(RespReplyType.BulkString)), Simple(RespReplyType.Error, "ERR inner")) },
        { "_\r\n", Simple(RespReplyType.Null, "") },
        { "#t\r\n", Simple(RespReplyType.Boolean, "t") },
        { "#f\r\n", Simple(RespReplyType.Boolean, "f") },
        { ",3.14\r\n", Simple(RespReplyType.Double, "3.14") },
        { ",-1.5e+300\r\n", Simple(RespReplyType.Double, "-1.5e+300") },
        { ",inf\r\n", Simple(RespReplyType.Double, "inf") },
        { ",-inf\r\n", Simple(RespReplyType.Double, "-inf") },
        { ",nan\r\n", Simple(RespReplyType.Double, "nan") },
        { "(3492890328409238509324850943850943825024385\r\n", Simple(RespReplyType.BigNumber, "3492890328409238509324850943850943825024385") },
        { "(-12\r\n", Simple(RespReplyType.BigNumber, "-12") },
        { "!21\r\nSYNTAX invalid syntax\r\n", Blob(RespReplyType.BulkError, "SYNTAX invalid syntax") },
        { "=15\r\ntxt:Some string\r\n", Blob(RespReplyType.VerbatimString, "txt:Some string") },
        { "%2\r\n+first\r\n:1\r\n$6\r\nsecond\r\n#f\r\n", Aggregate(RespReplyType.Map, Simple(RespReplyType.SimpleString, "first"), Simple(RespReplyType.Integer, "1"), Blob(RespReplyType.BulkString, "second"), Simple(RespReplyType.Boolean, "f")) },
        { "%0\r\n", Aggregate(RespReplyType.Map) },
        { "~2\r\n+a\r\n+b\r\n", Aggregate(RespReplyType.Set, Simple(RespReplyType.SimpleString, "a"), Simple(RespReplyType.SimpleString, "b")) },
        { ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n", Aggregate(RespReplyType.Push, Blob(RespReplyType.BulkString, "message"), Blob(RespReplyType.BulkString, "ch"), Blob(RespReplyType.BulkString, "hi")) },
        {
            "|1\r\n+ttl\r\n:3600\r\n*1\r\n|1\r\n+key\r\n+a\r\n:2\r\n",
            new RespReply(RespReplyType.Array, items: [new RespReply(RespReplyType.Integer, "2", attributes: [Simple(RespReplyType.SimpleString, "key"), Simple(RespReplyType.SimpleString, "a")])],
                attributes: [Simple(RespReplyType.SimpleString, "ttl"), Simple(RespReplyType.Integer, "3600")])
        },
    };

    [Theory]
    [MemberData(nameof(Wires))]
    public void Each_type_is_read_whole_and_nothing_after_it(string wire, RespReply expected)
    {
        var buffer = new ReadOnlySequence<byte>(Sequences.Bytes(wire + "+next\r\n"));

        Assert.True(RespReplyReader.TryRead(ref buffer, out var reply));

        Assert.Equal(expected, reply);
        Assert.Equal("+next\r\n", Sequences.Text(buffer.ToArray()));
    }

    [Theory]
    [MemberData(nameof(Wires))]
    public void A_reply_cut_anywhere_is_incomplete_and_the_buffer_is_left_as_it_was(string wire, RespReply expected)
    {
        var bytes = Sequences.Bytes(wire);
        for (var length = 0; length < bytes.Length; length++)
        {
            var prefix = new ReadOnlySequence<byte>(bytes, 0, length);
            Assert.False(RespReplyReader.TryRead(ref prefix, out _), $"whole after {length} of {bytes.Length} bytes");
            Assert.Equal(length, prefix.Length);
        }

        var split = Sequences.OneBytePerSegment(bytes);
        Assert.True(RespReplyReader.TryRead(ref split, out var reply));
        Assert.Equal(expected, reply);
        Assert.True(split.IsEmpty);
    }

    [Fact]
    public async Task A_read_waits_for_the_rest_of_a_reply_arriving_in_pieces()
    {
        var pipe = new Pipe();
        var reader = new RespReplyReader(pipe.Reader);
        var wire = Sequences.Bytes("*2\r\n$11\r\nhello world\r\n%1\r\n+k\r\n,1.5\r\n+after\r\n");
        var pieces = new[] { wire[..1], wire[1..7], wire[7..15], wire[15..30], wire[30..^8] };

        var read = reader.ReadAsync().AsTask();
        foreach (var piece in pieces)
        {
            Assert.False(read.IsCompleted);
            await pipe.Writer.WriteAsync(piece);
            await Task.Delay(10);
        }

        var reply = await read.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("*[\"hello world\", %[+k, ,1.5]]", reply.ToString());

        var next = reader.ReadAsync().AsTask();
        await Task.Delay(10);
        Assert.False(next.IsCompleted);
        await pipe.Writer.WriteAsync(wire[^8..]);
        Assert.Equal(Simple(RespReplyType.SimpleString, "after"), await next.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Pipelined_replies_are_read_one_at_a_time_in_order()
    {
        var pipe = new Pipe();
        var reader = new RespReplyReader(pipe.Reader);
        await pipe.Writer.WriteAsync(Sequences.Bytes("+OK\r\n:2\r\n$1\r\nx\r\n_\r\n"));

        Assert.Equal(Ok, await reader.ReadAsync());
        Assert.Equal(Simple(RespReplyType.Integer, "2"), await reader.ReadAsync());
        Assert.Equal(Blob(RespReplyType.BulkString, "x"), await reader.ReadAsync());
        Assert.True((await reader.ReadAsync()).IsNull);
    }

    [Theory]
    [InlineData("?5\r\n", "unknown reply type byte 0x3f ('?')")]
    [InlineData("hello", "unknown reply type byte 0x68 ('h')")]
    [InlineData("\r\n", "unknown reply type byte 0x0d ('\\x0d')")]
    [InlineData(":12a\r\n", "'12a' is not an integer")]
    [InlineData(":\r\n", "'' is not an integer")]
    [InlineData("$3\r\nabcXY", "a BulkString of 3 bytes is not followed by CRLF")]
    [InlineData("$-2\r\n", "invalid length -2")]
    [InlineData("*x\r\n", "'x' is not an integer")]
    [InlineData("%1\r\n+k\r\n$1\r\nvv\r\n", "a BulkString of 1 bytes is not followed by CRLF")]
    [InlineData("#x\r\n", "'x' is not a valid Boolean")]
    [InlineData(",1.5.2\r\n", "'1.5.2' is not a valid Double")]
    [InlineData("(12x\r\n", "'12x' is not a valid BigNumber")]
    [InlineData("_x\r\n", "'x' is not a valid Null")]
    [InlineData("|-1\r\n", "an attribute map has no null form")]
    public void Bytes_that_are_not_RESP_fail_and_say_why(string wire, string why)
    {
        var buffer = new ReadOnlySequence<byte>(Sequences.Bytes(wire));

        var error = Assert.Throws<InvalidDataException>(() => RespReplyReader.TryRead(ref buffer, out _));

        Assert.Contains("Not a RESP reply: " + why, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Aggregates_nested_too_deep_are_refused()
    {
        var wire = string.Concat(Enumerable.Repeat("*1\r\n", RespReplyReader.MaxDepth + 1)) + ":1\r\n";
        var buffer = new ReadOnlySequence<byte>(Sequences.Bytes(wire));

        var error = Assert.Throws<InvalidDataException>(() => RespReplyReader.TryRead(ref buffer, out _));

        Assert.Contains($"nested deeper than {RespReplyReader.MaxDepth}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_malformed_reply_fails_the_read()
    {
        var pipe = new Pipe();
        var reader = new RespReplyReader(pipe.Reader);
        await pipe.Writer.WriteAsync(Sequences.Bytes("+OK\r\n:nope\r\n"));

        Assert.Equal(Ok, await reader.ReadAsync());
        var error = await Assert.ThrowsAsync<InvalidDataException>(async () => await reader.ReadAsync());
        Assert.Contains("'nope' is not an integer", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "Connection closed by the server.")]
    [InlineData("$5\r\nhel", "Connection closed by the server in the middle of a reply (7 bytes of it arrived).")]
    public async Task A_connection_closed_before_a_whole_reply_is_the_end_of_the_stream(string wire, string message)
    {
        var pipe = new Pipe();
        var reader = new RespReplyReader(pipe.Reader);
        await pipe.Writer.WriteAsync(Sequences.Bytes(wire));
        await pipe.Writer.CompleteAsync();

        var error = await Assert.ThrowsAsync<EndOfStreamException>(async () => await reader.ReadAsync());

        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void Equal_replies_have_the_same_type_and_bytes()
    {
        Assert.NotEqual(new RespReply(RespReplyType.BulkString), Blob(RespReplyType.BulkString, ""));
        Assert.NotEqual(Ok, Blob(RespReplyType.BulkString, "OK"));
        Assert.NotEqual(new RespReply(RespReplyType.Array), Aggregate(RespReplyType.Array));
        Assert.NotEqual(Aggregate(RespReplyType.Array, Ok), Aggregate(RespReplyType.Set, Ok));
        Assert.NotEqual(Simple(RespReplyType.Double, "1.0"), Simple(RespReplyType.Double, "1"));
        Assert.NotEqual(Ok, new RespReply(RespReplyType.SimpleString, "OK", attributes: [Ok, Ok]));
        Assert.Equal(Aggregate(RespReplyType.Map, Blob(RespReplyType.BulkString, "k"), Ok), Aggregate(RespReplyType.Map, Blob(RespReplyType.BulkString, "k"), Ok));
    }

    [Fact]
    public void The_RESP2_types_the_map_and_verbatim_text_become_the_state_machine_replies()
    {
        Assert.Equal(Reply.Ok, Read("+OK\r\n").ToReply());
        Assert.Equal(Reply.Error("ERR no"), Read("-ERR no\r\n").ToReply());
        Assert.Equal(Reply.FromInteger(-7), Read(":-7\r\n").ToReply());
        Assert.Equal(Reply.FromBulk("v"), Read("$1\r\nv\r\n").ToReply());
        Assert.Equal(Reply.NullBulk, Read("$-1\r\n").ToReply());
        Assert.Equal(Reply.NullArray, Read("*-1\r\n").ToReply());
        Assert.Equal(Reply.FromArray([Reply.Ok, Reply.NullBulk]), Read("*2\r\n+OK\r\n$-1\r\n").ToReply());
        Assert.Equal(Reply.FromMap([Reply.FromBulk("k"), Reply.FromInteger(1)]), Read("%1\r\n$1\r\nk\r\n:1\r\n").ToReply());
        Assert.Equal(Reply.FromVerbatim("id=1"), Read("=8\r\ntxt:id=1\r\n").ToReply());
        Assert.Equal(Reply.Status("\xff"), Read("+\xff\r\n").ToReply());
    }

    [Theory]
    [InlineData("_\r\n")]
    [InlineData("#t\r\n")]
    [InlineData(",1.5\r\n")]
    [InlineData("~1\r\n+a\r\n")]
    [InlineData("=8\r\nmkd:id=1\r\n")]
    public void RESP3_types_no_Reply_holds_fail_to_convert(string wire)
    {
        var error = Assert.Throws<InvalidDataException>(() => Read(wire).ToReply());

        Assert.StartsWith("No Reply holds this RESP3 reply", error.Message, StringComparison.Ordinal);
    }

    private static RespReply Read(string wire)
    {
        var buffer = new ReadOnlySequence<byte>(Sequences.Bytes(wire));
        Assert.True(RespReplyReader.TryRead(ref buffer, out var reply));
        Assert.True(buffer.IsEmpty);
        return reply;
    }
}
