// `npm run bench`: runs the benchmarks (bench/*.mjs), each printing Tandem's figure, the baseline's and
// their ratio. Name one to run only it, e.g. `npm run bench -- iscsi-vs-tgt`.
import { main as datarep } from './datarep-bench.mjs';
import { main as datarepGate } from './datarep-gate.mjs';
import { main as failover } from './failover.mjs';
import { main as iscsiVsTgt } from './iscsi-vs-tgt.mjs';
import { main as replication } from './replication.mjs';

const benches = { 'iscsi-vs-tgt': iscsiVsTgt, replication, datarep, 'datarep-gate': datarepGate, failover };
const wanted = process.argv.slice(2);
for (const name of wanted) {
  if (!(name in benches)) {
    process.stderr.write(`unknown bench ${name}; known: ${Object.keys(benches).join(', ')}\n`);
    process.exit(2);
  }
}
try {
  for (const [name, bench] of Object.entries(benches)) {
    if (wanted.length === 0 || wanted.includes(name)) await bench();
  }
} catch (error) {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
}
