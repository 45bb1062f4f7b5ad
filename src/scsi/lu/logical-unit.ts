// One SCSI logical unit (a direct access block device, SBC-3) over a BlockDevice: it decodes each
// command, reports unit attentions and reservation conflicts, and hands the command to its executor.
//
// State owned here, and who changes it:
// - settings (write cache, read only): MODE SELECT and setWriteBack(); size: resized().
// - unit attentions per I_T nexus (unit-attention.ts), the SPC-2 reservation (spc2-reservations.ts),
//   the persistent reservation state (pr-state.ts, changed only through persistent-reservations.ts and
//   saved to the PrStateStore after each change), and the tasks in flight (task-set.ts).
// Invariants: every response comes from one CommandOutcome; sense bytes come only from
// buildSenseData; state changes happen synchronously before a command's first await, so commands
// interleaving at their I/O never see half a change; writes take the range lock (range-lock.ts).
import type { BlockDevice } from '../../storage/block-device.js';
import type { CommandOp, ScsiCommand } from '../cdb/command.js';
import { decodeCdb } from '../cdb/decode.js';
import { buildSenseData } from '../sense/sense-data.js';
import { senseReason, type SenseCode, type SenseReason } from '../sense/sense-reason.js';
import { ScsiStatus } from '../sense/status.js';
import { readCapacity10, respondReadCapacity16 } from '../spc/capacity.js';
import { respondInquiry } from '../spc/inquiry.js';
import { blockLimits, type LogicalUnitInfo } from '../spc/logical-unit.js';
import { parseModeSelect } from '../spc/mode-select.js';
import { respondModeSense } from '../spc/mode-sense.js';
import { respondReportLuns } from '../spc/report-luns.js';
import {
  respondReportSupportedOperationCodes,
  respondReportSupportedTaskManagementFunctions,
} from '../spc/report-supported.js';
import { respondRequestSense } from '../spc/request-sense.js';
import type { BlockContext } from '../sbc/block-context.js';
import { compareAndWriteDataOutLength, executeCompareAndWrite } from '../sbc/compare-and-write.js';
import { executeGetLbaStatus } from '../sbc/get-lba-status.js';
import { guarded } from '../sbc/io-error.js';
import {
  executeRead,
  executeVerify,
  executeWrite,
  executeWriteAndVerify,
  verifyDataOutLength,
} from '../sbc/read-write.js';
import { executeSynchronizeCache } from '../sbc/synchronize-cache.js';
import { executeUnmap } from '../sbc/unmap.js';
import { executeWriteSame, writeSameDataOutLength } from '../sbc/write-same.js';
import { check, CONFLICT, fromResult, good, type CommandOutcome } from './outcome.js';
import { persistentReserveOut } from './persistent-reservations.js';
import { parsePrOutParameters, respondPersistentReserveIn } from './pr-data.js';
import {
  EMPTY_PR_STATE,
  registrantMatches,
  registrationOf,
  type PrState,
  type PrStateStore,
  type Registrant,
} from './pr-state.js';
import { RangeLock } from '../../lib/range-lock.js';
import { persistentReservationConflict, spc2Conflict } from './reservation-conflict.js';
import type {
  ItNexus,
  ScsiTaskRequest,
  ScsiTaskResponse,
  TaskManagementFunction,
  TaskManagementResult,
} from './scsi-task.js';
import { Spc2Reservation } from './spc2-reservations.js';
import { TaskSet } from './task-set.js';
import { UA_EXEMPT_OPCODES, UnitAttentions } from './unit-attention.js';

export interface LogicalUnitSettings {
  readonly readOnly: boolean;
  /** WCE: writes may be acknowledged from a volatile cache. Off: write-through. */
  readonly writeBack: boolean;
  /** Logical block size in bytes (default 512). */
  readonly blockSize?: number;
}

/** What the LU is, apart from what it derives from its device and settings. */
export type LogicalUnitIdentity = Omit<
  LogicalUnitInfo,
  'blockSize' | 'blockCount' | 'writeProtected' | 'writeCacheEnabled'
>;

