// The datarep CLI's own parsing: the password from a file or the environment (never argv), and
// schedules from --every / --days --at. Mistakes are usage errors (exit code 2).
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CliError } from '../../../src/cli/client.js';
import { formatSeconds, readPassword, scheduleFrom } from '../../../src/cli/commands/datarep.js';
import { tempDir } from '../../helpers/temp-dir.js';

const usageError = (e: unknown): boolean => e instanceof CliError && e.exitCode === 2;

describe('datarep CLI arguments', () => {
  it('reads the password from a file (one trailing newline dropped) or an environment variable', (t) => {
    const file = join(tempDir(t), 'pw');
    writeFileSync(file, 'file secret\n', { mode: 0o600 });
    chmodSync(file, 0o600);
    assert.equal(readPassword({ passwordFile: file }), 'file secret');
    assert.equal(readPassword({ passwordEnv: 'PW' }, { PW: 'env secret' }), 'env secret');
    assert.equal(readPassword({}), undefined);
    assert.throws(() => readPassword({ passwordEnv: 'MISSING' }, {}), usageError);
    assert.throws(() => readPassword({ passwordFile: join(file, 'nope') }), usageError);
    writeFileSync(file, 'two\nlines\n');
    assert.throws(() => readPassword({ passwordFile: file }), usageError);
    assert.throws(() => readPassword({ passwordEnv: 'PW' }, { PW: 'x'.repeat(257) }), usageError);
  });

  it('builds schedules from --every or --days with --at', () => {
    assert.deepEqual(scheduleFrom({ every: 6 }), { kind: 'interval', hours: 6 });
    assert.deepEqual(scheduleFrom({ days: ['mon', 'fri'], at: '18:00' }), {
      kind: 'weekly',
      days: ['mon', 'fri'],
      time: '18:00',
    });
    assert.equal(scheduleFrom({}), undefined);
    assert.throws(() => scheduleFrom({ every: 6, at: '18:00' }), usageError);
    assert.throws(() => scheduleFrom({ days: ['mon'] }), usageError);
    assert.throws(() => scheduleFrom({ at: '18:00' }), usageError);
  });

  it('prints durations compactly', () => {
    assert.equal(formatSeconds(null), '-');
    assert.equal(formatSeconds(42), '42s');
    assert.equal(formatSeconds(125), '2m05s');
    assert.equal(formatSeconds(3 * 3600 + 61), '3h01m');
  });
});
