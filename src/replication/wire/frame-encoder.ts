// Turns a message into the buffers of one frame: the header and fixed fields share one small
// buffer; a data block (write, resync-data, bitmap-chunk) follows as its own part, never copied.
import { WireEncodeError } from './encode-error.js';
import { FieldWriter } from './field-writer.js';
import { MAX_FRAME_ID, MAX_PAYLOAD_LENGTH, writeHeader } from './header.js';
import { MESSAGE_CODES, type ReplMessage } from './messages.js';
import { writePayload } from './payload-codecs.js';

/**
 * The parts of one frame, to be written in order. `id` numbers a request (0 for a one-way
 * message); a reply carries its request's id and `isReply`. Throws WireEncodeError when a field
 * does not fit the wire (a bug in the caller, never peer input).
 */
export function encodeFrame(message: ReplMessage, id: number, isReply: boolean): Buffer[] {
  if (!Number.isInteger(id) || id < 0 || id > MAX_FRAME_ID) {
    throw new WireEncodeError(`frame id ${id} is not a u32`);
  }
  const writer = new FieldWriter();
  const data = writePayload(writer, message);
  const dataLength = data?.length ?? 0;
  const payloadLength = writer.fieldLength + dataLength;
  if (payloadLength > MAX_PAYLOAD_LENGTH) {
    throw new WireEncodeError(
      `${message.type} payload of ${payloadLength} bytes exceeds the maximum of ${MAX_PAYLOAD_LENGTH}`,
    );
  }
  const head = writer.finish();
  writeHeader(head, { typeCode: MESSAGE_CODES[message.type], isReply, id, payloadLength });
  return data === undefined || dataLength === 0 ? [head] : [head, data];
}

/** The byte length of a frame's parts. */
export function frameLength(parts: readonly Buffer[]): number {
  let total = 0;
  for (const part of parts) total += part.length;
  return total;
}
