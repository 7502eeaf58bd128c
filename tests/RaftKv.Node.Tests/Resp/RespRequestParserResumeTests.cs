using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using RaftKv.Node.Resp;
using static RaftKv.Node.Tests.Resp.Sequences;

namespace RaftKv.Node.Tests.Resp;

/// <summary>
/// A request arriving in many reads is parsed in time linear in its size: the parser resumes where it stopped
/// (<see cref="RespRequest.Progress"/>) instead of starting over. Asserted on a count of work — the bytes the parser
/// stepped over or searched (<see cref="RespRequest.BytesExamined"/>) — never on time. The bytes go through the same
/// kind of pipe reader a connection uses, split as a socket would deliver them.
/// </summary>
public sealed class RespRequestParserResumeTests : IDisposable
{
    private readonly RespRequest _request = new();

    public void Dispose() => _request.Dispose();

    [Fact]
    public async Task A_request_of_a_million_empty_arguments_arriving_in_16_KB_reads_is_examined_in_linear_work()
    {
        const int arguments = 1_000_000;
        var text = new StringBuilder().Append(CultureInfo.InvariantCulture, $"*{arguments + 1}\r\n$4\r\nECHO\r\n");
        for (var i = 0; i < arguments; i++)
            text.Append("$0\r\n\r\n");
        var bytes = Bytes(text.ToString());

        var requests = await ParseThroughPipeAsync(new RespRequestParser(new RespLimits()), bytes, chunk: 16 * 1024, keep: static r => r.Count);

        Assert.Equal([arguments + 1], requests);

        // Every byte is stepped over by the first pass and copied by the second; a header cut by the end of a read is
        // searched once more (a few bytes per read). Starting over at every read, as the parser once did, examined
        // about reads × bytes / 2 ≈ 1.1 GB here: 180 times this bound.
        Assert.InRange(_request.BytesExamined, bytes.Length, 3L * bytes.Length);
    }

    [Fact]
    public async Task An_overlong_bulk_header_trickling_in_is_searched_once()
    {
        var bytes = Bytes("*1\r\n$" + new string('1', 60_000) + "\r\n");

        var parser = new RespRequestParser(new RespLimits());
        var (status, error) = await ParseUntilErrorAsync(parser, bytes, chunk: 100);

        Assert.Equal(RespParseStatus.ProtocolError, status);
        Assert.Equal("Protocol error: invalid bulk length", error);
        Assert.InRange(_request.BytesExamined, bytes.Length - 10, 2L * bytes.Length);
    }

    [Fact]
    public async Task A_long_inline_line_trickling_in_is_searched_once()
    {
        var value = new string('a', 60_000);
        var bytes = Bytes($"ECHO {value}\r\n");

        var requests = await ParseThroughPipeAsync(new RespRequestParser(new RespLimits()), bytes, chunk: 100, keep: Arguments);

        Assert.Equal([["ECHO", value]], requests);
        Assert.InRange(_request.BytesExamined, bytes.Length, 3L * bytes.Length);
    }

    [Fact]
    public async Task A_large_value_arriving_in_small_reads_is_examined_in_linear_work()
    {
        var value = new string('v', 1024 * 1024);
        var bytes = Bytes($"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${value.Length}\r\n{value}\r\n");

        var requests = await ParseThroughPipeAsync(new RespRequestParser(new RespLimits()), bytes, chunk: 1024, keep: Arguments);

        Assert.Equal([["SET", "k", value]], requests);
        Assert.InRange(_request.BytesExamined, bytes.Length, 3L * bytes.Length);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(64)]
    public async Task Requests_split_into_reads_of_any_size_give_the_same_arguments(int chunk)
    {
        const string raw = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$12\r\nhello\r\nworld\r\n" +
            "PING\r\n" +
            "*0\r\n\r\n" +
            "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n" +
            "set a \"b c\" 'd'\r\n" +
            "*1\r\n$4\r\nQUIT\r\n";
        var bytes = Bytes(raw);
        var whole = await ParseThroughPipeAsync(new RespRequestParser(new RespLimits()), bytes, chunk: bytes.Length, keep: Arguments);

        var split = await ParseThroughPipeAsync(new RespRequestParser(new RespLimits()), bytes, chunk, keep: Arguments);

        Assert.Equal(
            [["SET", "k", "hello\r\nworld"], ["PING"], ["ECHO", ""], ["set", "a", "b c", "d"], ["QUIT"]],
            whole);
        Assert.Equal(whole, split);
    }

