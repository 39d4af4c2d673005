// `npm pack` makes an installable package: install the tarball into a fresh project and use it against the hub.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HUB, uniqueTopic } from './helpers.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

test('npm pack produces a tarball that installs into a fresh project, imports by name and publishes', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchboard-pack-'));
  try {
    const name = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: root, encoding: 'utf8' }).trim().split('\n').pop();
    const project = path.join(dir, 'app');
    execFileSync('mkdir', ['-p', project]);
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', path.join(dir, name)], { cwd: project, encoding: 'utf8' });
    const topic = uniqueTopic();
    writeFileSync(
      path.join(project, 'main.mjs'),
      `import { Switchboard } from '@switchboard/client';
       const hub = new Switchboard(${JSON.stringify(HUB)});
       const event = await hub.publish(${JSON.stringify(topic)}, { packed: true });
       console.log(JSON.stringify(event));`,
    );
    const out = execFileSync('node', ['main.mjs'], { cwd: project, encoding: 'utf8' });
    const event = JSON.parse(out.trim());
    assert.equal(event.topic, topic);
    assert.deepEqual(event.data, { packed: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
