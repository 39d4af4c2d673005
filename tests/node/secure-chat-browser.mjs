// Browser test: the chat page with subscriber tokens, in headless Chromium, against a protected hub.
//
// Usage: node secure-chat-browser.mjs <baseUrl> <screenshotDir> <aliceToken> <bobToken>
//
// Both tokens allow reading and publishing chat.room1 only; their presence names are alice and bob.
//   1. alice opens /chat?token=<alice>&room=room1; bob opens /chat?token=<bob>&room=room1&name=mallory
//      (the name in the URL is ignored: the token names him). Both connect, both see alice and bob
//      (and never mallory), the URLs keep the token, and the name field is read-only.
//   2. They exchange a message each way.
//   3. alice's token opening room2 is refused: the page says so and stops (no retry button, no new
//      connection attempts).
//   4. A page without a token is refused on room1, since the hub is protected; a page with an expired
//      token says so without connecting.
//   5. Screenshots: secure-chat.png (alice in room1), secure-chat-refused.png (room2) and
//      secure-chat-no-token.png. On failure, secure-chat-failure-<who>.png for each page.
//
// Prints one JSON summary line to stdout and exits 0 only if every step passed (1 otherwise, 2 for bad
// usage). The whole run is bounded by CHAT_BROWSER_TIMEOUT_MS; the browser is always closed.

import path from 'node:path';
import { check, createRun } from './browser-run.mjs';

const OVERALL_TIMEOUT_MS = Number(process.env.CHAT_BROWSER_TIMEOUT_MS ?? 60_000);
const STEP_TIMEOUT_MS = Number(process.env.CHAT_BROWSER_STEP_TIMEOUT_MS ?? 15_000);

const [baseArg, shotDirArg, aliceToken, bobToken] = process.argv.slice(2);
if (!baseArg || !shotDirArg || !aliceToken || !bobToken) {
  process.stderr.write('usage: node secure-chat-browser.mjs <baseUrl> <screenshotDir> <aliceToken> <bobToken>\n');
  process.exit(2);
}
const baseUrl = baseArg.replace(/\/+$/, '');
const shotDir = path.resolve(shotDirArg);

const summary = { passed: false, steps: [], screenshots: [], pageErrors: [], refusals: {}, error: null };
const { pages, step, finish, launch } = createRun({
  name: 'secure-chat-browser', summary, shotDir, timeoutMs: OVERALL_TIMEOUT_MS, stepTimeoutMs: STEP_TIMEOUT_MS,
});
let browser;

/** Runs before the page's scripts: counts the WebSockets the page opens. */
function countWebSockets() {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      window.__sockets.push(String(url));
    }
  };
}

