// The dashboard: the hub's JS client follows the snapshot stream over SSE; charts over the last five minutes, and tables
// from the newest snapshot. The client reconnects and resumes from the last cursor, so a dropped connection loses nothing;
// a refusal (a protected hub, no admin ?token=) ends it, and the page says how to get in.
import { Switchboard } from '../v1/client.js';
import { pageToken, isRefusal, showRefusal } from './access.js';

(() => {
  const meta = name => document.querySelector(`meta[name="${name}"]`).content;
  const WINDOW_MS = 5 * 60 * 1000;
  const TRANSPORTS = [
    ['sse', 'SSE'], ['websocket', 'WebSocket'], ['long_poll', 'Long poll'], ['short_poll', 'Short poll'], ['webhook', 'Webhook'],
  ];
  const color = name => getComputedStyle(document.documentElement).getPropertyValue('--' + name).trim();
  const { draw, legend, format } = window.SwitchboardCharts;
  const snapshots = []; // [timeMs, data], oldest first, at most five minutes
  const $ = id => document.getElementById(id);

  function text(id, value) { $(id).textContent = value; }

  function ms(value) { return value == null ? '–' : `${value < 10 ? value.toFixed(2) : Math.round(value)} ms`; }

  function add(data) {
    const t = Date.parse(data.time);
    if (snapshots.length > 0 && t <= snapshots[snapshots.length - 1][0]) return; // a replay after a reset
    snapshots.push([t, data]);
    while (snapshots.length > 0 && snapshots[0][0] < t - WINDOW_MS) snapshots.shift();
  }

  function render() {
    if (snapshots.length === 0) return;
    const [now, latest] = snapshots[snapshots.length - 1];
    const window = [now - WINDOW_MS, now];
    const c = latest.connections;
    text('connections-total', c.sse + c.websocket + c.long_poll);
    text('connections-detail', `SSE ${c.sse} · WebSocket ${c.websocket} · long poll ${c.long_poll}`);
    text('publish-rate', format(latest.published.rate));
    text('delivery-rate', format(latest.delivered.rate));
    text('published-total', latest.published.total);
    text('delivered-total', latest.delivered.total);
    text('catch-up-rate', format(latest.delivered.catchUpRate ?? 0));
    text('catch-up-total', `events/s read from history · ${latest.delivered.catchUp ?? 0} since start`);
    const w = latest.webhooks;
    text('webhook-attempts', w.success + w.httpError + w.noResponse);
    text('webhook-attempts-detail', `${w.success} ok · ${w.httpError} http error · ${w.noResponse} no response`);
    text('append-p50', ms(latest.store.appendP50));
    text('append-p99', `p50 · p99 ${ms(latest.store.appendP99)}`);
    text('updated', `updated ${new Date(now).toLocaleTimeString()}`);

    const connections = [['sse', 'SSE'], ['websocket', 'WebSocket'], ['long_poll', 'Long poll']]
      .map(([key, name]) => ({ name, color: color(key), points: snapshots.map(([t, d]) => [t, d.connections[key]]) }));
    draw($('chart-connections'), connections, window);
    legend($('legend-connections'), connections);

    const rates = [
      { name: 'published', color: color('accent'), points: snapshots.map(([t, d]) => [t, d.published.rate]) },
      { name: 'delivered', color: color('good'), points: snapshots.map(([t, d]) => [t, d.delivered.rate]) },
    ];
    draw($('chart-rates'), rates, window);
    legend($('legend-rates'), rates);

    const latency = [];
    for (const [key, name] of TRANSPORTS) {
      latency.push({ name: `${name} p99`, color: color(key), points: snapshots.map(([t, d]) => [t, d.transports[key].p99]) });
      latency.push({ name: `${name} p50`, color: color(key), dashed: true, points: snapshots.map(([t, d]) => [t, d.transports[key].p50]) });
    }
    draw($('chart-latency'), latency, window);
    legend($('legend-latency'), latency.filter((_, i) => i % 2 === 0).map(s => ({ ...s, name: s.name.replace(' p99', '') })));

    rows('topics', latest.topics, t => [t.topic, num(format(t.rate)), num(t.total)], 'no traffic yet');
    rows('jobs', latest.jobs.queues, q => [q.queue, num(q.depth)], 'no jobs waiting');
    text('jobs-summary', `${latest.jobs.queued} queued · ${latest.jobs.running} running`);
    rows('webhooks', w.endpoints, e => [
      `${e.id} ${e.url}`, pill(e.status), pill(e.circuit ?? '–'),
      num(e.successRate == null ? '–' : `${(e.successRate * 100).toFixed(1)}%`), num(e.pending), num(e.delivered), errorCell(e.lastError),
    ], 'no webhook endpoints');
  }

  function num(value) { const td = document.createElement('td'); td.className = 'num'; td.textContent = value; return td; }
  function pill(value) { const td = document.createElement('td'); const s = document.createElement('span'); s.className = `pill ${value}`; s.textContent = value; td.appendChild(s); return td; }
  function errorCell(value) { const td = document.createElement('td'); td.className = 'error'; td.textContent = value ?? ''; td.title = value ?? ''; return td; }

  function rows(id, items, cells, emptyText) {
    const body = document.querySelector(`#${id} tbody`);
    body.textContent = '';
    if (items.length === 0) {
      const tr = body.insertRow();
      const td = tr.insertCell();
      td.colSpan = 8;
      td.className = 'empty';
      td.textContent = emptyText;
      return;
    }
    for (const item of items) {
      const tr = body.insertRow();
      for (const cell of cells(item)) {
        if (cell instanceof Node) tr.appendChild(cell); else tr.insertCell().textContent = cell;
      }
    }
  }

  // First connect: the retained snapshots (five minutes) fill the charts at once; afterwards the client resumes from
  // its cursor. On a protected hub, open the page as /dashboard?token=<admin key>.
  const hub = new Switchboard(location.origin + meta('switchboard-base'), { token: pageToken(), cursorStore: null, transports: ['sse'] });
  const subscription = hub.subscribe(['switchboard.monitoring'], { after: 'earliest', ssePath: '/dashboard/stream' });
  const status = $('status');
  let pending = false;
  subscription.on('state', state => {
    if (state === 'open') { status.textContent = 'live'; status.className = 'status live'; }
    else if (state === 'reconnecting') { status.textContent = 'reconnecting…'; status.className = 'status down'; }
  });
  subscription.on('event', event => {
    if (event.type !== 'switchboard.metrics.snapshot') return;
    add(event.data);
    // A burst of history arrives at once on first connect: draw once per frame, not once per snapshot.
    if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; render(); }); }
  });
  subscription.on('reset', () => { snapshots.length = 0; });
  subscription.on('error', () => { /* shown through the state; a refusal ends the subscription below */ });
  subscription.closed.then(error => {
    if (isRefusal(error)) showRefusal(error, 'dashboard');
    else if (error) { status.textContent = `stopped: ${error.message}`; status.className = 'status down'; }
  });
})();
