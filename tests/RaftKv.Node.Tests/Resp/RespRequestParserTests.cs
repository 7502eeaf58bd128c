using System.Buffers;
using RaftKv.Node.Resp;
using static RaftKv.Node.Tests.Resp.Sequences;

namespace RaftKv.Node.Tests.Resp;

public sealed class RespRequestParserTests : IDisposable
{
    private const string SetRequest = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";

    private readonly RespRequestParser _parser = new(new RespLimits());
    private readonly RespRequest _request = new();

    public void Dispose() => _request.Dispose();

    [Fact]
    public void Multibulk_request_is_parsed_and_consumed()
    {
        var buffer = Single(SetRequest);

        var result = _parser.Parse(buffer, _request);

        Assert.Equal(RespParseStatus.Complete, result.Status);
        Assert.Equal(buffer.End, result.Consumed);
        Assert.Equal(["SET", "k", "hello"], Arguments());
    }

    [Fact]
    public void Every_prefix_of_a_request_is_incomplete_and_consumes_nothing()
    {
        var bytes = Bytes(SetRequest);
        for (var length = 0; length < bytes.Length; length++)
        {
            var prefix = new ReadOnlySequence<byte>(bytes, 0, length);

            var result = _parser.Parse(prefix, _request);

            Assert.True(result.Status == RespParseStatus.Incomplete, $"prefix of {length} bytes: {result.Status}");
            Assert.Equal(prefix.Start, result.Consumed);
        }

        Assert.Equal(RespParseStatus.Complete, _parser.Parse(new ReadOnlySequence<byte>(bytes), _request).Status);
        Assert.Equal(["SET", "k", "hello"], Arguments());
    }

    [Theory]
    [InlineData(SetRequest)]
    [InlineData("*2\r\n$4\r\nECHO\r\n$0\r\n\r\n")]
    [InlineData("set a \"hello world\"\r\n")]
    [InlineData("PING\n")]
    public void A_request_split_at_any_position_gives_the_same_arguments(string raw)
    {
        var bytes = Bytes(raw);
        Assert.Equal(RespParseStatus.Complete, _parser.Parse(new ReadOnlySequence<byte>(bytes), _request).Status);
        var expected = Arguments();

        for (var position = 0; position <= bytes.Length; position++)
        {
            var buffer = SplitAt(bytes, position);
            var result = _parser.Parse(buffer, _request);

            Assert.Equal(RespParseStatus.Complete, result.Status);
            Assert.Equal(buffer.End, result.Consumed);
            Assert.Equal(expected, Arguments());
        }

        var scattered = OneBytePerSegment(bytes);
        Assert.Equal(RespParseStatus.Complete, _parser.Parse(scattered, _request).Status);
        Assert.Equal(expected, Arguments());
    }

    [Fact]
    public void Pipelined_requests_are_parsed_one_at_a_time_in_order()
    {
        var buffer = Single("*1\r\n$4\r\nPING\r\n" + SetRequest + "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4");
        var seen = new List<string[]>();

        RespParseResult result;
        while ((result = _parser.Parse(buffer, _request)).Status == RespParseStatus.Complete)
        {
            seen.Add(Arguments());
            buffer = buffer.Slice(result.Consumed);
        }

        Assert.Equal([["PING"], ["SET", "k", "hello"], ["GET", "k"]], seen);
        Assert.Equal(RespParseStatus.Incomplete, result.Status);
        Assert.Equal("*1\r\n$4", Text(buffer.Slice(result.Consumed).ToArray()));
    }

    [Fact]
    public void Bulk_arguments_are_binary_safe()
    {
        var value = "a\0b\r\nc\r\xff";
        var buffer = Single($"*2\r\n$4\r\nECHO\r\n${value.Length}\r\n{value}\r\n");

        Assert.Equal(RespParseStatus.Complete, _parser.Parse(buffer, _request).Status);

        Assert.Equal(["ECHO", value], Arguments());
    }

