import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Admission, type AdmissionLimits } from '../../../../src/datarep/agent/admission.js';

const limits: AdmissionLimits = {
  perClient: 2,
  total: 9,
  evictAfterMs: 1000,
  waitingPerClient: 8,
  waitingTotal: 64,
};

test('two pending per client; the rest of that client waits and goes on as places free', () => {
  const admission = new Admission<string>(limits);
  const steps = ['a1', 'a2', 'a3', 'a4'].map((id) => admission.arrive(id, 'A', 0));
  assert.deepEqual(
    steps.map((s) => s.forward),
    [['a1'], ['a2'], [], []],
  );
  assert.equal(admission.pendingCount, 2);
  assert.equal(admission.waitingCount, 2);
  // Another client is not held up by A.
  assert.deepEqual(admission.arrive('b1', 'B', 10).forward, ['b1']);
  // a1 authenticates: a3 goes on (arrival order), then a2 closes: a4.
  assert.deepEqual(admission.leave('a1', 20), { forward: ['a3'], evict: [] });
  assert.deepEqual(admission.leave('a2', 30), { forward: ['a4'], evict: [] });
  assert.equal(admission.waitingCount, 0);
  // Leaving twice, or a stranger leaving, changes nothing.
  assert.deepEqual(admission.leave('a1', 40), { forward: [], evict: [] });
  assert.deepEqual(admission.leave('zz', 40), { forward: [], evict: [] });
  assert.equal(admission.pendingCount, 3);
});

test('a waiting connection that goes away frees its place in the queue', () => {
  const admission = new Admission<string>({ ...limits, perClient: 1, waitingPerClient: 1 });
  admission.arrive('a1', 'A', 0);
  admission.arrive('a2', 'A', 0);
  assert.equal(admission.arrive('a3', 'A', 0).refused, 'client-busy');
  admission.leave('a2', 1);
  assert.equal(admission.arrive('a3', 'A', 2).refused, null);
  assert.deepEqual(admission.leave('a1', 3).forward, ['a3']);
});

test('too many waiting: refused per client and in total', () => {
  const admission = new Admission<string>({ ...limits, waitingPerClient: 3, waitingTotal: 4 });
  const refusals = Array.from({ length: 6 }, (_, i) => admission.arrive(`a${i}`, 'A', 0).refused);
  assert.deepEqual(refusals, [null, null, null, null, null, 'client-busy']);
  admission.arrive('b0', 'B', 0);
  admission.arrive('b1', 'B', 0);
  admission.arrive('b2', 'B', 0); // B's own limit of 2 pending: waits (4 waiting now)
  assert.equal(admission.arrive('b3', 'B', 0).refused, 'busy');
  // A new client with room goes straight on even though the queue is full.
  assert.deepEqual(admission.arrive('c0', 'C', 0), { forward: ['c0'], evict: [], refused: null });
});

test('when the total is reached, a newcomer evicts the oldest pending once it is evictAfterMs old', () => {
  const admission = new Admission<string>({ ...limits, total: 3 });
  admission.arrive('s1', 'S1', 0);
  admission.arrive('s2', 'S2', 100);
  admission.arrive('s3', 'S3', 200);
  // Full, and the oldest is young: the real client waits.
  assert.deepEqual(admission.arrive('real', 'R', 500), { forward: [], evict: [], refused: null });
  assert.equal(admission.nextEvictionAt(), 1000);
  assert.deepEqual(admission.pump(999), { forward: [], evict: [] });
  assert.deepEqual(admission.pump(1000), { forward: ['real'], evict: ['s1'] });
  assert.equal(admission.nextEvictionAt(), null);
  assert.equal(admission.pendingCount, 3);
  // Nobody waits: nothing is evicted however old.
  assert.deepEqual(admission.pump(60_000), { forward: [], evict: [] });
});

test('no eviction for a waiting client that is at its own limit', () => {
  const admission = new Admission<string>({ ...limits, perClient: 1, total: 2 });
  admission.arrive('a1', 'A', 0);
  admission.arrive('b1', 'B', 0);
  admission.arrive('a2', 'A', 0);
  assert.equal(admission.nextEvictionAt(), null);
  assert.deepEqual(admission.pump(10_000), { forward: [], evict: [] });
});

test('many stalling clients cannot keep a newcomer out for longer than evictAfterMs', () => {
  // 12 attackers from 12 addresses against max connections 10 (total 9), then a real client.
  const admission = new Admission<string>(limits);
  for (let i = 0; i < 12; i++) admission.arrive(`s${i}`, `S${i}`, i);
  assert.equal(admission.pendingCount, 9);
  admission.arrive('real', 'R', 20);
  let now = 20;
  const forwarded: string[] = [];
  while (!forwarded.includes('real') && now < 5000) {
    now = admission.nextEvictionAt() ?? now + 1;
    forwarded.push(...admission.pump(now).forward);
  }
  assert.ok(forwarded.includes('real'));
  assert.ok(now <= 1020, `forwarded at ${now} ms`);
});

test('slots held by authenticated sessions leave less room for pending ones, but always one', () => {
  const admission = new Admission<string>({ ...limits, total: 3 });
  admission.setOccupied(1);
  for (const id of ['a', 'b', 'c']) admission.arrive(id, id.toUpperCase(), 0);
  assert.equal(admission.pendingCount, 2);
  admission.setOccupied(5);
  admission.leave('a', 1);
  assert.equal(admission.pendingCount, 1, 'one below the room there is now: c still waits');
  admission.leave('b', 2);
  assert.equal(admission.pendingCount, 1, 'c got the one place that is always left');
  admission.setOccupied(0);
  assert.deepEqual(admission.pump(3), { forward: [], evict: [] });
});
