using C = RaftKv.StateMachine.Acl.AclCategories;
using K = RaftKv.StateMachine.Acl.KeyAccess;

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
        new("get", 2, IsWrite: false, 1, 1, 1, CommandParser.ParseGet) { Categories = C.Read | C.String | C.Fast, KeyAccess = [K.Read] },
        new("set", -3, IsWrite: true, 1, 1, 1, CommandParser.ParseSet) { Categories = C.Write | C.String | C.Slow, KeyAccess = [K.Write] },
        new("getdel", 2, IsWrite: true, 1, 1, 1, GetDelCommand.Parse) { Categories = C.Write | C.String | C.Fast, KeyAccess = [K.ReadWrite] },
        new("getex", -2, IsWrite: true, 1, 1, 1, GetExCommand.Parse) { Categories = C.Write | C.String | C.Fast, KeyAccess = [K.ReadWrite] },
        new("getset", 3, IsWrite: true, 1, 1, 1, GetSetCommand.Parse) { Categories = C.Write | C.String | C.Fast, KeyAccess = [K.ReadWrite] },
        new("mget", -2, IsWrite: false, 1, -1, 1, MGetCommand.Parse) { Categories = C.Read | C.String | C.Fast, KeyAccess = [K.Read] },
        new("mset", -3, IsWrite: true, 1, -1, 2, MSetCommand.ParseMSet) { Categories = C.Write | C.String | C.Slow, KeyAccess = [K.Write] },
        new("msetnx", -3, IsWrite: true, 1, -1, 2, MSetCommand.ParseMSetNx) { Categories = C.Write | C.String | C.Slow, KeyAccess = [K.Write] },
        new("setnx", 3, IsWrite: true, 1, 1, 1, SetNxCommand.Parse) { Categories = C.Write | C.String | C.Fast, KeyAccess = [K.Write] },
        new("setex", 4, IsWrite: true, 1, 1, 1, SetExCommand.ParseSetEx) { Categories = C.Write | C.String | C.Slow, KeyAccess = [K.Write] },
        new("psetex", 4, IsWrite: true, 1, 1, 1, SetExCommand.ParsePSetEx) { Categories = C.Write | C.String | C.Slow, KeyAccess = [K.Write] },
        new("append", 3, IsWrite: true, 1, 1, 1, AppendCommand.Parse) { Categories = C.Write | C.String | C.Fast, KeyAccess = [K.Write] },
        new("strlen", 2, IsWrite: false, 1, 1, 1, StrLenCommand.Parse) { Categories = C.Read | C.String | C.Fast, KeyAccess = [K.None] },
        new("getrange", 4, IsWrite: false, 1, 1, 1, GetRangeCommand.Parse) { Categories = C.Read | C.String | C.Slow, KeyAccess = [K.Read] },
        new("substr", 4, IsWrite: false, 1, 1, 1, GetRangeCommand.Parse) { Categories = C.Read | C.String | C.Slow, KeyAccess = [K.Read] },
        new("setrange", 4, IsWrite: true, 1, 1, 1, SetRangeCommand.Parse) { Categories = C.Write | C.String | C.Slow, KeyAccess = [K.Write] },
        new("incr", 2, IsWrite: true, 1, 1, 1, IncrByCommand.ParseIncr) { Categories = C.Write | C.String | C.Fast, KeyAccess = [K.ReadWrite] },
        new("decr", 2, IsWrite: true, 1, 1, 1, IncrByCommand.ParseDecr) { Categories = C.Write | C.String | C.Fast, KeyAccess = [K.ReadWrite] },
        new("incrby", 3, IsWrite: true, 1, 1, 1, IncrByCommand.ParseIncrBy) { Categories = C.Write | C.String | C.Fast, KeyAccess = [K.ReadWrite] },
        new("decrby", 3, IsWrite: true, 1, 1, 1, IncrByCommand.ParseDecrBy) { Categories = C.Write | C.String | C.Fast, KeyAccess = [K.ReadWrite] },
        new("incrbyfloat", 3, IsWrite: true, 1, 1, 1, IncrByFloatCommand.Parse) { Categories = C.Write | C.String | C.Fast, KeyAccess = [K.ReadWrite] },

        // Keys and expiry
        new("del", -2, IsWrite: true, 1, -1, 1, CommandParser.ParseDel) { Categories = C.Keyspace | C.Write | C.Slow, KeyAccess = [K.Write] },
        new("unlink", -2, IsWrite: true, 1, -1, 1, CommandParser.ParseDel) { Categories = C.Keyspace | C.Write | C.Fast, KeyAccess = [K.Write] },
        new("exists", -2, IsWrite: false, 1, -1, 1, ExistsCommand.Parse) { Categories = C.Keyspace | C.Read | C.Fast, KeyAccess = [K.None] },
        new("type", 2, IsWrite: false, 1, 1, 1, TypeCommand.Parse) { Categories = C.Keyspace | C.Read | C.Fast, KeyAccess = [K.None] },
        new("expire", -3, IsWrite: true, 1, 1, 1, ExpireCommand.For(ExpireVariant.Expire)) { Categories = C.Keyspace | C.Write | C.Fast, KeyAccess = [K.Write] },
        new("pexpire", -3, IsWrite: true, 1, 1, 1, ExpireCommand.For(ExpireVariant.PExpire)) { Categories = C.Keyspace | C.Write | C.Fast, KeyAccess = [K.Write] },
        new("expireat", -3, IsWrite: true, 1, 1, 1, ExpireCommand.For(ExpireVariant.ExpireAt)) { Categories = C.Keyspace | C.Write | C.Fast, KeyAccess = [K.Write] },
        new("pexpireat", -3, IsWrite: true, 1, 1, 1, ExpireCommand.For(ExpireVariant.PExpireAt)) { Categories = C.Keyspace | C.Write | C.Fast, KeyAccess = [K.Write] },
        new("ttl", 2, IsWrite: false, 1, 1, 1, TtlCommand.For(TtlVariant.Ttl)) { Categories = C.Keyspace | C.Read | C.Fast, KeyAccess = [K.Read] },
        new("pttl", 2, IsWrite: false, 1, 1, 1, TtlCommand.For(TtlVariant.PTtl)) { Categories = C.Keyspace | C.Read | C.Fast, KeyAccess = [K.Read] },
        new("expiretime", 2, IsWrite: false, 1, 1, 1, TtlCommand.For(TtlVariant.ExpireTime)) { Categories = C.Keyspace | C.Read | C.Fast, KeyAccess = [K.Read] },
        new("pexpiretime", 2, IsWrite: false, 1, 1, 1, TtlCommand.For(TtlVariant.PExpireTime)) { Categories = C.Keyspace | C.Read | C.Fast, KeyAccess = [K.Read] },
        new("persist", 2, IsWrite: true, 1, 1, 1, PersistCommand.Parse) { Categories = C.Keyspace | C.Write | C.Fast, KeyAccess = [K.Write] },
        new("rename", 3, IsWrite: true, 1, 2, 1, RenameCommand.ParseRename) { Categories = C.Keyspace | C.Write | C.Slow, KeyAccess = [K.ReadWrite, K.Write] },
        new("renamenx", 3, IsWrite: true, 1, 2, 1, RenameCommand.ParseRenameNx) { Categories = C.Keyspace | C.Write | C.Fast, KeyAccess = [K.ReadWrite, K.Write] },
        new("copy", -3, IsWrite: true, 1, 2, 1, CopyCommand.Parse) { Categories = C.Keyspace | C.Write | C.Slow, KeyAccess = [K.Read, K.Write] },
        new("keys", 2, IsWrite: false, 0, 0, 0, KeysCommand.Parse) { Categories = C.Keyspace | C.Read | C.Slow | C.Dangerous },
        new("scan", -2, IsWrite: false, 0, 0, 0, ScanCommand.Parse) { Categories = C.Keyspace | C.Read | C.Slow },
        new("randomkey", 1, IsWrite: false, 0, 0, 0, RandomKeyCommand.Parse) { Categories = C.Keyspace | C.Read | C.Slow },
        new("dbsize", 1, IsWrite: false, 0, 0, 0, DbSizeCommand.Parse) { Categories = C.Keyspace | C.Read | C.Fast },
        new("flushdb", -1, IsWrite: true, 0, 0, 0, FlushCommand.ParseFlushDb) { Categories = C.Keyspace | C.Write | C.Slow | C.Dangerous },
        new("flushall", -1, IsWrite: true, 0, 0, 0, FlushCommand.ParseFlushAll) { Categories = C.Keyspace | C.Write | C.Slow | C.Dangerous },
        new("swapdb", 3, IsWrite: true, 0, 0, 0, SwapDbCommand.Parse) { Categories = C.Keyspace | C.Write | C.Fast | C.Dangerous },
    ];
}
