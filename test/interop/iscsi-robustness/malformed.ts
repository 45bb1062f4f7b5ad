// fast-check arbitraries for malformed iSCSI input, in two families:
//
// - LoginInput: the whole first flight of a fresh connection (random bytes, the wrong opcode, bad
//   login text, bad header fields, bad CHAP, huge lengths, bad AHS, truncation). Sent on its own
//   connection; `fin` says the input may leave the target rightly waiting for more bytes, so the
//   sender half-closes after it.
// - FfpInput: one PDU for a logged-in connection that keeps the byte stream in step (the lengths in
//   its header match what follows), so many can share a connection. `mustReject` marks the inputs that
//   RFC 7143 answers with a Reject; the others (Data-Out for an unknown task, a command outside the
//   CmdSN window, random fields of valid kinds) may be answered or dropped silently, as the RFC says.
// - StreamBreaker: bytes after which the stream of a logged-in connection is out of step (random
//   bytes, a truncated PDU, a huge DataSegmentLength whose data never comes): sent last, with FIN.
import fc from 'fast-check';
import { MAX_WRITE_BYTES } from '../../../src/iscsi/session/session.js';
import { BHS_LENGTH, type BhsFields } from '../../../src/iscsi/pdu/bhs.js';
import { LOGIN_STAGE, RESERVED_TAG } from '../../../src/iscsi/pdu/codes.js';
import { kindOfOpcode, PDU_KINDS, senderOf, type PduKind } from '../../../src/iscsi/pdu/opcodes.js';
import { encodePdu, paddingOf } from '../../../src/iscsi/pdu/pdu.js';
import { lunField } from '../../../src/iscsi/pdu/lun.js';
import { encodeTextData, type TextPair } from '../../../src/iscsi/text/key-value.js';
import { bhsFieldsOf } from '../../unit/iscsi/pdu/arbitraries.js';
import { CHAP_TARGET_IQN, loginRequest, normalLoginKeys, padCdb, TARGET_IQN } from './harness.js';

export interface LoginInput {
  readonly what: string;
  readonly bytes: Buffer;
  readonly fin: boolean;
}

export interface FfpInput {
  readonly what: string;
  readonly bytes: Buffer;
  readonly mustReject: boolean;
}

export interface StreamBreaker {
  readonly what: string;
  readonly bytes: Buffer;
}

const TARGET_LIMIT = 262144; // the target's MaxRecvDataSegmentLength after login (DEFAULT_TARGET_LIMITS)
const LOGIN_LIMIT = 8192; // before login (RFC 7143 §13.12 default)

/**
 * Random bytes. Short ones come from fast-check (biased towards edge values); longer ones are
 * expanded from a generated seed by xorshift32, which is many times faster to generate and still
 * reproducible from fast-check's seed.
 */
function bytes(max: number, min = 0): fc.Arbitrary<Buffer> {
  if (max <= 16) return fc.uint8Array({ minLength: min, maxLength: max }).map((a) => Buffer.from(a));
  return fc.tuple(fc.integer({ min, max }), fc.integer({ min: 1, max: 0xffffffff })).map(([length, seed]) => {
    const out = Buffer.allocUnsafe(length);
    let x = seed;
    for (let i = 0; i < length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      out[i] = x & 0xff;
    }
    return out;
  });
}

/** Text without NUL, for key values. */
const textValue = fc.string({ maxLength: 48 }).map((s) => s.replace(/\0/g, '_'));

const isid = fc.integer({ min: 1, max: 2 ** 48 - 1 });
const u32 = fc.integer({ min: 0, max: 0xffffffff });

/** Overwrites the DataSegmentLength field of an encoded PDU. */
function withDataSegmentLength(pdu: Buffer, length: number): Buffer {
  const out = Buffer.from(pdu);
  out.writeUIntBE(length, 5, 3);
  return out;
}

/** A whole PDU from raw parts: header fields already in `bhs`, lengths set from the parts. */
function rawPdu(bhs: Buffer, ahs: Buffer, data: Buffer): Buffer {
  const header = Buffer.from(bhs.subarray(0, BHS_LENGTH));
  header.writeUInt8(ahs.length / 4, 4);
  header.writeUIntBE(data.length, 5, 3);
  return Buffer.concat([header, ahs, data, Buffer.alloc(paddingOf(data.length))]);
}

