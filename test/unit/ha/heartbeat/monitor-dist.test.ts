// The compiled monitor (dist/, what `bin/tandem` runs) must start its compiled worker, and talk to a
// monitor running from the TypeScript sources. Needs `npx tsc -p tsconfig.build.json` first
// (scripts/test.mjs builds before testing).
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { link, monitorFor, pairPorts, waitFor, SECRET } from './pair.js';

type MonitorModule = typeof import('../../../../src/ha/heartbeat/monitor.js');

const compiled = new URL('../../../../dist/ha/heartbeat/monitor.js', import.meta.url);
const compiledWorker = new URL('../../../../dist/ha/heartbeat/monitor-worker.js', import.meta.url);

it('runs from dist/ with the compiled worker and interoperates with the sources', async (t) => {
  assert.ok(
    existsSync(fileURLToPath(compiled)) && existsSync(fileURLToPath(compiledWorker)),
    'dist/ha/heartbeat is missing: run `npx tsc -p tsconfig.build.json` first',
  );
  const { HeartbeatMonitor } = (await import(compiled.href)) as MonitorModule;
  const ports = await pairPorts();
  const fromDist = new HeartbeatMonitor({
    nodeName: 'alpha',
    peerName: 'beta',
    secret: SECRET,
    intervalMs: 100,
    deadTimeMs: 500,
    advert: { build: 'dist' },
    links: (['data', 'aux'] as const).map((name) => ({
      name,
      local: { host: '127.0.0.1', port: ports.alpha[name] },
      peer: { host: '127.0.0.1', port: ports.beta[name] },
    })),
  });
  t.after(() => fromDist.stop());
  const fromSources = monitorFor(t, 'beta', ports, { advert: { build: 'tsx' } });
  await Promise.all([fromDist.start(), fromSources.start()]);
  fromSources.onRequest((body) => ({ seen: body['from'] ?? null }));
  const atSources = await waitFor(
    fromSources,
    (s) => s.peer.advert?.['build'] === 'dist',
    3000,
    'dist advert',
  );
  assert.ok(link(atSources, 'data').alive || link(atSources, 'aux').alive);
  const atDist = await waitFor(
    fromDist,
    (s) => s.peer.advert?.['build'] === 'tsx' && s.links.every((l) => l.alive),
    3000,
    'tsx advert',
  );
  assert.equal(atDist.peer.name, 'beta');
  assert.deepEqual(await fromDist.request({ from: 'dist' }, 2000), { seen: 'dist' });
  await fromDist.stop();
  await waitFor(fromSources, (s) => !s.peer.alive, 2000, 'dist monitor gone');
});
