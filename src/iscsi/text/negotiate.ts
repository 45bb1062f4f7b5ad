// Text negotiation, the target as acceptor (RFC 7143 §6.2 and §6.3). One pure function: it takes
// the keys of one request (a whole Login or Text Request sequence, C-bit pieces joined), the
// target's limits and the negotiation state so far, and returns the answer keys and the new state.
//
// State: NegotiationState is owned by the login (or text) layer, which passes it in and keeps the
// returned copy; this function never mutates it. Invariants kept by negotiate():
//   - every offered key gets exactly one answer, except declarative keys, deferred keys (CHAP_*,
//     SendTargets: the caller answers them) and answers the initiator sends us (their values are
//     the reserved NotUnderstood/Irrelevant/Reject, which must not be answered again);
//   - params only ever hold admissible values: a Reject leaves the previous value in place;
//   - firstBurstLength ≤ maxBurstLength after every call (§13.14);
//   - errorRecoveryLevel ≤ the target's limit (0 for Tandem).
// The answers follow §6.2: unknown keys → NotUnderstood; keys without meaning in this session →
// Irrelevant; syntax errors, values below a key's range, keys sent in the wrong stage or by the
// wrong side → Reject. A number above the range of a Minimum key is clamped instead: the minimum
// with our own value is admissible anyway (§6.2.2 lets the acceptor pick an admissible value).
// A key offered twice during one login is a protocol error that fails the login (§6.2).
// The target does not originate negotiations; it only declares its own MaxRecvDataSegmentLength,
// TargetPortalGroupTag and TargetAlias.
import { keyDefinition, type KeyDefinition } from './keys.js';
import {
  formatBoolean,
  IRRELEVANT,
  NOT_UNDERSTOOD,
  parseBoolean,
  parseNumber,
  REJECT,
  splitList,
  type TextPair,
} from './key-value.js';

export type DigestName = 'CRC32C' | 'None';
export type NegotiationStage = 'security' | 'operational' | 'full-feature';

/** What the target is willing to do; its side of every negotiation. */
export interface TargetLimits {
  readonly headerDigest: readonly DigestName[];
  readonly dataDigest: readonly DigestName[];
  /** Authentication methods the target accepts, e.g. ['None'] or ['CHAP']. */
  readonly authMethods: readonly string[];
  readonly maxConnections: number;
  readonly initialR2T: boolean;
  readonly immediateData: boolean;
  readonly maxRecvDataSegmentLength: number;
  readonly maxBurstLength: number;
  readonly firstBurstLength: number;
  readonly defaultTime2Wait: number;
  readonly defaultTime2Retain: number;
  readonly maxOutstandingR2T: number;
  readonly dataPDUInOrder: boolean;
  readonly dataSequenceInOrder: boolean;
  readonly errorRecoveryLevel: number;
  readonly taskReporting: readonly string[];
  readonly iSCSIProtocolLevel: number;
  readonly targetPortalGroupTag: number;
  readonly targetAlias?: string;
}

export const DEFAULT_TARGET_LIMITS: TargetLimits = {
  headerDigest: ['CRC32C', 'None'],
  dataDigest: ['CRC32C', 'None'],
  authMethods: ['None'],
  maxConnections: 1,
  initialR2T: false,
  immediateData: true,
  maxRecvDataSegmentLength: 262144,
  maxBurstLength: 1048576,
  firstBurstLength: 65536,
  defaultTime2Wait: 2,
  defaultTime2Retain: 0,
  maxOutstandingR2T: 1,
  dataPDUInOrder: true,
  dataSequenceInOrder: true,
  errorRecoveryLevel: 0,
  taskReporting: ['RFC3720'],
  iSCSIProtocolLevel: 1,
  targetPortalGroupTag: 1,
};

