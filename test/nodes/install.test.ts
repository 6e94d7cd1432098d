// The package as a user gets it: `npm pack`, installed into a fresh Node-RED user directory,
// Node-RED started as a real process; every node type must load without an error.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startNodeRed, repoRoot, type RunningNodeRed } from '../helpers/node-red-process';

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  'node-red': { nodes: Record<string, string> };
};

let red: RunningNodeRed;
let port = 0;
let log = (): string => '';

before(async () => {
  red = await startNodeRed({ install: 'tarball' });
  port = red.port;
  log = red.log;
});

after(async () => {
  await red?.stop();
});

interface NodeSet {
  module: string;
  types: string[];
  enabled: boolean;
  loaded: boolean;
  err?: string;
}

test('every node type of the packed tarball loads in a real Node-RED', async () => {
  const res = await fetch(`http://127.0.0.1:${port}/nodes`, { headers: { Accept: 'application/json' } });
  assert.equal(res.status, 200);
  const sets = ((await res.json()) as NodeSet[]).filter((s) => s.module === 'node-red-contrib-tvheadend');
  const expected = Object.keys(pkg['node-red'].nodes).sort();
  assert.ok(expected.length > 0, 'package.json declares nodes');
  for (const s of sets) assert.equal(s.err, undefined, `node set failed to load: ${s.err}`);
  assert.deepEqual(sets.flatMap((s) => s.types).sort(), expected);
  assert.ok(sets.every((s) => s.enabled));
  assert.ok(sets.length > 0);
  assert.doesNotMatch(log(), /\[error\]/i, 'Node-RED logged an error');
});

test('the editor gets each node definition and its help', async () => {
  const res = await fetch(`http://127.0.0.1:${port}/nodes`, { headers: { Accept: 'text/html' } });
  const html = await res.text();
  for (const type of Object.keys(pkg['node-red'].nodes)) {
    assert.match(html, new RegExp(`registerType\\(\\s*['"]${type}['"]`), `${type} editor definition`);
    assert.match(html, new RegExp(`data-help-name="${type}"`), `${type} help`);
  }
  const list = (await (
    await fetch(`http://127.0.0.1:${port}/nodes`, { headers: { Accept: 'application/json' } })
  ).json()) as NodeSet[] & { id?: string }[];
  for (const set of list.filter((x) => x.module === 'node-red-contrib-tvheadend') as (NodeSet & { id: string })[]) {
    const catalog = await fetch(`http://127.0.0.1:${port}/locales/${set.id}?lng=en-US`);
    assert.equal(catalog.status, 200);
    const messages = (await catalog.json()) as { palette?: { label?: { tvheadend?: string } } };
    assert.equal(messages.palette?.label?.tvheadend, 'Tvheadend', `${set.id} has its message catalog`);
  }
});

test('the package examples are offered for import, one per node at least', async () => {
  const res = await fetch(`http://127.0.0.1:${port}/library/examples/flows/node-red-contrib-tvheadend`, {
    headers: { Accept: 'application/json' },
  });
  assert.equal(res.status, 200);
  const names = JSON.stringify(await res.json());
  for (const type of Object.keys(pkg['node-red'].nodes).filter((t) => t !== 'tvheadend-server')) {
    assert.ok(names.includes(type), `an example for ${type}: ${names}`);
  }
});
