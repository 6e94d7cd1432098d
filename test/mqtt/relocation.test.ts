// A bridge with an instance id notes where it publishes (`tvheadend-bridge/<id>`) and, after its
// base topic or discovery prefix changed, clears what it left at the old place: the rules on
// their own first, then against Aedes and mosquitto with the simulator behind a real session.
import { describe, test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { HtspSession } from '../../src/htsp';
import { TvheadendSimulator } from '../../src/sim';
import { MqttBridge, Topics, type BridgeOptions } from '../../src/mqtt';
import {
  claimedBy,
  encodePlace,
  filtersOverlap,
  instanceIdProblem,
  leftoverFilters,
  leftovers,
  parsePlace,
  publishedAt,
  readbackFilters,
  registryInstanceOf,
  REGISTRY_ROOT,
  usedBy,
  type BridgePlace,
} from '../../src/mqtt/registry';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AedesBroker, brokerMatrix, findMosquitto, MosquittoBroker, type TestBroker } from './brokers';
import { brokerPerSuite, retainedSnapshot, simWithSession, stopBridgeTest, waitFor, Watcher } from './helpers';

const ORIGIN = { name: 'node-red-contrib-tvheadend', sw: '0.1.0', url: 'https://example.invalid/node-red-contrib-tvheadend' };
const PREFIX = 'hamove';

const FAST = {
  publishIntervalMs: 50,
  readbackMs: 300,
  haBirthDelayMs: 100,
  statsIntervalMs: 300,
  statusPollMs: 200,
  progressIntervalMs: 60_000,
};

function place(base: string, prefix = 'homeassistant', discovery = true): BridgePlace {
  const t = new Topics(base, prefix);
  return { base, prefix, nodeId: t.nodeId, discovery };
}

