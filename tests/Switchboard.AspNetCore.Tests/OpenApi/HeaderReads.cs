using System.Collections;
using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Primitives;

namespace Switchboard.AspNetCore.Tests.OpenApi;

/// <summary>
/// Which request headers each endpoint reads, seen at run time: every request's header dictionary is wrapped, and a
/// lookup made once an endpoint is chosen is recorded against that endpoint's method and route. So the OpenAPI test
/// compares the document with what the code really reads, not with a list kept by hand.
/// </summary>
internal sealed class HeaderReads : IStartupFilter
{
    private readonly ConcurrentDictionary<(string Method, string Path), ConcurrentDictionary<string, byte>> _reads = new();

    /// <summary>The headers read per operation, keyed as the document keys them ("GET", "/v1/events").</summary>
    public IReadOnlyDictionary<(string Method, string Path), IReadOnlySet<string>> ByOperation =>
        _reads.ToDictionary(entry => entry.Key, entry => (IReadOnlySet<string>)entry.Value.Keys.ToHashSet(StringComparer.OrdinalIgnoreCase));

    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        // First in the pipeline, so every later reader (middleware, filters, handlers) reads through the wrapper.
        app.Use(async (context, following) =>
        {
            var feature = context.Features.Get<IHttpRequestFeature>()!;
            var original = feature.Headers;
            feature.Headers = new RecordingHeaders(original, name => Record(context, name));
            try
            {
                await following(context);
            }
            finally
            {
                feature.Headers = original;
            }
        });
        next(app);
    };

    private void Record(HttpContext context, string name)
    {
        if (context.GetEndpoint() is not RouteEndpoint endpoint)
        {
            return; // read before routing chose an endpoint: the host's, not the API's
        }

        // The framework's byte and file results read every validator (If-Match, If-None-Match, If-Modified-Since, …)
        // and act on none unless given an entity tag or a date, which the hub's Results.Bytes answers never are: those
        // reads are not the operation's.
        if (new System.Diagnostics.StackTrace().GetFrames().Any(frame => frame.GetMethod()?.DeclaringType?.FullName?.Contains("FileResultHelper", StringComparison.Ordinal) == true))
        {
            return;
        }

        // HEAD is GET without the body; the document describes it as GET.
        var method = HttpMethods.IsHead(context.Request.Method) ? "GET" : context.Request.Method.ToUpperInvariant();
        _reads.GetOrAdd((method, "/" + endpoint.RoutePattern.RawText!.Trim('/')), _ => new(StringComparer.OrdinalIgnoreCase)).TryAdd(name, 0);
    }

    /// <summary>
    /// Passes everything to the real dictionary and reports each lookup by name. The typed members
    /// (<c>IfNoneMatch</c>, <c>Origin</c>, …) are the interface's defaults, which look up through the indexer.
    /// </summary>
    private sealed class RecordingHeaders(IHeaderDictionary inner, Action<string> read) : IHeaderDictionary
    {
        public StringValues this[string key]
        {
            get
            {
                read(key);
                return inner[key];
            }
            set => inner[key] = value;
        }

        public long? ContentLength { get => inner.ContentLength; set => inner.ContentLength = value; }

        public ICollection<string> Keys => inner.Keys;

        public ICollection<StringValues> Values => inner.Values;

        public int Count => inner.Count;

        public bool IsReadOnly => inner.IsReadOnly;

#pragma warning disable ASP0019 // a pass-through: it adds exactly as the dictionary it wraps would
        public void Add(string key, StringValues value) => inner.Add(key, value);
#pragma warning restore ASP0019

        public void Add(KeyValuePair<string, StringValues> item) => inner.Add(item);

        public void Clear() => inner.Clear();

        public bool Contains(KeyValuePair<string, StringValues> item) => inner.Contains(item);

        public bool ContainsKey(string key)
        {
            read(key);
            return inner.ContainsKey(key);
        }

        public void CopyTo(KeyValuePair<string, StringValues>[] array, int arrayIndex) => inner.CopyTo(array, arrayIndex);

        public IEnumerator<KeyValuePair<string, StringValues>> GetEnumerator() => inner.GetEnumerator();

        public bool Remove(string key) => inner.Remove(key);

        public bool Remove(KeyValuePair<string, StringValues> item) => inner.Remove(item);

        public bool TryGetValue(string key, out StringValues value)
        {
            read(key);
            return inner.TryGetValue(key, out value);
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
