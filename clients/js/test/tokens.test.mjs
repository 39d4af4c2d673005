// Tokens against a protected hub (HS256 subscriber tokens): refresh through getToken, refusals end the subscription.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import WebSocket from 'ws';
import { Switchboard, tokenExpiry } from '../dist/client.js';
import { uniqueTopic, waitFor, record, fast } from './helpers.mjs';

const SECURE = (process.env.SWITCHBOARD_SECURE_URL ?? '').replace(/\/+$/, '');
const SECRET = process.env.SWITCHBOARD_JWT_SECRET ?? '';
const PUBLISH_KEY = process.env.SWITCHBOARD_PUBLISH_KEY ?? '';
const skip = !SECURE || !SECRET ? 'SWITCHBOARD_SECURE_URL / SWITCHBOARD_JWT_SECRET not set' : false;

const b64 = value => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** An HS256 subscriber token, as SubscriberTokens.Create makes them. */
function token({ sub = 'js-test', subscribe = [], publish = [], presence, lifetimeMs = 3600_000 }) {
  const now = Math.floor(Date.now() / 1000);
  const grants = { subscribe, publish };
  if (presence) grants.presence = presence;
  const exp = Math.floor((Date.now() + lifetimeMs) / 1000);
  // A token that is already expired (a negative lifetime) was valid once: nbf and iat before its exp.
  const payload = { sub, switchboard: grants, iat: Math.min(now, exp - 60), nbf: Math.min(now - 1, exp - 60), exp };
  const unsigned = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(payload)}`;
  return `${unsigned}.${createHmac('sha256', Buffer.from(SECRET, 'utf8')).update(unsigned).digest('base64url')}`;
}

async function publish(topic, data) {
  const response = await fetch(`${SECURE}/v1/topics/${topic}/events`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${PUBLISH_KEY}` },
    body: JSON.stringify({ data }),
  });
  assert.equal(response.status, 201, await response.clone().text());
  return response.json();
}

for (const transport of ['sse', 'long-poll', 'poll', 'websocket']) {
  test(`${transport}: a short-lived token is renewed through getToken and the subscription carries on without loss`, { skip }, async () => {
    const topic = uniqueTopic('orders');
    const issued = [];
    // The token lives 5 to 6 s (exp is in whole seconds) and is renewed at two thirds of what is left, so
    // the renewal has over 1.5 s of slack before the server would close the socket at expiry, even on a busy machine.
    const getToken = () => {
      const t = token({ subscribe: ['orders.>'], lifetimeMs: 6000 });
      issued.push(t);
      return t;
    };
    const hub = new Switchboard(SECURE, { ...fast, WebSocket, getToken, transports: [transport], cursorStore: null, refreshMargin: 3000 });
    const sub = hub.subscribe([topic], { after: 'earliest' });
    const log = record(sub);
    await waitFor(() => sub.state === 'open', 10000, 'open');
    const first = await publish(topic, 1);
    await waitFor(() => log.events.length === 1, 10000, 'first event');
    const firstExp = tokenExpiry(issued[0]);
    // Wait (by condition) until the first token is past its expiry and a newer one was issued.
    await waitFor(() => Date.now() > firstExp + 300 && issued.length >= 2, 15000, 'a refreshed token after the first expired');
    const second = await publish(topic, 2);
    await waitFor(() => log.events.length === 2, 10000, 'an event after the expiry');
    assert.deepEqual(log.events.map(e => e.seq), [first.seq, second.seq]);
    assert.equal(sub.state, 'open');
    assert.ok(!log.errors.some(e => e.fatal), log.errors.map(String).join('\n'));
    if (transport === 'websocket') {
      // Refreshed in place with op: refresh, before the expiry: the socket never had to reopen.
      assert.deepEqual(log.opens, ['websocket']);
    }
    sub.close();
  });
}

for (const transport of ['websocket', 'sse', 'long-poll']) {
  test(`${transport}: a 403 (topic outside the token's grants) ends the subscription with a clear error`, { skip }, async () => {
    const hub = new Switchboard(SECURE, { ...fast, WebSocket, token: token({ subscribe: ['orders.>'] }), transports: [transport], cursorStore: null });
    const sub = hub.subscribe(['secret.stuff']);
    const log = record(sub);
    const error = await sub.closed;
    assert.ok(error, 'an error');
    assert.equal(error.fatal, true);
    assert.equal(error.status, 403);
    assert.equal(error.code, 'forbidden');
    assert.match(error.message, /forbidden/i);
    assert.equal(sub.state, 'closed');
    assert.ok(log.errors.includes(error));
  });
}

