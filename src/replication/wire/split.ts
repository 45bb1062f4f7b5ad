// A write larger than one message can carry (the target may advertise more than the wire's block)
// goes to the peer as consecutive pieces; the write completes when every piece has been acknowledged.
import { MAX_DATA_LENGTH } from './header.js';

export interface WirePiece {
  readonly offset: number;
  readonly data: Buffer;
}

/** `data` at `offset` as pieces of at most `limit` bytes, in order, sharing its memory. Pure. */
export function splitForWire(offset: number, data: Buffer, limit = MAX_DATA_LENGTH): WirePiece[] {
  if (data.length <= limit) return [{ offset, data }];
  const pieces: WirePiece[] = [];
  for (let start = 0; start < data.length; start += limit) {
    pieces.push({ offset: offset + start, data: data.subarray(start, Math.min(start + limit, data.length)) });
  }
  return pieces;
}
