// `qemu-img bench` write runs on an iscsi:// URL, shared by the benchmarks.
import { runChecked } from './children.mjs';
import { pinned } from './pinning.mjs';

const MiB = 1024 * 1024;

/** `count` sequential writes of `test.bytes` at queue depth `test.depth`, cache off; the figures qemu-img
 * reports. `cpus` (optional, e.g. '1') runs qemu-img under `taskset -c cpus`. */
export async function qemuWriteBench(url, test, count, timeoutMs = 300_000, cpus = undefined) {
  const args = ['bench', '-w', '-d', String(test.depth), '-s', String(test.bytes), '-c', String(count)];
  args.push('-t', 'none', '-f', 'raw', url);
  const [command, argv] = pinned(cpus, 'qemu-img', args);
  const result = await runChecked(command, argv, { timeoutMs });
  const seconds = Number(/Run completed in ([\d.]+) seconds/.exec(result.stdout)?.[1]);
  if (!(seconds > 0)) throw new Error(`cannot parse qemu-img bench output:\n${result.stdout}`);
  return { iops: count / seconds, ios: count, mibs: (count * test.bytes) / seconds / MiB, seconds, count };
}
