// Reader for the btrfs send stream (the output of `btrfs send`), as far as a change list needs it: the
// command of each record and its path attributes. The format (btrfs-progs' send-stream documentation):
//
//   stream header  "btrfs-stream\0" (13 bytes), le32 version
//   command        le32 payload length, le16 command, le32 crc32c of header (crc zeroed) + payload
//   attribute      le16 type, le16 length, value (v2+: a DATA attribute has no length and runs to the
//                  end of its command)
//
// Every record's checksum is verified: a change list built from a damaged stream could miss a change,
// and a missed change is a file the backup silently lacks.
import { crc32c } from '../../lib/crc32c.js';

export const SEND_COMMANDS = {
  subvol: 1,
  snapshot: 2,
  mkfile: 3,
  mkdir: 4,
  mknod: 5,
  mkfifo: 6,
  mksock: 7,
  symlink: 8,
  rename: 9,
  link: 10,
  unlink: 11,
  rmdir: 12,
  setXattr: 13,
  removeXattr: 14,
  write: 15,
  clone: 16,
  truncate: 17,
  chmod: 18,
  chown: 19,
  utimes: 20,
  end: 21,
  updateExtent: 22,
  fallocate: 23,
  fileattr: 24,
  encodedWrite: 25,
  enableVerity: 26,
} as const;

export type SendCommandName = keyof typeof SEND_COMMANDS;

const NAME_OF = new Map<number, SendCommandName>(
  Object.entries(SEND_COMMANDS).map(([name, code]) => [code, name as SendCommandName]),
);

const ATTR_PATH = 15;
const ATTR_PATH_TO = 16;
const ATTR_PATH_LINK = 17;
const ATTR_DATA = 19;

const MAGIC = Buffer.from('btrfs-stream\0', 'latin1');
const STREAM_HEADER = MAGIC.length + 4;
const COMMAND_HEADER = 10;

export interface SendCommand {
  readonly command: SendCommandName;
  /** The path the command acts on, relative to the subvolume's root ('' is the root itself). */
  readonly path?: string;
  /** rename: the new name. */
  readonly pathTo?: string;
  /** link: the existing name the new one points at; symlink: the link's target text. */
  readonly pathLink?: string;
}

export class SendStreamError extends Error {}

export interface ParsedSendStream {
  readonly version: number;
  readonly commands: SendCommand[];
}

/** Parses a whole stream; throws SendStreamError on anything it cannot vouch for. */
export function parseSendStream(stream: Buffer): ParsedSendStream {
  if (stream.length < STREAM_HEADER || !stream.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new SendStreamError('not a btrfs send stream (bad magic)');
  }
  const version = stream.readUInt32LE(MAGIC.length);
  if (version < 1 || version > 3) throw new SendStreamError(`unsupported send stream version ${version}`);
  const commands: SendCommand[] = [];
  let at = STREAM_HEADER;
  let ended = false;
  while (at < stream.length) {
    if (ended) throw new SendStreamError('data after the end command');
    if (stream.length - at < COMMAND_HEADER) throw new SendStreamError('truncated command header');
    const length = stream.readUInt32LE(at);
    const code = stream.readUInt16LE(at + 4);
    const crc = stream.readUInt32LE(at + 6);
    const end = at + COMMAND_HEADER + length;
    if (end > stream.length) throw new SendStreamError('truncated command');
    if (commandCrc(stream, at, end) !== crc) throw new SendStreamError(`checksum mismatch at byte ${at}`);
    const name = NAME_OF.get(code);
    if (name === undefined) throw new SendStreamError(`unknown send command ${code}`);
    commands.push(readAttributes(name, stream.subarray(at + COMMAND_HEADER, end), version));
    if (name === 'end') ended = true;
    at = end;
  }
  if (!ended) throw new SendStreamError('the stream has no end command');
  return { version, commands };
}

/** btrfs's crc32c: seed 0, no final inversion, over the header with its crc field zeroed. */
function commandCrc(stream: Buffer, start: number, end: number): number {
  const header = Buffer.from(stream.subarray(start, start + COMMAND_HEADER));
  header.writeUInt32LE(0, 6);
  const standard = crc32c(stream.subarray(start + COMMAND_HEADER, end), crc32c(header, 0xffffffff));
  return ~standard >>> 0;
}

function readAttributes(command: SendCommandName, payload: Buffer, version: number): SendCommand {
  let path: string | undefined;
  let pathTo: string | undefined;
  let pathLink: string | undefined;
  let at = 0;
  while (at < payload.length) {
    if (payload.length - at < 2) throw new SendStreamError(`truncated attribute in ${command}`);
    const type = payload.readUInt16LE(at);
    // From version 2, DATA carries no length: it is the rest of the command.
    if (type === ATTR_DATA && version >= 2) break;
    if (payload.length - at < 4) throw new SendStreamError(`truncated attribute in ${command}`);
    const length = payload.readUInt16LE(at + 2);
    const valueEnd = at + 4 + length;
    if (valueEnd > payload.length) throw new SendStreamError(`attribute overruns ${command}`);
    const value = (): string => payload.toString('utf8', at + 4, valueEnd);
    if (type === ATTR_PATH) path = rawPath(payload, at + 4, valueEnd, command);
    else if (type === ATTR_PATH_TO) pathTo = rawPath(payload, at + 4, valueEnd, command);
    else if (type === ATTR_PATH_LINK) pathLink = value();
    at = valueEnd;
  }
  return {
    command,
    ...(path === undefined ? {} : { path }),
    ...(pathTo === undefined ? {} : { pathTo }),
    ...(pathLink === undefined ? {} : { pathLink }),
  };
}

/**
 * A path as a string. Linux names are bytes; a name that is not valid UTF-8 would not survive the round
 * trip into rsync's list, so such a stream is refused (the caller then copies the whole tree).
 */
function rawPath(payload: Buffer, start: number, end: number, command: SendCommandName): string {
  const bytes = payload.subarray(start, end);
  const text = bytes.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(bytes)) {
    throw new SendStreamError(`${command}: a path that is not UTF-8`);
  }
  if (text.includes('\0')) throw new SendStreamError(`${command}: a path with a NUL byte`);
  return text;
}
