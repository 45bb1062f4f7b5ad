// Human sizes. Sizes are byte counts held in `number`: exact up to 2^53 bytes (8 PiB), well past any
// volume this product will see. Units follow IEC (KiB = 1024) and the habit of storage admins that a
// bare K/M/G/T/P also means a power of 1024; explicit SI units (KB, MB, GB) mean powers of 1000.
import { invalid } from './errors.js';

const KIB = 1024;
const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: KIB,
  kib: KIB,
  kb: 1000,
  m: KIB ** 2,
  mib: KIB ** 2,
  mb: 1000 ** 2,
  g: KIB ** 3,
  gib: KIB ** 3,
  gb: 1000 ** 3,
  t: KIB ** 4,
  tib: KIB ** 4,
  tb: 1000 ** 4,
  p: KIB ** 5,
  pib: KIB ** 5,
  pb: 1000 ** 5,
};

export const MAX_SIZE = 2 ** 53 - 1;

/** Parses `512MiB`, `10G`, `1.5TiB`, `4096` into bytes; throws a TandemError on anything else. */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!match) {
    throw invalid(
      'bad-size',
      `"${text}" is not a size; use a number with an optional unit like 512MiB, 10G or 1.5TiB`,
    );
  }
  const [, amount = '', unitText = ''] = match;
  const unit = UNITS[unitText.toLowerCase()];
  if (unit === undefined) {
    throw invalid(
      'bad-size-unit',
      `unknown size unit "${unitText}" in "${text}"; use B, KiB, MiB, GiB, TiB or PiB`,
    );
  }
  const bytes = Number(amount) * unit;
  if (!Number.isInteger(bytes)) {
    throw invalid('bad-size', `"${text}" is not a whole number of bytes`);
  }
  if (bytes > MAX_SIZE) {
    throw invalid('bad-size', `"${text}" is too large`);
  }
  return bytes;
}

const DISPLAY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** Formats bytes for people: `1.50 GiB`, `512 MiB`, `0 B`. Exact multiples print without decimals. */
export function formatSize(bytes: number): string {
  let value = bytes;
  let index = 0;
  while (Math.abs(value) >= KIB && index < DISPLAY_UNITS.length - 1) {
    value /= KIB;
    index += 1;
  }
  const text = Number.isInteger(value) ? String(value) : value.toFixed(2);
  return `${text} ${DISPLAY_UNITS[index] ?? 'B'}`;
}

/** Rounds up to a multiple of `alignment` (a power of two or any positive integer). */
export function alignUp(bytes: number, alignment: number): number {
  return Math.ceil(bytes / alignment) * alignment;
}
