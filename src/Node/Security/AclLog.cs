using System.Globalization;
using System.Text;
using Microsoft.Extensions.Options;
using RaftKv.Node.Commands;
using RaftKv.Node.Resp;
using RaftKv.StateMachine;

namespace RaftKv.Node.Security;

/// <summary>
/// Redis's <c>ACL LOG</c>, kept by each node for the refusals it decided itself: failed <c>AUTH</c>s and commands or
/// keys refused before routing (context <c>toplevel</c>, or <c>multi</c> while a transaction is being queued). Refusals
/// decided inside apply — a script's <c>redis.call</c>, EXEC's commands — are not recorded: every replica decides them,
/// and none of them is the node the client asked. As in Redis (acl.c <c>addACLLogEntry</c>): newest first, at most
/// <c>acllog-max-len</c> entries, and a refusal like one made less than 60 seconds ago (same reason, context, object and
/// user) counts on that entry and moves it to the front instead of adding one.
/// </summary>
public sealed class AclLog(TimeProvider time, IOptions<SecurityOptions> options)
{
    private static readonly TimeSpan Grouping = TimeSpan.FromSeconds(60);

    // A key or user name is the client's bytes, perhaps megabytes long: the log keeps its first kilobyte.
    private const int MaxTargetLength = 1024;

    private readonly Lock gate = new();
    private readonly LinkedList<Entry> entries = new();

    /// <summary>Why an entry was made (Redis's <c>reason</c> field).</summary>
    public enum Reason
    {
        /// <summary>A wrong user or password.</summary>
        Auth,

        /// <summary>A command the user may not run.</summary>
        Command,

        /// <summary>A key the user may not touch.</summary>
        Key,
    }

    /// <summary>How many entries the log holds now.</summary>
    public int Count
    {
        get
        {
            lock (gate)
                return entries.Count;
        }
    }

    /// <summary>Records a refusal of <paramref name="connection"/>'s request: <paramref name="target"/> is the command's full name, the key, or <c>AUTH</c>.</summary>
    public void Add(RespConnection connection, Reason reason, string target, string user)
    {
        var max = options.Value.AclLogMaxLength;
        if (max <= 0)
            return;

        target = target.Length <= MaxTargetLength ? target : target[..MaxTargetLength];
        user = user.Length <= MaxTargetLength ? user : user[..MaxTargetLength];
        var now = time.GetUtcNow();
        var context = connection.Transaction is { InMulti: true } ? "multi" : "toplevel";
        var clientInfo = ConnectionCommands.DescribeClient(connection, now);
        lock (gate)
        {
            for (var node = entries.First; node is not null; node = node.Next)
            {
                var entry = node.Value;
                if (entry.Reason == reason && entry.Context == context && entry.Target == target && entry.User == user && now - entry.Updated < Grouping)
                {
                    entries.Remove(node);
                    entries.AddFirst(entry with { Count = entry.Count + 1, Updated = now, ClientInfo = clientInfo });
                    return;
                }
            }

            entries.AddFirst(new Entry(1, reason, context, target, user, now, clientInfo));
            while (entries.Count > max)
                entries.RemoveLast();
        }
    }

    /// <summary><c>ACL LOG [count | RESET]</c> (the subcommand's arguments after <c>LOG</c>).</summary>
    public Reply Execute(ReadOnlySpan<ReadOnlyMemory<byte>> arguments)
    {
        var count = long.MaxValue;
        if (arguments.Length == 1)
        {
            if (Ascii.EqualsIgnoreCase(arguments[0].Span, "RESET"u8))
            {
                lock (gate)
                    entries.Clear();
                return Reply.Ok;
            }

            if (!RedisNumbers.TryParseInt64(arguments[0].Span, out count))
                return Reply.Error("ERR value is not an integer or out of range");
        }

        var now = time.GetUtcNow();
        Entry[] shown;
        lock (gate)
            shown = [.. entries.Take((int)Math.Clamp(count, 0, int.MaxValue))];
        return Reply.FromArray([.. shown.Select(entry => Describe(entry, now))]);
    }

    // acl.c aclCommand "log": the seven fields of Redis 7.0, age-seconds as a double printed with %.17g.
    private static Reply Describe(Entry entry, DateTimeOffset now) => Reply.FromMap(
    [
        Reply.FromBulk("count"), Reply.FromInteger(entry.Count),
        Reply.FromBulk("reason"), Reply.FromBulk(entry.Reason.ToString().ToLowerInvariant()),
        Reply.FromBulk("context"), Reply.FromBulk(entry.Context),
        Reply.FromBulk("object"), Reply.FromBulk(Encoding.Latin1.GetBytes(entry.Target)),
        Reply.FromBulk("username"), Reply.FromBulk(Encoding.Latin1.GetBytes(entry.User)),
        Reply.FromBulk("age-seconds"), Reply.FromBulk((Math.Max(0, (now - entry.Updated).TotalMilliseconds) / 1000).ToString("G17", CultureInfo.InvariantCulture)),
        Reply.FromBulk("client-info"), Reply.FromBulk(entry.ClientInfo),
    ]);

    private sealed record Entry(long Count, Reason Reason, string Context, string Target, string User, DateTimeOffset Updated, string ClientInfo);
}
