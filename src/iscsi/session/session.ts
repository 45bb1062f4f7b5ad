// One iSCSI session in full feature phase, on its single connection (MaxConnections=1, ERL 0).
//
// Owns: the command window (ExpCmdSN/MaxCmdSN), StatSN, the tasks in flight by initiator task tag,
// their Data-Out collection, and target transfer tags. Takes framed PDUs in `handle`, sends PDUs with
// the `send` callback and asks the transport to close with `close`. Timers (NOP-In pings) belong to
// the transport. SCSI work goes to the ScsiTargetDevice; this file never decodes a CDB.
//
// Invariants: a non-immediate command is executed only when its CmdSN equals ExpCmdSN (commands
// ahead of it wait, commands outside the window are dropped, RFC 7143 §4.2.2.1); StatSN advances by
// one for every status-bearing PDU; a task's response is sent once, after all its Data-In.
import {
  encodeBhs,
  type Bhs,
  type DataOut,
  type NopOut,
  type ScsiCommand,
  type TaskManagementRequest,
  type TextRequest,
} from '../pdu/bhs.js';
import {
  LOGOUT_REASON,
  LOGOUT_RESPONSE,
  REJECT_REASON,
  RESERVED_TAG,
  SCSI_RESPONSE,
  TASK_ATTRIBUTE,
  TMF_FUNCTION,
  TMF_RESPONSE,
} from '../pdu/codes.js';
import { lunNumber } from '../pdu/lun.js';
import type { OutgoingPdu, Pdu } from '../pdu/pdu.js';
import { parseAhs, fullCdb } from '../pdu/ahs.js';
import { encodeTextData, parseTextData, type TextPair } from '../text/key-value.js';
import {
  negotiate,
  type NegotiationState,
  type OperationalParams,
  type TargetLimits,
} from '../text/negotiate.js';
import { serialAdd, serialGt, serialInWindow, serialLt } from '../../lib/serial-number.js';
import type {
  ItNexus,
  ScsiTargetDevice,
  TaskAttribute,
  TaskManagementFunction,
} from '../../scsi/lu/scsi-task.js';
import { ScsiStatus } from '../../scsi/sense/status.js';
import { buildSenseData } from '../../scsi/sense/sense-data.js';
import { senseReason } from '../../scsi/sense/sense-reason.js';
import { residual, splitDataIn } from './data-in.js';
import { WriteCollector } from './write-collector.js';

/** The largest write a single command may carry (bigger ones get CHECK CONDITION from the LU). */
export const MAX_WRITE_BYTES = 64 * 1024 * 1024;
/** Data-Out buffered for one session's writes at once; more is refused with TASK SET FULL (the
 * initiator retries later), so a window of huge writes left unfinished cannot exhaust memory. A
 * busy initiator at queue depth 128 with 512 KiB writes needs 64 MiB. */
export const MAX_PENDING_WRITE_BYTES = 64 * 1024 * 1024;
/** Data-In of one session's reads in execution plus its output not yet taken by the socket; more is
 * refused with TASK SET FULL, so an initiator that asks for reads but does not read its socket cannot
 * make the target buffer without limit. */
export const MAX_PENDING_READ_BYTES = 64 * 1024 * 1024;

export interface SessionContext {
  readonly params: OperationalParams;
  readonly negotiation: NegotiationState;
  readonly limits: TargetLimits;
  readonly nexus: ItNexus | undefined;
  readonly device: ScsiTargetDevice | undefined;
  readonly expCmdSN: number;
  readonly statSN: number;
  readonly commandWindow: number;
  /** Answers SendTargets for this session. */
  readonly sendTargets: (value: string) => TextPair[];
  readonly send: (pdu: OutgoingPdu) => void;
  /** Bytes handed to `send` that the connection has not yet written to its socket. */
  readonly outputBacklog: () => number;
  readonly close: (reason: string) => void;
  readonly log: (event: string, details?: Record<string, unknown>) => void;
}

