// Test helpers: the hub under test (SWITCHBOARD_URL), waiting for conditions, and a small HTTP
// proxy that can refuse WebSocket upgrades, refuse or buffer SSE, and drop every connection.
import http from 'node:http';
import net from 'node:net';
import { randomUUID } from 'node:crypto';

export const HUB = (process.env.SWITCHBOARD_URL ?? '').replace(/\/+$/, '');
if (!HUB) throw new Error('SWITCHBOARD_URL is not set: the .NET test JsClientTests starts a hub and sets it');

/** A topic no other test uses. */
export function uniqueTopic(prefix = 'jstest') {
  return `${prefix}.${randomUUID().replace(/-/g, '').slice(0, 12)}`;
}

/** Waits until condition() is truthy, checking on every turn of a short timer; fails after timeoutMs. */
export async function waitFor(condition, timeoutMs = 15000, what = 'condition') {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise(r => setTimeout(r, 10));
  }
}

/** Publishes a batch straight to the hub (not through the client under test). */
export async function publishBatch(topic, values, headers = {}) {
  const response = await fetch(`${HUB}/v1/events`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(values.map(data => ({ topic, type: 'test', data }))),
  });
  if (response.status !== 201) throw new Error(`batch publish: ${response.status} ${await response.text()}`);
  return (await response.json()).events;
}

export async function readAll(topic, headers = {}) {
  const response = await fetch(`${HUB}/v1/events?topic=${encodeURIComponent(topic)}&after=earliest&limit=1000`, { headers });
  if (!response.ok) throw new Error(`read: ${response.status}`);
  return (await response.json()).events;
}

/** Checks that the seqs are exactly `expected` (no gap, no duplicate, in order). */
export function assertExactly(assert, events, expected) {
  const seqs = events.map(e => e.seq);
  assert.deepEqual(seqs, expected.map(e => e.seq));
}

/** An unmasked, final WebSocket text frame, as a server sends it. */
function textFrame(text) {
  const payload = Buffer.from(text, 'utf8');
  const head = payload.length < 126 ? Buffer.from([0x81, payload.length]) : Buffer.from([0x81, 126, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([head, payload]);
}

/**
 * A proxy in front of the hub. ws: 'pass' | 'refuse'; sse: 'pass' | 'refuse' | 'buffer'.
 * state.closeAfterAck cuts each WebSocket right after the hub's subscribe ack reached the client; state.replaceAck (an op's
 * JSON text) is sent to the client instead of that ack.
 * dropAll() destroys every open connection (both sides), forcing reconnects. state.frozen drops WebSocket bytes silently.
 * offline() closes the port (connections refused) until online(). state.blackhole leaves HTTP requests unanswered for ever.
 */
export async function startProxy() {
  const target = new URL(HUB);
  const sockets = new Set();
  const state = { frozen: false, blackhole: false, blackholed: 0, ws: 'pass', sse: 'pass', upgrades: 0, refusedUpgrades: 0, sseRequests: 0, refusedSse: 0 };
  const track = s => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };
  const server = http.createServer((req, res) => {
    // A dead network: the request is taken and never answered, and the connection never closes.
    if (state.blackhole) {
      state.blackholed++;
      return;
    }
    const isSse = req.url.startsWith('/v1/stream');
    if (isSse) {
      state.sseRequests++;
      if (state.sse === 'refuse') {
        state.refusedSse++;
        res.writeHead(502, { 'Content-Type': 'text/plain' });
        res.end('SSE not allowed by this proxy');
        return;
      }
    }
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      up => {
        res.writeHead(up.statusCode, up.headers);
        if (isSse && state.sse === 'buffer' && up.statusCode === 200) {
          // A buffering proxy: nothing reaches the client until the upstream ends.
          const chunks = [];
          up.on('data', c => chunks.push(c));
          up.on('end', () => res.end(Buffer.concat(chunks)));
        } else {
          up.pipe(res);
        }
      },
    );
    upstream.on('socket', track);
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  server.on('connection', track);
  server.on('upgrade', (req, socket, head) => {
    state.upgrades++;
    if (state.ws === 'refuse') {
      state.refusedUpgrades++;
      socket.end('HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: 23\r\nConnection: close\r\n\r\nupgrades not supported\n');
      return;
    }
    const upstream = net.connect(Number(target.port), target.hostname, () => {
      let head0 = `${req.method} ${req.url} HTTP/1.1\r\n`;
      for (let i = 0; i < req.rawHeaders.length; i += 2) head0 += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
      upstream.write(head0 + '\r\n');
      if (head && head.length) upstream.write(head);
      // While frozen, bytes are dropped both ways but the sockets stay open: a connection that died silently.
      upstream.on('data', chunk => {
        if (state.frozen) return;
        // The hub's frames are small and unmasked: the subscribe ack arrives whole in one chunk, so a search finds it.
        const isAck = chunk.includes('"op":"ack"');
        socket.write(isAck && state.replaceAck ? textFrame(state.replaceAck) : chunk);
        if (isAck && state.closeAfterAck) {
          socket.end();
          upstream.destroy();
        }
      });
      socket.on('data', chunk => state.frozen || upstream.write(chunk));
    });
    track(upstream);
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
    socket.on('close', () => upstream.destroy());
  });
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    state,
    dropAll() {
      for (const s of [...sockets]) s.destroy();
    },
    /** Closes the port and cuts every connection: new ones are refused, as a restarting hub's port is, until online(). */
    async offline() {
      const closed = new Promise(resolve => server.close(resolve));
      for (const s of [...sockets]) s.destroy();
      await closed;
    },
    /** Listens on the same port again. */
    async online() {
      await new Promise(resolve => server.listen(Number(new URL(url).port), '127.0.0.1', resolve));
    },
    async close() {
      for (const s of [...sockets]) s.destroy();
      if (server.listening) await new Promise(resolve => server.close(resolve));
    },
  };
}

/** Records what a subscription does: events, states, transports, resets, errors. */
export function record(sub) {
  const log = { events: [], states: [], transports: [], resets: [], errors: [], opens: [] };
  sub.on('event', e => log.events.push(e));
  sub.on('state', s => log.states.push(s));
  sub.on('open', t => log.opens.push(t));
  sub.on('transport', t => log.transports.push(t));
  sub.on('reset', r => log.resets.push(r));
  sub.on('error', e => log.errors.push(e));
  return log;
}

/** Fast timings for tests. */
export const fast = {
  backoff: { initial: 20, max: 200 },
  upgradeRetry: { initial: 300, max: 600 },
  pollInterval: 30,
  longPollWait: 5,
  wsOpenTimeout: 3000,
  sseOpenTimeout: 1000,
};
