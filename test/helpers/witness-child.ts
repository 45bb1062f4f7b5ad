// A witness in a process of its own, for tests that pause (SIGSTOP) or kill a lease holder.
// Run: node --import tsx test/helpers/witness-child.ts '<json WitnessOptions without logger/now>'
// It acquires at once and prints one JSON line per happening on stdout:
//   {"event":"acquired","grant":{...}}   {"event":"lost","reason":"..."}
//   {"event":"status","holds":bool,"validUntil":n,"now":n}   (answer to the line "status" on stdin)
// The stdin line "release" releases the role ({"event":"released"}); "exit" closes and exits.
import { createInterface } from 'node:readline';
import { Witness } from '../../src/ha/quorum/witness.js';

const config = JSON.parse(process.argv[2] ?? '{}') as {
  endpoints: string[];
  pairId: string;
  nodeName: string;
  ttlSeconds: number;
};

const say = (line: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(line)}\n`);
};

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const witness = new Witness({ ...config, logger: quiet });
witness.on('lost', (reason: string) => say({ event: 'lost', reason }));

say({ event: 'acquired', grant: await witness.acquire() });

for await (const line of createInterface({ input: process.stdin })) {
  const command = line.trim();
  if (command === 'status') {
    say({
      event: 'status',
      holds: witness.holds(),
      validUntil: witness.validUntil(),
      now: performance.now(),
    });
  } else if (command === 'release') {
    await witness.release();
    say({ event: 'released' });
  } else if (command === 'exit') {
    break;
  }
}
await witness.close();
process.exit(0);
