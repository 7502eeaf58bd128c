using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace RaftKv.Chaos.Tests.History;

/// <summary>
/// Histories as JSON Lines: one <see cref="Operation"/> per line, in id order, so a history of a long run can be
/// grepped, diffed and streamed. Enums are written by name, absent fields are left out.
/// </summary>
public static class HistoryJson
{
    /// <summary>The options histories and run reports are written with (camelCase, enums by name, nulls left out).</summary>
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static string Serialize(IEnumerable<Operation> history)
    {
        ArgumentNullException.ThrowIfNull(history);
        var text = new StringBuilder();
        foreach (var operation in history)
            text.Append(JsonSerializer.Serialize(operation, Options)).Append('\n');
        return text.ToString();
    }

    public static IReadOnlyList<Operation> Deserialize(string jsonLines)
    {
        ArgumentNullException.ThrowIfNull(jsonLines);
        var history = new List<Operation>();
        foreach (var line in jsonLines.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            history.Add(JsonSerializer.Deserialize<Operation>(line, Options) ?? throw new JsonException("null operation in history"));
        return history;
    }

    public static Task WriteAsync(string path, IEnumerable<Operation> history, CancellationToken cancellationToken) =>
        File.WriteAllTextAsync(path, Serialize(history), cancellationToken);

    public static async Task<IReadOnlyList<Operation>> ReadAsync(string path, CancellationToken cancellationToken) =>
        Deserialize(await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false));
}
