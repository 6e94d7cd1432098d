// The tvheadend-mqtt node in Node-RED: settings, status, credentials, and its lifecycle against
// the simulator and a real (Aedes) broker that wants a user and password.
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import serverModule = require('../../src/nodes/server/tvheadend-server');
import mqttModule = require('../../src/nodes/mqtt/tvheadend-mqtt');
import { channelSelection, effectiveBaseTopic, migrateMqttConfig, MQTT_DEFAULTS } from '../../src/nodes/mqtt/config';
import { discoveryProblems, DEFAULT_ALLOWED } from '../../src/mqtt';
import { AedesBroker } from '../mqtt/brokers';
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

  it('shows a refused broker and does not retry with a wrong password', async () => {
    await helper.load(nodes, [TAB, serverNode('s1', sim.port), mqttNode('m1', broker.url, { baseTopic: 'refused/test' })], creds('m1', 'wrong-password'));
    const statuses = statusesOf('m1');
    await waitFor(() => statuses.some((s) => s.text === 'broker refused'), 'refused status');
    assert.ok(!loggedText().includes('wrong-password'));
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
