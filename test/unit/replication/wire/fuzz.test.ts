// Random and mutated input must decode to frames or one error value, never an exception.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  encodeFrame,
  FrameDecoder,
  HEADER_LENGTH,
  isDecodeError,
  MAX_PAYLOAD_LENGTH,
  type DecodeError,
} from '../../../../src/replication/wire/index.js';
import { anyFrame, cutInto } from './arbitraries.js';

const RUNS_EACH = 10_000;

/** Decodes the chunks; checks the error is sticky and the buffer bounded by what was pushed. */
function decodeSafely(chunks: readonly Buffer[]): void {
  const decoder = new FrameDecoder();
  let pushed = 0;
  let firstError: DecodeError | undefined;
  for (const chunk of chunks) {
    decoder.push(chunk);
    pushed += chunk.length;
    for (const result of decoder.frames()) {
      if (firstError !== undefined) {
        assert.deepEqual(result, firstError, 'only the same error after an error');
      } else if (isDecodeError(result)) {
        assert.equal(typeof result.error, 'string');
        firstError = result;
      } else {
        assert.equal(typeof result.message.type, 'string');
      }
    }
    assert.ok(decoder.buffered <= Math.min(pushed, HEADER_LENGTH + MAX_PAYLOAD_LENGTH));
  }
  if (firstError !== undefined) assert.deepEqual(decoder.next(), firstError);
}

const mutation = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom('set', 'xor', 'truncate', 'insert', 'delete'),
  byte: fc.integer({ min: 0, max: 255 }),
});

type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(bytes: Buffer, mutations: readonly Mutation[]): Buffer {
  let out = Buffer.from(bytes);
  for (const { at, kind, byte } of mutations) {
    const index = out.length === 0 ? 0 : at % out.length;
    if (kind === 'set' && out.length > 0) out[index] = byte;
    else if (kind === 'xor' && out.length > 0) out[index] = (out[index] ?? 0) ^ (byte | 1);
    else if (kind === 'truncate') out = out.subarray(0, index);
    else if (kind === 'insert')
      out = Buffer.concat([out.subarray(0, index), Buffer.from([byte]), out.subarray(index)]);
    else out = Buffer.concat([out.subarray(0, index), out.subarray(index + 1)]);
  }
  return out;
}

describe('frame decoder fuzzing', () => {
  it('survives random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(), { maxLength: 6 }), (array, cuts) => {
        decodeSafely(cutInto(Buffer.from(array), cuts));
      }),
      { numRuns: RUNS_EACH },
    );
  });

  it('survives mutated valid frames', () => {
    fc.assert(
      fc.property(
        fc.array(anyFrame, { minLength: 1, maxLength: 3 }),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (frames, mutations, cuts) => {
          const valid = Buffer.concat(frames.flatMap((f) => encodeFrame(f.message, f.id, f.isReply)));
          decodeSafely(cutInto(mutate(valid, mutations), cuts));
        },
      ),
      { numRuns: RUNS_EACH },
    );
  });

  it('survives a valid header with a random payload for every type code', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.uint8Array({ maxLength: 120 }),
        (typeCode, payload) => {
          const header = Buffer.concat(encodeFrame({ type: 'ping' }, 1, false));
          header[3] = typeCode;
          header.writeUInt32BE(payload.length, 12);
          decodeSafely([header, Buffer.from(payload)]);
        },
      ),
      { numRuns: 5000 },
    );
  });
});
