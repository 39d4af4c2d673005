namespace Switchboard.Client;

/// <summary>What <see cref="WebhookReplayGuard.TryReserve"/> found for an id.</summary>
public enum WebhookReplayStatus
{
    /// <summary>Not seen within the window: it is now reserved for this caller, who must Complete or Release it.</summary>
    New,

    /// <summary>Already processed within the window: a retry or a replay. Do not process it again.</summary>
    Duplicate,

    /// <summary>Another request with this id is being processed right now.</summary>
    InProgress,
}

/// <summary>
/// Remembers the <c>webhook-id</c>s processed within a window (default ten minutes, twice the verifier's timestamp
/// tolerance, so a captured request is refused by one check or the other) to refuse replays and retries of
/// deliveries that were already handled.
/// </summary>
/// <remarks>
/// Memory is bounded: expired ids are dropped as new ones arrive, and at <see cref="Capacity"/> the oldest id is
/// dropped early. An id dropped early could be processed a second time if replayed, so size the capacity above
/// the number of deliveries expected within the window. Thread-safe. The ids live in this process only: behind
/// a load balancer, make processing idempotent on the id in the application's own store as well.
/// </remarks>
public sealed class WebhookReplayGuard
{
    /// <summary>How long a processed id is remembered by default: ten minutes.</summary>
    public static readonly TimeSpan DefaultWindow = TimeSpan.FromMinutes(10);

    /// <summary>How many ids are remembered at most by default.</summary>
    public const int DefaultCapacity = 100_000;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    // Ids in the order their window started; an entry whose stamp no longer matches the dictionary is stale.
    private readonly Queue<(string Id, long Stamp)> _order = new();
    private readonly TimeProvider _timeProvider;
    private long _nextStamp;

    /// <summary>Creates a guard.</summary>
    /// <param name="window">How long an id is remembered; <see cref="DefaultWindow"/> if null.</param>
    /// <param name="capacity">How many ids are remembered at most.</param>
    /// <param name="timeProvider">The clock; <see cref="TimeProvider.System"/> if null.</param>
    public WebhookReplayGuard(TimeSpan? window = null, int capacity = DefaultCapacity, TimeProvider? timeProvider = null)
    {
        Window = window ?? DefaultWindow;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(Window, TimeSpan.Zero, nameof(window));
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>How long an id is remembered after it was processed.</summary>
    public TimeSpan Window { get; }

    /// <summary>How many ids are remembered at most.</summary>
    public int Capacity { get; }

    /// <summary>How many ids are remembered now, processed or in progress.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>
    /// Records <paramref name="id"/> as processed if it was not seen within the window. Returns false for a
    /// duplicate (or one in progress). Use it when processing cannot fail; otherwise reserve, then complete or release.
    /// </summary>
    public bool TryAccept(string id)
    {
        if (TryReserve(id) != WebhookReplayStatus.New)
        {
            return false;
        }

        Complete(id);
        return true;
    }

    /// <summary>
    /// Reserves <paramref name="id"/> for processing if it was not seen within the window. After
    /// <see cref="WebhookReplayStatus.New"/>, call <see cref="Complete"/> once processing succeeded (duplicates are
    /// then refused for <see cref="Window"/>) or <see cref="Release"/> if it failed (so the sender's retry is processed).
    /// A reservation never completed nor released expires after <see cref="Window"/>.
    /// </summary>
    public WebhookReplayStatus TryReserve(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        lock (_gate)
        {
            var now = _timeProvider.GetUtcNow();
            Evict(now, room: 0);
            if (_entries.TryGetValue(id, out var existing))
            {
                return existing.Completed ? WebhookReplayStatus.Duplicate : WebhookReplayStatus.InProgress;
            }

            Evict(now, room: 1);
            Add(id, now, completed: false);
            return WebhookReplayStatus.New;
        }
    }

    /// <summary>Marks a reserved id as processed; its window starts now.</summary>
    public void Complete(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        lock (_gate)
        {
            var now = _timeProvider.GetUtcNow();
            _entries.Remove(id);
            Evict(now, room: 1);
            Add(id, now, completed: true);
        }
    }

    /// <summary>Forgets a reservation, so the next request with this id is processed.</summary>
    public void Release(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        lock (_gate)
        {
            if (_entries.TryGetValue(id, out var entry) && !entry.Completed)
            {
                _entries.Remove(id);
            }
        }
    }

    private void Add(string id, DateTimeOffset now, bool completed)
    {
        var stamp = _nextStamp++;
        _entries[id] = new Entry(stamp, now + Window, completed);
        _order.Enqueue((id, stamp));
    }

    /// <summary>Drops expired ids, then the oldest ones until <paramref name="room"/> more fit.</summary>
    private void Evict(DateTimeOffset now, int room)
    {
        while (_order.TryPeek(out var head))
        {
            if (!_entries.TryGetValue(head.Id, out var entry) || entry.Stamp != head.Stamp)
            {
                _order.Dequeue(); // completed again later, or released
                continue;
            }

            if (entry.ExpiresAt > now && _entries.Count + room <= Capacity)
            {
                break;
            }

            _entries.Remove(head.Id);
            _order.Dequeue();
        }

        // Stale queue items behind a live head are bounded too: rebuild the queue from the live entries.
        if (_order.Count > 2 * Capacity)
        {
            var live = _entries.OrderBy(pair => pair.Value.Stamp).Select(pair => (pair.Key, pair.Value.Stamp)).ToList();
            _order.Clear();
            foreach (var item in live)
            {
                _order.Enqueue(item);
            }
        }
    }

    private readonly record struct Entry(long Stamp, DateTimeOffset ExpiresAt, bool Completed);
}
