// The editor as a person uses it, in Debian's Chromium driven by playwright-core: the palette,
// the help, the server dialog's "Test connection" button, and live node status from the simulator.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { TvheadendSimulator } from '../../src/sim';
import { startNodeRed, systemProgram, repoRoot, type RunningNodeRed } from '../helpers/node-red-process';

const chromiumPath = systemProgram('chromium', ['/usr/bin/chromium', '/usr/bin/chromium-browser']);
const shots = join(repoRoot, 'dist', 'screenshots');

let sim: TvheadendSimulator;
let red: RunningNodeRed;
let browser: Browser;
let page: Page;

const SERVER_ID = 'e2e-server';
const FLOW_NODE_TYPES = [
  'tvheadend-call',
  'tvheadend-events',
  'tvheadend-subscription',
  'tvheadend-epg',
  'tvheadend-dvr',
  'tvheadend-mqtt',
];

before(async () => {
  if (!chromiumPath) return;
  sim = new TvheadendSimulator({ port: 0, channels: 4, epgHours: 4 });
  const { port } = await sim.start();
  red = await startNodeRed({
    install: 'link',
    flows: [
      { id: 'e2e-tab', type: 'tab', label: 'E2E' },
      { id: SERVER_ID, type: 'tvheadend-server', name: 'Simulator', host: '127.0.0.1', port },
      { id: 'e2e-call', type: 'tvheadend-call', z: 'e2e-tab', name: 'time', server: SERVER_ID, method: 'getSysTime', x: 200, y: 80, wires: [[]] },
    ],
    credentials: { [SERVER_ID]: { username: 'demo', password: 'demo' } },
  });
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  mkdirSync(shots, { recursive: true });
  await page.goto(red.url);
  await page.waitForSelector('.red-ui-palette-node[data-palette-type="tvheadend-call"]', { timeout: 30_000 });
});

after(async () => {
  await browser?.close();
  await red?.stop();
  await sim?.stop();
});

test('the palette has every flow node under a Tvheadend category', { skip: !chromiumPath }, async () => {
  for (const type of FLOW_NODE_TYPES) {
    assert.equal(await page.locator(`.red-ui-palette-node[data-palette-type="${type}"]`).count(), 1, type);
  }
  const header = await page.locator('#red-ui-palette-header-tvheadend').textContent();
  assert.match(header ?? '', /tvheadend/i);
});

test('a deployed call node shows the live connection in its status', { skip: !chromiumPath }, async () => {
  const status = page.locator('.red-ui-flow-node-status-label');
  await page.waitForFunction(
    () => Array.from(document.querySelectorAll('.red-ui-flow-node-status-label')).some((e) => /connected/i.test(e.textContent ?? '')),
    undefined,
    { timeout: 20_000 },
  );
  assert.match((await status.allTextContents()).join(' '), /connected/i);
  await page.screenshot({ path: join(shots, 'workspace.png') });
});

test('"Test connection" in the server dialog says what happened, in words', { skip: !chromiumPath }, async () => {
  await page.evaluate((id) => {
    const red = (window as unknown as { RED: { editor: { editConfig: (a: string, t: string, i: string) => void } } }).RED;
    red.editor.editConfig('', 'tvheadend-server', id);
  }, SERVER_ID);
  const button = page.locator('#node-config-tvheadend-test');
  await button.waitFor({ state: 'visible' });
  const result = page.locator('#node-config-tvheadend-test-result');

  await button.click();
  await page.waitForFunction(
    () => /connected to/i.test(document.querySelector('#node-config-tvheadend-test-result')?.textContent ?? ''),
    undefined,
    { timeout: 15_000 },
  );
  assert.match((await result.textContent()) ?? '', /connected to .*HTSP v\d+/i);
  await page.screenshot({ path: join(shots, 'server-dialog.png') });

  await page.fill('#node-config-input-password', 'not-the-password');
  await button.click();
  await page.waitForFunction(
    () => /password/i.test(document.querySelector('#node-config-tvheadend-test-result')?.textContent ?? ''),
    undefined,
    { timeout: 15_000 },
  );
  assert.match((await result.textContent()) ?? '', /wrong user or password/i);
  await page.click('#node-config-dialog-cancel');
});

test('each node has help in the sidebar, starting with a one-line summary', { skip: !chromiumPath }, async () => {
  for (const type of FLOW_NODE_TYPES) {
    const help = await page.evaluate((t) => {
      const el = document.querySelector(`script[data-help-name="${t}"]`);
      return el ? el.innerHTML : '';
    }, type);
    assert.ok(help.length > 200, `${type} has help`);
    assert.match(help, /message-properties|### Inputs|### Outputs|<h3>/, `${type} help has sections`);
  }
});
