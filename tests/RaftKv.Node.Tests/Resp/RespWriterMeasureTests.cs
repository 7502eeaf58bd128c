using System.Buffers;
using RaftKv.Node.Resp;
using RaftKv.StateMachine;

namespace RaftKv.Node.Tests.Resp;

/// <summary>
/// <see cref="RespWriter.Measure"/> is exactly what <see cref="RespWriter.Write"/> produces: the output buffer limit
/// counts a reply's bytes when it is computed and subtracts them as they are sent, so the two must agree.
/// </summary>
public sealed class RespWriterMeasureTests
{
    public static TheoryData<int> Protocols => [2, 3];

    private static IEnumerable<Reply> Replies()
    {
        yield return Reply.Ok;
        yield return Reply.Status("QUEUED");
        yield return Reply.Status("héllo wörld ✓");
        yield return Reply.Error("ERR line\r\nbreak");
        yield return Reply.Status("");
        foreach (var value in new[] { 0L, 1, -1, 9, 10, -10, 99, 100, 12345, long.MaxValue, long.MinValue, long.MinValue + 1 })
            yield return Reply.FromInteger(value);
        yield return Reply.FromBulk([]);
        yield return Reply.FromBulk(new byte[9]);
        yield return Reply.FromBulk(new byte[10]);
        yield return Reply.FromBulk(new byte[100_000]);
        yield return Reply.NullBulk;
        yield return Reply.NullArray;
        yield return Reply.EmptyArray;
        yield return Reply.FromVerbatim("");
        yield return Reply.FromVerbatim("id=1 addr=...\n");
        yield return Reply.FromMap([Reply.FromBulk("a"), Reply.FromInteger(1), Reply.FromBulk("b"), Reply.NullBulk]);
        yield return Reply.FromArray([Reply.Ok, Reply.FromArray([Reply.FromInteger(-5), Reply.NullArray, Reply.FromVerbatim("v")]), Reply.Error("E")]);
        yield return Reply.FromArray([.. Enumerable.Range(0, 1000).Select(static i => Reply.FromInteger(i))]);
    }

    [Theory]
    [MemberData(nameof(Protocols))]
    public void Measure_is_the_length_Write_produces(int protocol)
    {
        foreach (var reply in Replies())
        {
            var output = new ArrayBufferWriter<byte>();
            RespWriter.Write(output, reply, protocol);

            Assert.Equal(output.WrittenCount, RespWriter.Measure(reply, protocol));
        }
    }
}