const UNKNOWN_OPCODES = Array.from({ length: 64 }, (_, i) => i).filter((c) => kindOfOpcode(c) === undefined);
const INITIATOR_KINDS = PDU_KINDS.filter((k) => senderOf(k) === 'initiator');
const TARGET_KINDS = PDU_KINDS.filter((k) => senderOf(k) === 'target');

/** Random header fields of a kind, with a small random AHS and data segment. */
function randomPdu(kinds: readonly PduKind[], maxData = 70): fc.Arbitrary<Buffer> {
  return fc
    .tuple(
      fc.oneof(...kinds.map((k) => bhsFieldsOf(k))),
      fc.integer({ min: 0, max: 4 }).chain((w) => bytes(w * 4, w * 4)),
      bytes(maxData),
    )
    .map(([bhs, ahs, data]) => encodePdu({ bhs: tame(bhs), ahs, data }));
}

/** Keeps random write commands from pinning huge buffers: the fuzz is about parsing, not memory. */
function tame(bhs: BhsFields): BhsFields {
  if (bhs.kind === 'scsi-command' && bhs.write) {
    return { ...bhs, expectedDataTransferLength: bhs.expectedDataTransferLength % (256 * 1024) };
  }
  return bhs;
}

// --- login phase ---------------------------------------------------------------------------------

const validLogin = (name: string, keys: readonly TextPair[] = normalLoginKeys(name, TARGET_IQN)) =>
  isid.map((i) =>
    loginRequest({ isid: i, itt: 1, cmdSN: 1, csg: LOGIN_STAGE.loginOperationalNegotiation, keys }),
  );

const initiatorName = fc.integer({ min: 0, max: 1e6 }).map((n) => `iqn.2026-11.fuzz:i${n}`);

/** Login text that does not parse. */
const malformedText: fc.Arbitrary<Buffer> = fc.oneof(
  bytes(200, 1).map((b) => Buffer.concat([b, Buffer.from([0x41])])), // last pair not NUL-ended
  textValue.map((v) => Buffer.from(`InitiatorName=iqn.x\0${v.replace(/=/g, '')}no-equals\0`)),
  textValue.map((v) => Buffer.from(`bad key ${v}=1\0`)),
  fc.constant(Buffer.from([0x4b, 0x3d, 0xff, 0xfe, 0x00])), // K=<invalid UTF-8>
  bytes(63).map((b) =>
    Buffer.concat([Buffer.from('A'.repeat(64)), Buffer.from('=1\0'), b, Buffer.from([0])]),
  ),
);

/** A login request whose header fields cannot be accepted. */
const badLoginFields: fc.Arbitrary<Buffer> = fc
  .tuple(isid, initiatorName, fc.integer({ min: 0, max: 8 }), fc.integer({ min: 1, max: 0xffff }))
  .map(([i, name, which, n]) => {
    const keys = normalLoginKeys(name, TARGET_IQN);
    const base = { isid: i, itt: 1, cmdSN: 1, csg: LOGIN_STAGE.loginOperationalNegotiation, keys };
    switch (which) {
      case 0:
        return encodePdu(loginRequest({ ...base, versionMin: 1 + (n % 255), versionMax: 0xff }));
      case 1:
        return encodePdu(loginRequest({ ...base, tsih: n }));
      case 2:
        return encodePdu(loginRequest({ ...base, csg: 2 }));
      case 3:
        return encodePdu(loginRequest({ ...base, transit: true, continue: true }));
      case 4:
        return encodePdu(loginRequest({ ...base, nsg: n % 3 })); // from operational, only 3 may follow
      case 5:
        return encodePdu(loginRequest({ ...base, keys: keys.filter((k) => k.key !== 'InitiatorName') }));
      case 6:
        return encodePdu(loginRequest({ ...base, keys: keys.filter((k) => k.key !== 'TargetName') }));
      case 7:
        return encodePdu(
          loginRequest({
            ...base,
            keys: keys.map((k) =>
              k.key === 'TargetName' ? { key: k.key, value: `${k.value}.nope${n}` } : k,
            ),
          }),
        );
      default:
        return encodePdu(
          loginRequest({
            ...base,
            keys: keys.map((k) => (k.key === 'SessionType' ? { key: k.key, value: `Odd${n}` } : k)),
          }),
        );
    }
  });

const chapBase = (i: number, name: string, keys: TextPair[], transit = false) =>
  encodePdu(
    loginRequest({
      isid: i,
      itt: 1,
      cmdSN: 1,
      csg: LOGIN_STAGE.securityNegotiation,
      transit,
      nsg: transit ? LOGIN_STAGE.loginOperationalNegotiation : 0,
      keys: [{ key: 'InitiatorName', value: name }, { key: 'TargetName', value: CHAP_TARGET_IQN }, ...keys],
    }),
  );