describe('bridge notes: the rules', () => {
  test('a note round-trips, and anything malformed is no note', () => {
    const p = place('tv/den', 'ha');
    assert.deepEqual(parsePlace(encodePlace(p)), p);
    assert.deepEqual(JSON.parse(encodePlace(p)), { v: 1, base: 'tv/den', prefix: 'ha', nodeId: 'tv_den', discovery: true });
    for (const bad of [
      '',
      'not json',
      '[]',
      'null',
      '{"base":"tv/#","prefix":"ha","nodeId":"x"}',
      '{"base":"tv/den","prefix":"+","nodeId":"x"}',
      '{"base":"tv/den","prefix":"ha","nodeId":"a/b"}',
      '{"base":"","prefix":"ha","nodeId":"x"}',
      '{"base":"tv/den","prefix":"ha"}',
      '{"base":7,"prefix":"ha","nodeId":"x"}',
    ]) {
      assert.equal(parsePlace(bad), undefined, bad);
    }
  });

  test('instance ids: one topic level that is no state topic name', () => {
    assert.equal(instanceIdProblem('a1b2c3d4e5f60718'), undefined);
    assert.equal(instanceIdProblem('7f3a2b1c.8d9e4'), undefined);
    assert.equal(instanceIdProblem('sf1-n2'), undefined);
    for (const bad of ['', 'a/b', 'a+', '#', 'server', 'status']) assert.ok(instanceIdProblem(bad), bad);
    assert.equal(registryInstanceOf(`${REGISTRY_ROOT}/abc`), 'abc');
    // With the base topic `tvheadend-bridge` these are the bridge's own states, not notes.
    assert.equal(registryInstanceOf(`${REGISTRY_ROOT}/server`), undefined);
    assert.equal(registryInstanceOf(`${REGISTRY_ROOT}/dvr/1`), undefined);
    assert.equal(registryInstanceOf('other/abc'), undefined);
  });

  test('only the shapes the bridge publishes count as left behind', () => {
    const old = place('tv/old', 'ha');
    for (const t of ['tv/old/status', 'tv/old/server', 'tv/old/last_failed', 'tv/old/dvr/12', 'tv/old/channel/bbc_one', 'ha/sensor/tv_old/viewers/config']) {
      assert.ok(publishedAt(old, t), t);
    }
    for (const t of [
      'tv/old',
      'tv/old/cmd/getSysTime',
      'tv/old/reply/getSysTime',
      'tv/old/something_else',
      'tv/old/dvr/abc',
      'tv/old/dvr/1/x',
      'tv/old/channel/Not_A_Slug',
      'ha/sensor/other_node/viewers/config',
      'ha/sensor/tv_old/viewers/state',
      'ha/x/sensor/tv_old/viewers/config',
      `${REGISTRY_ROOT}/abc`,
    ]) {
      assert.ok(!publishedAt(old, t), t);
    }
  });

  test('filters: only the levels that moved are read back, and overlaps are found', () => {
    const all = (filters: string[]) => ({ filters, complete: true });
    assert.deepEqual(readbackFilters(place('a/x', 'ha')), ['a/x/+', 'a/x/dvr/+', 'a/x/channel/+', 'ha/+/a_x/+/config']);
    assert.deepEqual(leftoverFilters(place('a/x', 'ha'), place('a/y', 'ha')), all(['a/x/+', 'a/x/dvr/+', 'a/x/channel/+', 'ha/+/a_x/+/config']));
    assert.deepEqual(leftoverFilters(place('a/x', 'ha'), place('a/x', 'hb')), all(['ha/+/a_x/+/config']));
    // Another base, the same node id: the configs are the current ones.
    assert.deepEqual(leftoverFilters(place('a/x', 'ha'), place('a_x', 'ha')), all(['a/x/+', 'a/x/dvr/+', 'a/x/channel/+']));
    // An old base `<new base>/cmd`: its states lie under the new commands (reading them back
    // would deliver commands twice, and clearing there is never done); its configs can be read,
    // and the place counts as unread.
    assert.deepEqual(leftoverFilters(place('a/cmd', 'ha'), place('a', 'ha')), { filters: ['ha/+/a_cmd/+/config'], complete: false });
    assert.deepEqual(leftoverFilters(place('a/reply/x', 'ha'), place('a', 'ha')).complete, false);
    assert.ok(filtersOverlap('a/cmd/+', 'a/cmd/+'));
    assert.ok(filtersOverlap('a/+', 'a/status'));
    assert.ok(filtersOverlap('a/+/c', 'a/b/+'));
    assert.ok(!filtersOverlap('a/+', 'a/cmd/+'));
    assert.ok(!filtersOverlap('a/b/+', 'a/c/+'));
  });

  test('nested bases: nothing of the current place is ever left over, whichever base holds the other', () => {
    // The old base holds the new one: `t/a/channel/+` of the old place matches the new states.
    const outer = place('t/a', 'ha');
    const inner = place('t/a/channel', 'ha');
    const newTopics = ['t/a/channel/status', 't/a/channel/server', 't/a/channel/dvr/5', 't/a/channel/cmd/x'];
    const fromOuter = leftovers(outer, [...newTopics, 't/a/server', 't/a/channel/sim_one'], inner, []);
    // `t/a/channel/sim_one` was the old place's channel; the new place has no such level.
    assert.deepEqual(fromOuter.clear, ['t/a/server', 't/a/channel/sim_one']);
    // The new base holds the old one: the old states are shaped like the new place's channel
    // topics and stay (the new place's own read-back judges them); what the new place never
    // publishes, the old DVR entries and channels, goes.
    const fromInner = leftovers(inner, ['t/a/channel/server', 't/a/channel/status', 't/a/server', 't/a/status', 't/a/channel/dvr/5', 't/a/channel/channel/bbc'], outer, []);
    assert.deepEqual(fromInner.clear, ['t/a/channel/dvr/5', 't/a/channel/channel/bbc']);
    for (const t of [...newTopics, 't/a/channel', 'ha/sensor/t_a_channel/x/config', 'ha/status']) assert.ok(usedBy(inner, t), t);
    for (const t of ['t/a/channel/anything/at/all', 't/a/channel/dvr/x']) {
      assert.ok(!usedBy(inner, t) && claimedBy(inner, t), `${t}: another instance's, not the current place's`);
    }
  });

  test("another instance's place, HA's status topic and commands are never left over", () => {
    const old = place('ha', 'ha');
    const other = place('ha', 'ha');
    const seen = ['ha/status', 'ha/server', 'ha/cmd/getSysTime'];
    assert.deepEqual(leftovers(old, seen, place('x', 'hx'), []).clear, ['ha/server']);
    const r = leftovers(old, seen, place('x', 'hx'), [other]);
    assert.deepEqual(r.clear, []);
    assert.deepEqual(r.othersUse, ['ha/server']);
  });

  test('a bad instance id is refused at construction', () => {
    const opts = { broker: { url: 'mqtt://127.0.0.1:1' }, baseTopic: 'a', origin: ORIGIN } as const;
    const session = { state: 'disconnected' } as unknown as BridgeOptions['session'];
    assert.throws(() => new MqttBridge({ ...opts, session, serverStatus: false, instanceId: 'a/b' }), /instance id/);
  });
});

