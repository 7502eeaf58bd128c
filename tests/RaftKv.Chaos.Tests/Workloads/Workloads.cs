using System.Globalization;
using System.Text;
using RaftKv.Chaos.Tests.History;
using RaftKv.Client;
using RaftKv.StateMachine;

namespace RaftKv.Chaos.Tests.Workloads;

/// <summary>Which lock of the lock service a <see cref="Workloads.QueuedLockAsync"/> client uses.</summary>
internal enum QueuedLockKind
{
    Mutex,
    ReadWrite,
    Semaphore,
}

/// <summary>
/// The chaos workloads: each logical client (a "process") loops until stopped, recording every request in the
/// history with the outcome it can vouch for. Writes whose reply was lost are <see cref="Outcome.Info"/>; reads that
/// got no answer are <see cref="Outcome.Fail"/> (a read changes nothing, so it may be dropped).
/// </summary>
internal sealed class Workloads(LocalCluster cluster, HistoryRecorder history, TimeSpan timeout)
{
    /// <summary>The seed's release script: compare-and-delete.</summary>
    public const string ReleaseScript = "if redis.call('get',KEYS[1])==ARGV[1] then return redis.call('del',KEYS[1]) else return 0 end";

    private const string CasScript = "if redis.call('get',KEYS[1])==ARGV[1] then redis.call('set',KEYS[1],ARGV[2]) return 1 else return 0 end";

    /// <summary>Every register key starts with this.</summary>
    public const string RegisterPrefix = "reg:";

    // Registers move to fresh keys every few seconds, as Jepsen does: checking a key costs more the longer its history.
    private static readonly long RegisterEpochNanos = (long)TimeSpan.FromSeconds(5).TotalNanoseconds;
    private const int RegistersPerEpoch = 3;

    private string RegisterKey(int index) => $"{RegisterPrefix}{history.Now / RegisterEpochNanos}:{index}";

    // The counter moves too: a soak's single counter key gathers tens of thousands of operations, past what the
    // linearizability search can decide in memory.
    private string CounterKey() => $"{CounterPrefix}{history.Now / RegisterEpochNanos}";

    /// <summary>Every counter key starts with this.</summary>
    public const string CounterPrefix = "counter:";

    public const string SetKey = "set";

    public static readonly string[] LockKeys = ["lock:a", "lock:b"];

    public static readonly TimeSpan LockTtl = TimeSpan.FromSeconds(3);

    private int nextProcess;

    private int NewProcess() => Interlocked.Increment(ref nextProcess);

    /// <summary>GET / SET / compare-and-set by EVAL over a few keys, with values unique to each write.</summary>
    public async Task RegisterAsync(Random rng, CancellationToken stop)
    {
        var process = NewProcess();
        await using var connection = new ChaosConnection(cluster, rng, timeout);
        for (var n = 0; !stop.IsCancellationRequested; n++)
        {
            var key = RegisterKey(rng.Next(RegistersPerEpoch));
            var value = $"p{process}-{n}";
            switch (rng.Next(3))
            {
                case 0:
                    await ReadAsync(connection, process, key);
                    break;
                case 1:
                {
                    var op = history.Invoke(process, OpKind.Write, key, value);
                    var result = await connection.CallAsync("SET", key, value);
                    Complete(op, result, static reply => reply == Reply.Ok);
                    break;
                }

                default:
                {
                    // Compare with a value some client wrote recently: some succeed, some do not.
                    var expected = $"p{rng.Next(1, Math.Max(2, nextProcess + 1))}-{Math.Max(0, n - rng.Next(1, 4))}";
                    var op = history.Invoke(process, OpKind.Cas, key, value, expected);
                    var result = await connection.CallAsync("EVAL", CasScript, "1", key, expected, value);
                    Complete(op, result, static reply => reply.Integer == 1);
                    break;
                }
            }
        }
    }

    /// <summary>INCR with reads of the counter (a fresh key every few seconds).</summary>
    public async Task CounterAsync(Random rng, CancellationToken stop)
    {
        var process = NewProcess();
        await using var connection = new ChaosConnection(cluster, rng, timeout);
        while (!stop.IsCancellationRequested)
        {
            var key = CounterKey();
            if (rng.Next(4) == 0)
            {
                await ReadAsync(connection, process, key);
                continue;
            }

            var op = history.Invoke(process, OpKind.Incr, key);
            var result = await connection.CallAsync("INCR", key);
            if (result.Replied)
                op.Ok(result.Reply!.Integer.ToString(CultureInfo.InvariantCulture));
            else
                Complete(op, result, static _ => false);
        }
    }

