// Benchmarks (not tests: they print figures and never fail on a missed target).
//   npm run bench                      build, then every bench in turn
//   npm run bench -- codec latency     only these (codec, sync, latency, fanout, scale, mqtt)
//   npm run bench -- sync --prof       also write a V8 CPU profile per process to bench-profiles/
//   BENCH_QUICK=1                      tiny sizes (what the smoke test runs); figures meaningless
// Results and the machine they came from go into docs/performance.md.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './tools.mjs';

const ALL = ['codec', 'sync', 'latency', 'fanout', 'scale', 'mqtt'];
const args = process.argv.slice(2);
const prof = args.includes('--prof');
const names = args.filter((a) => !a.startsWith('--'));
const unknown = names.filter((n) => !ALL.includes(n));
if (unknown.length > 0) {
  console.error(`unknown bench: ${unknown.join(', ')} (choose from ${ALL.join(', ')})`);
  process.exit(2);
}
const chosen = names.length > 0 ? ALL.filter((n) => names.includes(n)) : ALL;

console.log('== build');
const build = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { stdio: 'inherit', cwd: root });
if (build.status !== 0) process.exit(build.status ?? 1);

const execArgv = ['--import', 'tsx', '--expose-gc'];
const env = { ...process.env };
if (prof) {
  const dir = join(root, 'bench-profiles');
  mkdirSync(dir, { recursive: true });
  // Node refuses --cpu-prof in NODE_OPTIONS: the bench gets it as an argument, and passes
  // BENCH_CPU_PROF_DIR on to the processes it forks (bench/util.ts profArgs()).
  execArgv.push('--cpu-prof', `--cpu-prof-dir=${dir}`);
  env.BENCH_CPU_PROF_DIR = dir;
  console.log(`CPU profiles go to ${dir}`);
}
const started = Date.now();
let failed = 0;
for (const name of chosen) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [...execArgv, join(root, 'bench', `${name}.bench.ts`)], { stdio: 'inherit', cwd: root, env });
  console.log(`\n(${name}: ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  if (r.status !== 0) {
    failed++;
    console.error(`bench ${name} crashed (exit ${r.status ?? r.signal})`);
  }
}
console.log(`\nall benches: ${((Date.now() - started) / 1000).toFixed(0)} s`);
process.exit(failed > 0 ? 1 : 0);
