// Shared pieces of the iSCSI robustness tests: a real IscsiPortal on 127.0.0.1 over an in-memory LU,
// and a small test initiator that talks to it over a real TCP socket with PDUs made by the project's
// own encoder and read back by its own framer.
//
// The initiator is deliberately simple: one connection, ERL 0, no digests, commands run one at a
// time. It never throws on a closed connection; `next` says 'closed' instead, so a test can treat
// "the target hung up" as an outcome. Every wait has a timeout, so a hang fails the test instead of
// stalling it.
import { connect, type Socket } from 'node:net';
import pino from 'pino';
import { IscsiPortal, type PortalOptions, type PortalTargets } from '../../../src/iscsi/transport/portal.js';
import type { LoginTarget } from '../../../src/iscsi/login/login-machine.js';
import { PduFramer } from '../../../src/iscsi/pdu/framer.js';
import { encodePdu, type OutgoingPdu, type Pdu } from '../../../src/iscsi/pdu/pdu.js';
import type { Bhs, BhsOf } from '../../../src/iscsi/pdu/bhs.js';
import { LOGIN_STAGE, RESERVED_TAG } from '../../../src/iscsi/pdu/codes.js';
import { lunField } from '../../../src/iscsi/pdu/lun.js';
import { encodeTextData, parseTextData, type TextPair } from '../../../src/iscsi/text/key-value.js';
import { LogicalUnit } from '../../../src/scsi/lu/logical-unit.js';
import { ScsiTarget } from '../../../src/scsi/lu/target-device.js';
import { ScsiStatus } from '../../../src/scsi/sense/status.js';
import { MemoryBlockDevice } from '../../../src/storage/backends/memory-device.js';

export const TARGET_IQN = 'iqn.2026-11.local.tandem:robust';
/** A second target that requires CHAP, for the bad-CHAP inputs. */
export const CHAP_TARGET_IQN = 'iqn.2026-11.local.tandem:robust-chap';
export const CHAP_USER = { username: 'alice', secret: 'a-secret-of-12+' };
export const BLOCK = 512;

export interface TestPortal {
  readonly portal: IscsiPortal;
  readonly port: number;
  readonly device: MemoryBlockDevice;
  close(): Promise<void>;
}

function logicalUnit(device: MemoryBlockDevice, iqn: string): LogicalUnit {
  return new LogicalUnit({
    device,
    identity: {
      vendor: 'TANDEM',
      product: 'ROBUSTNESS',
      revision: '0.1',
      serial: 'robust1',
      naa: '3fedcba987654321',
      targetName: iqn,
      targetPortName: `${iqn},t,0x0001`,
      relativeTargetPort: 1,
      thinProvisioned: true,
    },
    settings: { readOnly: false, writeBack: false },
  });
}

/** Starts a portal on 127.0.0.1, port 0, serving TARGET_IQN (no auth) and CHAP_TARGET_IQN (CHAP). */
export async function startPortal(
  options: Partial<Omit<PortalOptions, 'targets' | 'logger'>> & { deviceBytes?: number } = {},
): Promise<TestPortal> {
  const { deviceBytes = 8 * 1024 * 1024, ...portalOptions } = options;
  const device = new MemoryBlockDevice(deviceBytes);
  const scsi = new ScsiTarget({ vendor: 'TANDEM', product: 'ROBUSTNESS', revision: '0.1' });
  scsi.addLogicalUnit(0, logicalUnit(device, TARGET_IQN));
  const chapScsi = new ScsiTarget({ vendor: 'TANDEM', product: 'ROBUSTNESS', revision: '0.1' });
  chapScsi.addLogicalUnit(0, logicalUnit(new MemoryBlockDevice(1024 * 1024), CHAP_TARGET_IQN));
  const login: Record<string, LoginTarget> = {
    [TARGET_IQN]: { iqn: TARGET_IQN, alias: null, chap: { incoming: [] }, allowedInitiators: [] },
    [CHAP_TARGET_IQN]: {
      iqn: CHAP_TARGET_IQN,
      alias: 'chap',
      chap: { incoming: [CHAP_USER] },
      allowedInitiators: [],
    },
  };
  const devices: Record<string, ScsiTarget> = { [TARGET_IQN]: scsi, [CHAP_TARGET_IQN]: chapScsi };
  const targets: PortalTargets = {
    loginTarget: (iqn) => login[iqn],
    discoverable: () => [],
    device: (iqn) => devices[iqn],
  };
  const portal = new IscsiPortal({
    host: '127.0.0.1',
    port: 0,
    logger: pino({ level: 'silent' }),
    targets,
    ...portalOptions,
  });
  const address = await portal.listen();
  return { portal, port: address.port, device, close: () => portal.close(200) };
}

