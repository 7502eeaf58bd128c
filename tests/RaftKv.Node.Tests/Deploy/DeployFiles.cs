using System.Text.Json;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace RaftKv.Node.Tests.Deploy;

/// <summary>
/// Reads the files under <c>deploy/</c> and <c>cluster-config/local-cluster.sh</c> the way their tools would, far
/// enough to compare them: YAML documents, Dockerfile instructions, systemd unit keys and the node's command lines.
/// </summary>
internal static partial class DeployFiles
{
    public static string Root { get; } = FindRoot();

    public static string PathOf(string relative) => Path.Combine(Root, relative);

    /// <summary>The built node (run-tests.sh builds the solution first).</summary>
    public static string NodeDll => PathOf("src/Node/bin/Release/net10.0/RaftKv.Node.dll");

    /// <summary>Every YAML document of a file, parsed (a syntax error throws).</summary>
    public static IReadOnlyList<YamlMappingNode> YamlDocuments(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        return [.. stream.Documents.Select(static d => (YamlMappingNode)d.RootNode)];
    }

    /// <summary>The node at a path of mapping keys and sequence indexes, or null.</summary>
    public static YamlNode? At(YamlNode node, params object[] path)
    {
        YamlNode? current = node;
        foreach (var step in path)
        {
            current = (current, step) switch
            {
                (YamlMappingNode map, string key) => map.Children.TryGetValue(new YamlScalarNode(key), out var child) ? child : null,
                (YamlSequenceNode list, int index) => index < list.Children.Count ? list.Children[index] : null,
                _ => null,
            };
            if (current is null)
                return null;
        }

        return current;
    }

    public static string? Scalar(YamlNode node, params object[] path) => (At(node, path) as YamlScalarNode)?.Value;

    /// <summary>A Dockerfile's instructions (keyword, rest of the line), line continuations joined, comments dropped.</summary>
    public static IReadOnlyList<(string Keyword, string Arguments)> DockerInstructions(string text)
    {
        var joined = ContinuationRegex().Replace(text, " ");
        return [.. joined.Split('\n')
            .Select(static l => l.Trim())
            .Where(static l => l.Length > 0 && !l.StartsWith('#'))
            .Select(static l => l.Split(' ', 2, StringSplitOptions.TrimEntries) is var parts
                ? (parts[0].ToUpperInvariant(), parts.Length > 1 ? parts[1] : "")
                : default)];
    }

    /// <summary>The instructions of the last stage (what the image runs): everything after the last FROM.</summary>
    public static IReadOnlyList<(string Keyword, string Arguments)> FinalStage(IReadOnlyList<(string Keyword, string Arguments)> instructions)
    {
        var last = instructions.ToList().FindLastIndex(static i => i.Keyword == "FROM");
        return [.. instructions.Skip(last + 1)];
    }

    /// <summary>An exec-form instruction's words (<c>["a", "b"]</c>); a shell form is refused (it runs through /bin/sh).</summary>
    public static string[] ExecForm(string arguments)
        => arguments.StartsWith('[')
            ? JsonSerializer.Deserialize<string[]>(arguments) ?? []
            : throw new FormatException("not the exec form: " + arguments);

    /// <summary>A systemd unit's keys by section; a key given twice keeps every value in order.</summary>
    public static Dictionary<string, List<string>> UnitKeys(string text, string section)
    {
        var keys = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        string? current = null;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] is '#' or ';')
                continue;
            if (line.StartsWith('[') && line.EndsWith(']'))
            {
                current = line[1..^1];
                continue;
            }

            var equals = line.IndexOf('=');
            if (current != section || equals <= 0)
                continue;
            var key = line[..equals].Trim();
            if (!keys.TryGetValue(key, out var values))
                keys[key] = values = [];
            values.Add(line[(equals + 1)..].Trim());
        }

        return keys;
    }

    /// <summary>
    /// The words of local-cluster.sh's node start (start_node): from <c>dotnet "$BIN"</c> to the first <c>$(</c>, where
    /// the optional arguments (namespaces, TLS, extra) begin.
    /// </summary>
    public static string[] LocalClusterNodeCommand()
    {
        var script = File.ReadAllText(PathOf("cluster-config/local-cluster.sh"));
        const string start = "dotnet \"$BIN\" --config";
        var begin = script.IndexOf(start, StringComparison.Ordinal);
        var end = begin < 0 ? -1 : script.IndexOf(" $(", begin, StringComparison.Ordinal);
        if (begin < 0 || end < 0)
            throw new InvalidOperationException("local-cluster.sh: no line starting a node with " + start);
        return ContinuationRegex().Replace(script[begin..end], " ").Split((char[])[' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>The configuration keys a command line sets: <c>--Key=value</c> and <c>--config FILE</c>.</summary>
    public static SortedSet<string> ConfigurationKeys(IEnumerable<string> words)
        => new(words.Where(static w => w.StartsWith("--", StringComparison.Ordinal))
            .Select(static w => w[2..].Split('=', 2)[0]), StringComparer.Ordinal);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "RaftKv.sln")))
                return dir.FullName;
        }

        throw new InvalidOperationException("RaftKv.sln not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"\\\r?\n")]
    private static partial Regex ContinuationRegex();
}
