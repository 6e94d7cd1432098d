// The one test command: type-check, build, then every suite under test/ on this Node with
// Node-RED 4.1, then the Node-RED suites (test/nodes/) again on Node 22 with Node-RED 5.
//   node scripts/test.mjs [filter...]   only the test files whose path contains a filter
//   TVH_SKIP_NR5=1                       skip the Node-RED 5 pass (a developer's quick run)
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createRequire } from 'node:module';
import { root, node22, nodeRed5 } from './tools.mjs';

const require = createRequire(import.meta.url);
const filters = process.argv.slice(2);

function run(cmd, args, env = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, env: { ...process.env, ...env } });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out.sort();
}

if (filters.length === 0) {
  console.log('== type-check');
  run(process.execPath, [require.resolve('typescript/bin/tsc'), '--noEmit', '-p', 'tsconfig.json']);
}
console.log('== build');
run(process.execPath, [join(root, 'scripts', 'build.mjs')]);
const files = findTests(join(root, 'test')).filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const nodeRedFiles = files.filter((f) => f.startsWith(join('test', 'nodes')));
const withNr5 = nodeRedFiles.length > 0 && process.env.TVH_SKIP_NR5 !== '1';
// Fetched before the first pass, so that a registry failure shows at once, not after minutes.
const nr5Tools = withNr5 ? { node: node22(), nr5: nodeRed5() } : undefined;
// A test that hangs fails after this long instead of stalling the run.
const testArgs = ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=1', '--test-timeout=240000'];
console.log(`== tests on Node ${process.version} with Node-RED 4.1 (${files.length} files)`);
run(process.execPath, [...testArgs, ...files], { NODE_RED_PATH: require.resolve('node-red') });

if (nr5Tools) {
  console.log(`== Node-RED suites on Node 22 with Node-RED 5 (${nodeRedFiles.length} files)`);
  run(nr5Tools.node, [...testArgs, ...nodeRedFiles], { NODE_RED_PATH: join(nr5Tools.nr5, 'lib', 'red.js') });
}
