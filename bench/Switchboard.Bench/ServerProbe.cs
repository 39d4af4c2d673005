using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Switchboard.Bench;

/// <summary>Memory figures of a process from /proc/&lt;pid&gt;/status, in KiB.</summary>
internal readonly record struct ProcMemory(long RssKiB, long RssAnonKiB, long RssFileKiB, int Threads);

/// <summary>
/// Cheap, out-of-process views of the server: /proc for RSS and kernel socket memory, and a minimal
/// client of the .NET diagnostics IPC protocol (the one dotnet-counters and dotnet-gcdump use) to
/// force a full GC and read the managed heap size without any package dependency. Linux only;
/// every probe returns null instead of throwing when it cannot answer.
/// </summary>
internal static class ServerProbe
{
    public static ProcMemory? ReadMemory(int pid)
    {
        try
        {
            long rss = -1, anon = 0, file = 0;
            var threads = 0;
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    rss = KiB(line);
                }
                else if (line.StartsWith("RssAnon:", StringComparison.Ordinal))
                {
                    anon = KiB(line);
                }
                else if (line.StartsWith("RssFile:", StringComparison.Ordinal))
                {
                    file = KiB(line);
                }
                else if (line.StartsWith("Threads:", StringComparison.Ordinal))
                {
                    threads = (int)KiB(line);
                }
            }

