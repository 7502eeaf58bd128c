using System.Collections.Concurrent;
using System.Globalization;
using System.Threading.Channels;
using RaftKv.Node.Resp;
using RaftKv.StateMachine;

namespace RaftKv.Node.Tests.Resp;

/// <summary>
/// A request handler for server tests. By default it echoes the request's arguments back as an array of bulks, so
/// the reply to a multibulk request is byte for byte the request itself. A few commands do something else:
/// <c>GATE name</c> replies <c>+name</c> once the test calls <see cref="Release"/>; <c>THROW</c> throws;
/// <c>FAULT</c> faults after an await; <c>QUIT</c> closes after its reply; <c>WHOAMI</c> describes the connection.
/// </summary>
internal sealed class ScriptedHandler : IRespRequestHandler
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _gates = new();
    private readonly Channel<string> _handled = Channel.CreateUnbounded<string>();

    public ValueTask<Reply> HandleAsync(RespRequest request, RespConnection connection)
    {
        // Copy before anything else: the request is reused once this method returns.
        var arguments = new byte[request.Count][];
        for (var i = 0; i < arguments.Length; i++)
            arguments[i] = request.Arguments[i].ToArray();
        var name = request.NameUpper;

        var reply = name switch
        {
            "GATE" => WaitForGateAsync(Sequences.Text(arguments[1]), connection.Aborted),
            "THROW" => throw new InvalidOperationException("THROW was called"),
            "FAULT" => FaultAsync(),
            "QUIT" => Quit(connection),
            "WHOAMI" => new(Reply.FromArray(
            [
                Reply.FromInteger(connection.Id),
                Reply.FromBulk(connection.ConnectedAt.ToString("O", CultureInfo.InvariantCulture)),
                Reply.FromBulk(connection.RemoteEndPoint?.ToString() ?? "?"),
            ])),
            _ => new(Reply.FromArray([.. arguments.Select(Reply.FromBulk)])),
        };

        _handled.Writer.TryWrite(name);
        return reply;
    }

    /// <summary>Lets the <c>GATE name</c> request reply.</summary>
    public void Release(string gate) => Gate(gate).TrySetResult();

    /// <summary>Waits until a request named <paramref name="name"/> has been handled (its reply computed or started).</summary>
    public async Task WaitHandledAsync(string name)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (await _handled.Reader.ReadAsync(timeout.Token) != name)
        {
        }
    }

    /// <summary>The names handled so far that nobody waited for.</summary>
    public List<string> DrainHandled()
    {
        var names = new List<string>();
        while (_handled.Reader.TryRead(out var name))
            names.Add(name);
        return names;
    }

    private async ValueTask<Reply> WaitForGateAsync(string gate, CancellationToken aborted)
    {
        await Gate(gate).Task.WaitAsync(aborted);
        return Reply.Status(gate);
    }

    private static async ValueTask<Reply> FaultAsync()
    {
        await Task.Yield();
        throw new InvalidOperationException("FAULT was called");
    }

    private static ValueTask<Reply> Quit(RespConnection connection)
    {
        connection.CloseAfterReply();
        return new(Reply.Ok);
    }

    private TaskCompletionSource Gate(string name)
        => _gates.GetOrAdd(name, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
}
