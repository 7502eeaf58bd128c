using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using RaftKv.StateMachine;

namespace RaftKv.Node.Commands;

/// <summary>
/// <c>CONFIG REWRITE</c>: writes configuration values into the JSON file the node was started with
/// (<c>--config file.json</c>), keeping everything else in it, atomically (a temporary file in the same directory,
/// flushed, then renamed over the original). Keys are matched ignoring case, as .NET configuration reads them; a
/// missing section is created. Comments in the file are not kept. A <c>--Key=value</c> on the command line still
/// overrides the file at the next start.
/// </summary>
public sealed class ConfigFileRewriter(IConfiguration configuration)
{
    /// <summary>The file named by <c>--config</c>, as a full path; null when the node was started without one.</summary>
    public string? File => configuration["config"] is { Length: > 0 } file ? Path.GetFullPath(file) : null;

    /// <summary>Writes <paramref name="values"/> (configuration key, value) into the file; Redis's reply.</summary>
    public Reply Rewrite(IReadOnlyList<KeyValuePair<string, long>> values)
    {
        if (File is not { } path)
            return NodeReplies.ConfigRewriteWithoutFile;

        try
        {
            var root = JsonNode.Parse(System.IO.File.ReadAllText(path), documentOptions: new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }) as JsonObject
                ?? throw new InvalidDataException("the file does not hold a JSON object");
            foreach (var (key, value) in values)
                Set(root, key.Split(':'), value);

            var temporary = path + ".rewrite.tmp";
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
                    root.WriteTo(writer);
                stream.Flush(flushToDisk: true);
            }

            System.IO.File.Move(temporary, path, overwrite: true);
            return Reply.Ok;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or InvalidDataException)
        {
            return NodeReplies.ConfigRewriteFailed(e.Message);
        }
    }

    private static void Set(JsonObject root, string[] path, long value)
    {
        var node = root;
        for (var i = 0; i < path.Length - 1; i++)
        {
            var name = Existing(node, path[i]) ?? path[i];
            if (node[name] is not JsonObject child)
            {
                child = [];
                node[name] = child;
            }

            node = child;
        }

        node[Existing(node, path[^1]) ?? path[^1]] = value;
    }

    private static string? Existing(JsonObject node, string name)
        => node.Select(static p => p.Key).FirstOrDefault(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase));
}
