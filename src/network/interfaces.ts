// Lists this node's NICs and their addresses with `ip -j addr show` (iproute2), run with an argv array.
import { notFound, TandemError } from '../lib/errors.js';
import { runProgram } from '../lib/run-program.js';
import { parseIpAddrJson, type Nic } from './ip-addr-parser.js';

/**
 * How programs are run: runProgram by default. Tests pass one that prefixes `ip netns exec NS`, so
 * the same code manages a NIC inside a lab namespace.
 */
export type ProgramRunner = typeof runProgram;

const IP_TIMEOUT_MS = 10_000;

/** Every NIC of this network namespace, loopback included (marked `loopback`). */
export async function listNics(run: ProgramRunner = runProgram): Promise<Nic[]> {
  const result = await run('ip', ['-j', 'addr', 'show'], { timeoutMs: IP_TIMEOUT_MS });
  if (result.code !== 0) {
    throw new TandemError(
      'unavailable',
      'ip-failed',
      `ip -j addr show failed: ${result.stderr.trim() || `exit code ${String(result.code)}`}`,
    );
  }
  return parseIpAddrJson(result.stdout);
}

/** One NIC by name; a missing NIC is a not-found error. */
export async function showNic(name: string, run: ProgramRunner = runProgram): Promise<Nic> {
  const result = await run('ip', ['-j', 'addr', 'show', 'dev', name], { timeoutMs: IP_TIMEOUT_MS });
  if (result.code !== 0) {
    if (/does not exist|Cannot find device/i.test(result.stderr)) {
      throw notFound('nic-not-found', `there is no NIC named ${name} on this node`);
    }
    throw new TandemError(
      'unavailable',
      'ip-failed',
      `ip -j addr show dev ${name} failed: ${result.stderr.trim() || `exit code ${String(result.code)}`}`,
    );
  }
  const [nic] = parseIpAddrJson(result.stdout);
  if (!nic) throw notFound('nic-not-found', `there is no NIC named ${name} on this node`);
  return nic;
}
