using System.Runtime.InteropServices;

namespace Switchboard.Events;

/// <summary>An event on its way into the log, before it has a sequence number and time.</summary>
/// <param name="Topic">A valid topic name.</param>
/// <param name="Type">The event type; <c>message</c> when the publisher gave none.</param>
/// <param name="Data">
/// The payload as UTF-8 JSON, stored and sent byte for byte. A log may keep the array behind it rather than copy it, so
/// it must not change once published.
/// </param>
public sealed record EventDraft(string Topic, string Type, ReadOnlyMemory<byte> Data)
{
    /// <summary>
    /// The array behind <see cref="Data"/> when it spans all of one, which is how every publish path hands payloads over;
    /// otherwise a copy. Stores bind and keep it, so a payload is copied once (when it is minified) and never again.
    /// </summary>
    public byte[] DataArray() =>
        MemoryMarshal.TryGetArray(Data, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : Data.ToArray();
}
