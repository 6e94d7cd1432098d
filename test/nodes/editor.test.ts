// The editor as a person uses it, in Debian's Chromium driven by playwright-core: the palette,
// the help, the server dialog's "Test connection" button, live node status from the simulator,
// pickers filled from the server, and dialogs of nodes from older flows.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { TvheadendSimulator } from '../../src/sim';
import { SERVER_DEFAULTS } from '../../src/nodes/server/config';
import { SUBSCRIPTION_DEFAULTS } from '../../src/nodes/subscription/commands';
import { EVENTS_DEFAULTS } from '../../src/nodes/events/filters';
import { epgSettings } from '../../src/nodes/epg/settings';
import { dvrSettings } from '../../src/nodes/dvr/settings';
import { MQTT_DEFAULTS } from '../../src/nodes/mqtt/config';
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
  sim = new TvheadendSimulator({ port: 0, channels: 4, epgHours: 4, dvrConfigs: [{ name: '', comment: 'Default profile' }, { name: 'Series', comment: 'Keep everything' }] });
  const { port } = await sim.start();
  red = await startNodeRed({
    install: 'link',
    flows: [
      { id: 'e2e-tab', type: 'tab', label: 'E2E' },
      { id: SERVER_ID, type: 'tvheadend-server', name: 'Simulator', host: '127.0.0.1', port },
      { id: 'e2e-call', type: 'tvheadend-call', z: 'e2e-tab', name: 'time', server: SERVER_ID, method: 'getSysTime', x: 200, y: 80, wires: [[]] },
      { id: 'e2e-sub', type: 'tvheadend-subscription', z: 'e2e-tab', server: SERVER_ID, channel: '', autoStart: false, x: 200, y: 140, wires: [[]] },
      { id: 'e2e-epg', type: 'tvheadend-epg', z: 'e2e-tab', server: SERVER_ID, operation: 'nownext', channel: '', channelType: 'str', x: 200, y: 200, wires: [[]] },
      { id: 'e2e-dvr', type: 'tvheadend-dvr', z: 'e2e-tab', server: SERVER_ID, action: 'record', channel: '', channelType: 'str', x: 200, y: 260, wires: [[]] },
      { id: 'e2e-events', type: 'tvheadend-events', z: 'e2e-tab', server: SERVER_ID, channels: '', x: 200, y: 320, wires: [[]] },
    ],
    credentials: { [SERVER_ID]: { username: 'demo', password: 'demo' } },
  });
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      // Containers give /dev/shm 64 MB, which crashes tabs; /tmp has room.
      '--disable-dev-shm-usage',
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
    () => Array.from(document.querySelectorAll('.red-ui-flow-node-status-label')).some((e) => /HTSP \d+/.test(e.textContent ?? '')),
    undefined,
    { timeout: 20_000 },
  );
  assert.match((await status.allTextContents()).join(' '), /Tvheadend · HTSP 44/);
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

type EditorWindow = {
  RED: {
    editor: { edit: (n: unknown) => void; editConfig: (a: string, t: string, i: string) => void };
    nodes: { node: (id: string) => unknown; getType: (t: string) => { defaults: Record<string, { value: unknown }> } };
    view: { importNodes: (nodes: object[]) => void };
  };
};

async function openNode(id: string): Promise<void> {
  await page.evaluate((nodeId) => {
    const { RED } = window as unknown as EditorWindow;
    RED.editor.edit(RED.nodes.node(nodeId));
  }, id);
}

async function closeDialog(): Promise<void> {
  await page.click('#node-dialog-cancel');
  await page.waitForSelector('#node-dialog-cancel', { state: 'detached' });
}

