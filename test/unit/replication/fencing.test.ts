import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { verdictOf } from '../../../src/replication/fencing.js';

describe('fencing verdicts', () => {
  it('lets the primary write alone only when a secondary says its copy is not up to date', () => {
    assert.deepEqual(verdictOf({ ok: true, role: 'secondary', diskState: 'outdated' }), {
      kind: 'confirmed',
      peerDisk: 'outdated',
    });
    assert.deepEqual(verdictOf({ ok: true, role: 'secondary', diskState: 'inconsistent' }), {
      kind: 'confirmed',
      peerDisk: 'inconsistent',
    });
    assert.deepEqual(verdictOf(null), { kind: 'no-answer' });
  });

  it('takes every other answer as a refusal (the peer serves or may)', () => {
    const refusals = [
      { ok: true, role: 'primary', diskState: 'up-to-date' }, // it took over already
      { ok: true, role: 'secondary', diskState: 'up-to-date' }, // it did not outdate
      { ok: true, role: 'secondary', diskState: 'consistent' },
      { ok: true, role: 'secondary' },
      { ok: true, diskState: 'outdated' },
      { ok: false, role: 'primary', error: 'this node is active' },
      { ok: false, error: 'no such task' },
      { ok: 'true', role: 'secondary', diskState: 'outdated' },
      {},
    ];
    for (const reply of refusals) assert.equal(verdictOf(reply).kind, 'refused', JSON.stringify(reply));
  });
});
