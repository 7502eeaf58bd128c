using RaftKv.StateMachine;

namespace RaftKv.Node.Resp;

/// <summary>Executes the requests a <see cref="RespServer"/> receives; resolved from DI.</summary>
public interface IRespRequestHandler
{
    /// <summary>Handles one request and returns its reply, at once or later.</summary>
    /// <remarks>
    /// <para>
    /// <paramref name="request"/> is reused for the connection's next request as soon as this method returns its
    /// <see cref="ValueTask{TResult}"/>, which for an <c>async</c> method is at its first <c>await</c> that does not
    /// complete synchronously. Copy the arguments you need before that point; never keep the request or its
    /// <see cref="RespRequest.Arguments"/>.
    /// </para>
    /// <para>
    /// Calls for one connection are made one at a time and in order, but their replies may complete in any order:
    /// the server still sends them in request order. Replies from different connections run concurrently.
    /// A thrown or faulted handler is answered <c>-ERR internal error</c> and the connection carries on.
    /// Pass <see cref="RespConnection.Aborted"/> to whatever the reply waits for.
    /// </para>
    /// </remarks>
    ValueTask<Reply> HandleAsync(RespRequest request, RespConnection connection);

    /// <summary>Called once for each new connection, before its first request is read (e.g. to decide whether it must authenticate).</summary>
    void Accepted(RespConnection connection)
    {
    }
}