interface PendingWrite {
  readonly command: ScsiCommand;
  readonly collector: WriteCollector;
  readonly lun: number;
  readonly cdb: Buffer;
}

interface TextContinuation {
  readonly ttt: number;
  readonly remaining: Buffer;
}

export class IscsiSession {
  private expCmdSN: number;
  private statSN: number;
  private readonly waiting = new Map<number, Pdu>(); // CmdSN → command that arrived ahead of ExpCmdSN
  private readonly writes = new Map<number, PendingWrite>(); // ITT → write collecting Data-Out
  private readonly running = new Set<number>(); // ITTs executing in the device
  private pendingWriteBytes = 0; // Data-Out buffers held by `writes`
  private pendingReadBytes = 0; // Data-In of READs executing
  private nextTtt = 1;
  private textContinuation: TextContinuation | undefined;
  private negotiation: NegotiationState;
  private closed = false;
  private pingTag: number | undefined;

  constructor(private readonly ctx: SessionContext) {
    this.expCmdSN = ctx.expCmdSN;
    this.statSN = ctx.statSN;
    this.negotiation = ctx.negotiation;
  }

  get params(): OperationalParams {
    return this.negotiation.params;
  }

  get tasksInFlight(): number {
    return this.writes.size + this.running.size;
  }

  /** Handles one PDU from the initiator. */
  handle(pdu: Pdu): void {
    if (this.closed) return;
    const bhs = pdu.bhs;
    switch (bhs.kind) {
      case 'data-out':
        this.onDataOut(bhs, pdu.data);
        return;
      case 'scsi-command':
      case 'task-management-request':
      case 'text-request':
      case 'nop-out':
      case 'logout-request':
        this.ordered(pdu, bhs);
        return;
      case 'snack-request':
        this.reject(pdu, REJECT_REASON.commandNotSupported);
        return;
      default:
        // Target-side opcodes and a Login Request in full feature phase.
        this.reject(pdu, REJECT_REASON.protocolError);
    }
  }

  /** A target-initiated NOP-In ping; the transport calls it when the connection is idle. Returns false
   * when the previous ping is still unanswered (the initiator is gone). */
  ping(): boolean {
    if (this.pingTag !== undefined) return false;
    this.pingTag = this.newTtt();
    this.ctx.send({
      bhs: {
        kind: 'nop-in',
        lun: 0n,
        initiatorTaskTag: RESERVED_TAG,
        targetTransferTag: this.pingTag,
        statSN: this.statSN,
        expCmdSN: this.expCmdSN,
        maxCmdSN: this.maxCmdSN(),
      },
    });
    return true;
  }

  /** Asks the initiator to log out (shutdown, target removed): Async Message, event 1. */
  requestLogout(waitSeconds: number): void {
    this.ctx.send({
      bhs: {
        kind: 'async-message',
        lun: 0n,
        statSN: this.nextStatSN(),
        expCmdSN: this.expCmdSN,
        maxCmdSN: this.maxCmdSN(),
        asyncEvent: 1,
        asyncVCode: 0,
        parameter1: 0,
        parameter2: 0,
        parameter3: waitSeconds,
      },
    });
  }

  /** The connection is gone: forget everything (ERL 0 has no recovery). */
  end(): void {
    this.closed = true;
    this.writes.clear();
    this.pendingWriteBytes = 0;
    this.waiting.clear();
    if (this.ctx.nexus && this.ctx.device) this.ctx.device.nexusLost(this.ctx.nexus);
  }

  // --- command ordering --------------------------------------------------------------------------

