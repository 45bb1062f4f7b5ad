// What rsync's exit codes mean for the person reading the task log, with the daemon's own refusal
// (`@ERROR: ...`) and rsync's first error lines added, so a log row says why a run failed.

const MEANINGS: Readonly<Record<number, string>> = {
  1: 'rsync usage error',
  2: 'protocol incompatibility with the destination',
  3: 'cannot read the source or write the destination directory',
  4: 'the destination does not support a requested action',
  5: 'the destination refused the session',
  6: 'the destination agent cannot write its log',
  10: 'cannot connect to the destination (socket I/O error)',
  11: 'file I/O error',
  12: 'the connection to the destination broke (data stream error)',
  13: 'rsync diagnostics error',
  14: 'rsync internal IPC error',
  20: 'rsync was stopped by a signal',
  21: 'rsync internal error (waitpid)',
  22: 'rsync ran out of memory',
  23: 'partial transfer: some files or attributes were not transferred',
  24: 'partial transfer: some source files vanished',
  25: 'the deletion limit stopped deletions',
  30: 'timeout: no data moved for too long',
  35: 'timeout waiting for the destination',
};

/** The lines worth quoting from rsync's stderr: the daemon's @ERROR and rsync's own error lines. */
export function errorLines(stderr: string, max = 3): string[] {
  const lines = stderr
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.startsWith('@ERROR') || (l.startsWith('rsync') && !l.startsWith('rsync error:')));
  return lines.slice(0, max);
}

/** A one-line explanation of a failed run; `signal` is set when rsync was killed. */
export function explainExit(code: number | null, signal: string | null, stderr: string): string {
  if (code === null) return `rsync was killed by ${signal ?? 'a signal'}`;
  const refusal = /@ERROR:\s*(.*)/.exec(stderr)?.[1]?.trim();
  let meaning = MEANINGS[code] ?? `rsync failed with exit code ${code}`;
  if (code === 5 && refusal !== undefined) {
    if (/auth failed/i.test(refusal)) meaning = 'authentication failed: wrong ID or password';
    else if (/unknown module/i.test(refusal)) meaning = 'the destination share does not exist on the agent';
    else if (/max connections|too many connections/i.test(refusal)) {
      meaning = 'the destination agent is at its connection limit';
    } else if (/access denied/i.test(refusal)) {
      meaning = "this node is not in the destination agent's allowed hosts";
    }
  }
  if (code === 10 && /connection refused/i.test(stderr)) {
    meaning = 'cannot connect to the destination: connection refused (is the agent running?)';
  }
  const quoted = errorLines(stderr);
  return quoted.length > 0 ? `${meaning} (exit ${code}; ${quoted.join(' | ')})` : `${meaning} (exit ${code})`;
}
