using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using RaftKv.Client.Protocol;

namespace RaftKv.Client.Tests.Fakes;

/// <summary>
/// A RESP server on loopback that plays a RaftKv node from a script: it answers <c>INFO raft</c>, the session
/// commands (remembering each session write's reply, as the real state machine does) and a few data commands on a
/// dictionary; <see cref="Intercept"/> lets a test answer anything differently, or lose a reply.
/// </summary>
internal sealed class FakeNode : IAsyncDisposable
{
    private readonly TcpListener listener = new(IPAddress.Loopback, 0);
    private readonly ConcurrentDictionary<long, ConcurrentDictionary<long, FakeReply>> sessions = new();
    private readonly ConcurrentDictionary<string, string> data = new();
    private readonly ConcurrentDictionary<Socket, byte> sockets = new();
    private readonly CancellationTokenSource stopping = new();
    private readonly Task accepting;
    private long nextSession = 100;
    private int connections;

    public FakeNode()
    {
        listener.Start();
        Endpoint = $"127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";
        Members = [Endpoint];
        accepting = Task.Run(AcceptLoopAsync);
    }

    public string Endpoint { get; }

    public bool IsLeader { get; set; } = true;

    /// <summary>The leader this node names in INFO (itself when it leads and this is null).</summary>
    public string? Leader { get; set; }

    public long Term { get; set; } = 1;

    public IReadOnlyList<string> Members { get; set; }

    /// <summary>Answers a request first; null lets the node's default behaviour answer.</summary>
    public Func<FakeRequest, FakeReply?>? Intercept { get; set; }

    /// <summary>Every request received, in order.</summary>
    public ConcurrentQueue<FakeRequest> Received { get; } = new();

    /// <summary>Data commands applied (a session write answered from its record is not applied again).</summary>
    public ConcurrentQueue<string> Applied { get; } = new();

    public int SessionsOpened => sessions.Count;

    /// <summary>Forgets every session, as the cluster does when they expire.</summary>
    public void ExpireSessions() => sessions.Clear();

    /// <summary>Resets every client connection.</summary>
    public void DropConnections()
    {
        foreach (var socket in sockets.Keys)
            socket.Dispose();
    }

