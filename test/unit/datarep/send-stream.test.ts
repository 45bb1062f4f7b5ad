// The btrfs send stream reader and the change list built from it, without btrfs: a stream captured from
// `btrfs send --no-data` (samples/), streams assembled here, and damaged copies of both.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { changeListOf } from '../../../src/datarep/incremental/change-list.js';
import {
  parseSendStream,
  SEND_COMMANDS,
  SendStreamError,
  type SendCommand,
  type SendCommandName,
} from '../../../src/datarep/incremental/send-stream.js';
import { NeedsFullTransfer, transferList } from '../../../src/datarep/incremental/transfer-list.js';
import { crc32c } from '../../../src/lib/crc32c.js';
import { tempDir } from '../../helpers/temp-dir.js';

const sample = readFileSync(new URL('samples/btrfs-send-no-data.stream', import.meta.url));

/** A stream as btrfs writes it: header, then commands with path attributes and their checksums. */
function assemble(commands: readonly SendCommand[], version = 1): Buffer {
  const parts = [Buffer.from('btrfs-stream\0', 'latin1'), Buffer.alloc(4)];
  parts[1]?.writeUInt32LE(version);
  for (const c of commands) {
    const attrs: Buffer[] = [];
    const attr = (type: number, value: string): void => {
      const bytes = Buffer.from(value, 'utf8');
      const head = Buffer.alloc(4);
      head.writeUInt16LE(type, 0);
      head.writeUInt16LE(bytes.length, 2);
      attrs.push(head, bytes);
    };
    if (c.path !== undefined) attr(15, c.path);
    if (c.pathTo !== undefined) attr(16, c.pathTo);
    if (c.pathLink !== undefined) attr(17, c.pathLink);
    const payload = Buffer.concat(attrs);
    const header = Buffer.alloc(10);
    header.writeUInt32LE(payload.length, 0);
    header.writeUInt16LE(SEND_COMMANDS[c.command], 4);
    const crc = ~crc32c(payload, crc32c(header, 0xffffffff)) >>> 0;
    header.writeUInt32LE(crc, 6);
    parts.push(header, payload);
  }
  return Buffer.concat(parts);
}

const cmd = (command: SendCommandName, path?: string, extra: Partial<SendCommand> = {}): SendCommand => ({
  command,
  ...(path === undefined ? {} : { path }),
  ...extra,
});

test('send stream: reads a stream captured from btrfs send --no-data, checksums and all', () => {
  const { version, commands } = parseSendStream(sample);
  assert.equal(version, 1);
  assert.deepEqual(commands.slice(0, 3), [
    { command: 'snapshot', path: 's2' },
    { command: 'rename', path: 'share/b', pathTo: 'share/b2' },
    { command: 'updateExtent', path: 'share/a/f1' },
  ]);
  assert.deepEqual(
    commands.find((c) => c.command === 'link'),
    {
      command: 'link',
      path: 'share/c/f3link',
      pathLink: 'share/a/f3',
    },
  );
  assert.equal(commands.at(-1)?.command, 'end');
  // Our own assembly of the same commands is byte for byte what btrfs wrote, except for the
  // attributes we do not read (uuids, times, modes), so check the round trip on our own streams.
  const ours = [cmd('snapshot', 's'), cmd('mkfile', 'o257-5-0'), cmd('end')];
  assert.deepEqual(parseSendStream(assemble(ours)).commands, ours);
});

test('send stream: a damaged stream is refused, never half read', () => {
  for (let at = 17; at < sample.length; at += 37) {
    const damaged = Buffer.from(sample);
    damaged[at] = (damaged[at] ?? 0) ^ 0x40;
    assert.throws(() => parseSendStream(damaged), SendStreamError, `flipped byte ${at}`);
  }
  assert.throws(() => parseSendStream(sample.subarray(0, sample.length - 3)), /truncated/);
  assert.throws(() => parseSendStream(sample.subarray(0, 12)), /bad magic/);
  assert.throws(() => parseSendStream(assemble([cmd('snapshot', 's')])), /no end command/);
  assert.throws(() => parseSendStream(assemble([cmd('end'), cmd('end')])), /after the end/);
  assert.throws(() => parseSendStream(assemble([cmd('end')], 9)), /version 9/);
  const unknown = assemble([cmd('end')]);
  unknown.writeUInt16LE(99, 17 + 4);
  assert.throws(() => parseSendStream(unknown), /checksum|unknown/);
});

