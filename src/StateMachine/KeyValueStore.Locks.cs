using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using MessagePack;
using RaftKv.StateMachine.Locks;

namespace RaftKv.StateMachine;

// The lock table's part of snapshots and the digest.
public sealed partial class KeyValueStore
{
    // [lastFencingToken, [lock...]], a lock being [database, name, kind, maxCount, [holder...], [waiter...]], a holder
    // [token, owner, fencing, expireAt, mode], a waiter [token, owner, ttl, deadline, mode]: the fifth field of the meta
    // record of format 5 (a meta record of four fields, written before locks existed, restores with none).
    private void WriteLocks(ref MessagePackWriter writer)
    {
        writer.WriteArrayHeader(2);
        writer.Write(LastFencingToken);
        writer.WriteArrayHeader(keyspaces.Sum(static k => k.Locks.Count));
        for (var database = 0; database < DatabaseCount; database++)
        {
            foreach (var entry in keyspaces[database].Locks.Entries)
                WriteLock(ref writer, database, entry);
        }
    }

    private static void WriteLock(ref MessagePackWriter writer, int database, LockEntry entry)
    {
        writer.WriteArrayHeader(6);
        writer.Write(database);
        writer.Write(entry.Name);
        writer.Write((byte)entry.Kind);
        writer.Write(entry.MaxCount);
        writer.WriteArrayHeader(entry.Holders.Count);
        foreach (var holder in entry.Holders)
        {
            writer.WriteArrayHeader(5);
            writer.Write(holder.Token);
            writer.Write(holder.Owner);
            writer.Write(holder.Fencing);
            writer.Write(holder.ExpireAt);
            writer.Write((byte)holder.Mode);
        }

        writer.WriteArrayHeader(entry.Waiters.Count);
        foreach (var waiter in entry.Waiters)
        {
            writer.WriteArrayHeader(5);
            writer.Write(waiter.Token);
            writer.Write(waiter.Owner);
            writer.Write(waiter.Ttl);
            writer.Write(waiter.Deadline);
            writer.Write((byte)waiter.Mode);
        }
    }

    // A snapshot is untrusted input: every lock must be one apply could have made, or the snapshot is refused.
    private static void ReadLocks(ref MessagePackReader reader, PreparedSnapshot restored)
    {
        if (reader.ReadArrayHeader() != 2)
            throw new InvalidDataException("Malformed lock table in snapshot.");
        restored.LastFencingToken = reader.ReadInt64();
        var count = reader.ReadArrayHeader();
        for (var i = 0; i < count; i++)
        {
            if (reader.ReadArrayHeader() != 6 || reader.ReadInt32() is var database && (uint)database >= DatabaseCount)
                throw new InvalidDataException("Malformed lock in snapshot.");
            var name = ReadBytes(ref reader);
            var kind = (LockKind)reader.ReadByte();
            var maxCount = reader.ReadInt32();
            var valid = kind switch
            {
                LockKind.Mutex => maxCount == 1,
                LockKind.ReadWrite => maxCount == 0,
                LockKind.Semaphore => maxCount is >= 1 and <= LockSpace.MaxSemaphoreCount,
                _ => false,
            };
            if (!valid)
                throw new InvalidDataException("Malformed lock in snapshot: unknown kind or max-count.");

            var entry = LockSpace.Create(name, kind, maxCount);
            var holders = reader.ReadArrayHeader();
            if (holders > LockSpace.MaxSemaphoreCount)
                throw new InvalidDataException("Malformed lock in snapshot: too many holders.");
            for (var h = 0; h < holders; h++)
            {
                if (reader.ReadArrayHeader() != 5)
                    throw new InvalidDataException("Malformed lock holder in snapshot.");
                entry.Holders.Add(new LockHolder
                {
                    Token = ReadBytes(ref reader),
                    Owner = ReadOwner(ref reader),
                    Fencing = reader.ReadInt64(),
                    ExpireAt = reader.ReadInt64(),
                    Mode = ReadMode(ref reader),
                });
            }

            var waiters = reader.ReadArrayHeader();
            if (waiters > LockSpace.MaxWaiters)
                throw new InvalidDataException("Malformed lock in snapshot: too many waiters.");
            for (var w = 0; w < waiters; w++)
            {
                if (reader.ReadArrayHeader() != 5)
                    throw new InvalidDataException("Malformed lock waiter in snapshot.");
                entry.Waiters.Add(new LockWaiter
                {
                    Token = ReadBytes(ref reader),
                    Owner = ReadOwner(ref reader),
                    Ttl = reader.ReadInt64(),
                    Deadline = reader.ReadInt64(),
                    Mode = ReadMode(ref reader),
                });
            }

            // A lease asked for is positive, as every acquire's is (a granted waiter's lease starts from it).
            if (!IsConsistent(entry) || !entry.Waiters.TrueForAll(static w => w.Ttl > 0))
                throw new InvalidDataException("Malformed lock in snapshot: its holders do not fit its kind.");
            restored.Locks.Add((database, entry));
        }

        static byte[] ReadOwner(ref MessagePackReader reader)
            => ReadBytes(ref reader) is { Length: <= LockSpace.MaxOwnerBytes } owner
                ? owner
                : throw new InvalidDataException("Lock owner name too long in snapshot.");

        static LockMode ReadMode(ref MessagePackReader reader)
            => reader.ReadByte() is var mode && Enum.IsDefined((LockMode)mode)
                ? (LockMode)mode
                : throw new InvalidDataException("Unknown lock mode in snapshot.");
    }

