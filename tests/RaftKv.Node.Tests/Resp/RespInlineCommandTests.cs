using RaftKv.Node.Resp;
using static RaftKv.Node.Tests.Resp.Sequences;

namespace RaftKv.Node.Tests.Resp;

/// <summary>Inline commands as telnet and redis-cli send them, split as Redis's <c>sdssplitargs</c> splits them.</summary>
public sealed class RespInlineCommandTests : IDisposable
{
    private readonly RespRequestParser _parser = new(new RespLimits());
    private readonly RespRequest _request = new();

    public void Dispose() => _request.Dispose();

    [Theory]
    [InlineData("PING\r\n", new[] { "PING" })]
    [InlineData("PING\n", new[] { "PING" })]
    [InlineData("  get   key \t\r\n", new[] { "get", "key" })]
    [InlineData("set a \"hello world\"\r\n", new[] { "set", "a", "hello world" })]
    [InlineData("set a 'hello world'\r\n", new[] { "set", "a", "hello world" })]
    [InlineData("set a \"\"\r\n", new[] { "set", "a", "" })]
    [InlineData("echo \"a\\r\\n\\t\\b\\a\\\\\\\"\\q\"\r\n", new[] { "echo", "a\r\n\t\b\a\\\"q" })]
    [InlineData("echo \"\\x41\\x6a\\xZZ\"\r\n", new[] { "echo", "Aj" + "xZZ" })]
    [InlineData("echo 'it\\'s \\n'\r\n", new[] { "echo", "it's \\n" })]
    [InlineData("echo pre\"quoted part\"\r\n", new[] { "echo", "prequoted part" })]
    [InlineData("echo \"a\"\t'b'\r\n", new[] { "echo", "a", "b" })]
    [InlineData("echo a\0ignored\r\n", new[] { "echo", "a" })]
    [InlineData("echo a\rb\r\n", new[] { "echo", "a", "b" })]
    public void Inline_lines_split_like_Redis(string raw, string[] expected)
    {
        var buffer = Single(raw);

        var result = _parser.Parse(buffer, _request);

        Assert.Equal(RespParseStatus.Complete, result.Status);
        Assert.Equal(buffer.End, result.Consumed);
        Assert.Equal(expected, Arguments());
    }

    [Theory]
    [InlineData("PING")]
    [InlineData("set a \"unterminated")]
    public void A_line_without_its_newline_waits_for_more_bytes(string raw)
    {
        var result = _parser.Parse(Single(raw), _request);

        Assert.Equal(RespParseStatus.Incomplete, result.Status);
    }

    [Fact]
    public void Inline_and_multibulk_requests_can_be_mixed_in_a_pipeline()
    {
        var buffer = Single("PING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\nECHO x\n");
        var seen = new List<string[]>();

        RespParseResult result;
        while ((result = _parser.Parse(buffer, _request)).Status == RespParseStatus.Complete)
        {
            seen.Add(Arguments());
            buffer = buffer.Slice(result.Consumed);
        }

        Assert.Equal([["PING"], ["GET", "k"], ["ECHO", "x"]], seen);
    }

    private string[] Arguments()
    {
        var arguments = new string[_request.Count];
        for (var i = 0; i < arguments.Length; i++)
            arguments[i] = Text(_request.Arguments[i].Span);
        return arguments;
    }
}
