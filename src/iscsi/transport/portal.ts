// The iSCSI portal: the only socket code of the target. It accepts TCP connections, frames PDUs, runs
// the login state machine, then hands each connection to an IscsiSession; it owns the session table
// (TSIH allocation, session reinstatement), NOP-In liveness pings and graceful shutdown.
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ScsiTargetDevice } from '../../scsi/lu/scsi-task.js';
import { sendTargets, type DiscoverableTarget } from '../discovery/send-targets.js';
import {
  NEW_LOGIN,
  stepLogin,
  type LoginResult,
  type LoginState,
  type LoginTarget,
} from '../login/login-machine.js';
import { REJECT_REASON } from '../pdu/codes.js';
import { PduFramer } from '../pdu/framer.js';
import { encodePduParts, NO_DIGESTS, type Digests, type OutgoingPdu } from '../pdu/pdu.js';
import { DEFAULT_TARGET_LIMITS, type TargetLimits } from '../text/negotiate.js';
import { IscsiSession } from '../session/session.js';

/** What the portal serves; the daemon builds it from the target catalog. */
export interface PortalTargets {
  loginTarget(iqn: string): LoginTarget | undefined;
  discoverable(): DiscoverableTarget[];
  device(iqn: string): ScsiTargetDevice | undefined;
}

export interface PortalOptions {
  readonly host: string;
  readonly port: number;
  readonly targets: PortalTargets;
  readonly logger: Logger;
  readonly portalGroupTag?: number;
  readonly limits?: Partial<TargetLimits>;
  /** Seconds of silence before a NOP-In ping; an unanswered ping one period later drops the connection. */
  readonly nopInterval?: number;
  readonly loginTimeoutMs?: number;
  readonly commandWindow?: number;
}

/** Bytes of output queued for a connection beyond which the portal stops reading from it. */
const MAX_QUEUED_OUTPUT = 4 * 1024 * 1024;

interface Connection {
  readonly socket: Socket;
  readonly framer: PduFramer;
  digests: Digests;
  login: LoginState | undefined;
  session: IscsiSession | undefined;
  key: string | undefined;
  result: LoginResult | undefined;
  sawTraffic: boolean;
  timer: NodeJS.Timeout | undefined;
  /** Output is corked until the check phase of this event loop iteration. */
  corked: boolean;
  /** Cut by the portal (release, shutdown): nothing may be sent on it any more. */
  dropped: boolean;
}

export class IscsiPortal {
  private server: Server | undefined;
  private readonly connections = new Set<Connection>();
  /** Local addresses given up by `closeConnectionsTo`: connections to them are cut as they come in. */
  private readonly refused = new Set<string>();
  private readonly sessions = new Map<string, Connection>();
  private readonly usedTsih = new Set<number>();
  private nextTsih = 1;
  private readonly limits: TargetLimits;
  private readonly log: Logger;

  constructor(private readonly options: PortalOptions) {
    this.limits = {
      ...DEFAULT_TARGET_LIMITS,
      ...options.limits,
      targetPortalGroupTag: options.portalGroupTag ?? 1,
    };
    this.log = options.logger.child({ component: 'iscsi' });
  }

