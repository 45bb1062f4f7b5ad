// A release must not wait for initiators to leave: the portal's close with a grace of 0, and the cut of
// the connections to an address (what a failover release calls), end every connection at once, even
// with a WRITE in flight whose backing write has not finished; and when that write finishes afterwards,
// nothing is handed to the connection's socket (no SCSI Response, so no acknowledgement). A positive
// grace asks the initiators to log out and is then honoured: an initiator that stays does not hold
// the close up.
//
// Real TCP on 127.0.0.1, with the project's own test initiator; the LU sits on a memory device whose
// writes wait until the test lets them through.
import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import { afterEach, describe, it, type TestContext } from 'node:test';
import pino from 'pino';
import { IscsiPortal } from '../../../../src/iscsi/transport/portal.js';
import type { LoginTarget } from '../../../../src/iscsi/login/login-machine.js';
import { LogicalUnit } from '../../../../src/scsi/lu/logical-unit.js';
import { ScsiTarget } from '../../../../src/scsi/lu/target-device.js';
import type { WriteOptions } from '../../../../src/storage/block-device.js';
import { MemoryBlockDevice } from '../../../../src/storage/backends/memory-device.js';
import {
  eventually,
  sleep,
  TestInitiator,
  within,
  write10,
} from '../../../interop/iscsi-robustness/harness.js';

const IQN = 'iqn.2026-11.local.tandem:release';
const BLOCK = 512;

/** A memory device whose writes are held until `open()` is called (and pass straight through after). */
class GatedDevice extends MemoryBlockDevice {
  private readonly held: (() => void)[] = [];
  private gated = true;
  started = 0;
  finished = 0;

  override async write(offset: number, data: Buffer, options?: WriteOptions): Promise<void> {
    this.started++;
    if (this.gated) await new Promise<void>((resolve) => this.held.push(resolve));
    await super.write(offset, data, options);
    this.finished++;
  }

  /** Lets every held write finish, and every later one through. */
  open(): void {
    this.gated = false;
    for (const resolve of this.held.splice(0)) resolve();
  }
}

interface Setup {
  readonly portal: IscsiPortal;
  readonly port: number;
  readonly device: GatedDevice;
}

const portals: IscsiPortal[] = [];
const initiators: TestInitiator[] = [];

afterEach(async () => {
  for (const initiator of initiators.splice(0)) initiator.destroy();
  for (const portal of portals.splice(0)) await portal.close(0);
});

async function startPortal(): Promise<Setup> {
  const device = new GatedDevice(4 * 1024 * 1024);
  const unit = new LogicalUnit({
    device,
    identity: {
      vendor: 'TANDEM',
      product: 'RELEASE',
      revision: '0.1',
      serial: 'release1',
      naa: '3fedcba987654322',
      targetName: IQN,
      targetPortName: `${IQN},t,0x0001`,
      relativeTargetPort: 1,
      thinProvisioned: true,
    },
    settings: { readOnly: false, writeBack: false },
  });
  const scsi = new ScsiTarget({ vendor: 'TANDEM', product: 'RELEASE', revision: '0.1' });
  scsi.addLogicalUnit(0, unit);
  const login: LoginTarget = { iqn: IQN, alias: null, chap: { incoming: [] }, allowedInitiators: [] };
  const portal = new IscsiPortal({
    host: '127.0.0.1',
    port: 0,
    logger: pino({ level: 'silent' }),
    targets: {
      loginTarget: (iqn) => (iqn === IQN ? login : undefined),
      discoverable: () => [],
      device: (iqn) => (iqn === IQN ? scsi : undefined),
    },
  });
  portals.push(portal);
  const address = await portal.listen();
  return { portal, port: address.port, device };
}

async function loggedIn(port: number, isid: number): Promise<TestInitiator> {
  const initiator = await TestInitiator.connect(port);
  initiators.push(initiator);
  await initiator.login({ initiatorName: 'iqn.2026-11.test:release', isid, target: IQN });
  await initiator.testUnitReady(); // past the power-on unit attention
  return initiator;
}

/**
 * Counts the bytes the target hands to the server side of `client`'s connection from now on (that
 * socket's remote port is the client's local port; the portal reads it at accept, so it stays known
 * after the socket is destroyed). Every write is counted, even one a destroyed socket would discard.
 */
