namespace RaftKv.Node.Security;

/// <summary>
/// Who may use the node (configuration section <c>RaftKv:Security</c>). Users are replicated state: these settings are
/// only the cluster's <em>initial</em> users, proposed once by the first leader whose state has never held users
/// (<see cref="ConfiguredUsers"/>); from then on <c>ACL SETUSER</c>, <c>ACL DELUSER</c>, <c>ACL LOAD</c> and
/// <c>CONFIG SET requirepass</c> change them, through the log, on every node alike.
/// </summary>
public sealed class SecurityOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string Section = "RaftKv:Security";

    /// <summary>
    /// Redis's <c>requirepass</c>: the <c>default</c> user's password (<c>resetpass &gt;password</c>). Null or empty
    /// leaves <c>default</c> without one (<c>nopass</c>), as Redis does. Prefer the environment variable
    /// <c>RaftKv__Security__RequirePass</c> or <see cref="RequirePassFile"/> to a command line, which <c>ps</c> shows.
    /// </summary>
    public string? RequirePass { get; set; }

    /// <summary>A file holding <see cref="RequirePass"/> (surrounding white space ignored); used when it is unset.</summary>
    public string? RequirePassFile { get; set; }

    /// <summary>
    /// Redis's <c>aclfile</c>: users in its format, one <c>user &lt;name&gt; &lt;rules...&gt;</c> per line. Its users are
    /// the initial ones (with <see cref="RequirePass"/> also set, the file's <c>default</c> user wins); <c>ACL LOAD</c>
    /// reads it again and replaces every user, <c>ACL SAVE</c> writes the current users to it.
    /// </summary>
    public string? AclFile { get; set; }

    /// <summary>Redis's <c>acllog-max-len</c>: how many recent refusals <c>ACL LOG</c> keeps on this node (0: none).</summary>
    public int AclLogMaxLength { get; set; } = 128;

    /// <summary>The configured <c>requirepass</c>, from <see cref="RequirePass"/> or <see cref="RequirePassFile"/>; null when neither is set.</summary>
    /// <exception cref="NodeStartupException">The file cannot be read.</exception>
    public string? ResolveRequirePass()
    {
        if (!string.IsNullOrEmpty(RequirePass))
            return RequirePass;
        if (string.IsNullOrEmpty(RequirePassFile))
            return null;
        try
        {
            return File.ReadAllText(RequirePassFile).Trim() is { Length: > 0 } text ? text : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NodeStartupException($"RaftKv:Security:RequirePassFile '{RequirePassFile}' cannot be read: {e.Message}");
        }
    }
}