  private ordered(
    pdu: Pdu,
    bhs:
      ScsiCommand | TaskManagementRequest | TextRequest | NopOut | Extract<Bhs, { kind: 'logout-request' }>,
  ): void {
    if (bhs.immediate) {
      // Immediate commands bypass the CmdSN window; bound them by the tasks in flight instead, or an
      // initiator could queue Data-In without limit (RFC 7143 §11.17.1, reason 0x06).
      if (bhs.kind === 'scsi-command' && this.tasksInFlight >= this.ctx.commandWindow) {
        this.reject(pdu, REJECT_REASON.immediateCommandReject);
        return;
      }
      this.dispatch(pdu);
      return;
    }
    const cmdSN = bhs.cmdSN;
    if (cmdSN === this.expCmdSN) {
      this.expCmdSN = serialAdd(this.expCmdSN, 1);
      this.dispatch(pdu);
      this.drainWaiting();
      return;
    }
    if (serialGt(cmdSN, this.expCmdSN) && serialInWindow(cmdSN, this.expCmdSN, this.maxCmdSN())) {
      this.waiting.set(cmdSN, pdu);
      return;
    }
    // Outside the window (or a duplicate): RFC 7143 §4.2.2.1 says silently ignore.
    this.ctx.log('command outside the CmdSN window dropped', { cmdSN, expCmdSN: this.expCmdSN });
  }

  private drainWaiting(): void {
    for (let next = this.waiting.get(this.expCmdSN); next; next = this.waiting.get(this.expCmdSN)) {
      this.waiting.delete(this.expCmdSN);
      this.expCmdSN = serialAdd(this.expCmdSN, 1);
      this.dispatch(next);
    }
  }

  private dispatch(pdu: Pdu): void {
    const bhs = pdu.bhs;
    switch (bhs.kind) {
      case 'scsi-command':
        this.onScsiCommand(pdu, bhs);
        return;
      case 'task-management-request':
        void this.onTaskManagement(bhs);
        return;
      case 'text-request':
        this.onText(pdu, bhs);
        return;
      case 'nop-out':
        this.onNopOut(pdu, bhs);
        return;
      case 'logout-request':
        this.onLogout(bhs);
        return;
      default:
        return;
    }
  }

  // --- SCSI commands -----------------------------------------------------------------------------

  private onScsiCommand(pdu: Pdu, command: ScsiCommand): void {
    const itt = command.initiatorTaskTag;
    if (this.writes.has(itt) || this.running.has(itt)) {
      this.reject(pdu, REJECT_REASON.taskInProgress);
      return;
    }
    const lun = lunNumber(command.lun);
    const ahs = parseAhs(pdu.ahs);
    if (!ahs.ok || lun === undefined) {
      this.reject(pdu, REJECT_REASON.invalidPduField);
      return;
    }
    const cdb = fullCdb(command.cdb, ahs.value);
    if (!this.ctx.device || !this.ctx.nexus) {
      this.reject(pdu, REJECT_REASON.protocolError); // a discovery session carries no SCSI
      return;
    }
    if (command.write && command.expectedDataTransferLength > 0) {
      if (command.expectedDataTransferLength > MAX_WRITE_BYTES) {
        this.reject(pdu, REJECT_REASON.invalidPduField);
        return;
      }
      if (this.pendingWriteBytes + command.expectedDataTransferLength > MAX_PENDING_WRITE_BYTES) {
        this.sendScsiResponse(
          command,
          { response: SCSI_RESPONSE.commandCompleted, status: ScsiStatus.TASK_SET_FULL },
          0,
        );
        return;
      }
      const params = this.params;
      const collector = new WriteCollector(command.expectedDataTransferLength, params, () => this.newTtt());
      const error = collector.immediate(pdu.data);
      if (error) {
        this.reject(pdu, REJECT_REASON.protocolError);
        return;
      }
      const pending: PendingWrite = { command, collector, lun, cdb };
      this.writes.set(itt, pending);
      this.pendingWriteBytes += collector.expected;
      this.continueWrite(pending);
      return;
    }
    if (pdu.data.length > 0) {
      // Data with a command that carries no Data-Out.
      this.reject(pdu, REJECT_REASON.protocolError);
      return;
    }
    if (command.read && command.expectedDataTransferLength > 0) {
      const wanted = this.pendingReadBytes + command.expectedDataTransferLength + this.ctx.outputBacklog();
      if (wanted > MAX_PENDING_READ_BYTES && this.pendingReadBytes + this.ctx.outputBacklog() > 0) {
        this.sendScsiResponse(
          command,
          { response: SCSI_RESPONSE.commandCompleted, status: ScsiStatus.TASK_SET_FULL },
          0,
        );
        return;
      }
    }
    void this.execute(command, lun, cdb, undefined, 0);
  }

