import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  canAutoPromote,
  canDemote,
  canPromote,
  DISK_EVENTS,
  diskStateAfter,
  type DiskEvent,
  type PromoteInput,
} from '../../../../src/replication/state/rules.js';
import {
  DISK_STATES,
  type ConnectionState,
  type DiskState,
} from '../../../../src/replication/state/types.js';

const CONNECTION_STATES: readonly ConnectionState[] = [
  'standalone',
  'connecting',
  'connected',
  'sync-source',
  'sync-target',
  'verifying',
];

const alone = (diskState: DiskState): PromoteInput => ({
  diskState,
  connection: 'standalone',
  peerRole: 'unknown',
  peerDiskState: 'unknown',
});

const promoteInput = fc.record({
  diskState: fc.constantFrom(...DISK_STATES),
  connection: fc.constantFrom(...CONNECTION_STATES),
  peerRole: fc.constantFrom('primary' as const, 'secondary' as const, 'unknown' as const),
  peerDiskState: fc.constantFrom(...DISK_STATES),
});

describe('canPromote', () => {
  it('promotes an up-to-date disk without force', () => {
    assert.deepEqual(canPromote(alone('up-to-date'), false), { ok: true });
    const connected: PromoteInput = {
      diskState: 'up-to-date',
      connection: 'sync-source',
      peerRole: 'secondary',
      peerDiskState: 'inconsistent',
    };
    assert.deepEqual(canPromote(connected, false), { ok: true });
  });

  it('needs force for a consistent or outdated disk, and warns when forced', () => {
    for (const state of ['consistent', 'outdated'] as const) {
      const refused = canPromote(alone(state), false);
      assert.ok(!refused.ok && refused.reason.includes('force'), state);
      const forced = canPromote(alone(state), true);
      assert.ok(forced.ok && forced.warning?.includes('lost'), state);
    }
  });

  it('never promotes a half-synced sync target, even with force', () => {
    const input: PromoteInput = {
      diskState: 'inconsistent',
      connection: 'sync-target',
      peerRole: 'secondary',
      peerDiskState: 'up-to-date',
    };
    for (const force of [false, true]) {
      const result = canPromote(input, force);
      assert.ok(!result.ok && result.reason.includes('half synced'));
    }
    const cutOff = canPromote(alone('inconsistent'), true);
    assert.ok(!cutOff.ok && cutOff.reason.includes('inconsistent'));
  });

  it('never makes a second primary, even with force', () => {
    const input: PromoteInput = {
      diskState: 'up-to-date',
      connection: 'connected',
      peerRole: 'primary',
      peerDiskState: 'up-to-date',
    };
    const result = canPromote(input, true);
    assert.ok(!result.ok && result.reason.includes('peer is primary'));
  });

  it('does not force a stale disk past a connected up-to-date peer', () => {
    const input: PromoteInput = {
      diskState: 'outdated',
      connection: 'connected',
      peerRole: 'secondary',
      peerDiskState: 'up-to-date',
    };
    assert.ok(!canPromote(input, true).ok);
  });

  it('force only ever adds permission, and only for consistent or outdated disks', () => {
    fc.assert(
      fc.property(promoteInput, (input) => {
        const plain = canPromote(input, false);
        const forced = canPromote(input, true);
        if (plain.ok) assert.ok(forced.ok);
        if (forced.ok && !plain.ok)
          assert.ok(input.diskState === 'consistent' || input.diskState === 'outdated');
        if (forced.ok) assert.notEqual(input.peerRole, 'primary');
        if (plain.ok) assert.equal(input.diskState, 'up-to-date');
      }),
    );
  });
});

describe('canAutoPromote', () => {
  it('allows only an up-to-date disk and never over a primary peer', () => {
    assert.deepEqual(canAutoPromote(alone('up-to-date')), { ok: true });
    for (const state of ['consistent', 'outdated', 'inconsistent', 'unknown'] as const) {
      assert.equal(canAutoPromote(alone(state)).ok, false, state);
    }
    assert.equal(canAutoPromote({ ...alone('up-to-date'), peerRole: 'primary' }).ok, false);
  });

  it('never allows what a manual promotion without force refuses', () => {
    fc.assert(
      fc.property(promoteInput, (input) => {
        if (canAutoPromote(input).ok) assert.ok(canPromote(input, false).ok);
      }),
    );
  });
});

describe('canDemote', () => {
  it('demotes an unused primary, refuses one in use, and treats a secondary as done', () => {
    assert.deepEqual(canDemote({ role: 'primary', inUse: false }), { ok: true });
    const busy = canDemote({ role: 'primary', inUse: true });
    assert.ok(!busy.ok && busy.reason.includes('in use'));
    const secondary = canDemote({ role: 'secondary', inUse: true });
    assert.ok(secondary.ok && secondary.warning !== undefined);
  });
});

describe('diskStateAfter', () => {
  const table: [DiskEvent, DiskState, DiskState][] = [
    ['resync-started-as-target', 'outdated', 'inconsistent'],
    ['resync-started-as-target', 'up-to-date', 'inconsistent'],
    ['resync-finished-as-target', 'inconsistent', 'up-to-date'],
    ['resync-finished-as-source', 'consistent', 'up-to-date'],
    ['resync-finished-as-source', 'up-to-date', 'up-to-date'],
    ['initial-sync-started-as-source', 'inconsistent', 'up-to-date'],
    ['connected-in-sync', 'outdated', 'up-to-date'],
    ['connected-in-sync', 'consistent', 'up-to-date'],
    ['connected-in-sync', 'inconsistent', 'inconsistent'],
    ['outdate-received', 'up-to-date', 'outdated'],
    ['outdate-received', 'consistent', 'outdated'],
    ['outdate-received', 'inconsistent', 'inconsistent'],
    ['forced-promotion', 'outdated', 'up-to-date'],
    ['forced-promotion', 'inconsistent', 'inconsistent'],
    ['attached', 'up-to-date', 'consistent'],
    ['attached', 'outdated', 'outdated'],
    ['attached-with-peer-outdated', 'up-to-date', 'up-to-date'],
    ['peer-lost', 'up-to-date', 'unknown'],
    ['peer-fenced', 'unknown', 'outdated'],
    ['peer-fenced', 'inconsistent', 'inconsistent'],
  ];
  for (const [event, from, to] of table) {
    it(`${event}: ${from} -> ${to}`, () => assert.equal(diskStateAfter(event, from), to));
  }

  it('is defined for every event and state, and only resyncs make a disk inconsistent', () => {
    for (const event of DISK_EVENTS) {
      for (const state of DISK_STATES) {
        const next = diskStateAfter(event, state);
        assert.ok(DISK_STATES.includes(next), `${event} from ${state}`);
        if (next === 'inconsistent' && state !== 'inconsistent')
          assert.equal(event, 'resync-started-as-target');
      }
    }
  });
});
