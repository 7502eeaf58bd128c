using System.Buffers;
using RaftKv.Client.Protocol;

namespace RaftKv.Client.Commands;

/// <summary>A command as the caller asked for it: name, arguments, and how it must be delivered.</summary>
internal sealed class RaftKvCommand(string name, RespArgument[] arguments, Delivery delivery)
{
    private const string SessionExec = "SESSION.EXEC";

    public string Name { get; } = name;

    public RespArgument[] Arguments { get; } = arguments;

    public Delivery Delivery { get; } = delivery;

    /// <summary>The same command sent as is, unsafe to repeat (the server refused to run it inside a session).</summary>
    public RaftKvCommand WithoutSession() => new(Name, Arguments, Delivery.AtMostOnce);

    /// <summary>Writes <c>name args...</c>.</summary>
    public void WriteTo(IBufferWriter<byte> output)
    {
        RespWriter.WriteArrayHeader(output, 1 + Arguments.Length);
        WriteCommand(output);
    }

    /// <summary>Writes <c>SESSION.EXEC id seq ack name args...</c>.</summary>
    public void WriteTo(IBufferWriter<byte> output, long session, long sequence, long ack)
    {
        RespWriter.WriteArrayHeader(output, 5 + Arguments.Length);
        RespWriter.WriteBulk(output, SessionExec);
        RespWriter.WriteBulk(output, session);
        RespWriter.WriteBulk(output, sequence);
        RespWriter.WriteBulk(output, ack);
        WriteCommand(output);
    }

    public override string ToString() => Arguments.Length == 0 ? Name : $"{Name} {string.Join(' ', Arguments)}";

    private void WriteCommand(IBufferWriter<byte> output)
    {
        RespWriter.WriteBulk(output, Name);
        foreach (ref readonly var argument in Arguments.AsSpan())
            RespWriter.WriteBulk(output, in argument);
    }
}
