import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderRsyncdConfig, renderSecretsFile } from '../../../../src/datarep/agent/rsyncd-config.js';

const globals = {
  port: 873,
  address: '0.0.0.0',
  maxConnections: 10,
  allowedHosts: [] as string[],
  lockFile: '/var/tandem/datarep-agent/rsyncd.lock',
  logFile: '/var/tandem/datarep-agent/rsyncd.log',
};

test('no shares: the global section only, no hosts allow line', () => {
  assert.equal(
    renderRsyncdConfig(globals, []),
    [
      '# Written by Tandem (the data replication agent); rewritten on every change, edits are lost.',
      'port = 873',
      'address = 0.0.0.0',
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

test('one module per share, allowed hosts, port and address as set', () => {
  const text = renderRsyncdConfig(
    {
      ...globals,
      port: 10873,
      address: '127.0.0.1',
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
      'port = 10873',
      'address = 127.0.0.1',
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

test('secrets file: one user:password line', () => {
  assert.equal(renderSecretsFile('alice', 'pass:word x'), 'alice:pass:word x\n');
});