  private onDataOut(bhs: DataOut, data: Buffer): void {
    const pending = this.writes.get(bhs.initiatorTaskTag);
    if (!pending) {
      this.ctx.log('Data-Out for an unknown task ignored', { itt: bhs.initiatorTaskTag });
      return;
    }
    const error = pending.collector.dataOut(bhs.targetTransferTag, bhs.bufferOffset, data, bhs.dataSN);
    if (error) {
      // ERL 0 cannot recover the sequence: reject the PDU and end the command with CHECK CONDITION, so
      // the initiator learns at once instead of waiting for a timeout (RFC 7143 §7.12).
      this.ctx.log('bad Data-Out', { error, itt: bhs.initiatorTaskTag });
      this.rejectRaw(encodeHeaderForReject(bhs), REJECT_REASON.protocolError);
      this.failWrite(pending, 'DATA_PHASE_ERROR');
      return;
    }
    this.continueWrite(pending);
  }

  /** A Data-Out PDU failed its data digest: the framer skipped it; the command cannot complete. */
  dataDigestError(header: Buffer, itt: number): void {
    this.rejectRaw(header, REJECT_REASON.dataDigestError);
    const pending = this.writes.get(itt);
    if (pending) this.failWrite(pending, 'PROTOCOL_SERVICE_CRC_ERROR');
  }

  private failWrite(pending: PendingWrite, code: 'DATA_PHASE_ERROR' | 'PROTOCOL_SERVICE_CRC_ERROR'): void {
    this.dropWrite(pending.command.initiatorTaskTag);
    this.sendScsiResponse(
      pending.command,
      {
        response: SCSI_RESPONSE.commandCompleted,
        status: ScsiStatus.CHECK_CONDITION,
        sense: buildSenseData(senseReason(code)),
      },
      pending.collector.r2tCount,
    );
  }

  /** Forgets a write that is collecting Data-Out; returns whether there was one. */
  private dropWrite(itt: number): boolean {
    const pending = this.writes.get(itt);
    if (!pending) return false;
    this.writes.delete(itt);
    this.pendingWriteBytes -= pending.collector.expected;
    return true;
  }

  private continueWrite(pending: PendingWrite): void {
    const { collector, command } = pending;
    if (collector.complete) {
      this.dropWrite(command.initiatorTaskTag);
      void this.execute(command, pending.lun, pending.cdb, collector.buffer, collector.r2tCount);
      return;
    }
    for (const r2t of collector.r2ts()) {
      this.ctx.send({
        bhs: {
          kind: 'r2t',
          lun: command.lun,
          initiatorTaskTag: command.initiatorTaskTag,
          targetTransferTag: r2t.targetTransferTag,
          statSN: this.statSN,
          expCmdSN: this.expCmdSN,
          maxCmdSN: this.maxCmdSN(),
          r2tSN: r2t.r2tSN,
          bufferOffset: r2t.bufferOffset,
          desiredDataTransferLength: r2t.desiredLength,
        },
      });
    }
  }

