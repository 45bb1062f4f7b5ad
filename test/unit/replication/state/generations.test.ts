import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  finishResync,
  inHistory,
  initialSyncGenerations,
  isGenerationId,
  isJustCreated,
  knownIds,
  startNewGeneration,
} from '../../../../src/replication/state/generations.js';
import { ReplicationStateError } from '../../../../src/replication/state/errors.js';
import { JUST_CREATED, type Generations } from '../../../../src/replication/state/types.js';

const X = 0x1111n;
const N1 = 0x2222n;
const N2 = 0x3333n;
const H0 = 0x4444n;
const H1 = 0x5555n;

const gens = (current: bigint, bitmap: bigint, h0 = 0n, h1 = 0n): Generations => ({
  current,
  bitmap,
  history: [h0, h1],
});

describe('generation identifiers', () => {
  it('recognises identifiers, just-created disks and history', () => {
    assert.ok(isGenerationId(1n) && isGenerationId((1n << 64n) - 1n));
    assert.ok(!isGenerationId(0n) && !isGenerationId(1n << 64n) && !isGenerationId(-1n));
    assert.ok(isJustCreated(JUST_CREATED));
    assert.ok(!isJustCreated(gens(X, 0n)));
    assert.ok(inHistory(gens(X, 0n, H0, H1), H1));
    assert.ok(!inHistory(gens(X, 0n, H0, 0n), 0n), 'an empty history slot matches nothing');
    assert.deepEqual(knownIds(gens(X, 0n, H0, 0n)), [X, H0]);
  });

  it('a new generation moves current into an unused bitmap and keeps history', () => {
    assert.deepEqual(startNewGeneration(gens(X, 0n, H0, H1), N1), gens(N1, X, H0, H1));
  });

  it('a new generation keeps a bitmap already in use: it counts from an older generation', () => {
    assert.deepEqual(startNewGeneration(gens(N1, X, H0, H1), N2), gens(N2, X, H0, H1));
  });

  it('refuses a new generation identifier that is zero, too large or already known', () => {
    for (const bad of [0n, 1n << 64n, X, H0]) {
      assert.throws(() => startNewGeneration(gens(X, 0n, H0, H1), bad), ReplicationStateError);
    }
  });

  it('the sync source retires its bitmap generation into history', () => {
    assert.deepEqual(finishResync(gens(N1, X, H0, H1)), gens(N1, 0n, X, H0));
  });

  it('a sync source without a bitmap in use keeps its history (full sync)', () => {
    const source = gens(N1, 0n, H0, H1);
    assert.deepEqual(finishResync(source), source);
  });

  it('the sync target adopts the source current and remembers its own former one', () => {
    assert.deepEqual(finishResync(gens(X, 0n, H0, H1), N1), gens(N1, 0n, X, H0));
    assert.deepEqual(finishResync(gens(X, N2, H0, H1), N1), gens(N1, 0n, X, H0), 'its bitmap is dropped');
    assert.deepEqual(finishResync(JUST_CREATED, N1), gens(N1, 0n), 'a just-created target has no history');
    assert.deepEqual(
      finishResync(gens(N1, 0n, H0, H1), N1),
      gens(N1, 0n, H0, H1),
      'adopting the same is a no-op',
    );
    assert.throws(() => finishResync(JUST_CREATED, 0n), ReplicationStateError);
  });

  it('the initial sync gives the source its first generation; the target adopts it when done', () => {
    const source = initialSyncGenerations(N1);
    assert.deepEqual(source, gens(N1, 0n));
    assert.deepEqual(finishResync(JUST_CREATED, source.current), finishResync(source));
    assert.throws(() => initialSyncGenerations(0n), ReplicationStateError);
  });

  it('after a resync both sides hold the same current and an empty bitmap', () => {
    const id = fc.bigInt({ min: 1n, max: 50n });
    fc.assert(
      fc.property(id, id, id, id, id, (current, bitmap, h0, h1, targetCurrent) => {
        const source = finishResync(gens(current, bitmap === current ? 0n : bitmap, h0, h1));
        const target = finishResync(gens(targetCurrent, 0n), source.current);
        assert.equal(source.current, target.current);
        assert.equal(source.bitmap, 0n);
        assert.equal(target.bitmap, 0n);
      }),
    );
  });
});
