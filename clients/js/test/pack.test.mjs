// `npm pack` makes an installable package: install the tarball (not this folder) into a fresh project,
// import it by name, type-check a TypeScript file against its declarations, and use it against the hub.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HUB, uniqueTopic } from './helpers.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');

test('npm pack produces a tarball that installs into a fresh project, imports by name, type-checks, subscribes and publishes', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchboard-pack-'));
  try {
    const [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: root, encoding: 'utf8' }));
    assert.deepEqual(packed.files.map(f => f.path).sort(), ['README.md', 'dist/client.d.ts', 'dist/client.js', 'package.json']);

    const project = path.join(dir, 'app');
    mkdirSync(project);
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
    // --offline: the package has no runtime dependencies, so nothing may need the registry.
    execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', path.join(dir, packed.filename)], { cwd: project, encoding: 'utf8' });
    const installed = JSON.parse(readFileSync(path.join(project, 'node_modules', '@switchboard', 'client', 'package.json'), 'utf8'));
    assert.equal(installed.version, packed.version);
    assert.equal(installed.dependencies, undefined);

    // Types: the declarations resolve through the package's "exports" under Node's own resolution, and they are real types
    // (a wrong use is an error, which an untyped `any` import would not give).
    writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022', 'dom'], strict: true, noEmit: true, types: [] } }),
    );
    writeFileSync(
      path.join(project, 'typed.ts'),
      `import { Switchboard, SwitchboardError, type HubEvent, type Subscription, type TransportName } from '@switchboard/client';
       const hub = new Switchboard('http://localhost:8080', { transports: ['sse', 'poll'], cursorStore: null });
       const sub: Subscription = hub.subscribe(['orders.>'], { after: 'earliest' }, (e: HubEvent) => console.log(e.seq + 1, e.cursor.length));
       const transport: TransportName | undefined = sub.transport;
       sub.on('reset', (r: { reason: string; cursor: string }) => console.log(r.reason, transport));
       const ended: Promise<SwitchboardError | undefined> = sub.closed;
       export { ended };
      `,
    );
    const typed = spawnSync(process.execPath, [tsc, '-p', '.'], { cwd: project, encoding: 'utf8' });
    assert.equal(typed.status, 0, `tsc --noEmit failed:\n${typed.stdout}${typed.stderr}`);
    writeFileSync(
      path.join(project, 'typed.ts'),
      `import { Switchboard } from '@switchboard/client';
       new Switchboard('http://localhost:8080', { transports: ['carrier-pigeon'] });
      `,
    );
    const wrong = spawnSync(process.execPath, [tsc, '-p', '.'], { cwd: project, encoding: 'utf8' });
    assert.notEqual(wrong.status, 0, 'tsc accepted a transport that does not exist: the declarations were not used');
    assert.match(wrong.stdout, /carrier-pigeon/);

    // Node 20 has no WebSocket and the project installed none, so auto starts at SSE.
    const topic = uniqueTopic();
    writeFileSync(
      path.join(project, 'main.mjs'),
      `import { Switchboard } from '@switchboard/client';
       const hub = new Switchboard(${JSON.stringify(HUB)}, { cursorStore: null });
       const sub = hub.subscribe([${JSON.stringify(topic)}], { after: 'earliest' });
       sub.on('open', t => console.log(JSON.stringify({ open: t })));
       // The iterator yields what arrives once it exists: take it before awaiting the publish.
       const events = sub[Symbol.asyncIterator]();
       const published = await hub.publish(${JSON.stringify(topic)}, { packed: 'ü 🎉' }, { type: 'pack.test' });
       console.log(JSON.stringify({ published }));
       console.log(JSON.stringify({ received: (await events.next()).value }));
       sub.close();`,
    );
    const out = execFileSync('node', ['main.mjs'], { cwd: project, encoding: 'utf8', timeout: 30000 });
    const lines = out.trim().split('\n').map(l => JSON.parse(l));
    const published = lines.find(l => l.published).published;
    const received = lines.find(l => l.received).received;
    assert.deepEqual(lines.find(l => l.open), { open: 'sse' });
    assert.equal(published.topic, topic);
    assert.deepEqual(published.data, { packed: 'ü 🎉' });
    assert.deepEqual(
      { seq: received.seq, topic: received.topic, type: received.type, data: received.data },
      { seq: published.seq, topic, type: 'pack.test', data: { packed: 'ü 🎉' } },
    );
    assert.ok(received.cursor);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
