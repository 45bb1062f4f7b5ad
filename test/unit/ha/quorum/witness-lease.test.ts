// The pure half of the witness in virtual time: timing, validity from send times, how etcd's
// answers are read, and the held-lease state machine (src/ha/quorum/witness-lease.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  NO_LEASE,
  interpretAcquire,
  interpretKeepalive,
  leaseTiming,
  leaseValidAt,
  stepLease,
  validityFrom,
  witnessKey,
  witnessOptionProblems,
  type LeaseEvent,
  type LeaseState,
} from '../../../../src/ha/quorum/witness-lease.js';

const T2 = leaseTiming(2);

/** Runs events through stepLease, collecting the 'lost' reasons. */
function run(
  events: readonly LeaseEvent[],
  start: LeaseState = NO_LEASE,
): { state: LeaseState; lost: string[] } {
  let state = start;
  const lost: string[] = [];
  for (const event of events) {
    const step = stepLease(state, event, T2);
    state = step.state;
    if (step.lost !== null) lost.push(step.lost);
  }
  return { state, lost };
}

const validUntilOf = (state: LeaseState): number => (state.kind === 'held' ? state.validUntil : 0);

describe('witness lease: key, options, timing', () => {
  it('names the key after the pair', () => {
    assert.equal(witnessKey('pair1'), '/tandem/pair1/active');
  });

  it('refuses options it cannot work with, naming each problem', () => {
    const good = { endpoints: ['http://198.18.0.4:2379'], pairId: 'p-1', nodeName: 'a', ttlSeconds: 2 };
    assert.deepEqual(witnessOptionProblems(good), []);
    assert.deepEqual(
      witnessOptionProblems({ ...good, endpoints: ['127.0.0.1:2379', 'https://[::1]:2379/'] }),
      [],
    );
    assert.equal(witnessOptionProblems({ ...good, endpoints: [] }).length, 1);
    assert.match(witnessOptionProblems({ ...good, endpoints: ['http://x'] })[0]!, /host:port/);
    assert.match(witnessOptionProblems({ ...good, pairId: 'a/b' })[0]!, /pair id/);
    assert.match(witnessOptionProblems({ ...good, pairId: '' })[0]!, /pair id/);
    assert.match(witnessOptionProblems({ ...good, nodeName: '' })[0]!, /node name/);
    assert.match(witnessOptionProblems({ ...good, ttlSeconds: 0 })[0]!, /TTL/);
    assert.match(witnessOptionProblems({ ...good, ttlSeconds: 1.5 })[0]!, /TTL/);
  });

  it('keeps 10% of the TTL as margin, at least 500 ms, and sends keepalives every TTL/3', () => {
    assert.deepEqual(leaseTiming(1), { ttlMs: 1000, marginMs: 500, keepaliveMs: 333, requestTimeoutMs: 500 });
    assert.deepEqual(leaseTiming(2), {
      ttlMs: 2000,
      marginMs: 500,
      keepaliveMs: 666,
      requestTimeoutMs: 1500,
    });
    assert.deepEqual(leaseTiming(10), {
      ttlMs: 10_000,
      marginMs: 1000,
      keepaliveMs: 3333,
      requestTimeoutMs: 9000,
    });
    for (let ttl = 1; ttl <= 120; ttl++) {
      const timing = leaseTiming(ttl);
      assert.ok(timing.marginMs < timing.ttlMs);
      assert.ok(timing.keepaliveMs < timing.ttlMs - timing.marginMs || ttl === 1);
    }
  });

  it('computes validity from the send time and the smaller of the asked and answered TTL', () => {
    assert.equal(validityFrom(1000, 2, T2), 2500);
    assert.equal(validityFrom(1000, 5, T2), 2500, 'etcd raising the TTL gives nothing more');
    assert.equal(validityFrom(1000, 1, T2), 1500, 'a shorter answered TTL is honoured');
  });

  it('reads keepalive answers: TTL 0 or less is a lease etcd no longer has', () => {
    assert.deepEqual(interpretKeepalive('2'), { kind: 'alive', ttlSeconds: 2 });
    assert.deepEqual(interpretKeepalive(7), { kind: 'alive', ttlSeconds: 7 });
    assert.deepEqual(interpretKeepalive('0'), { kind: 'expired' });
    assert.deepEqual(interpretKeepalive('-1'), { kind: 'expired' });
    assert.deepEqual(interpretKeepalive('garbage'), { kind: 'expired' });
  });

  it('reads the acquire transaction: written, own key to take over, peer, or changed under it', () => {
    assert.deepEqual(interpretAcquire(true, null, 'a'), { kind: 'written' });
    assert.deepEqual(interpretAcquire(false, { value: 'b', modRevision: '7' }, 'a'), {
      kind: 'held-by-peer',
      holder: 'b',
    });
    assert.deepEqual(interpretAcquire(false, { value: 'a', modRevision: '7' }, 'a'), {
      kind: 'take-over',
      modRevision: '7',
    });
    assert.deepEqual(interpretAcquire(false, null, 'a'), { kind: 'retry' });
  });
});

