// The executor's order (promote, duplicate-address check, add the address, serve; release the other
// way round) and its rollback; and the failover settings' validation.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyConfig, EMPTY_CONFIG, witnessTtlSeconds } from '../../../../src/ha/failover/config.js';
import { release, takeOver, type FailoverResources } from '../../../../src/ha/failover/executor.js';
import { conflict, TandemError } from '../../../../src/lib/errors.js';

function recorder(options: { inUse?: boolean; failOn?: string } = {}): {
  calls: string[];
  resources: FailoverResources;
} {
  const calls: string[] = [];
  const step = (name: string) => () => {
    calls.push(name);
    if (options.failOn === name) return Promise.reject(new Error(`${name} failed`));
    return Promise.resolve();
  };
  return {
    calls,
    resources: {
      holdReplication: (task) => step(`hold ${task}`)(),
      releaseHold: (task) => step(`unhold ${task}`)(),
      promote: (task) => step(`promote ${task}`)(),
      demote: (task) => step(`demote ${task}`)(),
      acquireVirtualIp: () => {
        calls.push('acquire');
        if (options.inUse === true) return Promise.reject(conflict('vip-in-use', 'someone answers'));
        return step('acquire-done')().then(() => undefined);
      },
      releaseVirtualIp: step('release-ip'),
      openPortal: step('open'),
      closePortal: step('close'),
    },
  };
}

describe('failover executor', () => {
  it('takes over in order: hold (peer gone), promote, address (after its duplicate check), portal', async () => {
    const { calls, resources } = recorder();
    const steps = await takeOver(resources, ['t1', 't2'], { holdPeer: true });
    assert.deepEqual(calls, [
      'hold t1',
      'hold t2',
      'promote t1',
      'promote t2',
      'acquire',
      'acquire-done',
      'open',
    ]);
    assert.equal(steps.length, 6);
  });

  it('does not hold replication on a handover', async () => {
    const { calls, resources } = recorder();
    await takeOver(resources, ['t1'], { holdPeer: false });
    assert.deepEqual(calls, ['promote t1', 'acquire', 'acquire-done', 'open']);
  });

  it('refuses an address someone holds, and demotes what it promoted', async () => {
    const { calls, resources } = recorder({ inUse: true });
    await assert.rejects(takeOver(resources, ['t1', 't2'], { holdPeer: false }), (error: unknown) => {
      assert.ok(error instanceof TandemError);
      assert.equal(error.code, 'vip-in-use');
      return true;
    });
    assert.deepEqual(calls, ['promote t1', 'promote t2', 'acquire', 'demote t2', 'demote t1']);
  });

  it('lifts the replication holds it added when a later step fails (nothing stays held)', async () => {
    const { calls, resources } = recorder({ inUse: true });
    await assert.rejects(takeOver(resources, ['t1', 't2'], { holdPeer: true }), /someone answers/);
    assert.deepEqual(calls, [
      'hold t1',
      'hold t2',
      'promote t1',
      'promote t2',
      'acquire',
      'demote t2',
      'demote t1',
      'unhold t2',
      'unhold t1',
    ]);
  });

  it('undoes the address when the portal cannot open', async () => {
    const { calls, resources } = recorder({ failOn: 'open' });
    await assert.rejects(takeOver(resources, ['t1'], { holdPeer: false }), /open failed/);
    assert.deepEqual(calls, ['promote t1', 'acquire', 'acquire-done', 'open', 'release-ip', 'demote t1']);
  });

  it('releases in reverse order and runs every step even when one fails', async () => {
    const { calls, resources } = recorder({ failOn: 'release-ip' });
    await assert.rejects(release(resources, ['t1', 't2']), (error: unknown) => {
      assert.match(String(error), /release-ip failed/);
      const steps = (error as { steps: { step: string; error?: string }[] }).steps;
      assert.equal(steps.filter((s) => s.error !== undefined).length, 1);
      return true;
    });
    assert.deepEqual(calls, ['close', 'release-ip', 'demote t2', 'demote t1']);
  });
});

