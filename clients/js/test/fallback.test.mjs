// Transport fallback through a proxy that refuses WebSocket upgrades and refuses or buffers SSE.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { Switchboard } from '../dist/client.js';
import { HUB, uniqueTopic, waitFor, publishBatch, startProxy, record, fast } from './helpers.mjs';

test('auto: WebSocket refused -> SSE; SSE refused too -> long poll; WebSocket back -> returns to it; nothing lost or repeated', async () => {
  const proxy = await startProxy();
  try {
    const topic = uniqueTopic();
    proxy.state.ws = 'refuse';
    const hub = new Switchboard(proxy.url, { ...fast, WebSocket, cursorStore: null });
    const sub = hub.subscribe([topic], { after: 'earliest' });
    const log = record(sub);
    await waitFor(() => sub.state === 'open', 10000, 'open');
    assert.equal(sub.transport, 'sse');
    assert.ok(proxy.state.refusedUpgrades >= 1);
    const a = await publishBatch(topic, [1, 2, 3]);
    await waitFor(() => log.events.length === 3, 10000, 'events over SSE');

    proxy.state.sse = 'refuse';
    proxy.dropAll();
    await waitFor(() => sub.transport === 'long-poll' && sub.state === 'open', 10000, 'long poll');
    const b = await publishBatch(topic, [4, 5]);
    await waitFor(() => log.events.length === 5, 10000, 'events over long poll');

    proxy.state.ws = 'pass';
    await waitFor(() => sub.transport === 'websocket' && sub.state === 'open', 15000, 'back on WebSocket');
    const c = await publishBatch(topic, [6]);
    await waitFor(() => log.events.length === 6, 10000, 'events over WebSocket');

    assert.deepEqual(log.events.map(e => e.seq), [...a, ...b, ...c].map(e => e.seq));
    assert.deepEqual(log.opens.filter((t, i, all) => i === 0 || all[i - 1] !== t), ['sse', 'long-poll', 'websocket']);
    sub.close();
  } finally {
    await proxy.close();
  }
});

test('auto: while the hub is down (connections refused), WebSocket is retried with back-off, not given up for SSE', async () => {
  // A WebSocket that cannot connect looks the same as a refused upgrade; only an HTTP request tells them apart. A hub
  // that restarts must not strand the subscription on SSE until the next upgrade try.
  const proxy = await startProxy();
  try {
    const topic = uniqueTopic();
    const hub = new Switchboard(proxy.url, { ...fast, WebSocket, cursorStore: null });
    const sub = hub.subscribe([topic], { after: 'earliest' });
    const log = record(sub);
    await waitFor(() => sub.state === 'open', 10000, 'open');
    assert.equal(sub.transport, 'websocket');
    const a = await publishBatch(topic, [1, 2]);
    await waitFor(() => log.events.length === 2, 10000, 'events before the outage');

    await proxy.offline();
    await waitFor(() => log.errors.filter(e => e.code === 'websocket-refused').length >= 3, 15000, 'WebSocket retried while the hub is down');
    assert.deepEqual(log.transports, [], `switched transport while the hub was down: ${log.transports.join(',')}`);
    const b = await publishBatch(topic, [3, 4, 5]);
    await proxy.online();

    await waitFor(() => log.events.length === 5, 15000, 'events after the outage');
    assert.equal(sub.transport, 'websocket');
    assert.deepEqual(log.transports, []);
    assert.deepEqual([...new Set(log.opens)], ['websocket']);
    assert.deepEqual(log.events.map(e => e.seq), [...a, ...b].map(e => e.seq));
    assert.deepEqual(log.resets, []);
    sub.close();
  } finally {
    await proxy.close();
  }
});

test('auto: a buffered SSE response (no retry: line in time) falls back to long polling', async () => {
  const proxy = await startProxy();
  try {
    const topic = uniqueTopic();
    proxy.state.ws = 'refuse';
    proxy.state.sse = 'buffer';
    const hub = new Switchboard(proxy.url, { ...fast, WebSocket, cursorStore: null, upgradeRetry: { initial: 60000 } });
    const sub = hub.subscribe([topic], { after: 'earliest' });
    const log = record(sub);
    await waitFor(() => sub.state === 'open', 15000, 'open');
    assert.equal(sub.transport, 'long-poll');
    assert.ok(log.errors.some(e => e.code === 'sse-buffered'), log.errors.map(String).join('\n'));
    const a = await publishBatch(topic, [1, 2]);
    await waitFor(() => log.events.length === 2, 10000, 'events');
    assert.deepEqual(log.events.map(e => e.seq), a.map(e => e.seq));
    sub.close();
  } finally {
    await proxy.close();
  }
});

