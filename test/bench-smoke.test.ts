// The benchmarks must not rot: each runs in quick mode (tiny sizes, figures meaningless) and has
// to finish and print its table. No figure is checked here; benchmarks are not tests.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..');
const BENCHES = ['codec', 'sync', 'latency', 'fanout', 'scale', 'mqtt'];

describe('benchmarks in quick mode', () => {
  for (const name of BENCHES) {
    it(`${name} completes and prints its table`, () => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', join(root, 'bench', `${name}.bench.ts`)], {
        cwd: root,
        env: { ...process.env, BENCH_QUICK: '1' },
        encoding: 'utf8',
        timeout: 120_000,
      });
      assert.equal(r.status, 0, `exit ${r.status ?? r.signal}\n${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /QUICK mode/);
      assert.match(r.stdout, /^### .+$/m, 'a table title');
      assert.match(r.stdout, /^\|-+\|/m, 'a table');
      assert.match(r.stdout, /PASS|MISS/, 'a verdict');
    });
  }
});
