// Peer-client test: the switchboard.v1 WebSocket protocol from a third-party client.
//
// Usage: node ws-client.mjs <baseUrl> <room> <name>
//
// Run by a .NET xunit test against a live Switchboard server. Using the npm `ws`
// package (not .NET's ClientWebSocket), this script connects to /v1/ws with
// subprotocol switchboard.v1 as member <name>, joins chat room <room> with
// presence, publishes one message to the room, receives it back as an event,
// pings, and closes normally. It checks the exact shape of every reply on the way.
//
// It prints exactly one JSON line to stdout:
//   {"protocol":...,"subscribeCursor":...,"members":[...],"seq":n,"publishCursor":...,
//    "eventCursor":...,"event":{...},"pong":bool,"closeCode":n,"errors":[...]}
// and exits 0 only if every check passed, else 1 (2 for bad usage). The whole run
// is bounded by a timeout. Diagnostics go to stderr.

import WebSocket from 'ws';

const OVERALL_TIMEOUT_MS = Number(process.env.WS_CLIENT_TIMEOUT_MS ?? 15_000);

const [baseArg, room, name] = process.argv.slice(2);
if (!baseArg || !room || !name) {
  process.stderr.write('usage: node ws-client.mjs <baseUrl> <room> <name>\n');
  process.exit(2);
}
const wsUrl = `${baseArg.replace(/\/+$/, '').replace(/^http/, 'ws')}/v1/ws?name=${encodeURIComponent(name)}`;

const report = {
  protocol: null,
  subscribeCursor: null,
  members: null,
  seq: null,
  publishCursor: null,
  eventCursor: null,
  event: null,
  pong: false,
  closeCode: null,
  errors: [],
};

function fail(message) {
  report.errors.push(message);
  process.stderr.write(`ws-client: ${message}\n`);
}

function check(condition, message) {
  if (!condition) fail(message);
  return condition;
}

function keys(object) {
  return Object.keys(object).join(',');
}

const isCursor = (value) => typeof value === 'string' && /^[A-Za-z0-9]+\.\d+$/.test(value);

// ---- finishing (exactly once, always bounded) ----------------------------------
let finished = false;
const overallTimer = setTimeout(() => {
  fail(`timed out after ${OVERALL_TIMEOUT_MS} ms in step "${step}"`);
  finish();
}, OVERALL_TIMEOUT_MS);

function finish() {
  if (finished) return;
  finished = true;
  clearTimeout(overallTimer);
  if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.terminate();
  const passed =
    report.errors.length === 0 &&
    report.protocol === 'switchboard.v1' &&
    report.seq !== null &&
    report.event !== null &&
    report.pong &&
    report.closeCode === 1000;
  process.stdout.write(JSON.stringify(report) + '\n', () => process.exit(passed ? 0 : 1));
}

// ---- the conversation: each step waits for one reply -----------------------------
const message = { op: 'publish', id: 'm1', topic: room, type: 'chat.message', data: { text: 'hello from ws', n: 1 } };
let step = 'connect';
let publishAck = null;
let publishedEvent = null;

const ws = new WebSocket(wsUrl, 'switchboard.v1');

ws.on('open', () => {
  report.protocol = ws.protocol;
  check(ws.protocol === 'switchboard.v1', `negotiated subprotocol ${JSON.stringify(ws.protocol)}`);
  step = 'subscribe';
  ws.send(JSON.stringify({ op: 'subscribe', id: 'room', topics: [room], presence: true }));
});

ws.on('message', (data, isBinary) => {
  if (finished) return;
  if (!check(!isBinary, 'received a binary message')) return finish();
  let msg;
  try {
    msg = JSON.parse(data.toString('utf8'));
  } catch {
    fail(`not JSON: ${String(data).slice(0, 200)}`);
    return finish();
  }

  if (msg.op === 'error') {
    fail(`server error in step ${step}: ${JSON.stringify(msg)}`);
    return finish();
  }

  switch (step) {
    case 'subscribe':
      check(msg.op === 'ack' && keys(msg) === 'op,id,cursor' && msg.id === 'room', `subscribe ack: ${JSON.stringify(msg)}`);
      check(isCursor(msg.cursor), `subscribe ack cursor: ${msg.cursor}`);
      report.subscribeCursor = msg.cursor;
      step = 'presence';
      return;

    case 'presence':
      check(msg.op === 'presence' && keys(msg) === 'op,topic,members' && msg.topic === room, `own presence: ${JSON.stringify(msg)}`);
      report.members = msg.members;
      check(Array.isArray(msg.members) && msg.members.includes(name), `members ${JSON.stringify(msg.members)} lack ${name}`);
      step = 'publish';
      ws.send(JSON.stringify(message));
      return;

    case 'publish':
      // The ack and the event may come in either order.
      if (msg.op === 'ack') {
        check(keys(msg) === 'op,id,seq,cursor' && msg.id === 'm1', `publish ack: ${JSON.stringify(msg)}`);
        check(Number.isInteger(msg.seq) && msg.seq > 0 && isCursor(msg.cursor), `publish ack values: ${JSON.stringify(msg)}`);
        publishAck = msg;
        report.seq = msg.seq;
        report.publishCursor = msg.cursor;
      } else if (msg.op === 'event') {
        check(keys(msg) === 'op,subscription,cursor,event' && msg.subscription === 'room', `event envelope: ${JSON.stringify(msg)}`);
        const e = msg.event ?? {};
        check(keys(e) === 'seq,topic,type,time,data', `event fields: ${keys(e)}`);
        check(e.topic === room && e.type === message.type, `event topic/type: ${e.topic} ${e.type}`);
        check(JSON.stringify(e.data) === JSON.stringify(message.data), `event data: ${JSON.stringify(e.data)}`);
        check(typeof e.time === 'string' && !Number.isNaN(Date.parse(e.time)), `event time: ${e.time}`);
        publishedEvent = msg;
        report.event = e;
        report.eventCursor = msg.cursor;
      } else {
        fail(`unexpected message while publishing: ${JSON.stringify(msg)}`);
        return finish();
      }

      if (publishAck && publishedEvent) {
        check(publishedEvent.event.seq === publishAck.seq, `event seq ${publishedEvent.event.seq} != ack seq ${publishAck.seq}`);
        check(publishedEvent.cursor === publishAck.cursor, `event cursor ${publishedEvent.cursor} != ack cursor ${publishAck.cursor}`);
        step = 'ping';
        ws.send(JSON.stringify({ op: 'ping', id: 'p1' }));
      }
      return;

    case 'ping':
      report.pong = check(JSON.stringify(msg) === '{"op":"pong","id":"p1"}', `pong: ${JSON.stringify(msg)}`);
      step = 'close';
      ws.close(1000, 'done');
      return;

    default:
      fail(`unexpected message in step ${step}: ${JSON.stringify(msg)}`);
  }
});

ws.on('unexpected-response', (_request, response) => {
  fail(`handshake refused with HTTP ${response.statusCode}`);
  finish();
});

ws.on('error', (err) => {
  fail(`socket error in step ${step}: ${err?.message ?? err}`);
  finish();
});

ws.on('close', (code, reason) => {
  report.closeCode = code;
  check(step === 'close', `closed by the server in step ${step}: ${code} ${reason}`);
  finish();
});