export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/** Resolves with the promise's value, or rejects with a TimeoutError after `ms`. */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export type Received = Pdu | 'closed';

export interface CommandResult {
  readonly status: number;
  readonly data: Buffer;
  readonly sense: Buffer | undefined;
}

/** A minimal initiator over one TCP connection. */
export class TestInitiator {
  private readonly framer = new PduFramer({ limits: { maxRecvDataSegmentLength: 0xffffff } });
  private readonly inbox: Pdu[] = [];
  private waiter: (() => void) | undefined;
  private ended = false;
  /** Answer target NOP-In pings (the killed-initiator test turns this off). */
  answerPings = true;
  /** Set when the target sent something this initiator could not frame. */
  protocolError: string | undefined;
  cmdSN = 0;
  expStatSN = 0;
  private nextItt = 1;
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.ended = true;
        this.wake();
        resolve();
      }),
    );
  }

  static async connect(port: number, timeoutMs = 5000): Promise<TestInitiator> {
    const socket = connect({ host: '127.0.0.1', port });
    await within(
      timeoutMs,
      'connect',
      new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      }),
    );
    return new TestInitiator(socket);
  }

  get isClosed(): boolean {
    return this.ended;
  }

  itt(): number {
    const itt = this.nextItt;
    this.nextItt = (this.nextItt % 0x7fffffff) + 1;
    return itt;
  }

  /** Writes bytes; false when the socket is gone. Resolves once the kernel took them (backpressure). */
  async writeRaw(bytes: Buffer): Promise<boolean> {
    if (this.socket.destroyed || !this.socket.writable) return false;
    if (this.socket.write(bytes)) return true;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
    return !this.socket.destroyed;
  }

  send(pdu: OutgoingPdu): Promise<boolean> {
    return this.writeRaw(encodePdu(pdu));
  }

  /** The next PDU from the target, or 'closed'. */
  async next(timeoutMs = 5000): Promise<Received> {
    return within(timeoutMs, 'waiting for a PDU', this.take());
  }

  /** The next PDU that `match` accepts (others are dropped), or 'closed'. */
  async waitFor(match: (bhs: Bhs) => boolean, timeoutMs = 5000): Promise<Received> {
    return within(
      timeoutMs,
      'waiting for a PDU',
      (async () => {
        for (;;) {
          const pdu = await this.take();
          if (pdu === 'closed' || match(pdu.bhs)) return pdu;
        }
      })(),
    );
  }

  /** Half-closes (FIN) and waits for the target to close too. */
  async finish(timeoutMs = 5000): Promise<void> {
    if (!this.socket.destroyed) this.socket.end();
    await within(timeoutMs, 'waiting for the target to close', this.closed);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private async take(): Promise<Received> {
    for (;;) {
      const pdu = this.inbox.shift();
      if (pdu) return pdu;
      if (this.ended) return 'closed';
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  private onData(chunk: Buffer): void {
    this.framer.push(chunk);
    for (let frame = this.framer.next(); frame; frame = this.framer.next()) {
      if (!frame.ok) {
        // A target that sends PDUs its own framer cannot read is a bug worth failing loudly.
        this.protocolError = `target sent a bad PDU: ${frame.error.code}`;
        this.socket.destroy();
        return;
      }
      const bhs = frame.pdu.bhs;
      if ('statSN' in bhs && bhs.kind !== 'r2t' && bhs.kind !== 'data-in')
        this.expStatSN = (bhs.statSN + 1) >>> 0;
      if (bhs.kind === 'nop-in' && bhs.targetTransferTag !== RESERVED_TAG) {
        if (this.answerPings) void this.send(pingAnswer(bhs, this.cmdSN, this.expStatSN));
        continue;
      }
      this.inbox.push(frame.pdu);
    }
    this.wake();
  }

  // --- login, commands, logout -------------------------------------------------------------------

  /** Logs in to `target` in one operational-stage request; throws unless the target accepts. */
  async login(options: { initiatorName: string; isid: number; target?: string }): Promise<void> {
    const itt = this.itt();
    await this.send(
      loginRequest({
        isid: options.isid,
        itt,
        cmdSN: this.cmdSN,
        csg: LOGIN_STAGE.loginOperationalNegotiation,
        keys: normalLoginKeys(options.initiatorName, options.target ?? TARGET_IQN),
      }),
    );
    const answer = await this.next();
    if (answer === 'closed') throw new Error('target closed the connection during login');
    const bhs = answer.bhs;
    if (bhs.kind !== 'login-response' || bhs.statusClass !== 0 || !bhs.transit || bhs.nsg !== 3) {
      throw new Error(
        `login refused: ${JSON.stringify(bhs, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`,
      );
    }
    const parsed = parseTextData(answer.data);
    if (!parsed.ok) throw new Error('malformed login response text');
  }

  /** Runs one SCSI command to LUN 0 and waits for its status. Data-Out goes as immediate data and R2Ts. */
  async command(
    cdb: Buffer,
    options: { readLength?: number; writeData?: Buffer; timeoutMs?: number; lun?: number } = {},
  ): Promise<CommandResult> {
    const itt = this.itt();
    const write = options.writeData ?? Buffer.alloc(0);
    const immediate = write.subarray(0, Math.min(write.length, 8192));
    const readLength = options.readLength ?? 0;
    const cmdSN = this.cmdSN;
    this.cmdSN = (this.cmdSN + 1) >>> 0;
    await this.send({
      bhs: {
        kind: 'scsi-command',
        immediate: false,
        final: immediate.length === write.length,
        read: readLength > 0,
        write: write.length > 0,
        attr: 1,
        lun: lunField(options.lun ?? 0),
        initiatorTaskTag: itt,
        expectedDataTransferLength: write.length > 0 ? write.length : readLength,
        cmdSN,
        expStatSN: this.expStatSN,
        cdb: padCdb(cdb),
      },
      data: immediate,
    });
    const pieces: Buffer[] = [];
    for (;;) {
      const pdu = await this.waitFor(
        (b) => ('initiatorTaskTag' in b && b.initiatorTaskTag === itt) || b.kind === 'reject',
        options.timeoutMs ?? 5000,
      );
      if (pdu === 'closed') throw new Error('target closed the connection during a command');
      const bhs = pdu.bhs;
      switch (bhs.kind) {
        case 'reject':
          throw new Error(`command rejected, reason ${bhs.reason}`);
        case 'r2t':
          await this.sendDataOut(itt, bhs, write);
          break;
        case 'data-in':
          pieces.push(Buffer.from(pdu.data));
          if (bhs.hasStatus) return { status: bhs.status, data: Buffer.concat(pieces), sense: undefined };
          break;
        case 'scsi-response': {
          const sense = pdu.data.length >= 2 ? pdu.data.subarray(2, 2 + pdu.data.readUInt16BE(0)) : undefined;
          return { status: bhs.status, data: Buffer.concat(pieces), sense };
        }
        default:
          break;
      }
    }
  }

  private async sendDataOut(itt: number, r2t: BhsOf<'r2t'>, write: Buffer): Promise<void> {
    const end = r2t.bufferOffset + r2t.desiredDataTransferLength;
    let dataSN = 0;
    for (let offset = r2t.bufferOffset; offset < end; offset += 65536) {
      const piece = write.subarray(offset, Math.min(end, offset + 65536));
      await this.send({
        bhs: {
          kind: 'data-out',
          final: offset + piece.length >= end,
          lun: lunField(0),
          initiatorTaskTag: itt,
          targetTransferTag: r2t.targetTransferTag,
          expStatSN: this.expStatSN,
          dataSN: dataSN++,
          bufferOffset: offset,
        },
        data: piece,
      });
    }
  }

  /** TEST UNIT READY until GOOD (the first ones report the power-on unit attention). */
  async testUnitReady(): Promise<void> {
    for (let i = 0; i < 8; i++) {
      const r = await this.command(Buffer.from([0x00, 0, 0, 0, 0, 0]));
      if (r.status === ScsiStatus.GOOD) return;
    }
    throw new Error('TEST UNIT READY never returned GOOD');
  }

  async logout(): Promise<void> {
    const cmdSN = this.cmdSN;
    this.cmdSN = (this.cmdSN + 1) >>> 0;
    await this.send({
      bhs: {
        kind: 'logout-request',
        immediate: true,
        reasonCode: 0,
        initiatorTaskTag: this.itt(),
        cid: 0,
        cmdSN,
        expStatSN: this.expStatSN,
      },
    });
    const answer = await this.waitFor((b) => b.kind === 'logout-response');
    if (answer === 'closed') throw new Error('target closed the connection before the Logout Response');
    if (answer.bhs.kind === 'logout-response' && answer.bhs.response !== 0) {
      throw new Error(`logout response ${answer.bhs.response}`);
    }
    await within(5000, 'close after logout', this.closed);
  }
}

function pingAnswer(ping: BhsOf<'nop-in'>, cmdSN: number, expStatSN: number): OutgoingPdu {
  return {
    bhs: {
      kind: 'nop-out',
      immediate: true,
      lun: ping.lun,
      initiatorTaskTag: RESERVED_TAG,
      targetTransferTag: ping.targetTransferTag,
      cmdSN,
      expStatSN,
    },
  };
}

export function normalLoginKeys(initiatorName: string, target: string): TextPair[] {
  return [
    { key: 'InitiatorName', value: initiatorName },
    { key: 'TargetName', value: target },
    { key: 'SessionType', value: 'Normal' },
    { key: 'HeaderDigest', value: 'None' },
    { key: 'DataDigest', value: 'None' },
    { key: 'MaxRecvDataSegmentLength', value: '262144' },
    { key: 'InitialR2T', value: 'Yes' },
    { key: 'ImmediateData', value: 'Yes' },
  ];
}

export interface LoginRequestOptions {
  readonly isid: number;
  readonly itt: number;
  readonly cmdSN: number;
  readonly csg: number;
  readonly nsg?: number;
  readonly transit?: boolean;
  readonly continue?: boolean;
  readonly tsih?: number;
  readonly versionMax?: number;
  readonly versionMin?: number;
  readonly keys?: readonly TextPair[];
  /** Raw data segment instead of `keys`. */
  readonly data?: Buffer;
  readonly ahs?: Buffer;
}

export function loginRequest(o: LoginRequestOptions): OutgoingPdu {
  return {
    bhs: {
      kind: 'login-request',
      transit: o.transit ?? true,
      continue: o.continue ?? false,
      csg: o.csg,
      nsg: o.nsg ?? (o.transit === false ? 0 : LOGIN_STAGE.fullFeaturePhase),
      versionMax: o.versionMax ?? 0,
      versionMin: o.versionMin ?? 0,
      isid: o.isid,
      tsih: o.tsih ?? 0,
      initiatorTaskTag: o.itt,
      cid: 0,
      cmdSN: o.cmdSN,
      expStatSN: 0,
    },
    data: o.data ?? encodeTextData(o.keys ?? []),
    ...(o.ahs ? { ahs: o.ahs } : {}),
  };
}

export function padCdb(cdb: Buffer): Buffer {
  const out = Buffer.alloc(16);
  cdb.copy(out, 0, 0, Math.min(16, cdb.length));
  return out;
}

export function write10(lba: number, blocks: number): Buffer {
  const cdb = Buffer.alloc(10);
  cdb[0] = 0x2a;
  cdb.writeUInt32BE(lba, 2);
  cdb.writeUInt16BE(blocks, 7);
  return cdb;
}

export function read10(lba: number, blocks: number): Buffer {
  const cdb = Buffer.alloc(10);
  cdb[0] = 0x28;
  cdb.writeUInt32BE(lba, 2);
  cdb.writeUInt16BE(blocks, 7);
  return cdb;
}

/** Connects and logs in to TARGET_IQN as a fresh initiator. */
export async function loggedIn(port: number, name: string, isid: number): Promise<TestInitiator> {
  const initiator = await TestInitiator.connect(port);
  await initiator.login({ initiatorName: name, isid });
  return initiator;
}

/** Polls `check` until it is true or `ms` pass. */
export async function eventually(ms: number, what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new TimeoutError(`${what}: not within ${ms} ms`);
    await sleep(20);
  }
}
