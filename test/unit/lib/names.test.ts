import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NAME_MAX_LENGTH, validateName } from '../../../src/lib/names.js';
import { TandemError } from '../../../src/lib/errors.js';

describe('validateName', () => {
  for (const good of ['vol1', 'office', 'db_data-2', 'a', 'x.y', 'A'.repeat(NAME_MAX_LENGTH)]) {
    it(`accepts "${good.slice(0, 20)}"`, () => assert.equal(validateName('volume', good), good));
  }
  const bad = [
    '',
    '..',
    '../etc',
    'a/b',
    'a\\b',
    '/abs',
    '.hidden',
    '-rf',
    'a..b',
    'name with space',
    'semi;colon',
    '$(reboot)',
    '`id`',
    'a|b',
    'tab\there',
    'new\nline',
    'ünïcode',
    'A'.repeat(NAME_MAX_LENGTH + 1),
  ];
  for (const name of bad) {
    it(`refuses ${JSON.stringify(name.slice(0, 20))}`, () => {
      assert.throws(
        () => validateName('volume', name),
        (error: unknown) =>
          error instanceof TandemError && error.code === 'bad-name' && error.message.includes('volume'),
      );
    });
  }
});
