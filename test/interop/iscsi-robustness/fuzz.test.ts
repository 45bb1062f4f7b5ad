// Fuzzing a live portal over TCP with malformed input (see malformed.ts for the mix). Every input must
// end in a Reject, a failed login (status class 2 or 3) or a closed connection; inputs the RFC lets
// the target drop silently must at least leave it answering the NOP-Out that follows them. Nothing
// may hang: every exchange has EXCHANGE_TIMEOUT_MS. Nothing may crash: an uncaught exception fails this
// file, and at the end a normal login and TEST UNIT READY must still work.
//
// Login-phase inputs and stream breakers need a connection each; full-feature inputs keep the stream
// in step, so they go in batches on long-lived connections, each batch followed by a NOP-Out sentinel.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { encodePdu } from '../../../src/iscsi/pdu/pdu.js';
import { RESERVED_TAG } from '../../../src/iscsi/pdu/codes.js';
import { ffpInput, loginInput, streamBreaker, type FfpInput, type LoginInput } from './malformed.js';
import { eventually, loggedIn, startPortal, TestInitiator, type TestPortal } from './harness.js';

const EXCHANGE_TIMEOUT_MS = 5000;
const LOGIN_BATCH = 32;
/** TANDEM_FUZZ_SCALE=0.1 runs a tenth of the inputs, for a quick look. */
const SCALE = Number(process.env['TANDEM_FUZZ_SCALE'] ?? '1');
const LOGIN_RUNS = Math.ceil(500 * SCALE);
const FFP_WORKERS = 4;
const FFP_BATCH = 20;
const FFP_RUNS = Math.ceil(1500 * SCALE); // per worker
const FFP_RECONNECT_EVERY = 100; // batches: a fresh session now and then drops what random writes pinned
const BREAKER_BATCH = 8;
const BREAKER_RUNS = Math.ceil(500 * SCALE);
const MIN_INPUTS = 100_000 * Math.min(SCALE, 1);

const counts = {
  login: 0,
  ffp: 0,
  breakers: 0,
  /** Login-phase inputs answered with a status class 2 or 3 Login Response (the rest were closed). */
  loginRefused: 0,
  rejects: 0,
  mustReject: 0,
  closedDuringBatch: 0,
};
let nextIsid = 0x100000000000;
let nextSentinel = 0x40000000;

/** Sends one login-phase input on its own connection and checks how the target ends it. */
async function loginExchange(port: number, input: LoginInput): Promise<void> {
  const initiator = await TestInitiator.connect(port, EXCHANGE_TIMEOUT_MS);
  let refused = false;
  try {
    await initiator.writeRaw(input.bytes);
    if (input.fin) initiator.socket.end();
    for (;;) {
      const received = await initiator.next(EXCHANGE_TIMEOUT_MS);
      if (received === 'closed') break;
      const bhs = received.bhs;
      assert.equal(bhs.kind, 'login-response', `${input.what}: a ${bhs.kind} before login`);
      if (bhs.statusClass !== 0) {
        refused = true;
        assert.ok(
          bhs.statusClass === 2 || bhs.statusClass === 3,
          `${input.what}: status class ${bhs.statusClass}`,
        );
      } else {
        assert.ok(!(bhs.transit && bhs.nsg === 3), `${input.what}: the target let the login through`);
      }
    }
    assert.equal(initiator.protocolError, undefined);
    if (refused) counts.loginRefused += 1;
  } finally {
    initiator.destroy();
  }
}

function sentinel(itt: number): Buffer {
  return encodePdu({
    bhs: {
      kind: 'nop-out',
      immediate: true,
      lun: 0n,
      initiatorTaskTag: itt,
      targetTransferTag: RESERVED_TAG,
      cmdSN: 0,
      expStatSN: 0,
    },
  });
}

async function freshSession(port: number): Promise<TestInitiator> {
  const isid = nextIsid++;
  return loggedIn(port, `iqn.2026-11.fuzz:ffp-${isid.toString(16)}`, isid);
}