let counter = 0;

for (const entry of brokerMatrix()) {
  describe(`bridge moves on ${entry.name}`, { skip: entry.skip }, () => {
    let broker: TestBroker;
    let sim: TvheadendSimulator;
    let session: HtspSession;
    let bridges: MqttBridge[] = [];
    let watchers: Watcher[] = [];
    /** Unique per test: bases, prefixes and instance ids derive from it. */
    let run = '';
    /** Retained topics the test itself seeded or caused, cleared afterwards. */
    let litter: string[] = [];

    brokerPerSuite(entry.make, (b) => (broker = b));

    beforeEach(async () => {
      ({ sim, session } = await simWithSession());
      run = `mv${++counter}_${entry.name}`;
      litter = [];
    });

    afterEach(async () => {
      await stopBridgeTest(bridges, watchers, session, sim);
      if (litter.length) {
        const c = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
        for (const t of litter) await c.publishAsync(t, '', { qos: 1, retain: true });
        await c.endAsync();
      }
    });

    const note = (id: string): string => `${REGISTRY_ROOT}/${id}`;

    function start(id: string, base: string, extra: Partial<BridgeOptions> = {}): MqttBridge {
      const b = new MqttBridge({
        session,
        broker: { url: broker.url, reconnectPeriodMs: 200, connectTimeoutMs: 3000 },
        baseTopic: base,
        discoveryPrefix: PREFIX,
        origin: ORIGIN,
        timing: FAST,
        instanceId: id,
        ...extra,
      });
      bridges.push(b);
      litter.push(note(id));
      b.start();
      return b;
    }

    async function stop(b: MqttBridge): Promise<void> {
      await b.stop(1000);
      bridges = bridges.filter((x) => x !== b);
    }

    async function watch(filters = ['#']): Promise<Watcher> {
      const w = await Watcher.open(broker.url, filters);
      watchers.push(w);
      return w;
    }

    async function seed(topics: Record<string, string>): Promise<void> {
      const c = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
      for (const [t, p] of Object.entries(topics)) {
        await c.publishAsync(t, p, { qos: 1, retain: true });
        litter.push(t);
      }
      await c.endAsync();
    }

    /** The bridge's whole state is out: availability, disk, viewers (and a config with discovery). */
    function settled(w: Watcher, base: string, prefix: string | null = PREFIX): boolean {
      return (
        w.value(`${base}/status`) === 'online' &&
        w.value(`${base}/disk`) !== undefined &&
        w.value(`${base}/viewers`) !== undefined &&
        (prefix === null || !!w.value(`${prefix}/sensor/${new Topics(base, prefix).nodeId}/viewers/config`))
      );
    }

    /** What the note of `id` says, as the watcher last saw it. */
    function noted(w: Watcher, id: string): BridgePlace | undefined {
      const v = w.value(note(id));
      return v ? parsePlace(v) : undefined;
    }

    /** Every retained topic of a place: states under the base (commands included) and its configs. */
    async function placeSnapshot(base: string, prefix = PREFIX): Promise<Map<string, string>> {
      const nodeId = new Topics(base, prefix).nodeId;
      const snap = await retainedSnapshot(broker.url, [`${base}/#`, `${prefix}/+/${nodeId}/+/config`]);
      litter.push(...snap.keys());
      return snap;
    }

    /** A first bridge at `base` runs until settled and noted, and stops (as a redeploy would). */
    async function firstRun(w: Watcher, id: string, base: string, extra: Partial<BridgeOptions> = {}): Promise<Map<string, string>> {
      const prefix = extra.discoveryPrefix ?? PREFIX;
      const b = start(id, base, extra);
      await waitFor('first run settled', () => settled(w, base, extra.discovery === false ? null : prefix));
      await waitFor('first run noted', () => noted(w, id)?.base === base && noted(w, id)?.prefix === prefix);
      await stop(b);
      return placeSnapshot(base, prefix);
    }

    test('a base change clears every old state topic and config, and nothing else', async () => {
      const id = `${run}_a`;
      const oldBase = `tvmove/${run}/old`;
      const newBase = `tvmove/${run}/new`;
      const oldNode = new Topics(oldBase, PREFIX).nodeId;
      const foreign = {
        [`${oldBase}/cmd/getSysTime`]: '{"retained":"command"}',
        [`${oldBase}/something_else`]: '{"theirs":true}',
        [`${PREFIX}/sensor/someone_else_${run}/thing/config`]: '{"theirs":true}',
        [`elsewhere/${run}/server`]: '{"theirs":true}',
      };
      const w = await watch();
      const before = await firstRun(w, id, oldBase);
      const ours = [...before.keys()];
      // After the first run: while it ran, all under its base was its own to clean.
      await seed(foreign);
      assert.ok(ours.some((t) => t.startsWith(`${PREFIX}/`)) && ours.some((t) => t.startsWith(`${oldBase}/dvr/`)), 'states and configs were published');
      assert.ok(ours.length > 30, `${ours.length} topics`);
      assert.equal(before.get(`${oldBase}/status`), 'offline');

      // Few messages per flush: the cleanup has to go on over several flushes.
      start(id, newBase, { timing: { ...FAST, maxPerFlush: 7 } });
      await waitFor('new place settled', () => settled(w, newBase));
      await waitFor('note moved', () => noted(w, id)?.base === newBase, 15_000);
      await waitFor('old topics cleared', () => ours.every((t) => w.value(t) === ''), 15_000);

      const after = await retainedSnapshot(broker.url, ['#']);
      for (const t of ours) assert.ok(!after.has(t), `${t} cleared`);
      for (const [t, p] of Object.entries(foreign)) assert.equal(after.get(t), p, `${t} untouched`);
      assert.equal(after.get(`${newBase}/status`), 'online');
      assert.ok(after.has(`${newBase}/server`) && after.has(`${newBase}/recording`));
      assert.ok(after.has(`${PREFIX}/binary_sensor/${new Topics(newBase, PREFIX).nodeId}/recording/config`));
      assert.ok(![...after.keys()].some((t) => t.includes(`/${oldNode}/`)), 'no config of the old device left');
      assert.deepEqual(parsePlace(after.get(note(id)) ?? ''), place(newBase, PREFIX));
      // The note moves only after the last removal: an interrupted cleanup is found again.
      let lastClear = -1;
      w.log.forEach((m, i) => {
        if (m.payload === '' && ours.includes(m.topic)) lastClear = i;
      });
      const moved = w.log.findIndex((m) => m.topic === note(id) && parsePlace(m.payload)?.base === newBase);
      assert.ok(moved > lastClear, `note written at ${moved}, last removal at ${lastClear}`);
      litter.push(...after.keys());
    });

    test('a prefix change clears the old configs and keeps the states', async () => {
      const id = `${run}_p`;
      const base = `tvmove/${run}/base`;
      const oldPrefix = `${PREFIX}_${run}_old`;
      const newPrefix = `${PREFIX}_${run}_new`;
      const w = await watch();
      const before = await firstRun(w, id, base, { discoveryPrefix: oldPrefix });
      const configs = [...before.keys()].filter((t) => t.startsWith(`${oldPrefix}/`));
      assert.ok(configs.length > 5, `${configs.length} configs`);

      start(id, base, { discoveryPrefix: newPrefix });
      await waitFor('new configs', () => settled(w, base, newPrefix));
      await waitFor('note moved', () => noted(w, id)?.prefix === newPrefix);
      await waitFor('old configs cleared', () => configs.every((t) => w.value(t) === ''));
      const after = await retainedSnapshot(broker.url, [`${oldPrefix}/#`, `${newPrefix}/#`, `${base}/#`]);
      litter.push(...after.keys());
      assert.ok(![...after.keys()].some((t) => t.startsWith(`${oldPrefix}/`)), 'nothing left under the old prefix');
      assert.equal([...after.keys()].filter((t) => t.startsWith(`${newPrefix}/`)).length, configs.length, 'the same entities, announced anew');
      // The states stayed where they were: each present, none ever cleared.
      for (const t of before.keys()) if (t.startsWith(`${base}/`)) assert.ok(after.has(t), `${t} kept`);
      assert.ok(!w.log.some((m) => m.topic.startsWith(`${base}/`) && m.payload === ''), 'no state topic was cleared');
    });

    test('discovery turned off removes the configs, in place and with a base change', async () => {
      // In place: the connect-time read-back finds the configs no longer announced.
      const id = `${run}_d`;
      const base = `tvmove/${run}/d1`;
      const w = await watch();
      const before = await firstRun(w, id, base);
      const configs = [...before.keys()].filter((t) => t.startsWith(`${PREFIX}/`));
      assert.ok(configs.length > 5);
      const b = start(id, base, { discovery: false });
      await waitFor('note says discovery off', () => noted(w, id)?.discovery === false);
      await waitFor('configs removed in place', () => configs.every((t) => w.value(t) === ''));
      assert.equal(w.value(`${base}/status`), 'online');
      await stop(b);

      // Moving with discovery off: the old place's states and configs go, and none appear.
      const id2 = `${run}_d2`;
      const base2 = `tvmove/${run}/d2`;
      const base3 = `tvmove/${run}/d3`;
      const before2 = await firstRun(w, id2, base2);
      const ours = [...before2.keys()];
      assert.ok(ours.some((t) => t.startsWith(`${PREFIX}/`)));
      start(id2, base3, { discovery: false });
      await waitFor('new place settled', () => settled(w, base3, null));
      await waitFor('note moved', () => noted(w, id2)?.base === base3);
      await waitFor('old place cleared', () => ours.every((t) => w.value(t) === ''));
      const after = await placeSnapshot(base3);
      assert.ok(![...after.keys()].some((t) => t.startsWith(`${PREFIX}/`)), 'no configs at the new place');
      assert.deepEqual(parsePlace(w.value(note(id2)) ?? ''), { ...place(base3, PREFIX), discovery: false });
    });

    test('a base change that keeps the node id keeps the configs', async () => {
      const id = `${run}_n`;
      const oldBase = `tvmove/${run}x`;
      const newBase = `tvmove_${run}x`;
      assert.equal(new Topics(oldBase, PREFIX).nodeId, new Topics(newBase, PREFIX).nodeId);
      const w = await watch();
      const before = await firstRun(w, id, oldBase);
      const states = [...before.keys()].filter((t) => t.startsWith(`${oldBase}/`));
      const configs = [...before.keys()].filter((t) => t.startsWith(`${PREFIX}/`));
      start(id, newBase);
      await waitFor('note moved', () => noted(w, id)?.base === newBase);
      await waitFor('old states cleared', () => states.every((t) => w.value(t) === ''));
      const after = await retainedSnapshot(broker.url, [`${PREFIX}/#`]);
      for (const t of configs) assert.ok(after.has(t), `${t} kept`);
      for (const t of configs) assert.equal((JSON.parse(after.get(t) ?? '{}') as Record<string, unknown>)['~'], newBase, `${t} points at the new base`);
      litter.push(...(await placeSnapshot(newBase)).keys());
    });

    for (const [label, oldSuffix, newSuffix] of [
      ['the old base holds the new one', 'a', 'a/channel'],
      ['the new base holds the old one', 'a/channel', 'a'],
    ] as const) {
      test(`nested bases (${label}): the new place loses nothing`, async () => {
        // A channel named like a state topic: under `<x>/channel` it is shaped like the old
        // place's `status`/`server` when the old base is `<x>/channel`.
        const ch = sim.channels[0];
        sim.updateChannel(ch.id, { name: 'Server' });
        await waitFor('channel renamed', () => session.findChannel(ch.id)?.channelName === 'Server');
        const channels = { mode: 'selected', refs: ['Server'] } as const;
        const id = `${run}_nest`;
        const oldBase = `tvmove/${run}/${oldSuffix}`;
        const newBase = `tvmove/${run}/${newSuffix}`;
        const w = await watch();
        const before = await firstRun(w, id, oldBase, { channels });
        const mark = w.log.length;
        start(id, newBase, { channels });
        await waitFor('new place settled', () => settled(w, newBase) && w.value(`${newBase}/channel/server`));
        await waitFor('note moved', () => noted(w, id)?.base === newBase);
        // What the new bridge publishes; some of it is where the old bridge published too.
        const mine = new Set(w.log.slice(mark).filter((m) => m.payload !== '' && m.topic !== note(id)).map((m) => m.topic));
        const ours = [...before.keys()].filter((t) => !mine.has(t));
        assert.ok(mine.size > 20 && ours.length > 20, `${mine.size} new, ${ours.length} old topics`);
        await waitFor('old place cleared', () => ours.every((t) => w.value(t) === ''));
        const now = await placeSnapshot(newBase);
        for (const t of mine) if (w.value(t) !== '') assert.ok(now.has(t), `${t} kept`);
        assert.ok(now.has(`${newBase}/channel/server`) && now.has(`${newBase}/status`) && now.has(`${newBase}/server`));
        const cleared = w.log.slice(mark).filter((m) => m.payload === '').map((m) => m.topic);
        for (const t of cleared) assert.ok(ours.includes(t), `${t} cleared, and it is an old topic`);
        assert.ok(!cleared.some((t) => mine.has(t)), 'nothing the new bridge published was cleared');
      });
    }

    test('a first start with no note only writes the note', async () => {
      const id = `${run}_first`;
      const base = `tvmove/${run}/first`;
      // Shapes the bridge would publish, at a place it never noted: none of its business.
      const others = {
        [`tvmove/${run}/unnoted/server`]: '{"theirs":true}',
        [`tvmove/${run}/unnoted/dvr/1`]: '{"theirs":true}',
        [`${PREFIX}/sensor/tvmove_${run}_unnoted/viewers/config`]: '{"theirs":true}',
      };
      await seed(others);
      const w = await watch();
      start(id, base);
      await waitFor('settled', () => settled(w, base));
      await waitFor('note written', () => noted(w, id));
      assert.deepEqual(noted(w, id), place(base, PREFIX));
      // The bridge's whole run (what was sent live, not what the broker held before): no
      // removal anywhere, nothing outside its place.
      await waitFor('a full status poll', () => w.value(`${base}/tuners`) !== undefined);
      const live = w.log.filter((m) => !m.retain);
      assert.deepEqual(
        live.filter((m) => m.payload === '').map((m) => m.topic),
        [],
        'nothing was cleared',
      );
      const ownPlace = (t: string): boolean => t.startsWith(`${base}/`) || t.startsWith(`${PREFIX}/`) || t === note(id);
      assert.deepEqual(live.filter((m) => !ownPlace(m.topic)).map((m) => m.topic), []);
      const snap = await retainedSnapshot(broker.url, Object.keys(others));
      for (const [t, p] of Object.entries(others)) assert.equal(snap.get(t), p);
      litter.push(...(await placeSnapshot(base)).keys());
    });

    test('a copy keeping the base and the original moving, started together: the copy keeps its states and device', async () => {
      const a = `${run}_orig`;
      const c = `${run}_copy`;
      const baseX = `tvmove/${run}/X`;
      const baseY = `tvmove/${run}/Y`;
      const w = await watch();
      const before = await firstRun(w, a, baseX);
      const ours = [...before.keys()];
      assert.ok(ours.some((t) => t.startsWith(`${PREFIX}/`)) && ours.length > 30, `${ours.length} topics`);
      const mark = w.log.length;

      // One deploy: the original moves to Y, its copy (a new id) keeps X. Neither has seen the
      // other's note when its first read-back ends.
      start(a, baseY);
      start(c, baseX);
      await waitFor('both settled', () => settled(w, baseX) && settled(w, baseY));
      await waitFor('the copy noted', () => noted(w, c)?.base === baseX);
      await waitFor('the original noted at Y', () => noted(w, a)?.base === baseY, 15_000);

      const cleared = w.log.slice(mark).filter((m) => m.payload === '' && ours.includes(m.topic));
      assert.deepEqual(
        cleared.map((m) => m.topic),
        [],
        "nothing of the copy's place was cleared",
      );
      const nowX = await placeSnapshot(baseX);
      for (const t of ours) if (t !== `${baseX}/status`) assert.ok(nowX.has(t), `${t} kept`);
      assert.equal(nowX.get(`${baseX}/status`), 'online');
      litter.push(...(await placeSnapshot(baseY)).keys());
    });

    test('a bridge without a note online at the old base: nothing there is cleared', async () => {
      const a = `${run}_moving`;
      const baseX = `tvmove/${run}/X`;
      const baseY = `tvmove/${run}/Y`;
      const w = await watch();
      const ours = [...(await firstRun(w, a, baseX)).keys()];
      // Another bridge (no instance id, so no note) takes over the old base.
      const other = new MqttBridge({
        session,
        broker: { url: broker.url, reconnectPeriodMs: 200 },
        baseTopic: baseX,
        discoveryPrefix: PREFIX,
        origin: ORIGIN,
        timing: FAST,
      });
      bridges.push(other);
      other.start();
      await waitFor('the other bridge settled', () => settled(w, baseX));
      const mark = w.log.length;
      const lines: string[] = [];
      start(a, baseY, { log: (_level, text) => lines.push(text) });
      await waitFor('note moved', () => noted(w, a)?.base === baseY, 15_000);
      assert.ok(lines.some((l) => l.includes(`${baseX}/status says online`)), lines.join('\n'));
      assert.deepEqual(
        w.log.slice(mark).filter((m) => m.payload === '' && ours.includes(m.topic)).map((m) => m.topic),
        [],
        "nothing of the other bridge's place was cleared",
      );
      litter.push(...(await placeSnapshot(baseX)).keys(), ...(await placeSnapshot(baseY)).keys());
    });

    test('an old base under the new commands: its configs are cleared, its states stay, and so does the note', async () => {
      const id = `${run}_cmd`;
      const newBase = `tvmove/${run}/c`;
      const oldBase = `${newBase}/cmd`;
      const w = await watch();
      const before = await firstRun(w, id, oldBase);
      const readable = [...before.keys()].filter((t) => t.startsWith(`${PREFIX}/`));
      const unreadable = [...before.keys()].filter((t) => t.startsWith(`${oldBase}/`));
      assert.ok(readable.length > 10 && unreadable.length > 10, `${readable.length} readable, ${unreadable.length} not`);
      const lines: string[] = [];
      start(id, newBase, { log: (_level, text) => lines.push(text) });
      await waitFor('new place settled', () => settled(w, newBase));
      await waitFor('warned', () => lines.some((l) => l.includes('cannot be read back')));
      await waitFor('readable old topics cleared', () => readable.every((t) => w.value(t) === ''));
      // The clears and a note would go out together; a snapshot comes several flushes later.
      const snap = await retainedSnapshot(broker.url, [note(id), `${oldBase}/#`]);
      assert.equal(parsePlace(snap.get(note(id)) ?? '')?.base, oldBase, 'the note still names the old place');
      for (const t of unreadable) assert.ok(snap.has(t), `${t} left`);
      litter.push(...snap.keys(), ...(await placeSnapshot(newBase)).keys());
    });

    test('two bridges with different instance ids do not clean each other', async () => {
      const a = `${run}_a`;
      const b = `${run}_b`;
      const c = `${run}_c`;
      const baseA = `tvmove/${run}/A`;
      const baseB = `tvmove/${run}/B`;
      const w = await watch();
      const bridgeA = start(a, baseA);
      const bridgeB = start(b, baseB);
      await waitFor('both settled', () => settled(w, baseA) && settled(w, baseB));
      await waitFor('both noted', () => noted(w, a) && noted(w, b));
      const placeB = await placeSnapshot(baseB);
      assert.ok(placeB.size > 30);

      // A copy of B (another id, B's base) starts, and is then moved elsewhere: B still uses
      // that base, so the copy leaves it alone.
      const copy = start(c, baseB);
      await waitFor('copy noted', () => noted(w, c)?.base === baseB);
      await stop(copy);
      const baseC = `tvmove/${run}/C`;
      start(c, baseC);
      await waitFor('copy moved', () => noted(w, c)?.base === baseC);
      await waitFor('copy settled', () => settled(w, baseC));

      // A moves while B runs: A's old place goes, B's stays.
      const beforeA = await placeSnapshot(baseA);
      const baseA2 = `tvmove/${run}/A2`;
      await stop(bridgeA);
      start(a, baseA2);
      await waitFor('A moved', () => noted(w, a)?.base === baseA2);
      await waitFor('A settled again', () => settled(w, baseA2));
      await waitFor("A's old place cleared", () => [...beforeA.keys()].every((t) => w.value(t) === ''));

      assert.ok(bridges.includes(bridgeB));
      // (The copy's stop said `offline` on B's status topic: two bridges on one base share it.)
      const nowB = await placeSnapshot(baseB);
      for (const t of placeB.keys()) assert.ok(nowB.has(t), `${t} of B kept`);
      assert.ok(!w.log.some((m) => m.payload === '' && claimedBy(place(baseB, PREFIX), m.topic)), 'nothing of B was ever cleared');
      assert.deepEqual(noted(w, b), place(baseB, PREFIX));
      litter.push(...(await placeSnapshot(baseA2)).keys(), ...(await placeSnapshot(baseC)).keys());
    });
  });
}

