// Browser test: the chat page (/chat) in headless Chromium against a live Switchboard server.
//
// Usage: node chat-browser.mjs <baseUrl> <screenshotDir>
//
// Two pages, alice and bob, each in its own browser context (like two people):
//   1. alice opens /chat?name=alice&room=<room> (joins straight from the URL); bob opens /chat and
//      uses the join form. Both see "connected" and both names in the member list.
//   2. They exchange a message each way; alice's contains HTML, which must show as text.
//   3. bob's connection is cut and his reconnection held back; alice sees him leave and sends a
//      message meanwhile; bob reconnects, resumes with `after: <cursor>` (not `history`) and gets
//      exactly the missed message, nothing twice.
//   4. bob reloads: the URL rejoins him, the history shows every earlier message exactly once, and
//      alice still sees him. A message bob sends afterwards reaches alice.
//   5. Screenshots: chat.png (alice, desktop) and chat-phone.png (bob at 390x844, which must not
//      scroll sideways). On failure, chat-failure-<who>.png for each page.
//
// Prints one JSON summary line to stdout and exits 0 only if every step passed (1 otherwise,
// 2 for bad usage). The whole run is bounded by CHAT_BROWSER_TIMEOUT_MS; the browser is always closed.

import path from 'node:path';
import { check, createRun } from './browser-run.mjs';

const OVERALL_TIMEOUT_MS = Number(process.env.CHAT_BROWSER_TIMEOUT_MS ?? 60_000);
const STEP_TIMEOUT_MS = Number(process.env.CHAT_BROWSER_STEP_TIMEOUT_MS ?? 15_000);

const [baseArg, shotDirArg] = process.argv.slice(2);
if (!baseArg || !shotDirArg) {
  process.stderr.write('usage: node chat-browser.mjs <baseUrl> <screenshotDir>\n');
  process.exit(2);
}
const baseUrl = baseArg.replace(/\/+$/, '');
const shotDir = path.resolve(shotDirArg);
const room = `it-${Date.now().toString(36)}`;

const summary = { passed: false, room, steps: [], screenshots: [], pageErrors: [], error: null };
const { pages, step, finish, launch } = createRun({
  name: 'chat-browser', summary, shotDir, timeoutMs: OVERALL_TIMEOUT_MS, stepTimeoutMs: STEP_TIMEOUT_MS,
});
let browser;

// Runs before the page's own scripts: records every WebSocket and what it sends, and lets the test
// hold back reconnections (window.__holdSockets) by pointing new sockets at a URL that refuses them.
function instrumentWebSockets() {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.__sent = [];
  window.__holdSockets = false;
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      const target = new URL(url);
      if (window.__holdSockets) target.pathname = target.pathname.replace(/\/ws$/, '/held');
      super(target, protocols);
      window.__sockets.push(this);
    }

    send(data) {
      try {
        window.__sent.push(JSON.parse(data));
      } catch {
        window.__sent.push(data);
      }
      super.send(data);
    }
  };
}

async function openPage(who, viewport) {
  const context = await browser.newContext({ viewport });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  await context.addInitScript(instrumentWebSockets);
  const page = await context.newPage();
  page.on('pageerror', (error) => summary.pageErrors.push(`${who}: ${error.message}`));
  page.on('console', (message) => {
    // The held-back reconnections (see instrumentWebSockets) fail on purpose; anything else is a bug.
    if (message.type() === 'error' && !message.text().includes('/v1/held')) summary.pageErrors.push(`${who} console: ${message.text()}`);
  });
  pages[who] = page;
  return page;
}

const ui = (page) => ({
  status: page.getByTestId('status'),
  members: page.getByTestId('member-list'),
  messages: page.getByTestId('message-list').getByTestId('message'),
  input: page.getByTestId('message-input'),
  send: page.getByTestId('send-button'),
});

const connected = (page) => page.locator('[data-testid="status"][data-state="connected"]').waitFor();
const member = (page, name) => ui(page).members.getByTestId('member').filter({ has: page.getByText(name, { exact: true }) });
const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const exactly = (text) => new RegExp(`^${escapeRegExp(text)}$`);
const message = (page, text) => ui(page).messages.filter({ has: page.getByTestId('message-text').filter({ hasText: exactly(text) }) });

async function sendMessage(page, text) {
  await ui(page).input.fill(text);
  await ui(page).send.click(); // waits until enabled, i.e. subscribed
  await message(page, text).waitFor(); // shown as confirmed (it came back through the subscription)
}

/** Waits until the page shows exactly these messages, in this order. */
async function expectMessages(page, who, texts) {
  try {
    await page.waitForFunction(
      (expected) => {
        const shown = [...document.querySelectorAll('[data-testid="message-list"] [data-testid="message"] [data-testid="message-text"]')].map((p) => p.textContent);
        return shown.length === expected.length && shown.every((t, i) => t === expected[i]);
      },
      texts,
      { timeout: STEP_TIMEOUT_MS },
    );
  } catch (error) {
    const shown = await page.getByTestId('message-text').allTextContents().catch(() => []);
    throw new Error(`${who} should show ${JSON.stringify(texts)} but shows ${JSON.stringify(shown)}: ${error.message}`);
  }
}

