// Peer-client test: SSE resume across server-initiated disconnects.
//
// Usage: node sse-resume.mjs <baseUrl> <topic> <count>
//
// Run by a .NET xunit test against a live Switchboard server whose maximum SSE
// stream duration is configured short, so the server closes the stream on its
// own several times during the run. A real, spec-following EventSource client
// (the npm `eventsource` package) must then reconnect by itself, sending the
// last `id:` it saw as `Last-Event-ID`, and the server must resume exactly after
// that cursor: every event once, in order, with no `switchboard.reset`.
//
// Meanwhile this script publishes `count` events (data.i = 0..count-1) over
// HTTP. It prints exactly one JSON line to stdout:
//   {"received":n,"opens":k,"duplicates":d,"outOfOrder":o,"missing":m,
//    "resets":r,"lastEventIds":[...],"errors":[...]}
// and exits 0 only if every check passed (see `passed` below), else 1
// (2 for bad usage). Diagnostics go to stderr.

import { EventSource } from 'eventsource';

const OVERALL_TIMEOUT_MS = Number(process.env.SSE_RESUME_TIMEOUT_MS ?? 30_000);
const PUBLISH_PACING_MS = 5; // load shaping only; nothing waits on it for correctness
const MAX_RECORDED = 5; // how many lastEventIds / error messages to keep in the report

const [baseArg, topic, countArg] = process.argv.slice(2);
const count = Number(countArg);
if (!baseArg || !topic || !Number.isInteger(count) || count < 1) {
  process.stderr.write('usage: node sse-resume.mjs <baseUrl> <topic> <count>\n');
  process.exit(2);
}
const baseUrl = baseArg.replace(/\/+$/, '');
const topicEnc = encodeURIComponent(topic);

// ---- state -----------------------------------------------------------------
let received = 0; // every `message` event delivered, duplicates included
let opens = 0; // every (re)connection that reached `open`
let duplicates = 0;
let outOfOrder = 0;
let resets = 0;
const lastEventIds = [];
const errors = []; // anything else that makes the run fail (first few kept)
let errorCount = 0;

let currentLastEventId = null; // what the client will send as Last-Event-ID next
const seenI = new Set();
let lastI = -1;
let lastSeq = -Infinity;

function fail(message) {
  errorCount++;
  if (errors.length < MAX_RECORDED) errors.push(message);
  process.stderr.write(`sse-resume: ${message}\n`);
}

// ---- finishing (exactly once, always bounded) --------------------------------
let finished = false;
const publishAbort = new AbortController();
const overallTimer = setTimeout(() => {
  fail(`timed out after ${OVERALL_TIMEOUT_MS} ms with ${seenI.size}/${count} distinct events`);
  finish();
}, OVERALL_TIMEOUT_MS);

function finish() {
  if (finished) return;
  finished = true;
  clearTimeout(overallTimer);
  es.close(); // also aborts the in-flight stream request
  publishAbort.abort();

  let missing = 0;
  for (let i = 0; i < count; i++) if (!seenI.has(i)) missing++;
  if (errorCount > errors.length) errors.push(`... and ${errorCount - errors.length} more`);

  const report = { received, opens, duplicates, outOfOrder, missing, resets, lastEventIds, errors };
  const passed =
    received === count &&
    duplicates === 0 &&
    outOfOrder === 0 &&
    missing === 0 &&
    resets === 0 &&
    opens >= 2 && // proves at least one reconnect actually happened
    errorCount === 0;

  // Exit explicitly once stdout is flushed: idle keep-alive sockets from fetch
  // must not hold the process open (or delay the .NET test) after we are done.
  process.stdout.write(JSON.stringify(report) + '\n', () => process.exit(passed ? 0 : 1));
}

// ---- subscriber --------------------------------------------------------------
const es = new EventSource(`${baseUrl}/v1/stream?topic=${topicEnc}&after=earliest`);
let publishStarted = false;

