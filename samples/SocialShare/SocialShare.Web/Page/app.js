// SocialShare page: submits jobs and follows each one by polling or by streaming. Plain JS, no framework; the
// stream is the hub's own JavaScript client, served by the hub at /v1/client.js and forwarded here as /client.js.
import { Switchboard } from '/client.js';

// The page and its API are on one origin (this app forwards to the hub), so the client talks to this origin.
// Job streams need no cursor store: each starts at the job's first event.
const hub = new Switchboard(location.origin, { transports: ['sse'], cursorStore: null });

const counts = { requests: 0, polls: 0, unchanged: 0, connections: 0, events: 0 };
const finalStatuses = new Set(['succeeded', 'failed', 'canceled']);

function count(name) {
  counts[name]++;
  if (name === 'polls' || name === 'connections') counts.requests++;
  for (const key of Object.keys(counts)) document.getElementById(key).textContent = counts[key];
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// One card per job; update() takes the job resource (or the data of a job event).
function card(job, mode) {
  const root = el('div', 'job');
  root.dataset.id = job.id;
  const header = el('header');
  const status = el('span', 'status');
  const bar = el('progress');
  bar.max = 100;
  const meta = el('span', 'meta');
  header.append(el('b', null, job.type), el('code', null, job.id), status, bar, meta);
  const error = el('div', 'error');
  const result = el('div', 'meta result');
  const text = el('div', 'text');
  root.append(header, error, result, text);
  document.getElementById('jobs').prepend(root);
  let requests = 0;
  const last = {};
  return {
    text,
    request() { requests++; },
    update(change) {
      const j = Object.assign(last, change); // output events carry only part of the job
      status.textContent = j.status;
      status.className = 'status ' + j.status;
      root.dataset.status = j.status;
      if (typeof j.progress === 'number') bar.value = j.progress;
      if (j.status === 'succeeded') bar.value = 100;
      meta.textContent = `attempt ${j.attempts ?? '?'} of ${j.maxAttempts ?? '?'} · ${mode} · ${requests} request(s)`;
      error.textContent = j.error ? 'last error: ' + (j.error.detail || j.error.title || JSON.stringify(j.error)) : '';
      if (j.result) {
        result.textContent = j.result.url ? `posted: ${j.result.url}` : `${j.result.words} words`;
        if (j.result.text && mode === 'poll') text.textContent = j.result.text;
      }
    },
  };
}

async function submit(type, input) {
  const response = await fetch('/api/jobs', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ type, input }),
  });
  count('requests');
  if (!response.ok) { alert(`Submit failed: ${response.status} ${await response.text()}`); return; }
  const job = await response.json();
  const mode = document.querySelector('input[name=mode]:checked').value;
  const view = card(job, mode);
  view.update(job);
  if (mode === 'poll') poll(job.id, view); else stream(job.id, view);
}

// Polling: one GET a second, with If-None-Match so an unchanged job costs a 304.
function poll(id, view) {
  let etag = null;
  const timer = setInterval(async () => {
    const headers = etag ? { 'If-None-Match': etag } : {};
    count('polls'); view.request();
    try {
      const response = await fetch(`/api/jobs/${encodeURIComponent(id)}`, { headers, cache: 'no-store' });
      if (response.status === 304) { count('unchanged'); return; }
      if (!response.ok) return;
      etag = response.headers.get('ETag');
      const job = await response.json();
      view.update(job);
      if (finalStatuses.has(job.status)) clearInterval(timer);
    } catch { /* the hub is restarting; try again next second */ }
  }, 1000);
}

// Streaming: the client follows the job's stream and resumes it from the last event if the connection drops, so a
// reconnect neither loses nor repeats output. The stream ends at the final event, and so does the subscription.
function stream(id, view) {
  const topic = `jobs.${id}`;
  const sub = hub.subscribe([topic], { after: 'earliest', ssePath: `/api/jobs/${encodeURIComponent(id)}/stream` }, (event) => {
    count('events');
    const job = event.data;
    if (event.type === 'job.running') view.text.textContent = ''; // a new attempt writes from the start
    if (event.type === 'job.output') view.text.textContent += job.output;
    view.update(job);
    if (finalStatuses.has(job.status)) sub.close();
  });
  sub.on('state', (state) => { if (state === 'open') { count('connections'); view.request(); } });
  sub.on('error', (error) => { if (error.fatal) view.update({ error: { detail: error.message } }); });
}

document.getElementById('share').addEventListener('submit', (e) => {
  e.preventDefault();
  submit('share', { text: document.getElementById('share-text').value, network: document.getElementById('share-network').value });
});
document.getElementById('write').addEventListener('submit', (e) => {
  e.preventDefault();
  submit('write', { prompt: document.getElementById('write-prompt').value, words: Number(document.getElementById('write-words').value) });
});
