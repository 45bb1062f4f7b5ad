// Text data segments (RFC 7143 §6.1): `key=value` pairs, each ended by a NUL byte, UTF-8 encoded.
// Used by Login and Text Request/Response PDUs; the session joins the data segments of a sequence
// that the C bit continues before parsing. Parsing rejects malformed input with an error value.
//
// Key names are at most 63 bytes of letters, digits and . - + @ _ # (the # of X#-keys, §13.22).
// Values may be empty, are any UTF-8 without NUL, and may hold comma-separated lists (§6.2.1).
// Numbers are decimal or hex with 0x/0X (§5.1 "numerical-value"); booleans are Yes or No.

export interface TextPair {
  readonly key: string;
  readonly value: string;
}

export const MAX_KEY_NAME_BYTES = 63;

/** The values reserved for answers (RFC 7143 §6.2): never a real value of any key. */
export const NOT_UNDERSTOOD = 'NotUnderstood';
export const IRRELEVANT = 'Irrelevant';
export const REJECT = 'Reject';

export type TextErrorCode = 'unterminated' | 'missing-equals' | 'bad-key' | 'bad-utf8';

export interface TextError {
  readonly code: TextErrorCode;
  readonly message: string;
}

export type TextResult =
  { readonly ok: true; readonly value: TextPair[] } | { readonly ok: false; readonly error: TextError };

const KEY_PATTERN = /^[A-Za-z0-9.\-+@_#]{1,63}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses a text data segment into pairs, in order and with any repeated keys kept (negotiation
 * decides what a repeat means). Empty strings between NULs are tolerated and skipped.
 */
export function parseTextData(data: Uint8Array): TextResult {
  if (data.length === 0) return { ok: true, value: [] };
  if (data[data.length - 1] !== 0) {
    return {
      ok: false,
      error: { code: 'unterminated', message: 'the last key=value pair is not ended by a NUL' },
    };
  }
  let text: string;
  try {
    text = utf8.decode(data);
  } catch {
    return { ok: false, error: { code: 'bad-utf8', message: 'the text is not valid UTF-8' } };
  }
  const pairs: TextPair[] = [];
  for (const item of text.slice(0, -1).split('\0')) {
    if (item.length === 0) continue;
    const eq = item.indexOf('=');
    if (eq < 0) {
      return { ok: false, error: { code: 'missing-equals', message: `"${clip(item)}" has no "="` } };
    }
    const key = item.slice(0, eq);
    if (!KEY_PATTERN.test(key)) {
      return { ok: false, error: { code: 'bad-key', message: `"${clip(key)}" is not a valid key name` } };
    }
    pairs.push({ key, value: item.slice(eq + 1) });
  }
  return { ok: true, value: pairs };
}

/** Encodes pairs as `key=value\0...`. Keys and values must not contain NUL (a bug if they do). */
export function encodeTextData(pairs: readonly TextPair[]): Buffer {
  for (const { key, value } of pairs) {
    if (!KEY_PATTERN.test(key) || value.includes('\0')) {
      throw new RangeError(`cannot encode the text pair ${JSON.stringify(key)}=${JSON.stringify(value)}`);
    }
  }
  return Buffer.from(pairs.map(({ key, value }) => `${key}=${value}\0`).join(''), 'utf8');
}

/** A numerical value (decimal or 0x-hex) up to 2^53 − 1, or undefined if it is not one. */
export function parseNumber(value: string): number | undefined {
  let n: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(value)) n = parseInt(value.slice(2), 16);
  else if (/^[0-9]+$/.test(value)) n = parseInt(value, 10);
  else return undefined;
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Yes → true, No → false, anything else → undefined. */
export function parseBoolean(value: string): boolean | undefined {
  if (value === 'Yes') return true;
  if (value === 'No') return false;
  return undefined;
}

export function formatBoolean(value: boolean): 'Yes' | 'No' {
  return value ? 'Yes' : 'No';
}

/** The values of a comma-separated list, in order. */
export function splitList(value: string): string[] {
  return value.split(',');
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
