// iSCSI names (RFC 7143 §4.2.7): the three formats `iqn.`, `eui.` and `naa.`, at most 223 bytes.
// Names compare case-insensitively after stringprep, which maps ASCII to lower case; we normalize to
// lower case and accept the ASCII subset of the allowed characters (letters, digits, '-', '.', ':').
import { invalid } from './errors.js';

export const ISCSI_NAME_MAX_BYTES = 223;

const IQN_PATTERN =
  /^iqn\.(\d{4})-(\d{2})\.([a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*)(?::([a-z0-9.:-]+))?$/;
const EUI_PATTERN = /^eui\.[0-9a-f]{16}$/;
const NAA_PATTERN = /^naa\.(?:[0-9a-f]{16}|[0-9a-f]{32})$/;

/** Normalizes and checks an iSCSI name; throws a TandemError that says what is wrong. */
export function normalizeIscsiName(text: string): string {
  const name = text.trim().toLowerCase();
  if (name.length === 0) throw invalid('bad-iscsi-name', 'iSCSI name must not be empty');
  if (Buffer.byteLength(name, 'utf8') > ISCSI_NAME_MAX_BYTES) {
    throw invalid('bad-iscsi-name', `iSCSI name is longer than ${ISCSI_NAME_MAX_BYTES} bytes`);
  }
  if (name.startsWith('iqn.')) {
    const match = IQN_PATTERN.exec(name);
    if (!match) {
      throw invalid(
        'bad-iscsi-name',
        `"${text}" is not a valid iqn name; expected iqn.YYYY-MM.reversed.domain[:unique-string] using a-z, 0-9, '-', '.', ':'`,
      );
    }
    const month = Number(match[2]);
    if (month < 1 || month > 12)
      throw invalid('bad-iscsi-name', `"${text}" has an invalid month in its date`);
    return name;
  }
  if (name.startsWith('eui.')) {
    if (!EUI_PATTERN.test(name))
      throw invalid('bad-iscsi-name', `"${text}" is not valid: eui. takes 16 hex digits`);
    return name;
  }
  if (name.startsWith('naa.')) {
    if (!NAA_PATTERN.test(name)) {
      throw invalid('bad-iscsi-name', `"${text}" is not valid: naa. takes 16 or 32 hex digits`);
    }
    return name;
  }
  throw invalid('bad-iscsi-name', `"${text}" is not an iSCSI name; it must start with iqn., eui. or naa.`);
}

/** Turns a host name into the naming-authority part of a default IQN: `node1.example.com` gives
 * `com.example` and host `node1`; a bare host name falls back to the domain `tandem.local`. */
export function namingAuthority(hostname: string): { reversedDomain: string; host: string } {
  const labels = hostname
    .toLowerCase()
    .split('.')
    .map((label) => label.replace(/[^a-z0-9-]/g, '').replace(/^-+|-+$/g, ''))
    .filter((label) => label.length > 0);
  const host = labels[0] ?? 'tandem';
  const domain = labels.length > 1 ? labels.slice(1) : ['tandem', 'local'];
  return { reversedDomain: [...domain].reverse().join('.'), host };
}

/** The default IQN for target number `index`: iqn.YYYY-MM.<reversed domain>:<host>.target<N>. */
export function defaultTargetIqn(hostname: string, date: Date, index: number): string {
  const { reversedDomain, host } = namingAuthority(hostname);
  const yyyy = String(date.getUTCFullYear()).padStart(4, '0');
  const mm = String(date.getUTCMonth() + 1).padStart(2, '0');
  return normalizeIscsiName(`iqn.${yyyy}-${mm}.${reversedDomain}:${host}.target${index}`);
}
