namespace RaftKv.Client;

/// <summary>The kind of a RESP2 reply.</summary>
public enum RespType
{
    /// <summary>A nil bulk string or nil array (<c>$-1</c>, <c>*-1</c>).</summary>
    Null,

    /// <summary>A status reply such as <c>+OK</c>.</summary>
    SimpleString,

    /// <summary>An error reply such as <c>-ERR ...</c>.</summary>
    Error,

    /// <summary>An integer reply (<c>:42</c>).</summary>
    Integer,

    /// <summary>A binary-safe bulk string (<c>$3 foo</c>).</summary>
    BulkString,

    /// <summary>An array of replies (<c>*2 ...</c>).</summary>
    Array,
}
