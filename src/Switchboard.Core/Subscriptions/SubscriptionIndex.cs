using Switchboard.Events;
using Switchboard.Topics;

namespace Switchboard.Subscriptions;

/// <summary>
/// Who waits for which topics, so a commit wakes only the readers its events match. Exact topics sit in a hash map;
/// wildcard patterns sit in a token trie (one level per topic segment, with <c>*</c> and <c>&gt;</c> branches, in the
/// manner of NATS's subject list), and the wildcard matches of recently published topics are cached. A registration or
/// removal of a wildcard pattern drops the cached topics that pattern matches, so the cache is never stale.
/// </summary>
/// <remarks>
/// Every log owns one. The log calls <see cref="Notify"/> after its head has moved past the committed events, so a woken
/// reader always finds them. Matching happens under one lock, which is held for the lookups only; the waiters are set
/// after it is released.
/// </remarks>
public sealed class SubscriptionIndex
{
    /// <summary>Topics whose wildcard matches are remembered; past it the cache starts over.</summary>
    internal const int CacheCapacity = 4096;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, List<LogWaiter>> _exact = new(StringComparer.Ordinal);
    private readonly TrieNode _root = new();
    private readonly Dictionary<string, LogWaiter[]> _wildcardCache = new(StringComparer.Ordinal);
    private readonly List<LogWaiter> _matched = [];
    private readonly HashSet<string> _batchTopics = new(StringComparer.Ordinal);
    private int _wildcardCount;
    private int _count;
    private long _wakeups;

    /// <summary>Registered waiters.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    /// <summary>Waiters woken by commits since start: with one reader per topic, about one per event.</summary>
    public long Wakeups => Interlocked.Read(ref _wakeups);

    /// <summary>
    /// Registers a waiter for <paramref name="filter"/>; it stays until <see cref="Unregister"/>. With <paramref name="onSet"/>,
    /// each wake-up also runs it (a connection that serves several subscriptions from one loop passes it on that way).
    /// </summary>
    public LogWaiter Register(TopicFilter filter, Action<object?>? onSet = null, object? onSetState = null)
    {
        var waiter = new LogWaiter(filter, onSet, onSetState);
        lock (_lock)
        {
            foreach (var pattern in filter.Patterns)
            {
                if (pattern.IsExact)
                {
                    if (!_exact.TryGetValue(pattern.Value, out var list))
                    {
                        _exact[pattern.Value] = list = new List<LogWaiter>(1);
                    }

                    list.Add(waiter);
                }
                else
                {
                    _root.Add(pattern.Segments, 0, waiter);
                    _wildcardCount++;
                    Invalidate(pattern);
                }
            }

            waiter.Registered = true;
            _count++;
        }

        return waiter;
    }

    /// <summary>Removes a waiter; a second call does nothing.</summary>
    public void Unregister(LogWaiter waiter)
    {
        lock (_lock)
        {
            if (!waiter.Registered)
            {
                return;
            }

            foreach (var pattern in waiter.Filter.Patterns)
            {
                if (pattern.IsExact)
                {
                    if (_exact.TryGetValue(pattern.Value, out var list) && list.Remove(waiter) && list.Count == 0)
                    {
                        _exact.Remove(pattern.Value);
                    }
                }
                else
                {
                    _root.Remove(pattern.Segments, 0, waiter);
                    _wildcardCount--;
                    Invalidate(pattern);
                }
            }

            waiter.Registered = false;
            _count--;
        }
    }

    /// <summary>Wakes every waiter whose filter matches a topic of <paramref name="committed"/>.</summary>
    public void Notify(IReadOnlyList<EventRecord> committed)
    {
        if (committed.Count == 0)
        {
            return;
        }

        LogWaiter[] toWake;
        lock (_lock)
        {
            _matched.Clear();
            if (committed.Count == 1)
            {
                CollectLocked(committed[0].Topic);
            }
            else
            {
                _batchTopics.Clear();
                foreach (var record in committed)
                {
                    if (_batchTopics.Add(record.Topic))
                    {
                        CollectLocked(record.Topic);
                    }
                }
            }

            if (_matched.Count == 0)
            {
                return;
            }

            toWake = _matched.ToArray();
            _matched.Clear();
        }

        Wake(toWake);
    }

    /// <summary>Wakes every waiter: for a history reset, or news of appends whose topics are unknown.</summary>
    public void NotifyAll()
    {
        LogWaiter[] toWake;
        lock (_lock)
        {
            _matched.Clear();
            foreach (var list in _exact.Values)
            {
                _matched.AddRange(list);
            }

            _root.CollectAll(_matched);
            toWake = _matched.ToArray();
            _matched.Clear();
        }

        Wake(toWake);
    }

    /// <summary>The waiters a publish to <paramref name="topic"/> wakes, each once (for tests and diagnostics).</summary>
    public IReadOnlyCollection<LogWaiter> Match(string topic)
    {
        lock (_lock)
        {
            _matched.Clear();
            CollectLocked(topic);
            var result = _matched.ToHashSet();
            _matched.Clear();
            return result;
        }
    }

    /// <summary>How many topics have their wildcard matches cached (for tests).</summary>
    internal int CachedTopics
    {
        get
        {
            lock (_lock)
            {
                return _wildcardCache.Count;
            }
        }
    }

