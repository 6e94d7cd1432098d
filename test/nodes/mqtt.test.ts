// The tvheadend-mqtt node in Node-RED: settings, status, credentials, and its lifecycle against
// the simulator and a real (Aedes) broker that wants a user and password; with Node-RED's own
// tls-config node against mosquitto over TLS.
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeAPI } from 'node-red';
import serverModule = require('../../src/nodes/server/tvheadend-server');
import mqttModule = require('../../src/nodes/mqtt/tvheadend-mqtt');
import { channelSelection, defaultClientId, effectiveBaseTopic, migrateMqttConfig, MQTT_DEFAULTS } from '../../src/nodes/mqtt/config';
import { mqttNodeStatus } from '../../src/nodes/mqtt/status';
import { discoveryProblems, DEFAULT_ALLOWED, type BridgeStatus } from '../../src/mqtt';
import { AedesBroker, findMosquitto, findOpenssl, loudWarning, makeTestPki, MosquittoBroker, type TestPki } from '../mqtt/brokers';
import { retainedSnapshot, Watcher } from '../mqtt/helpers';
import { helper, startSim, serverNode, credentials, waitFor, loggedText, statusesOf, exportedFlows, serialise, PASSWORD, type SimHandle, type FlowNode } from './helpers';

const TAB: FlowNode = { id: 'f1', type: 'tab', label: 'test' };
const nodes = [serverModule, mqttModule];
const BROKER_USER = 'bridge-user';
const BROKER_PASSWORD = 'Mq-broker-SECRET-4711';

function mqttNode(id: string, brokerUrl: string, extra: Record<string, unknown> = {}): FlowNode {
  return {
    id,
    type: 'tvheadend-mqtt',
    z: 'f1',
    name: '',
    version: 1,
    server: 's1',
    broker: brokerUrl,
    clientId: '',
    protocol: 'auto',
    tls: '',
    baseTopic: '',
    discovery: true,
    discoveryPrefix: 'homeassistant',
    channelMode: 'selected',
    channels: '1',
    nowPlaying: true,
    serverStatus: true,
    allow: [...DEFAULT_ALLOWED],
    ...extra,
  };
}

describe('tvheadend-mqtt settings', () => {
  it('fills defaults for an empty definition', () => {
    const c = migrateMqttConfig({});
    assert.deepEqual(c, { ...MQTT_DEFAULTS });
    assert.deepEqual(channelSelection(c), { mode: 'none' });
  });

  it('coerces editor strings, trims topics and parses the channel list', () => {
    const c = migrateMqttConfig({
      broker: ' mqtts://broker.lan:8883 ',
      baseTopic: '/home/tv/',
      discovery: 'false',
      discoveryPrefix: '',
      channelMode: 'selected',
      channels: 'BBC One\n 2 ,3.1\n\n',
      protocol: '7',
      allow: ['getSysTime', 3],
    });
    assert.equal(c.broker, 'mqtts://broker.lan:8883');
    assert.equal(c.baseTopic, 'home/tv');
    assert.equal(c.discovery, false);
    assert.equal(c.discoveryPrefix, 'homeassistant');
    assert.equal(c.protocol, 'auto');
    assert.deepEqual(c.channels, ['BBC One', '2', '3.1']);
    assert.deepEqual(c.allow, ['getSysTime']);
    assert.deepEqual(channelSelection(c), { mode: 'selected', refs: ['BBC One', '2', '3.1'] });
  });

  it('uses tvheadend/<server name> when the base topic is empty', () => {
    assert.equal(effectiveBaseTopic(migrateMqttConfig({}), 'Living Room'), 'tvheadend/living_room');
    assert.equal(effectiveBaseTopic(migrateMqttConfig({ baseTopic: 'x/y' }), 'Living Room'), 'x/y');
  });

  it('default client id: at most 23 characters (MQTT 3.1.1), stable per node, distinct between nodes', () => {
    for (const id of ['a1b2c3d4e5f60718', 'x', 'very.long:node-id/with_odd-characters-and-more-of-them']) {
      const c = defaultClientId(id);
      assert.ok(c.length <= 23, `${c} has ${c.length} characters`);
      assert.match(c, /^[0-9A-Za-z_]+$/, 'characters every broker accepts');
      assert.equal(defaultClientId(id), c);
    }
    assert.notEqual(defaultClientId('a1b2c3d4e5f60718'), defaultClientId('a1b2c3d4e5f60719'));
  });

  it('says in the status why the broker refused, in at most 20 characters', () => {
    const refused = (problem?: BridgeStatus['problem']): string | undefined =>
      mqttNodeStatus({ broker: 'refused', session: 'ready', ...(problem ? { problem } : {}) }, {}).text;
    const texts = {
      credentials: 'broker auth failed',
      refused: 'broker refused',
      'tls-untrusted': 'TLS: cert untrusted',
      'tls-expired': 'TLS: cert expired',
      'tls-hostname': 'TLS: wrong host name',
      tls: 'TLS failed',
    } as const;
    for (const [problem, text] of Object.entries(texts)) {
      assert.equal(refused(problem as keyof typeof texts), text);
      assert.ok(text.length <= 20, text);
    }
    assert.equal(refused(), 'broker refused');
    assert.equal(mqttNodeStatus({ broker: 'disconnected', session: 'ready' }, {}).text, 'broker offline');
  });
});

