using System.Text.Json;

namespace Switchboard.Client;

/// <summary>An event received from the hub, with the cursor that resumes right after it.</summary>
/// <param name="Seq">The hub-wide sequence number.</param>
/// <param name="Topic">The topic it was published on.</param>
/// <param name="Type">Its type (<c>message</c> by default).</param>
/// <param name="Time">When the hub accepted it.</param>
/// <param name="Data">Its data, any JSON value.</param>
/// <param name="Cursor">Give it back as <c>after</c> to resume right after this event, on any transport.</param>
public sealed record HubEvent(long Seq, string Topic, string Type, DateTimeOffset Time, JsonElement Data, string Cursor);

/// <summary>An event as stored by a publish.</summary>
/// <param name="Seq">The hub-wide sequence number.</param>
/// <param name="Topic">The topic.</param>
/// <param name="Type">The type.</param>
/// <param name="Time">When the hub accepted it.</param>
/// <param name="Data">The data.</param>
/// <param name="Replayed">True when the hub answered a repeat of an earlier request with the same idempotency key (nothing was appended).</param>
public sealed record PublishedEvent(long Seq, string Topic, string Type, DateTimeOffset Time, JsonElement Data, bool Replayed);

/// <summary>One event of a batch publish.</summary>
/// <param name="Topic">The topic.</param>
/// <param name="Data">The data, any JSON value.</param>
/// <param name="Type">The type, or null for <c>message</c>.</param>
public sealed record OutgoingEvent(string Topic, JsonElement Data, string? Type = null);

/// <summary>The hub could not honour a cursor; the subscription continues from <see cref="Cursor"/>.</summary>
/// <param name="Reason"><c>cursor-expired</c>, <c>epoch-changed</c> or <c>cursor-ahead</c>.</param>
/// <param name="Cursor">Where the subscription continues.</param>
public sealed record HubReset(string Reason, string Cursor);