  async listen(): Promise<AddressInfo> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.options.host, port: this.options.port }, () => resolve());
    });
    return server.address() as AddressInfo;
  }

  /** Open sessions per target name, for metrics and status. */
  sessionsByTarget(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const connection of this.sessions.values()) {
      const iqn = connection.result?.target?.iqn;
      if (iqn) counts.set(iqn, (counts.get(iqn) ?? 0) + 1);
    }
    return counts;
  }

  /** Ends the sessions of targets that are no longer served (target stopped or deleted). */
  dropSessionsOf(isServed: (iqn: string) => boolean): void {
    for (const connection of this.sessions.values()) {
      const iqn = connection.result?.target?.iqn;
      if (iqn && !isServed(iqn)) {
        connection.session?.requestLogout(0);
        setTimeout(() => connection.socket.destroy(), 2000).unref();
      }
    }
  }

  /** Cuts every connection that came in on `localAddress` at once (failover gives the address up:
   * the initiators must reconnect to whoever holds it next), and every later one until
   * `serveAddress(localAddress)`. Commands still in flight on them are never answered. */
  closeConnectionsTo(localAddress: string): number {
    this.refused.add(localAddress);
    let closed = 0;
    for (const connection of this.connections) {
      if (sameAddress(connection.socket.localAddress, localAddress)) {
        this.drop(connection);
        closed++;
      }
    }
    return closed;
  }

  /** Serves `localAddress` again after `closeConnectionsTo` (failover took the address back). */
  serveAddress(localAddress: string): void {
    this.refused.delete(localAddress);
  }

  /**
   * Stops accepting and ends every connection. With `graceMs` > 0, asks every initiator to log out and
   * cuts what is left after `graceMs`; with 0 (a release), cuts every connection at once: no session
   * is waited for, and no command still in flight is answered afterwards.
   */
  async close(graceMs = 2000): Promise<void> {
    const server = this.server;
    this.server = undefined;
    // Stop listening now; the callback comes only once every connection is gone, so wait for it last.
    const stopped = server
      ? new Promise<void>((resolve) => server.close(() => resolve()))
      : Promise.resolve();
    if (graceMs > 0) {
      for (const connection of this.connections) {
        if (connection.session) connection.session.requestLogout(0);
        else this.drop(connection);
      }
      const deadline = Date.now() + graceMs;
      while (this.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    }
    for (const connection of this.connections) this.drop(connection);
    await stopped;
  }

  /** Cuts a connection at once: the session forgets its tasks now (so a command that completes later
   * sends nothing), and the socket is destroyed with whatever output is still queued in it. */
  private drop(connection: Connection): void {
    connection.dropped = true;
    if (connection.key && this.sessions.get(connection.key) === connection)
      this.sessions.delete(connection.key);
    const session = connection.session;
    connection.session = undefined;
    session?.end();
    connection.socket.destroy();
  }

  private accept(socket: Socket): void {
    if (this.refused.size > 0 && [...this.refused].some((a) => sameAddress(socket.localAddress, a))) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    const connection: Connection = {
      socket,
      framer: new PduFramer(),
      digests: NO_DIGESTS,
      login: NEW_LOGIN,
      session: undefined,
      key: undefined,
      result: undefined,
      sawTraffic: true,
      timer: undefined,
      corked: false,
      dropped: false,
    };
    this.connections.add(connection);
    const peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    const loginTimer = setTimeout(() => {
      if (connection.login) {
        this.log.warn({ peer }, 'login timed out');
        socket.destroy();
      }
    }, this.options.loginTimeoutMs ?? 15_000);
    loginTimer.unref();
    socket.on('data', (chunk: Buffer) => this.onData(connection, chunk));
    socket.on('error', (error) => this.log.debug({ peer, err: error.message }, 'connection error'));
    socket.on('close', () => {
      clearTimeout(loginTimer);
      if (connection.timer) clearInterval(connection.timer);
      this.connections.delete(connection);
      if (connection.key && this.sessions.get(connection.key) === connection)
        this.sessions.delete(connection.key);
      if (connection.result) this.usedTsih.delete(connection.result.tsih);
      connection.session?.end();
      if (connection.result)
        this.log.info({ peer, initiator: connection.result.initiatorName }, 'session closed');
    });
  }

  private onData(connection: Connection, chunk: Buffer): void {
    connection.framer.push(chunk);
    connection.sawTraffic = true;
    connection.session?.sawTraffic();
    for (let frame = connection.framer.next(); frame; frame = connection.framer.next()) {
      if (connection.socket.destroyed) return;
      if (!frame.ok) {
        const error = frame.error;
        this.log.warn({ code: error.code }, 'bad PDU');
        if (error.fatal || !connection.session) {
          connection.socket.destroy();
          return;
        }
        // Non-fatal framing errors (bad data digest, oversized segment): Reject and carry on (ERL 0).
        if (error.code === 'data-digest-mismatch') {
          connection.session.dataDigestError(
            error.header,
            error.bhs.kind === 'data-out' ? error.bhs.initiatorTaskTag : -1,
          );
        } else {
          connection.session.rejectRaw(error.header, REJECT_REASON.protocolError);
        }
        continue;
      }
      const pdu = frame.pdu;
      if (connection.login) {
        if (pdu.bhs.kind !== 'login-request') {
          this.log.warn({ kind: pdu.bhs.kind }, 'PDU other than Login Request before login');
          connection.socket.destroy();
          return;
        }
        this.onLogin(connection, pdu.bhs, pdu.data);
      } else {
        connection.session?.handle(pdu);
      }
    }
  }

  private onLogin(connection: Connection, request: Parameters<typeof stepLogin>[1], data: Buffer): void {
    const state = connection.login ?? NEW_LOGIN;
    const step = stepLogin(state, request, data, {
      findTarget: (iqn) => this.options.targets.loginTarget(iqn),
      limits: this.limits,
      random: (n) => randomBytes(n),
      allocateTsih: () => this.allocateTsih(),
      commandWindow: this.options.commandWindow ?? 128,
    });
    this.send(connection, step.response);
    if (step.kind === 'failed') {
      this.log.warn({ reason: step.reason, peer: connection.socket.remoteAddress }, 'login refused');
      connection.login = undefined;
      connection.socket.end();
      return;
    }
    if (step.kind === 'continue') {
      connection.login = step.state;
      return;
    }
    this.startSession(connection, step.result);
  }

  private startSession(connection: Connection, result: LoginResult): void {
    connection.login = undefined;
    connection.result = result;
    const params = result.params;
    // Digests and our receive limit apply from the first PDU after the final Login Response.
    connection.digests = { header: params.headerDigest === 'CRC32C', data: params.dataDigest === 'CRC32C' };
    connection.framer.digests = connection.digests;
    connection.framer.limits = {
      ...connection.framer.limits,
      maxRecvDataSegmentLength: params.targetMaxRecvDataSegmentLength,
    };

    const iqn = result.target?.iqn;
    const key = `${result.initiatorName}|${result.isid.toString(16)}|${iqn ?? 'discovery'}`;
    const previous = this.sessions.get(key);
    if (previous && previous !== connection) {
      // Session reinstatement (RFC 7143 §6.3.5): the initiator came back with the same ISID.
      this.log.info({ initiator: result.initiatorName, target: iqn }, 'session reinstated');
      previous.session?.end();
      previous.session = undefined;
      previous.socket.destroy();
    }
    this.sessions.set(key, connection);
    connection.key = key;

    const tpgt = this.limits.targetPortalGroupTag;
    const isidHex = result.isid.toString(16).padStart(12, '0');
    const device = iqn ? this.options.targets.device(iqn) : undefined;
    const nexus = iqn
      ? {
          initiatorPort: `${result.initiatorName},i,0x${isidHex}`,
          initiatorName: result.initiatorName,
          targetPort: `${iqn},t,0x${tpgt.toString(16).padStart(4, '0')}`,
          relativeTargetPort: 1,
        }
      : undefined;
    const socket = connection.socket;
    connection.session = new IscsiSession({
      params,
      negotiation: { params, declared: {}, seen: [], targetDeclared: [] },
      limits: this.limits,
      nexus,
      device,
      expCmdSN: result.expCmdSN,
      statSN: result.statSN,
      commandWindow: this.options.commandWindow ?? 128,
      sendTargets: (value) =>
        sendTargets(value, {
          sessionType: result.sessionType,
          initiatorName: result.initiatorName,
          sessionTarget: iqn,
          targets: this.options.targets.discoverable(),
          portals: [
            {
              host: socket.localAddress ?? this.options.host,
              port: socket.localPort ?? this.options.port,
              portalGroupTag: tpgt,
            },
          ],
        }),
      send: (pdu) => this.send(connection, pdu),
      outputBacklog: () => connection.socket.writableLength,
      close: (reason) => {
        this.log.debug({ reason }, 'closing connection');
        socket.end();
      },
      log: (event, details) => this.log.debug(details ?? {}, event),
    });
    this.log.info(
      {
        initiator: result.initiatorName,
        target: iqn ?? 'discovery',
        type: result.sessionType,
        chap: result.chapUser !== undefined,
        headerDigest: params.headerDigest,
        dataDigest: params.dataDigest,
      },
      'session started',
    );
    const interval = (this.options.nopInterval ?? 15) * 1000;
    connection.timer = setInterval(() => {
      if (connection.sawTraffic) {
        connection.sawTraffic = false;
        return;
      }
      if (connection.session && !connection.session.ping()) {
        this.log.warn(
          { initiator: result.initiatorName },
          'initiator did not answer NOP-In; dropping the connection',
        );
        socket.destroy();
      }
    }, interval);
    connection.timer.unref();
  }

  private send(connection: Connection, pdu: OutgoingPdu): void {
    const socket = connection.socket;
    if (connection.dropped || socket.destroyed || !socket.writable) return;
    const parts = encodePduParts(pdu, connection.digests);
    // Cork until the event loop's check phase: every PDU produced by this loop iteration's I/O callbacks
    // (many reads complete in one poll phase at queue depth 32) leaves in one writev.
    if (!connection.corked) {
      connection.corked = true;
      socket.cork();
      setImmediate(() => {
        connection.corked = false;
        socket.uncork();
      });
    }
    for (const part of parts) socket.write(part);
    // Backpressure: an initiator that sends but does not read (a NOP-Out echo or Reject flood) must not
    // make us queue its answers without limit. Stop reading it until our output drains; one that never
    // reads again is reaped by the NOP-In check.
    if (socket.writableLength > MAX_QUEUED_OUTPUT && !socket.isPaused()) {
      socket.pause();
      socket.once('drain', () => socket.resume());
    }
  }

  private allocateTsih(): number {
    for (let i = 0; i < 0xffff; i += 1) {
      const tsih = this.nextTsih;
      this.nextTsih = this.nextTsih >= 0xffff ? 1 : this.nextTsih + 1;
      if (!this.usedTsih.has(tsih)) {
        this.usedTsih.add(tsih);
        return tsih;
      }
    }
    return 0;
  }
}

/** A socket's local address against an IPv4 or IPv6 address (IPv4 may show as IPv4-mapped IPv6). */
function sameAddress(local: string | undefined, address: string): boolean {
  return local === address || local === `::ffff:${address}`;
}
