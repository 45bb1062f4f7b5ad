import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatDestination,
  moduleUrl,
  parseDestination,
  validateAgentId,
  validateModule,
  validatePassword,
} from '../../../src/datarep/destination.js';
import { rsyncArgs, rsyncEnv } from '../../../src/datarep/rsync-command.js';
import { isTandemError } from '../../../src/lib/errors.js';

const refused = (fn: () => unknown, code: string): void =>
  assert.throws(fn, (e: unknown) => isTandemError(e) && e.kind === 'invalid' && e.code === code);

describe('data replication destination', () => {
  it('parses host, host:port, IPv4 and IPv6 with the rsync default port', () => {
    assert.deepEqual(parseDestination('backup.example.com'), { host: 'backup.example.com', port: 873 });
    assert.deepEqual(parseDestination('192.0.2.10:8873'), { host: '192.0.2.10', port: 8873 });
    assert.deepEqual(parseDestination('[2001:db8::1]:874'), { host: '2001:db8::1', port: 874 });
    assert.deepEqual(parseDestination('::1'), { host: '::1', port: 873 });
    assert.equal(formatDestination({ host: '::1', port: 873 }), '[::1]:873');
  });

  it('refuses hosts and ports that are not', () => {
    for (const bad of [
      '',
      'a b',
      'host;rm -rf',
      'host:0',
      'host:70000',
      'host:x',
      '-host',
      'a..b',
      'user@host',
      '$(x)',
      '[host]:1',
    ])
      refused(() => parseDestination(bad), 'bad-destination');
  });

  it('refuses share names and IDs with "..", "/", or shell metacharacters', () => {
    for (const bad of ['..', 'a/b', 'a..b', 'x;y', '$(id)', 'a b', '`x`', '-rf', '.hidden', ''])
      refused(() => validateModule(bad), 'bad-name');
    for (const bad of ['a@b', 'a:b', 'x y', '']) refused(() => validateAgentId(bad), 'bad-name');
    assert.equal(validateModule('office_backup-1.2'), 'office_backup-1.2');
  });

  it('passwords: one line, 1..256 bytes', () => {
    refused(() => validatePassword(''), 'bad-password');
    refused(() => validatePassword('a\nb'), 'bad-password');
    refused(() => validatePassword('x'.repeat(257)), 'bad-password');
    assert.equal(validatePassword('pässword with spaces'), 'pässword with spaces');
  });
});

describe('the rsync command line', () => {
  const destination = { host: '192.0.2.1', port: 873 };

  it('archive + hard links + ACLs + xattrs + sparse, progress and stats, source ends in /', () => {
    const args = rsyncArgs('/snap/share', destination, 'office', 'agent', {
      deleteExtraneous: false,
      bandwidthLimit: null,
      compress: false,
    });
    assert.deepEqual(args.slice(0, 4), [
      '-aHAXS',
      '--numeric-ids',
      '--info=progress2,stats2',
      '--no-inc-recursive',
    ]);
    assert.deepEqual(args.slice(-3), ['--', '/snap/share/', 'rsync://agent@192.0.2.1:873/office/']);
    assert.ok(
      !args.includes('--delete') && !args.includes('-z') && !args.some((a) => a.startsWith('--bwlimit')),
    );
  });

  it('options: --delete, --bwlimit in KiB/s, -z', () => {
    const args = rsyncArgs('/s/', destination, 'm', 'a', {
      deleteExtraneous: true,
      bandwidthLimit: 2 * 1024 * 1024,
      compress: true,
    });
    assert.ok(args.includes('--delete'));
    assert.ok(args.includes('--bwlimit=2048'));
    assert.ok(args.includes('-z'));
  });

  it('the password goes only in the environment, which carries nothing else of ours', () => {
    const env = rsyncEnv('s3cret');
    assert.equal(env.RSYNC_PASSWORD, 's3cret');
    assert.deepEqual(Object.keys(env).sort(), ['LC_ALL', 'PATH', 'RSYNC_PASSWORD']);
    assert.equal(rsyncEnv(null).RSYNC_PASSWORD, undefined);
    assert.equal(moduleUrl({ host: 'fe80::1', port: 1 }, 'm', 'id'), 'rsync://id@[fe80::1]:1/m/');
  });
});
