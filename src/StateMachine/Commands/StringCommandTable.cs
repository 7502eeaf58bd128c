namespace RaftKv.StateMachine.Commands;

/// <summary>
/// The string and keyspace commands (<c>GET</c>, <c>SET</c>, <c>DEL</c>, <c>EXPIRE</c>, <c>SCAN</c>...), with Redis 7.0's
/// arity and key positions.
/// </summary>
internal static class StringCommandTable
{
    public static CommandSpec[] Specs() =>
    [
        // Strings
        new("get", 2, IsWrite: false, 1, 1, 1, CommandParser.ParseGet),
        new("set", -3, IsWrite: true, 1, 1, 1, CommandParser.ParseSet),
        new("getdel", 2, IsWrite: true, 1, 1, 1, GetDelCommand.Parse),
        new("getex", -2, IsWrite: true, 1, 1, 1, GetExCommand.Parse),
        new("getset", 3, IsWrite: true, 1, 1, 1, GetSetCommand.Parse),
        new("mget", -2, IsWrite: false, 1, -1, 1, MGetCommand.Parse),
        new("mset", -3, IsWrite: true, 1, -1, 2, MSetCommand.ParseMSet),
        new("msetnx", -3, IsWrite: true, 1, -1, 2, MSetCommand.ParseMSetNx),
        new("setnx", 3, IsWrite: true, 1, 1, 1, SetNxCommand.Parse),
        new("setex", 4, IsWrite: true, 1, 1, 1, SetExCommand.ParseSetEx),
        new("psetex", 4, IsWrite: true, 1, 1, 1, SetExCommand.ParsePSetEx),
        new("append", 3, IsWrite: true, 1, 1, 1, AppendCommand.Parse),
        new("strlen", 2, IsWrite: false, 1, 1, 1, StrLenCommand.Parse),
        new("getrange", 4, IsWrite: false, 1, 1, 1, GetRangeCommand.Parse),
        new("substr", 4, IsWrite: false, 1, 1, 1, GetRangeCommand.Parse),
        new("setrange", 4, IsWrite: true, 1, 1, 1, SetRangeCommand.Parse),
        new("incr", 2, IsWrite: true, 1, 1, 1, IncrByCommand.ParseIncr),
        new("decr", 2, IsWrite: true, 1, 1, 1, IncrByCommand.ParseDecr),
        new("incrby", 3, IsWrite: true, 1, 1, 1, IncrByCommand.ParseIncrBy),
        new("decrby", 3, IsWrite: true, 1, 1, 1, IncrByCommand.ParseDecrBy),
        new("incrbyfloat", 3, IsWrite: true, 1, 1, 1, IncrByFloatCommand.Parse),

        // Keys and expiry
        new("del", -2, IsWrite: true, 1, -1, 1, CommandParser.ParseDel),
        new("unlink", -2, IsWrite: true, 1, -1, 1, CommandParser.ParseDel),
        new("exists", -2, IsWrite: false, 1, -1, 1, ExistsCommand.Parse),
        new("type", 2, IsWrite: false, 1, 1, 1, TypeCommand.Parse),
        new("expire", -3, IsWrite: true, 1, 1, 1, ExpireCommand.For(ExpireVariant.Expire)),
        new("pexpire", -3, IsWrite: true, 1, 1, 1, ExpireCommand.For(ExpireVariant.PExpire)),
        new("expireat", -3, IsWrite: true, 1, 1, 1, ExpireCommand.For(ExpireVariant.ExpireAt)),
        new("pexpireat", -3, IsWrite: true, 1, 1, 1, ExpireCommand.For(ExpireVariant.PExpireAt)),
        new("ttl", 2, IsWrite: false, 1, 1, 1, TtlCommand.For(TtlVariant.Ttl)),
        new("pttl", 2, IsWrite: false, 1, 1, 1, TtlCommand.For(TtlVariant.PTtl)),
        new("expiretime", 2, IsWrite: false, 1, 1, 1, TtlCommand.For(TtlVariant.ExpireTime)),
        new("pexpiretime", 2, IsWrite: false, 1, 1, 1, TtlCommand.For(TtlVariant.PExpireTime)),
        new("persist", 2, IsWrite: true, 1, 1, 1, PersistCommand.Parse),
        new("rename", 3, IsWrite: true, 1, 2, 1, RenameCommand.ParseRename),
        new("renamenx", 3, IsWrite: true, 1, 2, 1, RenameCommand.ParseRenameNx),
        new("copy", -3, IsWrite: true, 1, 2, 1, CopyCommand.Parse),
        new("keys", 2, IsWrite: false, 0, 0, 0, KeysCommand.Parse),
        new("scan", -2, IsWrite: false, 0, 0, 0, ScanCommand.Parse),
        new("randomkey", 1, IsWrite: false, 0, 0, 0, RandomKeyCommand.Parse),
        new("dbsize", 1, IsWrite: false, 0, 0, 0, DbSizeCommand.Parse),
        new("flushdb", -1, IsWrite: true, 0, 0, 0, FlushCommand.ParseFlushDb),
        new("flushall", -1, IsWrite: true, 0, 0, 0, FlushCommand.ParseFlushAll),
        new("swapdb", 3, IsWrite: true, 0, 0, 0, SwapDbCommand.Parse),
    ];
}
