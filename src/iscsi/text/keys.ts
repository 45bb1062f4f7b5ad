// Every text key the target knows, as RFC 7143 §12 and §13 define it, one row per key. negotiate.ts
// reads this table and nothing else to decide how to answer a key.
//
//   type         how the value is written: a list of names, a number in [min, max], a boolean,
//                or free text (names, aliases, addresses)
//   result       how the outcome is computed (RFC 7143 §6.2): 'first-match' (the first value of the
//                offered list that the acceptor supports), 'and' / 'or' (booleans), 'min' / 'max'
//                (numbers), 'declare' (a declarative key: each side states its own value, no answer)
//   use          when it may be sent (RFC 7143 §13 "Use"): 'IO' login only, 'LO' leading connection's
//                login only, 'ALL' login and full feature phase, 'FFPO' full feature phase only,
//                'SEC' security negotiation stage only
//   senders      who may send it
//   scope        'session' (SW) or 'connection' (CO)
//   default      the value that holds when the key is never negotiated
//   discovery    false when RFC 7143 says the key is Irrelevant in a Discovery session

export type KeyType =
  | { readonly kind: 'list'; readonly values: readonly string[] }
  | { readonly kind: 'number'; readonly min: number; readonly max: number }
  | { readonly kind: 'boolean' }
  | { readonly kind: 'text' };

export type ResultFunction = 'first-match' | 'and' | 'or' | 'min' | 'max' | 'declare';
export type KeyUse = 'IO' | 'LO' | 'ALL' | 'FFPO' | 'SEC';

export interface KeyDefinition {
  readonly type: KeyType;
  readonly result: ResultFunction;
  readonly use: KeyUse;
  readonly senders: 'initiator' | 'target' | 'both';
  readonly scope: 'session' | 'connection';
  readonly default?: string | number | boolean;
  readonly discovery?: false;
  /** Keys RFC 7143 §13.25 obsoletes: answered with a fixed value, never NotUnderstood. */
  readonly obsolete?: 'No' | 'Reject';
  /** Keys answered by another layer (CHAP by authentication, SendTargets by discovery). */
  readonly deferred?: true;
  readonly section: string;
}

const range = <Min extends number, Max extends number>(
  min: Min,
  max: Max,
): { kind: 'number'; min: Min; max: Max } => ({
  kind: 'number',
  min,
  max,
});
const dataLength = range(512, 2 ** 24 - 1);
const digest = { kind: 'list', values: ['CRC32C', 'None'] } as const;
const authMethods = { kind: 'list', values: ['KRB5', 'SPKM1', 'SPKM2', 'SRP', 'CHAP', 'None'] } as const;
const sessionTypes = { kind: 'list', values: ['Discovery', 'Normal'] } as const;
const taskReporting = { kind: 'list', values: ['RFC3720', 'ResponseFence', 'FastAbort'] } as const;
const text = { kind: 'text' } as const;
const boolean = { kind: 'boolean' } as const;