test('1,000 events while forcing at least 10 transport switches and 10 disconnects: 0 gaps, 0 duplicates, in order', async () => {
  const proxy = await startProxy();
  try {
    const topic = uniqueTopic();
    const hub = new Switchboard(proxy.url, { ...fast, WebSocket, cursorStore: null, upgradeRetry: { initial: 100, max: 100 } });
    const sub = hub.subscribe([topic], { after: 'earliest' });
    const log = record(sub);
    await waitFor(() => sub.state === 'open', 10000, 'open');
    const modes = [
      { ws: 'refuse', sse: 'pass', expect: 'sse' },
      { ws: 'refuse', sse: 'refuse', expect: 'long-poll' },
      { ws: 'pass', sse: 'pass', expect: 'websocket' },
    ];
    const published = [];
    let disconnects = 0;
    for (let round = 0; round < 20; round++) {
      published.push(...(await publishBatch(topic, Array.from({ length: 50 }, (_, i) => round * 50 + i))));
      const { expect, ...mode } = modes[round % modes.length];
      Object.assign(proxy.state, mode);
      proxy.dropAll();
      disconnects++;
      const opensBefore = log.opens.length;
      // Wait until the subscription is back on the best transport the proxy now allows (a fallback, or
      // the timed return to a better one) before the next round.
      await waitFor(() => log.opens.length > opensBefore && sub.state === 'open' && sub.transport === expect, 15000, `${expect} in round ${round}`);
    }
    Object.assign(proxy.state, { ws: 'pass', sse: 'pass' });
    await waitFor(() => log.events.length >= 1000, 30000, `1000 events (have ${log.events.length})`);
    const seqs = log.events.map(e => e.seq);
    assert.equal(seqs.length, 1000);
    assert.deepEqual(seqs, published.map(e => e.seq), 'every event once, in order');
    for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1]);
    const switches = log.opens.filter((t, i, all) => i > 0 && all[i - 1] !== t).length;
    assert.ok(switches >= 10, `switches: ${switches} (${log.opens.join(',')})`);
    assert.ok(disconnects >= 10);
    assert.ok(new Set(log.opens).size >= 3, log.opens.join(','));
    sub.close();
  } finally {
    await proxy.close();
  }
});

test('a short-poll subscription survives dropped connections and honours Retry-After from a busy hub', async () => {
  // A tiny hub stand-in that says 503 + Retry-After once, then forwards to the proxy.
  const proxy = await startProxy();
  try {
    const topic = uniqueTopic();
    let refusals = 0;
    const refusedAt = [];
    const busyFetch = async (url, init) => {
      if (refusals < 2 && String(url).includes('/v1/events?')) {
        refusals++;
        refusedAt.push(Date.now());
        return new Response(JSON.stringify({ status: 503, code: 'server-busy', detail: 'busy' }), {
          status: 503,
          headers: { 'Content-Type': 'application/problem+json', 'Retry-After': '1' },
        });
      }
      return fetch(url, init);
    };
    const hub = new Switchboard(proxy.url, { ...fast, fetch: busyFetch, transports: ['poll'], cursorStore: null });
    const start = Date.now();
    const sub = hub.subscribe([topic], { after: 'earliest' });
    const log = record(sub);
    await waitFor(() => sub.state === 'open', 10000, 'open');
    assert.equal(refusals, 2);
    assert.ok(Date.now() - start >= 1900, `waited ${Date.now() - start} ms for two Retry-After: 1`);
    const a = await publishBatch(topic, [1, 2]);
    await waitFor(() => log.events.length === 2, 10000, 'events');
    proxy.dropAll();
    const b = await publishBatch(topic, [3]);
    await waitFor(() => log.events.length === 3, 10000, 'events after a drop');
    assert.deepEqual(log.events.map(e => e.seq), [...a, ...b].map(e => e.seq));
    sub.close();
  } finally {
    await proxy.close();
  }
});