/** CHAP exchanges that must fail (the second step is pipelined behind a good first step). */
const badChap: fc.Arbitrary<Buffer> = fc
  .tuple(isid, initiatorName, fc.integer({ min: 0, max: 5 }), textValue, textValue, bytes(40, 1))
  .map(([i, name, which, a, b, raw]) => {
    switch (which) {
      case 0:
        return chapBase(i, name, [{ key: 'AuthMethod', value: 'None' }], true);
      case 1:
        return encodePdu(
          loginRequest({
            isid: i,
            itt: 1,
            cmdSN: 1,
            csg: LOGIN_STAGE.loginOperationalNegotiation,
            keys: normalLoginKeys(name, CHAP_TARGET_IQN),
          }),
        );
      case 2:
        return chapBase(i, name, [
          { key: 'AuthMethod', value: 'CHAP' },
          { key: 'CHAP_A', value: a.replace(/5/g, '7') || '1' },
        ]);
      case 3:
        return chapBase(i, name, [
          { key: 'AuthMethod', value: 'None' },
          { key: 'CHAP_A', value: '5' },
        ]);
      default: {
        const first = chapBase(i, name, [
          { key: 'AuthMethod', value: 'CHAP' },
          { key: 'CHAP_A', value: '5' },
        ]);
        const response = [
          `0x${raw.toString('hex')}`,
          `0b${raw.toString('base64')}`,
          b,
          '0x',
          `0x${'00'.repeat(16)}`,
        ][raw.length % 5]!;
        const user = which === 4 ? 'alice' : a;
        const second = encodePdu(
          loginRequest({
            isid: i,
            itt: 2,
            cmdSN: 1,
            csg: LOGIN_STAGE.securityNegotiation,
            nsg: LOGIN_STAGE.loginOperationalNegotiation,
            keys: [
              { key: 'CHAP_N', value: user },
              { key: 'CHAP_R', value: response },
            ],
          }),
        );
        return Buffer.concat([first, second]);
      }
    }
  });

export const loginInput: fc.Arbitrary<LoginInput> = fc.oneof(
  bytes(300, 1).map((b) => ({ what: 'random bytes', bytes: b, fin: true })),
  randomPdu(PDU_KINDS.filter((k) => k !== 'login-request')).map((b) => ({
    what: 'not a Login Request',
    bytes: b,
    fin: false,
  })),
  fc.tuple(isid, malformedText).map(([i, text]) => ({
    what: 'malformed login text',
    bytes: encodePdu(loginRequest({ isid: i, itt: 1, cmdSN: 1, csg: 1, data: text })),
    fin: false,
  })),
  badLoginFields.map((b) => ({ what: 'bad login fields', bytes: b, fin: false })),
  badChap.map((b) => ({ what: 'bad CHAP', bytes: b, fin: false })),
  fc.tuple(initiatorName, fc.integer({ min: LOGIN_LIMIT + 1, max: 0xffffff })).chain(([name, length]) =>
    validLogin(name).map((pdu) => ({
      what: 'huge DataSegmentLength',
      bytes: withDataSegmentLength(encodePdu(pdu), length),
      fin: false,
    })),
  ),
  fc.tuple(isid, fc.integer({ min: 1, max: 8 }), bytes(32), malformedText).map(([i, words, junk, text]) => {
    const ahs = Buffer.alloc(words * 4);
    junk.copy(ahs);
    return {
      what: 'bad AHS with bad text',
      bytes: encodePdu(loginRequest({ isid: i, itt: 1, cmdSN: 1, csg: 1, data: text, ahs })),
      fin: false,
    };
  }),
  fc.tuple(initiatorName, fc.integer({ min: 1, max: 255 })).chain(([name, words]) =>
    validLogin(name).map((pdu) => {
      const out = encodePdu(pdu);
      out.writeUInt8(words, 4); // TotalAHSLength promises AHS that is not there
      return { what: 'AHS length past the end', bytes: out, fin: true };
    }),
  ),
  fc.tuple(initiatorName, fc.double({ min: 0, max: 1, noNaN: true })).chain(([name, cut]) =>
    validLogin(name).map((pdu) => {
      const full = encodePdu(pdu);
      return {
        what: 'truncated Login Request',
        bytes: full.subarray(0, Math.floor(cut * (full.length - 1))),
        fin: true,
      };
    }),
  ),
  fc.tuple(isid, fc.integer({ min: 9, max: 12 })).map(([i, pieces]) => ({
    what: 'login text past 64 KiB in C-bit pieces',
    bytes: Buffer.concat(
      Array.from({ length: pieces }, () =>
        encodePdu(
          loginRequest({
            isid: i,
            itt: 1,
            cmdSN: 1,
            csg: 1,
            transit: false,
            continue: true,
            data: Buffer.alloc(8000, 0x61),
          }),
        ),
      ),
    ),
    fin: false,
  })),
);

