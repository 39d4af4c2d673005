// The playground: one publisher, five subscribers of the same topic, each counted the same way.
// Publishing and the session control go through the hub's JS client. The five columns stay raw on purpose, one per
// transport with nothing in between, because they show what each one costs on the wire.
import { Switchboard } from '../v1/client.js';
import { pageToken, isRefusal, showRefusal } from './access.js';

(() => {
  const meta = name => document.querySelector(`meta[name="${name}"]`).content;
  const base = meta('switchboard-base');
  const api = meta('switchboard-api');
  const $ = id => document.getElementById(id);
  // On a protected hub, open the page as /playground?token=<credential> (a key with publish, subscribe and admin):
  // fetches send it as a bearer header, EventSource and WebSocket (which cannot) as access_token.
  const token = pageToken();
  const hub = new Switchboard(location.origin + base, { token, cursorStore: null });
  const authed = (init = {}) => token ? { ...init, headers: { ...(init.headers ?? {}), Authorization: `Bearer ${token}` } } : init;
  const withToken = url => token ? `${url}${url.includes('?') ? '&' : '?'}access_token=${encodeURIComponent(token)}` : url;
  const encoder = new TextEncoder();
  const bytesOf = text => encoder.encode(text).length;
  // What a response's headers cost on the wire, roughly: the status line plus "name: value\r\n" for each header.
  const headerBytes = response => { let n = 17; response.headers.forEach((v, k) => { n += k.length + v.length + 4; }); return n; };

  const COLUMNS = [
    { key: 'short_poll', title: 'Short polling', polls: true,
      text: 'Choose it when clients are simple and a delay of one interval is fine: it works through anything, but every request costs headers even when nothing changed, and an event waits until the next poll.' },
    { key: 'long_poll', title: 'Long polling', polls: true,
      text: 'Choose it when you need near-instant delivery over plain request/response (old proxies, serverless clients): one held request per client, answered the moment an event arrives.' },
    { key: 'sse', title: 'Server-Sent Events',
      text: 'Choose it for server-to-browser streams: one long response, a few bytes of framing per event, and the browser reconnects and resumes with Last-Event-ID on its own.' },
    { key: 'websocket', title: 'WebSocket',
      text: 'Choose it when the client also talks back (publish, presence, many subscriptions on one connection); you handle reconnecting and resuming from the last cursor.' },
    { key: 'webhook', title: 'Webhook',
      text: 'Choose it for servers that cannot hold a connection: the hub POSTs each event, signed, and retries until the receiver answers 2xx. Here the built-in sink receives them and this page sees its receipts.' },
  ];

  const stats = {};
  let running = null; // { topic, session, timers, closers }

  function column(c) {
    const section = document.createElement('section');
    section.className = 'panel column';
    section.dataset.transport = c.key;
    section.style.setProperty('--c', `var(--${c.key})`);
    const rows = [['received', 'events received'], ['p50', 'latency p50'], ['p99', 'latency p99'], ['requests', 'HTTP requests'],
      ['bytes', 'bytes received'], ['perEvent', 'requests per event']];
    if (c.polls) rows.push(['empty', 'empty responses']);
    section.innerHTML = `<h2>${c.title}</h2><dl>${rows.map(([k, label]) => `<dt>${label}</dt><dd data-stat="${k}">–</dd>`).join('')}</dl>`
      + (c.key === 'short_poll' ? '<div class="timeline" data-stat="timeline" title="polls (tall) and events waiting for them"></div><p class="note" data-stat="miss"></p>' : '')
      + `<p>${c.text}</p>`;
    return section;
  }

  function reset() {
    $('columns').textContent = '';
    for (const c of COLUMNS) {
      stats[c.key] = { received: 0, requests: 0, bytes: 0, empty: 0, latencies: [], seen: new Set() };
      $('columns').appendChild(column(c));
    }
    $('published').textContent = '0';
  }

  function percentile(sorted, q) { return sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * q) - 1)]; }

  function render() {
    for (const c of COLUMNS) {
      const s = stats[c.key];
      const sorted = [...s.latencies].sort((a, b) => a - b);
      const set = (k, v) => { const dd = document.querySelector(`[data-transport="${c.key}"] [data-stat="${k}"]`); if (dd) dd.textContent = v; };
      const p50 = percentile(sorted, 0.5), p99 = percentile(sorted, 0.99);
      set('received', s.received);
      set('p50', p50 == null ? '–' : `${Math.round(p50)} ms`);
      set('p99', p99 == null ? '–' : `${Math.round(p99)} ms`);
      set('requests', s.requests);
      set('bytes', s.bytes.toLocaleString('en'));
      set('perEvent', s.received === 0 ? '–' : (s.requests / s.received).toFixed(2));
      set('empty', s.empty);
    }
    if (running) {
      const interval = running.interval;
      document.querySelector('[data-stat="miss"]').textContent =
        `Miss window: an event published just after a poll waits up to ${interval} ms for the next one. `
        + `${stats.short_poll.empty} of ${stats.short_poll.requests} polls came back empty.`;
    }
  }

  function received(key, data, bytes) {
    const s = stats[key];
    s.bytes += bytes;
    if (!data || typeof data.n !== 'number' || s.seen.has(data.n)) return;
    s.seen.add(data.n);
    s.received++;
    s.latencies.push(Date.now() - data.sentAt);
    if (s.latencies.length > 2000) s.latencies.shift(); // bounded: the last 2,000 events
  }

  function mark(kind) {
    // The short-poll strip: a tall mark per poll, a short one per event published, over the last ten seconds.
    const strip = document.querySelector('[data-stat="timeline"]');
    if (!strip) return;
    const span = document.createElement('span');
    span.style.background = kind === 'poll' ? 'var(--short_poll)' : 'var(--accent)';
    if (kind !== 'poll') { span.style.height = '8px'; span.style.top = '9px'; }
    span.dataset.t = String(Date.now());
    strip.appendChild(span);
  }

  function drawStrip() {
    const strip = document.querySelector('[data-stat="timeline"]');
    if (!strip) return;
    const now = Date.now();
    for (const span of [...strip.children]) {
      const age = now - Number(span.dataset.t);
      if (age > 10000) span.remove(); else span.style.left = `${100 - age / 100}%`;
    }
  }

  async function shortPoll(topic, cursor, interval, signal) {
    let etag = null;
    while (!signal.aborted) {
      const headers = etag ? { 'If-None-Match': etag } : {};
      try {
        const response = await fetch(`${api}/events?topic=${encodeURIComponent(topic)}&after=${encodeURIComponent(cursor)}`, authed({ headers, signal }));
        stats.short_poll.requests++;
        mark('poll');
        let bytes = headerBytes(response);
        if (response.status === 304) {
          stats.short_poll.empty++;
        } else if (response.ok) {
          const text = await response.text();
          bytes += bytesOf(text);
          const body = JSON.parse(text);
          etag = response.headers.get('etag');
          cursor = body.cursor;
          if (body.events.length === 0) stats.short_poll.empty++;
          for (const e of body.events) received('short_poll', e.data, 0);
        }
        stats.short_poll.bytes += bytes;
      } catch (error) {
        if (signal.aborted) return;
      }
      await new Promise(resolve => setTimeout(resolve, interval));
    }
  }

  async function longPoll(topic, cursor, signal) {
    while (!signal.aborted) {
      try {
        const response = await fetch(`${api}/events?topic=${encodeURIComponent(topic)}&after=${encodeURIComponent(cursor)}&wait=25`, authed({ signal }));
        stats.long_poll.requests++;
        const text = await response.text();
        stats.long_poll.bytes += headerBytes(response) + bytesOf(text);
        if (!response.ok) { await new Promise(resolve => setTimeout(resolve, 1000)); continue; }
        const body = JSON.parse(text);
        cursor = body.cursor;
        if (body.events.length === 0) stats.long_poll.empty++;
        for (const e of body.events) received('long_poll', e.data, 0);
      } catch (error) {
        if (signal.aborted) return;
        await new Promise(resolve => setTimeout(resolve, 1000));
      }
    }
  }

  function sse(key, url, onEvent) {
    const source = new EventSource(withToken(url));
    source.onopen = () => { stats[key].requests++; };
    source.onmessage = message => {
      // The bytes of the frame as sent: "id: <cursor>\ndata: <json>\n\n".
      onEvent(JSON.parse(message.data), bytesOf(message.data) + message.lastEventId.length + 12);
    };
    return () => source.close();
  }

  function webSocket(topic, cursor) {
    const url = new URL(`${api}/ws`, location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    if (token) url.searchParams.set('access_token', token);
    const socket = new WebSocket(url, 'switchboard.v1');
    socket.onopen = () => {
      stats.websocket.requests++;
      socket.send(JSON.stringify({ op: 'subscribe', id: 'playground', topics: [topic], after: cursor }));
    };
    socket.onmessage = message => {
      const m = JSON.parse(message.data);
      if (m.op === 'event') received('websocket', m.event.data, bytesOf(message.data));
      else stats.websocket.bytes += bytesOf(message.data);
    };
    return () => socket.close();
  }

  async function start(event) {
    event.preventDefault();
    if (running) return;
    const topic = $('topic').value.trim();
    const rate = Number($('rate').value);
    const interval = Number($('interval').value);
    reset();
    $('start').disabled = true;
    const status = $('status');
    status.textContent = 'starting…';
    status.className = 'status';
    try {
      // Everyone starts at the same point of the log: the newest cursor now.
      const cursor = (await (await hub.request('/v1/health')).json()).cursor;
      const session = await (await hub.request(`/playground/sessions?topic=${encodeURIComponent(topic)}`, { method: 'POST' })).json();
      const abort = new AbortController();
      running = { topic, interval, session, abort, closers: [], timers: [] };
      shortPoll(topic, cursor, interval, abort.signal);
      longPoll(topic, cursor, abort.signal);
      running.closers.push(sse('sse', `${api}/stream?topic=${encodeURIComponent(topic)}&after=${encodeURIComponent(cursor)}`,
        (e, bytes) => received('sse', e.data, bytes)));
      running.closers.push(webSocket(topic, cursor));
      // Each receipt is one webhook POST that the sink received; its bytes are what came over that request.
      running.closers.push(sse('webhook_receipts', `${api}/stream?topic=${encodeURIComponent(session.receiptsTopic)}&after=${encodeURIComponent(cursor)}`,
        e => { stats.webhook.requests++; received('webhook', e.data.data, e.data.bodyBytes + e.data.headerBytes); }));
      let n = 0;
      running.timers.push(setInterval(async () => {
        const tick = { n: ++n, sentAt: Date.now() };
        mark('event');
        try {
          // One attempt: a retried tick would arrive late and skew the latencies it is there to measure.
          await hub.publish(topic, tick, { type: 'playground.tick', attempts: 1 });
          $('published').textContent = String(tick.n);
        } catch (error) {
          if (isRefusal(error)) { stop(); showRefusal(error, 'playground'); }
        }
      }, 1000 / rate));
      running.timers.push(setInterval(() => { render(); drawStrip(); }, 250));
      status.textContent = 'running';
      status.className = 'status live';
      $('stop').disabled = false;
    } catch (error) {
      status.textContent = `failed: ${error.message}`;
      status.className = 'status down';
      $('start').disabled = false;
      running = null;
      if (isRefusal(error)) refused(error);
    }
  }

  function stop() {
    if (!running) return;
    const { session, abort, closers, timers } = running;
    timers.forEach(clearInterval);
    closers.forEach(close => close());
    abort.abort();
    hub.request(`/playground/sessions/${session.id}/end`, { method: 'POST', keepalive: true }).catch(() => { /* timed out by the hub later */ });
    render();
    running = null;
    $('status').textContent = 'stopped';
    $('status').className = 'status';
    $('start').disabled = false;
    $('stop').disabled = true;
  }

  function refused(error) {
    showRefusal(error, 'playground');
    $('start').disabled = true;
  }

  // On a protected hub a page without a usable ?token= would only fail at Start: ask once, up front, with a read
  // that needs a credential (the session itself needs the admin scope, and Start says so if that is what is missing).
  hub.request(`/v1/events?topic=${encodeURIComponent($('topic').value)}&after=latest&limit=1`)
    .catch(error => { if (isRefusal(error) && !running) refused(error); });

  stats.webhook_receipts = { received: 0, requests: 0, bytes: 0, empty: 0, latencies: [], seen: new Set() };
  reset();
  $('controls').addEventListener('submit', start);
  $('stop').addEventListener('click', stop);
  window.addEventListener('pagehide', stop);
})();
