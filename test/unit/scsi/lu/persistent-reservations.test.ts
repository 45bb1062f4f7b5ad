// Scenario tables for the PERSISTENT RESERVE OUT state machine (SPC-4 §5.9), across three nexuses.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PrOutServiceAction as SA } from '../../../../src/scsi/cdb/command.js';
import {
  persistentReserveOut,
  type PrOutParameters,
} from '../../../../src/scsi/lu/persistent-reservations.js';
import { EMPTY_PR_STATE, PrType, registrationOf, type PrState } from '../../../../src/scsi/lu/pr-state.js';
import { prStateFromJson, prStateToJson } from '../../../../src/scsi/lu/pr-state-json.js';
import type { ItNexus } from '../../../../src/scsi/lu/scsi-task.js';
import type { SenseCode } from '../../../../src/scsi/sense/sense-reason.js';
import { A, B, C, TARGET_PORT } from './harness.js';

type Expect = 'good' | 'conflict' | SenseCode;

interface Step {
  readonly who: ItNexus;
  readonly sa: number;
  readonly key?: bigint;
  readonly sark?: bigint;
  readonly type?: number;
  readonly scope?: number;
  readonly flags?: Partial<Pick<PrOutParameters, 'allTgPt' | 'aptpl' | 'specIPt'>>;
  readonly move?: PrOutParameters['move'];
  readonly expect: Expect;
  /** Nexuses that must receive each unit attention code. */
  readonly ua?: Partial<Record<SenseCode, readonly ItNexus[]>>;
}

interface Scenario {
  readonly name: string;
  readonly steps: readonly Step[];
  readonly keys: readonly bigint[];
  readonly reservation?: { holder: ItNexus | 'all'; type: number };
  readonly generation: number;
}

const outcome = (o: ReturnType<typeof persistentReserveOut>['outcome']): Expect =>
  o.kind === 'good' ? 'good' : o.kind === 'conflict' ? 'conflict' : o.sense.code;

function apply(state: PrState, s: Step): PrState {
  const result = persistentReserveOut(state, {
    nexus: s.who,
    serviceAction: s.sa,
    scope: s.scope ?? 0,
    type: s.type ?? 0,
    parameters: {
      reservationKey: s.key ?? 0n,
      serviceActionKey: s.sark ?? 0n,
      specIPt: s.flags?.specIPt ?? false,
      allTgPt: s.flags?.allTgPt ?? false,
      aptpl: s.flags?.aptpl ?? false,
      ...(s.move === undefined ? {} : { move: s.move }),
    },
    targetPortName: (rel) => (rel === 1 ? TARGET_PORT : undefined),
  });
  assert.equal(outcome(result.outcome), s.expect);
  if (s.expect !== 'good') assert.equal(result.state, state, 'a refused request changes nothing');
  for (const [code, who] of Object.entries(s.ua ?? {})) {
    const got = result.unitAttentions
      .filter((u) => u.code === code)
      .map((u) => u.to.initiatorPort)
      .sort();
    assert.deepEqual(got, who.map((n) => n.initiatorPort).sort(), code);
  }
  if (s.ua === undefined) assert.deepEqual(result.unitAttentions, []);
  return result.state;
}

const reg = (who: ItNexus, sark: bigint): Step => ({
  who,
  sa: SA.REGISTER_AND_IGNORE_EXISTING_KEY,
  sark,
  expect: 'good',
});

