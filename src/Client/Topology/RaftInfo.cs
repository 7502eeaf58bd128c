using System.Globalization;

namespace RaftKv.Client.Topology;

/// <summary>What a node says about the cluster in the <c># Raft</c> section of <c>INFO raft</c>.</summary>
internal sealed record RaftInfo(bool IsLeader, long Term, string? Leader, IReadOnlyList<string> Members)
{
    /// <summary>
    /// Reads <c>role:leader|follower|candidate</c>, <c>term:N</c>, <c>leader:host:port|none</c> and
    /// <c>members:host:port,...</c>; other lines are ignored.
    /// </summary>
    /// <exception cref="FormatException">The text has no <c>role</c> line.</exception>
    public static RaftInfo Parse(string text)
    {
        string? role = null;
        string? leader = null;
        long term = 0;
        IReadOnlyList<string> members = [];
        foreach (var rawLine in text.Split('\n'))
        {
            var line = rawLine.TrimEnd('\r');
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (line.StartsWith('#') || colon <= 0)
                continue;

            var value = line[(colon + 1)..];
            switch (line[..colon])
            {
                case "role":
                    role = value;
                    break;
                case "term":
                    _ = long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out term);
                    break;
                case "leader":
                    leader = EndpointAddress.TryParse(value, out var address) ? address.ToString() : null;
                    break;
                case "members":
                    members = [.. value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(static m => EndpointAddress.TryParse(m, out var a) ? a.ToString() : null)
                        .OfType<string>()];
                    break;
            }
        }

        return role is null
            ? throw new FormatException("INFO raft has no role line: is this a RaftKv node?")
            : new RaftInfo(role == "leader", term, leader, members);
    }
}