for (const transport of ['websocket', 'sse', 'long-poll', 'poll', 'auto']) {
  test(`${transport}: getToken handing out tokens the hub says are expired ends the subscription instead of looping`, { skip }, async () => {
    // A token server with a stale cache, or a hub whose clock is ahead: a renewed token is refused as expired too.
    // Asking again at once would hammer getToken and the hub as fast as they answer, for ever.
    let calls = 0;
    const getToken = () => {
      calls++;
      return token({ subscribe: ['orders.>'], lifetimeMs: -10_000 });
    };
    const hub = new Switchboard(SECURE, { ...fast, WebSocket, getToken, transports: transport === 'auto' ? 'auto' : [transport], cursorStore: null });
    const sub = hub.subscribe([uniqueTopic('orders')], { after: 'earliest' });
    const log = record(sub);
    const error = await Promise.race([sub.closed, new Promise(resolve => setTimeout(() => resolve('still running'), 10_000))]);
    assert.notEqual(error, 'still running', `still retrying after ${calls} getToken calls`);
    assert.equal(error.fatal, true);
    assert.equal(error.status, 401);
    assert.equal(error.code, 'token-expired');
    assert.equal(sub.state, 'closed');
    assert.ok(log.errors.includes(error));
    assert.ok(calls <= 6, `getToken called ${calls} times`);
  });
}

test('auto: a 401 for a bad token without getToken ends with an error, and the async iterator throws it', { skip }, async () => {
  const hub = new Switchboard(SECURE, { ...fast, WebSocket, token: 'not-a-valid-token', cursorStore: null });
  const sub = hub.subscribe(['orders.eu']);
  await assert.rejects(
    (async () => {
      for await (const _ of sub) {
        /* nothing arrives */
      }
    })(),
    e => e.status === 401 && e.fatal === true,
  );
});

test('websocket: a refresh whose grants no longer cover one subscription ends that one only', { skip }, async () => {
  // The first token reads orders and chat and is renewed after about 3 s; every later one reads chat only.
  let calls = 0;
  const getToken = () => (++calls === 1 ? token({ subscribe: ['orders.>', 'chat.>'], lifetimeMs: 6000 }) : token({ subscribe: ['chat.>'] }));
  const hub = new Switchboard(SECURE, { ...fast, WebSocket, getToken, transports: ['websocket'], cursorStore: null, refreshMargin: 3000 });
  const ordersTopic = uniqueTopic('orders');
  const chatTopic = uniqueTopic('chat');
  const orders = hub.subscribe([ordersTopic]);
  const chat = hub.subscribe([chatTopic]);
  const chatLog = record(chat);
  await waitFor(() => orders.state === 'open' && chat.state === 'open', 10000, 'both open');

  const error = await Promise.race([orders.closed, new Promise(resolve => setTimeout(() => resolve('still running'), 15_000))]);
  assert.notEqual(error, 'still running', 'the orders subscription was not ended by the narrower refresh');
  assert.equal(error.fatal, true);
  assert.equal(error.code, 'forbidden');
  assert.equal(error.status, 403);

  const published = await publish(chatTopic, 1);
  await waitFor(() => chatLog.events.length === 1, 10000, 'the chat event');
  assert.equal(chatLog.events[0].seq, published.seq);
  assert.equal(chat.state, 'open');
  assert.deepEqual(chatLog.opens, ['websocket']);
  chat.close();
});

for (const transport of ['websocket', 'sse', 'long-poll']) {
  test(`${transport}: an invalid token ends the subscription without calling getToken again`, { skip }, async () => {
    let calls = 0;
    const getToken = () => {
      calls++;
      return 'not-a-valid-token';
    };
    const hub = new Switchboard(SECURE, { ...fast, WebSocket, getToken, transports: [transport], cursorStore: null });
    const sub = hub.subscribe([uniqueTopic('orders')]);
    const error = await Promise.race([sub.closed, new Promise(resolve => setTimeout(() => resolve('still running'), 10_000))]);
    assert.notEqual(error, 'still running');
    assert.equal(error.fatal, true);
    assert.equal(error.status, 401);
    assert.equal(calls, 1);
  });
}
