import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chapResponse, decodeChapBinary } from '../../../../src/iscsi/login/chap.js';
import {
  NEW_LOGIN,
  stepLogin,
  type LoginEnvironment,
  type LoginState,
  type LoginStep,
} from '../../../../src/iscsi/login/login-machine.js';
import type { LoginRequest } from '../../../../src/iscsi/pdu/bhs.js';
import { LOGIN_STATUS } from '../../../../src/iscsi/pdu/codes.js';
import { encodeTextData, parseTextData } from '../../../../src/iscsi/text/key-value.js';
import { DEFAULT_TARGET_LIMITS } from '../../../../src/iscsi/text/negotiate.js';

const TARGET = 'iqn.2026-11.local.tandem:t0';
const INITIATOR = 'iqn.1994-05.com.redhat:client';

function env(options: { chap?: boolean; allowed?: string[] } = {}): LoginEnvironment {
  return {
    findTarget: (iqn) =>
      iqn === TARGET
        ? {
            iqn,
            alias: 'disk one',
            chap: options.chap
              ? { incoming: [{ username: 'alice', secret: 'alicesecret12' }] }
              : { incoming: [] },
            allowedInitiators: options.allowed ?? [],
          }
        : undefined,
    limits: DEFAULT_TARGET_LIMITS,
    random: (n) => Buffer.alloc(n, 3),
    allocateTsih: () => 42,
    commandWindow: 32,
  };
}

function request(fields: Partial<LoginRequest>): LoginRequest {
  return {
    kind: 'login-request',
    transit: true,
    continue: false,
    csg: 1,
    nsg: 3,
    versionMax: 0,
    versionMin: 0,
    isid: 0x23d000000001,
    tsih: 0,
    initiatorTaskTag: 7,
    cid: 0,
    cmdSN: 100,
    expStatSN: 5000,
    totalAHSLength: 0,
    dataSegmentLength: 0,
    ...fields,
  };
}

const text = (o: Record<string, string>): Buffer =>
  encodeTextData(Object.entries(o).map(([key, value]) => ({ key, value })));
const keysOf = (step: LoginStep): Record<string, string> => {
  const parsed = parseTextData(Buffer.from(step.response.data ?? Buffer.alloc(0)));
  assert.ok(parsed.ok);
  return Object.fromEntries(parsed.value.map((p) => [p.key, p.value]));
};
const status = (step: LoginStep): number => {
  const bhs = step.response.bhs;
  assert.equal(bhs.kind, 'login-response');
  return (bhs.statusClass << 8) | bhs.statusDetail;
};

