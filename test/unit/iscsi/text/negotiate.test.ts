import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { KEYS } from '../../../../src/iscsi/text/keys.js';
import {
  DEFAULT_TARGET_LIMITS,
  INITIAL_NEGOTIATION_STATE,
  negotiate,
  type NegotiationContext,
  type NegotiationState,
  type OperationalParams,
  type TargetLimits,
} from '../../../../src/iscsi/text/negotiate.js';
import type { TextPair } from '../../../../src/iscsi/text/key-value.js';

const OPERATIONAL: NegotiationContext = { stage: 'operational', leading: true };
const SECURITY: NegotiationContext = { stage: 'security', leading: true };
const FULL_FEATURE: NegotiationContext = { stage: 'full-feature', leading: true };

const pairs = (text: string): TextPair[] =>
  text
    .split(' ')
    .filter(Boolean)
    .map((p) => {
      const eq = p.indexOf('=');
      return { key: p.slice(0, eq), value: p.slice(eq + 1) };
    });

function run(
  offer: string,
  opts: { limits?: Partial<TargetLimits>; state?: NegotiationState; context?: NegotiationContext } = {},
): { answers: Record<string, string>; params: OperationalParams; state: NegotiationState } {
  const outcome = negotiate(
    pairs(offer),
    { ...DEFAULT_TARGET_LIMITS, ...opts.limits },
    opts.state ?? INITIAL_NEGOTIATION_STATE,
    opts.context ?? OPERATIONAL,
  );
  assert.ok(outcome.ok, outcome.ok ? '' : outcome.error.message);
  return {
    answers: Object.fromEntries(outcome.response.map((p) => [p.key, p.value])),
    params: outcome.state.params,
    state: outcome.state,
  };
}

