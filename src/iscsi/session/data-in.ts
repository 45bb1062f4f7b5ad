// Splitting a command's Data-In into PDUs (RFC 7143 §11.7.2, §13.12, §13.13). Pure.
// Each PDU carries at most the initiator's MaxRecvDataSegmentLength; a sequence (ended by the F bit)
// carries at most MaxBurstLength; DataSN counts PDUs of the task from 0.

export interface DataInPiece {
  readonly offset: number;
  readonly length: number;
  readonly dataSN: number;
  /** F bit: the last PDU of a sequence (and of the transfer). */
  readonly final: boolean;
  /** The last PDU of the whole transfer (may carry the status). */
  readonly last: boolean;
}

export function splitDataIn(total: number, maxSegment: number, maxBurst: number): DataInPiece[] {
  const pieces: DataInPiece[] = [];
  let offset = 0;
  let dataSN = 0;
  let inBurst = 0;
  while (offset < total) {
    const length = Math.min(maxSegment, total - offset, maxBurst - inBurst);
    offset += length;
    inBurst += length;
    const last = offset >= total;
    const final = last || inBurst >= maxBurst;
    if (final) inBurst = 0;
    pieces.push({ offset: offset - length, length, dataSN, final, last });
    dataSN += 1;
  }
  return pieces;
}

/** Residual flags and count for a transfer of `actual` bytes where the initiator expected `expected`
 * (RFC 7143 §11.4.5): overflow when the command had more to move than expected. */
export function residual(
  expected: number,
  actual: number,
): { overflow: boolean; underflow: boolean; count: number } {
  if (actual > expected) return { overflow: true, underflow: false, count: actual - expected };
  if (actual < expected) return { overflow: false, underflow: true, count: expected - actual };
  return { overflow: false, underflow: false, count: 0 };
}
