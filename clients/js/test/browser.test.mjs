// The client in real headless Chromium, imported from the hub's own /v1/client.js: receive events, and a reload
// resumes from the cursor kept in localStorage (no gap, no duplicate).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HUB, uniqueTopic, publishBatch } from './helpers.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// playwright-core is installed for the browser scripts in tests/node (scripts/test.sh runs npm ci there).
const testsNode = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../tests/node/package.json');
const skip = !existsSync(CHROMIUM) ? `no Chromium at ${CHROMIUM}` : !existsSync(path.join(path.dirname(testsNode), 'node_modules/playwright-core')) ? 'tests/node has no playwright-core' : false;

test('Chromium: import /v1/client.js, receive over WebSocket, and a reload resumes from localStorage', { skip, timeout: 60000 }, async () => {
  const { chromium } = createRequire(testsNode)('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage();
    page.on('console', m => process.stderr.write(`page: ${m.text()}\n`));
    await page.goto(`${HUB}/v1/health`); // any page of the hub's origin, so the import and localStorage are the hub's
    const topic = uniqueTopic();
    const first = await publishBatch(topic, [1, 2, 3]);

    // In the page: subscribe with a key, collect until `count` events, then report what arrived.
    const collect = (count) =>
      page.evaluate(
        async ({ topic, count }) => {
          const { Switchboard } = await import('/v1/client.js');
          const hub = new Switchboard(location.origin, { backoff: { initial: 20, max: 200 } });
          const seen = [];
          const sub = hub.subscribe([topic], { after: 'earliest', key: 'browser-test' });
          await new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`only ${seen.length} events on ${sub.transport}`)), 20000);
            sub.on('event', e => {
              seen.push(e.seq);
              if (seen.length === count) {
                clearTimeout(timer);
                resolve();
              }
            });
            sub.on('error', e => e.fatal && reject(e));
          });
          const transport = sub.transport;
          sub.close();
          return { seen, transport, stored: localStorage.getItem('switchboard.cursor.browser-test') };
        },
        { topic, count },
      );

    const one = await collect(3);
    assert.deepEqual(one.seen, first.map(e => e.seq));
    assert.equal(one.transport, 'websocket');
    assert.ok(one.stored, 'the cursor is in localStorage');

    const more = await publishBatch(topic, [4, 5]);
    await page.reload();
    const two = await collect(2);
    assert.deepEqual(two.seen, more.map(e => e.seq), 'after the reload: only the events published since');
  } finally {
    await browser.close();
  }
});
