// The JavaScript client (clients/js/dist, as built and committed) as a peer of the .NET client in the
// wire-compatibility tests: subscribes on one transport and prints what it sees as JSON lines.
//
//   node wire-client.mjs <hub-url> <transport> <after> <count> <pattern>...
//
// Lines: {"kind":"open","transport":...}, {"kind":"reset","reason":...,"cursor":...},
// {"kind":"event","seq":...,"topic":...,"type":...,"time":...,"data":...,"cursor":...}, then
// {"kind":"done","cursor":...} after <count> events. Fatal errors go to stderr with exit code 1.
import WebSocket from 'ws';
import { Switchboard } from '../../clients/js/dist/client.js';

const [url, transport, after, countText, ...patterns] = process.argv.slice(2);
const count = Number(countText);
if (!url || !transport || !after || !Number.isInteger(count) || patterns.length === 0) {
  console.error('usage: wire-client.mjs <hub-url> <transport> <after> <count> <pattern>...');
  process.exit(2);
}

const write = line => process.stdout.write(JSON.stringify(line) + '\n');

const hub = new Switchboard(url, {
  WebSocket,
  transports: [transport],
  cursorStore: null,
  backoff: { initial: 20, max: 200 },
  pollInterval: 50,
  longPollWait: 5,
});

const sub = hub.subscribe(patterns, { after });
sub.on('open', t => write({ kind: 'open', transport: t }));
sub.on('reset', r => write({ kind: 'reset', reason: r.reason, cursor: r.cursor }));
sub.on('error', e => process.stderr.write(`error (${e.code}, fatal=${e.fatal}): ${e.message}\n`));

let received = 0;
if (count > 0) {
  for await (const e of sub) {
    write({ kind: 'event', seq: e.seq, topic: e.topic, type: e.type, time: e.time, data: e.data, cursor: e.cursor });
    if (++received === count) break;
  }
}
// A fatal error ends the iteration early; the .NET side sees no "done" and the exit code.
const failure = await Promise.race([sub.closed, Promise.resolve(undefined)]);
if (received < count || failure) {
  process.stderr.write(`ended after ${received} of ${count} events: ${failure?.message ?? 'closed'}\n`);
  process.exit(1);
}
write({ kind: 'done', cursor: sub.cursor });
sub.close();
// Exit once stdout has drained: when the test reads the pipe slowly, lines wait in Node's queue, and exit() drops them.
process.stdout.write('', () => process.exit(0));
