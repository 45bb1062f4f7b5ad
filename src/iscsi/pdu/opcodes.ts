// The iSCSI opcodes (RFC 7143 §11.2.1.2): six bits in byte 0 of every Basic Header Segment. Codes
// 0x00-0x3f with bit 5 clear are sent by initiators, with bit 5 set by targets. The vendor-specific
// ranges (0x1c-0x1e, 0x3c-0x3e) are not listed: Tandem understands none of them.

export const OPCODES = {
  // Initiator opcodes
  'nop-out': { code: 0x00, sender: 'initiator', section: '11.18' },
  'scsi-command': { code: 0x01, sender: 'initiator', section: '11.3' },
  'task-management-request': { code: 0x02, sender: 'initiator', section: '11.5' },
  'login-request': { code: 0x03, sender: 'initiator', section: '11.12' },
  'text-request': { code: 0x04, sender: 'initiator', section: '11.10' },
  'data-out': { code: 0x05, sender: 'initiator', section: '11.7' },
  'logout-request': { code: 0x06, sender: 'initiator', section: '11.14' },
  'snack-request': { code: 0x10, sender: 'initiator', section: '11.16' },
  // Target opcodes
  'nop-in': { code: 0x20, sender: 'target', section: '11.19' },
  'scsi-response': { code: 0x21, sender: 'target', section: '11.4' },
  'task-management-response': { code: 0x22, sender: 'target', section: '11.6' },
  'login-response': { code: 0x23, sender: 'target', section: '11.13' },
  'text-response': { code: 0x24, sender: 'target', section: '11.11' },
  'data-in': { code: 0x25, sender: 'target', section: '11.7' },
  'logout-response': { code: 0x26, sender: 'target', section: '11.15' },
  r2t: { code: 0x31, sender: 'target', section: '11.8' },
  'async-message': { code: 0x32, sender: 'target', section: '11.9' },
  reject: { code: 0x3f, sender: 'target', section: '11.17' },
} as const;

export type PduKind = keyof typeof OPCODES;
export type Sender = 'initiator' | 'target';

export const PDU_KINDS = Object.keys(OPCODES) as readonly PduKind[];

const KIND_BY_CODE: ReadonlyMap<number, PduKind> = new Map(
  PDU_KINDS.map((kind) => [OPCODES[kind].code, kind]),
);

/** The kind of PDU an opcode names, or undefined for reserved and vendor-specific codes. */
export function kindOfOpcode(code: number): PduKind | undefined {
  return KIND_BY_CODE.get(code);
}

/** The opcode of a kind of PDU. */
export function opcodeOf(kind: PduKind): number {
  return OPCODES[kind].code;
}

/** Who may send a kind of PDU: a target receiving a target opcode has met a protocol error. */
export function senderOf(kind: PduKind): Sender {
  return OPCODES[kind].sender;
}
