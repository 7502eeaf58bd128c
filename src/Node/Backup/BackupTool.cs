using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace RaftKv.Node.Backup;

/// <summary>
/// The node's operator verbs: <c>RaftKv.Node backup</c> fetches an online backup from a running node into a file,
/// <c>RaftKv.Node restore</c> installs one as a new member's snapshot (docs/storage.md, "Backup and restore").
/// </summary>
public static class BackupTool
{
    /// <summary>The usage text, printed for a wrong command line.</summary>
    public const string Usage = """
        Usage:
          RaftKv.Node backup --connect HOST:PORT [--user USER] [--password PASSWORD] [--tls [--cacert FILE] [--cert FILE --key FILE]] FILE
              Takes an online backup of the running cluster through that node (any member) into FILE. The password may
              come from REDISCLI_AUTH instead. FILE appears only once complete and verified.
          RaftKv.Node restore FILE (--config NODE.json [--Section:Key=value ...] | --data-path DIR)
              Verifies FILE and installs it as that node's snapshot. The data directory must be empty or absent.
              Restore every member of the new cluster from the same file, then start them.
        """;

    /// <summary>True when <paramref name="args"/> name a verb of this tool.</summary>
    public static bool IsVerb(string[] args) => args is ["backup" or "restore", ..];

    /// <summary>Runs a verb; returns the process's exit code (0 done, 1 failed, 2 wrong usage).</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken token)
    {
        try
        {
            if (args[0] == "backup")
            {
                var (endpoint, file) = ParseBackup(args[1..]);
                var taken = await BackupFetch.FetchAsync(endpoint, file, token).ConfigureAwait(false);
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"Backup written to {file}: index {taken.Index}, term {taken.Term}, cluster time {taken.ClusterTime}, {taken.Bytes} bytes, {taken.Keys} keys."));
                return 0;
            }

            var (backup, dataPath) = ParseRestore(args[1..]);
            var installed = BackupRestore.Install(backup, dataPath);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Restored {backup} into {Path.GetFullPath(dataPath)}: the node starts at index {installed.Index} (cluster time {installed.ClusterTime}) as a member of a new cluster."));
            return 0;
        }
        catch (UsageException e)
        {
            error.WriteLine(e.Message);
            error.WriteLine(Usage);
            return 2;
        }
        catch (Exception e) when (e is BackupException or IOException or UnauthorizedAccessException or System.Net.Sockets.SocketException or OperationCanceledException
            or System.Security.Authentication.AuthenticationException or System.Security.Cryptography.CryptographicException)
        {
            error.WriteLine($"RaftKv {args[0]} failed: {e.Message}");
            return 1;
        }
    }

    private static (BackupEndpoint Endpoint, string File) ParseBackup(string[] args)
    {
        var (endpoint, positional) = ParseConnection(args, "backup");
        return positional switch
        {
            [var file] => (endpoint, file),
            [] => throw new UsageException("backup needs --connect HOST:PORT and FILE."),
            _ => throw new UsageException($"One FILE only ('{positional[1]}' is a second)."),
        };
    }

    /// <summary>
    /// The options that reach a node (<c>--connect HOST:PORT</c>, <c>--user</c>, <c>--password</c> or REDISCLI_AUTH,
    /// <c>--tls</c>, <c>--cacert</c>, <c>--cert</c>, <c>--key</c>, redis-cli's names) and the arguments left over.
    /// </summary>
    /// <exception cref="UsageException">An unknown option, a missing value, or no valid <c>--connect</c>.</exception>
    internal static (BackupEndpoint Endpoint, List<string> Positional) ParseConnection(string[] args, string verb)
    {
        string? connect = null, user = null, password = null, ca = null, cert = null, key = null;
        var positional = new List<string>();
        var tls = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--connect": connect = Value(args, ref i); break;
                case "--user": user = Value(args, ref i); break;
                case "--password": password = Value(args, ref i); break;
                case "--tls": tls = true; break;
                case "--cacert": ca = Value(args, ref i); break;
                case "--cert": cert = Value(args, ref i); break;
                case "--key": key = Value(args, ref i); break;
                case var other when other.StartsWith("--", StringComparison.Ordinal): throw new UsageException($"Unknown option {other}.");
                default: positional.Add(args[i]); break;
            }
        }

        if (connect is null)
            throw new UsageException($"{verb} needs --connect HOST:PORT.");
        var colon = connect.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(connect.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            throw new UsageException($"--connect '{connect}' is not HOST:PORT.");
        if ((cert is null) != (key is null))
            throw new UsageException("--cert and --key go together.");
        password ??= Environment.GetEnvironmentVariable("REDISCLI_AUTH") is { Length: > 0 } fromEnvironment ? fromEnvironment : null;
        return (new BackupEndpoint(connect[..colon], port, user, password, tls || ca is not null || cert is not null, ca, cert, key), positional);
    }

    private static (string File, string DataPath) ParseRestore(string[] args)
    {
        string? file = null, dataPath = null;
        var configuration = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--data-path": dataPath = Value(args, ref i); break;
                case var option when option.StartsWith("--", StringComparison.Ordinal):
                    // --config FILE and --Section:Key=value, as the node itself reads them.
                    configuration.Add(option);
                    if (!option.Contains('=', StringComparison.Ordinal))
                        configuration.Add(Value(args, ref i));
                    break;
                case var path when file is null: file = path; break;
                default: throw new UsageException($"One FILE only ('{args[i]}' is a second).");
            }
        }

        if (file is null)
            throw new UsageException("restore needs the backup FILE.");
        if (dataPath is not null && configuration.Count > 0)
            throw new UsageException("restore takes --data-path or the node's configuration, not both.");
        if (dataPath is null)
        {
            if (configuration.Count == 0)
                throw new UsageException("restore needs --config NODE.json or --data-path DIR.");
            dataPath = DataPathOf([.. configuration]);
        }

        return (file, dataPath);
    }

    // The node's own reading of its configuration (RaftKvNode.Build): the JSON file, then command-line overrides.
    private static string DataPathOf(string[] args)
    {
        var arguments = new ConfigurationBuilder().AddCommandLine(args).Build();
        var builder = new ConfigurationBuilder();
        if (arguments["config"] is { Length: > 0 } file)
        {
            if (!File.Exists(file))
                throw new BackupException($"The node configuration '{file}' does not exist.");
            builder.AddJsonFile(Path.GetFullPath(file), optional: false);
        }

        var options = builder.AddCommandLine(args).Build().GetSection(NodeOptions.Section).Get<NodeOptions>() ?? new NodeOptions();
        return options.DataPath;
    }

    private static string Value(string[] args, ref int i)
        => ++i < args.Length ? args[i] : throw new UsageException($"{args[i - 1]} needs a value.");

    internal sealed class UsageException(string message) : Exception(message);
}
