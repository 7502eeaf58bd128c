namespace RaftKv.Node.Resp;

/// <summary>What <see cref="RespRequestParser.Parse"/> found at the front of the buffer.</summary>
internal enum RespParseStatus
{
    /// <summary>The buffer ends inside a request: keep its bytes and parse again when more arrive.</summary>
    Incomplete,

    /// <summary>A request was parsed into the <see cref="RespRequest"/>.</summary>
    Complete,

    /// <summary>The bytes are not RESP; reply <c>-ERR</c> with <see cref="RespParseResult.Error"/> and close.</summary>
    ProtocolError,

    /// <summary>
    /// The request is larger than <see cref="RespLimits.MaxQueryBuffer"/>: close the connection without a reply,
    /// as Redis does when a client reaches <c>client-query-buffer-limit</c>.
    /// </summary>
    QueryBufferLimitExceeded,
}

/// <summary>The outcome of parsing one request.</summary>
/// <param name="Status">What was found.</param>
/// <param name="Consumed">
/// Where the unparsed bytes begin: after the request when <see cref="RespParseStatus.Complete"/>; at the start of the
/// partial request when <see cref="RespParseStatus.Incomplete"/> (past any empty requests skipped before it).
/// </param>
/// <param name="Error">
/// For <see cref="RespParseStatus.ProtocolError"/>, Redis's error text without the <c>ERR</c> code, e.g.
/// <c>Protocol error: invalid bulk length</c>.
/// </param>
internal readonly record struct RespParseResult(RespParseStatus Status, SequencePosition Consumed, string? Error = null);
