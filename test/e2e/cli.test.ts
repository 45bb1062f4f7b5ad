// The `tandem` CLI against a real daemon, over the unix socket (--data) and over TCP (--api), with
// everything found again after a restart.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { TargetView } from '../../src/targets/target-service.js';
import type { VolumeView } from '../../src/volumes/volume-service.js';
import type { PoolView } from '../../src/volumes/pool-service.js';
import { cliJson, runCli, startDaemon } from '../helpers/daemon.js';
import { tempDir } from '../helpers/temp-dir.js';

const MiB = 2 ** 20;
const IQN = 'iqn.2026-11.com.example:cli.t1';

describe('tandem CLI', () => {
  it('manages volumes and targets over --data, and a restart finds everything back', async (t) => {
    const root = tempDir(t);
    const dataDir = join(root, 'var');
    const d = ['--data', dataDir];
    const daemon = await startDaemon(t, dataDir);

    // The forms, as written.
    const vol = await cliJson<VolumeView>([
      ...d,
      'volume',
      'create',
      'vol1',
      '--type',
      'iscsi',
      '--size',
      '64MiB',
      '--thick',
      '--replication',
      '--io',
      'file',
    ]);
    assert.deepEqual(
      [vol.name, vol.type, vol.size, vol.provisioning, vol.replication, vol.ioType],
      ['vol1', 'iscsi', 64 * MiB, 'thick', true, 'file'],
    );
    await cliJson([...d, 'volume', 'create', 'vol2', '--size', '1G']);
    await cliJson([
      ...d,
      'volume',
      'create',
      'share1',
      '--type',
      'nas',
      '--size',
      '2GiB',
      '--worm',
      '--snapshot-reserve',
      '10%',
    ]);
    const expanded = await cliJson<VolumeView>([...d, 'volume', 'expand', 'vol2', '--size', '1.5GiB']);
    assert.equal(expanded.size, 1.5 * 1024 * MiB);
    const shown = await cliJson<VolumeView>([...d, 'volume', 'show', 'share1']);
    assert.equal(
      shown.snapshotReserve,
      Math.ceil((0.2 * 1024 * MiB) / 4096) * 4096,
      '10% of 2 GiB, in whole 4 KiB blocks',
    );

    const target = await cliJson<TargetView>([
      ...d,
      'target',
      'create',
      IQN,
      '--lun',
      '1=vol1',
      '--lun',
      '2=vol2',
      '--wb',
      '--chap',
      'alice:alicesecret123',
    ]);
    assert.deepEqual(
      target.luns.map((l) => [l.lun, l.volume, l.writeBack, l.readOnly]),
      [
        [1, 'vol1', true, false],
        [2, 'vol2', true, false],
      ],
    );
    assert.deepEqual(target.chapUsers, [{ direction: 'incoming', username: 'alice' }]);
    const generated = await cliJson<TargetView>([...d, 'target', 'create', '--ro', '--alias', 'second']);
    assert.match(generated.iqn, /^iqn\.\d{4}-\d{2}\.[a-z0-9.-]+:[a-z0-9-]+\.target0$/);
    await cliJson([...d, 'target', 'chap', 'add', IQN, 'tgtuser:targetsecret99', '--mutual']);
    await cliJson([...d, 'target', 'allow', IQN, 'iqn.1994-05.com.redhat:client1']);
    await cliJson([...d, 'target', 'lun', 'set', IQN, '2', '--wb', 'off', '--serial', 'SAMEONBOTH']);
    await cliJson([...d, 'target', 'stop', generated.iqn]);

    const table = await runCli([...d, 'volume', 'list']);
    assert.equal(table.code, 0);
    for (const text of ['vol1', 'vol2', 'share1', 'NAME', `${IQN} LUN 1`])
      assert.ok(table.stdout.includes(text), `table shows ${text}`);
    const targetTable = await runCli([...d, 'target', 'show', IQN]);
    assert.match(targetTable.stdout, /SAMEONBOTH/);
    assert.ok(!targetTable.stdout.includes('alicesecret123'), 'secrets are never printed');

    const before = {
      pools: await cliJson<PoolView[]>([...d, 'pool', 'list']),
      volumes: await cliJson<VolumeView[]>([...d, 'volume', 'list']),
      targets: await cliJson<TargetView[]>([...d, 'target', 'list']),
    };
    assert.equal(await daemon.stop(), 0);
    await startDaemon(t, dataDir);
    const after = {
      pools: await cliJson<PoolView[]>([...d, 'pool', 'list']),
      volumes: await cliJson<VolumeView[]>([...d, 'volume', 'list']),
      targets: await cliJson<TargetView[]>([...d, 'target', 'list']),
    };
    const stable = (p: PoolView[]) => p.map(({ filesystem: _f, ...rest }) => rest);
    assert.deepEqual(stable(after.pools), stable(before.pools));
    assert.deepEqual(after.volumes, before.volumes);
    assert.deepEqual(after.targets, before.targets);
    const restored = after.targets.find((x) => x.iqn === IQN);
    assert.deepEqual(
      restored?.chapUsers.map((u) => u.direction),
      ['incoming', 'outgoing'],
    );
    assert.deepEqual(restored.allowedInitiators, ['iqn.1994-05.com.redhat:client1']);
    assert.equal(after.targets.find((x) => x.iqn === generated.iqn)?.enabled, false);

    await cliJson([...d, 'target', 'delete', IQN]);
    await cliJson([...d, 'volume', 'delete', 'vol2']);
    assert.deepEqual(
      (await cliJson<VolumeView[]>([...d, 'volume', 'list'])).map((v) => v.name),
      ['share1', 'vol1'],
    );
  });

  it('works over --api with TANDEM_PASSWORD, and says so without it', async (t) => {
    const dataDir = join(tempDir(t), 'var');
    const daemon = await startDaemon(t, dataDir, { env: { TANDEM_ADMIN_PASSWORD: 'api-test-password' } });
    const env = { TANDEM_PASSWORD: 'api-test-password' };
    const a = ['--api', daemon.apiUrl];
    await cliJson([...a, 'volume', 'create', 'remote1', '--type', 'iscsi', '--size', '32MiB'], env);
    await cliJson([...a, 'target', 'create', IQN, '--lun', '0=remote1', '--ro'], env);
    const target = await cliJson<TargetView>([...a, 'target', 'show', IQN], env);
    assert.equal(target.luns[0]?.readOnly, true);
    assert.equal(
      (await cliJson<VolumeView[]>([...a, 'volume', 'list'], { TANDEM_API: daemon.apiUrl, ...env })).length,
      1,
    );
    assert.equal(
      (await cliJson<VolumeView[]>(['volume', 'list'], { TANDEM_API: daemon.apiUrl, ...env })).length,
      1,
    );

    const noPassword = await runCli([...a, 'volume', 'list']);
    assert.equal(noPassword.code, 1);
    assert.match(noPassword.stderr, /needs credentials: set TANDEM_PASSWORD/);
    const wrong = await runCli([...a, 'volume', 'list'], { TANDEM_PASSWORD: 'nope' });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /wrong user name or password/);
    assert.equal(wrong.stdout, '');
  });

  it('reports refusals on stderr with a non-zero exit and changes nothing', async (t) => {
    const dataDir = join(tempDir(t), 'var');
    const d = ['--data', dataDir];
    await startDaemon(t, dataDir);
    await cliJson([...d, 'volume', 'create', 'nas1', '--type', 'nas', '--size', '1GiB']);
    await cliJson([...d, 'volume', 'create', 'blk1', '--size', '16MiB']);
    await cliJson([...d, 'target', 'create', IQN, '--lun', '0=blk1']);
    const state = async () =>
      JSON.stringify([await cliJson([...d, 'volume', 'list']), await cliJson([...d, 'target', 'list'])]);
    const before = await state();

    const cases: [string[], number, RegExp][] = [
      [['volume', 'create', '../etc', '--size', '1G'], 1, /must not contain "\.\."/],
      [['volume', 'create', 'a/b', '--size', '1G'], 1, /may only use letters/],
      [['volume', 'create', 'huge', '--size', '7PiB'], 1, /free; this needs/],
      [['volume', 'create', 'bad', '--size', 'lots'], 2, /not a size/],
      [
        ['volume', 'create', 'bad', '--size', '1G', '--type', 'tape'],
        2,
        /Allowed choices are iscsi, nas, fc/,
      ],
      [['volume', 'create', 'bad', '--size', '1G', '--frobnicate'], 2, /unknown option '--frobnicate'/],
      [['volume', 'expand', 'blk1', '--size', '8MiB'], 1, /expand only grows/],
      [['volume', 'delete', 'blk1'], 1, /in use .*--force/],
      [['volume', 'show', 'ghost'], 1, /does not exist/],
      [
        ['target', 'create', 'iqn.2026-11.com.example:two', '--lun', '1=nas1'],
        1,
        /only iSCSI volumes can be LUNs/,
      ],
      [['target', 'create', IQN], 1, /already exists/],
      [['target', 'create', 'not-an-iqn'], 1, /must start with iqn\., eui\. or naa\./],
      [['target', 'create', 'iqn.2026-11.com.example:three', '--lun', 'x=blk1'], 2, /not LUN=VOLUME/],
      [['target', 'create', 'iqn.2026-11.com.example:four', '--chap', 'bob:short'], 1, /at least 96 bits/],
      [['target', 'lun', 'add', IQN, '300=blk1'], 2, /not LUN=VOLUME/],
      [['pool', 'create', 'p', '--path', 'relative'], 1, /must be absolute/],
    ];
    for (const [args, code, message] of cases) {
      const result = await runCli([...d, ...args]);
      assert.equal(
        result.code,
        code,
        `tandem ${args.join(' ')}: exit ${String(result.code)} ${result.stderr}`,
      );
      assert.match(result.stderr, message, `tandem ${args.join(' ')}`);
      assert.equal(result.stdout, '', `tandem ${args.join(' ')} prints nothing on stdout`);
    }
    assert.equal(await state(), before, 'no refusal changed anything');

    const noDaemon = await runCli(['--data', join(dataDir, 'elsewhere'), 'volume', 'list']);
    assert.equal(noDaemon.code, 1);
    assert.match(noDaemon.stderr, /no Tandem daemon at/);
  });

  it('has --help on every command', async () => {
    const commands = [
      [],
      ['serve'],
      ['node', 'status'],
      ['pool'],
      ['pool', 'create'],
      ['volume'],
      ['volume', 'create'],
      ['volume', 'list'],
      ['volume', 'show'],
      ['volume', 'expand'],
      ['volume', 'set'],
      ['volume', 'delete'],
      ['target'],
      ['target', 'create'],
      ['target', 'list'],
      ['target', 'lun', 'add'],
      ['target', 'lun', 'set'],
      ['target', 'chap', 'add'],
      ['target', 'allow'],
    ];
    for (const words of commands) {
      const result = await runCli([...words, '--help']);
      assert.equal(result.code, 0, `tandem ${words.join(' ')} --help`);
      assert.match(result.stdout, /Usage: tandem/);
    }
  });
});
