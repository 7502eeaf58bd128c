using System.Buffers;
using System.Text;
using RaftKv.Client.Commands;
using RaftKv.Client.Protocol;

namespace RaftKv.Client.Tests.Protocol;

public sealed class RespWriterTests
{
    [Fact]
    public void A_command_is_a_multibulk_of_its_name_and_arguments()
    {
        var command = new RaftKvCommand("SET", ["key", "välue", 42L, new byte[] { 1, 2 }], Delivery.ExactlyOnce);

        var wire = Write(command.WriteTo);

        Assert.Equal("*5\r\n$3\r\nSET\r\n$3\r\nkey\r\n$6\r\nvälue\r\n$2\r\n42\r\n$2\r\n\u0001\u0002\r\n", wire);
    }

    [Fact]
    public void A_session_write_is_wrapped_in_SESSION_EXEC_with_id_sequence_and_ack()
    {
        var command = new RaftKvCommand("INCR", ["counter"], Delivery.ExactlyOnce);

        var wire = Write(output => command.WriteTo(output, session: 7, sequence: 12, ack: 10));

        Assert.Equal("*6\r\n$12\r\nSESSION.EXEC\r\n$1\r\n7\r\n$2\r\n12\r\n$2\r\n10\r\n$4\r\nINCR\r\n$7\r\ncounter\r\n", wire);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    [InlineData(long.MaxValue)]
    [InlineData(long.MinValue)]
    public void Integers_are_written_in_decimal(long value)
    {
        var wire = Write(output => RespWriter.WriteBulk(output, value));

        var digits = value.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal($"${digits.Length}\r\n{digits}\r\n", wire);
    }

    [Fact]
    public void What_the_writer_writes_the_reader_reads_back_also_for_big_values()
    {
        var big = new byte[1 << 20];
        new Random(3).NextBytes(big);
        var text = new string('ž', 70_000);
        var command = new RaftKvCommand("SET", ["k", big, text], Delivery.ExactlyOnce);
        var output = new ArrayBufferWriter<byte>();
        command.WriteTo(output);

        var buffer = new ReadOnlySequence<byte>(output.WrittenMemory);
        Assert.True(RespReader.TryRead(ref buffer, out var value));

        Assert.Equal(4, value.Elements.Count);
        Assert.Equal(big, value.Elements[2].AsBytes());
        Assert.Equal(text, value.Elements[3].AsString());
    }

    [Fact]
    public void ExecuteAsync_arguments_convert_from_text_bytes_and_numbers()
    {
        Assert.Equal("abc", RespArgument.From("abc").ToString());
        Assert.Equal("12", RespArgument.From(12).ToString());
        Assert.Equal("1.5", RespArgument.From(1.5).ToString());
        Assert.Equal(RespArgument.ArgumentKind.Bytes, RespArgument.From(new byte[] { 1 }).Kind);
        Assert.Throws<ArgumentException>(() => RespArgument.From(new object()));
        Assert.Throws<ArgumentNullException>(() => RespArgument.From(null!));
    }

    private static string Write(Action<IBufferWriter<byte>> write)
    {
        var output = new ArrayBufferWriter<byte>();
        write(output);
        return Encoding.UTF8.GetString(output.WrittenSpan);
    }
}