/** The operational parameters in force: RFC defaults until negotiated. */
export interface OperationalParams {
  readonly authMethod: string;
  readonly headerDigest: DigestName;
  readonly dataDigest: DigestName;
  readonly sessionType: 'Normal' | 'Discovery';
  readonly maxConnections: number;
  readonly initialR2T: boolean;
  readonly immediateData: boolean;
  /** What the initiator declared it can receive: the most data we may put in one PDU. */
  readonly initiatorMaxRecvDataSegmentLength: number;
  /** What we declared we can receive: the framer's limit. */
  readonly targetMaxRecvDataSegmentLength: number;
  readonly maxBurstLength: number;
  readonly firstBurstLength: number;
  readonly defaultTime2Wait: number;
  readonly defaultTime2Retain: number;
  readonly maxOutstandingR2T: number;
  readonly dataPDUInOrder: boolean;
  readonly dataSequenceInOrder: boolean;
  readonly errorRecoveryLevel: number;
  readonly taskReporting: string;
  readonly iSCSIProtocolLevel: number;
}

export const DEFAULT_PARAMS: OperationalParams = {
  authMethod: 'None',
  headerDigest: 'None',
  dataDigest: 'None',
  sessionType: 'Normal',
  maxConnections: 1,
  initialR2T: true,
  immediateData: true,
  initiatorMaxRecvDataSegmentLength: 8192,
  targetMaxRecvDataSegmentLength: 8192,
  maxBurstLength: 262144,
  firstBurstLength: 65536,
  defaultTime2Wait: 2,
  defaultTime2Retain: 20,
  maxOutstandingR2T: 1,
  dataPDUInOrder: true,
  dataSequenceInOrder: true,
  errorRecoveryLevel: 0,
  taskReporting: 'RFC3720',
  iSCSIProtocolLevel: 1,
};

export interface NegotiationState {
  readonly params: OperationalParams;
  /** Values the initiator declared: InitiatorName, TargetName, InitiatorAlias, X#NodeArchitecture... */
  readonly declared: Readonly<Record<string, string>>;
  /** Keys the initiator has sent during this login (for the "at most once" rule). */
  readonly seen: readonly string[];
  /** Keys the target has declared so far. */
  readonly targetDeclared: readonly string[];
}

export const INITIAL_NEGOTIATION_STATE: NegotiationState = {
  params: DEFAULT_PARAMS,
  declared: {},
  seen: [],
  targetDeclared: [],
};

export interface NegotiationContext {
  readonly stage: NegotiationStage;
  /** True on the first connection of a session: only it may carry leading-only keys. */
  readonly leading: boolean;
}

export interface NegotiationError {
  readonly code: 'duplicate-key';
  readonly key: string;
  readonly message: string;
}

export type NegotiationOutcome =
  | {
      readonly ok: true;
      /** Keys to send back, in the order they were offered, then the target's declarations. */
      readonly response: TextPair[];
      /** Keys for another layer: CHAP_* (authentication) and SendTargets (discovery). */
      readonly deferred: TextPair[];
      readonly state: NegotiationState;
    }
  | { readonly ok: false; readonly error: NegotiationError };

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Order of evaluation: SessionType first (it makes keys irrelevant), FirstBurstLength last. */
function rank(key: string): number {
  if (key === 'SessionType') return 0;
  if (key === 'FirstBurstLength') return 2;
  return 1;
}

const RESERVED_ANSWERS = new Set([NOT_UNDERSTOOD, IRRELEVANT, REJECT]);
const MAX_VALUE_BYTES = 255;

