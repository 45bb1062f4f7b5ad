// The receiving side of the data path: applies the peer's writes, discards, flushes and resync data
// to the local disk and answers verify requests. Every request gets exactly one answer; a local
// failure is an `ack` with its status, never an exception into the channel.
import { createHash } from 'node:crypto';
import { BlockIoError, type BlockDevice } from '../storage/block-device.js';
import type { AckStatus, ReplMessage } from './wire/index.js';

export interface SecondaryPolicy {
  /** Whether peer writes are taken now (a primary never takes them). */
  readonly acceptWrites: () => boolean;
}

export async function serveSecondary(
  message: ReplMessage,
  respond: (reply: ReplMessage) => void,
  local: BlockDevice,
  policy: SecondaryPolicy,
): Promise<void> {
  try {
    switch (message.type) {
      case 'write':
      case 'resync-data': {
        if (!policy.acceptWrites())
          return respond(ack('refused', 'this node is primary: it takes no peer writes'));
        const offset = safeOffset(message.offset, message.data.length, local.size);
        await local.write(offset, message.data, { fua: message.type === 'write' && message.fua });
        return respond(ack('ok'));
      }
      case 'discard': {
        if (!policy.acceptWrites())
          return respond(ack('refused', 'this node is primary: it takes no peer writes'));
        await local.discard(safeOffset(message.offset, message.length, local.size), message.length);
        return respond(ack('ok'));
      }
      case 'flush':
        await local.flush();
        return respond(ack('ok'));
      case 'verify-request': {
        const offset = safeOffset(message.offset, message.length, local.size);
        const data = await local.read(offset, message.length);
        const digest = createHash('sha256').update(data).digest();
        return respond({ type: 'verify-reply', offset: message.offset, length: message.length, digest });
      }
      default:
        return respond(ack('refused', `unexpected ${message.type}`));
    }
  } catch (error) {
    if (error instanceof BlockIoError)
      return respond(ack(error.kind === 'no-space' ? 'no-space' : 'io-error', error.message));
    return respond(ack('refused', error instanceof Error ? error.message : String(error)));
  }
}

function ack(status: AckStatus, message = ''): ReplMessage {
  return { type: 'ack', status, message };
}

/** A peer's range as a safe number inside the device; anything else is refused, never applied. */
function safeOffset(offset: bigint, length: number, size: number): number {
  if (offset < 0n || offset + BigInt(length) > BigInt(size)) {
    throw new RangeError(`range ${offset}+${length} is outside the volume (size ${size})`);
  }
  return Number(offset);
}