    private void Wake(LogWaiter[] waiters)
    {
        Interlocked.Add(ref _wakeups, waiters.Length);
        if (waiters.Length >= HandOffAt && !Thread.CurrentThread.IsThreadPoolThread)
        {
            // A commit thread of its own (SQLite's writer, Redis' socket thread) would put each reader's continuation in
            // the pool's global queue and wake a worker per set. One hop puts them in a worker's own queue, where the
            // pool's workers take them in turns, and the commit thread goes back to committing.
            ThreadPool.UnsafeQueueUserWorkItem(static all => SetAll(all), waiters, preferLocal: false);
            return;
        }

        SetAll(waiters);
    }

    /// <summary>From this many waiters a wake-up on a thread outside the pool moves to the pool.</summary>
    private const int HandOffAt = 8;

    private static void SetAll(LogWaiter[] waiters)
    {
        foreach (var waiter in waiters)
        {
            waiter.Set(); // a waiter matched by two patterns is set twice: the second set is a no-op
        }
    }

    private void CollectLocked(string topic)
    {
        if (_exact.TryGetValue(topic, out var exact))
        {
            _matched.AddRange(exact);
        }

        if (_wildcardCount == 0)
        {
            return;
        }

        if (!_wildcardCache.TryGetValue(topic, out var wildcard))
        {
            var found = new List<LogWaiter>();
            _root.Match(topic, 0, found);
            wildcard = found.Count == 0 ? [] : found.ToArray();
            if (_wildcardCache.Count >= CacheCapacity)
            {
                _wildcardCache.Clear(); // many distinct topics: start over rather than track recency
            }

            _wildcardCache[topic] = wildcard;
        }

        _matched.AddRange(wildcard);
    }

    private void Invalidate(TopicPattern pattern)
    {
        if (_wildcardCache.Count == 0)
        {
            return;
        }

        List<string>? stale = null;
        foreach (var topic in _wildcardCache.Keys)
        {
            if (pattern.Matches(topic))
            {
                (stale ??= []).Add(topic);
            }
        }

        if (stale is not null)
        {
            foreach (var topic in stale)
            {
                _wildcardCache.Remove(topic);
            }
        }
    }

    /// <summary>One topic segment of the wildcard trie.</summary>
    private sealed class TrieNode
    {
        private Dictionary<string, TrieNode>? _literals;
        private TrieNode? _star;
        private List<LogWaiter>? _endHere;   // patterns that end at this segment
        private List<LogWaiter>? _restHere;  // patterns whose next segment is '>': one or more segments more

        public void Add(string[] segments, int index, LogWaiter waiter)
        {
            if (index == segments.Length)
            {
                (_endHere ??= []).Add(waiter);
                return;
            }

            var segment = segments[index];
            if (segment == ">")
            {
                (_restHere ??= []).Add(waiter);
                return;
            }

            TrieNode next;
            if (segment == "*")
            {
                next = _star ??= new TrieNode();
            }
            else
            {
                _literals ??= new Dictionary<string, TrieNode>(StringComparer.Ordinal);
                if (!_literals.TryGetValue(segment, out next!))
                {
                    _literals[segment] = next = new TrieNode();
                }
            }

            next.Add(segments, index + 1, waiter);
        }

        /// <summary>Removes the waiter; returns true when this node is left empty, so its parent can drop it.</summary>
        public bool Remove(string[] segments, int index, LogWaiter waiter)
        {
            if (index == segments.Length)
            {
                _endHere?.Remove(waiter);
            }
            else if (segments[index] == ">")
            {
                _restHere?.Remove(waiter);
            }
            else if (segments[index] == "*")
            {
                if (_star is not null && _star.Remove(segments, index + 1, waiter))
                {
                    _star = null;
                }
            }
            else if (_literals is not null && _literals.TryGetValue(segments[index], out var next) && next.Remove(segments, index + 1, waiter))
            {
                _literals.Remove(segments[index]);
            }

            return _endHere is not { Count: > 0 } && _restHere is not { Count: > 0 } && _star is null && _literals is not { Count: > 0 };
        }

        /// <summary>Collects the waiters of patterns matching the rest of <paramref name="topic"/> from <paramref name="position"/>.</summary>
        public void Match(string topic, int position, List<LogWaiter> found)
        {
            // Any segment left at all satisfies a '>' here.
            if (_restHere is { Count: > 0 })
            {
                found.AddRange(_restHere);
            }

            var end = topic.IndexOf('.', position);
            var last = end < 0;
            if (last)
            {
                end = topic.Length;
            }

            if (_literals is not null && _literals.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(topic.AsSpan(position, end - position), out var literal))
            {
                literal.MatchNext(topic, end, last, found);
            }

            _star?.MatchNext(topic, end, last, found);
        }

        private void MatchNext(string topic, int end, bool last, List<LogWaiter> found)
        {
            if (last)
            {
                if (_endHere is { Count: > 0 })
                {
                    found.AddRange(_endHere);
                }

                return;
            }

            Match(topic, end + 1, found);
        }

        public void CollectAll(List<LogWaiter> found)
        {
            if (_endHere is not null)
            {
                found.AddRange(_endHere);
            }

            if (_restHere is not null)
            {
                found.AddRange(_restHere);
            }

            _star?.CollectAll(found);
            if (_literals is not null)
            {
                foreach (var node in _literals.Values)
                {
                    node.CollectAll(found);
                }
            }
        }
    }
}
