using RaftKv.StateMachine;
using RaftKv.Testing;

namespace RaftKv.Chaos.Tests.Workloads;

/// <summary>What a request came to, in the terms of a history: took effect, certainly did not, or nobody knows.</summary>
internal enum CallOutcome
{
    /// <summary>A reply that is not an error (a command error such as <c>WRONGTYPE</c> is <see cref="Failed"/>).</summary>
    Replied,

    /// <summary>Certainly not applied: never sent, refused by a node that is not the leader, or a command error.</summary>
    Failed,

    /// <summary>Sent, and then the connection broke, the reply did not come in time, or the node said UNCERTAIN.</summary>
    Unknown,
}

/// <summary>A reply (or its absence) and what it means for the history.</summary>
internal readonly record struct CallResult(CallOutcome Outcome, Reply? Reply, string? Error)
{
    public bool Replied => Outcome == CallOutcome.Replied;
}

/// <summary>
/// A workload client's connection: to one node at a time, any node (followers forward writes), moving to another node
/// when a call fails. Like any Redis client, it cannot tell whether a write whose reply it lost was applied.
/// </summary>
internal sealed class ChaosConnection(LocalCluster cluster, Random rng, TimeSpan timeout) : IAsyncDisposable
{
    private RespTestClient? client;

    /// <summary>The node this connection talks to now, 0 when not connected.</summary>
    public int Node { get; private set; }

    public async Task<CallResult> CallAsync(params string[] argv)
    {
        if (client is null)
        {
            var node = LocalCluster.Nodes[rng.Next(LocalCluster.Nodes.Length)];
            try
            {
                using var connectTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                client = await cluster.ConnectAsync(node, connectTimeout.Token);
                client.ReplyTimeout = timeout;
                Node = node;
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or OperationCanceledException or IOException
                                           or System.Security.Authentication.AuthenticationException or InvalidDataException)
            {
                // The node is down or cut off (or dropped the connection during the TLS handshake or AUTH): pause a
                // moment rather than spin on connection attempts. Nothing was sent, so nothing took effect.
                await Task.Delay(rng.Next(20, 80));
                return new(CallOutcome.Failed, null, $"connect to node{node}: {e.GetType().Name}");
            }
        }

        try
        {
            var reply = await client.CallAsync(argv);
            if (!reply.IsError)
                return new(CallOutcome.Replied, reply, null);

            // An unknown outcome is the node's to declare; a refusal (no leader, redirect) or a command error took nothing.
            var uncertain = reply.Text!.StartsWith("UNCERTAIN", StringComparison.Ordinal);
            if (!uncertain && IsRefusal(reply.Text))
            {
                await DropAsync();
                await Task.Delay(rng.Next(20, 80));
            }

            return new(uncertain ? CallOutcome.Unknown : CallOutcome.Failed, reply, reply.Text);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or TimeoutException or EndOfStreamException or ObjectDisposedException or InvalidDataException)
        {
            await DropAsync();
            return new(CallOutcome.Unknown, null, $"node{Node}: {e.GetType().Name}");
        }
    }

    private static bool IsRefusal(string error)
        => error.StartsWith("CLUSTERDOWN", StringComparison.Ordinal) || error.StartsWith("MOVED", StringComparison.Ordinal);

    // After any trouble, the next call goes to a node picked afresh.
    private async Task DropAsync()
    {
        if (client is not null)
            await client.DisposeAsync();
        client = null;
        Node = 0;
    }

    public ValueTask DisposeAsync() => client?.DisposeAsync() ?? ValueTask.CompletedTask;
}
