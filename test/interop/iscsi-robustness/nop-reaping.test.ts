// A killed initiator (its socket stays open but it neither reads nor answers NOP-In) is reaped by the
// portal's NOP-In liveness check: with nopInterval = 1 s the session must be gone within a few
// intervals, and the target must have closed the TCP connection.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  eventually,
  loggedIn,
  startPortal,
  TARGET_IQN,
  type TestInitiator,
  type TestPortal,
  within,
} from './harness.js';

const NOP_INTERVAL_SECONDS = 1;

describe('iSCSI robustness: NOP-In reaping', () => {
  let target: TestPortal;
  before(async () => {
    target = await startPortal({ nopInterval: NOP_INTERVAL_SECONDS });
  });
  const initiators: TestInitiator[] = [];
  after(async () => {
    for (const initiator of initiators) initiator.destroy();
    await target.close();
  });

  it('drops a session whose initiator stopped reading and answering', async () => {
    const alive = await loggedIn(target.port, 'iqn.2026-11.test:alive', 0x400000000001);
    const dead = await loggedIn(target.port, 'iqn.2026-11.test:dead', 0x400000000002);
    initiators.push(alive, dead);
    await alive.testUnitReady();
    await dead.testUnitReady();
    assert.equal(target.portal.sessionsByTarget().get(TARGET_IQN), 2);

    // Kill the initiator: no more reading, no more answers; the socket itself stays open.
    dead.answerPings = false;
    dead.socket.pause();
    const started = Date.now();
    // Silence, a ping, an unanswered period: the drop comes after two to three intervals.
    await eventually(5 * NOP_INTERVAL_SECONDS * 1000, 'dead session reaped', () => {
      return target.portal.sessionsByTarget().get(TARGET_IQN) === 1;
    });
    const reapedAfter = Date.now() - started;
    assert.ok(reapedAfter >= NOP_INTERVAL_SECONDS * 1000, `reaped too early (${reapedAfter} ms)`);
    // A paused socket cannot see the FIN; reading again must find the connection closed by the target
    // (after the NOP-In pings it left unread).
    dead.socket.resume();
    await within(1000, 'the dead connection closed by the target', dead.closed);

    // The initiator that answers its pings outlives several intervals.
    assert.equal(alive.isClosed, false);
    await alive.testUnitReady();
    await alive.logout();
    await eventually(1000, 'session table empty', () => target.portal.sessionsByTarget().size === 0);
  });
});
