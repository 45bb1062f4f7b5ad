// The data replication agent through the real daemon, with a stock rsync client: a wrong password is
// refused and writes nothing, the right ID/password writes, browse lists the share, a killed agent is
// restarted and logged, a secrets file with a loose mode keeps it from starting, and it stops with the
// daemon.
import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { AgentStatus } from '../../src/datarep/agent/agent.js';
import { cliJson, runCli, startDaemon } from '../helpers/daemon.js';
import { run } from '../helpers/programs.js';
import { startAgentNode, waitFor } from '../helpers/agent-node.js';
import { tempDir } from '../helpers/temp-dir.js';

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('the data replication agent serves a share to a stock rsync client', { timeout: 120_000 }, async (t) => {
  const root = tempDir(t, 'tandem-agent-interop-');
  const { daemon, data, port, cli } = await startAgentNode(t, root);

  const status = () => cliJson<AgentStatus>(['--data', data, 'nas', 'agent', 'status']);
  const first = await waitFor('the agent to run', async () => {
    const s = await status();
    return s.running && s.pid !== null ? s : undefined;
  });
  assert.deepEqual(first.modules, ['office']);

  const agentDir = join(data, 'datarep-agent');
  const secretsFile = join(agentDir, 'secrets', 'office.secrets');
  assert.equal(statSync(secretsFile).mode & 0o777, 0o600);
  assert.equal(statSync(join(agentDir, 'rsyncd.conf')).mode & 0o777, 0o600);
  assert.ok(
    !readFileSync(join(agentDir, 'rsyncd.conf'), 'utf8').includes('correct horse'),
    'no password in the config',
  );
  assert.ok(!daemon.output().includes('correct horse'), 'the password is never logged');

  const source = join(root, 'source');
  mkdirSync(join(source, 'sub dir'), { recursive: true });
  writeFileSync(join(source, 'report.txt'), 'quarterly numbers\n');
  writeFileSync(join(source, 'sub dir', 'ünïcode.bin'), Buffer.alloc(70_000, 7));
  linkSync(join(source, 'report.txt'), join(source, 'report-link.txt'));
  symlinkSync('report.txt', join(source, 'latest'));
  const shareDir = join(data, 'pools', 'default', 'nas', 'backups', 'office');
  const url = `rsync://alice@127.0.0.1:${port}/office/`;

  await t.test('a wrong password is refused and writes nothing', async () => {
    const refused = await run('rsync', ['-aH', `${source}/`, url], {
      env: { RSYNC_PASSWORD: 'wrong password' },
    });
    assert.equal(refused.code, 5, refused.stderr);
    assert.match(refused.stderr, /auth failed/);
    assert.deepEqual(readdirSync(shareDir), []);
    const noUser = await run('rsync', ['-aH', `${source}/`, `rsync://mallory@127.0.0.1:${port}/office/`], {
      env: { RSYNC_PASSWORD: 'correct horse battery' },
    });
    assert.equal(noUser.code, 5, noUser.stderr);
    assert.deepEqual(readdirSync(shareDir), []);
    // rsync's own log lines reach the node's log.
    await waitFor('the refusal in the log', () =>
      Promise.resolve(/auth failed on module office/.test(daemon.output()) ? true : undefined),
    );
  });

  await t.test('the right ID and password write the files', async () => {
    const pushed = await run('rsync', ['-aH', `${source}/`, url], {
      env: { RSYNC_PASSWORD: 'correct horse battery' },
    });
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.equal(readFileSync(join(shareDir, 'report.txt'), 'utf8'), 'quarterly numbers\n');
    assert.deepEqual(readFileSync(join(shareDir, 'sub dir', 'ünïcode.bin')), Buffer.alloc(70_000, 7));
    assert.equal(statSync(join(shareDir, 'report-link.txt')).ino, statSync(join(shareDir, 'report.txt')).ino);
    assert.equal(readlinkSync(join(shareDir, 'latest'), 'utf8'), 'report.txt');
  });

  await t.test('browse lists the share and its comment', async () => {
    const listed = await cliJson<{ name: string; comment: string }[]>([
      '--data',
      data,
      'nas',
      'agent',
      'browse',
      `127.0.0.1:${port}`,
    ]);
    assert.deepEqual(listed, [{ name: 'office', comment: 'Office backup' }]);
    const stock = await run('rsync', ['--list-only', `rsync://127.0.0.1:${port}/`]);
    assert.match(stock.stdout, /^office\s+\tOffice backup$/m);
  });

  await t.test('a killed agent is restarted and the event logged', async () => {
    const before = (await status()).pid as number;
    process.kill(before, 'SIGKILL');
    const after = await waitFor('a new agent process', async () => {
      const s = await status();
      return s.running && s.pid !== null && s.pid !== before ? s : undefined;
    });
    assert.ok(after.restarts >= 1);
    assert.match(daemon.output(), /"event":"supervised-exited"[^\n]*"signal":"SIGKILL"/);
    const again = await run('rsync', ['-a', `${source}/report.txt`, `${url}again.txt`], {
      env: { RSYNC_PASSWORD: 'correct horse battery' },
    });
    assert.equal(again.code, 0, again.stderr);
  });

  await t.test('a secrets file looser than 0600 keeps the agent from starting', async () => {
    chmodSync(secretsFile, 0o644);
    const before = (await status()).pid as number;
    process.kill(before, 'SIGKILL');
    const refused = await waitFor('the refusal', async () => {
      const s = await status();
      return !s.running && s.lastError !== null && /0600/.test(s.lastError) ? s : undefined;
    });
    assert.equal(refused.pid, null);
    // Any change rewrites the secrets files 0600 and starts the agent again.
    await cli(['nas', 'share', 'set', 'office', '--comment', 'Office backup (fixed)']);
    const running = await waitFor('the agent to run again', async () => {
      const s = await status();
      return s.running ? s : undefined;
    });
    assert.equal(statSync(secretsFile).mode & 0o777, 0o600);
    assert.equal(running.lastError, null);
  });

  await t.test('the agent stops with the daemon', async () => {
    const pid = (await status()).pid as number;
    assert.equal(await daemon.stop('SIGTERM'), 0);
    await waitFor('the agent to exit', () => Promise.resolve(isAlive(pid) ? undefined : true), 5000);
    assert.ok(!existsSync(join(data, 'tandem.pid')));
  });

  assert.ok(!daemon.output().includes('correct horse'), 'the password is never logged');
  const bad = await runCli(['--data', data, 'nas', 'agent', 'status']);
  assert.notEqual(bad.code, 0, 'the daemon is gone');

  await t.test('the next start of the daemon starts the agent from the settings', async () => {
    const again = await startDaemon(t, data, { args: ['--replication', '127.0.0.1:0'] });
    const back = await waitFor('the agent after a restart', async () => {
      const s = await status();
      return s.running ? s : undefined;
    });
    assert.deepEqual(back.modules, ['office']);
    const pushed = await run('rsync', ['-a', `${source}/report.txt`, `${url}after-restart.txt`], {
      env: { RSYNC_PASSWORD: 'correct horse battery' },
    });
    assert.equal(pushed.code, 0, pushed.stderr);
    // kill -9 of the daemon takes the agent with it (parent death signal): no orphan keeps the port.
    await again.stop('SIGKILL');
    await waitFor(
      'the orphan-free exit',
      () => Promise.resolve(isAlive(back.pid as number) ? undefined : true),
      5000,
    );
  });
});