describe('tvheadend-mqtt node', () => {
  let sim: SimHandle;
  let broker: AedesBroker;
  const watchers: Watcher[] = [];

  before(async () => {
    await helper.startServer();
    sim = await startSim({ channels: 4 });
    broker = new AedesBroker({ credentials: { username: BROKER_USER, password: BROKER_PASSWORD } });
    await broker.start();
  });
  after(async () => {
    await helper.stopServer();
    await sim.stop();
    await broker.stop();
  });
  afterEach(async () => {
    await helper.unload();
    for (const w of watchers.splice(0)) await w.close();
  });

  const creds = (id = 'm1', password = BROKER_PASSWORD): Record<string, Record<string, string>> => ({
    ...credentials('s1'),
    [id]: { username: BROKER_USER, password },
  });

  async function watch(): Promise<Watcher> {
    const w = await Watcher.open(broker.url, ['#'], { username: BROKER_USER, password: BROKER_PASSWORD });
    watchers.push(w);
    return w;
  }

  it('publishes availability, state and discovery under tvheadend/<server name>, and shows online', async () => {
    const w = await watch();
    await helper.load(nodes, [TAB, serverNode('s1', sim.port, { name: 'Den TV', epg: true }), mqttNode('m1', broker.url)], creds());
    const statuses = statusesOf('m1');
    await waitFor(() => w.value('tvheadend/den_tv/status') === 'online', 'online');
    await waitFor(() => w.value('tvheadend/den_tv/recording') !== undefined, 'recording state');
    await waitFor(() => statuses.some((s) => s.fill === 'green' && s.text === 'online'), 'green status');
    await waitFor(() => w.value('homeassistant/binary_sensor/tvheadend_den_tv/recording/config') !== undefined, 'discovery');
    await waitFor(() => w.value('homeassistant/sensor/tvheadend_den_tv/now_sim_one_hd/config') !== undefined, 'now-playing sensor');
    for (const [topic, seen] of w.last) {
      if (topic.startsWith('homeassistant/') && seen.payload) assert.deepEqual(discoveryProblems(topic, seen.payload), [], topic);
    }
    const cfg = JSON.parse(w.value('homeassistant/binary_sensor/tvheadend_den_tv/recording/config') ?? '{}') as { origin: { name: string; sw: string } };
    assert.equal(cfg.origin.name, 'node-red-contrib-tvheadend');
    assert.match(cfg.origin.sw, /^\d+\.\d+\.\d+/);

    // Secrets: in no log line, no published payload, and not in the exported flow.
    const everything = loggedText() + [...w.last.values()].map((s) => s.payload).join('\n') + serialise(exportedFlows());
    for (const secret of [BROKER_PASSWORD, PASSWORD]) assert.ok(!everything.includes(secret), 'a password leaked');
  });

  it('says offline when it is closed', async () => {
    const w = await watch();
    await helper.load(nodes, [TAB, serverNode('s1', sim.port), mqttNode('m1', broker.url, { baseTopic: 'closing/test' })], creds());
    await waitFor(() => w.value('closing/test/status') === 'online', 'online');
    await helper.unload();
    await waitFor(() => w.value('closing/test/status') === 'offline', 'offline after close');
    const snap = await retainedSnapshot(broker.url, ['closing/test/#'], 300, { username: BROKER_USER, password: BROKER_PASSWORD });
    assert.equal(snap.get('closing/test/status'), 'offline');
    assert.ok(snap.has('closing/test/server'), 'the state stays for whoever looks later');
  });

  it('notes where it publishes under its node id, and a redeploy with another base topic clears the old one', async () => {
    const auth = { username: BROKER_USER, password: BROKER_PASSWORD };
    const note = (w: Watcher): { base?: string; prefix?: string; nodeId?: string } => w.json('tvheadend-bridge/m-move') ?? {};
    const w = await watch();
    const flow = (baseTopic: string): FlowNode[] => [TAB, serverNode('s1', sim.port), mqttNode('m-move', broker.url, { baseTopic })];
    await helper.load(nodes, flow('moving/before'), creds('m-move'));
    await waitFor(() => w.value('homeassistant/binary_sensor/moving_before/recording/config') !== undefined, 'discovery at the first base');
    await waitFor(() => note(w).base === 'moving/before', 'the note names the first base', 10_000);
    assert.deepEqual(note(w), { v: 1, base: 'moving/before', prefix: 'homeassistant', nodeId: 'moving_before', discovery: true });
    const old = await retainedSnapshot(broker.url, ['moving/before/#', 'homeassistant/+/moving_before/+/config'], 300, auth);
    assert.ok(old.size > 10, `${old.size} topics at the first base`);

    // Only the changed node restarts, as when the user edits it in the editor.
    await helper.setFlows(flow('moving/after'), 'nodes', creds('m-move'));
    await waitFor(() => note(w).base === 'moving/after', 'the note names the new base', 15_000);
    await waitFor(() => [...old.keys()].every((t) => w.value(t) === ''), 'the first base cleared', 15_000);
    const now = await retainedSnapshot(broker.url, ['moving/#', 'homeassistant/+/+/+/config'], 300, auth);
    assert.ok(![...now.keys()].some((t) => t.startsWith('moving/before/') || t.includes('/moving_before/')), 'nothing left of the old device');
    assert.equal(now.get('moving/after/status'), 'online');
    assert.ok(now.has('homeassistant/binary_sensor/moving_after/recording/config'));

    await helper.unload();
    for (const t of [...now.keys(), 'tvheadend-bridge/m-move']) await w.client.publishAsync(t, '', { qos: 1, retain: true });
  });

  it('clears its note when the node is deleted, and keeps it on a redeploy', async () => {
    const auth = { username: BROKER_USER, password: BROKER_PASSWORD };
    const w = await watch();
    const withNode = [TAB, serverNode('s1', sim.port), mqttNode('m-gone', broker.url, { baseTopic: 'deleted/node' })];
    await helper.load(nodes, withNode, creds('m-gone'));
    await waitFor(() => w.json('tvheadend-bridge/m-gone')?.base === 'deleted/node', 'the note', 10_000);
    // Restarted with the flow, not deleted: the note stays.
    await helper.setFlows(withNode.map((n) => (n.id === 'm-gone' ? { ...n, name: 'renamed' } : n)), 'nodes', creds('m-gone'));
    await waitFor(() => w.value('deleted/node/status') === 'offline', 'offline on the redeploy');
    await waitFor(() => w.value('deleted/node/status') === 'online', 'online again');
    assert.equal(w.json('tvheadend-bridge/m-gone')?.base, 'deleted/node', 'a redeploy keeps the note');

    await helper.setFlows([TAB, serverNode('s1', sim.port)], 'nodes', credentials('s1'));
    await waitFor(() => w.value('tvheadend-bridge/m-gone') === '', 'the note cleared', 10_000);
    const snap = await retainedSnapshot(broker.url, ['tvheadend-bridge/+', 'deleted/node/#'], 300, auth);
    assert.ok(!snap.has('tvheadend-bridge/m-gone'), 'no note of the deleted node is retained');
    assert.equal(snap.get('deleted/node/status'), 'offline');
    await helper.unload();
    for (const t of snap.keys()) await w.client.publishAsync(t, '', { qos: 1, retain: true });
  });

  it('shows a refused broker and does not retry with a wrong password', async () => {
    await helper.load(nodes, [TAB, serverNode('s1', sim.port), mqttNode('m1', broker.url, { baseTopic: 'refused/test' })], creds('m1', 'wrong-password'));
    const statuses = statusesOf('m1');
    await waitFor(() => statuses.some((s) => s.text === 'broker auth failed'), 'refused status');
    assert.ok(!loggedText().includes('wrong-password'));
    assert.match(loggedText(), /refused the user name or password.*not retrying until redeployed/);
  });

  it('shows "no server configured" without a server', async () => {
    await helper.load(nodes, [TAB, mqttNode('m1', broker.url, { server: '' })], {});
    // The status was set during construction, before any listener: read it from the spy's history.
    const node = helper.getNode('m1');
    const history = (node.status as unknown as { args?: Array<Array<{ text?: string }>> }).args ?? [];
    assert.ok(history.some((a) => a[0]?.text === 'no server configured'));
  });

  it('reports invalid settings instead of crashing', async () => {
    await helper.load(nodes, [TAB, serverNode('s1', sim.port), mqttNode('m1', 'http://not-mqtt')], creds());
    const node = helper.getNode('m1');
    const history = (node.status as unknown as { args?: Array<Array<{ text?: string }>> }).args ?? [];
    assert.ok(history.some((a) => a[0]?.text === 'invalid settings'));
  });
});

