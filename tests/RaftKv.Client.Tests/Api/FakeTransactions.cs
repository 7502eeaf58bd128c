using System.Collections.Concurrent;
using RaftKv.Client.Tests.Fakes;

namespace RaftKv.Client.Tests.Api;

/// <summary>
/// MULTI/EXEC/WATCH for a <see cref="FakeNode"/>, per connection as a node keeps them: commands sent inside MULTI are
/// answered QUEUED and applied by EXEC, whose reply is the array of their replies. <see cref="OnExec"/> lets a test
/// answer EXEC differently (refuse it, lose its reply after applying, report a changed watched key).
/// </summary>
internal sealed class FakeTransactions
{
    private readonly FakeNode node;
    private readonly ConcurrentDictionary<int, List<FakeRequest>?> queues = new();

    public FakeTransactions(FakeNode node)
    {
        this.node = node;
        node.Intercept = Answer;
    }

    /// <summary>
    /// Answers EXEC first, given the attempt's number (1 for the first EXEC the node sees) and a function that applies the
    /// queued commands and returns EXEC's normal reply; null answers normally.
    /// </summary>
    public Func<int, Func<FakeReply>, FakeReply?>? OnExec { get; set; }

    /// <summary>Answers WATCH first, given the attempt's number; null answers OK.</summary>
    public Func<int, FakeReply?>? OnWatch { get; set; }

    /// <summary>How many EXECs the node received.</summary>
    public int Execs => execs;

    private int execs;
    private int watches;

    private FakeReply? Answer(FakeRequest request)
    {
        var queue = queues.GetValueOrDefault(request.Connection);
        switch (request.Name)
        {
            case "WATCH":
                return OnWatch?.Invoke(Interlocked.Increment(ref watches)) ?? FakeReply.Ok;
            case "MULTI":
                queues[request.Connection] = [];
                return FakeReply.Ok;
            case "EXEC":
                queues[request.Connection] = null;
                var attempt = Interlocked.Increment(ref execs);
                FakeReply Run() => new($"*{queue!.Count}\r\n" + string.Concat(queue.Select(q => node.Answer(q).Wire)));
                return OnExec?.Invoke(attempt, Run) ?? Run();
            default:
                if (queue is null)
                    return null;
                queue.Add(request);
                return new FakeReply("+QUEUED\r\n");
        }
    }
}
