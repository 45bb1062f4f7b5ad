// The failover transition table, exhaustively: every combination of both links, the ping node, this
// node's role and volumes, and the peer's last advert (role, volumes, ping, offer, term), checked
// against the safety rules; then the scenarios by name; then a two-node simulation over every
// fault combination that must never end with two active nodes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decide,
  outranks,
  type Decision,
  type FailoverRole,
  type Observation,
  type PeerAdvert,
  type SelfState,
} from '../../../../src/ha/failover/decide.js';

const BOOLS = [false, true] as const;
const TERM = 5;

function* peers(): Generator<PeerAdvert | null> {
  yield null;
  for (const role of ['active', 'passive', 'stopped'] as const)
    for (const upToDate of BOOLS)
      for (const ping of BOOLS)
        for (const offer of BOOLS)
          for (const term of [TERM - 1, TERM, TERM + 1]) yield { role, upToDate, ping, offer, term };
}

function* combinations(): Generator<{ self: SelfState; seen: Observation }> {
  for (const role of ['active', 'passive'] as const)
    for (const upToDate of BOOLS)
      for (const aux of BOOLS)
        for (const data of BOOLS)
          for (const ping of BOOLS)
            for (const peer of peers()) {
              yield {
                self: { role, upToDate, term: TERM, nodeName: 'alpha', peerName: 'beta' },
                seen: { aux, data, ping, peer },
              };
            }
}

describe('failover decision table (every combination)', () => {
  const all = [...combinations()];

  it('covers 2 roles x 2 volume states x 8 link/ping states x 73 peer adverts', () => {
    assert.equal(all.length, 2 * 2 * 8 * 73);
  });

  it('gives a reason for every decision and alarms exactly for the missing links and ping node', () => {
    for (const { self, seen } of all) {
      const d = decide(self, seen);
      assert.ok(d.reason.length > 0);
      assert.equal(d.alarms.includes('no heartbeat on the auxiliary link'), !seen.aux);
      assert.equal(d.alarms.includes('no heartbeat on the data link'), !seen.data);
      assert.equal(d.alarms.includes('the ping node does not answer'), !seen.ping);
    }
  });

  it('takes over only as a passive node with up-to-date volumes that the ping node answers', () => {
    for (const { self, seen } of all) {
      if (decide(self, seen).action !== 'take-over') continue;
      assert.equal(self.role, 'passive', JSON.stringify({ self, seen }));
      assert.ok(self.upToDate, JSON.stringify({ self, seen }));
      assert.ok(seen.ping, JSON.stringify({ self, seen }));
    }
  });

  it('takes over only from a peer that offered, or that was active and fell silent on both links', () => {
    for (const { self, seen } of all) {
      if (decide(self, seen).action !== 'take-over') continue;
      const peer = seen.peer;
      assert.ok(peer !== null);
      const heard = seen.aux || seen.data;
      if (heard) {
        assert.ok(
          (peer.offer && peer.role !== 'active') || (peer.role === 'passive' && !peer.upToDate),
          JSON.stringify(seen),
        );
      } else assert.ok(peer.role === 'active' || peer.offer, JSON.stringify(seen));
    }
  });

  it('never takes over while the peer is heard being active', () => {
    for (const { self, seen } of all) {
      if ((seen.aux || seen.data) && seen.peer?.role === 'active') {
        assert.notEqual(decide(self, seen).action, 'take-over');
      }
    }
  });

  it('releases or hands over only as the active node', () => {
    for (const { self, seen } of all) {
      const action = decide(self, seen).action;
      if (action === 'release' || action === 'hand-over') assert.equal(self.role, 'active');
    }
  });

  it('an active node that hears neither the peer nor the ping node stops serving', () => {
    for (const { self, seen } of all) {
      if (self.role === 'active' && !seen.aux && !seen.data && !seen.ping) {
        assert.equal(decide(self, seen).action, 'release');
      }
    }
  });

  it('an active node keeps serving whenever it hears the peer on the data link, or the ping node answers it while the peer is silent', () => {
    for (const { self, seen } of all) {
      if (self.role !== 'active' || seen.peer?.role === 'active') continue;
      if (seen.data || (!seen.aux && seen.ping)) assert.equal(decide(self, seen).action, 'stay');
    }
  });

  it('hands over only when its own data side is down and the peer can serve', () => {
    for (const { self, seen } of all) {
      if (decide(self, seen).action !== 'hand-over') continue;
      assert.ok(seen.aux && !seen.data && !seen.ping, JSON.stringify(seen));
      assert.ok(seen.peer?.role === 'passive' && seen.peer.ping && seen.peer.upToDate);
    }
  });

  it('two active nodes that hear each other: exactly the outranked one steps down', () => {
    for (const { self, seen } of all) {
      if (self.role !== 'active' || !(seen.aux || seen.data) || seen.peer?.role !== 'active') continue;
      const steps = decide(self, seen).action === 'release';
      assert.equal(steps, outranks(seen.peer.term, self.peerName, self.term, self.nodeName));
    }
  });
});

