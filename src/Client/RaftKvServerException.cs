namespace RaftKv.Client;

/// <summary>
/// The server answered the command with an error reply (<c>-ERR ...</c>, <c>-WRONGTYPE ...</c>). The outcome is known:
/// the reply is the command's result, computed once, so retrying will not change it.
/// </summary>
public sealed class RaftKvServerException : RaftKvException
{
    /// <summary>Creates the exception from an error reply's text.</summary>
    public RaftKvServerException(string error)
        : base(error)
    {
        Error = error;
        var space = error.IndexOf(' ', StringComparison.Ordinal);
        Prefix = space < 0 ? error : error[..space];
    }

    /// <summary>The error reply's text as the server sent it, without the leading <c>-</c>.</summary>
    public string Error { get; }

    /// <summary>The error's first word (<c>ERR</c>, <c>WRONGTYPE</c>, <c>NOSCRIPT</c>...), by which callers branch.</summary>
    public string Prefix { get; }
}
