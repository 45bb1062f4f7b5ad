import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  encodeFrame,
  FrameDecoder,
  isDecodeError,
  type DecodeResult,
} from '../../../../src/replication/wire/index.js';
import { anyFrame, cutInto, type FrameSpec } from './arbitraries.js';

function encodeAll(frames: readonly FrameSpec[]): Buffer {
  return Buffer.concat(frames.flatMap((f) => encodeFrame(f.message, f.id, f.isReply)));
}

/** Feeds the chunks one by one, collecting every frame available after each push. */
function feed(chunks: readonly Buffer[]): { results: DecodeResult[]; decoder: FrameDecoder } {
  const decoder = new FrameDecoder();
  const results: DecodeResult[] = [];
  for (const chunk of chunks) {
    decoder.push(chunk);
    results.push(...decoder.frames());
  }
  return { results, decoder };
}

describe('frame decoder over a stream', () => {
  it('yields the same frames however the stream is cut', () => {
    fc.assert(
      fc.property(
        fc.array(anyFrame, { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (frames, cuts) => {
          const { results, decoder } = feed(cutInto(encodeAll(frames), cuts));
          assert.deepEqual(results, frames);
          assert.equal(decoder.buffered, 0);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('yields the same frames when fed one byte at a time', () => {
    fc.assert(
      fc.property(fc.array(anyFrame, { minLength: 1, maxLength: 4 }), (frames) => {
        const bytes = encodeAll(frames);
        const chunks = Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
        assert.deepEqual(feed(chunks).results, frames);
      }),
      { numRuns: 100 },
    );
  });

  it('yields nothing until a frame is whole', () => {
    const bytes = Buffer.concat(encodeFrame({ type: 'flush' }, 5, false));
    const decoder = new FrameDecoder();
    decoder.push(bytes.subarray(0, 10));
    assert.equal(decoder.next(), undefined);
    decoder.push(bytes.subarray(10));
    assert.deepEqual(decoder.next(), { id: 5, isReply: false, message: { type: 'flush' } });
    assert.equal(decoder.next(), undefined);
  });

  it('keeps data blocks intact when the chunks they arrived in are followed by others', () => {
    const data = Buffer.alloc(5000, 0xab);
    const bytes = Buffer.concat([
      ...encodeFrame({ type: 'write', offset: 0n, fua: false, data }, 1, false),
      ...encodeFrame({ type: 'write', offset: 5000n, fua: true, data }, 2, false),
    ]);
    const { results } = feed(cutInto(bytes, [3, 4000, 5020, 7000]));
    assert.equal(results.length, 2);
    for (const result of results) {
      assert.ok(!isDecodeError(result) && result.message.type === 'write');
      assert.ok(result.message.data.equals(data));
    }
  });
});
