namespace Switchboard.Events;

/// <summary>An event on its way into the log, before it has a sequence number and time.</summary>
/// <param name="Topic">A valid topic name.</param>
/// <param name="Type">The event type; <c>message</c> when the publisher gave none.</param>
/// <param name="Data">The payload as UTF-8 JSON, stored and sent byte for byte.</param>
public sealed record EventDraft(string Topic, string Type, ReadOnlyMemory<byte> Data);
