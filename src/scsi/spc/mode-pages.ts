// The mode pages we have (SPC-4 §7.5, SBC-3 §6.4), each in its current, changeable and default form.
// The table is in ascending page-code order, which is the order "return all pages" uses. Only WCE in
// the caching page is changeable; saved values are not implemented, so no page sets PS.
import type { LogicalUnitInfo } from './logical-unit.js';

export type ModePageForm = 'current' | 'changeable' | 'default';

export interface ModePage {
  readonly code: number;
  readonly name: string;
  /** The page: byte 0 PS/SPF/PAGE CODE, byte 1 PAGE LENGTH (n − 1), then the parameters. */
  readonly build: (lu: LogicalUnitInfo, form: ModePageForm) => Buffer;
}

function page(code: number, parameters: readonly number[]): Buffer {
  return Buffer.from([code, parameters.length, ...parameters]);
}

/** SBC-3 §6.4.5: Caching mode page, PAGE LENGTH 12h. WCE (byte 2 bit 2) follows the LU's write-back
 * setting and is the one changeable bit; RCD = 0 (reads may be served from the cache). */
export const WCE = 0x04;

function caching(lu: LogicalUnitInfo, form: ModePageForm): Buffer {
  const params = new Array<number>(0x12).fill(0);
  params[0] = form === 'changeable' ? WCE : lu.writeCacheEnabled ? WCE : 0;
  return page(0x08, params);
}

/** SPC-4 §7.5.8: Control mode page, PAGE LENGTH 0Ah. TST 000b (one task set), D_SENSE 0 (fixed format
 * sense), GLTSD 1 (no log parameters are saved), QUEUE ALGORITHM MODIFIER 1 (unrestricted reordering:
 * we promise no ordering among SIMPLE tasks), QERR 00b, UA_INTLCK_CTRL 00b, SWP 0, TAS 0. */
function control(_lu: LogicalUnitInfo, form: ModePageForm): Buffer {
  if (form === 'changeable') return page(0x0a, new Array<number>(0x0a).fill(0));
  return page(0x0a, [0x02, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]);
}

/** SPC-4 §7.5.14: Informational Exceptions Control mode page, PAGE LENGTH 0Ah: DEXCPT 1 (we report no
 * informational exceptions), MRIE 0. */
function informationalExceptions(_lu: LogicalUnitInfo, form: ModePageForm): Buffer {
  if (form === 'changeable') return page(0x1c, new Array<number>(0x0a).fill(0));
  return page(0x1c, [0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]);
}

export const MODE_PAGES: readonly ModePage[] = [
  { code: 0x08, name: 'Caching', build: caching },
  { code: 0x0a, name: 'Control', build: control },
  { code: 0x1c, name: 'Informational Exceptions Control', build: informationalExceptions },
];

/** PAGE CODE 3Fh: return all pages. */
export const ALL_PAGES = 0x3f;

export const findModePage = (code: number): ModePage | undefined => MODE_PAGES.find((p) => p.code === code);