    [Theory]
    [InlineData("*0\r\n")]
    [InlineData("*-1\r\n")]
    [InlineData("*-10\r\n")]
    [InlineData("\r\n")]
    [InlineData("\n")]
    [InlineData("  \t \r\n")]
    public void Empty_requests_are_skipped_like_Redis(string empty)
    {
        var buffer = Single(empty + empty + SetRequest + empty);

        var first = _parser.Parse(buffer, _request);
        Assert.Equal(RespParseStatus.Complete, first.Status);
        Assert.Equal(["SET", "k", "hello"], Arguments());

        var rest = buffer.Slice(first.Consumed);
        var second = _parser.Parse(rest, _request);

        Assert.Equal(RespParseStatus.Incomplete, second.Status);
        Assert.Equal(rest.End, second.Consumed);
    }

    [Theory]
    [InlineData("*abc\r\n", "Protocol error: invalid multibulk length")]
    [InlineData("*+1\r\n", "Protocol error: invalid multibulk length")]
    [InlineData("*01\r\n", "Protocol error: invalid multibulk length")]
    [InlineData("*\r\n", "Protocol error: invalid multibulk length")]
    [InlineData("*1048577\r\n", "Protocol error: invalid multibulk length")]
    [InlineData("*1\r\n+foo\r\n", "Protocol error: expected '$', got '+'")]
    [InlineData("*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", "Protocol error: expected '$', got 'f'")]
    [InlineData("*1\r\n$-1\r\n", "Protocol error: invalid bulk length")]
    [InlineData("*1\r\n$x\r\n", "Protocol error: invalid bulk length")]
    [InlineData("*1\r\n$536870913\r\n", "Protocol error: invalid bulk length")]
    [InlineData("*1\r\n$99999999999999999999999\r\n", "Protocol error: invalid bulk length")]
    [InlineData("set a \"b\r\n", "Protocol error: unbalanced quotes in request")]
    [InlineData("set a 'b\r\n", "Protocol error: unbalanced quotes in request")]
    [InlineData("set a \"b\"c\r\n", "Protocol error: unbalanced quotes in request")]
    public void Malformed_requests_get_Redis_error_texts(string raw, string error)
    {
        var result = _parser.Parse(Single(raw), _request);

        Assert.Equal(RespParseStatus.ProtocolError, result.Status);
        Assert.Equal(error, result.Error);
    }

    [Theory]
    [InlineData("", "*", "Protocol error: too big mbulk count string")]
    [InlineData("*1\r\n", "$", "Protocol error: too big bulk count string")]
    [InlineData("", "GET ", "Protocol error: too big inline request")]
    public void Header_and_inline_lines_longer_than_the_limit_are_rejected(string before, string lineStart, string error)
    {
        var limit = new RespLimits().MaxInlineLength;
        var line = lineStart + new string('1', limit + 1 - lineStart.Length);

        Assert.Equal(RespParseStatus.Incomplete, _parser.Parse(Single(before + line[..limit]), _request).Status);
        var result = _parser.Parse(Single(before + line), _request);

        Assert.Equal(RespParseStatus.ProtocolError, result.Status);
        Assert.Equal(error, result.Error);
    }

    [Fact]
    public void An_inline_line_over_the_limit_is_rejected_even_when_it_arrives_whole()
    {
        var limit = new RespLimits().MaxInlineLength;

        var result = _parser.Parse(Single("ECHO " + new string('a', limit) + "\r\n"), _request);

        Assert.Equal(RespParseStatus.ProtocolError, result.Status);
        Assert.Equal("Protocol error: too big inline request", result.Error);
    }

    [Fact]
    public void Configured_limits_bound_bulk_length_and_argument_count()
    {
        var parser = new RespRequestParser(new RespLimits { MaxBulkLength = 5, MaxArguments = 2 });

        Assert.Equal(RespParseStatus.Complete, parser.Parse(Single("*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n"), _request).Status);
        Assert.Equal("Protocol error: invalid bulk length", parser.Parse(Single("*2\r\n$4\r\nECHO\r\n$6\r\n"), _request).Error);
        Assert.Equal("Protocol error: invalid multibulk length", parser.Parse(Single("*3\r\n"), _request).Error);
    }