    /// <summary>The default answer to <paramref name="request"/>, applying it (for interceptors that then lose the reply).</summary>
    public FakeReply Answer(FakeRequest request)
    {
        switch (request.Name)
        {
            case "INFO":
                return FakeReply.Bulk(
                    $"# Raft\r\nrole:{(IsLeader ? "leader" : Leader is null ? "candidate" : "follower")}\r\nterm:{Term}\r\nleader:{Leader ?? (IsLeader ? Endpoint : "none")}\r\n"
                    + $"members:{string.Join(',', Members)}\r\n");
            case "SESSION.OPEN":
                var id = Interlocked.Increment(ref nextSession);
                sessions[id] = new ConcurrentDictionary<long, FakeReply>();
                return FakeReply.Integer(id);
            case "SESSION.KEEPALIVE":
                return sessions.ContainsKey(long.Parse(request.Args[1], CultureInfo.InvariantCulture)) ? FakeReply.Ok : FakeReply.NoSession;
            case "SESSION.CLOSE":
                return FakeReply.Integer(sessions.TryRemove(long.Parse(request.Args[1], CultureInfo.InvariantCulture), out _) ? 1 : 0);
            case "SESSION.EXEC":
                if (!sessions.TryGetValue(request.SessionId, out var replies))
                    return FakeReply.NoSession;
                return replies.GetOrAdd(request.Sequence, _ => Apply(request.Inner));
            default:
                return Apply(request.Args);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        listener.Stop();
        DropConnections();
        await accepting;
        stopping.Dispose();
    }

    private FakeReply Apply(string[] command)
    {
        var name = command[0].ToUpperInvariant();
        if (name is "GET" or "PTTL" or "EXISTS")
        {
            return name == "GET"
                ? (data.TryGetValue(command[1], out var value) ? FakeReply.Bulk(value) : FakeReply.Null)
                : FakeReply.Integer(name == "PTTL" ? -1 : data.ContainsKey(command[1]) ? 1 : 0);
        }

        Applied.Enqueue(string.Join(' ', command));
        switch (name)
        {
            case "SET" when command.Skip(3).Contains("NX", StringComparer.OrdinalIgnoreCase):
                return data.TryAdd(command[1], command[2]) ? FakeReply.Ok : FakeReply.Null;
            case "SET":
                data[command[1]] = command[2];
                return FakeReply.Ok;
            case "INCR":
                return FakeReply.Integer(long.Parse(data.AddOrUpdate(command[1], "1", static (_, v) => (long.Parse(v, CultureInfo.InvariantCulture) + 1).ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture));
            case "DEL":
                return FakeReply.Integer(command.Skip(1).Count(k => data.TryRemove(k, out _)));
            default:
                return FakeReply.Ok;
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                var socket = await listener.AcceptSocketAsync(stopping.Token);
                sockets[socket] = 0;
                _ = Task.Run(() => ServeAsync(socket));
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        var connection = Interlocked.Increment(ref connections);
        await using var stream = new NetworkStream(socket, ownsSocket: true);
        var input = PipeReader.Create(stream);
        var muted = false;
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(stopping.Token);
                var buffer = result.Buffer;
                var replies = new StringBuilder();
                var close = false;
                while (!close && RespReader.TryRead(ref buffer, out var frame))
                {
                    var request = new FakeRequest([.. frame.Elements.Select(static e => e.AsString()!)]) { Connection = connection };
                    Received.Enqueue(request);
                    var reply = Intercept?.Invoke(request) ?? Answer(request);
                    if (reply.Closes)
                        close = true;
                    else if (reply.Mutes)
                        muted = true;
                    else if (!muted)
                        replies.Append(reply.Wire);
                }

                input.AdvanceTo(buffer.Start, buffer.End);
                if (replies.Length > 0)
                    await stream.WriteAsync(Encoding.UTF8.GetBytes(replies.ToString()), stopping.Token);
                if (close || result.IsCompleted)
                    return;
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // The client or the test closed the connection.
        }
        finally
        {
            sockets.TryRemove(socket, out _);
            await input.CompleteAsync();
        }
    }
}

/// <summary>A request as the fake node parsed it.</summary>
internal sealed record FakeRequest(string[] Args)
{
    public string Name => Args[0].ToUpperInvariant();

    /// <summary>Which connection to the node the request came on (1 for the first accepted, and so on).</summary>
    public int Connection { get; init; }

    public bool IsSessionExec => Name == "SESSION.EXEC";

    public long SessionId => long.Parse(Args[1], CultureInfo.InvariantCulture);

    public long Sequence => long.Parse(Args[2], CultureInfo.InvariantCulture);

    public long Ack => long.Parse(Args[3], CultureInfo.InvariantCulture);

    /// <summary>The command itself: the wrapped one for SESSION.EXEC.</summary>
    public string[] Inner => IsSessionExec ? Args[4..] : Args;

    /// <summary>The command's name, looking inside SESSION.EXEC.</summary>
    public string Command => Inner[0].ToUpperInvariant();

    public override string ToString() => string.Join(' ', Args);
}

/// <summary>What the fake node does with a request: a reply, or a fault.</summary>
internal sealed record FakeReply(string Wire, bool Closes = false, bool Mutes = false)
{
    public static FakeReply Ok { get; } = new("+OK\r\n");

    public static FakeReply Null { get; } = new("$-1\r\n");

    public static FakeReply NoSession { get; } = Error("NOSESSION Unknown or expired session");

    /// <summary>Reset the connection without replying (to this or anything still queued on it).</summary>
    public static FakeReply Close { get; } = new("", Closes: true);

    /// <summary>Never reply again on this connection (a hung node, a silent network).</summary>
    public static FakeReply Mute { get; } = new("", Mutes: true);

    public static FakeReply Integer(long value) => new($":{value.ToString(CultureInfo.InvariantCulture)}\r\n");

    public static FakeReply Bulk(string value) => new($"${Encoding.UTF8.GetByteCount(value)}\r\n{value}\r\n");

    public static FakeReply Error(string text) => new($"-{text}\r\n");
}