  private async execute(
    command: ScsiCommand,
    lun: number,
    cdb: Buffer,
    dataOut: Buffer | undefined,
    r2tCount: number,
  ): Promise<void> {
    const device = this.ctx.device;
    const nexus = this.ctx.nexus;
    if (!device || !nexus) return;
    const itt = command.initiatorTaskTag;
    this.running.add(itt);
    const readBytes = command.read ? command.expectedDataTransferLength : 0;
    this.pendingReadBytes += readBytes;
    let result;
    try {
      result = await device.execute({
        nexus,
        tag: itt,
        lun,
        cdb,
        attribute: taskAttribute(command.attr),
        expectedDataInLength: command.read ? command.expectedDataTransferLength : 0,
        ...(dataOut ? { dataOut } : {}),
      });
    } catch (error) {
      this.ctx.log('SCSI layer failed', { error: String(error) });
      result = undefined;
    } finally {
      this.running.delete(itt);
      // Its Data-In goes to the connection's output next, which outputBacklog() counts from then on.
      this.pendingReadBytes -= readBytes;
    }
    if (this.closed) return;
    if (!result) {
      this.sendScsiResponse(command, { response: SCSI_RESPONSE.targetFailure, status: 0 }, r2tCount);
      return;
    }
    const expected = command.expectedDataTransferLength;
    const dataIn = result.dataIn ?? Buffer.alloc(0);
    // What the command moved (or would have) against what the initiator expected, for residuals.
    const actual = command.write ? (result.dataOutLength ?? expected) : dataIn.length;
    const res = residual(expected, actual);
    const toSend = command.read ? Math.min(dataIn.length, expected) : 0;
    let dataInSent = 0;
    if (toSend > 0) {
      // GOOD status rides on the last Data-In (phase collapse); sense needs a SCSI Response.
      const collapse = result.status === ScsiStatus.GOOD && !result.sense;
      const pieces = splitDataIn(
        toSend,
        this.params.initiatorMaxRecvDataSegmentLength,
        this.params.maxBurstLength,
      );
      for (const piece of pieces) {
        const withStatus = collapse && piece.last;
        this.ctx.send({
          bhs: {
            kind: 'data-in',
            final: piece.final || withStatus,
            acknowledge: false,
            residualOverflow: withStatus && res.overflow,
            residualUnderflow: withStatus && res.underflow,
            hasStatus: withStatus,
            status: withStatus ? result.status : 0,
            lun: command.lun,
            initiatorTaskTag: itt,
            targetTransferTag: RESERVED_TAG,
            statSN: withStatus ? this.nextStatSN() : 0,
            expCmdSN: this.expCmdSN,
            maxCmdSN: this.maxCmdSN(),
            dataSN: piece.dataSN,
            bufferOffset: piece.offset,
            residualCount: withStatus ? res.count : 0,
          },
          data: dataIn.subarray(piece.offset, piece.offset + piece.length),
        });
      }
      dataInSent = pieces.length;
      if (collapse) return;
    }
    this.sendScsiResponse(
      command,
      { response: SCSI_RESPONSE.commandCompleted, status: result.status, sense: result.sense, residual: res },
      command.write ? r2tCount : dataInSent,
    );
  }

  private sendScsiResponse(
    command: ScsiCommand,
    r: {
      response: number;
      status: number;
      sense?: Buffer | undefined;
      residual?: { overflow: boolean; underflow: boolean; count: number };
    },
    expDataSN: number,
  ): void {
    let data: Buffer | undefined;
    if (r.sense && r.sense.length > 0) {
      data = Buffer.alloc(2 + r.sense.length);
      data.writeUInt16BE(r.sense.length, 0);
      r.sense.copy(data, 2);
    }
    this.ctx.send({
      bhs: {
        kind: 'scsi-response',
        bidiReadResidualOverflow: false,
        bidiReadResidualUnderflow: false,
        residualOverflow: r.residual?.overflow ?? false,
        residualUnderflow: r.residual?.underflow ?? false,
        response: r.response,
        status: r.status,
        initiatorTaskTag: command.initiatorTaskTag,
        snackTag: 0,
        statSN: this.nextStatSN(),
        expCmdSN: this.expCmdSN,
        maxCmdSN: this.maxCmdSN(),
        expDataSN: expDataSN,
        bidiReadResidualCount: 0,
        residualCount: r.residual?.count ?? 0,
      },
      ...(data ? { data } : {}),
    });
  }

  // --- task management ---------------------------------------------------------------------------