test('change list: paths follow later renames; orphan names leave the root alone', () => {
  const list = changeListOf([
    cmd('snapshot', 's'),
    cmd('mkfile', 'o261-7-0'),
    cmd('rename', 'o261-7-0', { pathTo: 'docs/new.txt' }),
    cmd('updateExtent', 'docs/new.txt'),
    cmd('updateExtent', 'old/a.txt'),
    cmd('rename', 'old', { pathTo: 'archive/old' }),
    cmd('utimes', 'archive'),
    cmd('end'),
  ]);
  assert.deepEqual([...list.entries].sort(), [
    'archive',
    'archive/old/a.txt',
    'docs/new.txt',
    'o261-7-0',
    'old',
  ]);
  assert.deepEqual([...list.contents].sort(), ['', 'archive', 'docs']);
  assert.deepEqual([...list.trees].sort(), ['archive/old', 'docs/new.txt']);
  assert.equal(list.hardLinks, false);
});

test('change list: a swap of two directories lists both as whole trees', () => {
  const list = changeListOf([
    cmd('snapshot', 's'),
    cmd('rename', 'p', { pathTo: 'o300-1-0' }),
    cmd('rename', 'q', { pathTo: 'p' }),
    cmd('rename', 'o300-1-0', { pathTo: 'q' }),
    cmd('end'),
  ]);
  assert.deepEqual([...list.trees].sort(), ['p', 'q']);
  assert.ok(list.contents.has(''));
});

test('change list: a hard link is flagged; a malformed command list is refused', () => {
  assert.equal(
    changeListOf([cmd('snapshot', 's'), cmd('link', 'b', { pathLink: 'a' }), cmd('end')]).hardLinks,
    true,
  );
  assert.throws(() => changeListOf([cmd('snapshot', 's'), cmd('snapshot', 't')]), /second subvolume/);
  assert.throws(() => changeListOf([cmd('snapshot', 's'), cmd('write')]), /without a path/);
  assert.throws(() => changeListOf([cmd('snapshot', 's'), cmd('rename', 'a')]), /without a new name/);
});

test('transfer list: scoped to the share, directories for their contents, missing paths kept', async (t) => {
  const root = tempDir(t);
  mkdirSync(join(root, 'share', 'docs', 'sub'), { recursive: true });
  writeFileSync(join(root, 'share', 'docs', 'a.txt'), 'a');
  writeFileSync(join(root, 'share', 'docs', 'sub', 'b.txt'), 'b');
  writeFileSync(join(root, 'share', 'was-a-dir'), 'now a file');
  const list = await transferList(
    {
      entries: new Set(['share/docs/a.txt', 'share/gone.txt', 'share/was-a-dir/inner', 'other/x']),
      contents: new Set(['share/docs', '']),
      trees: new Set(['share/docs/sub']),
      hardLinks: false,
    },
    root,
    'share',
  );
  assert.deepEqual(list, ['.', 'docs/', 'docs/a.txt', 'docs/sub/', 'gone.txt', 'was-a-dir']);
  await assert.rejects(
    transferList(
      { entries: new Set(), contents: new Set(), trees: new Set(['share']), hardLinks: false },
      root,
      'share',
    ),
    NeedsFullTransfer,
  );
  await assert.rejects(
    transferList(
      { entries: new Set(), contents: new Set(), trees: new Set(), hardLinks: true },
      root,
      'share',
    ),
    NeedsFullTransfer,
  );
});