function recordTargetWrites(t: TestContext, client: TestInitiator): { bytes: () => number } {
  const port = client.socket.localPort;
  const write = t.mock.method(Socket.prototype, 'write');
  return {
    bytes: () =>
      write.mock.calls
        .filter((call) => (call.this as Socket).remotePort === port)
        .reduce((sum, call) => {
          const chunk = call.arguments[0] as Buffer | string;
          return sum + (typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length);
        }, 0),
  };
}

/** Starts a one-block WRITE(10) (immediate data) and waits until its backing write is in progress. */
async function writeInFlight(
  client: TestInitiator,
  device: GatedDevice,
): Promise<{ outcome: Promise<string> }> {
  const before = device.started;
  const outcome = client
    .command(write10(0, 1), { writeData: Buffer.alloc(BLOCK, 0x5a), timeoutMs: 5000 })
    .then(
      (result) => `answered with status ${result.status}`,
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    );
  await eventually(2000, 'the WRITE reaches the device', () => device.started > before);
  return { outcome };
}

/** Lets the held write finish and gives the session every chance to answer it. */
async function finishBackingWrite(device: GatedDevice): Promise<void> {
  device.open();
  await eventually(2000, 'the backing write finished', () => device.finished === device.started);
  await sleep(100);
  await new Promise((resolve) => setImmediate(resolve));
}

describe('iSCSI portal: a release drops sessions at once', () => {
  it('close(0) with a WRITE in flight resolves at once and never acknowledges the write', async (t) => {
    const { portal, port, device } = await startPortal();
    const client = await loggedIn(port, 0x500000000001);
    const { outcome } = await writeInFlight(client, device);
    const written = recordTargetWrites(t, client);

    const started = performance.now();
    await within(1000, 'close(0) with an initiator logged in', portal.close(0));
    const ms = performance.now() - started;
    assert.ok(ms < 1000, `close(0) took ${ms.toFixed(0)} ms`);
    await within(1000, 'the connection closed by the target', client.closed);
    assert.equal(portal.sessionsByTarget().size, 0);

    await finishBackingWrite(device);
    assert.equal(written.bytes(), 0, 'the target wrote to the dropped connection after the release');
    assert.equal(await outcome, 'target closed the connection during a command');
  });

  it('closeConnectionsTo cuts the sessions on that address at once, and later ones until served again', async (t) => {
    const { portal, port, device } = await startPortal();
    const client = await loggedIn(port, 0x500000000002);
    const { outcome } = await writeInFlight(client, device);
    const written = recordTargetWrites(t, client);

    assert.equal(portal.closeConnectionsTo('127.0.0.1'), 1);
    await within(1000, 'the connection closed by the target', client.closed);
    assert.equal(portal.sessionsByTarget().size, 0);
    await finishBackingWrite(device);
    assert.equal(written.bytes(), 0, 'the target wrote to the dropped connection after the release');
    assert.equal(await outcome, 'target closed the connection during a command');

    // The address is given up: a new connection to it is cut before it can log in.
    const late = await TestInitiator.connect(port);
    initiators.push(late);
    await within(1000, 'a late connection to the given-up address cut', late.closed);

    // Taken back: served again.
    portal.serveAddress('127.0.0.1');
    const again = await loggedIn(port, 0x500000000003);
    const result = await again.command(write10(0, 1), {
      writeData: Buffer.alloc(BLOCK, 0x6b),
      timeoutMs: 5000,
    });
    assert.equal(result.status, 0);
  });

  it('a positive grace asks the initiators to log out, then closes without waiting for them', async () => {
    const { portal, port } = await startPortal();
    const client = await loggedIn(port, 0x500000000004);
    const started = performance.now();
    // The client does not log out when asked: the close must still end after about the grace.
    await within(3000, 'close(300) with an initiator that stays', portal.close(300));
    const ms = performance.now() - started;
    assert.ok(ms >= 250, `close(300) returned before its grace (${ms.toFixed(0)} ms)`);
    const asked = await client.waitFor((bhs) => bhs.kind === 'async-message', 1000);
    assert.notEqual(asked, 'closed', 'the initiator was asked to log out first');
    if (asked !== 'closed' && asked.bhs.kind === 'async-message') assert.equal(asked.bhs.asyncEvent, 1);
    await within(1000, 'the connection closed by the target', client.closed);
  });
});