  private async onTaskManagement(request: TaskManagementRequest): Promise<void> {
    const respond = (response: number): void =>
      this.ctx.send({
        bhs: {
          kind: 'task-management-response',
          response,
          initiatorTaskTag: request.initiatorTaskTag,
          statSN: this.nextStatSN(),
          expCmdSN: this.expCmdSN,
          maxCmdSN: this.maxCmdSN(),
        },
      });
    const device = this.ctx.device;
    const nexus = this.ctx.nexus;
    const lun = lunNumber(request.lun) ?? 0;
    if (!device || !nexus) {
      respond(TMF_RESPONSE.functionRejected);
      return;
    }
    let fn: TaskManagementFunction;
    switch (request.function) {
      case TMF_FUNCTION.abortTask: {
        const tag = request.referencedTaskTag;
        if (this.dropWrite(tag)) {
          respond(TMF_RESPONSE.functionComplete);
          return;
        }
        if (!this.running.has(tag)) {
          // Already answered (RefCmdSN behind us) or never seen.
          respond(
            serialLt(request.refCmdSN, this.expCmdSN)
              ? TMF_RESPONSE.functionComplete
              : TMF_RESPONSE.taskDoesNotExist,
          );
          return;
        }
        fn = { kind: 'abort-task', tag };
        break;
      }
      case TMF_FUNCTION.abortTaskSet:
        fn = { kind: 'abort-task-set' };
        break;
      case TMF_FUNCTION.clearTaskSet:
        fn = { kind: 'clear-task-set' };
        break;
      case TMF_FUNCTION.logicalUnitReset:
        fn = { kind: 'logical-unit-reset' };
        break;
      case TMF_FUNCTION.targetWarmReset:
      case TMF_FUNCTION.targetColdReset:
        fn = { kind: 'target-reset' };
        break;
      default:
        respond(TMF_RESPONSE.taskManagementFunctionNotSupported);
        return;
    }
    if (fn.kind !== 'abort-task') for (const itt of [...this.writes.keys()]) this.dropWrite(itt);
    const result = await device.taskManagement(nexus, lun, fn);
    if (this.closed) return;
    respond(
      result === 'function-complete'
        ? TMF_RESPONSE.functionComplete
        : result === 'task-does-not-exist'
          ? TMF_RESPONSE.taskDoesNotExist
          : TMF_RESPONSE.functionRejected,
    );
    if (request.function === TMF_FUNCTION.targetColdReset) this.ctx.close('target cold reset');
  }

  // --- text, NOP, logout -------------------------------------------------------------------------

  private onText(pdu: Pdu, request: TextRequest): void {
    const continuation = this.textContinuation;
    if (request.targetTransferTag !== RESERVED_TAG) {
      if (!continuation || continuation.ttt !== request.targetTransferTag) {
        this.reject(pdu, REJECT_REASON.invalidPduField);
        return;
      }
      this.textContinuation = undefined;
      this.sendText(request.initiatorTaskTag, continuation.remaining);
      return;
    }
    const parsed = parseTextData(pdu.data);
    if (!parsed.ok) {
      this.reject(pdu, REJECT_REASON.protocolError);
      return;
    }
    const outcome = negotiate(parsed.value, this.ctx.limits, this.negotiation, {
      stage: 'full-feature',
      leading: true,
    });
    if (!outcome.ok) {
      this.reject(pdu, REJECT_REASON.protocolError);
      return;
    }
    this.negotiation = outcome.state;
    const answer: TextPair[] = [...outcome.response];
    for (const deferred of outcome.deferred) {
      if (deferred.key === 'SendTargets') answer.push(...this.ctx.sendTargets(deferred.value));
      else answer.push({ key: deferred.key, value: 'Irrelevant' });
    }
    this.sendText(request.initiatorTaskTag, answer.length > 0 ? encodeTextData(answer) : Buffer.alloc(0));
  }

