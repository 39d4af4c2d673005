// Browser test: the dashboard and the playground on a protected hub, in headless Chromium.
//
// Usage: node protected-pages-browser.mjs <baseUrl> <screenshotDir> <adminKey> <publishKey>
//
//   1. /dashboard without a token: the page says the hub is protected, how to open it (?token=) and how to get a key
//      (switchboard keys create), and stops: the status never settles on "reconnecting…" and no new stream is opened.
//   2. /playground without a token: the same notice, and Start is disabled.
//   3. /dashboard?token=<publish key>: refused for lack of the admin scope (403), said as such.
//   4. /dashboard?token=<admin key>: goes live, no notice. Screenshot: protected-dashboard.png (step 1).
//
// Prints one JSON summary line to stdout and exits 0 only if every step passed (1 otherwise, 2 for bad usage).

import path from 'node:path';
import { check, createRun } from './browser-run.mjs';

const [baseArg, shotDirArg, adminKey, publishKey] = process.argv.slice(2);
if (!baseArg || !shotDirArg || !adminKey || !publishKey) {
  process.stderr.write('usage: node protected-pages-browser.mjs <baseUrl> <screenshotDir> <adminKey> <publishKey>\n');
  process.exit(2);
}
const baseUrl = baseArg.replace(/\/+$/, '');
const shotDir = path.resolve(shotDirArg);
const summary = { passed: false, steps: [], screenshots: [], pageErrors: [], notices: {}, error: null };
const { pages, step, finish, launch } = createRun({
  name: 'protected-pages-browser', summary, shotDir, timeoutMs: 60_000, stepTimeoutMs: 15_000,
});
let browser;

async function openPage(name) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  page.on('pageerror', (error) => summary.pageErrors.push(`${name}: ${error.message}`));
  const requests = [];
  page.on('request', (request) => requests.push(request.url()));
  pages[name] = page;
  return { page, requests };
}

async function expectNotice(page, name, texts) {
  await page.locator('#status[data-state="refused"]').waitFor();
  const notice = page.locator('#notice');
  await notice.waitFor();
  const text = await notice.innerText();
  summary.notices[name] = text;
  for (const expected of texts) check(text.includes(expected), `${name}: the notice should say "${expected}", says: ${text}`);
  const status = await page.locator('#status').innerText();
  check(!/reconnecting/i.test(status), `${name}: the status should not say reconnecting: ${status}`);
}

async function run() {
  browser = await launch();

  step('dashboard without a token');
  const { page: dashboard, requests } = await openPage('dashboard');
  await dashboard.goto(`${baseUrl}/dashboard`);
  await expectNotice(dashboard, 'dashboard', ['This hub is protected', '?token=', 'switchboard keys create']);
  const streams = () => requests.filter((url) => url.includes('/dashboard/stream')).length;
  const seen = streams();
  check(seen === 1, `the dashboard should have asked for its stream once, asked ${seen} times`);
  // Refused for good: a reconnecting page would ask again within its back-off (well under a second at first).
  await dashboard.waitForTimeout(1500);
  check(streams() === seen, `the refused dashboard kept retrying: ${streams()} stream requests`);
  const file = path.join(shotDir, 'protected-dashboard.png');
  await dashboard.screenshot({ path: file });
  summary.screenshots.push(file);

  step('playground without a token');
  const { page: playground } = await openPage('playground');
  await playground.goto(`${baseUrl}/playground`);
  await expectNotice(playground, 'playground', ['This hub is protected', '?token=', 'switchboard keys create']);
  check(await playground.locator('#start').isDisabled(), 'Start should be disabled on a refused playground');

  step('dashboard with a key that lacks the admin scope');
  const { page: publisher } = await openPage('dashboard-publish-key');
  await publisher.goto(`${baseUrl}/dashboard?token=${encodeURIComponent(publishKey)}`);
  await expectNotice(publisher, 'dashboard-publish-key', ['admin scope']);

  step('dashboard with the admin key');
  const { page: admin } = await openPage('dashboard-admin');
  await admin.goto(`${baseUrl}/dashboard?token=${encodeURIComponent(adminKey)}`);
  await admin.locator('#status.live').waitFor();
  check(await admin.locator('#notice').isHidden(), 'no notice with the admin key');

  check(summary.pageErrors.length === 0, `errors in the pages: ${summary.pageErrors.join(' | ')}`);
}

try {
  await run();
  await finish(0);
} catch (error) {
  summary.error = error?.stack ?? String(error);
  process.stderr.write(`protected-pages-browser: FAILED: ${summary.error}\n`);
  await finish(1);
}