let reopened = null; // resolves at the first reconnect, so the publisher can hold the second half for it
const firstReconnect = new Promise((resolve) => (reopened = resolve));

es.addEventListener('open', () => {
  opens++;
  if (opens >= 2) reopened();
  process.stderr.write(`sse-resume: open #${opens} (Last-Event-ID sent: ${JSON.stringify(currentLastEventId)})\n`);
  // Publish once the first subscription is in place, so events arrive both live
  // and (after each server-side close) via Last-Event-ID resume.
  if (!publishStarted) {
    publishStarted = true;
    publish().catch((err) => {
      if (!publishAbort.signal.aborted) fail(`publisher crashed: ${err?.message ?? err}`);
    });
  }
});

es.addEventListener('error', (ev) => {
  // After a server-side close the client fires `error` and reconnects by itself
  // (readyState CONNECTING): expected. CLOSED means it gave up for good
  // (non-200 status, wrong content type): nothing more can arrive, stop now.
  if (finished) return;
  if (es.readyState === EventSource.CLOSED) {
    fail(`stream failed permanently: ${ev?.message ?? 'unknown'} (code ${ev?.code ?? 'n/a'})`);
    finish();
  } else {
    process.stderr.write(`sse-resume: disconnected, reconnecting (${ev?.message ?? 'stream ended'})\n`);
  }
});

// A reset means the server could not resume from our cursor and events may
// have been skipped: always a failure for this test. Stop early (bounded fast failure).
es.addEventListener('switchboard.reset', (ev) => {
  resets++;
  fail(`switchboard.reset received: ${ev.data}`);
  finish();
});

// Events carry no `event:` field, so they arrive as plain `message` events.
es.onmessage = (ev) => {
  if (finished) return;
  received++;
  currentLastEventId = ev.lastEventId;
  if (lastEventIds.length < MAX_RECORDED) lastEventIds.push(ev.lastEventId);

  let evt;
  try {
    evt = JSON.parse(ev.data);
  } catch {
    fail(`message ${received} is not JSON: ${String(ev.data).slice(0, 200)}`);
    return;
  }
  const i = evt?.data?.i;
  const seq = evt?.seq;
  if (!Number.isInteger(i) || !Number.isInteger(seq) || evt.topic !== topic || evt.type !== 'test') {
    fail(`message ${received} malformed: ${String(ev.data).slice(0, 200)}`);
    return;
  }

  if (seenI.has(i)) {
    duplicates++;
    process.stderr.write(`sse-resume: duplicate i=${i} seq=${seq} id=${ev.lastEventId}\n`);
  } else {
    // In order means: data.i goes 0,1,2,... with no gaps, and seq strictly increases.
    if (i !== lastI + 1 || seq <= lastSeq || i >= count) {
      outOfOrder++;
      process.stderr.write(`sse-resume: out of order i=${i} (expected ${lastI + 1}) seq=${seq} (prev ${lastSeq})\n`);
    }
    seenI.add(i);
    lastI = Math.max(lastI, i);
    lastSeq = Math.max(lastSeq, seq);
  }

  if (seenI.size >= count) finish();
};

// ---- publisher ---------------------------------------------------------------
// The second half waits for the first server-side close and reconnect: on a fast machine all events could
// otherwise arrive within one stream, and the resume would go untested (opens >= 2 would then fail the run).
async function publish() {
  const url = `${baseUrl}/v1/topics/${topicEnc}/events`;
  for (let i = 0; i < count && !finished; i++) {
    if (i === Math.ceil(count / 2)) await firstReconnect;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'test', data: { i } }),
      signal: publishAbort.signal,
    });
    await res.arrayBuffer(); // drain so the connection can be reused
    if (res.status !== 201) fail(`publish i=${i} returned ${res.status}, expected 201`);
    await new Promise((resolve) => setTimeout(resolve, PUBLISH_PACING_MS));
  }
}
