// Real initiators against a real daemon: libiscsi's tools, qemu-img and qemu-io over iscsi:// URLs,
// with CHAP (one-way and mutual) and digests.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliJson, startDaemon, type Daemon } from '../helpers/daemon.js';
import { run, runOk } from '../helpers/programs.js';
import { tempDir } from '../helpers/temp-dir.js';

const TARGET = 'iqn.2026-11.local.tandem:interop';
const CHAP_TARGET = 'iqn.2026-11.local.tandem:chap';
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

async function node(
  t: Parameters<typeof startDaemon>[0],
): Promise<{ daemon: Daemon; root: string; url: (iqn: string, lun: number) => string }> {
  const root = tempDir(t);
  const dataDir = join(root, 'var');
  const daemon = await startDaemon(t, dataDir);
  const d = ['--data', dataDir];
  await cliJson([...d, 'volume', 'create', 'disk0', '--size', '64MiB']);
  await cliJson([...d, 'volume', 'create', 'disk1', '--size', '32MiB', '--thick']);
  await cliJson([...d, 'target', 'create', TARGET, '--lun', '0=disk0', '--lun', '3=disk1']);
  return { daemon, root, url: (iqn, lun) => `iscsi://${daemon.iscsiPortal}/${iqn}/${lun}` };
}

