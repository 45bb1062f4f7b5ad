import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  MAX_LINE_BYTES,
  parseAddress,
  parseServerLine,
  proxyHeaderV1,
  ServerLineScanner,
  type ServerLine,
} from '../../../../src/datarep/agent/handshake.js';

test('server lines of the rsync daemon protocol', () => {
  assert.deepEqual(parseServerLine('@RSYNCD: 32.0 sha512 sha256 sha1 md5 md4'), {
    kind: 'greeting',
    protocol: 32,
    subprotocol: 0,
  });
  assert.deepEqual(parseServerLine('@RSYNCD: 31.0'), { kind: 'greeting', protocol: 31, subprotocol: 0 });
  assert.deepEqual(parseServerLine('@RSYNCD: AUTHREQD c2FsdHNhbHQ'), { kind: 'auth-challenge' });
  assert.deepEqual(parseServerLine('@RSYNCD: OK'), { kind: 'authenticated' });
  assert.deepEqual(parseServerLine('@RSYNCD: OK\r'), { kind: 'authenticated' });
  assert.deepEqual(parseServerLine('@RSYNCD: EXIT'), { kind: 'exit' });
  assert.deepEqual(parseServerLine('@ERROR: auth failed on module office'), {
    kind: 'error',
    message: 'auth failed on module office',
  });
  assert.deepEqual(parseServerLine('office         \tOffice backup'), { kind: 'text' });
  // Near misses are not acted on.
  for (const line of [
    '@RSYNCD: OK ',
    ' @RSYNCD: OK',
    '@RSYNCD: OKAY',
    '@rsyncd: ok',
    "@ERROR: Unknown module '@RSYNCD: OK'",
  ]) {
    assert.notEqual(parseServerLine(line).kind, 'authenticated', line);
  }
});

const kinds = (lines: ServerLine[]): string[] => lines.map((l) => l.kind);

test('the scanner splits lines across chunks and stops at "@RSYNCD: OK"', () => {
  const scanner = new ServerLineScanner();
  assert.deepEqual(kinds(scanner.push(Buffer.from('@RSYNCD: 32.0 sha512 md4\n@RSYN'))), ['greeting']);
  assert.deepEqual(kinds(scanner.push(Buffer.from('CD: AUTHREQD abc\n'))), ['auth-challenge']);
  assert.equal(scanner.authenticated, false);
  // OK and the first bytes of the binary protocol in one chunk: nothing after OK is read as lines.
  const binary = Buffer.concat([Buffer.from('@RSYNCD: OK\n'), Buffer.from([0xff, 0x0a, 0x40, 0x0a])]);
  assert.deepEqual(kinds(scanner.push(binary)), ['authenticated']);
  assert.equal(scanner.authenticated, true);
  assert.deepEqual(scanner.push(Buffer.from('@ERROR: x\n@RSYNCD: EXIT\n')), []);
});

test('a module listing ends with EXIT; byte by byte gives the same lines', () => {
  const text = '@RSYNCD: 32.0 sha512\noffice         \tOffice\nmedia          \t\n@RSYNCD: EXIT\n';
  const whole = new ServerLineScanner().push(Buffer.from(text));
  assert.deepEqual(kinds(whole), ['greeting', 'text', 'text', 'exit']);
  const scanner = new ServerLineScanner();
  const bytewise = [...Buffer.from(text)].flatMap((b) => scanner.push(Buffer.from([b])));
  assert.deepEqual(bytewise, whole);
});

test('an overlong line is text, even if it starts like OK; the scanner holds at most MAX_LINE_BYTES', () => {
  const scanner = new ServerLineScanner();
  const long = `@RSYNCD: OK${'x'.repeat(MAX_LINE_BYTES * 3)}`;
  assert.deepEqual(scanner.push(Buffer.from(long.slice(0, MAX_LINE_BYTES))), []);
  assert.deepEqual(kinds(scanner.push(Buffer.from(`${long.slice(MAX_LINE_BYTES)}\n`))), ['text']);
  assert.deepEqual(kinds(scanner.push(Buffer.from('@RSYNCD: OK\n'))), ['authenticated']);
});

test('addresses: literal IPs only, IPv4-mapped read as IPv4, zones dropped', () => {
  assert.equal(parseAddress('192.0.2.1')?.toString(), '192.0.2.1');
  assert.equal(parseAddress('::ffff:192.0.2.1')?.toString(), '192.0.2.1');
  assert.equal(parseAddress('fe80::1%eth0')?.toString(), 'fe80::1');
  assert.equal(parseAddress('2001:db8:0:0::1')?.toString(), '2001:db8::1');
  for (const text of ['10', '0x7f.1', '127.1', 'host.example.com', ''])
    assert.equal(parseAddress(text), null, text);
});

test('PROXY v1 headers', () => {
  assert.equal(
    proxyHeaderV1({ address: '192.0.2.7', port: 40000 }, { address: '198.51.100.1', port: 873 }),
    'PROXY TCP4 192.0.2.7 198.51.100.1 40000 873\r\n',
  );
  // An IPv4 client on a dual-stack socket.
  assert.equal(
    proxyHeaderV1({ address: '::ffff:192.0.2.7', port: 1 }, { address: '::ffff:10.0.0.1', port: 873 }),
    'PROXY TCP4 192.0.2.7 10.0.0.1 1 873\r\n',
  );
  assert.equal(
    proxyHeaderV1({ address: '2001:db8::7', port: 5 }, { address: '2001:db8::1', port: 10873 }),
    'PROXY TCP6 2001:db8::7 2001:db8::1 5 10873\r\n',
  );
  assert.equal(
    proxyHeaderV1({ address: '192.0.2.7', port: 5 }, { address: '2001:db8::1', port: 873 }),
    'PROXY TCP6 ::ffff:c000:207 2001:db8::1 5 873\r\n',
  );
  assert.throws(() => proxyHeaderV1({ address: 'evil\r\nx', port: 5 }, { address: '::1', port: 873 }));
  assert.throws(() => proxyHeaderV1({ address: '::1', port: 70000 }, { address: '::1', port: 873 }));
});