test('"Retry-After: 0" from a busy hub is a floor under the back-off, not a tight loop', async () => {
  const proxy = await startProxy();
  try {
    const topic = uniqueTopic();
    let busy = true;
    let refusals = 0;
    const busyFetch = async (url, init) => {
      if (busy && String(url).includes('/v1/events?')) {
        refusals++;
        return new Response(JSON.stringify({ status: 503, code: 'server-busy', detail: 'busy' }), {
          status: 503,
          headers: { 'Content-Type': 'application/problem+json', 'Retry-After': '0' },
        });
      }
      return fetch(url, init);
    };
    const hub = new Switchboard(proxy.url, { ...fast, fetch: busyFetch, transports: ['poll'], cursorStore: null });
    const sub = hub.subscribe([topic], { after: 'earliest' });
    const log = record(sub);
    await waitFor(() => refusals >= 3, 10000, 'a few refused polls');
    const start = Date.now();
    const before = refusals;
    await waitFor(() => Date.now() - start >= 1000, 5000, 'one second of refusals');
    // The back-off here is 20 ms growing to 200 ms with full jitter: a few dozen polls a second at most.
    assert.ok(refusals - before < 100, `${refusals - before} polls in one second against Retry-After: 0`);
    busy = false;
    const a = await publishBatch(topic, [1, 2]);
    await waitFor(() => log.events.length === 2, 10000, 'events once the hub is not busy');
    assert.deepEqual(log.events.map(e => e.seq), a.map(e => e.seq));
    sub.close();
  } finally {
    await proxy.close();
  }
});

test('a 410 that is not the hub\'s (no cursor in a problem) is not reported as a reset and replays nothing', async () => {
  const topic = uniqueTopic();
  const a = await publishBatch(topic, [1, 2, 3]);
  const page = await (await fetch(`${HUB}/v1/events?topic=${encodeURIComponent(topic)}&after=earliest&limit=2`)).json();
  let gone = 0;
  // A proxy (or a moved page) answering 410 Gone in plain text: it says nothing about the hub's log.
  const goneFetch = async (url, init) => {
    if (gone < 2 && String(url).includes('/v1/events?')) {
      gone++;
      return new Response('Gone', { status: 410, headers: { 'Content-Type': 'text/plain' } });
    }
    return fetch(url, init);
  };
  const hub = new Switchboard(HUB, { ...fast, fetch: goneFetch, transports: ['poll'], cursorStore: null });
  const sub = hub.subscribe([topic], { after: page.cursor });
  const log = record(sub);
  await waitFor(() => log.events.length >= 1, 10000, 'the event after the cursor');
  const b = await publishBatch(topic, [4]);
  await waitFor(() => log.events.length >= 2, 10000, 'a live event');
  assert.equal(gone, 2);
  assert.deepEqual(log.resets, []);
  assert.deepEqual(log.events.map(e => e.seq), [a[2].seq, b[0].seq]);
  sub.close();
});

test('long-poll: a poll that is never answered (a dead connection) is abandoned and retried, so events still arrive', async () => {
  const proxy = await startProxy();
  try {
    const topic = uniqueTopic();
    const hub = new Switchboard(proxy.url, { ...fast, longPollWait: 1, pollTimeout: 1000, transports: ['long-poll'], cursorStore: null });
    const sub = hub.subscribe([topic], { after: 'earliest' });
    const log = record(sub);
    await waitFor(() => sub.state === 'open', 10000, 'open');
    proxy.state.blackhole = true;
    await waitFor(() => proxy.state.blackholed >= 1, 10000, 'a poll lost in the dead network');
    proxy.state.blackhole = false;
    const a = await publishBatch(topic, [1, 2]);
    await waitFor(() => log.events.length === 2, 10000, 'events after the lost poll');
    assert.ok(log.errors.some(e => e.code === 'poll-timeout'), log.errors.map(String).join('\n'));
    assert.deepEqual(log.events.map(e => e.seq), a.map(e => e.seq));
    sub.close();
  } finally {
    await proxy.close();
  }
});