  /** Sends text, in pieces of the initiator's MaxRecvDataSegmentLength (C bit, RFC 7143 §11.11). */
  private sendText(itt: number, text: Buffer): void {
    const max = this.params.initiatorMaxRecvDataSegmentLength;
    const more = text.length > max;
    const ttt = more ? this.newTtt() : RESERVED_TAG;
    if (more) this.textContinuation = { ttt, remaining: text.subarray(max) };
    this.ctx.send({
      bhs: {
        kind: 'text-response',
        final: !more,
        continue: more,
        lun: 0n,
        initiatorTaskTag: itt,
        targetTransferTag: ttt,
        statSN: this.nextStatSN(),
        expCmdSN: this.expCmdSN,
        maxCmdSN: this.maxCmdSN(),
      },
      data: more ? text.subarray(0, max) : text,
    });
  }

  private onNopOut(pdu: Pdu, nop: NopOut): void {
    if (nop.targetTransferTag !== RESERVED_TAG) {
      // The answer to our ping.
      if (nop.targetTransferTag === this.pingTag) this.pingTag = undefined;
      return;
    }
    if (nop.initiatorTaskTag === RESERVED_TAG) return; // a one-way NOP-Out: nothing to answer
    this.ctx.send({
      bhs: {
        kind: 'nop-in',
        lun: nop.lun,
        initiatorTaskTag: nop.initiatorTaskTag,
        targetTransferTag: RESERVED_TAG,
        statSN: this.nextStatSN(),
        expCmdSN: this.expCmdSN,
        maxCmdSN: this.maxCmdSN(),
      },
      data: pdu.data,
    });
  }

  /** Any PDU from the initiator proves it is alive. */
  sawTraffic(): void {
    this.pingTag = undefined;
  }

  private onLogout(request: Extract<Bhs, { kind: 'logout-request' }>): void {
    const response =
      request.reasonCode === LOGOUT_REASON.removeConnectionForRecovery
        ? LOGOUT_RESPONSE.connectionRecoveryNotSupported
        : LOGOUT_RESPONSE.closedSuccessfully;
    this.ctx.send({
      bhs: {
        kind: 'logout-response',
        response,
        initiatorTaskTag: request.initiatorTaskTag,
        statSN: this.nextStatSN(),
        expCmdSN: this.expCmdSN,
        maxCmdSN: this.maxCmdSN(),
        time2Wait: 0,
        time2Retain: 0,
      },
    });
    if (response === LOGOUT_RESPONSE.closedSuccessfully) this.ctx.close('logout');
  }

  // --- helpers -----------------------------------------------------------------------------------

  private reject(pdu: Pdu, reason: number): void {
    this.rejectRaw(encodeHeaderForReject(pdu.bhs), reason);
  }

  /** Rejects a PDU given by its raw header (RFC 7143 §11.17). */
  rejectRaw(header: Buffer, reason: number): void {
    this.ctx.send({
      bhs: {
        kind: 'reject',
        reason,
        statSN: this.nextStatSN(),
        expCmdSN: this.expCmdSN,
        maxCmdSN: this.maxCmdSN(),
        dataSN: 0,
      },
      data: header,
    });
  }

  private nextStatSN(): number {
    const current = this.statSN;
    this.statSN = serialAdd(this.statSN, 1);
    return current;
  }

  private maxCmdSN(): number {
    return serialAdd(this.expCmdSN, this.ctx.commandWindow - 1);
  }

  private newTtt(): number {
    const ttt = this.nextTtt;
    this.nextTtt = this.nextTtt >= 0x7fffffff ? 1 : this.nextTtt + 1;
    return ttt;
  }
}

function taskAttribute(attr: number): TaskAttribute {
  switch (attr) {
    case TASK_ATTRIBUTE.ordered:
      return 'ordered';
    case TASK_ATTRIBUTE.headOfQueue:
      return 'head-of-queue';
    case TASK_ATTRIBUTE.aca:
      return 'aca';
    default:
      return 'simple';
  }
}

/** The rejected PDU's header goes back in the Reject's data segment (RFC 7143 §11.17.3). */
function encodeHeaderForReject(bhs: Bhs): Buffer {
  return encodeBhs(bhs, bhs);
}
