using System.Runtime.CompilerServices;
using RaftKv.Client.Commands;
using RaftKv.Client.Protocol;

namespace RaftKv.Client;

// The data API (RaftKvCommands) run at once on the shared connection, and what only a connection offers: iterating
// keys, PING, DBSIZE, batches and transactions.
public sealed partial class RaftKvConnection : RaftKvCommands
{
    /// <summary>
    /// Every key matching <paramref name="pattern"/> (a glob, as <c>KEYS</c>), fetched a page at a time with
    /// <c>SCAN cursor MATCH pattern COUNT pageSize</c>, like StackExchange.Redis's <c>IServer.KeysAsync</c>.
    /// </summary>
    /// <remarks>
    /// SCAN's guarantees hold: a key present for the whole iteration is returned once; keys added or removed meanwhile
    /// may or may not be. RaftKv's cursors are valid on every node, so the iteration survives a leader change; each
    /// page is one read with its own <see cref="RaftKvClientOptions.OperationTimeout"/>.
    /// </remarks>
    /// <param name="pattern">The glob keys must match; <c>*</c> for all.</param>
    /// <param name="pageSize">The <c>COUNT</c> hint: keys visited per request.</param>
    /// <param name="cancellationToken">Stops the iteration.</param>
    public async IAsyncEnumerable<string> KeysAsync(
        string pattern = "*", int pageSize = 250, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        var cursor = "0";
        do
        {
            var page = await RunCommandAsync(
                new RaftKvCommand("SCAN", [cursor, "MATCH", pattern, "COUNT", pageSize], Delivery.Idempotent), cancellationToken).ConfigureAwait(false);
            if (page.Elements is not [var next, var keys] || next.AsString() is not { } nextCursor)
                throw new InvalidCastException($"SCAN answered {page}, not [cursor, keys].");
            foreach (var key in keys.Elements)
                yield return key.AsString()!;
            cursor = nextCursor;
        }
        while (cursor != "0");
    }

    /// <summary>Sends <c>PING</c> to the node the connection uses and measures the round trip, retries included.</summary>
    public async Task<TimeSpan> PingAsync(CancellationToken cancellationToken = default)
    {
        var started = time.GetTimestamp();
        await RunCommandAsync(new RaftKvCommand("PING", [], Delivery.Idempotent), cancellationToken).ConfigureAwait(false);
        return time.GetElapsedTime(started);
    }

    /// <summary>The number of keys in the database (<c>DBSIZE</c>; RaftKv counts live keys only).</summary>
    public async Task<long> DatabaseSizeAsync(CancellationToken cancellationToken = default)
        => (await RunCommandAsync(new RaftKvCommand("DBSIZE", [], Delivery.Idempotent), cancellationToken).ConfigureAwait(false)).AsInt64();

    /// <summary>
    /// A batch: commands queued on it are held until <see cref="RaftKvBatch.Execute"/> sends them together, pipelined
    /// on this connection, each keeping its own task — StackExchange.Redis's <c>IBatch</c>.
    /// </summary>
    public RaftKvBatch CreateBatch() => new(this);

    /// <summary>
    /// A transaction: commands queued on it run in one <c>MULTI</c>/<c>EXEC</c> (one Raft log entry, at one cluster
    /// time) on a connection of its own, if its conditions hold — StackExchange.Redis's <c>ITransaction</c>.
    /// </summary>
    public RaftKvTransaction CreateTransaction() => new(this);

    /// <summary>
    /// Runs <paramref name="command"/> now. A write the server refused to run inside a session goes without one from
    /// then on (see <see cref="DeliveryOf"/>).
    /// </summary>
    internal Task<RespValue> RunCommandAsync(RaftKvCommand command, CancellationToken cancellationToken)
        => ExecuteAsync(
            command.Delivery == Delivery.ExactlyOnce && DeliveryOf(command.Name) == Delivery.AtMostOnce ? command.WithoutSession() : command,
            cancellationToken);

    private protected override async Task<T> SubmitAsync<T>(RaftKvCommand command, Func<RespValue, T> convert, CancellationToken cancellationToken)
        => convert(await RunCommandAsync(command, cancellationToken).ConfigureAwait(false));
}
