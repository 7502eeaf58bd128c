namespace RaftKv.Node.Peers;

/// <summary>
/// Which node-to-node port a <see cref="PeerHandshake"/> opens: each has its own magic and its own HMAC labels, so a
/// proof made for one port is worthless on the other (a peer-channel handshake cannot be relayed to the Raft port).
/// </summary>
public sealed class HandshakeChannel
{
    private HandshakeChannel(string name, string magic, string label)
    {
        Name = name;
        Magic = System.Text.Encoding.ASCII.GetBytes(magic);
        ClientLabel = System.Text.Encoding.ASCII.GetBytes(label + " client");
        ServerLabel = System.Text.Encoding.ASCII.GetBytes(label + " server");
    }

    /// <summary>The peer channel (forwarded writes, read indexes): magic <c>RKVP</c>, labels <c>raftkv-peer/1 client|server</c>.</summary>
    public static HandshakeChannel Peer { get; } = new("peer", "RKVP", "raftkv-peer/1");

    /// <summary>
    /// The Raft port: magic <c>RKVR</c>, labels <c>raftkv-raft/1 client|server</c>. After it, DotNext's own Raft protocol
    /// runs on the connection unchanged.
    /// </summary>
    public static HandshakeChannel Raft { get; } = new("Raft", "RKVR", "raftkv-raft/1");

    /// <summary>The port's name in messages.</summary>
    public string Name { get; }

    /// <summary>First four bytes of both halves of the handshake.</summary>
    public ReadOnlyMemory<byte> Magic { get; }

    /// <summary>Prefix of the MAC the connecting member sends.</summary>
    public ReadOnlyMemory<byte> ClientLabel { get; }

    /// <summary>Prefix of the MAC the accepting member answers with.</summary>
    public ReadOnlyMemory<byte> ServerLabel { get; }

    /// <inheritdoc/>
    public override string ToString() => Name;
}
