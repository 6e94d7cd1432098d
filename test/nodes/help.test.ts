// The help of every node follows Node-RED's convention: a one-line summary first (the palette
// tooltip), then Inputs and Outputs as message-property lists, then Details.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const nodesDir = join(__dirname, '..', '..', 'nodes');

function helpOf(folder: string): { type: string; html: string } {
  const dir = join(nodesDir, folder, 'locales', 'en-US');
  const file = readdirSync(dir).find((f) => f.endsWith('.html'));
  assert.ok(file, `${folder} has an en-US help file`);
  const text = readFileSync(join(dir, file), 'utf8');
  const m = /<script type="text\/html" data-help-name="([^"]+)">([\s\S]*)<\/script>/.exec(text);
  assert.ok(m, `${file} is one help script`);
  return { type: m[1], html: m[2] };
}

test('every help starts with a one-line summary, then Inputs, Outputs and Details', () => {
  const folders = readdirSync(nodesDir);
  assert.ok(folders.length >= 7);
  for (const folder of folders) {
    const { type, html } = helpOf(folder);
    const first = /^\s*<p>([\s\S]*?)<\/p>/.exec(html);
    assert.ok(first, `${type}: the help starts with a paragraph`);
    const summary = first[1].replace(/<[^>]+>/g, '');
    assert.ok(!summary.includes('\n') && summary.length <= 110, `${type}: the summary is one short line (${summary.length}): ${summary}`);
    const headings = [...html.matchAll(/<h3>([^<]+)<\/h3>/g)].map((h) => h[1]);
    if (type === 'tvheadend-server') {
      // A config node has no messages: its settings are the details.
      assert.deepEqual(headings, ['Details'], type);
      continue;
    }
    assert.deepEqual(headings, ['Inputs', 'Outputs', 'Details'], type);
    const section = (name: string): string => html.split(`<h3>${name}</h3>`)[1].split('<h3>')[0];
    for (const name of ['Inputs', 'Outputs']) {
      const body = section(name);
      assert.ok(/<dl class="message-properties">/.test(body) || /<p>None/.test(body), `${type}: ${name} lists message properties`);
    }
  }
});