/** Sends a batch of in-step inputs and a sentinel; counts the Rejects that come before its answer. */
async function ffpExchange(initiator: TestInitiator, inputs: readonly FfpInput[]): Promise<void> {
  const itt = nextSentinel++;
  await initiator.writeRaw(Buffer.concat([...inputs.map((i) => i.bytes), sentinel(itt)]));
  let rejects = 0;
  for (;;) {
    const received = await initiator.next(EXCHANGE_TIMEOUT_MS);
    if (received === 'closed') {
      // Some inputs close the connection legitimately (a corrupted header that became a Logout
      // Request, TARGET COLD RESET): a closed connection is an accepted outcome for the batch.
      counts.closedDuringBatch += 1;
      break;
    }
    const bhs = received.bhs;
    if (bhs.kind === 'reject') rejects += 1;
    if (bhs.kind === 'nop-in' && bhs.initiatorTaskTag === itt) {
      const must = inputs.filter((i) => i.mustReject);
      counts.rejects += rejects;
      counts.mustReject += must.length;
      assert.ok(
        rejects >= must.length,
        `${rejects} Rejects for ${must.length} inputs that need one: ${must.map((i) => i.what).join(', ')}`,
      );
      break;
    }
  }
  assert.equal(initiator.protocolError, undefined);
}

async function ffpWorker(port: number, worker: number): Promise<void> {
  let initiator = await freshSession(port);
  let batches = 0;
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(ffpInput, { minLength: FFP_BATCH, maxLength: FFP_BATCH }), async (inputs) => {
        batches += 1;
        if (initiator.isClosed || batches % FFP_RECONNECT_EVERY === 0) {
          initiator.destroy();
          initiator = await freshSession(port);
        }
        await ffpExchange(initiator, inputs);
        counts.ffp += inputs.length;
      }),
      { numRuns: FFP_RUNS, endOnFailure: true, seed: Date.now() + worker },
    );
  } finally {
    initiator.destroy();
  }
}

/** Logs in, sends bytes that put the stream out of step, half-closes: the target must close. */
async function breakerExchange(port: number, bytes: Buffer): Promise<void> {
  const initiator = await freshSession(port);
  try {
    await initiator.writeRaw(bytes);
    await initiator.finish(EXCHANGE_TIMEOUT_MS);
    assert.equal(initiator.protocolError, undefined);
  } finally {
    initiator.destroy();
  }
}

describe('iSCSI robustness: fuzzing a live portal', () => {
  let target: TestPortal;
  before(async () => {
    target = await startPortal({ loginTimeoutMs: EXCHANGE_TIMEOUT_MS });
  });
  after(async () => {
    await target.close();
  });

  it('login phase: malformed first flights are refused or closed', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(loginInput, { minLength: LOGIN_BATCH, maxLength: LOGIN_BATCH }),
        async (inputs) => {
          await Promise.all(inputs.map((input) => loginExchange(target.port, input)));
          counts.login += inputs.length;
        },
      ),
      { numRuns: LOGIN_RUNS, endOnFailure: true },
    );
  });

  it('full feature phase: malformed PDUs are rejected or dropped, and the session answers after them', async () => {
    await Promise.all(Array.from({ length: FFP_WORKERS }, (_, w) => ffpWorker(target.port, w)));
  });

  it('full feature phase: a stream out of step ends in a closed connection', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(streamBreaker, { minLength: BREAKER_BATCH, maxLength: BREAKER_BATCH }),
        async (inputs) => {
          await Promise.all(inputs.map((input) => breakerExchange(target.port, input.bytes)));
          counts.breakers += inputs.length;
        },
      ),
      { numRuns: BREAKER_RUNS, endOnFailure: true },
    );
  });

  it('after the fuzzing the portal still serves a normal session', async (t) => {
    const total = counts.login + counts.ffp + counts.breakers;
    t.diagnostic(
      `inputs: ${counts.login} login phase, ${counts.ffp} full feature, ${counts.breakers} stream breakers; ` +
        `${counts.loginRefused} login inputs refused with class 2/3, the rest closed; ` +
        `${counts.rejects} Rejects for ${counts.mustReject} full-feature inputs that need one; ` +
        `${counts.closedDuringBatch} full-feature batches ended by the target closing`,
    );
    assert.ok(total >= MIN_INPUTS, `only ${total} malformed inputs were sent`);
    const initiator = await loggedIn(target.port, 'iqn.2026-11.fuzz:survivor', 0x3fffffffffff);
    await initiator.testUnitReady();
    await initiator.logout();
    await eventually(
      EXCHANGE_TIMEOUT_MS,
      'every fuzz session gone',
      () => target.portal.sessionsByTarget().size === 0,
    );
  });
});