describe('witness lease: the held lease in virtual time', () => {
  const granted: LeaseEvent = { kind: 'granted', leaseId: 'L1', sentAt: 1000, ttlSeconds: 2 };

  it('is valid from the grant send time plus TTL minus margin, extended by answered keepalives', () => {
    let { state } = run([granted]);
    assert.equal(validUntilOf(state), 2500);
    assert.equal(leaseValidAt(state, 2499), true);
    assert.equal(leaseValidAt(state, 2500), false);
    ({ state } = run([{ kind: 'keepalive-answered', leaseId: 'L1', sentAt: 1666, ttl: '2' }], state));
    assert.equal(validUntilOf(state), 3166);
    const { state: after, lost } = run([{ kind: 'tick', now: 3165 }], state);
    assert.deepEqual(lost, []);
    assert.equal(after, state);
    assert.deepEqual(run([{ kind: 'tick', now: 3166 }], state).lost, [
      'no keepalive was answered in time: the lease validity ran out',
    ]);
  });

  it('an answer that arrives late (after a pause) extends nothing past its send time', () => {
    // The keepalive went out at 1666; the process then stopped until 9000, when the answer is read.
    const { state } = run([granted, { kind: 'keepalive-answered', leaseId: 'L1', sentAt: 1666, ttl: '2' }]);
    assert.equal(validUntilOf(state), 3166);
    assert.equal(leaseValidAt(state, 9000), false, 'not valid at the answer’s arrival');
    const resumed = run([{ kind: 'tick', now: 9000 }], state);
    assert.equal(resumed.state.kind, 'none');
    assert.equal(resumed.lost.length, 1);
  });

  it('an older answer arriving after a newer one does not shorten the validity', () => {
    const { state } = run([
      granted,
      { kind: 'keepalive-answered', leaseId: 'L1', sentAt: 2332, ttl: '2' },
      { kind: 'keepalive-answered', leaseId: 'L1', sentAt: 1666, ttl: '2' },
    ]);
    assert.equal(validUntilOf(state), 3832);
  });

  it('names the last keepalive error when the validity runs out, and forgets it on an answer', () => {
    const failing = run([
      granted,
      { kind: 'keepalive-failed', leaseId: 'L1', error: 'connect ECONNREFUSED' },
    ]);
    assert.equal(validUntilOf(failing.state), 2500, 'a failure does not shorten the validity');
    assert.deepEqual(run([{ kind: 'tick', now: 2500 }], failing.state).lost, [
      'keepalives failed until the lease validity ran out (last error: connect ECONNREFUSED)',
    ]);
    const healed = run(
      [{ kind: 'keepalive-answered', leaseId: 'L1', sentAt: 2000, ttl: '2' }],
      failing.state,
    );
    assert.equal(healed.state.kind === 'held' && healed.state.lastError, null);
    assert.match(run([{ kind: 'tick', now: 4000 }], healed.state).lost[0]!, /^no keepalive was answered/);
  });

  it('is lost at once when etcd says the lease expired or does not exist', () => {
    assert.deepEqual(
      run([granted, { kind: 'keepalive-answered', leaseId: 'L1', sentAt: 1666, ttl: '0' }]).lost,
      ['etcd says the lease has expired'],
    );
    const invalid = run([granted, { kind: 'lease-invalid', leaseId: 'L1' }]);
    assert.deepEqual(invalid.lost, ['etcd says the lease no longer exists']);
    assert.equal(invalid.state.kind, 'none');
  });

  it('says lost once: after the loss, ticks and answers change nothing', () => {
    const { lost, state } = run([
      granted,
      { kind: 'tick', now: 2600 },
      { kind: 'tick', now: 2700 },
      { kind: 'keepalive-answered', leaseId: 'L1', sentAt: 2650, ttl: '2' },
      { kind: 'lease-invalid', leaseId: 'L1' },
    ]);
    assert.equal(lost.length, 1);
    assert.equal(state.kind, 'none');
  });

  it('ignores answers about another lease, and a release is not a loss', () => {
    const { state } = run([
      granted,
      { kind: 'keepalive-answered', leaseId: 'L0', sentAt: 2000, ttl: '0' },
      { kind: 'lease-invalid', leaseId: 'L0' },
      { kind: 'keepalive-answered', leaseId: 'L0', sentAt: 2000, ttl: '2' },
    ]);
    assert.equal(validUntilOf(state), 2500);
    const released = run([{ kind: 'released' }, { kind: 'tick', now: 1e9 }], state);
    assert.deepEqual(released.lost, []);
    assert.equal(released.state.kind, 'none');
  });

  it('never claims the lease past etcd’s own expiry, however answers are delayed (property)', () => {
    // etcd handles each keepalive at some moment between its send and its answer, and keeps the lease
    // until that moment + TTL if it still had it then (else it answers TTL 0). Whatever those moments
    // are, the validity here ends at least the margin before the lease can end in etcd.
    const request = fc.record({
      gap: fc.integer({ min: 0, max: 3000 }), // sent this long after the previous request
      handledAfter: fc.integer({ min: 0, max: 5000 }), // etcd handles it this long after the send
      answeredAfter: fc.integer({ min: 0, max: 5000 }), // the answer is read this long after that
    });
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1e6 }),
        fc.array(request, { maxLength: 12 }),
        (start, requests) => {
          let sentAt = start;
          const sent = requests.map((r) => {
            sentAt += r.gap;
            const handledAt = sentAt + r.handledAfter;
            return { sentAt, handledAt, answeredAt: handledAt + r.answeredAfter, ttl: '' };
          });
          // etcd's side, in the order it handles the requests; the grant is handled at once (the worst case).
          const expiries: { from: number; expiry: number }[] = [{ from: start, expiry: start + T2.ttlMs }];
          for (const r of [...sent].sort((x, y) => x.handledAt - y.handledAt)) {
            const current = expiries[expiries.length - 1]!.expiry;
            if (r.handledAt < current) {
              r.ttl = '2';
              expiries.push({ from: r.handledAt, expiry: r.handledAt + T2.ttlMs });
            } else {
              r.ttl = '0';
            }
          }
          const etcdExpiryAt = (t: number): number =>
            expiries.filter((e) => e.from <= t).reduce((latest, e) => Math.max(latest, e.expiry), 0);
          // This node's side, in the order the answers are read.
          let state = stepLease(
            NO_LEASE,
            { kind: 'granted', leaseId: 'L', sentAt: start, ttlSeconds: 2 },
            T2,
          ).state;
          for (const r of [...sent].sort((x, y) => x.answeredAt - y.answeredAt)) {
            state = stepLease(state, { kind: 'tick', now: r.answeredAt }, T2).state;
            state = stepLease(
              state,
              { kind: 'keepalive-answered', leaseId: 'L', sentAt: r.sentAt, ttl: r.ttl },
              T2,
            ).state;
            if (state.kind === 'held') {
              assert.ok(state.validUntil <= etcdExpiryAt(r.answeredAt) - T2.marginMs);
            }
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
