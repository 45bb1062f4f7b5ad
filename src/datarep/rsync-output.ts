// Reads what `rsync --info=progress2,stats2` prints (rsync 3.2+, LC_ALL=C): the live progress2 lines,
// which rsync ends with \r while a file is in flight and \n when one finishes, and the stats block at the
// end. Pure: text in, values out; the runner feeds it the child's stdout chunk by chunk.

export interface RsyncProgress {
  readonly bytes: number;
  readonly percent: number;
  readonly bytesPerSecond: number;
  /** rsync's own time column: remaining time while a file is in flight. */
  readonly etaSeconds: number;
  /** Present on lines that end a file: files sent so far, and the file list's to-check counter. */
  readonly filesTransferred: number | null;
  readonly filesToCheck: number | null;
  readonly filesTotal: number | null;
}

export interface RsyncStats {
  readonly files: number | null;
  readonly createdFiles: number | null;
  readonly deletedFiles: number | null;
  readonly transferredFiles: number | null;
  readonly totalFileBytes: number | null;
  readonly transferredFileBytes: number | null;
  readonly literalBytes: number | null;
  readonly matchedBytes: number | null;
  readonly bytesSent: number | null;
  readonly bytesReceived: number | null;
  readonly speedup: number | null;
}

const RATE_UNITS: Readonly<Record<string, number>> = {
  kB: 1024,
  MB: 1024 ** 2,
  GB: 1024 ** 3,
  TB: 1024 ** 4,
};

const PROGRESS_LINE =
  /^\s*([\d,]+)\s+(\d{1,3})%\s+([\d.]+)(kB|MB|GB|TB)\/s\s+(\d+):(\d{2}):(\d{2})(?:\s+\(xfr#(\d+),\s+(?:to|ir)-chk=(\d+)\/(\d+)\))?\s*$/;

const count = (text: string): number => Number(text.replace(/,/g, ''));

/** One progress2 line, or null when the line is something else. */
export function parseProgressLine(line: string): RsyncProgress | null {
  const m = PROGRESS_LINE.exec(line);
  if (!m) return null;
  const [
    ,
    bytes = '0',
    percent = '0',
    rate = '0',
    unit = 'kB',
    h = '0',
    min = '0',
    s = '0',
    xfr,
    toChk,
    total,
  ] = m;
  return {
    bytes: count(bytes),
    percent: Number(percent),
    bytesPerSecond: Math.round(Number(rate) * (RATE_UNITS[unit] ?? 1024)),
    etaSeconds: Number(h) * 3600 + Number(min) * 60 + Number(s),
    filesTransferred: xfr === undefined ? null : Number(xfr),
    filesToCheck: toChk === undefined ? null : Number(toChk),
    filesTotal: total === undefined ? null : Number(total),
  };
}

const STAT_FIELDS: readonly [RegExp, keyof RsyncStats][] = [
  [/^Number of files: ([\d,]+)/, 'files'],
  [/^Number of created files: ([\d,]+)/, 'createdFiles'],
  [/^Number of deleted files: ([\d,]+)/, 'deletedFiles'],
  [/^Number of regular files transferred: ([\d,]+)/, 'transferredFiles'],
  [/^Total file size: ([\d,]+) bytes/, 'totalFileBytes'],
  [/^Total transferred file size: ([\d,]+) bytes/, 'transferredFileBytes'],
  [/^Literal data: ([\d,]+) bytes/, 'literalBytes'],
  [/^Matched data: ([\d,]+) bytes/, 'matchedBytes'],
  [/^Total bytes sent: ([\d,]+)/, 'bytesSent'],
  [/^Total bytes received: ([\d,]+)/, 'bytesReceived'],
];

const SPEEDUP = /speedup is ([\d,.]+)/;

export const EMPTY_STATS: RsyncStats = {
  files: null,
  createdFiles: null,
  deletedFiles: null,
  transferredFiles: null,
  totalFileBytes: null,
  transferredFileBytes: null,
  literalBytes: null,
  matchedBytes: null,
  bytesSent: null,
  bytesReceived: null,
  speedup: null,
};

/** Stats from whole lines (the end of the output); fields rsync did not print stay null. */
export function parseStatsLines(lines: readonly string[]): RsyncStats {
  const stats: Record<keyof RsyncStats, number | null> = { ...EMPTY_STATS };
  for (const line of lines) {
    const text = line.trim();
    for (const [pattern, field] of STAT_FIELDS) {
      const m = pattern.exec(text);
      if (m?.[1] !== undefined) stats[field] = count(m[1]);
    }
    const speedup = SPEEDUP.exec(text);
    if (speedup?.[1] !== undefined) stats.speedup = Number(speedup[1].replace(/,/g, ''));
  }
  return stats;
}

/** Incremental reader of rsync's stdout: progress as it comes, the stats once the output is complete. */
export class RsyncOutputReader {
  private pending = '';
  private readonly otherLines: string[] = [];
  private latest: RsyncProgress | null = null;

  /** Feeds a chunk; returns the progress lines completed by it, in order. */
  push(chunk: string): RsyncProgress[] {
    this.pending += chunk;
    const parts = this.pending.split(/[\r\n]/);
    this.pending = parts.pop() ?? '';
    return this.take(parts);
  }

  /** Ends the input (the last line may lack its terminator). */
  end(): RsyncProgress[] {
    const rest = this.pending;
    this.pending = '';
    return rest === '' ? [] : this.take([rest]);
  }

  progress(): RsyncProgress | null {
    return this.latest;
  }

  stats(): RsyncStats {
    return parseStatsLines(this.otherLines);
  }

  private take(lines: readonly string[]): RsyncProgress[] {
    const found: RsyncProgress[] = [];
    for (const line of lines) {
      if (line.trim() === '') continue;
      const progress = parseProgressLine(line);
      if (progress) {
        found.push(progress);
        this.latest = progress;
      } else if (this.otherLines.length < 200) {
        this.otherLines.push(line);
      }
    }
    return found;
  }
}
