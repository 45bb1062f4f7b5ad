// CPU pinning for benchmarks: a program runs under `taskset -c CPUS` (an argument array, no shell), so
// each process of a two-node bench on one machine can be given its own core, as on two real machines.

/** [command, args] running `command args` on `cpus` (a taskset list such as '0' or '0,1'); unchanged
 * when `cpus` is undefined or ''. */
export function pinned(cpus, command, args) {
  if (cpus === undefined || cpus === '') return [command, args];
  return ['taskset', ['-c', String(cpus), command, ...args]];
}
