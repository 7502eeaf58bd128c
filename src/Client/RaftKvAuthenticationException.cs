namespace RaftKv.Client;

/// <summary>
/// A node refused the configured credentials (<c>-WRONGPASS</c>, or another error to <c>AUTH</c>). Not retried: the
/// user name or password must change.
/// </summary>
public sealed class RaftKvAuthenticationException : RaftKvException
{
    /// <summary>Creates the exception from the node's error reply.</summary>
    public RaftKvAuthenticationException(string endpoint, string? user, string error)
        : base($"{endpoint} refused AUTH{(user is null ? "" : $" as user '{user}'")}: {error}")
    {
        Endpoint = endpoint;
        User = user;
        Error = error;
    }

    /// <summary>The node that refused.</summary>
    public string Endpoint { get; }

    /// <summary>The user name sent, or null for <c>AUTH password</c> (the default user).</summary>
    public string? User { get; }

    /// <summary>The node's error reply, without the leading <c>-</c>.</summary>
    public string Error { get; }
}