// --- full feature phase --------------------------------------------------------------------------

/** A header for a command that cannot collide with the harness's own tags. */
const fuzzItt = fc.integer({ min: 0x80000000, max: 0xfffffffe });

const scsiCommand = (o: {
  itt: number;
  write: boolean;
  read: boolean;
  edtl: number;
  cdb: Buffer;
  cmdSN?: number;
  immediate?: boolean;
}): BhsFields => ({
  kind: 'scsi-command',
  immediate: o.immediate ?? true,
  final: true,
  read: o.read,
  write: o.write,
  attr: 1,
  lun: lunField(0),
  initiatorTaskTag: o.itt,
  expectedDataTransferLength: o.edtl,
  cmdSN: o.cmdSN ?? 0,
  expStatSN: 0,
  cdb: padCdb(o.cdb),
});

/** AHS bytes whose segment lengths do not tile the AHS space. */
const badAhs: fc.Arbitrary<Buffer> = fc
  .tuple(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 0, max: 2 }), bytes(64))
  .map(([words, how, junk]) => {
    const out = Buffer.alloc(words * 4);
    junk.copy(out, 0, 0, Math.min(junk.length, out.length));
    if (how === 0)
      out.writeUInt16BE(0, 0); // AHSLength 0
    else out.writeUInt16BE(Math.max(words * 4 - 2, 1) + (how === 1 ? 0 : 0x100), 0); // runs past the end
    return out;
  });

const TEXT_KEYS = [
  'MaxRecvDataSegmentLength',
  'MaxBurstLength',
  'FirstBurstLength',
  'HeaderDigest',
  'DataDigest',
  'InitialR2T',
  'ImmediateData',
  'MaxOutstandingR2T',
  'ErrorRecoveryLevel',
  'MaxConnections',
  'DefaultTime2Wait',
  'DataPDUInOrder',
  'TaskReporting',
  'iSCSIProtocolLevel',
  'SendTargets',
  'TargetName',
  'InitiatorName',
  'SessionType',
  'AuthMethod',
  'CHAP_A',
  'TargetAlias',
  'X-com.example.fuzz',
  'X#fuzz',
];
const TEXT_VALUES = [
  '0',
  '1',
  '511',
  '512',
  '16777215',
  '16777216',
  '0xffffffffffffffff',
  '9'.repeat(30),
  '',
  'Yes',
  'No',
];
const textPairValue = fc.oneof(
  fc.constantFrom(...TEXT_VALUES, 'CRC32C', 'None,CRC32C', 'Reject', 'Irrelevant', 'NotUnderstood', 'All'),
  textValue,
);

/**
 * Well-formed Text Request negotiation with odd keys and values, then an INQUIRY whose Data-In has
 * to follow whatever the negotiation left in force (MaxRecvDataSegmentLength above all).
 */
const textNegotiation: fc.Arbitrary<FfpInput> = fc
  .tuple(
    fuzzItt,
    fc.array(fc.tuple(fc.constantFrom(...TEXT_KEYS), textPairValue), { minLength: 1, maxLength: 4 }),
  )
  .map(([itt, pairs]) => ({
    what: 'Text Request negotiation with odd values',
    bytes: Buffer.concat([
      encodePdu({
        bhs: {
          kind: 'text-request',
          immediate: true,
          final: true,
          continue: false,
          lun: 0n,
          initiatorTaskTag: itt,
          targetTransferTag: RESERVED_TAG,
          cmdSN: 0,
          expStatSN: 0,
        },
        data: encodeTextData(pairs.map(([key, value]) => ({ key, value }))),
      }),
      encodePdu({
        bhs: scsiCommand({
          itt: (itt ^ 1) >>> 0,
          write: false,
          read: true,
          edtl: 4096,
          cdb: Buffer.from([0x12, 1, 0x83, 0x10, 0, 0]),
        }),
      }),
    ]),
    mustReject: false,
  }));

