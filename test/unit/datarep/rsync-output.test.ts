// The rsync output parser on output recorded from this machine's rsync (samples/, LC_ALL=C).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseModuleList } from '../../../src/datarep/browse.js';
import { explainExit, errorLines } from '../../../src/datarep/rsync-exit.js';
import { parseProgressLine, RsyncOutputReader } from '../../../src/datarep/rsync-output.js';

const sample = (name: string): string => readFileSync(new URL(`samples/${name}`, import.meta.url), 'utf8');

describe('rsync progress2 lines', () => {
  it('reads an in-flight line (no file counters)', () => {
    assert.deepEqual(parseProgressLine('      1,212,416  13%    1.11MB/s    0:00:06  '), {
      bytes: 1_212_416,
      percent: 13,
      bytesPerSecond: Math.round(1.11 * 1024 * 1024),
      etaSeconds: 6,
      filesTransferred: null,
      filesToCheck: null,
      filesTotal: null,
    });
  });

  it('reads a line that ends a file, with xfr# and to-chk', () => {
    const p = parseProgressLine('      3,000,000  33% 1004.05kB/s    1:02:03 (xfr#1, to-chk=51/53)');
    assert.ok(p);
    assert.equal(p.bytes, 3_000_000);
    assert.equal(p.bytesPerSecond, Math.round(1004.05 * 1024));
    assert.equal(p.etaSeconds, 3723);
    assert.equal(p.filesTransferred, 1);
    assert.equal(p.filesToCheck, 51);
    assert.equal(p.filesTotal, 53);
  });

  it('refuses lines that are not progress', () => {
    for (const line of ['Number of files: 53', '', 'sent 6,992 bytes  received 2,746 bytes', '12 13% x']) {
      assert.equal(parseProgressLine(line), null, line);
    }
  });
});

describe('rsync output reader on recorded runs', () => {
  it('a full run: progress up to the last file, then every stat', () => {
    const reader = new RsyncOutputReader();
    const seen = reader.push(sample('full.stdout'));
    seen.push(...reader.end());
    assert.ok(seen.length > 40, `progress lines: ${seen.length}`);
    const last = reader.progress();
    assert.ok(last);
    assert.equal(last.bytes, 6_057_383);
    assert.equal(last.filesToCheck, 0);
    assert.equal(last.filesTransferred, 50);
    // Bytes never go backwards.
    for (let i = 1; i < seen.length; i++) assert.ok((seen[i]?.bytes ?? 0) >= (seen[i - 1]?.bytes ?? 0));
    assert.deepEqual(reader.stats(), {
      files: 53,
      createdFiles: 52,
      deletedFiles: 0,
      transferredFiles: 50,
      totalFileBytes: 6_057_385,
      transferredFileBytes: 6_057_383,
      literalBytes: 6_057_383,
      matchedBytes: 0,
      bytesSent: 6_061_774,
      bytesReceived: 975,
      speedup: 1,
    });
  });

  it('an incremental run: the delta shows in literal vs matched data and the speedup', () => {
    const reader = new RsyncOutputReader();
    reader.push(sample('incremental.stdout'));
    reader.end();
    const stats = reader.stats();
    assert.equal(stats.transferredFiles, 3);
    assert.equal(stats.literalBytes, 4_160);
    assert.equal(stats.matchedBytes, 309_400);
    assert.equal(stats.speedup, 622.34);
  });

  it('is indifferent to how the output is chunked', () => {
    const text = sample('bwlimit-delete.stdout');
    const whole = new RsyncOutputReader();
    const all = [...whole.push(text), ...whole.end()];
    const bytewise = new RsyncOutputReader();
    const pieces: ReturnType<RsyncOutputReader['push']> = [];
    for (let i = 0; i < text.length; i += 7) pieces.push(...bytewise.push(text.slice(i, i + 7)));
    pieces.push(...bytewise.end());
    assert.deepEqual(pieces, all);
    assert.deepEqual(bytewise.stats(), whole.stats());
    assert.equal(whole.stats().deletedFiles, 1);
    assert.ok(
      all.some((p) => p.filesTransferred === null && p.etaSeconds === 6),
      'an in-flight line with ETA',
    );
  });
});

describe('rsync exit codes', () => {
  it('auth failure (code 5 with the daemon refusal) reads as wrong ID or password', () => {
    const text = explainExit(5, null, sample('auth-failed-5.stderr'));
    assert.match(text, /^authentication failed: wrong ID or password/);
    assert.match(text, /@ERROR: auth failed on module mod/);
  });

  it('an unknown module is told apart from an auth failure', () => {
    assert.match(explainExit(5, null, sample('unknown-module-5.stderr')), /destination share does not exist/);
  });

  it("the agent's refusals: not an allowed host, too many connections", () => {
    const denied =
      '@ERROR: access denied to this agent from 192.0.2.7\nrsync error: error starting client-server protocol (code 5) at main.c(1954) [sender=3.5.0]\n';
    assert.match(explainExit(5, null, denied), /^this node is not in the destination agent's allowed hosts/);
    const busy = '@ERROR: too many connections from 192.0.2.7 -- try again later\n';
    assert.match(explainExit(5, null, busy), /^the destination agent is at its connection limit/);
  });

  it('connection refused, partial transfer, and kill by signal', () => {
    assert.match(
      explainExit(10, null, sample('refused-10.stderr')),
      /connection refused \(is the agent running\?\)/,
    );
    const partial = explainExit(23, null, sample('partial-23.stderr'));
    assert.match(partial, /partial transfer/);
    assert.ok(errorLines(sample('partial-23.stderr')).length === 3, 'quotes at most three lines');
    assert.equal(explainExit(null, 'SIGKILL', ''), 'rsync was killed by SIGKILL');
    assert.match(explainExit(99, null, ''), /exit code 99/);
  });
});

describe('browse: the module list', () => {
  it('reads names and comments, skipping other lines', () => {
    assert.deepEqual(parseModuleList(`Welcome to the agent\n${sample('list-modules.stdout')}`), [
      { name: 'mod', comment: 'the module' },
      { name: 'other', comment: 'second' },
    ]);
  });
});
