namespace RaftKv.Node.Tls;

/// <summary>
/// The current <see cref="TlsCredentials"/> of a set of files, read again when they change: no restart is needed to
/// renew a certificate or change the CA.
/// </summary>
/// <remarks>
/// <see cref="Current"/> looks at the files' modification times and sizes at most once per <see cref="CheckInterval"/>
/// (it is called on each new handshake, so an idle server reads nothing). When a file changed, the set is loaded
/// again; if that fails (a half-written file, a key that does not fit the certificate) the previous credentials stay
/// in use, a warning is logged, and the same files are not tried again until they change once more. Connections
/// already open keep the credentials they were made with.
/// </remarks>
public sealed class TlsCredentialSource
{
    /// <summary>How often, at most, the files are looked at.</summary>
    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(1);

    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private TlsCredentials _current;
    private FileStamp[] _loaded;
    private FileStamp[]? _failed;
    private long _lastCheck;

    /// <summary>Starts from <paramref name="initial"/>, loaded from <paramref name="files"/> as they are now.</summary>
    public TlsCredentialSource(TlsFiles files, TlsCredentials initial, TimeProvider time, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(time);
        Files = files;
        _current = initial;
        _time = time;
        _logger = logger;
        _loaded = Stamp(files);
        _lastCheck = time.GetTimestamp();
    }

    /// <summary>The files the credentials come from.</summary>
    public TlsFiles Files { get; }

    /// <summary>The credentials to use for a new connection (reloaded first if the files changed).</summary>
    public TlsCredentials Current
    {
        get
        {
            var now = _time.GetTimestamp();
            if (_time.GetElapsedTime(Interlocked.Read(ref _lastCheck), now) < CheckInterval)
                return Volatile.Read(ref _current);

            lock (_gate)
            {
                if (_time.GetElapsedTime(_lastCheck, now) >= CheckInterval)
                {
                    Interlocked.Exchange(ref _lastCheck, now);
                    Refresh();
                }

                return _current;
            }
        }
    }

    private void Refresh()
    {
        var stamp = Stamp(Files);
        if (stamp.AsSpan().SequenceEqual(_loaded) || (_failed is not null && stamp.AsSpan().SequenceEqual(_failed)))
            return;

        try
        {
            var fresh = TlsCredentials.Load(Files);
            Volatile.Write(ref _current, fresh);
            _loaded = stamp;
            _failed = null;
            TlsLog.CredentialsReloaded(_logger, Files.CertFile, fresh.Certificate.Subject, fresh.Certificate.Thumbprint, fresh.Certificate.NotAfter);
        }
        catch (TlsFileException e)
        {
            _failed = stamp;
            TlsLog.ReloadFailed(_logger, Files.CertFile, _current.Certificate.Thumbprint, e.Message);
        }
    }

    private static FileStamp[] Stamp(TlsFiles files)
        => [.. files.All.Select(static file =>
        {
            try
            {
                var info = new FileInfo(file);
                return info.Exists ? new FileStamp(info.LastWriteTimeUtc.Ticks, info.Length) : new FileStamp(0, -1);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return new FileStamp(0, -2);
            }
        })];

    private readonly record struct FileStamp(long WriteTicks, long Length);
}
