namespace RaftKv.Node.Hosting;

/// <summary>
/// The shape of the node's console log, <c>RaftKv:LogFormat</c>: <c>simple</c> (the default, one line per event for a
/// terminal or a file) or <c>json</c> (one JSON object per line, for a log collector: containers, Kubernetes, journald
/// forwarders). JSON lines carry the event's id (<see cref="NodeLogEvents"/>) and its fields under <c>State</c>, so a
/// collector filters on <c>EventId</c> and reads <c>State.Term</c> instead of parsing the message text.
/// </summary>
public static class ConsoleLogFormat
{
    /// <summary>The configuration key.</summary>
    public const string Key = NodeOptions.Section + ":LogFormat";

    /// <summary>Adds the console logger in the configured shape.</summary>
    /// <exception cref="NodeStartupException">The key holds neither <c>simple</c> nor <c>json</c>.</exception>
    public static void AddConsole(ILoggingBuilder logging, IConfiguration configuration)
    {
        var format = configuration[Key];
        if (string.IsNullOrEmpty(format) || string.Equals(format, "simple", StringComparison.OrdinalIgnoreCase))
        {
            logging.AddSimpleConsole(static console =>
            {
                console.SingleLine = true;
                console.TimestampFormat = "HH:mm:ss.fff ";
            });
        }
        else if (string.Equals(format, "json", StringComparison.OrdinalIgnoreCase))
        {
            // UTC with the date: a collector merges the lines of several hosts, where local wall-clock times mislead.
            logging.AddJsonConsole(static json =>
            {
                json.UseUtcTimestamp = true;
                json.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";
                json.JsonWriterOptions = new System.Text.Json.JsonWriterOptions { Indented = false };
            });
        }
        else
        {
            throw new NodeStartupException($"'{Key}' is '{format}': use simple (one text line per event) or json (one JSON object per line).");
        }
    }
}