export function negotiate(
  offered: readonly TextPair[],
  limits: TargetLimits,
  state: NegotiationState,
  context: NegotiationContext,
): NegotiationOutcome {
  const inLogin = context.stage !== 'full-feature';
  const seenNow = new Set<string>();
  for (const { key } of offered) {
    if (seenNow.has(key) || (inLogin && state.seen.includes(key))) {
      return {
        ok: false,
        error: { code: 'duplicate-key', key, message: `${key} was offered more than once (RFC 7143 §6.2)` },
      };
    }
    seenNow.add(key);
  }

  const params: Mutable<OperationalParams> = { ...state.params };
  const declared: Record<string, string> = { ...state.declared };
  const answers = new Map<number, TextPair>();
  const deferred: TextPair[] = [];

  const order = offered
    .map((pair, index) => ({ pair, index }))
    .sort((a, b) => rank(a.pair.key) - rank(b.pair.key));
  for (const { pair, index } of order) {
    const { key, value } = pair;
    if (RESERVED_ANSWERS.has(value)) continue; // an answer to something we sent: never answered back
    const def = keyDefinition(key);
    if (def === undefined) {
      answers.set(index, { key, value: NOT_UNDERSTOOD });
      continue;
    }
    if (def.obsolete !== undefined) {
      answers.set(index, { key, value: def.obsolete });
      continue;
    }
    if (!allowedHere(def, context)) {
      answers.set(index, { key, value: REJECT });
      continue;
    }
    if (def.deferred) {
      deferred.push(pair);
      continue;
    }
    if (params.sessionType === 'Discovery' && def.discovery === false) {
      answers.set(index, { key, value: IRRELEVANT });
      continue;
    }
    const answer = answerKey(key, value, def, limits, params, declared);
    if (answer !== undefined) answers.set(index, { key, value: answer });
  }

  const response = [...answers.entries()].sort((a, b) => a[0] - b[0]).map(([, pair]) => pair);
  const targetDeclared = [...state.targetDeclared];
  const declare = (key: string, value: string): void => {
    if (targetDeclared.includes(key)) return;
    targetDeclared.push(key);
    response.push({ key, value });
  };
  if (inLogin && params.sessionType === 'Normal') {
    declare('TargetPortalGroupTag', String(limits.targetPortalGroupTag));
    if (limits.targetAlias !== undefined) declare('TargetAlias', limits.targetAlias);
  }
  if (context.stage === 'operational') {
    declare('MaxRecvDataSegmentLength', String(limits.maxRecvDataSegmentLength));
    params.targetMaxRecvDataSegmentLength = limits.maxRecvDataSegmentLength;
  }

  return {
    ok: true,
    response,
    deferred,
    state: {
      params,
      declared,
      seen: inLogin ? [...state.seen, ...seenNow] : state.seen,
      targetDeclared,
    },
  };
}

/** Whether a key may be sent by the initiator in this stage on this connection (RFC 7143 §13 "Use"). */
function allowedHere(def: KeyDefinition, context: NegotiationContext): boolean {
  if (def.senders === 'target') return false;
  if (def.use === 'LO' && !context.leading) return false;
  switch (context.stage) {
    case 'security':
      // Security keys, and declarations, which may come in either login stage.
      return def.use === 'SEC' || (def.result === 'declare' && def.use !== 'FFPO');
    case 'operational':
      return def.use === 'IO' || def.use === 'LO' || def.use === 'ALL';
    case 'full-feature':
      return def.use === 'ALL' || def.use === 'FFPO';
  }
}

