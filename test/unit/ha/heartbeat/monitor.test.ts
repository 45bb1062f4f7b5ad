// Two real monitors (each with its worker thread) exchanging beats over 127.0.0.1.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { HeartbeatMonitor } from '../../../../src/ha/heartbeat/monitor.js';
import type { MonitorSnapshot } from '../../../../src/ha/heartbeat/types.js';
import { SECRET, link, monitorFor, pairPorts, waitFor } from './pair.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const bothAlive = (s: MonitorSnapshot): boolean => s.links.every((l) => l.alive);

describe('heartbeat monitor', () => {
  it('exchanges beats and adverts on both links and measures them', async (t) => {
    const ports = await pairPorts();
    const alpha = monitorFor(t, 'alpha', ports, { term: 1, advert: { role: 'primary' } });
    const beta = monitorFor(t, 'beta', ports);
    await Promise.all([alpha.start(), beta.start()]);
    const seen = await waitFor(
      beta,
      (s) => bothAlive(s) && s.peer.advert?.['role'] === 'primary',
      3000,
      'first advert',
    );
    assert.equal(seen.peer.term, 1);
    assert.equal(seen.peer.name, 'alpha');
    assert.equal(seen.peer.bootId, alpha.snapshot().bootId);

    alpha.setAdvert(2, { role: 'primary', disk: 'up-to-date' });
    alpha.beatNow();
    const changed = await waitFor(beta, (s) => s.peer.term === 2, 1000, 'the new term');
    assert.deepEqual(changed.peer.advert, { role: 'primary', disk: 'up-to-date' });

    await sleep(1200); // enough beats for RTT, offset and jitter samples
    const view = beta.snapshot();
    for (const name of ['data', 'aux'] as const) {
      const l = link(view, name);
      assert.ok(l.alive, `${name} alive`);
      assert.ok(l.rttMs !== null && l.rttMs >= 0 && l.rttMs < 100, `${name} rtt ${l.rttMs}`);
      assert.ok(
        l.clockOffsetMs !== null && Math.abs(l.clockOffsetMs) < 50,
        `${name} offset ${l.clockOffsetMs}`,
      );
      assert.ok(
        l.jitter.samples >= 5 && l.jitter.p50 !== null && l.jitter.p50 < 50,
        JSON.stringify(l.jitter),
      );
      assert.ok(l.counters.received >= 10 && l.counters.sent >= 10, JSON.stringify(l.counters));
      assert.deepEqual(l.counters.rejected, {});
    }
  });

  it('reports the peer dead within the dead time after it stops, and alive again when it returns', async (t) => {
    const ports = await pairPorts();
    const alpha = monitorFor(t, 'alpha', ports);
    const beta = monitorFor(t, 'beta', ports);
    await Promise.all([alpha.start(), beta.start()]);
    await waitFor(alpha, bothAlive, 3000, 'both links alive');
    const firstBoot = alpha.snapshot().peer.bootId;
    await beta.stop();
    const stoppedAt = Date.now();
    assert.ok(
      !beta.snapshot().peer.alive && beta.snapshot().links.every((l) => !l.alive),
      'a stopped monitor knows nothing',
    );
    const dead = await waitFor(alpha, (s) => !s.peer.alive, 2000, 'peer dead');
    const took = Date.now() - stoppedAt;
    assert.ok(dead.links.every((l) => !l.alive));
    // Dead means nothing for longer than the dead time (500 ms), and it is noticed within a tick or
    // two of that: well under 1.5 s after the stop even on a loaded machine.
    assert.ok(
      dead.links.every((l) => l.lastHeardAgoMs !== null && l.lastHeardAgoMs > 500),
      JSON.stringify(dead.links),
    );
    assert.ok(took < 1500, `went dead ${took} ms after the stop`);

    const again = monitorFor(t, 'beta', ports); // a restart: new boot id, seqs from 1 again
    await again.start();
    const back = await waitFor(alpha, bothAlive, 3000, 'peer back');
    assert.notEqual(back.peer.bootId, firstBoot);
    assert.equal(back.peer.bootId, again.snapshot().bootId);
  });

  it('keeps the other link alive when one is cut', async (t) => {
    const ports = await pairPorts();
    const alpha = monitorFor(t, 'alpha', ports);
    const beta = monitorFor(t, 'beta', ports);
    await Promise.all([alpha.start(), beta.start()]);
    await waitFor(alpha, bothAlive, 3000, 'both links alive');
    beta.setLinkEnabled('aux', false);
    const cut = await waitFor(alpha, (s) => !link(s, 'aux').alive, 2000, 'aux dead at alpha');
    assert.ok(link(cut, 'data').alive && cut.peer.alive);
    const cutAtBeta = await waitFor(beta, (s) => !link(s, 'aux').alive, 2000, 'aux dead at beta');
    assert.ok(link(cutAtBeta, 'data').alive);
    assert.equal(link(cutAtBeta, 'aux').enabled, false);
    await sleep(300);
    assert.ok(link(alpha.snapshot(), 'data').alive, 'data stays alive');
    beta.setLinkEnabled('aux', true);
    await waitFor(alpha, bothAlive, 2000, 'aux back');
    assert.throws(() => beta.setLinkEnabled('bogus' as 'aux', false), /no heartbeat link named bogus/);
  });

  it('never trusts a peer with the wrong secret', async (t) => {
    const ports = await pairPorts();
    const alpha = monitorFor(t, 'alpha', ports);
    const beta = monitorFor(t, 'beta', ports, {
      secret: Buffer.from('not the pair secret, but long enough'),
    });
    await Promise.all([alpha.start(), beta.start()]);
    await sleep(800);
    const view = alpha.snapshot();
    assert.ok(!view.peer.alive && view.peer.advert === null);
    for (const l of view.links) {
      assert.ok(!l.alive);
      assert.equal(l.counters.received, 0);
      assert.ok((l.counters.rejected['bad-mac'] ?? 0) >= 4, JSON.stringify(l.counters));
    }
  });

  it('drops a replayed datagram', async (t) => {
    const ports = await pairPorts();
    const alpha = monitorFor(t, 'alpha', ports);
    await alpha.start();
    // A genuine "beta" whose aux link sends to a recorder socket instead of to alpha.
    const recorderSocket = createSocket('udp4');
    t.after(() => new Promise<void>((resolve) => recorderSocket.close(() => resolve())));
    await new Promise<void>((resolve) => recorderSocket.bind(0, '127.0.0.1', resolve));
    const recorded = new Promise<Buffer>((resolve) => recorderSocket.once('message', resolve));
    const beta = new HeartbeatMonitor({
      nodeName: 'beta',
      peerName: 'alpha',
      secret: SECRET,
      intervalMs: 100,
      deadTimeMs: 500,
      links: [
        {
          name: 'aux',
          local: { host: '127.0.0.1', port: 0 },
          peer: { host: '127.0.0.1', port: recorderSocket.address().port },
        },
      ],
    });
    t.after(() => beta.stop());
    await beta.start();
    const bytes = await recorded;
    await beta.stop();
    const replay = (): Promise<void> =>
      new Promise((resolve) => recorderSocket.send(bytes, ports.alpha.aux, '127.0.0.1', () => resolve()));

    await replay(); // first copy: genuine and new to alpha
    await waitFor(alpha, (s) => link(s, 'aux').counters.received === 1, 2000, 'first copy accepted');
    await replay();
    await replay();
    const view = await waitFor(
      alpha,
      (s) => link(s, 'aux').counters.rejected['replayed'] === 2,
      2000,
      'two replays refused',
    );
    assert.equal(link(view, 'aux').counters.received, 1);
  });
});