export interface LogicalUnitOptions {
  readonly device: BlockDevice;
  readonly identity: LogicalUnitIdentity;
  readonly settings: LogicalUnitSettings;
  /** Where persistent reservations are kept across restarts (APTPL) and for a failover peer. */
  readonly prStore?: PrStateStore;
  /** Adopt saved reservations even without APTPL (a replicated volume after a failover). */
  readonly adoptSavedReservations?: boolean;
}

/** MAXIMUM TRANSFER LENGTH in bytes unless the identity's limits say otherwise. libiscsi's
 * iscsi-test-cu writes 65536 blocks of 512 bytes in one WRITE (16) (WriteSame16.Unmap, as MAXIMUM WRITE
 * SAME LENGTH allows), so the limit we report and enforce must be at least 32 MiB. */
export const DEFAULT_MAX_TRANSFER_BYTES = 64 * 1024 * 1024;

/** The key under which per-nexus state is kept. */
const nexusKeys = new WeakMap<ItNexus, string>();

/** The nexus as a map key; a session passes the same nexus object with each command, so it is built once. */
export function nexusKey(nexus: ItNexus): string {
  let key = nexusKeys.get(nexus);
  if (key === undefined) {
    key = `${nexus.initiatorPort}|${nexus.targetPort}`;
    nexusKeys.set(nexus, key);
  }
  return key;
}

/** Commands that change the medium: refused with WRITE PROTECTED on a read-only LU. */
const WRITES: ReadonlySet<CommandOp> = new Set<CommandOp>([
  'write',
  'write-and-verify',
  'write-same',
  'unmap',
  'compare-and-write',
]);

type Handler<C extends ScsiCommand> = (
  command: C,
  request: ScsiTaskRequest,
  key: string,
) => Promise<CommandOutcome>;
type Handlers = { readonly [K in CommandOp]: Handler<Extract<ScsiCommand, { op: K }>> };

export class LogicalUnit {
  readonly #device: BlockDevice;
  readonly #identity: LogicalUnitIdentity;
  readonly #blockSize: number;
  readonly #readOnly: boolean;
  readonly #store: PrStateStore | undefined;
  readonly #lock = new RangeLock();
  readonly #unitAttentions = new UnitAttentions();
  readonly #tasks = new TaskSet();
  readonly #spc2 = new Spc2Reservation();
  readonly #nexuses = new Map<string, ItNexus>();
  #writeBack: boolean;
  #cachedContext: BlockContext | undefined;
  #blockCount: bigint;
  #pr: PrState;

  constructor(options: LogicalUnitOptions) {
    this.#device = options.device;
    this.#identity = options.identity;
    this.#blockSize = options.settings.blockSize ?? 512;
    this.#readOnly = options.settings.readOnly;
    this.#writeBack = options.settings.writeBack;
    this.#blockCount = this.#countBlocks();
    this.#store = options.prStore;
    // APTPL (SPC-4 §5.9.4): only state saved with APTPL = 1 survives a restart.
    const saved = options.prStore?.load();
    this.#pr =
      saved !== undefined && (saved.aptpl || options.adoptSavedReservations === true)
        ? saved
        : EMPTY_PR_STATE;
  }

