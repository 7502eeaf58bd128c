using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using RaftKv.Node.Resp;
using RaftKv.StateMachine;

namespace RaftKv.Benchmarks;

/// <summary>The RESP hot path: framing a pipeline of requests, and writing their replies.</summary>
[MemoryDiagnoser]
public class RespBenchmarks
{
    private const int Pipeline = 100;
    private readonly RespRequestParser parser = new(new RespLimits());
    private readonly RespRequest request = new();
    private readonly ArrayBufferWriter<byte> output = new(1 << 16);
    private readonly Reply value = Reply.FromBulk(new byte[100]);
    private ReadOnlySequence<byte> pipeline;

    [GlobalSetup]
    public void Setup()
    {
        var text = new StringBuilder();
        for (var i = 0; i < Pipeline; i++)
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"*3\r\n$3\r\nSET\r\n$10\r\nkey:{i:000000}\r\n$100\r\n{new string('v', 100)}\r\n");
        pipeline = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(text.ToString()));
    }

    [GlobalCleanup]
    public void Cleanup() => request.Dispose();

    /// <summary>Frames 100 pipelined SET requests (one op = the whole pipeline).</summary>
    [Benchmark]
    public int ParsePipelineOf100Sets()
    {
        var buffer = pipeline;
        var count = 0;
        while (parser.Parse(buffer, request) is { Status: RespParseStatus.Complete } parsed)
        {
            buffer = buffer.Slice(parsed.Consumed);
            count += request.Count;
        }

        return count;
    }

    /// <summary>Writes 100 replies: 50 <c>+OK</c> and 50 100-byte bulks.</summary>
    [Benchmark]
    public int Write100Replies()
    {
        output.ResetWrittenCount();
        for (var i = 0; i < Pipeline / 2; i++)
        {
            RespWriter.Write(output, Reply.Ok);
            RespWriter.Write(output, value);
        }

        return output.WrittenCount;
    }
}