describe('iSCSI interop with real initiators', () => {
  it('is found and described by iscsi-ls, iscsi-inq and iscsi-readcapacity16', async (t) => {
    const { daemon, url } = await node(t);
    const listing = await runOk('iscsi-ls', ['-s', `iscsi://${daemon.iscsiPortal}`]);
    assert.match(
      listing,
      new RegExp(`Target:${TARGET} Portal:${daemon.iscsiPortal.replace(/\./g, '\\.')},1`),
    );
    // iscsi-ls prints the last LBA's offset in MiB, so 64 MiB shows as 63M (tgt's LUNs show the same).
    assert.match(listing, /Lun:0\s+Type:DIRECT_ACCESS \(Size:63M\)/);
    assert.match(listing, /Lun:3\s+Type:DIRECT_ACCESS \(Size:31M\)/);
    const inquiry = await runOk('iscsi-inq', [url(TARGET, 0)]);
    assert.match(inquiry, /Vendor:TANDEM/);
    assert.match(inquiry, /Version Descriptor:0460 SPC-4/);
    const serial = await runOk('iscsi-inq', ['-e', '1', '-c', '128', url(TARGET, 0)]);
    const shown = (
      await cliJson<{ luns: { lun: number; serial: string }[] }>([
        '--data',
        daemon.dataDir,
        'target',
        'show',
        TARGET,
      ])
    ).luns[0]?.serial;
    assert.ok(shown && serial.includes(shown), `VPD 0x80 carries the SCSI ID ${shown ?? '?'}:\n${serial}`);
    const capacity = await runOk('iscsi-readcapacity16', [url(TARGET, 3)]);
    assert.match(capacity, /RETURNED LOGICAL BLOCK ADDRESS:65535/);
    assert.match(capacity, /LOGICAL BLOCK LENGTH IN BYTES:512/);
  });

  it('carries a 64 MiB random image through qemu-img convert unchanged', async (t) => {
    const { root, url } = await node(t);
    const image = randomBytes(64 * 1024 * 1024);
    const source = join(root, 'random.img');
    const back = join(root, 'back.img');
    writeFileSync(source, image);
    await runOk('qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'raw', source, url(TARGET, 0)], {
      timeoutMs: 300_000,
    });
    await runOk('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', url(TARGET, 0), back], {
      timeoutMs: 300_000,
    });
    assert.equal(sha256(readFileSync(back)), sha256(image));
  });

  it('reads back qemu-io patterns at odd offsets and sizes, larger than the bursts', async (t) => {
    const { url } = await node(t);
    // libiscsi offers MaxBurstLength and FirstBurstLength of 256 KiB: 3 MiB spans many bursts and R2Ts.
    const patterns: [number, number, number][] = [
      [0x5a, 0, 512],
      [0x11, 12_345, 77_777],
      [0xa7, 1_048_575, 3 * 1024 * 1024 + 3],
      [0x3c, 64 * 1024 * 1024 - 4096 - 1, 4097],
    ];
    for (const [pattern, offset, length] of patterns) {
      const hex = `0x${pattern.toString(16)}`;
      const out = await runOk(
        'qemu-io',
        [
          '-f',
          'raw',
          '-c',
          `write -P ${hex} ${offset} ${length}`,
          '-c',
          `read -P ${hex} ${offset} ${length}`,
          url(TARGET, 0),
        ],
        { timeoutMs: 120_000 },
      );
      assert.doesNotMatch(out, /Pattern verification failed|error/i, out);
      assert.match(out, new RegExp(`read ${length}/${length} bytes at offset ${offset}`));
    }
    // The neighbours of an odd write are untouched.
    const around = await runOk('qemu-io', [
      '-f',
      'raw',
      '-c',
      'read -P 0x5a 0 512',
      '-c',
      'read -P 0x0 513 11832',
      url(TARGET, 0),
    ]);
    assert.doesNotMatch(around, /Pattern verification failed/);
  });

  it('authenticates with one-way and mutual CHAP, and refuses wrong secrets', async (t) => {
    const { daemon, url } = await node(t);
    const d = ['--data', daemon.dataDir];
    await cliJson([...d, 'volume', 'create', 'secret', '--size', '16MiB']);
    await cliJson([
      ...d,
      'target',
      'create',
      CHAP_TARGET,
      '--lun',
      '0=secret',
      '--chap',
      'alice:alicesecret12',
      '--mutual-chap',
      'tandem:targetsecret1',
    ]);
    const portal = daemon.iscsiPortal;
    const withUser = (user: string, secret: string): string =>
      `iscsi://${user}%${secret}@${portal}/${CHAP_TARGET}/0`;
    assert.match(await runOk('iscsi-inq', [withUser('alice', 'alicesecret12')]), /Vendor:TANDEM/);
    const mutual = {
      LIBISCSI_CHAP_TARGET_USERNAME: 'tandem',
      LIBISCSI_CHAP_TARGET_PASSWORD: 'targetsecret1',
    };
    assert.match(
      await runOk('iscsi-inq', [withUser('alice', 'alicesecret12')], { env: mutual }),
      /Vendor:TANDEM/,
    );
    const wrongTarget = await run('iscsi-inq', [withUser('alice', 'alicesecret12')], {
      env: { ...mutual, LIBISCSI_CHAP_TARGET_PASSWORD: 'not-the-one-1' },
    });
    assert.notEqual(
      wrongTarget.code,
      0,
      'the initiator refuses a target that does not know the mutual secret',
    );
    const wrong = await run('iscsi-inq', [withUser('alice', 'wrongsecret12')]);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stdout + wrong.stderr, /Authentication failure/);
    const none = await run('iscsi-inq', [url(CHAP_TARGET, 0)]);
    assert.notEqual(none.code, 0);
    assert.match(daemon.output(), /"chap":true/);
    assert.match(daemon.output(), /login refused.*|"reason":"wrong CHAP response for \\"alice\\""/);
  });

  it('negotiates CRC32C header digests and moves data with them', async (t) => {
    const { daemon } = await node(t);
    // qemu's iscsi driver takes the digest as an option (libiscsi 1.19 has no data digests).
    const [host, port] = [daemon.iscsiPortal.split(':')[0] ?? '', daemon.iscsiPortal.split(':')[1] ?? ''];
    const options = `driver=iscsi,transport=tcp,portal=${host}:${port},target=${TARGET},lun=0,header-digest=crc32c`;
    const out = await runOk('qemu-io', [
      '-c',
      'write -P 0x77 4096 1048576',
      '-c',
      'read -P 0x77 4096 1048576',
      '--image-opts',
      options,
    ]);
    assert.doesNotMatch(out, /Pattern verification failed/);
    assert.match(out, /read 1048576\/1048576 bytes at offset 4096/);
    assert.match(daemon.output(), /"headerDigest":"CRC32C"/);
  });
});
