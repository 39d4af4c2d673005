// What the hub's own pages (chat, dashboard, playground) need from the client: rooms that confirm sends, reconnecting
// on demand, a WebSocket keep-alive, other SSE endpoints, and refusals that end a subscription instead of retrying.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { Switchboard } from '../dist/client.js';
import { HUB, uniqueTopic, waitFor, record, fast, startProxy } from './helpers.mjs';

const SECURE = (process.env.SWITCHBOARD_SECURE_URL ?? '').replace(/\/+$/, '');
const skipSecure = !SECURE ? 'SWITCHBOARD_SECURE_URL not set' : false;

test('room: send over the WebSocket resolves with the seq the hub appended, and a refused send rejects with its code', async () => {
  const hub = new Switchboard(HUB, { ...fast, WebSocket, name: 'sender', cursorStore: null });
  const room = hub.join(uniqueTopic('chat'), { history: 10 });
  const events = [];
  room.on('event', e => events.push(e));
  await waitFor(() => room.connected, 10000, 'the room to open');
  const sent = await room.send({ text: 'hi' }, { type: 'chat.message' });
  assert.equal(typeof sent.seq, 'number');
  assert.equal(typeof sent.cursor, 'string');
  await waitFor(() => events.some(e => e.seq === sent.seq), 10000, 'the event back');
  await assert.rejects(room.send({ text: 'x' }, { type: 'switchboard.reserved' }), e => e.code.length > 0 && e.code !== 'connection-lost');
  room.leave();
});

test('reconnect(): skips the back-off wait, and failures counts the attempts since the last open', async () => {
  const proxy = await startProxy();
  proxy.state.ws = 'refuse';
  const hub = new Switchboard(proxy.url, { ...fast, WebSocket, backoff: { initial: 60_000, max: 60_000 }, upgradeRetry: { initial: 60_000, max: 60_000 }, cursorStore: null });
  const sub = hub.subscribe([uniqueTopic()], { transports: ['websocket'] });
  try {
    await waitFor(() => sub.failures >= 1 && sub.retryAt !== undefined, 10000, 'a refused attempt');
    assert.equal(sub.state, 'reconnecting');
    proxy.state.ws = 'pass';
    sub.reconnect();
    await waitFor(() => sub.state === 'open', 5000, 'open right after reconnect()');
    assert.equal(sub.failures, 0);
  } finally {
    sub.close();
    await proxy.close();
  }
});

test('websocket keep-alive: a connection gone silent misses its pong and is replaced, without losing events', async () => {
  const proxy = await startProxy();
  const topic = uniqueTopic();
  const hub = new Switchboard(proxy.url, { ...fast, WebSocket, wsPingInterval: 150, wsPongTimeout: 300, cursorStore: null });
  const sub = hub.subscribe([topic], { transports: ['websocket'], after: 'earliest' });
  const log = record(sub);
  try {
    await waitFor(() => sub.state === 'open', 10000, 'open');
    proxy.state.frozen = true;
    await waitFor(() => log.errors.some(e => e.code === 'websocket-no-pong'), 5000, 'the missing pong');
    proxy.state.frozen = false;
    const direct = new Switchboard(HUB, { cursorStore: null });
    const published = await direct.publish(topic, { n: 1 });
    await waitFor(() => log.events.length === 1, 10000, 'the event after the reconnection');
    assert.equal(log.events[0].seq, published.seq);
    assert.ok(log.opens.length >= 2, `reopened: ${log.opens}`);
  } finally {
    sub.close();
    await proxy.close();
  }
});

test('ssePath: follows another endpoint that speaks the stream, such as the dashboard snapshots', async () => {
  const hub = new Switchboard(HUB, { ...fast, cursorStore: null });
  const sub = hub.subscribe(['switchboard.monitoring'], { transports: ['sse'], ssePath: '/dashboard/stream', after: 'earliest' });
  try {
    for await (const event of sub) {
      assert.equal(event.type, 'switchboard.metrics.snapshot');
      assert.equal(sub.transport, 'sse');
      break;
    }
  } finally {
    sub.close();
  }
});

test('ssePath on a job stream: the subscription delivers the job and ends when the hub answers 204 after the final event', async () => {
  const post = async (path, body, expected) => {
    const response = await fetch(`${HUB}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(response.status, expected, `${path}: ${await response.clone().text()}`);
    return response.status === 204 ? undefined : response.json();
  };
  const type = `js${uniqueTopic('t').slice(2, 10)}`;
  const job = await post('/v1/jobs', { type, input: 1 }, 202);
  const claimed = await post(`/v1/queues/${type}/claim?wait=5`, {}, 200);
  await post(`/v1/jobs/${job.id}/complete`, { leaseId: claimed.leaseId, result: 2 }, 200);

  const hub = new Switchboard(HUB, { ...fast, cursorStore: null });
  const sub = hub.subscribe([`jobs.${job.id}`], { transports: ['sse'], ssePath: `/v1/jobs/${job.id}/stream`, after: 'earliest' });
  const log = record(sub);
  try {
    // The stream closes after job.succeeded; the reconnect from that cursor is the 204 that ends the subscription.
    await waitFor(() => sub.state === 'closed', 10000, 'the subscription to end');
    assert.deepEqual(log.events.map(e => e.type), ['job.queued', 'job.running', 'job.succeeded']);
    assert.equal(await sub.closed, undefined);
  } finally {
    sub.close();
  }
});

test('a room refused at the WebSocket handshake (a bad token) ends with 401 instead of retrying', { skip: skipSecure }, async () => {
  const hub = new Switchboard(SECURE, { ...fast, WebSocket, token: 'not-a-valid-token', cursorStore: null });
  const room = hub.join('chat.room1');
  const error = await room.subscription.closed;
  assert.ok(error);
  assert.equal(error.status, 401);
  assert.equal(error.fatal, true);
});

test('an expired JWT without getToken ends the subscription before any connection is made', async () => {
  let requests = 0;
  let sockets = 0;
  class Counting extends WebSocket {
    constructor(...args) {
      super(...args);
      sockets++;
    }
  }
  const b64 = v => Buffer.from(JSON.stringify(v)).toString('base64url');
  const expired = `${b64({ alg: 'HS256' })}.${b64({ sub: 'dave', exp: Math.floor(Date.now() / 1000) - 60 })}.c2ln`;
  const hub = new Switchboard(HUB, { ...fast, WebSocket: Counting, token: expired, cursorStore: null, fetch: (...a) => (requests++, fetch(...a)) });
  const sub = hub.subscribe([uniqueTopic()]);
  const error = await sub.closed;
  assert.equal(error.code, 'token-expired');
  assert.equal(error.status, 401);
  assert.equal(error.fatal, true);
  assert.equal(requests + sockets, 0);
});

test('request(): sends the credential, resolves 2xx, and rejects a refusal with its status and code', { skip: skipSecure }, async () => {
  const open = new Switchboard(HUB, { cursorStore: null });
  const health = await (await open.request('/v1/health')).json();
  assert.equal(typeof health.cursor, 'string');
  const anonymous = new Switchboard(SECURE, { cursorStore: null });
  await assert.rejects(anonymous.request('/v1/events?topic=orders.eu&after=latest'), e => e.status === 401 && e.code === 'unauthorized' && e.fatal);
  const keyed = new Switchboard(SECURE, { token: process.env.SWITCHBOARD_PUBLISH_KEY, cursorStore: null });
  const response = await keyed.request('/v1/topics/orders.eu/events', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"data":1}' });
  assert.equal(response.status, 201);
});
