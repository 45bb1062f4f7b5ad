import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  finishResync,
  initialSyncGenerations,
  knownIds,
  startNewGeneration,
} from '../../../../src/replication/state/generations.js';
import {
  connectionStateAfterHandshake,
  decideSync,
  type NodeView,
  type SyncDecision,
  type SyncSide,
} from '../../../../src/replication/state/sync-decision.js';
import { DISK_STATES, JUST_CREATED, type Generations } from '../../../../src/replication/state/types.js';

const view = (generations: Generations, overrides: Partial<NodeView> = {}): NodeView => ({
  generations,
  diskState: 'up-to-date',
  role: 'secondary',
  crashedPrimary: false,
  ...overrides,
});

/** A pair that finished its initial sync with generation `first`. */
function syncedPair(first: bigint): [Generations, Generations] {
  const source = initialSyncGenerations(first);
  return [finishResync(source), finishResync(JUST_CREATED, source.current)];
}

const [A0, B0] = syncedPair(0x10n);

interface Scenario {
  readonly name: string;
  readonly local: NodeView;
  readonly peer: NodeView;
  readonly expected: { kind: SyncDecision['kind']; source?: SyncSide; full?: boolean };
  readonly tieWinner?: SyncSide;
}

const scenarios: Scenario[] = [
  {
    name: 'both just created: nothing to sync until an administrator starts the initial sync',
    local: view(JUST_CREATED, { diskState: 'inconsistent' }),
    peer: view(JUST_CREATED, { diskState: 'inconsistent' }),
    expected: { kind: 'refused' },
  },
  {
    name: 'first connect after the initial sync was started on the local node',
    local: view(initialSyncGenerations(0x10n), { role: 'primary' }),
    peer: view(JUST_CREATED, { diskState: 'inconsistent' }),
    expected: { kind: 'resync', source: 'local', full: true },
  },
  {
    name: 'the initial sync finished: in sync',
    local: view(A0, { role: 'primary' }),
    peer: view(B0),
    expected: { kind: 'in-sync' },
  },
  {
    name: 'link hiccup between two secondaries: in sync',
    local: view(A0),
    peer: view(B0),
    expected: { kind: 'in-sync' },
  },
  {
    name: 'the primary lost its peer and wrote: bitmap resync from the primary',
    local: view(startNewGeneration(A0, 0x20n), { role: 'primary' }),
    peer: view(B0),
    expected: { kind: 'resync', source: 'local', full: false },
  },
  {
    name: 'the secondary rebooted while the primary kept writing: bitmap resync to the secondary',
    local: view(B0, { diskState: 'consistent' }),
    peer: view(startNewGeneration(A0, 0x20n), { role: 'primary' }),
    expected: { kind: 'resync', source: 'peer', full: false },
  },
  {
    name: 'a resync that was cut off resumes from the bitmap',
    local: view(startNewGeneration(A0, 0x20n), { role: 'primary' }),
    peer: view(B0, { diskState: 'inconsistent' }),
    expected: { kind: 'resync', source: 'local', full: false },
  },
  {
    name: 'failover: the peer was promoted while the old primary was down; the old primary crashed',
    local: view(A0, { crashedPrimary: true, diskState: 'consistent' }),
    peer: view(startNewGeneration(B0, 0x30n), { role: 'primary' }),
    expected: { kind: 'resync', source: 'peer', full: false },
  },
  {
    name: 'crashed primary back before anyone was promoted: its activity log is resynced from it',
    local: view(A0, { crashedPrimary: true, diskState: 'consistent' }),
    peer: view(B0),
    expected: { kind: 'resync', source: 'local', full: false },
  },
  {
    name: 'both crashed as primary: the one primary again wins',
    local: view(A0, { crashedPrimary: true, role: 'primary' }),
    peer: view(B0, { crashedPrimary: true }),
    expected: { kind: 'resync', source: 'local', full: false },
  },
  {
    name: 'both crashed as primary, nothing tells them apart, no tie-breaker: refused',
    local: view(A0, { crashedPrimary: true }),
    peer: view(B0, { crashedPrimary: true }),
    expected: { kind: 'refused' },
  },
  {
    name: 'both crashed as primary, nothing tells them apart: the agreed tie-breaker decides',
    local: view(A0, { crashedPrimary: true }),
    peer: view(B0, { crashedPrimary: true }),
    tieWinner: 'peer',
    expected: { kind: 'resync', source: 'peer', full: false },
  },
  {
    name: 'split brain: both became primary while apart',
    local: view(startNewGeneration(A0, 0x20n), { role: 'primary' }),
    peer: view(startNewGeneration(B0, 0x30n)),
    expected: { kind: 'split-brain' },
  },
  {
    name: 'split brain: both wrote while apart, and the lineages share only an older ancestor',
    local: view(startNewGeneration(startNewGeneration(A0, 0x20n), 0x21n)),
    peer: view({ current: 0x30n, bitmap: 0x25n, history: [0x10n, 0n] }),
    expected: { kind: 'split-brain' },
  },
  {
    name: 'split brain: a bitmap generation deeper in the other history is no proof of a lost resync end',
    local: view(startNewGeneration(startNewGeneration(A0, 0x20n), 0x21n)),
    peer: view({ current: 0x30n, bitmap: 0n, history: [0x25n, 0x10n] }),
    expected: { kind: 'split-brain' },
  },
  {
    name: 'a node restored from an old backup: full resync from the other',
    ...(() => {
      // Two rounds of "primary apart, then resynced"; the backup is the peer's tuple after the first.
      let a = startNewGeneration(A0, 0x20n);
      const backup = finishResync(B0, a.current);
      a = finishResync(a);
      a = finishResync(startNewGeneration(a, 0x30n));
      return { local: view(a, { role: 'primary' }), peer: view(backup, { diskState: 'consistent' }) };
    })(),
    expected: { kind: 'resync', source: 'local', full: true },
  },
  {
    name: 'a backup older than the remembered history: no common generation left',
    local: view({ current: 0x40n, bitmap: 0n, history: [0x30n, 0x20n] }),
    peer: view(B0),
    expected: { kind: 'unrelated-data' },
  },
  {
    name: 'unrelated disks: two separate initial syncs',
    local: view(syncedPair(0x10n)[0]),
    peer: view(syncedPair(0x99n)[1]),
    expected: { kind: 'unrelated-data' },
  },
  {
    name: 'the source missed the end of its resync: bitmap resync from it',
    local: view(startNewGeneration(A0, 0x20n), { role: 'primary' }),
    peer: view(finishResync(B0, 0x20n)),
    expected: { kind: 'resync', source: 'local', full: false },
  },
  {
    name: 'the source missed the end of its resync and wrote again: full resync from it',
    local: view(startNewGeneration(startNewGeneration(A0, 0x20n), 0x21n), { role: 'primary' }),
    peer: view(finishResync(B0, 0x20n)),
    expected: { kind: 'resync', source: 'local', full: true },
  },
  {
    name: 'same generation but one disk inconsistent: full resync into it',
    local: view(A0),
    peer: view(B0, { diskState: 'inconsistent' }),
    expected: { kind: 'resync', source: 'local', full: true },
  },
  {
    name: 'same generation and both disks inconsistent: refused',
    local: view(A0, { diskState: 'inconsistent' }),
    peer: view(B0, { diskState: 'inconsistent' }),
    expected: { kind: 'refused' },
  },
  {
    name: 'both primary: refused',
    local: view(A0, { role: 'primary' }),
    peer: view(B0, { role: 'primary' }),
    expected: { kind: 'refused' },
  },
  {
    name: 'the would-be source is outdated: refused',
    local: view(startNewGeneration(A0, 0x20n), { diskState: 'outdated' }),
    peer: view(B0),
    expected: { kind: 'refused' },
  },
  {
    name: 'the would-be source is inconsistent: refused',
    local: view(initialSyncGenerations(0x10n), { diskState: 'inconsistent' }),
    peer: view(JUST_CREATED, { diskState: 'inconsistent' }),
    expected: { kind: 'refused' },
  },
  {
    name: 'the would-be target is primary: refused rather than overwrite what it serves',
    local: view(startNewGeneration(A0, 0x20n)),
    peer: view(B0, { role: 'primary' }),
    expected: { kind: 'refused' },
  },
];