/** Rare in the mix: each of these carries over 256 KiB. */
const oversizedSegment: fc.Arbitrary<FfpInput> = fc
  .tuple(fc.integer({ min: TARGET_LIMIT + 1, max: TARGET_LIMIT + 40000 }), u32)
  .map(([length, itt]) => ({
    what: 'DataSegmentLength over MaxRecvDataSegmentLength',
    bytes: encodePdu({
      bhs: {
        kind: 'nop-out',
        immediate: true,
        lun: 0n,
        initiatorTaskTag: itt,
        targetTransferTag: RESERVED_TAG,
        cmdSN: 0,
        expStatSN: 0,
      },
      data: Buffer.alloc(length),
    }),
    mustReject: true,
  }));

const ffpCommon: fc.Arbitrary<FfpInput> = fc.oneof(
  // Must be rejected.
  fc
    .tuple(fc.constantFrom(...UNKNOWN_OPCODES), bytes(48, 48), fc.integer({ min: 0, max: 4 }), bytes(600))
    .chain(([opcode, header, words, data]) =>
      bytes(words * 4, words * 4).map((ahs) => {
        const bhs = Buffer.from(header);
        bhs[0] = (bhs[0]! & 0x40) | opcode;
        return {
          what: `unknown opcode 0x${opcode.toString(16)}`,
          bytes: rawPdu(bhs, ahs, data),
          mustReject: true,
        };
      }),
    ),
  randomPdu(TARGET_KINDS).map((b) => ({ what: 'target opcode', bytes: b, mustReject: true })),
  randomPdu(['login-request', 'snack-request']).map((b) => ({
    what: 'Login Request or SNACK in full feature phase',
    bytes: b,
    mustReject: true,
  })),
  fc.tuple(fuzzItt, badAhs, bytes(16, 16)).map(([itt, ahs, cdb]) => ({
    what: 'SCSI Command with a bad AHS',
    bytes: encodePdu({ bhs: scsiCommand({ itt, write: false, read: true, edtl: 512, cdb }), ahs }),
    mustReject: true,
  })),
  fc.tuple(fuzzItt, bytes(200, 1)).map(([itt, data]) => ({
    what: 'data with a command that has no Data-Out',
    bytes: encodePdu({
      bhs: scsiCommand({ itt, write: false, read: false, edtl: 0, cdb: Buffer.from([0, 0, 0, 0, 0, 0]) }),
      data,
    }),
    mustReject: true,
  })),
  fc.tuple(fuzzItt, fc.integer({ min: MAX_WRITE_BYTES + 1, max: 0xffffffff })).map(([itt, edtl]) => ({
    what: 'write EDTL past the largest write',
    bytes: encodePdu({
      bhs: scsiCommand({
        itt,
        write: true,
        read: false,
        edtl,
        cdb: Buffer.from([0x2a, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0]),
      }),
    }),
    mustReject: true,
  })),
  fc.tuple(fuzzItt, fc.integer({ min: 1, max: 512 }), bytes(64, 1)).map(([itt, edtl, extra]) => ({
    what: 'more immediate data than EDTL',
    bytes: encodePdu({
      bhs: scsiCommand({
        itt,
        write: true,
        read: false,
        edtl,
        cdb: Buffer.from([0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0]),
      }),
      data: Buffer.concat([Buffer.alloc(edtl), extra]),
    }),
    mustReject: true,
  })),
  fc
    .tuple(fuzzItt, fc.integer({ min: 0x80000000, max: 0xfffffffe }), malformedText)
    .map(([itt, ttt, text]) => ({
      what: 'Text Request with an unknown TTT',
      bytes: encodePdu({
        bhs: {
          kind: 'text-request',
          immediate: true,
          final: true,
          continue: false,
          lun: 0n,
          initiatorTaskTag: itt,
          targetTransferTag: ttt,
          cmdSN: 0,
          expStatSN: 0,
        },
        data: text,
      }),
      mustReject: true,
    })),
  fc.tuple(fuzzItt, malformedText).map(([itt, text]) => ({
    what: 'Text Request with malformed text',
    bytes: encodePdu({
      bhs: {
        kind: 'text-request',
        immediate: true,
        final: true,
        continue: false,
        lun: 0n,
        initiatorTaskTag: itt,
        targetTransferTag: RESERVED_TAG,
        cmdSN: 0,
        expStatSN: 0,
      },
      data: text,
    }),
    mustReject: true,
  })),
  // May be dropped silently (RFC 7143 §4.2.2.1, §11.7) or answered.
  fc.tuple(fuzzItt, u32, u32, u32, bytes(2000)).map(([itt, ttt, offset, dataSN, data]) => ({
    what: 'Data-Out for an unknown task',
    bytes: encodePdu({
      bhs: {
        kind: 'data-out',
        final: true,
        lun: lunField(0),
        initiatorTaskTag: itt,
        targetTransferTag: ttt,
        expStatSN: 0,
        dataSN,
        bufferOffset: offset,
      },
      data,
    }),
    mustReject: false,
  })),
  fc.tuple(fuzzItt, fc.integer({ min: 0x10000, max: 0x7fffffff })).map(([itt, cmdSN]) => ({
    what: 'command outside the CmdSN window',
    bytes: encodePdu({
      bhs: scsiCommand({
        itt,
        write: false,
        read: false,
        edtl: 0,
        cdb: Buffer.from([0, 0, 0, 0, 0, 0]),
        cmdSN,
        immediate: false,
      }),
    }),
    mustReject: false,
  })),
  randomPdu(
    INITIATOR_KINDS.filter((k) => k !== 'logout-request' && k !== 'login-request' && k !== 'snack-request'),
  ).map((b) => ({ what: 'random fields of an initiator PDU', bytes: b, mustReject: false })),
  fc
    .tuple(
      fc.constantFrom<BhsFields>(
        scsiCommand({
          itt: 0x80000001,
          write: false,
          read: false,
          edtl: 0,
          cdb: Buffer.from([0, 0, 0, 0, 0, 0]),
        }),
        scsiCommand({
          itt: 0x80000002,
          write: false,
          read: true,
          edtl: 36,
          cdb: Buffer.from([0x12, 0, 0, 0, 36, 0]),
        }),
        {
          kind: 'nop-out',
          immediate: true,
          lun: 0n,
          initiatorTaskTag: 0x80000003,
          targetTransferTag: RESERVED_TAG,
          cmdSN: 0,
          expStatSN: 0,
        },
        {
          kind: 'text-request',
          immediate: true,
          final: true,
          continue: false,
          lun: 0n,
          initiatorTaskTag: 0x80000004,
          targetTransferTag: RESERVED_TAG,
          cmdSN: 0,
          expStatSN: 0,
        },
        {
          kind: 'task-management-request',
          immediate: true,
          function: 1,
          lun: 0n,
          initiatorTaskTag: 0x80000005,
          referencedTaskTag: 0x80000001,
          cmdSN: 0,
          expStatSN: 0,
          refCmdSN: 0,
          expDataSN: 0,
        },
      ),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 43 }), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 4,
      }),
      bytes(40),
    )
    .map(([bhs, flips, data]) => {
      const pdu = encodePdu({
        bhs,
        data:
          bhs.kind === 'text-request'
            ? encodeTextData([{ key: 'X-fuzz', value: data.toString('hex') }])
            : Buffer.alloc(0),
      });
      for (const [at, value] of flips) {
        const index = at < 4 ? at : at + 4; // never the length fields (bytes 4-7)
        pdu[index] = value;
      }
      return { what: 'valid PDU with corrupted header bytes', bytes: pdu, mustReject: false };
    }),
);

export const ffpInput: fc.Arbitrary<FfpInput> = fc.oneof(
  { arbitrary: ffpCommon, weight: 60 },
  { arbitrary: textNegotiation, weight: 5 },
  { arbitrary: oversizedSegment, weight: 1 },
);

export const streamBreaker: fc.Arbitrary<StreamBreaker> = fc.oneof(
  bytes(400, 1).map((b) => ({ what: 'random bytes', bytes: b })),
  fc
    .tuple(randomPdu(INITIATOR_KINDS, 200), fc.double({ min: 0, max: 1, noNaN: true }))
    .map(([full, cut]) => ({
      what: 'truncated PDU',
      bytes: full.subarray(0, Math.floor(cut * (full.length - 1))),
    })),
  fc
    .tuple(randomPdu(INITIATOR_KINDS, 100), fc.integer({ min: 1000, max: 0xffffff }))
    .map(([pdu, length]) => ({
      what: 'huge DataSegmentLength, data never sent',
      bytes: withDataSegmentLength(pdu, length),
    })),
);
