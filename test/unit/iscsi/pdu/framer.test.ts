import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PduFramer, type FrameResult } from '../../../../src/iscsi/pdu/framer.js';
import { encodePdu, NO_DIGESTS, type Digests, type OutgoingPdu } from '../../../../src/iscsi/pdu/pdu.js';
import { anyOutgoingPdu } from './arbitraries.js';

const BOTH: Digests = { header: true, data: true };

const nopOut = (data: Buffer, tag = 1): OutgoingPdu => ({
  bhs: {
    kind: 'nop-out',
    immediate: true,
    lun: 0n,
    initiatorTaskTag: tag,
    targetTransferTag: 0xffffffff,
    cmdSN: 1,
    expStatSN: 1,
  },
  data,
});

/** What the framer should hand back for an outgoing PDU. */
function expected(pdu: OutgoingPdu): unknown {
  const ahs = pdu.ahs ?? Buffer.alloc(0);
  const data = Buffer.from(pdu.data ?? Buffer.alloc(0));
  return { bhs: { ...pdu.bhs, totalAHSLength: ahs.length / 4, dataSegmentLength: data.length }, ahs, data };
}

function feed(framer: PduFramer, bytes: Buffer, cuts: number[]): FrameResult[] {
  const out: FrameResult[] = [];
  let at = 0;
  for (const cut of [...cuts.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b), bytes.length]) {
    framer.push(bytes.subarray(at, Math.max(at, cut)));
    at = Math.max(at, cut);
    out.push(...framer.frames());
  }
  return out;
}

function plain(r: FrameResult): unknown {
  assert.ok(r.ok, r.ok ? '' : r.error.code);
  return { bhs: r.pdu.bhs, ahs: Buffer.from(r.pdu.ahs), data: Buffer.from(r.pdu.data) };
}

describe('PDU framer', () => {
  it('yields the same PDUs however the stream is cut, with and without digests', () => {
    fc.assert(
      fc.property(
        fc.array(anyOutgoingPdu, { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.record({ header: fc.boolean(), data: fc.boolean() }),
        (pdus, cuts, digests) => {
          const bytes = Buffer.concat(pdus.map((p) => encodePdu(p, digests)));
          const framer = new PduFramer({ digests, limits: { maxRecvDataSegmentLength: 1 << 24 } });
          const got = feed(framer, bytes, cuts);
          assert.deepEqual(got.map(plain), pdus.map(expected));
          assert.equal(framer.buffered, 0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('pads data segments to 4 bytes and puts digests after header and padded data', () => {
    const bytes = encodePdu(nopOut(Buffer.from('abcde')), BOTH);
    assert.equal(bytes.length, 48 + 4 + 8 + 4);
    assert.equal(bytes.subarray(57, 60).toString('hex'), '000000');
    assert.equal(encodePdu(nopOut(Buffer.alloc(0)), BOTH).length, 52, 'no data digest without data');
  });

  it('reports a header digest mismatch as fatal and stops', () => {
    const bytes = encodePdu(nopOut(Buffer.from('hi')), BOTH);
    bytes[20] = bytes[20]! ^ 1;
    const framer = new PduFramer({ digests: BOTH });
    framer.push(Buffer.concat([bytes, encodePdu(nopOut(Buffer.alloc(0)), BOTH)]));
    const results = [...framer.frames()];
    assert.equal(results.length, 1);
    const [r] = results;
    assert.ok(r && !r.ok && r.error.code === 'header-digest-mismatch' && r.error.fatal);
    assert.ok(framer.failed);
    framer.push(Buffer.alloc(100));
    assert.equal(framer.next(), undefined);
  });

  it('reports a data digest mismatch for one PDU and reads on', () => {
    const bad = encodePdu(nopOut(Buffer.from('payload'), 7), BOTH);
    bad[52] = bad[52]! ^ 0x80;
    const good = encodePdu(nopOut(Buffer.from('next'), 8), BOTH);
    const framer = new PduFramer({ digests: BOTH });
    const results = feed(framer, Buffer.concat([bad, good]), [3, 60, 61]);
    assert.equal(results.length, 2);
    const [first, second] = results;
    assert.ok(first && !first.ok && first.error.code === 'data-digest-mismatch' && !first.error.fatal);
    assert.ok(first.error.bhs.kind === 'nop-out' && first.error.bhs.initiatorTaskTag === 7);
    assert.deepEqual(second && plain(second), expected(nopOut(Buffer.from('next'), 8)));
  });

  it('skips a data segment above MaxRecvDataSegmentLength without buffering it, and reads on', () => {
    const big = encodePdu(nopOut(Buffer.alloc(10000, 1), 1));
    const small = encodePdu(nopOut(Buffer.from('ok'), 2));
    const framer = new PduFramer({ limits: { maxRecvDataSegmentLength: 8192 } });
    framer.push(big.subarray(0, 100));
    const [r] = [...framer.frames()];
    assert.ok(r && !r.ok && r.error.code === 'data-segment-too-long' && r.error.length === 10000);
    assert.equal(r.error.header.length, 48, 'the header is kept for the Reject');
    assert.equal(framer.buffered, 0);
    const rest = feed(framer, Buffer.concat([big.subarray(100), small]), [5000, 10040]);
    assert.deepEqual(rest.map(plain), [expected(nopOut(Buffer.from('ok'), 2))]);
  });

  it('skips a PDU with an unknown opcode and reports its header', () => {
    const odd = encodePdu(nopOut(Buffer.from('xyz')));
    odd[0] = 0x1c; // vendor-specific
    const framer = new PduFramer();
    framer.push(Buffer.concat([odd, encodePdu(nopOut(Buffer.alloc(0), 3))]));
    const results = [...framer.frames()];
    assert.equal(results.length, 2);
    assert.ok(results[0] && !results[0].ok && results[0].error.code === 'unknown-opcode');
    assert.ok(results[1]?.ok);
  });

  it('rejects more AHS than allowed', () => {
    const pdu = encodePdu({ ...nopOut(Buffer.alloc(0)), ahs: Buffer.alloc(64) });
    const framer = new PduFramer({ limits: { maxAHSLength: 32 } });
    framer.push(pdu);
    const [r] = [...framer.frames()];
    assert.ok(r && !r.ok && r.error.code === 'ahs-too-long');
  });

  it('applies a digest setting changed between two PDUs (after the final Login Response)', () => {
    const first = encodePdu(nopOut(Buffer.from('login'), 1), NO_DIGESTS);
    const second = encodePdu(nopOut(Buffer.from('ffp'), 2), BOTH);
    const framer = new PduFramer();
    framer.push(Buffer.concat([first, second]));
    const a = framer.next();
    assert.ok(a?.ok);
    framer.digests = BOTH;
    const b = framer.next();
    assert.deepEqual(b && plain(b), expected(nopOut(Buffer.from('ffp'), 2)));
  });

  it('never throws on random bytes, whatever the settings', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 80 }), { maxLength: 8 }),
        fc.record({ header: fc.boolean(), data: fc.boolean() }),
        fc.integer({ min: 0, max: 200 }),
        (chunks, digests, limit) => {
          const framer = new PduFramer({ digests, limits: { maxRecvDataSegmentLength: limit } });
          for (const c of chunks) {
            framer.push(Buffer.from(c));
            for (const r of framer.frames()) assert.equal(typeof r.ok, 'boolean');
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