describe('failover decisions in the issue scenarios', () => {
  const passive: SelfState = { role: 'passive', upToDate: true, term: 3, nodeName: 'b', peerName: 'a' };
  const active: SelfState = { role: 'active', upToDate: true, term: 3, nodeName: 'a', peerName: 'b' };
  const activePeer: PeerAdvert = { role: 'active', upToDate: true, ping: true, term: 3, offer: false };
  const passivePeer: PeerAdvert = { role: 'passive', upToDate: true, ping: true, term: 3, offer: false };

  it('the primary killed: the secondary takes over', () => {
    const d = decide(passive, { aux: false, data: false, ping: true, peer: activePeer });
    assert.equal(d.action, 'take-over');
  });

  it('only the auxiliary link down: nobody moves, both raise an alarm', () => {
    const a = decide(active, { aux: false, data: true, ping: true, peer: passivePeer });
    const b = decide(passive, { aux: false, data: true, ping: true, peer: activePeer });
    assert.deepEqual([a.action, b.action], ['stay', 'stay']);
    assert.ok(a.alarms.includes('no heartbeat on the auxiliary link'));
    assert.ok(b.alarms.includes('no heartbeat on the auxiliary link'));
  });

  it("the primary's data link down: it hands over, and the secondary takes the offer", () => {
    const a = decide(active, { aux: true, data: false, ping: false, peer: passivePeer });
    assert.equal(a.action, 'hand-over');
    const b = decide(passive, {
      aux: true,
      data: false,
      ping: true,
      peer: { role: 'passive', upToDate: true, ping: false, term: 3, offer: true },
    });
    assert.equal(b.action, 'take-over');
  });

  it('the secondary cut off from the peer and the ping node does not take over', () => {
    const d = decide(passive, { aux: false, data: false, ping: false, peer: activePeer });
    assert.equal(d.action, 'stay');
    assert.match(d.reason, /isolated/);
  });

  it('a secondary with outdated volumes never takes over by itself', () => {
    const d = decide(
      { ...passive, upToDate: false },
      { aux: false, data: false, ping: true, peer: activePeer },
    );
    assert.equal(d.action, 'stay');
    assert.match(d.reason, /not up to date/);
  });

  it('both passive, the peer behind (restarted): the up-to-date node serves; the behind one never does', () => {
    const behind: PeerAdvert = { ...passivePeer, upToDate: false };
    assert.equal(decide(passive, { aux: true, data: true, ping: true, peer: behind }).action, 'take-over');
    const self = { ...passive, upToDate: false };
    assert.equal(decide(self, { aux: true, data: true, ping: true, peer: passivePeer }).action, 'stay');
  });

  it('a restarted node that has not heard its peer does not take over', () => {
    assert.equal(decide(passive, { aux: false, data: false, ping: true, peer: null }).action, 'stay');
  });

  it('a deposed node (peer active, newer term) steps down; a passive node never takes the service back', () => {
    const newer: PeerAdvert = { ...activePeer, term: 4 };
    assert.equal(decide(active, { aux: true, data: true, ping: true, peer: newer }).action, 'release');
    assert.equal(decide(passive, { aux: true, data: true, ping: true, peer: newer }).action, 'stay');
  });
});

// ---- two nodes, every fault ------------------------------------------------------------------

interface NodeSim {
  role: FailoverRole;
  term: number;
  offer: boolean;
  lastHeard: PeerAdvert | null;
  readonly name: string;
}

interface World {
  readonly auxLink: boolean;
  /** Each node's data NIC works. */
  readonly dataA: boolean;
  readonly dataB: boolean;
  readonly pingNodeUp: boolean;
  /** Each node's volumes are up to date. */
  readonly upToDateA: boolean;
  readonly upToDateB: boolean;
}

function advertOf(node: NodeSim, ping: boolean, upToDate: boolean): PeerAdvert {
  return { role: node.role, upToDate, ping, term: node.term, offer: node.offer };
}

