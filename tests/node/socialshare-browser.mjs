// Browser test: the SocialShare sample page in headless Chromium against a running SocialShare.Web (and hub and worker).
//
// Usage: node socialshare-browser.mjs <webBaseUrl>
//
//   1. SSE mode: a write job; its text must grow while the job is running (seen part-way), and end as the
//      prompt's words followed by the rest, after exactly one stream connection.
//   2. Polling mode: a share job; it must succeed with a post URL, after at least one poll.
//   3. No page errors.
//
// Prints one JSON summary line to stdout and exits 0 only if every step passed (1 otherwise, 2 for bad usage).

import { chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const STEP_TIMEOUT_MS = 15_000;
const baseArg = process.argv[2];
if (!baseArg) {
  process.stderr.write('usage: node socialshare-browser.mjs <webBaseUrl>\n');
  process.exit(2);
}

const baseUrl = baseArg.replace(/\/+$/, '');
const summary = { passed: false, steps: [], pageErrors: [], counters: null, error: null };
const overall = setTimeout(() => { summary.error = 'overall timeout'; done(1); }, 60_000);
let browser;

async function done(code) {
  clearTimeout(overall);
  try { await browser?.close(); } catch { /* already gone */ }
  process.stdout.write(JSON.stringify(summary) + '\n');
  process.exit(code);
}

const counter = (page, id) => page.$eval('#' + id, (node) => Number(node.textContent));

try {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  const page = await browser.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.on('pageerror', (error) => summary.pageErrors.push(String(error)));
  await page.goto(baseUrl + '/');
  summary.steps.push('opened');

  await page.check('input[name=mode][value=stream]');
  await page.fill('#write-prompt', 'Browser test');
  await page.fill('#write-words', '30');
  await page.click('#write button');
  await page.waitForFunction(() => {
    const job = document.querySelector('.job');
    return job && job.dataset.status === 'running' && job.querySelector('.text').textContent.length > 0;
  });
  const partial = await page.$eval('.job .text', (node) => node.textContent);
  await page.waitForSelector('.job[data-status=succeeded]');
  const text = await page.$eval('.job .text', (node) => node.textContent);
  if (!text.startsWith('Browser test ') || text.split(' ').length !== 30) throw new Error(`unexpected text: ${text}`);
  if (!(partial.length < text.length && text.startsWith(partial))) throw new Error(`no progressive rendering: "${partial}" then "${text}"`);
  if (await counter(page, 'connections') !== 1) throw new Error('expected exactly one stream connection');
  summary.steps.push('write streamed');

  await page.check('input[name=mode][value=poll]');
  await page.fill('#share-text', 'Hello from Chromium');
  await page.click('#share button');
  await page.waitForFunction(() => document.querySelectorAll('.job').length === 2 && document.querySelector('.job').dataset.status === 'succeeded');
  const result = await page.$eval('.job .result', (node) => node.textContent);
  if (!result.startsWith('posted: https://mastodon.example/posts/')) throw new Error(`unexpected result: ${result}`);
  if (await counter(page, 'polls') < 1) throw new Error('expected at least one poll');
  summary.steps.push('share polled');

  summary.counters = Object.fromEntries(await Promise.all(
    ['requests', 'polls', 'unchanged', 'connections', 'events'].map(async (id) => [id, await counter(page, id)])));
  if (summary.pageErrors.length > 0) throw new Error('page errors: ' + summary.pageErrors.join('; '));
  summary.passed = true;
  await done(0);
} catch (error) {
  summary.error = String(error?.stack ?? error);
  await done(1);
}
