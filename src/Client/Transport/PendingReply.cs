using System.Buffers;
using RaftKv.Client.Commands;

namespace RaftKv.Client.Transport;

/// <summary>
/// One attempt of one command on one connection: the frame to send and the reply it waits for. Whether it was sent
/// is decided exactly once, between the connection's writer (which claims it) and a caller who gives up (who
/// abandons it), so "was it sent?" always has a true answer.
/// </summary>
internal sealed class PendingReply
{
    private const int Queued = 0;
    private const int Sent = 1;
    private const int Abandoned = 2;

    private readonly TaskCompletionSource<RespValue> completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly RaftKvCommand command;
    private readonly long session;
    private readonly long sequence;
    private readonly long ack;
    private int state;

    /// <summary>An attempt sent as is.</summary>
    public PendingReply(RaftKvCommand command)
        => this.command = command;

    /// <summary>An attempt sent as <c>SESSION.EXEC session sequence ack command...</c>.</summary>
    public PendingReply(RaftKvCommand command, long session, long sequence, long ack)
        : this(command)
    {
        this.session = session;
        this.sequence = sequence;
        this.ack = ack;
    }

    /// <summary>The <see cref="TimeProvider"/> timestamp at which the writer claimed it.</summary>
    public long SentAt { get; private set; }

    /// <summary>True once the writer claimed it: from then on the server may have received it.</summary>
    public bool WasSent => Volatile.Read(ref state) == Sent;

    public Task<RespValue> Reply => completion.Task;

    /// <summary>The writer takes it for sending; false when the caller gave up first (it is then never sent).</summary>
    public bool TryClaim(long timestamp)
    {
        if (Interlocked.CompareExchange(ref state, Sent, Queued) != Queued)
            return false;
        SentAt = timestamp;
        return true;
    }

    /// <summary>The caller gives up; true when the attempt had not been sent (and now never will be).</summary>
    public bool TryAbandon() => Interlocked.CompareExchange(ref state, Abandoned, Queued) == Queued;

    public void WriteTo(IBufferWriter<byte> output)
    {
        if (session == 0)
            command.WriteTo(output);
        else
            command.WriteTo(output, session, sequence, ack);
    }

    public void Complete(RespValue reply) => completion.TrySetResult(reply);

    public void Fail(Exception reason) => completion.TrySetException(reason);
}
