// Collecting the Data-Out of one write command (RFC 7143 §10.7, §11.7.1, §11.8): immediate data,
// unsolicited Data-Out up to FirstBurstLength, then R2Ts of at most MaxBurstLength with at most
// MaxOutstandingR2T in flight. Pure: the session feeds it PDUs and sends the R2Ts it asks for.
//
// Invariants: bytes land at their buffer offset and never outside [0, expected); every solicited
// burst is covered by exactly one R2T; the transfer is complete when every byte has arrived.

export interface WriteParams {
  readonly immediateData: boolean;
  readonly initialR2T: boolean;
  readonly firstBurstLength: number;
  readonly maxBurstLength: number;
  readonly maxOutstandingR2T: number;
}

export interface R2tRequest {
  readonly targetTransferTag: number;
  readonly r2tSN: number;
  readonly bufferOffset: number;
  readonly desiredLength: number;
}

interface Burst {
  readonly ttt: number;
  readonly offset: number;
  readonly length: number;
  received: number;
  /** DataSN the next Data-Out of this burst must carry (each sequence counts from 0). */
  nextDataSN: number;
}

export type CollectError =
  | 'immediate-data-not-allowed'
  | 'too-much-immediate-data'
  | 'unsolicited-data-not-allowed'
  | 'unknown-transfer-tag'
  | 'offset-out-of-range'
  /** DataSN out of sequence, or data out of order (DataPDUInOrder=Yes): fatal at ERL 0. */
  | 'sequence-error';

export class WriteCollector {
  /** Allocated (zeroed) on first use, unless the immediate data is the whole transfer. */
  #buffer: Buffer | undefined;
  private receivedBytes = 0;
  private readonly unsolicitedLimit: number;
  private unsolicitedReceived = 0;
  private unsolicitedDataSN = 0;
  private nextOffset: number;
  private r2tSN = 0;
  private readonly bursts = new Map<number, Burst>();

  constructor(
    readonly expected: number,
    private readonly params: WriteParams,
    private readonly newTag: () => number,
  ) {
    this.unsolicitedLimit = params.initialR2T ? 0 : Math.min(params.firstBurstLength, expected);
    // Solicited data starts after what may come unsolicited (immediate data counts toward it).
    this.nextOffset =
      params.immediateData || !params.initialR2T ? Math.min(params.firstBurstLength, expected) : 0;
  }

  /** The data of the whole transfer (complete once `complete` is true). */
  get buffer(): Buffer {
    return (this.#buffer ??= Buffer.alloc(this.expected));
  }

  get complete(): boolean {
    return this.receivedBytes >= this.expected;
  }

  /** Immediate data of the command PDU. */
  immediate(data: Buffer): CollectError | undefined {
    if (data.length === 0) {
      if (this.params.initialR2T) this.nextOffset = 0;
      return undefined;
    }
    if (!this.params.immediateData) return 'immediate-data-not-allowed';
    if (data.length > Math.min(this.params.firstBurstLength, this.expected)) return 'too-much-immediate-data';
    // The usual small write: its immediate data is all of it, so the PDU's data (a view of a socket
    // chunk, never reused) is the buffer; no allocation, no copy.
    if (data.length === this.expected && this.#buffer === undefined) this.#buffer = data;
    else data.copy(this.buffer, 0);
    this.receivedBytes += data.length;
    this.unsolicitedReceived += data.length;
    // With InitialR2T=Yes only the immediate data is unsolicited: R2Ts cover the rest.
    if (this.params.initialR2T) this.nextOffset = data.length;
    return undefined;
  }

  /** One Data-Out PDU. `ttt` is 0xffffffff for unsolicited data. */
  dataOut(ttt: number, bufferOffset: number, data: Buffer, dataSN: number): CollectError | undefined {
    if (bufferOffset + data.length > this.expected) return 'offset-out-of-range';
    if (ttt === 0xffffffff) {
      if (this.unsolicitedLimit === 0 || bufferOffset + data.length > this.unsolicitedLimit) {
        return 'unsolicited-data-not-allowed';
      }
      // RFC 7143 §11.7.4: unsolicited data is one sequence counting from 0, in order after immediate data.
      if (dataSN !== this.unsolicitedDataSN || bufferOffset !== this.unsolicitedReceived)
        return 'sequence-error';
      this.unsolicitedDataSN += 1;
      this.unsolicitedReceived += data.length;
    } else {
      const burst = this.bursts.get(ttt);
      if (!burst) return 'unknown-transfer-tag';
      if (bufferOffset < burst.offset || bufferOffset + data.length > burst.offset + burst.length) {
        return 'offset-out-of-range';
      }
      if (dataSN !== burst.nextDataSN || bufferOffset !== burst.offset + burst.received)
        return 'sequence-error';
      burst.nextDataSN += 1;
      burst.received += data.length;
      if (burst.received >= burst.length) this.bursts.delete(ttt);
    }
    data.copy(this.buffer, bufferOffset);
    this.receivedBytes += data.length;
    return undefined;
  }

  /** R2Ts to send now, keeping at most MaxOutstandingR2T in flight. */
  r2ts(): R2tRequest[] {
    const out: R2tRequest[] = [];
    while (this.nextOffset < this.expected && this.bursts.size < this.params.maxOutstandingR2T) {
      const length = Math.min(this.params.maxBurstLength, this.expected - this.nextOffset);
      const ttt = this.newTag();
      this.bursts.set(ttt, { ttt, offset: this.nextOffset, length, received: 0, nextDataSN: 0 });
      out.push({
        targetTransferTag: ttt,
        r2tSN: this.r2tSN,
        bufferOffset: this.nextOffset,
        desiredLength: length,
      });
      this.r2tSN += 1;
      this.nextOffset += length;
    }
    return out;
  }

  /** R2Ts sent so far (for the ExpDataSN of the SCSI Response). */
  get r2tCount(): number {
    return this.r2tSN;
  }

  /** Whether a transfer tag belongs to this command. */
  owns(ttt: number): boolean {
    return this.bursts.has(ttt);
  }
}
