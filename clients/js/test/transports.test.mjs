// Subscribe, receive and resume over each transport against a real hub.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { Switchboard, SwitchboardError } from '../dist/client.js';
import { HUB, uniqueTopic, waitFor, publishBatch, readAll, record, fast } from './helpers.mjs';

for (const transport of ['websocket', 'sse', 'long-poll', 'poll']) {
  test(`${transport}: receives live events in order, then resumes from its cursor with no gap and no duplicate`, async () => {
    const topic = uniqueTopic();
    const hub = new Switchboard(HUB, { ...fast, WebSocket, transports: [transport], cursorStore: null });

    const first = hub.subscribe([topic], { after: 'latest' });
    const log = record(first);
    await waitFor(() => first.state === 'open', 10000, `${transport} open`);
    assert.equal(first.transport, transport);
    const published = await publishBatch(topic, [1, 2, 3, 4, 5]);
    await waitFor(() => log.events.length >= 5, 10000, '5 events');
    assert.deepEqual(log.events.map(e => e.seq), published.map(e => e.seq));
    assert.deepEqual(log.events.map(e => e.data), [1, 2, 3, 4, 5]);
    assert.equal(log.events[0].topic, topic);
    assert.equal(log.events[0].type, 'test');
    const cursor = first.cursor;
    first.close();
    await first.closed;

    // Published while nobody listens; a new subscription from the cursor gets exactly these.
    const missed = await publishBatch(topic, [6, 7, 8]);
    const second = hub.subscribe([topic], { after: cursor });
    const log2 = record(second);
    await waitFor(() => log2.events.length >= 3, 10000, 'the 3 missed events');
    const more = await publishBatch(topic, [9]);
    await waitFor(() => log2.events.length >= 4, 10000, 'one more live event');
    assert.deepEqual(log2.events.map(e => e.seq), [...missed, ...more].map(e => e.seq));
    assert.equal(log2.errors.length, 0, log2.errors.map(String).join('\n'));
    second.close();

    // The last cursor is the hub's own cursor after the last event.
    const stored = await readAll(topic);
    assert.equal(stored.length, 9);
  });
}

test('after: earliest delivers the history first, and the async iterator yields the same events', async () => {
  const topic = uniqueTopic();
  const published = await publishBatch(topic, ['a', 'b', 'c']);
  const hub = new Switchboard(HUB, { ...fast, WebSocket, cursorStore: null });
  const seen = [];
  const sub = hub.subscribe([topic], { after: 'earliest' });
  for await (const event of sub) {
    seen.push(event);
    if (seen.length === 3) break; // break closes the subscription
  }
  assert.deepEqual(seen.map(e => e.seq), published.map(e => e.seq));
  assert.equal(sub.state, 'closed');
});

test('a cursor store persists the cursor under the key and a new subscription resumes from it', async () => {
  const topic = uniqueTopic();
  const map = new Map();
  const cursorStore = { get: k => map.get(k), set: (k, v) => void map.set(k, v) };
  const hub = new Switchboard(HUB, { ...fast, WebSocket, cursorStore, transports: ['sse'] });
  const sub = hub.subscribe([topic], { key: 'feed' });
  const log = record(sub);
  await waitFor(() => sub.state === 'open');
  await publishBatch(topic, [1, 2]);
  await waitFor(() => log.events.length === 2);
  sub.close();
  assert.equal(map.get('feed'), log.events[1].cursor);

  const later = await publishBatch(topic, [3]);
  const again = hub.subscribe([topic], { key: 'feed', after: 'earliest' }); // the stored cursor wins
  const log2 = record(again);
  await waitFor(() => log2.events.length === 1);
  assert.deepEqual(log2.events.map(e => e.seq), later.map(e => e.seq));
  again.close();
});