describe('bridge moves on a broker that replays retained messages slowly', () => {
  let broker: AedesBroker;
  let sim: TvheadendSimulator;
  let session: HtspSession;
  const bridges: MqttBridge[] = [];
  const watchers: Watcher[] = [];

  before(async () => {
    // ~45 topics at the old place, one every 20 ms: the replay lasts about twice `readbackMs`.
    broker = new AedesBroker({ retainedPaceMs: 20 });
    await broker.start();
    ({ sim, session } = await simWithSession());
  });
  after(async () => {
    await stopBridgeTest(bridges, watchers, session, sim);
    await broker.stop();
  });

  test('the old place is read until its replay goes quiet, and all of it is cleared', async () => {
    const timing = { ...FAST, readbackMs: 400 };
    const make = (base: string): MqttBridge => {
      const b = new MqttBridge({
        session,
        broker: { url: broker.url, reconnectPeriodMs: 200 },
        baseTopic: base,
        discoveryPrefix: PREFIX,
        origin: ORIGIN,
        timing,
        instanceId: 'slow',
      });
      bridges.push(b);
      b.start();
      return b;
    };
    const w = await Watcher.open(broker.url);
    watchers.push(w);
    const first = make('slow/old');
    await waitFor('first run noted', () => parsePlace(w.value(`${REGISTRY_ROOT}/slow`) ?? '')?.base === 'slow/old', 15_000);
    await waitFor('first run complete', () => w.value('slow/old/tuners') !== undefined && w.value('slow/old/disk') !== undefined);
    await first.stop(1000);
    bridges.splice(bridges.indexOf(first), 1);
    const ours = [...(await retainedSnapshot(broker.url, ['slow/old/#', `${PREFIX}/+/slow_old/+/config`])).keys()];
    assert.ok(ours.length > 30, `${ours.length} topics`);

    make('slow/new');
    await waitFor('note moved', () => parsePlace(w.value(`${REGISTRY_ROOT}/slow`) ?? '')?.base === 'slow/new', 15_000);
    // The note moves after the last removal: everything the replay brought is cleared by now.
    const left = ours.filter((t) => w.value(t) !== '');
    assert.deepEqual(left, [], `${left.length} of ${ours.length} old topics left`);
  });
});