function apply(node: NodeSim, d: Decision, peerTerm: number): void {
  if (d.action === 'take-over') {
    node.role = 'active';
    node.term = Math.max(node.term, peerTerm) + 1;
    node.offer = false;
  } else if (d.action === 'release' || d.action === 'hand-over') {
    node.role = 'passive';
    node.offer = d.action === 'hand-over';
  }
}

/** Runs both nodes' decisions in lock step until nothing changes; returns the roles seen on the way. */
function simulate(world: World): { history: [FailoverRole, FailoverRole][]; a: NodeSim; b: NodeSim } {
  const a: NodeSim = { role: 'active', term: 1, offer: false, lastHeard: null, name: 'a' };
  const b: NodeSim = { role: 'passive', term: 1, offer: false, lastHeard: null, name: 'b' };
  const pingA = world.dataA && world.pingNodeUp;
  const pingB = world.dataB && world.pingNodeUp;
  // Before the fault: both links up, each heard the other.
  a.lastHeard = advertOf(b, true, world.upToDateB);
  b.lastHeard = advertOf(a, true, world.upToDateA);
  const data = world.dataA && world.dataB;
  const heard = world.auxLink || data;
  const history: [FailoverRole, FailoverRole][] = [];
  for (let step = 0; step < 10; step++) {
    if (heard) {
      a.lastHeard = advertOf(b, pingB, world.upToDateB);
      b.lastHeard = advertOf(a, pingA, world.upToDateA);
    }
    const da = decide(
      { role: a.role, upToDate: world.upToDateA, term: a.term, nodeName: 'a', peerName: 'b' },
      { aux: world.auxLink, data, ping: pingA, peer: a.lastHeard },
    );
    const db = decide(
      { role: b.role, upToDate: world.upToDateB, term: b.term, nodeName: 'b', peerName: 'a' },
      { aux: world.auxLink, data, ping: pingB, peer: b.lastHeard },
    );
    const before = JSON.stringify([a, b]);
    apply(a, da, b.term);
    apply(b, db, a.term);
    history.push([a.role, b.role]);
    if (JSON.stringify([a, b]) === before) break;
  }
  return { history, a, b };
}

describe('two nodes under every fault combination', () => {
  const worlds: World[] = [];
  for (const auxLink of BOOLS)
    for (const dataA of BOOLS)
      for (const dataB of BOOLS)
        for (const pingNodeUp of BOOLS)
          for (const upToDateA of BOOLS)
            for (const upToDateB of BOOLS)
              worlds.push({ auxLink, dataA, dataB, pingNodeUp, upToDateA, upToDateB });

  it('never has two nodes serving that can both be reached by clients', () => {
    for (const world of worlds) {
      const { history } = simulate(world);
      for (const [ra, rb] of history) {
        // Two actives are harmless only when one of them has no data link (clients cannot reach it),
        // and even then only for the one step before it releases (checked below).
        if (ra === 'active' && rb === 'active') {
          assert.ok(!(world.dataA && world.dataB), JSON.stringify({ world, history }));
        }
      }
    }
  });

  it('settles with at most one active node, and the one left active reaches the ping node (if anyone can)', () => {
    for (const world of worlds) {
      const { a, b, history } = simulate(world);
      assert.ok(!(a.role === 'active' && b.role === 'active'), JSON.stringify({ world, history }));
      const pingA = world.dataA && world.pingNodeUp;
      if (a.role === 'active' && !pingA) {
        // Stays active without the ping node only while it still hears the peer (no better node).
        assert.ok(world.auxLink || (world.dataA && world.dataB), JSON.stringify({ world, history }));
      }
    }
  });

  it("moves the service to the secondary when the primary's data link fails and the secondary can serve", () => {
    for (const world of worlds) {
      if (!(world.auxLink && !world.dataA && world.dataB && world.pingNodeUp && world.upToDateB)) continue;
      const { a, b } = simulate(world);
      assert.deepEqual([a.role, b.role], ['passive', 'active'], JSON.stringify(world));
    }
  });

  it('keeps the primary serving when only the auxiliary link fails', () => {
    for (const world of worlds) {
      if (!(!world.auxLink && world.dataA && world.dataB && world.pingNodeUp)) continue;
      const { a, b } = simulate(world);
      assert.deepEqual([a.role, b.role], ['active', 'passive'], JSON.stringify(world));
    }
  });
});