const scenarios: readonly Scenario[] = [
  {
    name: 'register, re-register with a wrong key conflicts, unregister',
    steps: [
      { who: A, sa: SA.REGISTER, sark: 1n, expect: 'good' },
      { who: A, sa: SA.REGISTER, key: 0n, sark: 2n, expect: 'conflict' },
      { who: A, sa: SA.REGISTER, key: 1n, sark: 0n, expect: 'good' },
    ],
    keys: [],
    generation: 2,
  },
  {
    name: 'REGISTER from an unregistered nexus with a non-zero key conflicts',
    steps: [{ who: A, sa: SA.REGISTER, key: 5n, sark: 1n, expect: 'conflict' }],
    keys: [],
    generation: 0,
  },
  {
    name: 'REGISTER AND IGNORE EXISTING KEY replaces the key whatever RESERVATION KEY says',
    steps: [
      reg(A, 1n),
      { who: A, sa: SA.REGISTER_AND_IGNORE_EXISTING_KEY, key: 99n, sark: 7n, expect: 'good' },
    ],
    keys: [7n],
    generation: 2,
  },
  {
    name: 'SPEC_I_PT is not supported (SIP_C = 0)',
    steps: [
      {
        who: A,
        sa: SA.REGISTER,
        sark: 1n,
        flags: { specIPt: true },
        expect: 'INVALID_FIELD_IN_PARAMETER_LIST',
      },
    ],
    keys: [],
    generation: 0,
  },
  {
    name: 'RESERVE needs a registration and the right key; the holder may repeat it',
    steps: [
      { who: A, sa: SA.RESERVE, key: 1n, type: PrType.EXCLUSIVE_ACCESS, expect: 'conflict' },
      reg(A, 1n),
      { who: A, sa: SA.RESERVE, key: 2n, type: PrType.EXCLUSIVE_ACCESS, expect: 'conflict' },
      { who: A, sa: SA.RESERVE, key: 1n, type: PrType.EXCLUSIVE_ACCESS, expect: 'good' },
      { who: A, sa: SA.RESERVE, key: 1n, type: PrType.EXCLUSIVE_ACCESS, expect: 'good' },
      { who: A, sa: SA.RESERVE, key: 1n, type: PrType.WRITE_EXCLUSIVE, expect: 'conflict' },
    ],
    keys: [1n],
    reservation: { holder: A, type: PrType.EXCLUSIVE_ACCESS },
    generation: 1,
  },
  {
    name: 'RESERVE with a bad scope or type is an invalid field',
    steps: [
      reg(A, 1n),
      { who: A, sa: SA.RESERVE, key: 1n, type: 2, expect: 'INVALID_FIELD_IN_CDB' },
      { who: A, sa: SA.RESERVE, key: 1n, type: 1, scope: 1, expect: 'INVALID_FIELD_IN_CDB' },
    ],
    keys: [1n],
    generation: 1,
  },
  {
    name: 'another registrant cannot reserve over a held reservation',
    steps: [
      reg(A, 1n),
      reg(B, 2n),
      { who: A, sa: SA.RESERVE, key: 1n, type: PrType.WRITE_EXCLUSIVE, expect: 'good' },
      { who: B, sa: SA.RESERVE, key: 2n, type: PrType.WRITE_EXCLUSIVE, expect: 'conflict' },
      { who: B, sa: SA.RELEASE, key: 2n, type: PrType.WRITE_EXCLUSIVE, expect: 'good' }, // not the holder: no-op
    ],
    keys: [1n, 2n],
    reservation: { holder: A, type: PrType.WRITE_EXCLUSIVE },
    generation: 2,
  },
  {
    name: 'RELEASE with the wrong type is an invalid release',
    steps: [
      reg(A, 1n),
      { who: A, sa: SA.RESERVE, key: 1n, type: PrType.WRITE_EXCLUSIVE, expect: 'good' },
      {
        who: A,
        sa: SA.RELEASE,
        key: 1n,
        type: PrType.EXCLUSIVE_ACCESS,
        expect: 'INVALID_RELEASE_OF_PERSISTENT_RESERVATION',
      },
    ],
    keys: [1n],
    reservation: { holder: A, type: PrType.WRITE_EXCLUSIVE },
    generation: 1,
  },
  {
    name: 'releasing a registrants-only reservation tells the other registrants',
    steps: [
      reg(A, 1n),
      reg(B, 2n),
      reg(C, 3n),
      { who: A, sa: SA.RESERVE, key: 1n, type: PrType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY, expect: 'good' },
      {
        who: A,
        sa: SA.RELEASE,
        key: 1n,
        type: PrType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY,
        expect: 'good',
        ua: { RESERVATIONS_RELEASED: [B, C] },
      },
    ],
    keys: [1n, 2n, 3n],
    generation: 3,
  },
  {
    name: 'releasing a plain write exclusive reservation tells no one',
    steps: [
      reg(A, 1n),
      reg(B, 2n),
      { who: A, sa: SA.RESERVE, key: 1n, type: PrType.WRITE_EXCLUSIVE, expect: 'good' },
      { who: A, sa: SA.RELEASE, key: 1n, type: PrType.WRITE_EXCLUSIVE, expect: 'good' },
    ],
    keys: [1n, 2n],
    generation: 2,
  },
  {
    name: 'the holder unregistering ends a non-all-registrants reservation',
    steps: [
      reg(A, 1n),
      reg(B, 2n),
      { who: A, sa: SA.RESERVE, key: 1n, type: PrType.EXCLUSIVE_ACCESS, expect: 'good' },
      { who: A, sa: SA.REGISTER, key: 1n, sark: 0n, expect: 'good' },
    ],
    keys: [2n],
    generation: 3,
  },
  {
    name: 'an all-registrants reservation outlives its creator while registrants remain',
    steps: [
      reg(A, 1n),
      reg(B, 2n),
      { who: A, sa: SA.RESERVE, key: 1n, type: PrType.EXCLUSIVE_ACCESS_ALL_REGISTRANTS, expect: 'good' },
      { who: A, sa: SA.REGISTER, key: 1n, sark: 0n, expect: 'good' },
    ],
    keys: [2n],
    reservation: { holder: 'all', type: PrType.EXCLUSIVE_ACCESS_ALL_REGISTRANTS },
    generation: 3,
  },
  {
    name: 'CLEAR removes everything and tells the other registrants',
    steps: [
      reg(A, 1n),
      reg(B, 2n),
      { who: A, sa: SA.RESERVE, key: 1n, type: PrType.EXCLUSIVE_ACCESS, expect: 'good' },
      { who: C, sa: SA.CLEAR, key: 3n, expect: 'conflict' },
      { who: A, sa: SA.CLEAR, key: 1n, expect: 'good', ua: { RESERVATIONS_PREEMPTED: [B] } },
    ],
    keys: [],
    generation: 3,
  },
  {
    name: 'PREEMPT without a reservation removes the matching registrations (libiscsi preempt_rm_reg)',
    steps: [
      reg(A, 1n),
      reg(B, 2n),
      {
        who: B,
        sa: SA.PREEMPT,
        key: 2n,
        sark: 1n,
        type: PrType.EXCLUSIVE_ACCESS,
        expect: 'good',
        ua: { REGISTRATIONS_PREEMPTED: [A] },
      },
      { who: B, sa: SA.PREEMPT, key: 2n, sark: 9n, type: PrType.EXCLUSIVE_ACCESS, expect: 'conflict' },
      {
        who: B,
        sa: SA.PREEMPT,
        key: 2n,
        sark: 0n,
        type: PrType.EXCLUSIVE_ACCESS,
        expect: 'INVALID_FIELD_IN_PARAMETER_LIST',
      },
    ],
    keys: [2n],
    generation: 3,
  },
  {
    name: 'PREEMPT of the holder moves the reservation, and a new type releases the rest',
    steps: [
      reg(A, 1n),
      reg(B, 2n),
      reg(C, 3n),
      { who: A, sa: SA.RESERVE, key: 1n, type: PrType.WRITE_EXCLUSIVE, expect: 'good' },
      {
        who: B,
        sa: SA.PREEMPT,
        key: 2n,
        sark: 1n,
        type: PrType.EXCLUSIVE_ACCESS,
        expect: 'good',
        ua: { REGISTRATIONS_PREEMPTED: [A], RESERVATIONS_RELEASED: [C] },
      },
    ],
    keys: [2n, 3n],
    reservation: { holder: B, type: PrType.EXCLUSIVE_ACCESS },
    generation: 4,
  },
  {
    name: 'PREEMPT of a non-holder key leaves the reservation alone',
    steps: [
      reg(A, 1n),
      reg(B, 2n),
      reg(C, 3n),
      { who: A, sa: SA.RESERVE, key: 1n, type: PrType.WRITE_EXCLUSIVE, expect: 'good' },
      {
        who: B,
        sa: SA.PREEMPT,
        key: 2n,
        sark: 3n,
        type: PrType.WRITE_EXCLUSIVE,
        expect: 'good',
        ua: { REGISTRATIONS_PREEMPTED: [C] },
      },
    ],
    keys: [1n, 2n],
    reservation: { holder: A, type: PrType.WRITE_EXCLUSIVE },
    generation: 4,
  },
  {
    name: 'PREEMPT with key 0 of an all-registrants reservation takes it over',
    steps: [
      reg(A, 1n),
      reg(B, 2n),
      reg(C, 3n),
      { who: A, sa: SA.RESERVE, key: 1n, type: PrType.WRITE_EXCLUSIVE_ALL_REGISTRANTS, expect: 'good' },
      {
        who: B,
        sa: SA.PREEMPT_AND_ABORT,
        key: 2n,
        sark: 0n,
        type: PrType.EXCLUSIVE_ACCESS,
        expect: 'good',
        ua: { REGISTRATIONS_PREEMPTED: [A, C] },
      },
    ],
    keys: [2n],
    reservation: { holder: B, type: PrType.EXCLUSIVE_ACCESS },
    generation: 4,
  },
  {
    name: 'REGISTER AND MOVE hands the reservation to another nexus',
    steps: [
      reg(A, 1n),
      { who: A, sa: SA.RESERVE, key: 1n, type: PrType.WRITE_EXCLUSIVE, expect: 'good' },
      {
        who: A,
        sa: SA.REGISTER_AND_MOVE,
        key: 1n,
        sark: 5n,
        type: PrType.WRITE_EXCLUSIVE,
        move: { unreg: true, relativeTargetPort: 1, initiator: B.initiatorPort },
        expect: 'good',
      },
    ],
    keys: [5n],
    reservation: { holder: B, type: PrType.WRITE_EXCLUSIVE },
    generation: 2,
  },
  {
    name: 'REGISTER AND MOVE needs the holder, a known port and a different nexus',
    steps: [
      reg(A, 1n),
      reg(B, 2n),
      { who: A, sa: SA.RESERVE, key: 1n, type: PrType.WRITE_EXCLUSIVE, expect: 'good' },
      {
        who: B,
        sa: SA.REGISTER_AND_MOVE,
        key: 2n,
        sark: 5n,
        type: PrType.WRITE_EXCLUSIVE,
        move: { unreg: false, relativeTargetPort: 1, initiator: C.initiatorPort },
        expect: 'conflict',
      },
      {
        who: A,
        sa: SA.REGISTER_AND_MOVE,
        key: 1n,
        sark: 5n,
        type: PrType.WRITE_EXCLUSIVE,
        move: { unreg: false, relativeTargetPort: 9, initiator: C.initiatorPort },
        expect: 'INVALID_FIELD_IN_PARAMETER_LIST',
      },
      {
        who: A,
        sa: SA.REGISTER_AND_MOVE,
        key: 1n,
        sark: 5n,
        type: PrType.WRITE_EXCLUSIVE,
        move: { unreg: false, relativeTargetPort: 1, initiator: A.initiatorPort },
        expect: 'INVALID_FIELD_IN_PARAMETER_LIST',
      },
    ],
    keys: [1n, 2n],
    reservation: { holder: A, type: PrType.WRITE_EXCLUSIVE },
    generation: 2,
  },
];