async function openPage(who) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  await context.addInitScript(countWebSockets);
  const page = await context.newPage();
  page.on('pageerror', (error) => summary.pageErrors.push(`${who}: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') summary.pageErrors.push(`${who} console: ${message.text()}`);
  });
  pages[who] = page;
  return page;
}

const connected = (page) => page.locator('[data-testid="status"][data-state="connected"]').waitFor();
const refused = (page) => page.locator('[data-testid="status"][data-state="refused"]').waitFor();
const member = (page, name) =>
  page.getByTestId('member-list').getByTestId('member').filter({ has: page.getByText(name, { exact: true }) });
const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const message = (page, text) =>
  page.getByTestId('message-list').getByTestId('message')
    .filter({ has: page.getByTestId('message-text').filter({ hasText: new RegExp(`^${escapeRegExp(text)}$`) }) });

async function sendMessage(page, text) {
  await page.getByTestId('message-input').fill(text);
  await page.getByTestId('send-button').click(); // waits until enabled, i.e. subscribed
  await message(page, text).waitFor();
}

async function screenshot(page, name) {
  const file = path.join(shotDir, name);
  await page.screenshot({ path: file });
  summary.screenshots.push(file);
}

/** Waits for the refusal, then checks it is shown and final: no retry offered, no further socket opened. */
async function expectRefusal(page, who, expected, socketsExpected = 1) {
  await refused(page);
  const banner = page.getByTestId('connection-banner');
  await banner.waitFor();
  const text = await banner.innerText();
  summary.refusals[who] = text;
  check(text.includes(expected), `${who} should explain the refusal with "${expected}", shows: ${text}`);
  check(await page.getByTestId('retry-button').isHidden(), `${who}: a refused room should not offer "Retry now"`);
  check(await page.getByTestId('send-button').isDisabled(), `${who}: sending should be disabled when refused`);
  const sockets = await page.evaluate(() => window.__sockets.length);
  check(sockets === socketsExpected, `${who}: expected ${socketsExpected} WebSocket(s), then none after the refusal; opened ${sockets}`);
}

async function run() {
  browser = await launch();

  const alice = await openPage('alice');
  const bob = await openPage('bob');

  step('alice opens /chat?token=...&room=room1');
  await alice.goto(`${baseUrl}/chat?token=${encodeURIComponent(aliceToken)}&room=room1`);
  await connected(alice);
  check((await alice.locator('#me').innerText()).includes('alice'), 'alice should be shown as alice (the token presence name)');
  const aliceUrl = new URL(alice.url());
  check(aliceUrl.searchParams.get('token') === aliceToken && aliceUrl.searchParams.get('room') === 'room1', `the URL should keep token and room: ${alice.url()}`);
  const sockets = await alice.evaluate(() => window.__sockets);
  check(sockets.length === 1 && new URL(sockets[0]).searchParams.get('access_token') === aliceToken,
    `the WebSocket should carry the token as access_token: ${JSON.stringify(sockets)}`);

  step('bob opens /chat?token=...&room=room1&name=mallory');
  await bob.goto(`${baseUrl}/chat?token=${encodeURIComponent(bobToken)}&room=room1&name=mallory`);
  await connected(bob);
  check((await bob.locator('#me').innerText()).includes('bob'), 'bob should be shown as bob, whatever the URL says');

  step('both see alice and bob, never mallory');
  for (const page of [alice, bob]) {
    await member(page, 'alice').waitFor();
    await member(page, 'bob').waitFor();
    check((await member(page, 'mallory').count()) === 0, 'the name in the URL must not be used with a token');
  }

  step('messages both ways');
  const hello = 'Hello bob, from a token-scoped page';
  const reply = 'Hi alice, same room, same rules';
  await sendMessage(alice, hello);
  await message(bob, hello).waitFor();
  await sendMessage(bob, reply);
  await message(alice, reply).waitFor();
  await screenshot(alice, 'secure-chat.png');

  step('alice on room2 is refused');
  const outside = await openPage('alice-room2');
  await outside.goto(`${baseUrl}/chat?token=${encodeURIComponent(aliceToken)}&room=room2`);
  await expectRefusal(outside, 'alice-room2', 'does not allow #room2');
  await screenshot(outside, 'secure-chat-refused.png');

  step('a page without a token is refused');
  const anonymous = await openPage('no-token');
  await anonymous.goto(`${baseUrl}/chat?name=carol&room=room1`);
  await expectRefusal(anonymous, 'no-token', 'needs an access token');
  await screenshot(anonymous, 'secure-chat-no-token.png');
  check((await member(alice, 'carol').count()) === 0, 'a refused page must not appear in the room');

  step('an expired token is refused without connecting');
  // The page reads exp itself: the server would refuse the upgrade with 401, which a page cannot see.
  const encode = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const expired = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode({ sub: 'dave', exp: Math.floor(Date.now() / 1000) - 3600 })}.c2lnbmF0dXJl`;
  const late = await openPage('expired');
  await late.goto(`${baseUrl}/chat?token=${expired}&room=room1`);
  await expectRefusal(late, 'expired', 'has expired', 0);

  check(summary.pageErrors.length === 0, `errors in the pages: ${summary.pageErrors.join(' | ')}`);
}

try {
  await run();
  await finish(0);
} catch (error) {
  summary.error = error?.stack ?? String(error);
  process.stderr.write(`secure-chat-browser: FAILED: ${summary.error}\n`);
  await finish(1);
}