describe('failover settings', () => {
  const own = ['198.18.0.1', '198.18.1.1', '127.0.0.1'];
  const complete = {
    dataLocal: '198.18.0.1',
    dataPeer: '198.18.0.2',
    auxLocal: '198.18.1.1:7790',
    auxPeer: '198.18.1.2:7790',
    pingNodes: ['198.18.0.254'],
    tasks: ['mirror1'],
  };

  it('accepts a complete setting, adding the default heartbeat port', () => {
    const config = applyConfig(EMPTY_CONFIG, { ...complete, enabled: true }, own);
    assert.equal(config.links.data.local, '198.18.0.1:7790');
    assert.equal(config.deadTimeMs, 2500);
    assert.equal(config.intervalMs, 500);
  });

  const refusals: [string, object, string][] = [
    ['a ping node that is this node', { pingNodes: ['198.18.0.1'] }, 'ping-node-is-self'],
    ['a ping node that is the peer', { pingNodes: ['198.18.0.2'] }, 'ping-node-is-peer'],
    ['a ping node that is not IPv4', { pingNodes: ['router.local'] }, 'bad-ping-node'],
    ['a link address that is not an address', { dataPeer: 'peer; rm -rf /' }, 'bad-address'],
    ['a wildcard link address', { auxLocal: '0.0.0.0:7790' }, 'bad-address'],
    ['a dead time under three intervals', { intervalMs: 1000, deadTimeMs: 2000 }, 'bad-dead-time'],
    ['an interval under 100 ms', { intervalMs: 50 }, 'bad-interval'],
    ['the same local address for both links', { auxLocal: '198.18.0.1:7790' }, 'same-link'],
    ['a task name with a slash', { tasks: ['a/b'] }, 'invalid-name'],
    ['enabled without a ping node', { pingNodes: [] }, 'no-ping-node'],
    ['enabled without tasks', { tasks: [] }, 'no-tasks'],
    ['a witness that is not a URL', { witness: ['198.18.0.4:2379'] }, 'bad-witness'],
    ['a witness over another scheme', { witness: ['https://198.18.0.4:2379'] }, 'bad-witness'],
    ['a witness without a port', { witness: ['http://198.18.0.4'] }, 'bad-witness'],
    ['a witness URL with a path', { witness: ['http://198.18.0.4:2379/v3'] }, 'bad-witness'],
    ['a witness URL with credentials', { witness: ['http://u:p@198.18.0.4:2379'] }, 'bad-witness'],
  ];
  for (const [what, change, code] of refusals) {
    it(`refuses ${what}`, () => {
      assert.throws(
        () => applyConfig(EMPTY_CONFIG, { ...complete, ...change, enabled: true }, own),
        (error: unknown) =>
          error instanceof TandemError &&
          error.kind === 'invalid' &&
          (error.code === code || code === 'invalid-name'),
      );
    });
  }

  it('keeps witness endpoints as etcd client URLs, and a lease shorter than the dead time', () => {
    const config = applyConfig(EMPTY_CONFIG, { ...complete, witness: ['http://198.18.0.4:2379/'] }, own);
    assert.deepEqual(config.witness, ['http://198.18.0.4:2379']);
    assert.deepEqual(applyConfig(config, { witness: [] }, own).witness, []);
    assert.equal(witnessTtlSeconds(config), 2);
    assert.equal(witnessTtlSeconds({ deadTimeMs: 900 }), 1);
    assert.ok(witnessTtlSeconds({ deadTimeMs: 10_000 }) * 1000 <= 10_000);
  });

  it('leaves the current settings untouched when it refuses', () => {
    const current = applyConfig(EMPTY_CONFIG, { ...complete, enabled: true }, own);
    const before = JSON.stringify(current);
    assert.throws(() => applyConfig(current, { pingNodes: ['198.18.0.2'] }, own));
    assert.equal(JSON.stringify(current), before);
  });
});