/** The entries the completion popup shows after ↓ in `input`; ↓ again if a busy browser missed it. */
async function listed(input: string, screenshot?: string): Promise<string[]> {
  const popup = page.locator('.red-ui-autoComplete-container:visible');
  for (let attempt = 1; ; attempt++) {
    await page.focus(input);
    await page.keyboard.press('ArrowDown');
    try {
      await popup.waitFor({ state: 'visible', timeout: 5000 });
      break;
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
  const texts = await popup.locator('li').allTextContents();
  if (screenshot) await page.screenshot({ path: join(shots, screenshot) });
  await hidePopup(input);
  return texts.map((t) => t.trim());
}

/** Closes the completion popup (Escape, as a person would) and keeps the focus in `input`. */
async function hidePopup(input: string): Promise<void> {
  const popup = page.locator('.red-ui-autoComplete-container:visible');
  await page.focus(input);
  await page.keyboard.press('Escape');
  await popup.waitFor({ state: 'hidden', timeout: 5000 });
}

/** Types `text` at the end of `input` and picks the completion showing `item`; tries again if the popup was slow. */
async function typeAndPick(input: string, start: string, text: string, item: string | undefined): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await page.fill(input, start);
    await page.focus(input);
    await page.keyboard.press('End');
    await page.keyboard.type(text, { delay: 30 });
    const entry = page.locator('.red-ui-autoComplete-container:visible li a', item ? { hasText: item } : {}).first();
    try {
      await entry.waitFor({ state: 'visible', timeout: 5000 });
      await entry.click();
      return;
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
}

/** Cancels whatever dialog a failed test may have left open, so one failure does not cascade. */
async function closeAnyDialog(): Promise<void> {
  for (const sel of ['#node-config-dialog-cancel:visible', '#node-dialog-cancel:visible']) {
    for (let i = 0; i < 3 && (await page.locator(sel).count()) > 0; i++) {
      await page.locator(sel).first().click({ timeout: 5000, force: true });
      await page.waitForTimeout(300);
    }
  }
}

async function hint(kind: string): Promise<string> {
  const el = page.locator(`.tvheadend-picker-hint[data-kind="${kind}"]`);
  await page.waitForFunction((k) => !/loading/.test(document.querySelector(`.tvheadend-picker-hint[data-kind="${k}"]`)?.textContent ?? 'loading'), kind, {
    timeout: 15_000,
  });
  return (await el.textContent()) ?? '';
}

test('pickers list the channels, profiles and DVR configurations of the live server', { skip: !chromiumPath }, async () => {
  await closeAnyDialog();
  const channelLabel = (i: number): RegExp => new RegExp(`^${sim.channels[i].number}\\s+${sim.channels[i].name}$`);

  await openNode('e2e-sub');
  assert.match(await hint('channels'), /^the server lists 4:/);
  const channels = await listed('#node-input-channel', 'channel-picker.png');
  assert.equal(channels.length, sim.channels.length);
  sim.channels.forEach((_c, i) => assert.ok(channels.some((t) => channelLabel(i).test(t)), `${sim.channels[i].name} listed: ${channels.join(' | ')}`));
  // Typing filters; picking puts the channel's name in the field.
  await typeAndPick(
    '#node-input-channel',
    sim.channels[2].name.slice(0, 6).toLowerCase(),
    sim.channels[2].name.slice(6, 8).toLowerCase(),
    sim.channels[2].name,
  );
  assert.equal(await page.inputValue('#node-input-channel'), sim.channels[2].name);
  const profiles = await listed('#node-input-profile');
  assert.deepEqual(profiles.map((t) => t.split(' ')[0]).sort(), sim.profiles.map((p) => p.name).sort());
  await page.screenshot({ path: join(shots, 'subscription-picker.png') });
  await closeDialog();

  // A typedInput keeps its types; its text type completes the same way.
  await openNode('e2e-epg');
  await hint('channels');
  const inner = '.form-row:has(#node-input-channel) input.red-ui-typedInput-input';
  assert.equal((await listed(inner)).length, sim.channels.length);
  await closeDialog();

  await openNode('e2e-dvr');
  assert.match(await hint('dvrconfigs'), /^the server lists 1:/);
  assert.deepEqual(await listed('#node-input-configName'), ['Series \u2014 Keep everything']);
  await closeDialog();

  // The events node's channel filter is a list: completion works on its last entry.
  await openNode('e2e-events');
  await hint('channels');
  await typeAndPick('#node-input-channels', `1, ${sim.channels[3].name.slice(0, -1)}`, sim.channels[3].name.slice(-1), undefined);
  assert.equal(await page.inputValue('#node-input-channels'), `1, ${sim.channels[3].name}`);
  await closeDialog();
});

test('nodes from an older flow open with the defaults and no invalid field; pickers ask to deploy first', { skip: !chromiumPath }, async () => {
  await closeAnyDialog();
  await page.evaluate(() => {
    const { RED } = window as unknown as EditorWindow;
    RED.view.importNodes([
      { id: 'old-srv', type: 'tvheadend-server', host: '127.0.0.1', port: 9982 },
      { id: 'old-sub', type: 'tvheadend-subscription', server: 'old-srv', x: 400, y: 140, wires: [[]] },
      { id: 'old-events', type: 'tvheadend-events', server: 'old-srv', x: 400, y: 200, wires: [[]] },
    ]);
  });

  await page.evaluate(() => {
    const { RED } = window as unknown as EditorWindow;
    RED.editor.editConfig('', 'tvheadend-server', 'old-srv');
  });
  await page.waitForSelector('#node-config-input-pingInterval', { state: 'visible' });
  assert.equal(await page.inputValue('#node-config-input-pingInterval'), String(SERVER_DEFAULTS.pingInterval));
  assert.equal(await page.inputValue('#node-config-input-requestTimeout'), String(SERVER_DEFAULTS.requestTimeout));
  assert.equal(await page.inputValue('#node-config-input-epgDays'), String(SERVER_DEFAULTS.epgDays));
  assert.equal(await page.inputValue('#node-config-input-clientName'), SERVER_DEFAULTS.clientName);
  assert.equal(await page.isChecked('#node-config-input-epg'), SERVER_DEFAULTS.epg);
  assert.equal(await page.locator('#node-config-dialog-edit-form .input-error').count(), 0, 'no field is marked invalid');
  await page.screenshot({ path: join(shots, 'server-dialog-old-flow.png') });
  await page.click('#node-config-dialog-cancel');
  await page.waitForSelector('#node-config-dialog-cancel', { state: 'detached' });

  await openNode('old-sub');
  assert.equal(await page.inputValue('#node-input-rateLimit'), String(SUBSCRIPTION_DEFAULTS.rateLimit));
  assert.equal(await page.isChecked('#node-input-autoStart'), SUBSCRIPTION_DEFAULTS.autoStart);
  assert.equal(await page.locator('#dialog-form .input-error').count(), 0, 'no field is marked invalid');
  // The server node exists in the editor but not in the runtime yet.
  assert.match(await hint('channels'), /deploy the server node first/);
  await page.fill('#node-input-channel', 'typed by hand');
  assert.equal(await page.inputValue('#node-input-channel'), 'typed by hand', 'typing is never blocked');
  await closeDialog();

  await openNode('old-events');
  const ticked = await page.$$eval('.node-input-tvheadend-kind:checked', (els) => els.map((e) => (e as HTMLInputElement).value));
  assert.deepEqual(ticked.sort(), [...EVENTS_DEFAULTS.kinds].sort());
  assert.equal(await page.inputValue('#node-input-pollInterval'), String(EVENTS_DEFAULTS.pollInterval));
  assert.equal(await page.locator('#dialog-form .input-error').count(), 0, 'no field is marked invalid');
  await closeDialog();
});

test('the editor’s defaults are the runtime’s', { skip: !chromiumPath }, async () => {
  const defaults = await page.evaluate((types) => {
    const { RED } = window as unknown as EditorWindow;
    const out: Record<string, Record<string, unknown>> = {};
    for (const t of types) {
      out[t] = {};
      for (const [k, d] of Object.entries(RED.nodes.getType(t).defaults)) out[t][k] = d.value;
    }
    return out;
  }, ['tvheadend-server', ...FLOW_NODE_TYPES]);

  const server = defaults['tvheadend-server'];
  for (const k of ['host', 'port', 'clientName', 'epg', 'epgDays', 'pingInterval', 'requestTimeout', 'version'] as const) {
    assert.deepEqual(server[k], SERVER_DEFAULTS[k], `tvheadend-server ${k}`);
  }
  const sub = defaults['tvheadend-subscription'];
  for (const k of ['rateLimit', 'autoStart', 'packets'] as const) assert.deepEqual(sub[k], SUBSCRIPTION_DEFAULTS[k], `tvheadend-subscription ${k}`);
  const events = defaults['tvheadend-events'];
  for (const k of ['kinds', 'actions', 'initial', 'pollInterval', 'reminderMinutes'] as const) {
    assert.deepEqual(events[k], EVENTS_DEFAULTS[k], `tvheadend-events ${k}`);
  }
  const epg = epgSettings({} as never).settings;
  const e = defaults['tvheadend-epg'];
  assert.deepEqual([e.operation, Number(e.hours), e.searchIn, e.regex, Number(e.limit)], [epg.operation, epg.hours, epg.searchIn, epg.regex, epg.limit]);
  const dvr = dvrSettings({} as never);
  const d = defaults['tvheadend-dvr'];
  assert.deepEqual([d.action, d.list, d.channelType, d.configName], [dvr.action, dvr.list, dvr.channelType, dvr.configName]);
  const mqtt = defaults['tvheadend-mqtt'];
  for (const k of ['broker', 'protocol', 'discovery', 'discoveryPrefix', 'channelMode', 'nowPlaying', 'serverStatus', 'allow', 'version'] as const) {
    assert.deepEqual(mqtt[k], MQTT_DEFAULTS[k], `tvheadend-mqtt ${k}`);
  }
});

test('every shipped example imports with no invalid node', { skip: !chromiumPath }, async () => {
  const dir = join(repoRoot, 'examples');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const flow = JSON.parse(readFileSync(join(dir, file), 'utf8')) as object[];
    const invalid = await page.evaluate((nodes) => {
      const RED = (window as unknown as {
        RED: {
          view: { importNodes: (n: object[], o: object) => void };
          nodes: {
            eachNode: (cb: (n: { id: string; type: string; valid?: boolean; z?: string }) => void) => void;
            eachConfig: (cb: (n: { id: string; type: string; valid?: boolean }) => void) => void;
          };
        };
      }).RED;
      const before = new Set<string>();
      RED.nodes.eachNode((n) => before.add(n.id));
      RED.nodes.eachConfig((n) => before.add(n.id));
      RED.view.importNodes(nodes, { generateIds: true, addFlow: true });
      // No named inner functions here: the test runner's transpiler would wrap them in a helper
      // that does not exist in the page.
      const bad: string[] = [];
      RED.nodes.eachNode((n) => {
        if (!before.has(n.id) && n.valid === false) bad.push(n.type);
      });
      RED.nodes.eachConfig((n) => {
        if (!before.has(n.id) && n.valid === false) bad.push(n.type);
      });
      return bad;
    }, flow);
    assert.deepEqual(invalid, [], `${file}: invalid nodes after import`);
  }
  await page.screenshot({ path: join(shots, 'examples-imported.png') });
});
