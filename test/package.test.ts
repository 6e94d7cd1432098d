// `node-red-dev validate` (the Node-RED catalogue's own scorecard) on the built package.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';

const root = join(__dirname, '..');
/** Checks that compare names with the online flow catalogue; they cannot run offline. */
const NEEDS_CATALOGUE = new Set(['P08', 'N01']);

test('node-red-dev validate passes every check that can run offline', () => {
  const work = mkdtempSync(join(tmpdir(), 'tvh-validate-'));
  try {
    const score = join(work, 'scorecard.json');
    const bin = join(dirname(require.resolve('node-red-dev/package.json')), 'bin', 'run');
    const out = execFileSync(
      process.execPath,
      ['-r', join(__dirname, 'fixtures', 'offline-catalogue.cjs'), bin, 'validate', '-p', root, '-o', score],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 },
    );
    const card = JSON.parse(readFileSync(score, 'utf8')) as Record<string, { test: boolean } & Record<string, unknown>>;
    const failed = Object.entries(card)
      .filter(([id, r]) => /^[PND]\d\d$/.test(id) && !NEEDS_CATALOGUE.has(id) && r.test !== true)
      .map(([id, r]) => `${id}: ${JSON.stringify(r)}`);
    assert.deepEqual(failed, [], `validate output:\n${out}`);
    for (const id of ['P01', 'P03', 'P04', 'P05', 'P06', 'P07', 'N02', 'D01', 'D02', 'D03']) {
      assert.ok(card[id], `${id} was checked`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
