using System.Globalization;
using System.Text.RegularExpressions;

namespace RaftKv.Node.Tests.Telemetry;

/// <summary>
/// A strict reader of the Prometheus text exposition format (0.0.4): <c># HELP name text</c>, <c># TYPE name type</c>,
/// and sample lines <c>name{label="value",...} value [timestamp]</c>. Anything else is a <see cref="FormatException"/>.
/// </summary>
internal static partial class PrometheusText
{
    public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

    private static readonly HashSet<string> Types = ["counter", "gauge", "histogram", "summary", "untyped"];

    public static IReadOnlyList<Sample> Parse(string text)
    {
        var samples = new List<Sample>();
        var types = new Dictionary<string, string>();
        var lineNumber = 0;
        foreach (var line in text.Split('\n'))
        {
            lineNumber++;
            if (line.Length == 0)
                continue;
            if (line.StartsWith('#'))
            {
                if (line == "# EOF")
                    continue;
                var meta = Meta().Match(line);
                if (!meta.Success)
                    throw new FormatException($"line {lineNumber}: not a HELP or TYPE line: {line}");
                if (meta.Groups["kind"].Value == "TYPE")
                {
                    var type = meta.Groups["rest"].Value;
                    if (!Types.Contains(type) || !types.TryAdd(meta.Groups["name"].Value, type))
                        throw new FormatException($"line {lineNumber}: bad or repeated TYPE: {line}");
                }

                continue;
            }

            var sample = SampleLine().Match(line);
            if (!sample.Success)
                throw new FormatException($"line {lineNumber}: not a sample: {line}");
            var labels = new Dictionary<string, string>();
            var body = sample.Groups["labels"].Value;
            if (body.Length > 0)
            {
                foreach (Match label in Label().Matches(body))
                {
                    if (!labels.TryAdd(label.Groups["name"].Value, label.Groups["value"].Value))
                        throw new FormatException($"line {lineNumber}: repeated label: {line}");
                }

                if (Label().Replace(body, "").Trim(',').Length != 0)
                    throw new FormatException($"line {lineNumber}: bad labels: {line}");
            }

            var value = sample.Groups["value"].Value;
            var number = value switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                "NaN" => double.NaN,
                _ => double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed)
                    ? parsed
                    : throw new FormatException($"line {lineNumber}: bad value: {line}"),
            };
            samples.Add(new Sample(sample.Groups["name"].Value, labels, number));
        }

        if (samples.Count == 0)
            throw new FormatException("no samples");
        foreach (var sample in samples)
        {
            if (!types.Keys.Any(family => sample.Name == family || sample.Name.StartsWith(family + "_", StringComparison.Ordinal)))
                throw new FormatException($"sample {sample.Name} has no TYPE line");
        }

        return samples;
    }

    /// <summary>The value of the one sample named <paramref name="name"/> whose labels include <paramref name="labels"/>.</summary>
    public static double Single(this IReadOnlyList<Sample> samples, string name, params (string Name, string Value)[] labels)
        => samples.Single(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Name, out var v) && v == l.Value)).Value;

    /// <summary>Like <see cref="Single"/>, but 0 when there is no such sample (an instrument not recorded yet is not exported).</summary>
    public static double SingleOrZero(this IReadOnlyList<Sample> samples, string name)
        => samples.SingleOrDefault(s => s.Name == name)?.Value ?? 0;

    [GeneratedRegex(@"^# (?<kind>HELP|TYPE) (?<name>[a-zA-Z_:][a-zA-Z0-9_:]*) (?<rest>.*)$")]
    private static partial Regex Meta();

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[^}]*)\})? (?<value>\S+)( -?\d+)?$")]
    private static partial Regex SampleLine();

    [GeneratedRegex(@"(?<name>[a-zA-Z_][a-zA-Z0-9_]*)=""(?<value>(\\.|[^""\\])*)"",?")]
    private static partial Regex Label();
}
