// Decides how a run transfers: only what changed since the base snapshot (the one the destination last
// received in full), or the whole tree. Anything unusual falls back to the whole tree, which is always
// correct; the incremental list only ever saves time.
import { messageOf } from '../../lib/errors.js';
import { btrfsSendMetadata } from './btrfs-send.js';
import { changeListOf } from './change-list.js';
import { parseSendStream } from './send-stream.js';
import { transferList } from './transfer-list.js';

export type TransferPlan =
  | { readonly kind: 'incremental'; readonly paths: readonly string[] }
  | { readonly kind: 'full'; readonly reason: string };

export interface IncrementalInput {
  /** The base snapshot's root (read-only btrfs subvolume) and the new one's, of the same volume. */
  readonly baseSnapshot: string;
  readonly newSnapshot: string;
  /** The share's directory relative to the volume root ('' for the root). */
  readonly shareRelative: string;
  /**
   * Entries in the share at the last whole-tree run, if known: a list longer than half of that costs
   * rsync more than the whole tree does (it stats each listed path on both ends, one by one).
   */
  readonly treeEntries?: number | null;
}

export async function planIncremental(
  input: IncrementalInput,
  send: typeof btrfsSendMetadata = btrfsSendMetadata,
): Promise<TransferPlan> {
  try {
    const stream = await send(input.baseSnapshot, input.newSnapshot);
    const { commands } = parseSendStream(stream);
    const paths = await transferList(
      changeListOf(commands),
      input.newSnapshot,
      input.shareRelative,
      input.baseSnapshot,
    );
    const limit = input.treeEntries;
    if (limit !== undefined && limit !== null && limit > 0 && paths.length > limit / 2) {
      return { kind: 'full', reason: `${paths.length} of ${limit} entries changed` };
    }
    return { kind: 'incremental', paths };
  } catch (error) {
    return { kind: 'full', reason: messageOf(error) };
  }
}