    [Fact]
    public void A_buffer_that_does_not_start_where_the_partial_request_did_is_parsed_from_its_start()
    {
        var parser = new RespRequestParser(new RespLimits());
        Assert.Equal(RespParseStatus.Incomplete, parser.Parse(Single("*2\r\n$4\r\nECHO\r\n$5\r\nhe"), _request).Status);

        var result = parser.Parse(Single("*1\r\n$4\r\nPING\r\n"), _request);

        Assert.Equal(RespParseStatus.Complete, result.Status);
        Assert.Equal(["PING"], Arguments(_request));
    }

    [Fact]
    public void Bulk_length_and_query_buffer_limits_are_read_live()
    {
        var limits = new ClientLimits(new RespLimits { MaxInlineLength = 16 });
        var parser = new RespRequestParser(limits);
        var request = Single("*2\r\n$4\r\nECHO\r\n$6\r\nhello!\r\n");
        Assert.Equal(RespParseStatus.Complete, parser.Parse(request, _request).Status);

        limits.MaxBulkLength = 5;
        Assert.Equal("Protocol error: invalid bulk length", parser.Parse(request, _request).Error);

        limits.MaxBulkLength = 512L * 1024 * 1024;
        limits.MaxQueryBuffer = 16;
        Assert.Equal(RespParseStatus.QueryBufferLimitExceeded, parser.Parse(request, _request).Status);
    }

    private static string[] Arguments(RespRequest request)
        => [.. request.Arguments.ToArray().Select(static a => Text(a.Span))];

    /// <summary>Feeds <paramref name="bytes"/> through a stream pipe reader at most <paramref name="chunk"/> bytes a read, as a connection does.</summary>
    private async Task<List<T>> ParseThroughPipeAsync<T>(RespRequestParser parser, byte[] bytes, int chunk, Func<RespRequest, T> keep)
    {
        var seen = new List<T>();
        var input = PipeReader.Create(new ChunkedStream(bytes, chunk), new StreamPipeReaderOptions(bufferSize: 16 * 1024));
        while (true)
        {
            var result = await input.ReadAsync();
            var buffer = result.Buffer;
            RespParseResult parsed;
            while ((parsed = parser.Parse(buffer, _request)).Status == RespParseStatus.Complete)
            {
                seen.Add(keep(_request));
                buffer = buffer.Slice(parsed.Consumed);
            }

            Assert.Equal(RespParseStatus.Incomplete, parsed.Status);
            input.AdvanceTo(parsed.Consumed, buffer.End);
            if (result.IsCompleted)
                break;
        }

        await input.CompleteAsync();
        return seen;
    }

    private async Task<(RespParseStatus Status, string? Error)> ParseUntilErrorAsync(RespRequestParser parser, byte[] bytes, int chunk)
    {
        var input = PipeReader.Create(new ChunkedStream(bytes, chunk), new StreamPipeReaderOptions(bufferSize: 16 * 1024));
        try
        {
            while (true)
            {
                var result = await input.ReadAsync();
                var parsed = parser.Parse(result.Buffer, _request);
                if (parsed.Status is not RespParseStatus.Incomplete || result.IsCompleted)
                    return (parsed.Status, parsed.Error);
                input.AdvanceTo(parsed.Consumed, result.Buffer.End);
            }
        }
        finally
        {
            await input.CompleteAsync();
        }
    }

    /// <summary>A read-only stream that hands out at most <c>chunk</c> bytes per read, like a socket receiving small segments.</summary>
    private sealed class ChunkedStream(byte[] bytes, int chunk) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => bytes.Length;

        public override long Position
        {
            get => _position;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var length = Math.Min(Math.Min(chunk, buffer.Length), bytes.Length - _position);
            bytes.AsSpan(_position, length).CopyTo(buffer);
            _position += length;
            return length;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
            => new(Read(buffer.Span));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
