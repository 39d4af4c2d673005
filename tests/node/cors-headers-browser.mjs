// Browser test: a page on another origin reads the response headers a cross-origin client needs, in headless Chromium.
//
// Usage: node cors-headers-browser.mjs <baseUrl> <screenshotDir> <token>
//
// The hub is protected, at http://127.0.0.1:<port>; <token> may publish and read `orders`. The page is the hub's own
// /v1/health at http://localhost:<port> (a loopback origin the hub's CORS allows), so every fetch to the hub is cross-origin
// and the browser shows it only the headers in Access-Control-Expose-Headers:
//   1. without a credential: 401, and WWW-Authenticate (Bearer realm="switchboard");
//   2. with a bad token: 401, and WWW-Authenticate says error="invalid_token";
//   3. a publish, then again with the same Idempotency-Key: Idempotent-Replayed;
//   4. a short poll: ETag.
//
// Prints one JSON summary line to stdout and exits 0 only if every step passed (1 otherwise, 2 for bad usage).

import path from 'node:path';
import { check, createRun } from './browser-run.mjs';

const [baseArg, shotDirArg, token] = process.argv.slice(2);
if (!baseArg || !shotDirArg || !token) {
  process.stderr.write('usage: node cors-headers-browser.mjs <baseUrl> <screenshotDir> <token>\n');
  process.exit(2);
}
const baseUrl = baseArg.replace(/\/+$/, '');
const summary = { passed: false, steps: [], screenshots: [], seen: {}, error: null };
const { pages, step, finish, launch } = createRun({
  name: 'cors-headers-browser', summary, shotDir: path.resolve(shotDirArg), timeoutMs: 60_000, stepTimeoutMs: 15_000,
});

try {
  const browser = await launch();
  const page = await browser.newPage();
  pages.page = page;
  // A page of another origin: the same server by another name (localhost, not 127.0.0.1), so the fetches below are
  // cross-origin and both ends are loopback (Chromium refuses a page it deems public access to loopback addresses).
  const hub = new URL(baseUrl);
  const pageOrigin = `${hub.protocol}//localhost:${hub.port}`;
  check(hub.hostname === '127.0.0.1', `the hub must be at 127.0.0.1, not ${hub.hostname}`);
  await page.goto(`${pageOrigin}/v1/health`);
  step(`page at ${pageOrigin}, hub at ${baseUrl}`);

  const seen = await page.evaluate(async ({ baseUrl, token }) => {
    const headers = (response, names) => Object.fromEntries([['status', response.status], ...names.map((n) => [n, response.headers.get(n)])]);
    const out = {};
    out.anonymous = headers(await fetch(`${baseUrl}/v1/events?topic=orders`), ['www-authenticate']);
    out.badToken = headers(await fetch(`${baseUrl}/v1/events?topic=orders`, { headers: { Authorization: 'Bearer not-a-token' } }), ['www-authenticate']);
    const auth = { Authorization: `Bearer ${token}` };
    const publish = () => fetch(`${baseUrl}/v1/topics/orders/events`, {
      method: 'POST', headers: { ...auth, 'Content-Type': 'application/json', 'Idempotency-Key': 'browser-1' }, body: JSON.stringify({ data: 1 }),
    });
    out.publish = headers(await publish(), []);
    out.replay = headers(await publish(), ['idempotent-replayed']);
    out.poll = headers(await fetch(`${baseUrl}/v1/events?topic=orders&after=earliest`, { headers: auth }), ['etag']);
    return out;
  }, { baseUrl, token });
  summary.seen = seen;
  step(`seen: ${JSON.stringify(seen)}`);

  check(seen.anonymous.status === 401, `anonymous: ${seen.anonymous.status}`);
  check(/^Bearer realm="switchboard"/.test(seen.anonymous['www-authenticate'] ?? ''), `anonymous WWW-Authenticate hidden: ${seen.anonymous['www-authenticate']}`);
  check(seen.badToken.status === 401, `bad token: ${seen.badToken.status}`);
  check((seen.badToken['www-authenticate'] ?? '').includes('error="invalid_token"'), `bad token WWW-Authenticate hidden: ${seen.badToken['www-authenticate']}`);
  check(seen.publish.status === 201, `publish: ${JSON.stringify(seen.publish)}`);
  check(seen.replay['idempotent-replayed'] === 'true', `replay: ${JSON.stringify(seen.replay)}`);
  check(seen.poll.status === 200 && (seen.poll.etag ?? '') !== '', `poll ETag: ${JSON.stringify(seen.poll)}`);
  step('every header was readable');
  await finish(0);
} catch (error) {
  summary.error = String(error?.stack ?? error);
  await finish(1);
}