const flip = (side: SyncSide | undefined): SyncSide | undefined =>
  side === undefined ? undefined : side === 'local' ? 'peer' : 'local';

/** The decision as the other node sees it. */
function mirrored(decision: SyncDecision): SyncDecision {
  return decision.kind === 'resync' ? { ...decision, source: flip(decision.source) ?? 'local' } : decision;
}

describe('sync decision: named scenarios', () => {
  for (const scenario of scenarios) {
    it(scenario.name, () => {
      const options = scenario.tieWinner ? { tieWinner: scenario.tieWinner } : {};
      const decision = decideSync(scenario.local, scenario.peer, options);
      assert.equal(decision.kind, scenario.expected.kind, JSON.stringify(decision));
      if (decision.kind === 'resync') {
        assert.equal(decision.source, scenario.expected.source);
        assert.equal(decision.full, scenario.expected.full);
      }
      if (decision.kind !== 'in-sync') assert.ok(decision.reason.length > 10, 'a reason is given');
      const tieWinner = flip(scenario.tieWinner);
      const seenByPeer = decideSync(scenario.peer, scenario.local, tieWinner ? { tieWinner } : {});
      assert.deepEqual(seenByPeer, mirrored(decision), 'the peer comes to the same decision');
    });
  }
});

describe('sync decision: connection state after the handshake', () => {
  it('maps each decision to where the local connection goes', () => {
    const reason = 'r';
    assert.equal(connectionStateAfterHandshake({ kind: 'in-sync' }), 'connected');
    assert.equal(
      connectionStateAfterHandshake({ kind: 'resync', source: 'local', full: false, reason }),
      'sync-source',
    );
    assert.equal(
      connectionStateAfterHandshake({ kind: 'resync', source: 'peer', full: true, reason }),
      'sync-target',
    );
    for (const kind of ['split-brain', 'unrelated-data', 'refused'] as const) {
      assert.equal(connectionStateAfterHandshake({ kind, reason }), 'standalone');
    }
  });
});

