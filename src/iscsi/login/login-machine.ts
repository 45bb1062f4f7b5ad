// The login phase of one connection (RFC 7143 §6.3, §11.12-11.13), as a pure state machine: each
// Login Request (header and data) goes in, one Login Response and the next state come out. The
// caller owns the state and the socket; this file never does I/O.
//
// Invariants:
// - stages only move forward: security (0) → operational (1) → full feature (3), and only when the
//   initiator asks (T bit) and the target agrees;
// - a target that has CHAP users never reaches full feature without a finished CHAP exchange;
// - every failure answers with a status class 2 or 3 and ends the login (the caller closes);
// - StatSN advances by one with every response; ExpCmdSN stays at the session's initial CmdSN.
import type { OutgoingPdu } from '../pdu/pdu.js';
import type { LoginRequest } from '../pdu/bhs.js';
import { ISCSI_VERSION, LOGIN_STAGE, LOGIN_STATUS } from '../pdu/codes.js';
import { encodeTextData, parseTextData, REJECT, type TextPair } from '../text/key-value.js';
import {
  INITIAL_NEGOTIATION_STATE,
  negotiate,
  type NegotiationState,
  type OperationalParams,
  type TargetLimits,
} from '../text/negotiate.js';
import { CHAP_START, stepChap, type ChapState, type ChapUsers } from './chap.js';

/** What login needs to know about a target. */
export interface LoginTarget {
  readonly iqn: string;
  readonly alias: string | null;
  readonly chap: ChapUsers;
  /** Empty: every initiator may log in. */
  readonly allowedInitiators: readonly string[];
}

export interface LoginEnvironment {
  readonly findTarget: (name: string) => LoginTarget | undefined;
  /** The target's negotiation limits; authMethods is decided here from the target's CHAP users. */
  readonly limits: TargetLimits;
  readonly random: (bytes: number) => Buffer;
  /** A new, unused, non-zero TSIH for a session being created. */
  readonly allocateTsih: () => number;
  /** The command window the session will open with. */
  readonly commandWindow: number;
}

export interface LoginResult {
  readonly sessionType: 'Normal' | 'Discovery';
  readonly initiatorName: string;
  readonly initiatorAlias: string | undefined;
  readonly target: LoginTarget | undefined;
  readonly isid: number;
  readonly tsih: number;
  readonly params: OperationalParams;
  /** The CmdSN the session expects next (the login's CmdSN: login requests do not advance it). */
  readonly expCmdSN: number;
  /** The StatSN of the next response after the final Login Response. */
  readonly statSN: number;
  readonly chapUser: string | undefined;
}

export interface LoginState {
  readonly stage: 'new' | 'security' | 'operational';
  readonly isid: number;
  readonly initiatorTaskTag: number;
  readonly cmdSN: number;
  readonly statSN: number;
  readonly negotiation: NegotiationState;
  readonly chap: ChapState;
  readonly target: LoginTarget | undefined;
  /** Text of Login Requests with the C bit set, waiting for the rest. */
  readonly pendingText: Buffer;
}

export type LoginStep =
  | { readonly kind: 'continue'; readonly state: LoginState; readonly response: OutgoingPdu }
  | { readonly kind: 'complete'; readonly result: LoginResult; readonly response: OutgoingPdu }
  | { readonly kind: 'failed'; readonly reason: string; readonly response: OutgoingPdu };

export const NEW_LOGIN: LoginState = {
  stage: 'new',
  isid: 0,
  initiatorTaskTag: 0,
  cmdSN: 0,
  statSN: 0,
  negotiation: INITIAL_NEGOTIATION_STATE,
  chap: CHAP_START,
  target: undefined,
  pendingText: Buffer.alloc(0),
};

const MAX_LOGIN_TEXT = 64 * 1024;