describe('PERSISTENT RESERVE OUT scenarios (SPC-4 §5.9)', () => {
  for (const scenario of scenarios) {
    it(scenario.name, () => {
      const state = scenario.steps.reduce(apply, EMPTY_PR_STATE);
      assert.deepEqual(
        state.registrations.map((r) => r.key),
        scenario.keys,
      );
      assert.equal(state.generation, scenario.generation);
      const expected = scenario.reservation;
      if (expected === undefined) {
        assert.equal(state.reservation, undefined);
      } else {
        assert.equal(state.reservation?.type, expected.type);
        if (expected.holder !== 'all') {
          assert.equal(state.reservation.holder.initiatorPort, expected.holder.initiatorPort);
        }
      }
    });
  }

  it('ALL_TG_PT registers the initiator port on every target port', () => {
    const state = apply(EMPTY_PR_STATE, {
      who: A,
      sa: SA.REGISTER,
      sark: 1n,
      flags: { allTgPt: true },
      expect: 'good',
    });
    const elsewhere: ItNexus = { ...A, targetPort: 'iqn.x,t,0x0002', relativeTargetPort: 2 };
    assert.ok(registrationOf(state, elsewhere) !== undefined);
    assert.equal(registrationOf(state, B), undefined);
  });

  it('the stored form round-trips', () => {
    let state = apply(EMPTY_PR_STATE, {
      who: A,
      sa: SA.REGISTER,
      sark: 0xfedcba9876543210n,
      flags: { aptpl: true },
      expect: 'good',
    });
    state = apply(state, {
      who: A,
      sa: SA.RESERVE,
      key: 0xfedcba9876543210n,
      type: PrType.EXCLUSIVE_ACCESS_REGISTRANTS_ONLY,
      expect: 'good',
    });
    assert.deepEqual(prStateFromJson(prStateToJson(state)), state);
  });
});