describe('text negotiation (RFC 7143 §6.2, §13)', () => {
  // [offer, target limits, expected answers (subset), expected params (subset)]
  const scenarios: [
    string,
    string,
    Partial<TargetLimits>,
    Record<string, string>,
    Partial<OperationalParams>,
  ][] = [
    [
      'MaxBurstLength: Minimum',
      'MaxBurstLength=1048576',
      { maxBurstLength: 262144 },
      { MaxBurstLength: '262144' },
      { maxBurstLength: 262144 },
    ],
    [
      'MaxBurstLength: Minimum, theirs smaller',
      'MaxBurstLength=65536',
      {},
      { MaxBurstLength: '65536' },
      { maxBurstLength: 65536 },
    ],
    [
      'MaxBurstLength in hex',
      'MaxBurstLength=0x10000',
      {},
      { MaxBurstLength: '65536' },
      { maxBurstLength: 65536 },
    ],
    [
      'ImmediateData: AND',
      'ImmediateData=Yes',
      { immediateData: false },
      { ImmediateData: 'No' },
      { immediateData: false },
    ],
    [
      'ImmediateData: AND, both Yes',
      'ImmediateData=Yes',
      { immediateData: true },
      { ImmediateData: 'Yes' },
      { immediateData: true },
    ],
    ['InitialR2T: OR', 'InitialR2T=No', { initialR2T: true }, { InitialR2T: 'Yes' }, { initialR2T: true }],
    [
      'InitialR2T: OR, both No',
      'InitialR2T=No',
      { initialR2T: false },
      { InitialR2T: 'No' },
      { initialR2T: false },
    ],
    [
      'DefaultTime2Wait: Maximum',
      'DefaultTime2Wait=0',
      { defaultTime2Wait: 2 },
      { DefaultTime2Wait: '2' },
      { defaultTime2Wait: 2 },
    ],
    [
      'DefaultTime2Retain: Minimum',
      'DefaultTime2Retain=20',
      { defaultTime2Retain: 0 },
      { DefaultTime2Retain: '0' },
      { defaultTime2Retain: 0 },
    ],
    [
      'ErrorRecoveryLevel: our limit is 0',
      'ErrorRecoveryLevel=2',
      {},
      { ErrorRecoveryLevel: '0' },
      { errorRecoveryLevel: 0 },
    ],
    ['MaxConnections: Minimum', 'MaxConnections=8', {}, { MaxConnections: '1' }, { maxConnections: 1 }],
    [
      'FirstBurstLength ≤ MaxBurstLength, same request',
      'FirstBurstLength=262144 MaxBurstLength=16384',
      { firstBurstLength: 262144 },
      { FirstBurstLength: '16384', MaxBurstLength: '16384' },
      { firstBurstLength: 16384, maxBurstLength: 16384 },
    ],
    [
      'FirstBurstLength Irrelevant when InitialR2T=Yes and ImmediateData=No',
      'InitialR2T=Yes ImmediateData=No FirstBurstLength=65536',
      {},
      { InitialR2T: 'Yes', ImmediateData: 'No', FirstBurstLength: 'Irrelevant' },
      { firstBurstLength: 65536 },
    ],
    [
      'HeaderDigest: first of theirs that we support',
      'HeaderDigest=CRC32C,None',
      {},
      { HeaderDigest: 'CRC32C' },
      { headerDigest: 'CRC32C' },
    ],
    [
      'HeaderDigest: we do not do CRC32C',
      'HeaderDigest=CRC32C,None',
      { headerDigest: ['None'] },
      { HeaderDigest: 'None' },
      { headerDigest: 'None' },
    ],
    [
      'DataDigest: none acceptable',
      'DataDigest=CRC32C',
      { dataDigest: ['None'] },
      { DataDigest: 'Reject' },
      { dataDigest: 'None' },
    ],
    ['unknown list values are ignored', 'DataDigest=MD5,None', {}, { DataDigest: 'None' }, {}],
    [
      'MaxRecvDataSegmentLength is declared both ways',
      'MaxRecvDataSegmentLength=65536',
      { maxRecvDataSegmentLength: 131072 },
      { MaxRecvDataSegmentLength: '131072' },
      { initiatorMaxRecvDataSegmentLength: 65536, targetMaxRecvDataSegmentLength: 131072 },
    ],
    [
      'MaxRecvDataSegmentLength above 2^24-1 is clamped',
      'MaxRecvDataSegmentLength=33554432',
      {},
      {},
      { initiatorMaxRecvDataSegmentLength: 16777215 },
    ],
    [
      'unknown key',
      'X-com.example.Foo=1 FooBar=2',
      {},
      { 'X-com.example.Foo': 'NotUnderstood', FooBar: 'NotUnderstood' },
      {},
    ],
    ['bad boolean', 'ImmediateData=Maybe', {}, { ImmediateData: 'Reject' }, { immediateData: true }],
    ['bad number', 'MaxBurstLength=lots', {}, { MaxBurstLength: 'Reject' }, { maxBurstLength: 262144 }],
    [
      'number below range',
      'MaxBurstLength=100',
      {},
      { MaxBurstLength: 'Reject' },
      { maxBurstLength: 262144 },
    ],
    [
      'Maximum key above range',
      'DefaultTime2Wait=4000',
      {},
      { DefaultTime2Wait: 'Reject' },
      { defaultTime2Wait: 2 },
    ],
    [
      'Minimum key above range is clamped',
      'MaxBurstLength=99999999',
      {},
      { MaxBurstLength: '1048576' },
      { maxBurstLength: 1048576 },
    ],
    [
      'obsolete markers',
      'IFMarker=No OFMarker=Yes OFMarkInt=2048~2048',
      {},
      { IFMarker: 'No', OFMarker: 'No', OFMarkInt: 'Reject' },
      {},
    ],
    ['iSER is not offered', 'RDMAExtensions=Yes', {}, { RDMAExtensions: 'No' }, {}],
    ['target-only key from the initiator', 'TargetAlias=x', {}, { TargetAlias: 'Reject' }, {}],
    ['security key in the operational stage', 'AuthMethod=None', {}, { AuthMethod: 'Reject' }, {}],
    [
      'TaskReporting',
      'TaskReporting=FastAbort,RFC3720',
      {},
      { TaskReporting: 'RFC3720' },
      { taskReporting: 'RFC3720' },
    ],
  ];
  for (const [name, offer, limits, answers, params] of scenarios) {
    it(name, () => {
      const r = run(offer, { limits });
      for (const [k, v] of Object.entries(answers)) assert.equal(r.answers[k], v, `${k} answered`);
      for (const [k, v] of Object.entries(params))
        assert.deepEqual(r.params[k as keyof OperationalParams], v, k);
    });
  }

  it('declarations get no answer but are recorded', () => {
    const r = run('InitiatorName=iqn.2024-01.org.example:host InitiatorAlias=host SessionType=Normal', {
      context: SECURITY,
    });
    assert.equal(r.answers.InitiatorName, undefined);
    assert.equal(r.answers.SessionType, undefined);
    assert.equal(r.state.declared.InitiatorName, 'iqn.2024-01.org.example:host');
    assert.equal(
      r.answers.TargetPortalGroupTag,
      '1',
      'the first response of a normal session carries the TPGT',
    );
  });

  it('AuthMethod picks the first of the offer that we accept, or Reject', () => {
    assert.equal(run('AuthMethod=CHAP,None', { context: SECURITY }).answers.AuthMethod, 'None');
    const chap = run('AuthMethod=CHAP,None', { context: SECURITY, limits: { authMethods: ['CHAP'] } });
    assert.equal(chap.answers.AuthMethod, 'CHAP');
    assert.equal(chap.params.authMethod, 'CHAP');
    const none = run('AuthMethod=None', { context: SECURITY, limits: { authMethods: ['CHAP'] } });
    assert.equal(none.answers.AuthMethod, 'Reject');
  });

  it('hands CHAP keys to the authentication layer and operational keys wait for their stage', () => {
    const outcome = negotiate(
      pairs('CHAP_A=5 MaxBurstLength=65536'),
      DEFAULT_TARGET_LIMITS,
      INITIAL_NEGOTIATION_STATE,
      SECURITY,
    );
    assert.ok(outcome.ok);
    assert.deepEqual(outcome.deferred, [{ key: 'CHAP_A', value: '5' }]);
    assert.deepEqual(
      outcome.response.filter((p) => p.key === 'MaxBurstLength'),
      [{ key: 'MaxBurstLength', value: 'Reject' }],
    );
  });

  it('a discovery session finds session keys Irrelevant', () => {
    const r = run('SessionType=Discovery MaxBurstLength=65536 InitialR2T=No ErrorRecoveryLevel=1');
    assert.equal(r.params.sessionType, 'Discovery');
    assert.equal(r.answers.MaxBurstLength, 'Irrelevant');
    assert.equal(r.answers.InitialR2T, 'Irrelevant');
    assert.equal(r.answers.ErrorRecoveryLevel, '0');
    assert.equal(r.answers.TargetPortalGroupTag, undefined);
  });

  it('a key offered twice fails the login, in one request or across two', () => {
    const twice = negotiate(
      pairs('MaxBurstLength=512 MaxBurstLength=1024'),
      DEFAULT_TARGET_LIMITS,
      INITIAL_NEGOTIATION_STATE,
      OPERATIONAL,
    );
    assert.ok(!twice.ok);
    assert.equal(twice.error.key, 'MaxBurstLength');
    const first = run('MaxBurstLength=512');
    const again = negotiate(pairs('MaxBurstLength=1024'), DEFAULT_TARGET_LIMITS, first.state, OPERATIONAL);
    assert.ok(!again.ok);
  });

  it('full feature phase: only ALL keys, and MaxRecvDataSegmentLength may be declared again', () => {
    const login = run('MaxRecvDataSegmentLength=8192');
    const ffp = run('MaxRecvDataSegmentLength=65536 MaxBurstLength=512 SendTargets=All', {
      state: login.state,
      context: FULL_FEATURE,
    });
    assert.equal(ffp.params.initiatorMaxRecvDataSegmentLength, 65536);
    assert.equal(ffp.answers.MaxBurstLength, 'Reject');
    assert.equal(ffp.answers.SendTargets, undefined, 'SendTargets is for discovery to answer');
  });

  it('leading-only keys are refused on a second connection', () => {
    assert.equal(
      run('MaxBurstLength=512', { context: { stage: 'operational', leading: false } }).answers.MaxBurstLength,
      'Reject',
    );
  });

  it('declares our MaxRecvDataSegmentLength once', () => {
    const first = run('HeaderDigest=None');
    assert.equal(
      first.answers.MaxRecvDataSegmentLength,
      String(DEFAULT_TARGET_LIMITS.maxRecvDataSegmentLength),
    );
    const second = run('DataDigest=None', { state: first.state });
    assert.equal(second.answers.MaxRecvDataSegmentLength, undefined);
  });

  it('keeps its invariants for any offer of known keys', () => {
    const known = Object.keys(KEYS);
    const anyValue = fc.oneof(
      fc.constantFrom(
        'Yes',
        'No',
        'None',
        'CRC32C',
        'CHAP',
        'Normal',
        'Discovery',
        'Reject',
        'Irrelevant',
        '',
      ),
      fc.integer({ min: 0, max: 2 ** 25 }).map(String),
      fc.string({ maxLength: 8 }),
    );
    const offer = fc.uniqueArray(fc.record({ key: fc.constantFrom(...known), value: anyValue }), {
      selector: (p) => p.key,
      maxLength: 12,
    });
    const stage = fc.constantFrom<NegotiationContext['stage']>('security', 'operational', 'full-feature');
    fc.assert(
      fc.property(offer, offer, stage, fc.boolean(), (a, b, s, leading) => {
        const context = { stage: s, leading };
        const one = negotiate(a, DEFAULT_TARGET_LIMITS, INITIAL_NEGOTIATION_STATE, context);
        assert.ok(one.ok);
        const fresh = b.filter((p) => !a.some((q) => q.key === p.key));
        const two = negotiate(fresh, DEFAULT_TARGET_LIMITS, one.state, context);
        assert.ok(two.ok);
        const p = two.state.params;
        assert.ok(p.firstBurstLength <= p.maxBurstLength, 'FirstBurstLength ≤ MaxBurstLength');
        assert.equal(p.errorRecoveryLevel, 0);
        assert.ok(p.maxBurstLength >= 512 && p.maxBurstLength <= 2 ** 24 - 1);
        assert.ok(
          p.initiatorMaxRecvDataSegmentLength >= 512 && p.initiatorMaxRecvDataSegmentLength < 2 ** 24,
        );
        for (const r of [...one.response, ...two.response])
          assert.ok(r.value.length > 0 || r.key === 'TargetAlias');
      }),
      { numRuns: 500 },
    );
  });
});