    /// <summary>Unique writes — one key per element — all read back at the end by <see cref="ReadSetAsync"/>.</summary>
    public async Task SetAsync(Random rng, CancellationToken stop)
    {
        var process = NewProcess();
        await using var connection = new ChaosConnection(cluster, rng, timeout);
        for (var n = 0; !stop.IsCancellationRequested; n++)
        {
            var element = $"p{process}-{n}";
            var op = history.Invoke(process, OpKind.Add, SetKey, element);
            var result = await connection.CallAsync("SET", $"{SetKey}:{element}", "1");
            Complete(op, result, static reply => reply == Reply.Ok);
        }
    }

    /// <summary>Reads the whole set (every key of the set workload), recording a <see cref="OpKind.ReadAll"/>.</summary>
    public async Task<bool> ReadSetAsync(Random rng)
    {
        var process = NewProcess();
        await using var connection = new ChaosConnection(cluster, rng, timeout);
        var op = history.Invoke(process, OpKind.ReadAll, SetKey);
        var result = await connection.CallAsync("KEYS", SetKey + ":*");
        if (!result.Replied)
        {
            op.Fail(result.Error);
            return false;
        }

        var elements = result.Reply!.Items!.Select(static item => Encoding.UTF8.GetString(item.Bulk!)[(SetKey.Length + 1)..]).ToList();
        op.Ok(values: elements);
        return true;
    }

