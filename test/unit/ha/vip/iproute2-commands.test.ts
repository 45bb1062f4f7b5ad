// The argv of ip and (Habets') arping, and how their answers are read, on recorded outputs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  addArgv,
  announceArgv,
  DEFAULT_ARPING_TIMING,
  delArgv,
  interpretAdd,
  interpretAnnounce,
  interpretDel,
  interpretProbe,
  probeArgv,
} from '../../../../src/ha/vip/iproute2-commands.js';
import type { VirtualIp } from '../../../../src/ha/vip/types.js';
import { isTandemError } from '../../../../src/lib/errors.js';

const vip: VirtualIp = { address: '198.18.0.100', prefixLength: 24, broadcast: '198.18.0.255', nic: 'data0' };
const ok = (stdout = '') => ({ code: 0, stdout, stderr: '' });
const fail = (code: number, stderr: string) => ({ code, stdout: '', stderr });
const withCode = (code: string) => (error: unknown) => isTandemError(error) && error.code === code;

test('argv: DAD probe from 0.0.0.0 on the NIC, announcement with the VIP as sender, ip addr add/del', () => {
  assert.deepEqual(probeArgv(vip), [
    '-0',
    '-q',
    '-C',
    '1',
    '-c',
    '3',
    '-W',
    '0.3',
    '-w',
    '1',
    '-i',
    'data0',
    '198.18.0.100',
  ]);
  assert.deepEqual(announceArgv(vip), [
    '-U',
    '-q',
    '-c',
    '3',
    '-W',
    '0.2',
    '-i',
    'data0',
    '-S',
    '198.18.0.100',
    '198.18.0.100',
  ]);
  assert.deepEqual(addArgv(vip), ['addr', 'add', '198.18.0.100/24', 'brd', '198.18.0.255', 'dev', 'data0']);
  assert.deepEqual(delArgv('198.18.0.100', 32, 'data0'), ['addr', 'del', '198.18.0.100/32', 'dev', 'data0']);
  assert.equal(DEFAULT_ARPING_TIMING.probeTimeoutSeconds, 1);
});

test('probe: exit 0 is an answer (in use); exit 1 in silence is free; errors on stderr are errors', () => {
  assert.equal(interpretProbe(vip, ok()), true);
  assert.equal(interpretProbe(vip, fail(1, '')), false);
  assert.throws(
    () =>
      interpretProbe(
        vip,
        fail(1, 'arping: libnet_init(LIBNET_LINK, nosuch): libnet_check_iface() ioctl: No such device\n'),
      ),
    withCode('vip-nic-missing'),
  );
  assert.throws(
    () =>
      interpretProbe(
        vip,
        fail(1, 'arping: libnet_init(LIBNET_LINK, data0): socket: Operation not permitted\n'),
      ),
    withCode('vip-not-permitted'),
  );
  assert.throws(() => interpretProbe(vip, fail(2, 'arping: something else\n')), withCode('arping-failed'));
});

test('announce: exit 1 without complaint is fine (nobody answers a gratuitous ARP)', () => {
  assert.doesNotThrow(() => interpretAnnounce(vip, fail(1, '')));
  assert.doesNotThrow(() => interpretAnnounce(vip, ok()));
  assert.throws(
    () => interpretAnnounce(vip, fail(1, 'arping: libnet_check_iface() ioctl: No such device')),
    withCode('vip-nic-missing'),
  );
  assert.throws(() => interpretAnnounce(vip, fail(1, 'arping: weird')), withCode('arping-failed'));
});

test('ip addr add: added, already present (both wordings), missing NIC, no permission, other', () => {
  assert.equal(interpretAdd(vip, ok()), 'added');
  assert.equal(interpretAdd(vip, fail(2, 'Error: ipv4: Address already assigned.\n')), 'present');
  assert.equal(interpretAdd(vip, fail(2, 'RTNETLINK answers: File exists\n')), 'present');
  assert.throws(
    () => interpretAdd(vip, fail(1, 'Cannot find device "data0"\n')),
    withCode('vip-nic-missing'),
  );
  assert.throws(
    () => interpretAdd(vip, fail(2, 'RTNETLINK answers: Operation not permitted\n')),
    (error: unknown) => isTandemError(error) && error.kind === 'forbidden',
  );
  assert.throws(
    () => interpretAdd(vip, fail(2, 'Error: something new\n')),
    /ip addr add 198\.18\.0\.100\/24 dev data0 failed: Error: something new/,
  );
});

test('ip addr del: removed, absent (not found, cannot assign, NIC gone), no permission', () => {
  assert.equal(interpretDel('198.18.0.100', 'data0', ok()), 'removed');
  assert.equal(interpretDel('198.18.0.100', 'data0', fail(2, 'Error: ipv4: Address not found.\n')), 'absent');
  assert.equal(
    interpretDel('198.18.0.100', 'data0', fail(2, 'RTNETLINK answers: Cannot assign requested address\n')),
    'absent',
  );
  assert.equal(interpretDel('198.18.0.100', 'data0', fail(1, 'Cannot find device "data0"\n')), 'absent');
  assert.throws(
    () => interpretDel('198.18.0.100', 'data0', fail(2, 'RTNETLINK answers: Operation not permitted\n')),
    withCode('vip-not-permitted'),
  );
  assert.throws(
    () => interpretDel('198.18.0.100', 'data0', fail(2, 'Error: odd\n')),
    withCode('vip-del-failed'),
  );
});
