using Microsoft.Extensions.Logging;
using RaftKv.Client.Commands;
using RaftKv.Client.Protocol;

namespace RaftKv.Client.Transport;

/// <summary>
/// What every new connection goes through before it carries a request: the TLS handshake when TLS is on, then
/// <c>AUTH [user] password</c> when credentials are set — on every connection, to any node, also after a leader change.
/// </summary>
internal sealed class ChannelSetup
{
    // Redis's answer to AUTH password when the default user has no password (nopass): the credentials are not needed.
    private const string NoPasswordConfigured = "ERR AUTH <password> called without any password configured";

    private readonly RaftKvCommand? auth;
    private readonly string? user;

    public ChannelSetup(TlsConnector? tls, string? user, string? password)
    {
        Tls = tls;
        this.user = user;
        if (password is not null)
            auth = new RaftKvCommand("AUTH", user is null ? [password] : [user, password], Delivery.Idempotent);
    }

    /// <summary>Plaintext, no credentials.</summary>
    public static ChannelSetup None { get; } = new(null, null, null);

    public TlsConnector? Tls { get; }

    /// <summary>Sends AUTH on a new channel, first of all; nothing when no password is set.</summary>
    /// <exception cref="RaftKvAuthenticationException">The node refused the credentials.</exception>
    /// <exception cref="RaftKvServerException">The node cannot answer now (no leader, loading): try another.</exception>
    public async Task AuthenticateAsync(RespChannel channel, ILogger logger, CancellationToken cancellationToken)
    {
        if (auth is null)
            return;

        var reply = await channel.SendAsync(new PendingReply(auth), cancellationToken).ConfigureAwait(false);
        if (!reply.IsError)
            return;

        var error = reply.AsString() ?? "";
        if (error.StartsWith(NoPasswordConfigured, StringComparison.Ordinal))
        {
            // As redis-cli does: the node asks for no password, so the connection is usable as it is. Lets clients get
            // their credentials before the nodes start requiring them.
            Log.AuthNotRequired(logger, channel.Endpoint);
            return;
        }

        if (ServerErrors.Classify(error) is ServerErrorKind.Moved or ServerErrorKind.NotReady)
            throw new RaftKvServerException(error);
        throw new RaftKvAuthenticationException(channel.Endpoint, user, error);
    }
}