    /// <summary>
    /// Locks: take one (by <c>SET NX PX</c>, or <c>LOCK.ACQUIRE</c> for a fencing token), hold it briefly, release it
    /// with the seed's compare-and-delete script (or <c>LOCK.RELEASE</c>), wait, repeat.
    /// </summary>
    public async Task LockAsync(Random rng, bool fenced, CancellationToken stop)
    {
        var process = NewProcess();
        await using var connection = new ChaosConnection(cluster, rng, timeout);
        var ttl = ((long)LockTtl.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
        for (var n = 0; !stop.IsCancellationRequested; n++)
        {
            var key = LockKeys[rng.Next(LockKeys.Length)];
            var token = $"p{process}-{n}";
            var acquire = history.Invoke(process, OpKind.Acquire, key, token, ttl: LockTtl);
            var result = fenced
                ? await connection.CallAsync("LOCK.ACQUIRE", key, token, ttl)
                : await connection.CallAsync("SET", key, token, "NX", "PX", ttl);
            bool mayHold;
            if (result.Replied && result.Reply!.Kind != ReplyKind.NullBulk)
            {
                acquire.Ok(fencingToken: fenced ? result.Reply.Integer : null);
                mayHold = true;

                // The critical section.
                await Task.Delay(rng.Next(10, 60), CancellationToken.None);
            }
            else if (result.Replied)
            {
                acquire.Fail("held by another");
                mayHold = false;
            }
            else
            {
                Complete(acquire, result, static _ => false);
                mayHold = result.Outcome == CallOutcome.Unknown;
            }

            // Release whatever we may hold, so a lock of unknown outcome does not block the others for a whole TTL.
            if (mayHold)
            {
                var release = history.Invoke(process, OpKind.Release, key, token);
                var released = fenced
                    ? await connection.CallAsync("LOCK.RELEASE", key, token)
                    : await connection.CallAsync("EVAL", ReleaseScript, "1", key, token);
                Complete(release, released, static reply => reply.Integer == 1);
            }

            await Task.Delay(rng.Next(0, 30), CancellationToken.None);
        }
    }

    /// <summary>The lock service's queued mutex, reader-writer lock and semaphore, one each: one name makes queues form.</summary>
    public const string QueuedMutexKey = "qlock:m";

    public const string ReaderWriterKey = "rwlock:a";

    public const string SemaphoreKey = "sem:a";

    /// <summary>The max-count of <see cref="SemaphoreKey"/>: every client asks for the same, as a held semaphore requires.</summary>
    public const int SemaphorePermits = 2;

    /// <summary>The longest WAIT a queued acquire asks for; shorter than <see cref="LockTtl"/>, so a grant that took the
    /// whole wait still leaves the holder most of its lease by the checkers' model (counted from the invocation).</summary>
    public static readonly TimeSpan MaxLockWait = TimeSpan.FromMilliseconds(1_500);

    /// <summary>
    /// The lock service (issue 17): acquire <paramref name="kind"/> mostly with a WAIT, so that clients queue behind each
    /// other on one name (an OWNER names the client, as <c>LOCK.INFO</c> shows it), hold briefly, release, repeat. A
    /// reader-writer client asks for a write one time in three. Every token is used by one acquisition only, so
    /// <c>LOCK.INFO</c>'s waiters name acquisitions unambiguously; after an unknown outcome the token is released (which
    /// also takes it out of the queue) and never used again.
    /// </summary>
    public async Task QueuedLockAsync(QueuedLockKind kind, Random rng, CancellationToken stop)
    {
        var process = NewProcess();
        // A blocked acquire answers within its WAIT (plus a grace after a failover, as UNCERTAIN): give it that long.
        await using var connection = new ChaosConnection(cluster, rng, timeout + MaxLockWait);
        var ttl = ((long)LockTtl.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
        var owner = "p" + process.ToString(CultureInfo.InvariantCulture);
        var (key, family, permits) = kind switch
        {
            QueuedLockKind.Mutex => (QueuedMutexKey, "LOCK", (int?)null),
            QueuedLockKind.ReadWrite => (ReaderWriterKey, "RWLOCK", null),
            _ => (SemaphoreKey, "SEMAPHORE", SemaphorePermits),
        };
        for (var n = 0; !stop.IsCancellationRequested; n++)
        {
            var token = $"{family.ToLowerInvariant()}-{owner}-{n}";
            LockMode? mode = kind == QueuedLockKind.ReadWrite ? (rng.Next(3) == 0 ? LockMode.Write : LockMode.Read) : null;
            var wait = rng.Next(5) == 0 ? 0 : rng.Next(100, (int)MaxLockWait.TotalMilliseconds);
            List<string> argv = [family + ".ACQUIRE", key];
            if (mode is { } m)
                argv.Add(m == LockMode.Write ? "WRITE" : "READ");
            if (permits is { } p)
                argv.Add(p.ToString(CultureInfo.InvariantCulture));
            argv.AddRange([token, ttl, "WAIT", wait.ToString(CultureInfo.InvariantCulture), "OWNER", owner]);

            var acquire = history.Invoke(process, OpKind.Acquire, key, token, ttl: LockTtl, mode: mode, permits: permits);
            var result = await connection.CallAsync([.. argv]);
            bool mayHold;
            if (result.Replied && result.Reply!.Kind == ReplyKind.Integer)
            {
                acquire.Ok(fencingToken: result.Reply.Integer);
                mayHold = true;

                // The critical section: long enough that the others queue, and LOCK.INFO sees them queued.
                await Task.Delay(rng.Next(20, 120), CancellationToken.None);
            }
            else if (result.Replied && result.Reply!.Kind == ReplyKind.NullBulk)
            {
                acquire.Fail("not acquired (held, or the wait ended)");
                mayHold = false;
            }
            else if (result.Replied)
            {
                // A reply this workload does not understand proves nothing either way.
                acquire.Info("unexpected reply: " + result.Reply);
                mayHold = true;
            }
            else
            {
                Complete(acquire, result, static _ => false);
                mayHold = result.Outcome == CallOutcome.Unknown;
            }

            if (mayHold)
            {
                var release = history.Invoke(process, OpKind.Release, key, token);
                var released = await connection.CallAsync(family + ".RELEASE", key, token);
                Complete(release, released, static reply => reply.Integer == 1);
            }

            await Task.Delay(rng.Next(0, 30), CancellationToken.None);
        }
    }

    /// <summary>
    /// Reads <c>LOCK.INFO</c> of the lock service's names in turn, recording the waiters and holders it lists: the
    /// evidence of who was queued ahead of whom that the FIFO checker needs. A read that got no answer (or one it cannot
    /// parse) is recorded as failed: a read changes nothing.
    /// </summary>
    public async Task LockObserverAsync(Random rng, CancellationToken stop)
    {
        var process = NewProcess();
        await using var connection = new ChaosConnection(cluster, rng, timeout);
        string[] keys = [QueuedMutexKey, ReaderWriterKey, SemaphoreKey];
        for (var n = 0; !stop.IsCancellationRequested; n++)
        {
            var key = keys[n % keys.Length];
            var op = history.Invoke(process, OpKind.LockInfo, key);
            var result = await connection.CallAsync("LOCK.INFO", key);
            if (result.Replied && LockInfoTokens(result.Reply!, "waiters") is { } waiters && LockInfoTokens(result.Reply!, "holders") is { } holders)
                op.Ok(values: waiters, holders: holders);
            else
                op.Fail(result.Error ?? "unexpected reply: " + result.Reply);
            await Task.Delay(rng.Next(5, 25), CancellationToken.None);
        }
    }

    /// <summary>
    /// The tokens in one list of a <c>LOCK.INFO</c> reply — field/value pairs, flat, where <c>holders</c> lists
    /// <c>[token, owner, fencing, pttl-ms, mode]</c> and <c>waiters</c> lists <c>[token, owner, mode, wait-left-ms, ttl-ms]</c>,
    /// first in line first: <paramref name="field"/>'s tokens in order. Nil (nothing held or waited) is none; any other
    /// shape is <see langword="null"/>.
    /// </summary>
    public static List<string>? LockInfoTokens(Reply reply, string field)
    {
        if (reply.Kind is ReplyKind.NullBulk or ReplyKind.NullArray)
            return [];
        if (reply.Kind is not (ReplyKind.Array or ReplyKind.Map) || reply.Items is not { } fields)
            return null;
        for (var i = 0; i + 1 < fields.Count; i += 2)
        {
            if (fields[i].Bulk is not { } name || Encoding.UTF8.GetString(name) != field)
                continue;
            if (fields[i + 1].Items is not { } entries)
                return null;
            var tokens = new List<string>(entries.Count);
            foreach (var entry in entries)
            {
                if (entry.Items is not [{ Bulk: { } token }, ..])
                    return null;
                tokens.Add(Encoding.UTF8.GetString(token));
            }

            return tokens;
        }

        return null;
    }

    /// <summary>
    /// Locks through RaftKv.Client's <see cref="RaftKvDistributedLock"/>: sessions make its retries exactly-once and
    /// every acquisition carries a fencing token. A holder stops at its critical section's end or when the client says
    /// the lease can no longer be proved (<see cref="RaftKvLockHandle.HandleLostToken"/>), whichever is first.
    /// </summary>
    public async Task ClientLockAsync(RaftKvConnection client, Random rng, CancellationToken stop)
    {
        var process = NewProcess();
        var options = new RaftKvLockOptions { Expiry = LockTtl, MaxClockSkew = ChaosRun.MaxClockSkew };
        for (var n = 0; !stop.IsCancellationRequested; n++)
        {
            var key = LockKeys[rng.Next(LockKeys.Length)];
            var attempt = $"client-p{process}-{n}";
            var acquire = history.Invoke(process, OpKind.Acquire, key, attempt, ttl: LockTtl);
            RaftKvLockHandle? handle;
            try
            {
                handle = await new RaftKvDistributedLock(key, client, options).TryAcquireAsync(TimeSpan.Zero, CancellationToken.None);
            }
            catch (RaftKvUnknownOutcomeException e)
            {
                // The client released whatever it may hold in the background; the history cannot know.
                acquire.Info(e.Message);
                continue;
            }
            catch (Exception e) when (e is RaftKvServerException or RaftKvTimeoutException)
            {
                // Nothing was applied: a command error, or no leader within the client's deadline.
                acquire.Fail(e.Message);
                await Task.Delay(rng.Next(20, 100), CancellationToken.None);
                continue;
            }

            if (handle is null)
            {
                acquire.Fail("held by another");
                await Task.Delay(rng.Next(0, 30), CancellationToken.None);
                continue;
            }

            acquire.Ok(fencingToken: handle.FencingToken);
            try
            {
                await Task.Delay(rng.Next(10, 60), handle.HandleLostToken);
            }
            catch (OperationCanceledException)
            {
                // The lease could not be proved any more: leave the critical section now.
            }

            var release = history.Invoke(process, OpKind.Release, key, attempt);
            try
            {
                await handle.DisposeAsync();
                release.Ok();
            }
            catch (Exception e) when (e is RaftKvException or RaftKvTimeoutException)
            {
                // The key expires by its TTL anyway; the holder stopped using it when it began releasing.
                release.Info(e.Message);
            }
        }
    }

    private async Task ReadAsync(ChaosConnection connection, int process, string key)
    {
        var op = history.Invoke(process, OpKind.Read, key);
        var result = await connection.CallAsync("GET", key);
        if (result.Replied)
            op.Ok(result.Reply!.Bulk is { } bytes ? Encoding.UTF8.GetString(bytes) : null);
        else
            op.Fail(result.Error);
    }

    /// <summary>One final read of every register and the counter, after healing, so the checkers see the end state.</summary>
    public async Task FinalReadsAsync(Random rng)
    {
        var process = NewProcess();
        await using var connection = new ChaosConnection(cluster, rng, timeout);
        foreach (var key in Enumerable.Range(0, RegistersPerEpoch).Select(RegisterKey).Append(CounterKey()))
            await ReadAsync(connection, process, key);
    }

    // A write: Ok when the reply says it took effect, Fail when the reply says it did not (or it was refused),
    // Info when nobody knows.
    private static void Complete(PendingOperation op, CallResult result, Func<Reply, bool> tookEffect)
    {
        switch (result.Outcome)
        {
            case CallOutcome.Replied when tookEffect(result.Reply!):
                op.Ok();
                break;
            case CallOutcome.Replied:
                op.Fail("no effect: " + result.Reply);
                break;
            case CallOutcome.Failed:
                op.Fail(result.Error);
                break;
            default:
                op.Info(result.Error);
                break;
        }
    }
}
