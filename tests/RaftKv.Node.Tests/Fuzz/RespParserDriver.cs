using System.Buffers;
using System.IO.Pipelines;
using RaftKv.Node.Resp;

namespace RaftKv.Node.Tests.Fuzz;

/// <summary>What one connection's bytes parsed to: the requests in order, then how the stream ended.</summary>
/// <param name="Requests">Every request parsed, as its arguments.</param>
/// <param name="End">
/// <see cref="RespParseStatus.Incomplete"/> when every byte was read without error (a partial request may remain),
/// <see cref="RespParseStatus.ProtocolError"/> or <see cref="RespParseStatus.QueryBufferLimitExceeded"/> when the
/// connection would close.
/// </param>
/// <param name="Error">The protocol error's text, for <see cref="RespParseStatus.ProtocolError"/>.</param>
/// <param name="Unconsumed">Bytes of the stream left unconsumed when it ended (a partial request, or from the bad frame on).</param>
internal sealed record RespTranscript(List<byte[][]> Requests, RespParseStatus End, string? Error, long Unconsumed)
{
    public string Describe() =>
        $"{Requests.Count} requests, then {End}{(Error is null ? "" : $" \"{Error}\"")} with {Unconsumed} bytes unconsumed";
}

/// <summary>
/// Feeds one connection's bytes to the RESP request parser the way <c>RespSession</c> does: each read appends a chunk
/// to a <see cref="Pipe"/>; the parser is called on everything unconsumed until it stops completing requests; the
/// pipe is advanced to what it consumed, having examined everything; a protocol error or the query buffer limit ends
/// the connection; when the client finishes, the buffer is parsed once more and the connection ends.
/// </summary>
/// <remarks>
/// The one place the fuzzer touches the parser's API: a parser that changes shape (say, one that keeps state per
/// connection to resume where it stopped) changes this class, and the fuzzer checks it unchanged. A fresh parser per
/// connection suits a stateless parser and a stateful one alike.
/// </remarks>
internal static class RespParserDriver
{
    /// <summary>One call of the parser; a test swaps it for a broken one to show the fuzzer notices.</summary>
    public delegate RespParseResult ParseStep(RespRequestParser parser, in ReadOnlySequence<byte> buffer, RespRequest request);

    private static readonly ParseStep Direct = static (parser, in buffer, request) => parser.Parse(buffer, request);

    public static async Task<RespTranscript> FeedAsync(RespLimits limits, byte[] input, IReadOnlyList<int> cuts, int segmentSize, ParseStep? parse = null)
    {
        parse ??= Direct;
        var parser = new RespRequestParser(limits);
        using var request = new RespRequest();
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, resumeWriterThreshold: 0, minimumSegmentSize: segmentSize, useSynchronizationContext: false));
        var requests = new List<byte[][]>();
        long consumedTotal = 0;

        // Every parse that completes a request consumes at least one byte, so a stream of n bytes in k reads can take
        // at most n + 2k + 2 calls; more is a parser that stopped making progress.
        var budget = input.Length + (2L * (cuts.Count + 2)) + 2;
        var start = 0;
        for (var read = 0; read <= cuts.Count + 1; read++)
        {
            var last = read > cuts.Count;
            if (last)
            {
                await pipe.Writer.CompleteAsync();
            }
            else
            {
                var end = read < cuts.Count ? cuts[read] : input.Length;
                if (end == start)
                    continue; // a socket read returns at least one byte; an empty write would wake no reader
                await pipe.Writer.WriteAsync(input.AsMemory(start, end - start));
                start = end;
            }

            var result = await pipe.Reader.ReadAsync();
            var buffer = result.Buffer;
            RespParseResult parsed;
            while (true)
            {
                if (--budget < 0)
                    throw new InvalidOperationException($"the parser made no progress: {requests.Count} requests after {consumedTotal} of {input.Length} bytes");

                parsed = parse(parser, buffer, request);
                if (parsed.Status != RespParseStatus.Complete)
                    break;

                var rest = buffer.Slice(parsed.Consumed);
                if (rest.Length >= buffer.Length)
                    throw new InvalidOperationException($"a request completed without consuming a byte, after {consumedTotal} bytes");
                consumedTotal += buffer.Length - rest.Length;
                buffer = rest;
                var arguments = new byte[request.Count][];
                for (var i = 0; i < arguments.Length; i++)
                    arguments[i] = request.Arguments[i].ToArray();
                requests.Add(arguments);
            }

            var unparsed = buffer.Slice(parsed.Consumed);
            consumedTotal += buffer.Length - unparsed.Length;
            if (parsed.Status is RespParseStatus.ProtocolError or RespParseStatus.QueryBufferLimitExceeded)
            {
                await pipe.Reader.CompleteAsync();
                return new RespTranscript(requests, parsed.Status, parsed.Error, input.Length - consumedTotal);
            }

            pipe.Reader.AdvanceTo(parsed.Consumed, result.Buffer.End);
            if (result.IsCompleted)
                break;
        }

        await pipe.Reader.CompleteAsync();
        return new RespTranscript(requests, RespParseStatus.Incomplete, null, input.Length - consumedTotal);
    }
}