test('publish: a given idempotency key appends once, a generated key differs per publish', async () => {
  const topic = uniqueTopic();
  const hub = new Switchboard(HUB, { ...fast, cursorStore: null });
  const a = await hub.publish(topic, { id: 1 }, { type: 'order.created', idempotencyKey: `k-${topic}` });
  const b = await hub.publish(topic, { id: 1 }, { type: 'order.created', idempotencyKey: `k-${topic}` });
  assert.equal(a.seq, b.seq);
  const c = await hub.publish(topic, { id: 2 });
  assert.notEqual(c.seq, a.seq);
  const stored = await readAll(topic);
  assert.deepEqual(stored.map(e => e.data), [{ id: 1 }, { id: 2 }]);
  assert.equal(stored[0].type, 'order.created');
  assert.equal(stored[1].type, 'message');
});

test('publish to a hub that stays unreachable rejects with a SwitchboardError network-error after its attempts', async () => {
  let calls = 0;
  const downFetch = async () => {
    calls++;
    throw new TypeError('fetch failed (connection refused)');
  };
  const hub = new Switchboard(HUB, { ...fast, fetch: downFetch, cursorStore: null });
  await assert.rejects(hub.publish(uniqueTopic(), 'never', { attempts: 3 }), error => {
    assert.ok(error instanceof SwitchboardError, `not a SwitchboardError: ${error}`);
    assert.equal(error.code, 'network-error');
    assert.match(error.message, /connection refused/);
    return true;
  });
  assert.equal(calls, 3);
});

test('publish retries through a dropped connection with the same key and appends exactly once', async () => {
  const topic = uniqueTopic();
  let calls = 0;
  // The first attempt reaches the hub, but its answer is "lost" (as if the connection dropped after the append).
  const flakyFetch = async (url, init) => {
    calls++;
    const response = await fetch(url, init);
    if (calls === 1) {
      await response.text();
      throw new TypeError('fetch failed (simulated drop)');
    }
    return response;
  };
  const hub = new Switchboard(HUB, { ...fast, fetch: flakyFetch, cursorStore: null });
  const event = await hub.publish(topic, 'once');
  assert.equal(calls, 2);
  const stored = await readAll(topic);
  assert.equal(stored.length, 1);
  assert.equal(stored[0].seq, event.seq);
});

test('presence: join sees members, join and leave of another member, and room messages', async () => {
  const room = `chat.${uniqueTopic('room').split('.')[1]}`;
  const alice = new Switchboard(HUB, { ...fast, WebSocket, name: 'alice', cursorStore: null }).join(room, { history: 10 });
  await waitFor(() => alice.members.includes('alice'), 10000, 'alice in the member list');
  const joins = [];
  const leaves = [];
  const messages = [];
  alice.on('join', name => joins.push(name));
  alice.on('leave', name => leaves.push(name));
  alice.on('event', e => messages.push(e));
  const bob = new Switchboard(HUB, { ...fast, WebSocket, name: 'bob', cursorStore: null }).join(room);
  await waitFor(() => joins.includes('bob'), 10000, 'bob joins');
  assert.deepEqual([...alice.members].sort(), ['alice', 'bob']);
  await waitFor(() => bob.subscription.state === 'open');
  await bob.send({ text: 'hi' }, { type: 'chat.message' });
  await waitFor(() => messages.length === 1, 10000, 'the message');
  assert.deepEqual(messages[0].data, { text: 'hi' });
  assert.equal(messages[0].type, 'chat.message');
  bob.leave();
  await waitFor(() => leaves.includes('bob'), 10000, 'bob leaves');
  assert.deepEqual(alice.members, ['alice']);
  alice.leave();
});

test('an invalid pattern ends the subscription with a clear error instead of retrying', async () => {
  const hub = new Switchboard(HUB, { ...fast, WebSocket, transports: ['long-poll'], cursorStore: null });
  const sub = hub.subscribe(['orders.e*']);
  const error = await sub.closed;
  assert.ok(error, 'an error');
  assert.equal(error.code, 'invalid-pattern');
  assert.equal(error.fatal, true);
  assert.equal(sub.state, 'closed');
});