    // What apply keeps true of every lock: a mutex has at most one (writing) holder, an RW lock one writer alone or
    // readers only, a semaphore at most max-count readers; nothing is empty; no token is twice a member.
    private static bool IsConsistent(LockEntry entry)
    {
        if (entry.IsEmpty)
            return false;
        var writers = entry.Holders.Count(static h => h.Mode == LockMode.Write);
        var shapeFits = entry.Kind switch
        {
            LockKind.Mutex => entry.Holders.Count <= 1 && writers == entry.Holders.Count
                              && entry.Waiters.TrueForAll(static w => w.Mode == LockMode.Write),
            LockKind.ReadWrite => writers == 0 || entry.Holders.Count == 1,
            _ => entry.Holders.Count <= entry.MaxCount && writers == 0 && entry.Waiters.TrueForAll(static w => w.Mode == LockMode.Read),
        };
        var tokens = new HashSet<byte[]>(ByteArrayComparer.Create(default));
        return shapeFits && entry.Holders.TrueForAll(h => tokens.Add(h.Token)) && entry.Waiters.TrueForAll(w => tokens.Add(w.Token));
    }

    // After the keys: a mutex's next look is its key's expiry.
    private static void RestoreLocks(PreparedSnapshot restored)
    {
        foreach (var (database, entry) in restored.Locks)
        {
            var keyspace = restored.Databases[database];
            if (!keyspace.Locks.TryRestore(entry, keyspace))
                throw new InvalidDataException($"A lock appears twice in database {database} of the snapshot.");
        }
    }

    // Locks hash like entries of database 251, each its snapshot record as the value; the fencing counter as one more.
    // A state that never granted a lock hashes as before locks existed.
    private void DigestLocks(XxHash3 hasher, ref ulong low, ref ulong high)
    {
        if (LastFencingToken == 0 && keyspaces.All(static k => k.Locks.Count == 0))
            return;

        Span<byte> header = stackalloc byte[sizeof(long) + sizeof(int) + 2];
        var record = new ArrayBufferWriter<byte>(256);
        for (var database = 0; database < DatabaseCount; database++)
        {
            foreach (var entry in keyspaces[database].Locks.Entries)
            {
                record.ResetWrittenCount();
                var writer = new MessagePackWriter(record);
                WriteLock(ref writer, database, entry);
                writer.Flush();
                Add(hasher, header, record.WrittenSpan, ref low, ref high);
            }
        }

        Span<byte> counter = stackalloc byte[sizeof(long)];
        BinaryPrimitives.WriteInt64LittleEndian(counter, LastFencingToken);
        Add(hasher, header, counter, ref low, ref high);

        static void Add(XxHash3 hasher, Span<byte> header, ReadOnlySpan<byte> value, ref ulong low, ref ulong high)
        {
            header.Clear();
            header[^2] = byte.MaxValue - 5;
            hasher.Reset();
            hasher.Append(header);
            hasher.Append(value);
            low += hasher.GetCurrentHashAsUInt64();
            header[^1] = 1;
            hasher.Reset();
            hasher.Append(header);
            hasher.Append(value);
            high += hasher.GetCurrentHashAsUInt64();
        }
    }
}