describe('login', () => {
  it('goes straight to full feature phase without authentication', () => {
    const step = stepLogin(
      NEW_LOGIN,
      request({}),
      text({
        InitiatorName: INITIATOR,
        TargetName: TARGET,
        SessionType: 'Normal',
        HeaderDigest: 'CRC32C,None',
        MaxRecvDataSegmentLength: '65536',
        ImmediateData: 'Yes',
        InitialR2T: 'No',
      }),
      env(),
    );
    assert.equal(step.kind, 'complete');
    assert.equal(status(step), LOGIN_STATUS.success);
    const bhs = step.response.bhs;
    assert.ok(bhs.kind === 'login-response' && bhs.transit && bhs.nsg === 3 && bhs.tsih === 42);
    assert.equal(bhs.statSN, 5000);
    assert.equal(bhs.expCmdSN, 100);
    assert.equal(bhs.maxCmdSN, 131);
    const keys = keysOf(step);
    assert.equal(keys.HeaderDigest, 'CRC32C');
    assert.equal(keys.TargetPortalGroupTag, '1');
    assert.equal(keys.TargetAlias, 'disk one');
    assert.equal(step.result.initiatorName, INITIATOR);
    assert.equal(step.result.params.headerDigest, 'CRC32C');
    assert.equal(step.result.params.initiatorMaxRecvDataSegmentLength, 65536);
    assert.equal(step.result.statSN, 5001);
    assert.equal(step.result.expCmdSN, 100);
  });

  it('runs CHAP in the security stage before anything else', () => {
    const e = env({ chap: true });
    let step = stepLogin(
      NEW_LOGIN,
      request({ csg: 0, nsg: 1, transit: false }),
      text({ InitiatorName: INITIATOR, TargetName: TARGET, AuthMethod: 'CHAP,None' }),
      e,
    );
    assert.equal(step.kind, 'continue');
    assert.equal(keysOf(step).AuthMethod, 'CHAP');
    let state = (step as { state: LoginState }).state;
    step = stepLogin(state, request({ csg: 0, nsg: 1, transit: false }), text({ CHAP_A: '5' }), e);
    assert.equal(step.kind, 'continue');
    const { CHAP_I: id = '', CHAP_C: challenge = '' } = keysOf(step);
    state = (step as { state: LoginState }).state;
    const answer = chapResponse(Number(id), 'alicesecret12', decodeChapBinary(challenge) ?? Buffer.alloc(0));
    step = stepLogin(
      state,
      request({ csg: 0, nsg: 1, transit: true }),
      text({ CHAP_N: 'alice', CHAP_R: `0x${answer.toString('hex')}` }),
      e,
    );
    assert.equal(step.kind, 'continue');
    const bhs = step.response.bhs;
    assert.ok(
      bhs.kind === 'login-response' && bhs.transit && bhs.nsg === 1,
      'moves on to the operational stage',
    );
    state = (step as { state: LoginState }).state;
    step = stepLogin(state, request({ csg: 1, nsg: 3 }), text({ MaxBurstLength: '262144' }), e);
    assert.equal(step.kind, 'complete');
    assert.equal(step.result.chapUser, 'alice');
  });

  it('refuses what it must, with the RFC status', () => {
    const cases: [string, LoginStep, number][] = [
      [
        'no InitiatorName',
        stepLogin(NEW_LOGIN, request({}), text({ TargetName: TARGET }), env()),
        LOGIN_STATUS.missingParameter,
      ],
      [
        'no TargetName',
        stepLogin(NEW_LOGIN, request({}), text({ InitiatorName: INITIATOR }), env()),
        LOGIN_STATUS.missingParameter,
      ],
      [
        'unknown target',
        stepLogin(
          NEW_LOGIN,
          request({}),
          text({ InitiatorName: INITIATOR, TargetName: 'iqn.2026-11.x:y' }),
          env(),
        ),
        LOGIN_STATUS.notFound,
      ],
      [
        'not on the allow list',
        stepLogin(
          NEW_LOGIN,
          request({}),
          text({ InitiatorName: INITIATOR, TargetName: TARGET }),
          env({ allowed: ['iqn.1994-05.com.redhat:other'] }),
        ),
        LOGIN_STATUS.authorizationFailure,
      ],
      [
        'CHAP skipped',
        stepLogin(
          NEW_LOGIN,
          request({}),
          text({ InitiatorName: INITIATOR, TargetName: TARGET }),
          env({ chap: true }),
        ),
        LOGIN_STATUS.authenticationFailure,
      ],
      [
        'AuthMethod None only',
        stepLogin(
          NEW_LOGIN,
          request({ csg: 0, nsg: 1 }),
          text({ InitiatorName: INITIATOR, TargetName: TARGET, AuthMethod: 'None' }),
          env({ chap: true }),
        ),
        LOGIN_STATUS.authenticationFailure,
      ],
      [
        'unsupported version',
        stepLogin(
          NEW_LOGIN,
          request({ versionMin: 2, versionMax: 3 }),
          text({ InitiatorName: INITIATOR, TargetName: TARGET }),
          env(),
        ),
        LOGIN_STATUS.unsupportedVersion,
      ],
      [
        'a second connection',
        stepLogin(
          NEW_LOGIN,
          request({ tsih: 9 }),
          text({ InitiatorName: INITIATOR, TargetName: TARGET }),
          env(),
        ),
        LOGIN_STATUS.sessionDoesNotExist,
      ],
      [
        'malformed text',
        stepLogin(NEW_LOGIN, request({}), Buffer.from('InitiatorName'), env()),
        LOGIN_STATUS.initiatorError,
      ],
      [
        'unknown session type',
        stepLogin(NEW_LOGIN, request({}), text({ InitiatorName: INITIATOR, SessionType: 'Weird' }), env()),
        LOGIN_STATUS.sessionTypeNotSupported,
      ],
    ];
    for (const [what, step, expected] of cases) {
      assert.equal(step.kind, 'failed', what);
      assert.equal(status(step), expected, what);
    }
  });

  it('gathers text split over several requests (C bit)', () => {
    const all = text({ InitiatorName: INITIATOR, TargetName: TARGET, SessionType: 'Normal' });
    const first = stepLogin(
      NEW_LOGIN,
      request({ transit: false, continue: true }),
      all.subarray(0, 20),
      env(),
    );
    assert.equal(first.kind, 'continue');
    assert.equal(first.response.data?.length ?? 0, 0);
    const second = stepLogin((first as { state: LoginState }).state, request({}), all.subarray(20), env());
    assert.equal(second.kind, 'complete');
  });

  it('opens a discovery session without a target', () => {
    const step = stepLogin(
      NEW_LOGIN,
      request({}),
      text({ InitiatorName: INITIATOR, SessionType: 'Discovery' }),
      env(),
    );
    assert.equal(step.kind, 'complete');
    assert.equal(step.result.sessionType, 'Discovery');
    assert.equal(step.result.target, undefined);
  });
});