async function run() {
  browser = await launch();

  // 1. Joining: alice from the URL, bob through the form.
  const alice = await openPage('alice', { width: 1100, height: 720 });
  const bob = await openPage('bob', { width: 1100, height: 720 });

  step('alice opens /chat?name=alice&room=...');
  await alice.goto(`${baseUrl}/chat?name=alice&room=${room}`);
  check(new URL(alice.url()).pathname.endsWith('/chat/'), `expected a redirect to /chat/, got ${alice.url()}`);
  await connected(alice);
  await member(alice, 'alice').waitFor();

  step('bob opens /chat and joins with the form');
  await bob.goto(`${baseUrl}/chat`);
  await bob.getByTestId('name-input').fill('bob');
  await bob.getByTestId('room-input').fill(room);
  await bob.getByTestId('join-button').click();
  await connected(bob);
  const bobUrl = new URL(bob.url());
  check(bobUrl.searchParams.get('name') === 'bob' && bobUrl.searchParams.get('room') === room, `the join should be kept in the URL, got ${bob.url()}`);

  step('both see both members');
  for (const page of [alice, bob]) {
    await member(page, 'alice').waitFor();
    await member(page, 'bob').waitFor();
  }

  // 2. Messages both ways; HTML in a message is text.
  const hello = 'Hi bob <b>bold?</b> <img src=x onerror="window.__xss=1"> & welcome';
  const reply = 'Héllo alice — ça va? «ok»';
  step('alice -> bob');
  await sendMessage(alice, hello);
  await message(bob, hello).waitFor();
  step('bob -> alice');
  await sendMessage(bob, reply);
  await message(alice, reply).waitFor();
  await expectMessages(alice, 'alice', [hello, reply]);
  await expectMessages(bob, 'bob', [hello, reply]);
  for (const page of [alice, bob]) {
    const injected = await page.evaluate(() => ({
      elements: document.querySelectorAll('[data-testid="message-list"] b, [data-testid="message-list"] img').length,
      xss: window.__xss ?? null,
    }));
    check(injected.elements === 0 && injected.xss === null, `user HTML was rendered as HTML: ${JSON.stringify(injected)}`);
  }

  // 3. bob drops; alice writes while he is away; bob resumes from his cursor.
  step('bob loses his connection; reconnection is held back');
  await bob.evaluate(() => {
    window.__holdSockets = true;
    window.__sent.length = 0;
    window.__sockets.at(-1).close(4000, 'test: connection lost');
  });
  await bob.locator('[data-testid="status"]:is([data-state="reconnecting"], [data-state="offline"])').waitFor();
  check(await ui(bob).send.isDisabled(), 'send should be disabled while disconnected');
  await member(alice, 'bob').waitFor({ state: 'detached' });

  const missed = 'Sent while bob was away';
  step('alice writes while bob is away');
  await sendMessage(alice, missed);

  step('bob reconnects ("Retry now") and resumes');
  // In one go, so bob's own back-off timer cannot reconnect in between and hide the button.
  const retried = await bob.evaluate(() => {
    window.__holdSockets = false;
    const button = document.querySelector('[data-testid="retry-button"]');
    const visible = button.checkVisibility();
    button.click();
    return visible;
  });
  check(retried, 'the "Retry now" button should show while disconnected');
  await connected(bob);
  await expectMessages(bob, 'bob', [hello, reply, missed]);
  await member(alice, 'bob').waitFor();
  const resumed = await bob.evaluate(() => window.__sent.filter((m) => m && m.op === 'subscribe'));
  check(resumed.length >= 1, 'bob never subscribed again');
  check(
    resumed.every((m) => typeof m.after === 'string' && m.history === undefined),
    `the reconnection should resume with "after", not reload history: ${JSON.stringify(resumed)}`,
  );

  // 4. bob reloads: the URL rejoins him with the history.
  step('bob reloads the page');
  await bob.reload();
  await connected(bob);
  check(new URL(bob.url()).searchParams.get('name') === 'bob', `the reload lost the name: ${bob.url()}`);
  await expectMessages(bob, 'bob', [hello, reply, missed]);
  const rejoin = await bob.evaluate(() => window.__sent.filter((m) => m && m.op === 'subscribe'));
  check(rejoin.length === 1 && rejoin[0].history === 50, `a fresh page should ask for history: ${JSON.stringify(rejoin)}`);
  await member(alice, 'bob').waitFor();
  await member(bob, 'alice').waitFor();

  const back = 'Back after a reload';
  step('bob writes after the reload');
  await sendMessage(bob, back);
  await message(alice, back).waitFor();
  await expectMessages(alice, 'alice', [hello, reply, missed, back]);
  await member(alice, 'bob').waitFor();
  check((await ui(alice).members.getByTestId('member').count()) === 2, 'alice should see exactly two members');

  // 5. Screenshots.
  step('screenshots');
  const desktop = path.join(shotDir, 'chat.png');
  await alice.screenshot({ path: desktop });
  summary.screenshots.push(desktop);

  await bob.setViewportSize({ width: 390, height: 844 });
  await ui(bob).input.fill('Typing on a phone…');
  const overflow = await bob.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `the page scrolls sideways by ${overflow}px at 390px wide`);
  const phone = path.join(shotDir, 'chat-phone.png');
  await bob.screenshot({ path: phone });
  summary.screenshots.push(phone);

  check(summary.pageErrors.length === 0, `errors in the pages: ${summary.pageErrors.join(' | ')}`);
}

try {
  await run();
  await finish(0);
} catch (error) {
  summary.error = error?.stack ?? String(error);
  process.stderr.write(`chat-browser: FAILED: ${summary.error}\n`);
  await finish(1);
}