    [Fact]
    public void A_request_larger_than_the_query_buffer_limit_is_refused_complete_or_not()
    {
        var parser = new RespRequestParser(new RespLimits { MaxInlineLength = 16, MaxQueryBuffer = 64 });
        var value = new string('v', 60);
        var request = $"*2\r\n$4\r\nECHO\r\n$60\r\n{value}\r\n";

        Assert.Equal(RespParseStatus.Incomplete, parser.Parse(Single(request[..64]), _request).Status);
        Assert.Equal(RespParseStatus.QueryBufferLimitExceeded, parser.Parse(Single(request[..65]), _request).Status);
        Assert.Equal(RespParseStatus.QueryBufferLimitExceeded, parser.Parse(Single(request), _request).Status);
    }

    [Fact]
    public void Limits_out_of_range_are_refused_naming_the_setting()
    {
        var tooLarge = new RespLimits { MaxQueryBuffer = 4L * 1024 * 1024 * 1024 };

        var error = Assert.Throws<ArgumentException>(() => new RespRequestParser(tooLarge));

        Assert.StartsWith("RaftKv:Limits:MaxQueryBuffer ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_huge_declared_bulk_without_its_bytes_allocates_nothing()
    {
        var buffer = Single("*2\r\n$3\r\nSET\r\n$500000000\r\n" + new string('x', 1000));
        _parser.Parse(buffer, _request); // warm up: JIT and first-use costs are not what this test is about

        var before = GC.GetAllocatedBytesForCurrentThread();
        var result = _parser.Parse(buffer, _request);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(RespParseStatus.Incomplete, result.Status);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Parsing_in_steady_state_allocates_nothing()
    {
        var multibulk = Single(SetRequest);
        var inline = Single("set a \"hello world\"\r\n");
        var scattered = OneBytePerSegment(Bytes(SetRequest));
        for (var i = 0; i < 3; i++)
            ParseAll();

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
            ParseAll();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);

        void ParseAll()
        {
            _parser.Parse(multibulk, _request);
            _parser.Parse(inline, _request);
            _parser.Parse(scattered, _request);
        }
    }

    [Fact]
    public void A_large_request_followed_by_a_small_one_parses_both_correctly()
    {
        var big = new string('b', 1024 * 1024);
        Assert.Equal(RespParseStatus.Complete, _parser.Parse(Single($"*2\r\n$4\r\nECHO\r\n${big.Length}\r\n{big}\r\n"), _request).Status);
        Assert.Equal(big, Arguments()[1]);

        Assert.Equal(RespParseStatus.Complete, _parser.Parse(Single(SetRequest), _request).Status);

        Assert.Equal(["SET", "k", "hello"], Arguments());
    }

    [Fact]
    public void The_command_name_compares_ignoring_case_and_its_upper_case_form_is_cached()
    {
        _parser.Parse(Single("*1\r\n$4\r\npInG\r\n"), _request);
        var first = _request.NameUpper;
        _parser.Parse(Single("ping\r\n"), _request);

        Assert.True(_request.NameEquals("PING"u8));
        Assert.False(_request.NameEquals("PINGS"u8));
        Assert.Equal("PING", first);
        Assert.Same(first, _request.NameUpper);
    }

    [Theory]
    [InlineData("0", 0L)]
    [InlineData("7", 7L)]
    [InlineData("-1", -1L)]
    [InlineData("9223372036854775807", long.MaxValue)]
    [InlineData("-9223372036854775808", long.MinValue)]
    public void Integers_parse_as_Redis_string2ll_does(string text, long expected)
    {
        Assert.True(RespRequestParser.TryParseInteger(Bytes(text), out var value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("-")]
    [InlineData("-0")]
    [InlineData("007")]
    [InlineData("+1")]
    [InlineData(" 1")]
    [InlineData("1 ")]
    [InlineData("1x")]
    [InlineData("9223372036854775808")]
    [InlineData("-9223372036854775809")]
    [InlineData("000000000000000000001")]
    public void Integers_Redis_refuses_are_refused(string text)
    {
        Assert.False(RespRequestParser.TryParseInteger(Bytes(text), out _));
    }

    private string[] Arguments()
    {
        var arguments = new string[_request.Count];
        for (var i = 0; i < arguments.Length; i++)
            arguments[i] = Text(_request.Arguments[i].Span);
        return arguments;
    }
}
