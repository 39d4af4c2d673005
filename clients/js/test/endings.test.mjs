// Which failures end a subscription and which are retried, and how fast: the caller-error list (shared with the .NET
// client through docs/clients.md), WebSocket error ops, and the back-off after connections that do not last.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { Switchboard, CALLER_ERRORS, isCallerError } from '../dist/client.js';
import { uniqueTopic, waitFor, record, fast, startProxy, publishBatch } from './helpers.mjs';

/** The codes of docs/clients.md's caller-error table (the rows after its marker comment). */
function documentedCallerErrors() {
  const lines = readFileSync(new URL('../../../docs/clients.md', import.meta.url), 'utf8').split('\n');
  const start = lines.findIndex(l => l.includes('caller-errors:'));
  assert.ok(start >= 0, 'docs/clients.md has no caller-errors table');
  const codes = [];
  for (const row of lines.slice(start + 3)) {
    if (!row.startsWith('|')) break;
    for (const m of row.split('|')[2].matchAll(/`([a-z-]+)`/g)) codes.push(m[1]);
  }
  return codes;
}

test('CALLER_ERRORS is the table in docs/clients.md (which the .NET client is held to as well)', () => {
  assert.deepEqual([...CALLER_ERRORS].sort(), documentedCallerErrors().sort());
});

test('isCallerError takes both spellings and nothing outside the list', () => {
  for (const code of ['invalid_pattern', 'invalid-pattern', 'duplicate_subscription', 'forbidden', 'origin-not-allowed']) assert.equal(isCallerError(code), true, code);
  for (const code of ['store_unavailable', 'rate_limited', 'internal_error', 'token_expired', 'token-expired', 'http-502', undefined]) assert.equal(isCallerError(code), false, String(code));
});

test('websocket: a connection closed right after its ack is retried with growing back-off, not in a tight loop', async () => {
  const proxy = await startProxy();
  proxy.state.closeAfterAck = true;
  try {
    const hub = new Switchboard(proxy.url, { ...fast, backoff: { initial: 20, max: 2000 }, WebSocket, transports: ['websocket'], cursorStore: null });
    const sub = hub.subscribe([uniqueTopic()]);
    const log = record(sub);
    await waitFor(() => log.opens.length >= 1, 10000, 'the first ack');
    const before = proxy.state.upgrades;
    // A measuring window, not a wait for something: with the back-off reset at every ack, this is hundreds of connections.
    await new Promise(r => setTimeout(r, 3000));
    const upgrades = proxy.state.upgrades - before;
    assert.ok(upgrades >= 1 && upgrades < 30, `${upgrades} connections in 3 s`);
    assert.notEqual(sub.state, 'closed');
    sub.close();
  } finally {
    await proxy.close();
  }
});

test('websocket: a connection that delivered an event resets the back-off', async () => {
  const proxy = await startProxy();
  try {
    const topic = uniqueTopic();
    const hub = new Switchboard(proxy.url, { ...fast, backoff: { initial: 50, max: 60_000 }, WebSocket, transports: ['websocket'], cursorStore: null });
    const sub = hub.subscribe([topic]);
    const log = record(sub);
    for (let i = 1; i <= 8; i++) {
      await waitFor(() => log.opens.length >= i, 5000, `connection ${i}`);
      await publishBatch(topic, [i]);
      await waitFor(() => log.events.length >= i, 5000, `event ${i}`);
      proxy.dropAll();
    }
    await waitFor(() => log.opens.length >= 9, 5000, 'the ninth connection');
    sub.close();
  } finally {
    await proxy.close();
  }
});

/** Answers the subscribe with an error op in place of the ack; resolves with what the subscription ended with. */
async function endingOfErrorOnSubscribe(code, message) {
  const proxy = await startProxy();
  proxy.state.replaceAck = JSON.stringify({ op: 'error', id: 'sub', code, message });
  try {
    const hub = new Switchboard(proxy.url, { ...fast, WebSocket, transports: ['websocket'], cursorStore: null });
    const sub = hub.subscribe([uniqueTopic()]);
    const error = await Promise.race([sub.closed, new Promise(resolve => setTimeout(() => resolve('still running'), 10_000))]);
    assert.notEqual(error, 'still running', `still retrying after ${proxy.state.upgrades} connections`);
    assert.equal(error.fatal, true);
    assert.equal(proxy.state.upgrades, 1);
    return error;
  } finally {
    await proxy.close();
  }
}

test('websocket: token_expired with no getToken ends the subscription instead of looping', async () => {
  const error = await endingOfErrorOnSubscribe('token_expired', 'The token expired.');
  assert.equal(error.code, 'token-expired');
  assert.equal(error.status, 401);
});

test('websocket: a caller error on subscribe (duplicate_subscription) ends the subscription', async () => {
  const error = await endingOfErrorOnSubscribe('duplicate_subscription', 'Subscription "sub" already exists.');
  assert.equal(error.code, 'duplicate_subscription');
});

test('websocket: a transient error on subscribe (store_unavailable) is retried until it clears', async () => {
  const proxy = await startProxy();
  proxy.state.replaceAck = JSON.stringify({ op: 'error', id: 'sub', code: 'store_unavailable', message: 'Redis is down.' });
  try {
    const topic = uniqueTopic();
    const hub = new Switchboard(proxy.url, { ...fast, WebSocket, transports: ['websocket'], cursorStore: null });
    const sub = hub.subscribe([topic]);
    const log = record(sub);
    await waitFor(() => proxy.state.upgrades >= 3 || sub.state === 'closed', 10000, 'three attempts');
    assert.notEqual(sub.state, 'closed');
    proxy.state.replaceAck = undefined;
    await waitFor(() => sub.state === 'open', 10000, 'open once the store is back');
    await publishBatch(topic, [1]);
    await waitFor(() => log.events.length === 1, 10000, 'the event');
    assert.ok(!log.errors.some(e => e.fatal));
    sub.close();
  } finally {
    await proxy.close();
  }
});

