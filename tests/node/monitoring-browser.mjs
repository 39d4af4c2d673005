// Browser test: the dashboard (/dashboard) and the playground (/playground) in headless Chromium against a live hub.
//
// Usage: node monitoring-browser.mjs <baseUrl> <screenshotDir>
//
//   1. Dashboard: the page goes live on its snapshot stream. The test publishes events through the HTTP API and waits
//      until the "published" counter has grown by them and the publish-rate chart has drawn a point above zero.
//      A webhook endpoint and a job are created through the API too, and must show in their tables.
//      Screenshot: dashboard.png.
//   2. Playground: start it at 10 events/s with a 0.5 s short poll; every one of the five columns (short poll, long poll,
//      SSE, WebSocket, webhook) must receive events and show a p50 and a p99 latency. Screenshot: playground.png.
//      Stopping it ends the session (its webhook endpoint is deleted).
//
// Prints one JSON summary line to stdout and exits 0 only if every step passed (1 otherwise, 2 for bad usage).
// On failure it saves monitoring-failure-<page>.png. The run is bounded by MONITORING_BROWSER_TIMEOUT_MS.

import path from 'node:path';
import { check, createRun } from './browser-run.mjs';

const OVERALL_TIMEOUT_MS = Number(process.env.MONITORING_BROWSER_TIMEOUT_MS ?? 75_000);
const STEP_TIMEOUT_MS = Number(process.env.MONITORING_BROWSER_STEP_TIMEOUT_MS ?? 20_000);

const [baseArg, shotDirArg] = process.argv.slice(2);
if (!baseArg || !shotDirArg) {
  process.stderr.write('usage: node monitoring-browser.mjs <baseUrl> <screenshotDir>\n');
  process.exit(2);
}
const baseUrl = baseArg.replace(/\/+$/, '');
const shotDir = path.resolve(shotDirArg);
const summary = { passed: false, steps: [], screenshots: [], pageErrors: [], observed: {}, error: null };
const { pages, step, finish, launch } = createRun({
  name: 'monitoring-browser', summary, shotDir, timeoutMs: OVERALL_TIMEOUT_MS, stepTimeoutMs: STEP_TIMEOUT_MS, fullPageShots: true,
});
let browser;

async function api(method, route, body) {
  const response = await fetch(`${baseUrl}${route}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  check(response.ok, `${method} ${route} answered ${response.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

async function openPage(name) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  const page = await context.newPage();
  page.on('pageerror', (error) => summary.pageErrors.push(`${name}: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') summary.pageErrors.push(`${name} console: ${message.text()}`);
  });
  pages[name] = page;
  return page;
}

const number = (text) => Number(String(text).replace(/[^0-9.]/g, ''));

async function dashboard() {
  step('dashboard: open and go live');
  const page = await openPage('dashboard');
  await page.goto(`${baseUrl}/dashboard`);
  await page.locator('#status.live').waitFor();
  await page.waitForFunction(() => document.getElementById('published-total').textContent !== '–');
  const before = number(await page.locator('#published-total').textContent());

  step('dashboard: publish through the API, and create a webhook endpoint and a job');
  // An endpoint nobody listens on (the hub under test allows loopback): it shows up failing, with its last error.
  const hook = await api('POST', '/v1/webhooks', { url: 'http://127.0.0.1:9/hook', topics: ['dash.orders'] });
  await api('POST', '/v1/jobs', { type: 'thumbnail', input: {} });
  const published = 25;
  for (let i = 0; i < published; i++) {
    await api('POST', '/v1/topics/dash.orders/events', { type: 'order.created', data: { n: i } });
  }

  step('dashboard: the counter and the charts move');
  await page.waitForFunction((target) => Number(document.getElementById('published-total').textContent) >= target, before + published);
  await page.waitForFunction(() => Number(document.getElementById('chart-rates').dataset.max) > 0);
  await page.waitForFunction(() => Number(document.getElementById('chart-connections').dataset.points) > 1);
  await page.locator('#topics tbody td', { hasText: 'dash.orders' }).first().waitFor();
  await page.locator('#jobs tbody td', { hasText: 'thumbnail' }).first().waitFor();
  await page.locator('#webhooks tbody td', { hasText: hook.id }).first().waitFor();
  await page.locator('#webhooks tbody td.error', { hasText: /./ }).first().waitFor();
  const connections = number(await page.locator('#connections-total').textContent());
  check(connections >= 1, `the dashboard's own stream should count as a connection, saw ${connections}`);
  summary.observed.dashboard = {
    publishedBefore: before,
    publishedAfter: number(await page.locator('#published-total').textContent()),
    rateChartMax: Number(await page.locator('#chart-rates').getAttribute('data-max')),
  };
  const file = path.join(shotDir, 'dashboard.png');
  await page.screenshot({ path: file, fullPage: true });
  summary.screenshots.push(file);
}

async function playground() {
  step('playground: open and start');
  const page = await openPage('playground');
  await page.goto(`${baseUrl}/playground`);
  await page.locator('#topic').fill('pg.browser');
  await page.locator('#rate').selectOption('10');
  await page.locator('#interval').selectOption('500');
  await page.locator('#start').click();
  await page.locator('#status.live').waitFor();

  step('playground: all five columns receive events, with latencies');
  const transports = ['short_poll', 'long_poll', 'sse', 'websocket', 'webhook'];
  await page.waitForFunction((keys) => keys.every((key) => {
    const stat = (name) => document.querySelector(`[data-transport="${key}"] [data-stat="${name}"]`)?.textContent ?? '';
    return Number(stat('received')) >= 5 && /\d+ ms/.test(stat('p50')) && /\d+ ms/.test(stat('p99')) && Number(stat('requests')) >= 1;
  }), transports);
  // The short poll shows its cost: more requests than a push transport, some of them empty.
  await page.waitForFunction(() => Number(document.querySelector('[data-transport="short_poll"] [data-stat="requests"]').textContent) >= 4);

  summary.observed.playground = {};
  for (const key of transports) {
    const stat = async (name) => page.locator(`[data-transport="${key}"] [data-stat="${name}"]`).textContent();
    summary.observed.playground[key] = {
      received: await stat('received'), p50: await stat('p50'), p99: await stat('p99'), requests: await stat('requests'), bytes: await stat('bytes'),
    };
  }
  const file = path.join(shotDir, 'playground.png');
  await page.screenshot({ path: file, fullPage: true });
  summary.screenshots.push(file);

  step('playground: stop ends the session and its webhook endpoint');
  await page.locator('#stop').click();
  await page.locator('#status', { hasText: 'stopped' }).waitFor();
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  for (;;) {
    const list = await api('GET', '/v1/webhooks');
    if (!list.data.some((endpoint) => endpoint.url.includes('/playground/sink/'))) break;
    check(Date.now() < deadline, 'the playground webhook endpoint was not deleted after stop');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

try {
  browser = await launch();
  await dashboard();
  await playground();
  check(summary.pageErrors.length === 0, `errors on the pages: ${summary.pageErrors.join(' | ')}`);
  await finish(0);
} catch (error) {
  summary.error = `${summary.steps.at(-1) ?? 'start'}: ${error?.stack ?? error}`;
  await finish(1);
}
