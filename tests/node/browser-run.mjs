// What every headless-Chromium test script shares: the step log, the JSON summary on stdout, screenshots of every
// open page when a run fails, an overall timeout, and the one way Chromium is started (the flags CI requires).
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

/**
 * One run of a browser script named `name`. `summary` is printed as JSON when the run finishes; failure screenshots
 * go to `shotDir` as `<name>-failure-<page>.png`. Register pages in `pages` so a failure captures them.
 */
export function createRun({ name, summary, shotDir, timeoutMs, stepTimeoutMs, fullPageShots = false }) {
  const pages = {};
  let browser;
  let finished = false;

  const step = (text) => {
    summary.steps.push(text);
    process.stderr.write(`${name}: ${text}\n`);
  };

  const finish = async (code) => {
    if (finished) return;
    finished = true;
    clearTimeout(overallTimer);
    if (code !== 0) {
      for (const [who, page] of Object.entries(pages)) {
        try {
          const file = path.join(shotDir, `${name.replace(/-browser$/, '')}-failure-${who}.png`);
          await page.screenshot({ path: file, fullPage: fullPageShots, timeout: 5_000 });
          summary.screenshots.push(file);
        } catch {
          // the page may be gone
        }
      }
    }
    try {
      await browser?.close();
    } catch (error) {
      process.stderr.write(`${name}: closing the browser failed: ${error}\n`);
    }
    summary.passed = code === 0;
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    process.exit(code);
  };

  const overallTimer = setTimeout(() => {
    summary.error = `timed out after ${timeoutMs} ms (last step: ${summary.steps.at(-1) ?? 'none'})`;
    void finish(1);
  }, timeoutMs);

  /** Starts Chromium (creating the screenshot folder first) and returns the browser. */
  const launch = async () => {
    await mkdir(shotDir, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      timeout: stepTimeoutMs,
    });
    return browser;
  };

  return { pages, step, finish, launch };
}
