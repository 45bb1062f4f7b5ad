// The SCSI identity of a LUN: unit serial number (the "SCSI ID", VPD page 0x80) and NAA designator
// (VPD page 0x83). Both derive from the volume's id by default, so they stay stable across restarts;
// both can be set, so two nodes of a failover pair can present the same identity.
import { createHash } from 'node:crypto';
import { invalid } from '../lib/errors.js';

const SERIAL_PATTERN = /^[A-Za-z0-9_.-]{1,32}$/;

export function defaultSerial(volumeId: string): string {
  return createHash('sha256').update(`serial:${volumeId}`).digest('hex').slice(0, 16);
}

/** NAA 3h (locally assigned, SPC-4 §7.8.6.6.2): 4-bit type and 60 bits we assign, as 16 hex digits.
 * We own no IEEE OUI, so we do not mint NAA 5h/6h identifiers; settable ones may be any NAA type. */
export function defaultNaa(volumeId: string): string {
  return `3${createHash('sha256').update(`naa:${volumeId}`).digest('hex').slice(0, 15)}`;
}

export function validateSerial(serial: string): string {
  if (!SERIAL_PATTERN.test(serial)) {
    throw invalid(
      'bad-serial',
      `SCSI ID "${serial}" must be 1 to 32 characters of letters, digits, "_", "-", "."`,
    );
  }
  return serial;
}

/** Accepts NAA 2h/3h/5h as 16 hex digits and NAA 6h as 32, with or without a `naa.` or `0x` prefix. */
export function validateNaa(text: string): string {
  const naa = text
    .trim()
    .toLowerCase()
    .replace(/^(naa\.|0x)/, '');
  const type = naa[0];
  const ok =
    (/^[0-9a-f]{16}$/.test(naa) && (type === '2' || type === '3' || type === '5')) ||
    (/^[0-9a-f]{32}$/.test(naa) && type === '6');
  if (!ok) {
    throw invalid(
      'bad-naa',
      `NAA identifier "${text}" must be 16 hex digits starting with 2, 3 or 5, or 32 hex digits starting with 6`,
    );
  }
  return naa;
}