  /** The LU as the SPC/SBC builders see it, with the current settings and size. */
  get info(): LogicalUnitInfo {
    return {
      ...this.#identity,
      limits: { maxTransferLength: DEFAULT_MAX_TRANSFER_BYTES / this.#blockSize, ...this.#identity.limits },
      blockSize: this.#blockSize,
      blockCount: this.#blockCount,
      writeProtected: this.#readOnly,
      writeCacheEnabled: this.#writeBack,
    };
  }

  get prState(): PrState {
    return this.#pr;
  }

  /** Unit attentions pending for a nexus (for tests and diagnostics). */
  pendingUnitAttentions(nexus: ItNexus): readonly SenseCode[] {
    return this.#unitAttentions.pending(nexusKey(nexus));
  }

  /** Establishes a unit attention for every nexus this LU knows (e.g. REPORTED LUNS DATA HAS CHANGED). */
  establishUnitAttention(code: SenseCode): void {
    this.#unitAttentions.establishAll(code);
  }

  /** Clears a pending unit attention of one nexus without reporting it. */
  clearUnitAttention(nexus: ItNexus, code: SenseCode): void {
    this.#unitAttentions.clear(nexusKey(nexus), code);
  }

  /** The device's size changed: recompute the capacity and tell every nexus (SBC-3 §4.6). */
  resized(): void {
    const count = this.#countBlocks();
    if (count === this.#blockCount) return;
    this.#blockCount = count;
    this.#cachedContext = undefined;
    this.#unitAttentions.establishAll('CAPACITY_DATA_HAS_CHANGED');
  }

  /** Changes the write cache setting from the management plane; other nexuses hear of it. */
  setWriteBack(on: boolean): void {
    if (on === this.#writeBack) return;
    this.#writeBack = on;
    this.#cachedContext = undefined;
    this.#unitAttentions.establishAll('MODE_PARAMETERS_CHANGED');
  }

  async execute(request: ScsiTaskRequest): Promise<ScsiTaskResponse> {
    const key = this.#see(request.nexus);
    const task = this.#tasks.begin(key, request.tag);
    try {
      const response = await this.#run(request, key);
      return task.aborted ? { status: ScsiStatus.TASK_ABORTED } : response;
    } catch {
      // Exceptions on the data path are bugs; the initiator hears a hardware error, not a hang.
      return respond(check(senseReason('INTERNAL_TARGET_FAILURE')));
    } finally {
      this.#tasks.end(task);
    }
  }

  /** LU-scoped task management (SAM-5 §7). Aborted tasks have finished when this resolves. */
  async taskManagement(nexus: ItNexus, fn: TaskManagementFunction): Promise<TaskManagementResult> {
    const key = nexusKey(nexus);
    switch (fn.kind) {
      case 'abort-task': {
        const task = this.#tasks.find(key, fn.tag);
        if (task === undefined) return 'task-does-not-exist';
        await this.#tasks.abort((t) => t === task);
        return 'function-complete';
      }
      case 'abort-task-set':
        await this.#tasks.abort((t) => t.nexusKey === key);
        return 'function-complete';
      case 'clear-task-set': {
        // TAS = 0: other nexuses whose tasks were cleared hear COMMANDS CLEARED BY ANOTHER INITIATOR.
        const cleared = new Set(await this.#tasks.abort(() => true));
        cleared.delete(key);
        for (const other of cleared)
          this.#unitAttentions.establish(other, 'COMMANDS_CLEARED_BY_ANOTHER_INITIATOR');
        return 'function-complete';
      }
      case 'logical-unit-reset':
        await this.reset('BUS_DEVICE_RESET_FUNCTION_OCCURRED');
        return 'function-complete';
      case 'target-reset':
        await this.reset('POWER_ON_RESET_OR_BUS_DEVICE_RESET_OCCURRED');
        return 'function-complete';
    }
  }

  /** A reset of the LU (SAM-5 §6.3): tasks aborted, SPC-2 reservation released, persistent
   * reservations kept, every nexus told. */
  async reset(code: SenseCode): Promise<void> {
    await this.#tasks.abort(() => true);
    this.#spc2.clear();
    this.#unitAttentions.establishAll(code);
  }

  /** The nexus is gone: its tasks are aborted, its SPC-2 reservation and unit attentions dropped. */
  nexusLost(nexus: ItNexus): void {
    const key = nexusKey(nexus);
    void this.#tasks.abort((t) => t.nexusKey === key);
    this.#spc2.clear(key);
    this.#unitAttentions.forget(key);
    this.#nexuses.delete(key);
  }

  #see(nexus: ItNexus): string {
    const key = nexusKey(nexus);
    if (this.#nexuses.get(key) !== nexus) this.#nexuses.set(key, nexus);
    this.#unitAttentions.see(key);
    return key;
  }

  #countBlocks(): bigint {
    return BigInt(Math.floor(this.#device.size / this.#blockSize));
  }

  /** The context every SBC executor reads, built once per change of size or cache mode: it sits on the
   * path of every READ and WRITE. */
  #context(): BlockContext {
    this.#cachedContext ??= this.#buildContext();
    return this.#cachedContext;
  }

  #buildContext(): BlockContext {
    const info = this.info;
    return {
      device: this.#device,
      blockSize: this.#blockSize,
      blockCount: this.#blockCount,
      limits: blockLimits(info),
      thinProvisioned: info.thinProvisioned,
      writeCacheEnabled: this.#writeBack,
      lock: this.#lock,
    };
  }

  async #run(request: ScsiTaskRequest, key: string): Promise<ScsiTaskResponse> {
    const opcode = request.cdb[0] ?? 0;
    if (!UA_EXEMPT_OPCODES.has(opcode)) {
      const attention = this.#unitAttentions.take(key);
      if (attention !== undefined) return respond(check(attention));
    }
    const decoded = decodeCdb(request.cdb);
    if (!decoded.ok) return respond(check(decoded.sense));
    const command = decoded.value.command;
    const dataOutLength = this.#dataOutLength(command);
    const outcome = await this.#dispatch(command, request, key);
    return respond(outcome, dataOutLength);
  }

  async #dispatch(command: ScsiCommand, request: ScsiTaskRequest, key: string): Promise<CommandOutcome> {
    if (this.#spc2.heldByOther(key) && spc2Conflict(command)) return CONFLICT;
    if (persistentReservationConflict(this.#pr, request.nexus, command)) return CONFLICT;
    if (this.#readOnly && WRITES.has(command.op)) return check(senseReason('WRITE_PROTECTED'));
    const handler = this.#handlers[command.op] as Handler<ScsiCommand>;
    return handler(command, request, key);
  }

  /** Bytes of Data-Out the command asks for, so the transport can report a residual. */
  #dataOutLength(command: ScsiCommand): number | undefined {
    const ctx = this.#context();
    switch (command.op) {
      case 'write':
      case 'write-and-verify':
        return command.blocks * this.#blockSize;
      case 'verify':
        return verifyDataOutLength(ctx, command);
      case 'write-same':
        return writeSameDataOutLength(ctx, command);
      case 'compare-and-write':
        return compareAndWriteDataOutLength(ctx, command);
      case 'unmap':
      case 'mode-select':
      case 'persistent-reserve-out':
        return command.parameterListLength;
      default:
        return undefined;
    }
  }

  readonly #handlers: Handlers = {
    'test-unit-ready': () => Promise.resolve(good()),
    inquiry: (c) => Promise.resolve(fromResult(respondInquiry(this.info, c))),
    'request-sense': (c, _r, key) =>
      Promise.resolve(good(respondRequestSense(this.#unitAttentions.take(key), c))),
    'read-capacity-10': () => Promise.resolve(good(readCapacity10(this.info))),
    'read-capacity-16': (c) => Promise.resolve(good(respondReadCapacity16(this.info, c))),
    read: async (c) => fromResult(await executeRead(this.#context(), c)),
    write: async (c, r) => fromResult(await executeWrite(this.#context(), c, r.dataOut)),
    'write-and-verify': async (c, r) =>
      fromResult(await executeWriteAndVerify(this.#context(), c, r.dataOut)),
    verify: async (c, r) => fromResult(await executeVerify(this.#context(), c, r.dataOut)),
    'synchronize-cache': async (c) => fromResult(await executeSynchronizeCache(this.#context(), c)),
    'write-same': async (c, r) => fromResult(await executeWriteSame(this.#context(), c, r.dataOut)),
    unmap: async (c, r) => fromResult(await executeUnmap(this.#context(), c, r.dataOut)),
    'compare-and-write': async (c, r) =>
      fromResult(await executeCompareAndWrite(this.#context(), c, r.dataOut)),
    'get-lba-status': async (c) => fromResult(await executeGetLbaStatus(this.#context(), c)),
    'mode-sense': (c) => Promise.resolve(fromResult(respondModeSense(this.info, c))),
    'mode-select': (c, r, key) => Promise.resolve(this.#modeSelect(c, r, key)),
    // REPORT LUNS is answered by the target; an LU alone knows only itself, as LUN 0.
    'report-luns': (c) => Promise.resolve(good(respondReportLuns([0], c))),
    'report-supported-operation-codes': (c) =>
      Promise.resolve(fromResult(respondReportSupportedOperationCodes(c))),
    'report-supported-task-management-functions': (c) =>
      Promise.resolve(good(respondReportSupportedTaskManagementFunctions(c))),
    'persistent-reserve-in': (c) => Promise.resolve(fromResult(respondPersistentReserveIn(this.#pr, c))),
    'persistent-reserve-out': (c, r, key) => this.#persistentReserveOut(c, r, key),
    reserve: (_c, _r, key) => Promise.resolve(this.#spc2.reserve(key, this.#pr.registrations.length > 0)),
    release: (_c, _r, key) => Promise.resolve(this.#spc2.release(key, this.#pr.registrations.length > 0)),
    'start-stop-unit': async (c) => {
      // Not removable (RMB = 0): LOEJ and power conditions change nothing; a stop flushes the cache.
      if (c.start || c.noFlush) return good();
      return fromResult(await guarded('write', () => this.#device.flush().then(() => undefined)));
    },
    'prevent-allow-medium-removal': () => Promise.resolve(good()),
  };

  #modeSelect(
    command: Extract<ScsiCommand, { op: 'mode-select' }>,
    request: ScsiTaskRequest,
    key: string,
  ): CommandOutcome {
    const parsed = parseModeSelect(this.info, command, request.dataOut ?? Buffer.alloc(0));
    if (!parsed.ok) return check(parsed.sense);
    if (parsed.value.writeCacheEnabled !== this.#writeBack) {
      this.#writeBack = parsed.value.writeCacheEnabled;
      this.#cachedContext = undefined;
      // SPC-4 §6.11: the other I_T nexuses hear MODE PARAMETERS CHANGED.
      this.#unitAttentions.establishAll('MODE_PARAMETERS_CHANGED', (k) => k !== key);
    }
    return good();
  }

  async #persistentReserveOut(
    command: Extract<ScsiCommand, { op: 'persistent-reserve-out' }>,
    request: ScsiTaskRequest,
    key: string,
  ): Promise<CommandOutcome> {
    const parameters = parsePrOutParameters(command, request.dataOut);
    if (!parameters.ok) return check(parameters.sense);
    const result = persistentReserveOut(this.#pr, {
      nexus: request.nexus,
      serviceAction: command.serviceAction,
      scope: command.scope,
      type: command.type,
      parameters: parameters.value,
      targetPortName: (relative) => this.#targetPortName(relative),
    });
    if (result.state !== this.#pr) {
      this.#pr = result.state;
      this.#store?.save(result.state);
    }
    for (const ua of result.unitAttentions) this.#establishFor(ua.to, ua.code, key);
    if (result.abort.length > 0) {
      const victims = new Set(this.#keysOf(result.abort).filter((k) => k !== key));
      await this.#tasks.abort((t) => victims.has(t.nexusKey));
    }
    return result.outcome;
  }

  #keysOf(registrants: readonly Registrant[]): string[] {
    return [...this.#nexuses]
      .filter(([, n]) => registrants.some((r) => registrantMatches(r, n)))
      .map(([k]) => k);
  }

  #establishFor(registrant: Registrant, code: SenseCode, issuer: string): void {
    for (const k of this.#keysOf([registrant])) if (k !== issuer) this.#unitAttentions.establish(k, code);
  }

  #targetPortName(relative: number): string | undefined {
    if (relative === this.#identity.relativeTargetPort) return this.#identity.targetPortName;
    return [...this.#nexuses.values()].find((n) => n.relativeTargetPort === relative)?.targetPort;
  }

  /** Whether the nexus is registered (for diagnostics). */
  isRegistered(nexus: ItNexus): boolean {
    return registrationOf(this.#pr, nexus) !== undefined;
  }
}

/** The response for an outcome: the only place statuses and sense bytes are put together. */
export function respond(outcome: CommandOutcome, dataOutLength?: number): ScsiTaskResponse {
  const base = dataOutLength === undefined ? {} : { dataOutLength };
  switch (outcome.kind) {
    case 'good':
      return outcome.dataIn === undefined
        ? { status: ScsiStatus.GOOD, ...base }
        : { status: ScsiStatus.GOOD, dataIn: outcome.dataIn, ...base };
    case 'check':
      return { status: ScsiStatus.CHECK_CONDITION, sense: senseBytes(outcome.sense), ...base };
    case 'conflict':
      return { status: ScsiStatus.RESERVATION_CONFLICT, ...base };
  }
}

/** Fixed format: the control mode page reports D_SENSE = 0. */
const senseBytes = (reason: SenseReason): Buffer => buildSenseData(reason);
