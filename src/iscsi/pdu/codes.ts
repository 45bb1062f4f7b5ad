// Values of the coded fields inside PDUs, named as RFC 7143 names them. The codec carries these
// fields as plain numbers; these tables are what the session layer compares them against.

/** SCSI Command ATTR field: the task attribute (RFC 7143 §11.3.1.2). */
export const TASK_ATTRIBUTE = {
  untagged: 0,
  simple: 1,
  ordered: 2,
  headOfQueue: 3,
  aca: 4,
} as const;

/** SCSI Response `response` field (RFC 7143 §11.4.3). */
export const SCSI_RESPONSE = {
  commandCompleted: 0x00,
  targetFailure: 0x01,
} as const;

/** Task Management Function Request `function` field (RFC 7143 §11.5.1). */
export const TMF_FUNCTION = {
  abortTask: 1,
  abortTaskSet: 2,
  clearAca: 3,
  clearTaskSet: 4,
  logicalUnitReset: 5,
  targetWarmReset: 6,
  targetColdReset: 7,
  taskReassign: 8,
} as const;

/** Task Management Function Response `response` field (RFC 7143 §11.6.1). */
export const TMF_RESPONSE = {
  functionComplete: 0,
  taskDoesNotExist: 1,
  lunDoesNotExist: 2,
  taskStillAllegiant: 3,
  taskAllegianceReassignmentNotSupported: 4,
  taskManagementFunctionNotSupported: 5,
  functionAuthorizationFailed: 6,
  functionRejected: 255,
} as const;

/** Login stages, the CSG and NSG fields (RFC 7143 §11.12.3). Code 2 is reserved. */
export const LOGIN_STAGE = {
  securityNegotiation: 0,
  loginOperationalNegotiation: 1,
  fullFeaturePhase: 3,
} as const;

/** The only iSCSI version there is: Version-max and Version-min are 0x00 (RFC 7143 §11.12.4). */
export const ISCSI_VERSION = 0x00;

/** Login Response Status-Class (RFC 7143 §11.13.5). */
export const LOGIN_STATUS_CLASS = {
  success: 0,
  redirection: 1,
  initiatorError: 2,
  targetError: 3,
} as const;

/**
 * Login Response status as (Status-Class << 8) | Status-Detail, the way RFC 7143 §11.13.5 tabulates
 * it: 0x0201 is class 2 (initiator error), detail 1 (authentication failure).
 */
export const LOGIN_STATUS = {
  success: 0x0000,
  targetMovedTemporarily: 0x0101,
  targetMovedPermanently: 0x0102,
  initiatorError: 0x0200,
  authenticationFailure: 0x0201,
  authorizationFailure: 0x0202,
  notFound: 0x0203,
  targetRemoved: 0x0204,
  unsupportedVersion: 0x0205,
  tooManyConnections: 0x0206,
  missingParameter: 0x0207,
  cantIncludeInSession: 0x0208,
  sessionTypeNotSupported: 0x0209,
  sessionDoesNotExist: 0x020a,
  invalidDuringLogin: 0x020b,
  targetError: 0x0300,
  serviceUnavailable: 0x0301,
  outOfResources: 0x0302,
} as const;

/** Logout Request `reasonCode` (RFC 7143 §11.14.1). */
export const LOGOUT_REASON = {
  closeSession: 0,
  closeConnection: 1,
  removeConnectionForRecovery: 2,
} as const;

/** Logout Response `response` (RFC 7143 §11.15.1). */
export const LOGOUT_RESPONSE = {
  closedSuccessfully: 0,
  cidNotFound: 1,
  connectionRecoveryNotSupported: 2,
  cleanupFailed: 3,
} as const;

/** SNACK Request `type` (RFC 7143 §11.16.1). */
export const SNACK_TYPE = {
  dataR2T: 0,
  status: 1,
  dataAck: 2,
  rDataSnack: 3,
} as const;

/** Asynchronous Message `asyncEvent` (RFC 7143 §11.9.1). */
export const ASYNC_EVENT = {
  scsiAsyncEvent: 0,
  logoutRequest: 1,
  connectionDrop: 2,
  sessionDrop: 3,
  negotiationRequest: 4,
  taskTerminationRequest: 5,
  vendorSpecific: 255,
} as const;

/** Reject `reason` (RFC 7143 §11.17.1). 0x01 is reserved; 0x0b (negotiation reset) is deprecated. */
export const REJECT_REASON = {
  dataDigestError: 0x02,
  snackReject: 0x03,
  protocolError: 0x04,
  commandNotSupported: 0x05,
  immediateCommandReject: 0x06,
  taskInProgress: 0x07,
  invalidDataAck: 0x08,
  invalidPduField: 0x09,
  longOperationReject: 0x0a,
  waitingForLogout: 0x0c,
} as const;

/** The reserved tag value: "no task" in ITT and TTT fields (RFC 7143 §11.2.1.8). */
export const RESERVED_TAG = 0xffffffff;