/** Handles one Login Request. `data` is its data segment. */
export function stepLogin(
  state: LoginState,
  request: LoginRequest,
  data: Buffer,
  env: LoginEnvironment,
): LoginStep {
  const first = state.stage === 'new';
  const current: LoginState = first
    ? {
        ...state,
        stage: request.csg === LOGIN_STAGE.securityNegotiation ? 'security' : 'operational',
        isid: request.isid,
        cmdSN: request.cmdSN,
        statSN: request.expStatSN,
      }
    : state;
  const fail = (status: number, reason: string): LoginStep => ({
    kind: 'failed',
    reason,
    response: response(current, request, { status, keys: [], transit: false, nsg: 0, tsih: 0 }),
  });

  if (first && (request.versionMin > ISCSI_VERSION || request.versionMax < ISCSI_VERSION)) {
    return fail(LOGIN_STATUS.unsupportedVersion, 'unsupported iSCSI version');
  }
  if (!first && request.isid !== current.isid)
    return fail(LOGIN_STATUS.initiatorError, 'ISID changed during login');
  if (request.tsih !== 0) {
    // MaxConnections is 1: a login that names an existing session would add a second connection.
    return fail(LOGIN_STATUS.sessionDoesNotExist, 'adding connections to a session is not supported');
  }
  const stage = current.stage === 'security' ? 'security' : 'operational';
  const expectedStage =
    stage === 'security' ? LOGIN_STAGE.securityNegotiation : LOGIN_STAGE.loginOperationalNegotiation;
  if (request.csg !== expectedStage)
    return fail(LOGIN_STATUS.initiatorError, `unexpected login stage ${request.csg}`);
  if (request.transit && request.continue) return fail(LOGIN_STATUS.initiatorError, 'T and C bits both set');

  // Text may span several requests (C bit): gather it, answer each piece with an empty response.
  const text = Buffer.concat([current.pendingText, data]);
  if (text.length > MAX_LOGIN_TEXT) return fail(LOGIN_STATUS.outOfResources, 'login text too long');
  const withIds: LoginState = { ...current, initiatorTaskTag: request.initiatorTaskTag };
  if (request.continue) {
    const next = { ...withIds, pendingText: text };
    return {
      kind: 'continue',
      state: { ...next, statSN: next.statSN + 1 },
      response: response(next, request, { status: 0, keys: [], transit: false, nsg: 0, tsih: 0 }),
    };
  }
  const parsed = parseTextData(text);
  if (!parsed.ok) return fail(LOGIN_STATUS.initiatorError, `malformed login text: ${parsed.error.message}`);
  const keys = parsed.value;

  let target = current.target;
  if (first) {
    const initiatorName = keys.find((k) => k.key === 'InitiatorName')?.value;
    if (initiatorName === undefined || initiatorName.length === 0) {
      return fail(LOGIN_STATUS.missingParameter, 'InitiatorName missing');
    }
    const sessionType = keys.find((k) => k.key === 'SessionType')?.value ?? 'Normal';
    if (sessionType === 'Normal') {
      const targetName = keys.find((k) => k.key === 'TargetName')?.value;
      if (targetName === undefined) return fail(LOGIN_STATUS.missingParameter, 'TargetName missing');
      target = env.findTarget(targetName.toLowerCase());
      if (target === undefined) return fail(LOGIN_STATUS.notFound, `no target ${targetName}`);
      if (
        target.allowedInitiators.length > 0 &&
        !target.allowedInitiators.includes(initiatorName.toLowerCase())
      ) {
        return fail(LOGIN_STATUS.authorizationFailure, `${initiatorName} is not allowed on ${target.iqn}`);
      }
    } else if (sessionType !== 'Discovery') {
      return fail(LOGIN_STATUS.sessionTypeNotSupported, `session type ${sessionType}`);
    }
  }
  const chapRequired = target !== undefined && target.chap.incoming.length > 0;
  const limits: TargetLimits = {
    ...env.limits,
    authMethods: chapRequired ? ['CHAP'] : ['None'],
    ...(target?.alias ? { targetAlias: target.alias } : {}),
  };
  if (stage === 'operational' && chapRequired && current.chap.step !== 'done') {
    return fail(LOGIN_STATUS.authenticationFailure, 'the target requires CHAP');
  }

  const outcome = negotiate(keys, limits, current.negotiation, { stage, leading: true });
  if (!outcome.ok) return fail(LOGIN_STATUS.initiatorError, outcome.error.message);
  const answer: TextPair[] = [...outcome.response];
  let chap = current.chap;
  if (stage === 'security') {
    if (answer.some((k) => k.key === 'AuthMethod' && k.value === REJECT)) {
      return fail(LOGIN_STATUS.authenticationFailure, 'no acceptable AuthMethod');
    }
    const chapKeys = outcome.deferred.filter((k) => k.key.startsWith('CHAP_'));
    if (outcome.state.params.authMethod === 'CHAP' && chapKeys.length > 0) {
      const stepped = stepChap(chap, chapKeys, target?.chap ?? { incoming: [] }, env.random);
      if (!stepped.ok) return fail(LOGIN_STATUS.authenticationFailure, stepped.reason);
      chap = stepped.state;
      answer.push(...stepped.response);
    } else if (chapKeys.length > 0) {
      return fail(LOGIN_STATUS.initiatorError, 'CHAP keys without AuthMethod=CHAP');
    }
  }
  const authenticated = !chapRequired || chap.step === 'done';

  // Decide whether to go to the next stage.
  let transit = false;
  let nsg = 0;
  if (request.transit) {
    const wantsFull = request.nsg === LOGIN_STAGE.fullFeaturePhase;
    const wantsOperational = request.nsg === LOGIN_STAGE.loginOperationalNegotiation;
    if (stage === 'security' && !wantsFull && !wantsOperational) {
      return fail(LOGIN_STATUS.initiatorError, `invalid next stage ${request.nsg}`);
    }
    if (stage === 'operational' && !wantsFull) {
      return fail(LOGIN_STATUS.initiatorError, `invalid next stage ${request.nsg}`);
    }
    if (authenticated) {
      transit = true;
      nsg = request.nsg;
    }
  }
  const negotiation = outcome.state;
  const next: LoginState = {
    ...withIds,
    negotiation,
    chap,
    target,
    pendingText: Buffer.alloc(0),
  };

  if (transit && nsg === LOGIN_STAGE.fullFeaturePhase) {
    const tsih = env.allocateTsih();
    const params = negotiation.params;
    return {
      kind: 'complete',
      response: response(next, request, { status: 0, keys: answer, transit: true, nsg, tsih }),
      result: {
        sessionType: params.sessionType,
        initiatorName: (negotiation.declared.InitiatorName ?? '').toLowerCase(),
        initiatorAlias: negotiation.declared.InitiatorAlias,
        target,
        isid: next.isid,
        tsih,
        params,
        expCmdSN: next.cmdSN,
        statSN: next.statSN + 1,
        chapUser: chap.step === 'done' ? chap.username : undefined,
      },
    };
  }
  const advanced: LoginState =
    transit && nsg === LOGIN_STAGE.loginOperationalNegotiation ? { ...next, stage: 'operational' } : next;
  return {
    kind: 'continue',
    state: { ...advanced, statSN: advanced.statSN + 1 },
    response: response(next, request, { status: 0, keys: answer, transit, nsg, tsih: 0 }),
  };

  function response(
    s: LoginState,
    req: LoginRequest,
    r: { status: number; keys: readonly TextPair[]; transit: boolean; nsg: number; tsih: number },
  ): OutgoingPdu {
    return {
      bhs: {
        kind: 'login-response',
        transit: r.transit,
        continue: false,
        csg: req.csg,
        nsg: r.transit ? r.nsg : 0,
        versionMax: ISCSI_VERSION,
        versionActive: ISCSI_VERSION,
        isid: req.isid,
        tsih: r.tsih,
        initiatorTaskTag: req.initiatorTaskTag,
        statSN: s.statSN >>> 0,
        expCmdSN: s.cmdSN >>> 0,
        maxCmdSN: (s.cmdSN + env.commandWindow - 1) >>> 0,
        statusClass: r.status >> 8,
        statusDetail: r.status & 0xff,
      },
      data: r.keys.length > 0 ? encodeTextData(r.keys) : Buffer.alloc(0),
    };
  }
}