// prettier-ignore
export const KEYS = {
  // RFC 7143 §12: security
  AuthMethod:               { type: authMethods, result: 'first-match', use: 'SEC', senders: 'both', scope: 'connection', default: 'None', section: '12.1' },
  CHAP_A:                   { type: text, result: 'declare', use: 'SEC', senders: 'both', scope: 'connection', deferred: true, section: '12.1.3' },
  CHAP_I:                   { type: text, result: 'declare', use: 'SEC', senders: 'both', scope: 'connection', deferred: true, section: '12.1.3' },
  CHAP_C:                   { type: text, result: 'declare', use: 'SEC', senders: 'both', scope: 'connection', deferred: true, section: '12.1.3' },
  CHAP_N:                   { type: text, result: 'declare', use: 'SEC', senders: 'both', scope: 'connection', deferred: true, section: '12.1.3' },
  CHAP_R:                   { type: text, result: 'declare', use: 'SEC', senders: 'both', scope: 'connection', deferred: true, section: '12.1.3' },
  // RFC 7143 §13: operational
  HeaderDigest:             { type: digest, result: 'first-match', use: 'IO', senders: 'both', scope: 'connection', default: 'None', section: '13.1' },
  DataDigest:               { type: digest, result: 'first-match', use: 'IO', senders: 'both', scope: 'connection', default: 'None', section: '13.1' },
  MaxConnections:           { type: range(1, 65535), result: 'min', use: 'LO', senders: 'both', scope: 'session', default: 1, discovery: false, section: '13.2' },
  SendTargets:              { type: text, result: 'declare', use: 'FFPO', senders: 'initiator', scope: 'session', deferred: true, section: '13.3' },
  TargetName:               { type: text, result: 'declare', use: 'IO', senders: 'initiator', scope: 'session', section: '13.4' },
  InitiatorName:            { type: text, result: 'declare', use: 'IO', senders: 'initiator', scope: 'session', section: '13.5' },
  TargetAlias:              { type: text, result: 'declare', use: 'ALL', senders: 'target', scope: 'session', section: '13.6' },
  InitiatorAlias:           { type: text, result: 'declare', use: 'ALL', senders: 'initiator', scope: 'session', section: '13.7' },
  TargetAddress:            { type: text, result: 'declare', use: 'ALL', senders: 'target', scope: 'session', section: '13.8' },
  TargetPortalGroupTag:     { type: range(0, 65535), result: 'declare', use: 'IO', senders: 'target', scope: 'session', section: '13.9' },
  InitialR2T:               { type: boolean, result: 'or', use: 'LO', senders: 'both', scope: 'session', default: true, discovery: false, section: '13.10' },
  ImmediateData:            { type: boolean, result: 'and', use: 'LO', senders: 'both', scope: 'session', default: true, discovery: false, section: '13.11' },
  MaxRecvDataSegmentLength: { type: dataLength, result: 'declare', use: 'ALL', senders: 'both', scope: 'connection', default: 8192, section: '13.12' },
  MaxBurstLength:           { type: dataLength, result: 'min', use: 'LO', senders: 'both', scope: 'session', default: 262144, discovery: false, section: '13.13' },
  // Also Irrelevant when InitialR2T=Yes and ImmediateData=No; never above MaxBurstLength.
  FirstBurstLength:         { type: dataLength, result: 'min', use: 'LO', senders: 'both', scope: 'session', default: 65536, discovery: false, section: '13.14' },
  DefaultTime2Wait:         { type: range(0, 3600), result: 'max', use: 'LO', senders: 'both', scope: 'session', default: 2, section: '13.15' },
  DefaultTime2Retain:       { type: range(0, 3600), result: 'min', use: 'LO', senders: 'both', scope: 'session', default: 20, section: '13.16' },
  MaxOutstandingR2T:        { type: range(1, 65535), result: 'min', use: 'LO', senders: 'both', scope: 'session', default: 1, discovery: false, section: '13.17' },
  DataPDUInOrder:           { type: boolean, result: 'or', use: 'LO', senders: 'both', scope: 'session', default: true, discovery: false, section: '13.18' },
  DataSequenceInOrder:      { type: boolean, result: 'or', use: 'LO', senders: 'both', scope: 'session', default: true, discovery: false, section: '13.19' },
  ErrorRecoveryLevel:       { type: range(0, 2), result: 'min', use: 'LO', senders: 'both', scope: 'session', default: 0, section: '13.20' },
  SessionType:              { type: sessionTypes, result: 'declare', use: 'LO', senders: 'initiator', scope: 'session', default: 'Normal', section: '13.21' },
  TaskReporting:            { type: taskReporting, result: 'first-match', use: 'LO', senders: 'both', scope: 'session', default: 'RFC3720', discovery: false, section: '13.23' },
  iSCSIProtocolLevel:       { type: range(0, 31), result: 'min', use: 'LO', senders: 'both', scope: 'session', default: 1, section: '13.24' },
  'X#NodeArchitecture':     { type: text, result: 'declare', use: 'LO', senders: 'both', scope: 'session', section: '13.26' },
  // RFC 7143 §13.25: markers are gone. IFMarker/OFMarker SHOULD get Reject and MAY get No; we say
  // No, which RFC 3720 initiators also understand. IFMarkInt/OFMarkInt MUST get Reject.
  IFMarker:                 { type: boolean, result: 'and', use: 'IO', senders: 'both', scope: 'connection', default: false, obsolete: 'No', section: '13.25' },
  OFMarker:                 { type: boolean, result: 'and', use: 'IO', senders: 'both', scope: 'connection', default: false, obsolete: 'No', section: '13.25' },
  IFMarkInt:                { type: text, result: 'declare', use: 'IO', senders: 'both', scope: 'connection', obsolete: 'Reject', section: '13.25' },
  OFMarkInt:                { type: text, result: 'declare', use: 'IO', senders: 'both', scope: 'connection', obsolete: 'Reject', section: '13.25' },
  // RFC 7145 §6.3 (iSER): Tandem speaks TCP only, so the AND with our No is always No.
  RDMAExtensions:           { type: boolean, result: 'and', use: 'LO', senders: 'both', scope: 'session', default: false, section: 'RFC 7145 §6.3' },
} as const satisfies Record<string, KeyDefinition>;

export type KeyName = keyof typeof KEYS;

/** The definition of a key, or undefined for a key Tandem does not understand. */
export function keyDefinition(key: string): KeyDefinition | undefined {
  return Object.hasOwn(KEYS, key) ? KEYS[key as KeyName] : undefined;
}