const mosquittoBin = findMosquitto();

describe('a broker whose ACL leaves out tvheadend-bridge/#', { skip: !mosquittoBin && 'mosquitto not installed' }, () => {
  test('the refused note is reported once, with the reason, and the bridge publishes as usual', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tvh-acl-'));
    const aclFile = join(dir, 'acl');
    writeFileSync(aclFile, `topic readwrite acl/#\ntopic readwrite ${PREFIX}/#\n`);
    const broker = new MosquittoBroker(mosquittoBin ?? '', { aclFile });
    await broker.start();
    const { sim, session } = await simWithSession();
    const lines: string[] = [];
    const bridge = new MqttBridge({
      session,
      broker: { url: broker.url, reconnectPeriodMs: 200, protocolVersion: 5 },
      baseTopic: 'acl/tv',
      discoveryPrefix: PREFIX,
      origin: ORIGIN,
      timing: FAST,
      instanceId: 'acl',
      log: (level, text) => lines.push(`${level}: ${text}`),
    });
    const w = await Watcher.open(broker.url, ['acl/#']);
    try {
      bridge.start();
      await waitFor('the bridge publishes', () => w.value('acl/tv/status') === 'online' && w.value('acl/tv/disk') !== undefined);
      const refused = (): string[] => lines.filter((l) => l.includes('refused the note'));
      await waitFor('the refusal is logged', () => refused().length > 0);
      assert.match(refused()[0] ?? '', /^warn: .*tvheadend-bridge\/acl.*ACL allow tvheadend-bridge\/#/);
      // After a full republish it still was said once: the note is not tried again on this connection.
      const mark = w.log.length;
      bridge.republish();
      await waitFor('republished', () => w.log.slice(mark).some((m) => m.topic === 'acl/tv/server'));
      assert.equal(refused().length, 1);
    } finally {
      await stopBridgeTest([bridge], [w], session, sim);
      await broker.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
