// Facts about the machine and the programs a benchmark ran with, for the results file.
import { cpus, freemem, loadavg, release, totalmem } from 'node:os';
import { run } from './children.mjs';

/** The first line of a program's output, or 'unknown' when it cannot be run. */
async function firstLine(command, args) {
  try {
    const result = await run(command, args, { timeoutMs: 10_000 });
    const text = `${result.stdout}\n${result.stderr}`.trim();
    return text.split('\n')[0]?.trim() || 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Filesystem type, device and mount options of the filesystem holding `path` (findmnt). */
export async function filesystemOf(path) {
  const result = await run('findmnt', ['-n', '-o', 'FSTYPE,SOURCE,TARGET', '--target', path], {
    timeoutMs: 10_000,
  });
  const [type = 'unknown', source = '', target = ''] = result.stdout.trim().split(/\s+/);
  return { type, source, target };
}

export async function machineFacts(repoDir) {
  const cpuList = cpus();
  const [head, dirty, tgtd, qemu, libiscsi] = await Promise.all([
    firstLine('git', ['-C', repoDir, 'rev-parse', '--short', 'HEAD']),
    run('git', ['-C', repoDir, 'status', '--porcelain', '--', 'src'], { timeoutMs: 10_000 }).then(
      (r) => r.stdout.trim() !== '',
      () => false,
    ),
    firstLine('tgtd', ['-V']),
    firstLine('qemu-img', ['--version']),
    firstLine('dpkg-query', ['-W', '-f', '${Version}', 'libiscsi-bin']),
  ]);
  return {
    cores: cpuList.length,
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
    kernel: release(),
    memoryGiB: (totalmem() / 2 ** 30).toFixed(1),
    freeMemoryGiB: (freemem() / 2 ** 30).toFixed(1),
    load: loadavg()
      .map((l) => l.toFixed(2))
      .join(' '),
    node: process.version,
    commit: dirty ? `${head} (src/ has uncommitted changes)` : head,
    tgtd,
    qemu,
    libiscsi,
  };
}

const CLOCK_TICKS = 100; // USER_HZ: /proc/PID/stat counts CPU time in 1/100 s on Linux

/** CPU seconds (user + system, all threads) process `pid` has used so far, from /proc/PID/stat. */
export async function processCpuSeconds(pid) {
  const { readFile } = await import('node:fs/promises');
  const text = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS; // utime, stime (fields 14, 15)
}
