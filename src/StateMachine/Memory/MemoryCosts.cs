using System.Text;

namespace RaftKv.StateMachine.Memory;

/// <summary>
/// What each part of the replicated state costs in <c>used_memory</c>: the bytes it holds plus a fixed overhead per
/// object, the same on every replica. An estimate of the managed heap, not a reading of it: only a function of the
/// state can make every replica refuse the same write when <c>maxmemory</c> is reached. Measured on .NET 10 x64 with
/// <c>GC.GetTotalMemory(true)</c> around 200,000 inserts of 12-byte keys: 194 bytes retained per key with a 16-byte
/// value (estimate 196), 250 with a TTL (260), 1,173 with a 1,000-byte value (1,180); 280 per empty session (288).
/// Values shared by two keys (<c>COPY</c>) or by a key and a remembered reply are counted each time.
/// </summary>
/// <remarks>
/// The constants are part of the state machine's definition, like the sweep budget: changing one changes which writes
/// a full store refuses, so every replica must run the same ones (a node upgrade changes them for all at once, at
/// restart, since used memory is recomputed from the state and never stored).
/// </remarks>
public static class MemoryCosts
{
    /// <summary>
    /// Per stored key: its dictionary entry, the key's and the value's array headers, and its node in the hash-order
    /// index (KEYS/SCAN).
    /// </summary>
    public const long PerKey = 168;

    /// <summary>Per key with a time to live: its node in the expiry index.</summary>
    public const long PerExpiry = 64;

    /// <summary>Per session: the session, its reply dictionary, its table entry and its node in the expiry index.</summary>
    public const long PerSession = 288;

    /// <summary>Per reply a session remembers: its dictionary node; the reply itself is charged by <see cref="Reply(StateMachine.Reply)"/>.</summary>
    public const long PerSessionReply = 64;

    /// <summary>Per node of a reply (a bulk, an integer, an array...): the reply object.</summary>
    public const long PerReplyNode = 48;

    /// <summary>Per cached script: its entry, its SHA1 name (a 40-character string) and the body's array header.</summary>
    public const long PerScript = 192;

    /// <summary>
    /// Per ACL user: the user, its command bitmap (one byte per command and subcommand of the table), its lists and its
    /// table entry. Not measured: an estimate of the same order as a session's.
    /// </summary>
    public const long PerAclUser = 1024;

    /// <summary>Per password, pattern or first-argument rule of an ACL user: its list slot and object.</summary>
    public const long PerAclItem = 48;

    /// <summary>What an ACL user costs, holding <paramref name="bytes"/> bytes of name, hashes and patterns in <paramref name="items"/> items.</summary>
    public static long AclUser(long bytes, int items) => PerAclUser + bytes + (PerAclItem * items);

    /// <summary>What a key holding a value of <paramref name="valueLength"/> bytes costs.</summary>
    public static long Entry(long keyLength, long valueLength, bool expiring)
        => PerKey + keyLength + valueLength + (expiring ? PerExpiry : 0);

    /// <summary>What a cached script of <paramref name="bodyLength"/> bytes costs.</summary>
    public static long Script(long bodyLength) => PerScript + bodyLength;

    /// <summary>
    /// What a remembered reply costs: a node per reply in the tree plus its bytes (texts counted in UTF-8, as a snapshot
    /// stores them, so a reply read back from a snapshot costs the same).
    /// </summary>
    public static long Reply(Reply reply)
    {
        var cost = PerReplyNode;
        switch (reply.Kind)
        {
            case ReplyKind.Status or ReplyKind.Error:
                cost += Encoding.UTF8.GetByteCount(reply.Text!);
                break;
            case ReplyKind.Bulk or ReplyKind.Verbatim:
                cost += reply.Bulk!.Length;
                break;
            case ReplyKind.Array or ReplyKind.Map:
                // Stored replies nest at most ReplySerializer.MaxDepth levels (deeper ones are never remembered).
                foreach (var item in reply.Items!)
                    cost += Reply(item) + sizeof(long);
                break;
        }

        return cost;
    }
}