// Few distinct identifiers, so that generated tuples collide (and relate) often.
const id = fc.constantFrom(0n, 1n, 2n, 3n, 4n, 5n);
const generations = fc.record({ current: id, bitmap: id, history: fc.tuple(id, id) });
const nodeView = fc.record({
  generations,
  diskState: fc.constantFrom(...DISK_STATES),
  role: fc.constantFrom('primary' as const, 'secondary' as const),
  crashedPrimary: fc.boolean(),
});
const tieWinner = fc.option(fc.constantFrom('local' as const, 'peer' as const), { nil: undefined });

describe('sync decision: properties', () => {
  it('is symmetric: both nodes agree, with the source flipped', () => {
    fc.assert(
      fc.property(nodeView, nodeView, tieWinner, (a, b, winner) => {
        const flipped = flip(winner);
        const ab = decideSync(a, b, winner ? { tieWinner: winner } : {});
        const ba = decideSync(b, a, flipped ? { tieWinner: flipped } : {});
        assert.deepEqual(ba, mirrored(ab));
      }),
      { numRuns: 5000 },
    );
  });

  it('never resyncs from an incomplete disk, into a primary, or between two primaries', () => {
    fc.assert(
      fc.property(nodeView, nodeView, tieWinner, (local, peer, winner) => {
        const decision = decideSync(local, peer, winner ? { tieWinner: winner } : {});
        if (decision.kind !== 'resync') return;
        const [source, target] = decision.source === 'local' ? [local, peer] : [peer, local];
        assert.ok(source.diskState === 'up-to-date' || source.diskState === 'consistent');
        assert.equal(target.role, 'secondary');
        assert.ok(source.generations.current !== 0n, 'a just-created disk is never a source');
      }),
      { numRuns: 5000 },
    );
  });

  it('a bitmap resync needs a bitmap that covers the target, or the same generation on both', () => {
    fc.assert(
      fc.property(nodeView, nodeView, (local, peer) => {
        const decision = decideSync(local, peer);
        if (decision.kind !== 'resync' || decision.full) return;
        const [source, target] = decision.source === 'local' ? [local, peer] : [peer, local];
        const covered =
          source.generations.bitmap !== 0n && source.generations.bitmap === target.generations.current;
        assert.ok(covered || source.generations.current === target.generations.current);
      }),
      { numRuns: 5000 },
    );
  });

  it('in sync only with the same non-zero current; unrelated only with nothing in common', () => {
    fc.assert(
      fc.property(nodeView, nodeView, (local, peer) => {
        const decision = decideSync(local, peer);
        if (decision.kind === 'in-sync') {
          assert.equal(local.generations.current, peer.generations.current);
          assert.notEqual(local.generations.current, 0n);
        }
        if (decision.kind === 'unrelated-data') {
          const localIds = knownIds(local.generations);
          assert.ok(!knownIds(peer.generations).some((x) => localIds.includes(x)));
        }
      }),
      { numRuns: 5000 },
    );
  });
});

// A model of a pair over time: which acknowledged writes each disk holds. Acknowledged writes must
// never be resynced away; only a split brain (an administrator's choice) may discard them.
interface ModelNode {
  generations: Generations;
  role: 'primary' | 'secondary';
  diskState: NodeView['diskState'];
  crashedPrimary: boolean;
  writes: Set<number>;
}

type Action =
  | { readonly type: 'write' | 'promote' | 'demote' | 'crash'; readonly node: 0 | 1 }
  | { readonly type: 'disconnect' }
  /** `missEnd`: the link drops just as a resync ends: the target adopted, the source never heard. */
  | { readonly type: 'reconnect'; readonly missEnd: boolean };

