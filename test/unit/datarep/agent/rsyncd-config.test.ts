import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderRsyncdConfig, renderSecretsFile } from '../../../../src/datarep/agent/rsyncd-config.js';

const globals = {
  maxConnections: 10,
  allowedHosts: [] as string[],
  lockFile: '/var/tandem/datarep-agent/rsyncd.lock',
  logFile: '/var/tandem/datarep-agent/rsyncd.log',
};

test('no shares: the global section only, rsync on loopback behind the gate, no hosts allow line', () => {
  assert.equal(
    renderRsyncdConfig(globals, []),
    [
      '# Written by Tandem (the data replication agent); rewritten on every change, edits are lost.',
      '# rsync listens on loopback; the port is on its command line. Clients reach it through the gate',
      '# in the node daemon, which passes their address in a PROXY protocol header.',
      'address = 127.0.0.1',
      'proxy protocol = yes',
      'proxy protocol hosts = 127.0.0.1',
      'reverse lookup = no',
      'use chroot = yes',
      'max connections = 10',
      'lock file = /var/tandem/datarep-agent/rsyncd.lock',
      'log file = /var/tandem/datarep-agent/rsyncd.log',
      'timeout = 600',
      'strict modes = yes',
      '',
    ].join('\n'),
  );
});

test('one module per share, allowed hosts as set', () => {
  const text = renderRsyncdConfig(
    {
      ...globals,
      maxConnections: 2,
      allowedHosts: ['192.0.2.0/24', 'backup.example.com'],
    },
    [
      {
        name: 'office',
        path: '/pool/nas/data/office',
        comment: 'Office files',
        authUser: 'alice',
        secretsFile: '/var/tandem/datarep-agent/secrets/office.secrets',
      },
      {
        name: 'media',
        path: '/pool/nas/media',
        comment: '',
        authUser: 'bob',
        secretsFile: '/var/tandem/datarep-agent/secrets/media.secrets',
      },
    ],
  );
  assert.equal(
    text,
    [
      '# Written by Tandem (the data replication agent); rewritten on every change, edits are lost.',
      '# rsync listens on loopback; the port is on its command line. Clients reach it through the gate',
      '# in the node daemon, which passes their address in a PROXY protocol header.',
      'address = 127.0.0.1',
      'proxy protocol = yes',
      'proxy protocol hosts = 127.0.0.1',
      // A host name entry: rsync checks it too, with its own reverse lookup.
      'reverse lookup = yes',
      'use chroot = yes',
      'max connections = 2',
      'lock file = /var/tandem/datarep-agent/rsyncd.lock',
      'log file = /var/tandem/datarep-agent/rsyncd.log',
      'timeout = 600',
      'strict modes = yes',
      'hosts allow = 192.0.2.0/24 backup.example.com',
      '',
      '[office]',
      '    path = /pool/nas/data/office',
      '    comment = Office files',
      '    read only = no',
      '    list = yes',
      '    uid = 0',
      '    gid = 0',
      '    auth users = alice',
      '    secrets file = /var/tandem/datarep-agent/secrets/office.secrets',
      '    munge symlinks = no',
      '    fake super = no',
      '',
      '[media]',
      '    path = /pool/nas/media',
      '    comment = ',
      '    read only = no',
      '    list = yes',
      '    uid = 0',
      '    gid = 0',
      '    auth users = bob',
      '    secrets file = /var/tandem/datarep-agent/secrets/media.secrets',
      '    munge symlinks = no',
      '    fake super = no',
      '',
    ].join('\n'),
  );
});

test('reverse lookup only when an allowed host is a name or pattern', () => {
  const reverse = (allowedHosts: string[]) =>
    /^reverse lookup = (\w+)$/m.exec(renderRsyncdConfig({ ...globals, allowedHosts }, []))?.[1];
  assert.equal(reverse([]), 'no');
  assert.equal(reverse(['192.0.2.7', '198.51.100.0/24', '2001:db8::/32']), 'no');
  assert.equal(reverse(['192.0.2.7', '*.example.com']), 'yes');
  assert.equal(reverse(['backup']), 'yes');
});

test('secrets file: one user:password line', () => {
  assert.equal(renderSecretsFile('alice', 'pass:word x'), 'alice:pass:word x\n');
});