// Node-RED's own tls-config node, from the Node-RED under test (4.1 or 5).
const redPath = process.env.NODE_RED_PATH ?? require.resolve('node-red');
const tlsModule = createRequire(redPath)('@node-red/nodes/core/network/05-tls.js') as (RED: NodeAPI) => void;
const mosquittoBin = findMosquitto();
const opensslBin = findOpenssl();
const tlsMissing = [!mosquittoBin && 'mosquitto', !opensslBin && 'openssl'].filter((m): m is string => typeof m === 'string');
const onCi = process.env.CI === 'true';
if (tlsMissing.length && !onCi) {
  loudWarning([`WARNING: ${tlsMissing.join(' and ')} not installed: the tvheadend-mqtt TLS node tests are SKIPPED.`, 'CI fails without them.']);
}

describe('tvheadend-mqtt node with a tls-config node (mosquitto)', { skip: tlsMissing.length > 0 && !onCi && `${tlsMissing.join(' and ')} not installed` }, () => {
  let dir = '';
  let pki: TestPki;
  let broker: MosquittoBroker;
  let sim: SimHandle;
  const watchers: Watcher[] = [];

  before(async () => {
    if (!mosquittoBin || !opensslBin) throw new Error(`${tlsMissing.join(' and ')} not installed, and CI=true requires them`);
    dir = mkdtempSync(join(tmpdir(), 'tvh-node-tls-'));
    pki = makeTestPki(opensslBin, dir);
    broker = new MosquittoBroker(mosquittoBin, { tls: { caFile: pki.caFile, certFile: pki.certFile, keyFile: pki.keyFile } });
    await broker.start();
    await helper.startServer();
    sim = await startSim({ channels: 4 });
  });
  after(async () => {
    await helper.stopServer();
    await sim?.stop();
    await broker?.stop();
    broker?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await helper.unload();
    for (const w of watchers.splice(0)) await w.close();
  });

  /** As the editor saves it: a CA file path, "Verify server certificate" ticked. */
  function tlsNode(id: string, extra: Record<string, unknown> = {}): FlowNode {
    return { id, type: 'tls-config', name: '', cert: '', key: '', ca: pki.caFile, certname: '', keyname: '', caname: '', servername: '', verifyservercert: true, alpnprotocol: '', ...extra };
  }
  const tlsNodes = [serverModule, mqttModule, tlsModule];

  async function watch(base: string): Promise<Watcher> {
    const w = await Watcher.open(broker.url, [`${base}/#`]);
    watchers.push(w);
    return w;
  }

  it('connects over mqtts:// with the CA from the tls-config node and shows online', async () => {
    const w = await watch('nodetls/ok');
    await helper.load(
      tlsNodes,
      [TAB, serverNode('s1', sim.port), tlsNode('t1'), mqttNode('m1', broker.tlsUrl, { baseTopic: 'nodetls/ok', tls: 't1' })],
      credentials('s1'),
    );
    const statuses = statusesOf('m1');
    await waitFor(() => w.value('nodetls/ok/status') === 'online', 'online over TLS');
    await waitFor(() => statuses.some((s) => s.fill === 'green' && s.text === 'online'), 'green status');
  });

  it('with another CA, shows "TLS: cert untrusted" and logs why once', async () => {
    await helper.load(
      tlsNodes,
      [TAB, serverNode('s1', sim.port), tlsNode('t1', { ca: pki.otherCaFile }), mqttNode('m1', broker.tlsUrl, { baseTopic: 'nodetls/untrusted', tls: 't1' })],
      credentials('s1'),
    );
    const statuses = statusesOf('m1');
    await waitFor(() => statuses.some((s) => s.text === 'TLS: cert untrusted'), 'untrusted status');
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(statuses[statuses.length - 1]?.text, 'TLS: cert untrusted', 'the status stays');
    assert.equal(loggedText().match(/certificate is not trusted/g)?.length, 1, 'logged once');
  });

  it('"Verify server certificate" off connects without the CA', async () => {
    const w = await watch('nodetls/noverify');
    await helper.load(
      tlsNodes,
      [TAB, serverNode('s1', sim.port), tlsNode('t1', { ca: '', verifyservercert: false }), mqttNode('m1', broker.tlsUrl, { baseTopic: 'nodetls/noverify', tls: 't1' })],
      credentials('s1'),
    );
    await waitFor(() => w.value('nodetls/noverify/status') === 'online', 'online without verification');
  });

  it('warns that a TLS configuration does nothing on an mqtt:// URL', async () => {
    const w = await watch('nodetls/plain');
    await helper.load(
      tlsNodes,
      [TAB, serverNode('s1', sim.port), tlsNode('t1'), mqttNode('m1', broker.url, { baseTopic: 'nodetls/plain', tls: 't1' })],
      credentials('s1'),
    );
    await waitFor(() => w.value('nodetls/plain/status') === 'online', 'online over plain MQTT');
    assert.match(loggedText(), /TLS configuration is not used: only mqtts:\/\/ and wss:\/\/ URLs use TLS/);
  });

  it('refuses to connect with a tls-config node whose files cannot be read', async () => {
    await helper.load(
      tlsNodes,
      [TAB, serverNode('s1', sim.port), tlsNode('t1', { ca: join(dir, 'no-such-ca.crt') }), mqttNode('m1', broker.tlsUrl, { baseTopic: 'nodetls/bad', tls: 't1' })],
      credentials('s1'),
    );
    const node = helper.getNode('m1');
    const history = (node.status as unknown as { args?: Array<Array<{ text?: string }>> }).args ?? [];
    assert.ok(history.some((a) => a[0]?.text === 'invalid TLS settings'));
  });
});