/** The answer to one key (undefined for a declaration), updating params or declared values. */
function answerKey(
  key: string,
  value: string,
  def: KeyDefinition,
  limits: TargetLimits,
  params: Mutable<OperationalParams>,
  declared: Record<string, string>,
): string | undefined {
  if (Buffer.byteLength(value, 'utf8') > MAX_VALUE_BYTES) return REJECT;
  switch (key) {
    case 'AuthMethod': {
      const pick = firstMatch(value, def, limits.authMethods);
      if (pick !== undefined) params.authMethod = pick;
      return pick ?? REJECT;
    }
    case 'HeaderDigest':
    case 'DataDigest': {
      const mine = key === 'HeaderDigest' ? limits.headerDigest : limits.dataDigest;
      const pick = firstMatch(value, def, mine) as DigestName | undefined;
      if (pick !== undefined) params[key === 'HeaderDigest' ? 'headerDigest' : 'dataDigest'] = pick;
      return pick ?? REJECT;
    }
    case 'TaskReporting': {
      const pick = firstMatch(value, def, limits.taskReporting);
      if (pick !== undefined) params.taskReporting = pick;
      return pick ?? REJECT;
    }
    case 'SessionType':
      if (value !== 'Normal' && value !== 'Discovery') return REJECT;
      params.sessionType = value;
      return undefined;
    case 'MaxRecvDataSegmentLength': {
      const n = numberIn(value, def, true);
      if (n === undefined) return REJECT;
      params.initiatorMaxRecvDataSegmentLength = n;
      return undefined;
    }
    case 'InitialR2T':
    case 'ImmediateData':
    case 'DataPDUInOrder':
    case 'DataSequenceInOrder':
    case 'RDMAExtensions': {
      const offer = parseBoolean(value);
      if (offer === undefined) return REJECT;
      const mine = key === 'RDMAExtensions' ? false : limits[lowerFirst(key) as BooleanParam];
      const result = def.result === 'and' ? offer && mine : offer || mine;
      if (key !== 'RDMAExtensions') params[lowerFirst(key) as BooleanParam] = result;
      return formatBoolean(result);
    }
    case 'FirstBurstLength': {
      if (params.initialR2T && !params.immediateData) return IRRELEVANT; // §13.14
      const n = numberIn(value, def, true);
      if (n === undefined) return REJECT;
      params.firstBurstLength = Math.min(n, limits.firstBurstLength, params.maxBurstLength);
      return String(params.firstBurstLength);
    }
    case 'MaxBurstLength':
    case 'MaxConnections':
    case 'DefaultTime2Wait':
    case 'DefaultTime2Retain':
    case 'MaxOutstandingR2T':
    case 'ErrorRecoveryLevel':
    case 'iSCSIProtocolLevel': {
      const field = lowerFirst(key) as NumberParam;
      const n = numberIn(value, def, def.result === 'min');
      if (n === undefined) return REJECT;
      const result = def.result === 'max' ? Math.max(n, limits[field]) : Math.min(n, limits[field]);
      params[field] = result;
      if (key === 'MaxBurstLength') params.firstBurstLength = Math.min(params.firstBurstLength, result);
      return String(result);
    }
    default:
      // Declarative text: names, aliases, node architecture.
      if (def.result !== 'declare') return NOT_UNDERSTOOD;
      declared[key] = value;
      return undefined;
  }
}

type BooleanParam = 'initialR2T' | 'immediateData' | 'dataPDUInOrder' | 'dataSequenceInOrder';
type NumberParam =
  | 'maxBurstLength'
  | 'maxConnections'
  | 'defaultTime2Wait'
  | 'defaultTime2Retain'
  | 'maxOutstandingR2T'
  | 'errorRecoveryLevel'
  | 'iSCSIProtocolLevel';

function lowerFirst(key: string): string {
  return key.startsWith('iSCSI') ? key : key.charAt(0).toLowerCase() + key.slice(1);
}

/** The first value of the offered list that the key allows and we support (RFC 7143 §6.2.1). */
function firstMatch(value: string, def: KeyDefinition, supported: readonly string[]): string | undefined {
  const known = def.type.kind === 'list' ? def.type.values : [];
  return splitList(value).find((v) => known.includes(v) && supported.includes(v));
}

/** A number in the key's range; above the range it is clamped when `clampHigh`, else undefined. */
function numberIn(value: string, def: KeyDefinition, clampHigh: boolean): number | undefined {
  if (def.type.kind !== 'number') return undefined;
  const n = parseNumber(value);
  if (n === undefined || n < def.type.min) return undefined;
  if (n > def.type.max) return clampHigh ? def.type.max : undefined;
  return n;
}