            return rss < 0 ? null : new ProcMemory(rss, anon, file, threads);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }

        static long KiB(string line) =>
            long.Parse(line.AsSpan(line.IndexOf(':') + 1).Trim().TrimEnd("kB").Trim(), NumberStyles.None, CultureInfo.InvariantCulture);
    }

    /// <summary>Kernel memory held by all TCP sockets of the machine (both ends of loopback connections), in KiB.</summary>
    /// <summary>User + system CPU time of a process from /proc/PID/stat (fields 14 and 15, in clock ticks of 1/100 s).</summary>
    public static TimeSpan? ReadCpuTime(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name (field 2) is in parentheses and may contain spaces: split after the last ')'.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture)
                + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);
            return TimeSpan.FromSeconds(ticks / 100.0);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    public static long? KernelTcpMemoryKiB()
    {
        try
        {
            // "TCP: inuse 5 orphan 0 tw 0 alloc 7 mem 2" — mem is in pages.
            var line = File.ReadLines("/proc/net/sockstat").FirstOrDefault(l => l.StartsWith("TCP:", StringComparison.Ordinal));
            var parts = line?.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var at = parts is null ? -1 : Array.IndexOf(parts, "mem");
            return at < 0 || at + 1 >= parts!.Length ? null : long.Parse(parts[at + 1], CultureInfo.InvariantCulture) * Environment.SystemPageSize / 1024;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    /// <summary>
    /// Starts an EventPipe session on <paramref name="pid"/> with the runtime provider's GCHeapCollect
    /// keyword (the runtime answers with a full blocking GC, as for dotnet-gcdump) and the System.Runtime
    /// counters at a 1 s interval, waits for the first counter report and stops the session.
    /// Returns the "gc-heap-size" counter in MB, taken after the induced GC, or null with a reason.
    /// </summary>
    public static async Task<(double? HeapMB, string? Problem)> CollectGarbageAndReadHeapAsync(int pid, CancellationToken ct)
    {
        var path = FindDiagnosticSocket(pid);
        if (path is null)
        {
            return (null, "no diagnostics IPC socket (DOTNET_EnableDiagnostics=0 or a different TMPDIR?)");
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(TimeSpan.FromSeconds(15));
        try
        {
            using var session = await ConnectAsync(path, deadline.Token);
            await session.SendAsync(CollectTracing2(
                [
                    (0x800001UL, 4u, "Microsoft-Windows-DotNETRuntime", null), // GC | GCHeapCollect: forces a full GC
                    (0xFFFFFFFFUL, 4u, "System.Runtime", "EventCounterIntervalSec=1"),
                ]),
                SocketFlags.None,
                deadline.Token);
            var sessionId = await ReadOkAsync(session, deadline.Token);

            // Read the trace until a gc-heap-size report arrives (first one after ~1 s), at most 5 s.
            var trace = new MemoryStream();
            var buffer = new byte[64 * 1024];
            var watch = Stopwatch.StartNew();
            double? heap = null;
            using (var window = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token))
            {
                window.CancelAfter(TimeSpan.FromSeconds(5));
                try
                {
                    while (heap is null)
                    {
                        var n = await session.ReceiveAsync(buffer, SocketFlags.None, window.Token);
                        if (n == 0)
                        {
                            break;
                        }

                        trace.Write(buffer, 0, n);
                        heap = FindCounterMean(trace.GetBuffer().AsSpan(0, (int)trace.Length), "gc-heap-size");
                    }
                }
                catch (OperationCanceledException) when (!deadline.IsCancellationRequested)
                {
                    // No report within 5 s; stop the session anyway.
                }
            }

            using (var stopper = await ConnectAsync(path, deadline.Token))
            {
                var payload = new byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(payload, sessionId);
                await stopper.SendAsync(Message(0x02, 0x01, payload), SocketFlags.None, deadline.Token);
                await ReadOkAsync(stopper, deadline.Token);
            }

            return heap is null
                ? (null, $"no gc-heap-size counter in {trace.Length} bytes of trace after {watch.Elapsed.TotalSeconds:0.0}s")
                : (heap, null);
        }
        catch (Exception ex) when (ex is SocketException or IOException or InvalidDataException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            return (null, $"diagnostics IPC failed: {ex.GetType().Name}: {ex.Message}");
        }
    }

    private static string? FindDiagnosticSocket(int pid)
    {
        foreach (var dir in new[] { Environment.GetEnvironmentVariable("TMPDIR"), Path.GetTempPath(), "/tmp" })
        {
            if (string.IsNullOrEmpty(dir) || !Directory.Exists(dir))
            {
                continue;
            }

            var found = Directory.GetFiles(dir, $"dotnet-diagnostic-{pid}-*-socket").OrderByDescending(File.GetLastWriteTimeUtc).FirstOrDefault();
            if (found is not null)
            {
                return found;
            }
        }

        return null;
    }

    private static async Task<Socket> ConnectAsync(string path, CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), ct);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Reads one IPC response header; returns the 8-byte payload of an OK (session id) or throws on an error.</summary>
    private static async Task<ulong> ReadOkAsync(Socket socket, CancellationToken ct)
    {
        var header = new byte[20];
        await ReadExactlyAsync(socket, header, ct);
        if (!header.AsSpan(0, 14).SequenceEqual("DOTNET_IPC_V1\0"u8))
        {
            throw new InvalidDataException("bad diagnostics IPC response magic");
        }

        var size = BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(14));
        var payload = new byte[Math.Max(0, size - 20)];
        await ReadExactlyAsync(socket, payload, ct);
        if (header[16] != 0xFF || header[17] != 0x00 || payload.Length < 8)
        {
            var hr = payload.Length >= 4 ? BinaryPrimitives.ReadUInt32LittleEndian(payload) : 0;
            throw new InvalidDataException($"diagnostics IPC error 0x{header[16]:X2}/0x{header[17]:X2} hresult 0x{hr:X8}");
        }

        return BinaryPrimitives.ReadUInt64LittleEndian(payload);
    }

    private static async Task ReadExactlyAsync(Socket socket, byte[] buffer, CancellationToken ct)
    {
        for (var at = 0; at < buffer.Length;)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(at), SocketFlags.None, ct);
            if (n == 0)
            {
                throw new IOException("diagnostics IPC connection closed");
            }

            at += n;
        }
    }

    /// <summary>IPC message: "DOTNET_IPC_V1\0", uint16 total size, command set, command id, uint16 reserved, payload.</summary>
    internal static byte[] Message(byte commandSet, byte commandId, ReadOnlySpan<byte> payload)
    {
        var message = new byte[20 + payload.Length];
        "DOTNET_IPC_V1\0"u8.CopyTo(message);
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(14), checked((ushort)message.Length));
        message[16] = commandSet;
        message[17] = commandId;
        payload.CopyTo(message.AsSpan(20));
        return message;
    }

    /// <summary>EventPipe CollectTracing2: buffer MB, format (1 = nettrace), rundown flag, providers.</summary>
    internal static byte[] CollectTracing2(IReadOnlyList<(ulong Keywords, uint Level, string Name, string? Filter)> providers)
    {
        var payload = new MemoryStream();
        var writer = new BinaryWriter(payload);
        writer.Write(16u);
        writer.Write(1u);
        writer.Write((byte)0);
        writer.Write((uint)providers.Count);
        foreach (var (keywords, level, name, filter) in providers)
        {
            writer.Write(keywords);
            writer.Write(level);
            WriteIpcString(writer, name);
            WriteIpcString(writer, filter);
        }

        writer.Flush();
        return Message(0x02, 0x03, payload.ToArray());

        static void WriteIpcString(BinaryWriter w, string? s)
        {
            if (string.IsNullOrEmpty(s))
            {
                w.Write(0u);
                return;
            }

            w.Write((uint)(s.Length + 1));
            w.Write(Encoding.Unicode.GetBytes(s + "\0"));
        }
    }

    /// <summary>
    /// Finds the last EventCounters report for <paramref name="counter"/> in a nettrace byte stream.
    /// The payload is self-describing (UTF-16 null-terminated strings, little-endian numbers) and starts
    /// Name, DisplayName, Mean; the counter name occurs nowhere else in the stream.
    /// </summary>
    internal static double? FindCounterMean(ReadOnlySpan<byte> trace, string counter)
    {
        var name = Encoding.Unicode.GetBytes(counter + "\0");
        var at = trace.LastIndexOf(name);
        if (at < 0)
        {
            return null;
        }

        var rest = trace[(at + name.Length)..];
        for (var i = 0; i + 1 < rest.Length; i += 2)
        {
            if (rest[i] == 0 && rest[i + 1] == 0)
            {
                if (i + 2 + 8 > rest.Length)
                {
                    return null;
                }

                var mean = BinaryPrimitives.ReadDoubleLittleEndian(rest[(i + 2)..]);
                return double.IsFinite(mean) && mean >= 0 ? mean : null;
            }
        }

        return null;
    }
}
