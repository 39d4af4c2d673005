// Peer-receiver test: Switchboard's webhook signatures checked by the npm
// `standardwebhooks` package (the Standard Webhooks reference library for JS).
//
// Usage: node webhook-receiver.mjs <count> [timeoutMs]
//
// Starts an HTTP server on 127.0.0.1 (free port) and prints one JSON line with
// its URL: {"url":"http://127.0.0.1:PORT/hook"}. Then reads ONE line from stdin:
// a JSON array of signing secrets ("whsec_..."), because the hub only reveals the
// secret when the endpoint is created, which needs the URL first. Requests that
// arrive before the secrets are held until they are known.
//
// Each POST is verified with `new Webhook(secret).verify(body, headers)` for each
// secret in turn; the first that accepts is recorded. Valid: 204. Invalid: 401.
// After <count> POSTs have been answered (valid or not) it prints one summary line
//   {"verified":n,"invalid":n,"bySecret":[n,...],"types":[...],"seqs":[...],
//    "ids":n,"signatures":{"min":n,"max":n},"errors":[...]}
// and exits 0. On timeout (default 30 s) it prints the summary with an error and
// exits 1. Diagnostics go to stderr.

import http from 'node:http';
import readline from 'node:readline';
import { Webhook } from 'standardwebhooks';

const [countArg, timeoutArg] = process.argv.slice(2);
const expected = Number(countArg);
const timeoutMs = Number(timeoutArg ?? 30_000);
if (!Number.isInteger(expected) || expected < 1 || !Number.isFinite(timeoutMs)) {
  process.stderr.write('usage: node webhook-receiver.mjs <count> [timeoutMs]\n');
  process.exit(2);
}

const summary = {
  verified: 0,
  invalid: 0,
  bySecret: [],
  types: [],
  seqs: [],
  ids: 0,
  signatures: { min: null, max: null },
  errors: [],
};
const ids = new Set();
let answered = 0;
let finished = false;

// The secrets arrive on stdin; requests wait for them.
let webhooks = null;
let secretsKnown;
const secretsReady = new Promise((resolve) => { secretsKnown = resolve; });
const lines = readline.createInterface({ input: process.stdin });
lines.once('line', (line) => {
  try {
    const secrets = JSON.parse(line);
    if (!Array.isArray(secrets) || secrets.length === 0) throw new Error('expected a JSON array of secrets');
    webhooks = secrets.map((secret) => new Webhook(secret));
    summary.bySecret = secrets.map(() => 0);
    secretsKnown();
  } catch (error) {
    summary.errors.push(`bad secrets line: ${error.message}`);
    finish(1);
  }
  lines.close();
});

function finish(code) {
  if (finished) return;
  finished = true;
  clearTimeout(timer);
  summary.ids = ids.size;
  process.stdout.write(`${JSON.stringify(summary)}\n`, () => {
    server.close();
    process.exit(code);
  });
}

const timer = setTimeout(() => {
  summary.errors.push(`timed out after ${timeoutMs} ms with ${answered}/${expected} deliveries answered`);
  finish(1);
}, timeoutMs);

function readBody(request) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

const server = http.createServer(async (request, response) => {
  if (request.method !== 'POST') {
    response.writeHead(405).end();
    return;
  }

  let body;
  try {
    body = await readBody(request);
  } catch (error) {
    summary.errors.push(`reading a body: ${error.message}`);
    response.writeHead(400).end();
    return;
  }

  await secretsReady;
  if (finished) {
    response.writeHead(503).end();
    return;
  }

  const signatureHeader = String(request.headers['webhook-signature'] ?? '');
  const count = signatureHeader.split(' ').filter((s) => s.startsWith('v1,')).length;
  summary.signatures.min = summary.signatures.min === null ? count : Math.min(summary.signatures.min, count);
  summary.signatures.max = summary.signatures.max === null ? count : Math.max(summary.signatures.max, count);

  let accepted = -1;
  let payload;
  const reasons = [];
  for (let i = 0; i < webhooks.length && accepted < 0; i++) {
    try {
      payload = webhooks[i].verify(body, request.headers);
      accepted = i;
    } catch (error) {
      reasons.push(error.message);
    }
  }

  answered++;
  // After the last answer has been written, the summary goes out and the process ends.
  const done = answered >= expected ? () => finish(0) : undefined;
  if (accepted >= 0) {
    summary.verified++;
    summary.bySecret[accepted]++;
    ids.add(request.headers['webhook-id']);
    if (!summary.types.includes(payload.type)) summary.types.push(payload.type);
    summary.seqs.push(payload.seq);
    response.writeHead(204).end(done);
  } else {
    summary.invalid++;
    process.stderr.write(`webhook-receiver: refused ${request.headers['webhook-id']}: ${reasons.join('; ')}\n`);
    response.writeHead(401, { 'content-type': 'text/plain' }).end('invalid signature', done);
  }
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}/hook` })}\n`);
});