const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({
    type: fc.constantFrom('write' as const, 'promote' as const, 'demote' as const, 'crash' as const),
    node: fc.constantFrom(0 as const, 1 as const),
  }),
  fc.record({ type: fc.constant('disconnect' as const) }),
  fc.record({ type: fc.constant('reconnect' as const), missEnd: fc.boolean() }),
);

class PairModel {
  private nextId = 0x100n;
  private nextWrite = 0;
  private connected = true;
  private readonly nodes: [ModelNode, ModelNode];

  constructor() {
    const [g0, g1] = syncedPair(this.fresh());
    const node = (generations: Generations, role: ModelNode['role']): ModelNode => ({
      generations,
      role,
      diskState: 'up-to-date',
      crashedPrimary: false,
      writes: new Set(),
    });
    this.nodes = [node(g0, 'primary'), node(g1, 'secondary')];
  }

  apply(step: Action): void {
    if (step.type === 'disconnect') {
      if (this.connected) this.loseConnection();
    } else if (step.type === 'reconnect') {
      if (!this.connected) this.reconnect(step.missEnd);
    } else {
      this.act(step.type, this.nodes[step.node], this.nodes[1 - step.node] as ModelNode);
    }
  }

  private act(type: 'write' | 'promote' | 'demote' | 'crash', node: ModelNode, other: ModelNode): void {
    switch (type) {
      case 'write':
        if (node.role !== 'primary') return;
        node.writes.add(this.nextWrite);
        if (this.connected) other.writes.add(this.nextWrite);
        this.nextWrite += 1;
        return;
      case 'promote':
        if (node.role === 'primary' || (this.connected && other.role === 'primary')) return;
        node.role = 'primary';
        if (!this.connected) node.generations = startNewGeneration(node.generations, this.fresh());
        return;
      case 'demote':
        node.role = 'secondary';
        return;
      case 'crash':
        // An unacknowledged write may be on the crashed primary's disk only; it is not in `writes`.
        // A crashing node starts no generation; it comes back secondary and consistent.
        node.crashedPrimary ||= node.role === 'primary';
        node.role = 'secondary';
        node.diskState = 'consistent';
        if (this.connected) this.loseConnection();
        return;
    }
  }

  private reconnect(missEnd: boolean): void {
    const [n0, n1] = this.nodes;
    if (n0.role === 'primary' && n1.role === 'primary') n1.role = 'secondary';
    const decision = decideSync(asView(n0), asView(n1), { tieWinner: 'local' });
    let sourceMissedEnd = false;
    if (decision.kind === 'in-sync') {
      assert.deepEqual(n0.writes, n1.writes, 'in sync means the same acknowledged writes');
    } else if (decision.kind === 'resync') {
      const [source, target] = decision.source === 'local' ? [n0, n1] : [n1, n0];
      for (const w of target.writes) {
        assert.ok(source.writes.has(w), `resync would lose acknowledged write ${w}: ${decision.reason}`);
      }
      this.syncFrom(source, target, missEnd);
      sourceMissedEnd = missEnd;
    } else if (decision.kind === 'split-brain') {
      // The administrator keeps the primary's data (or node 0's).
      if (n1.role === 'primary') this.syncFrom(n1, n0, false);
      else this.syncFrom(n0, n1, false);
    } else {
      assert.fail(`unexpected ${decision.kind}: ${decision.reason}`);
    }
    this.connected = true;
    for (const n of this.nodes) {
      n.crashedPrimary = false;
      n.diskState = 'up-to-date';
    }
    if (sourceMissedEnd) this.loseConnection();
  }

  private syncFrom(source: ModelNode, target: ModelNode, sourceMissesEnd: boolean): void {
    target.writes = new Set(source.writes);
    target.generations = finishResync(target.generations, source.generations.current);
    if (!sourceMissesEnd) source.generations = finishResync(source.generations);
  }

  private loseConnection(): void {
    this.connected = false;
    for (const n of this.nodes) {
      if (n.role === 'primary') n.generations = startNewGeneration(n.generations, this.fresh());
    }
  }

  private fresh(): bigint {
    return this.nextId++;
  }
}

function asView(n: ModelNode): NodeView {
  return {
    generations: n.generations,
    diskState: n.diskState,
    role: n.role,
    crashedPrimary: n.crashedPrimary,
  };
}

function runModel(actions: readonly Action[]): void {
  const model = new PairModel();
  for (const step of actions) model.apply(step);
}

describe('sync decision: a modelled pair never resyncs acknowledged writes away', () => {
  it('holds over random histories of writes, promotions, crashes and reconnects', () => {
    fc.assert(
      fc.property(fc.array(action, { maxLength: 60 }), (actions) => runModel(actions)),
      { numRuns: 2000 },
    );
  });
});
