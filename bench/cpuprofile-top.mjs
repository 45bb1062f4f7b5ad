// Summarizes a V8 .cpuprofile (from `node --cpu-prof`): the functions with the most self time, and the
// share of time outside JavaScript ((idle), (program), (garbage collector)).
//   node bench/cpuprofile-top.mjs FILE.cpuprofile [N] [FROM-SECOND] [TO-SECOND]
// (the optional window, in seconds from the start of the profile, picks one phase of a bench run)
import { readFileSync } from 'node:fs';

const [file, count = '25', from = '0', to = 'Infinity'] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node bench/cpuprofile-top.mjs FILE.cpuprofile [N]\n');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfMicros = new Map();
// timeDeltas[i] is the time before samples[i]; charge it to that sample's node.
let at = 0;
profile.samples.forEach((id, i) => {
  const delta = profile.timeDeltas[i] ?? 0;
  at += delta;
  if (at < Number(from) * 1e6 || at > Number(to) * 1e6) return;
  selfMicros.set(id, (selfMicros.get(id) ?? 0) + delta);
});
const byFunction = new Map();
let total = 0;
for (const [id, micros] of selfMicros) {
  const { callFrame } = byId.get(id);
  const where = callFrame.url
    ? `${callFrame.url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${callFrame.lineNumber + 1}`
    : '';
  const key = `${callFrame.functionName || '(anonymous)'} ${where}`.trim();
  byFunction.set(key, (byFunction.get(key) ?? 0) + micros);
  total += micros;
}
const idle = byFunction.get('(idle)') ?? 0;
const busy = total - idle;
process.stdout.write(
  `${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s not idle\n` +
    `self time, % of non-idle time:\n`,
);
const rows = [...byFunction].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1]);
for (const [key, micros] of rows.slice(0, Number(count))) {
  process.stdout.write(
    `${((100 * micros) / busy).toFixed(1).padStart(5)}%  ${(micros / 1e3).toFixed(0).padStart(7)} ms  ${key}\n`,
  );
}
