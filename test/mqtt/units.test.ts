// Pure parts of the bridge: topic names, discovery validation, allow-list, command parsing,
// state derivation (rounding that keeps the publish rate down), and broker credentials.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { MetadataCache } from '../../src/htsp/cache';
import type { HtsmsgMap } from '../../src/htsp/codec';
import {
  CommandRunner,
  DEFAULT_ALLOWED,
  MqttBridge,
  OwnSubscriptions,
  Topics,
  computeState,
  defaultBaseTopic,
  discoveryConfigs,
  discoveryProblems,
  normaliseAllowList,
  slug,
  toJson,
  topicProblem,
  type BridgeSession,
} from '../../src/mqtt';
import { AedesBroker } from './brokers';
import { waitFor } from './helpers';

const ORIGIN = { name: 'node-red-contrib-tvheadend', sw: '1.0.0', url: 'https://example.invalid' };

/** A session double over a real cache, fed with HTSP messages. */
function fakeSession(calls: Array<[string, HtsmsgMap | undefined]> = []): BridgeSession & { feed(msgs: HtsmsgMap[]): void; clock: number } {
  const clock = { now: 10_000 };
  const cache = new MetadataCache({ now: (): number => clock.now, keepEndedEventsSec: 0 });
  const s = Object.assign(new EventEmitter(), {
    get clock(): number {
      return clock.now;
    },
    state: 'ready' as const,
    serverInfo: { htspVersion: 44, serverHtspVersion: 44, serverName: 'Box', serverVersion: '4.3', capabilities: [] },
    rights: undefined,
    cache,
    callRaw: async (method: string, fields?: HtsmsgMap): Promise<HtsmsgMap> => {
      calls.push([method, fields]);
      if (method === 'addDvrEntry') return { success: 1, id: 99 };
      if (method === 'stopDvrEntry') return { success: 1 };
      return { seq: 1, ok: 1 };
    },
    findChannel: (ref: number | string) => cache.findChannel(ref),
    nowNext: (id: number, at?: number) => cache.nowNext(id, at),
    serverNow: (): number => clock.now,
    feed(msgs: HtsmsgMap[]) {
      cache.beginResync();
      for (const m of msgs) cache.apply(m);
      cache.apply({ method: 'initialSyncCompleted' });
    },
  });
  return s;
}

const CHANNELS: HtsmsgMap[] = [
  { method: 'channelAdd', channelId: 1, channelNumber: 1, channelName: 'Das Erste HD', eventId: 0, nextEventId: 0, services: [], tags: [] },
  { method: 'channelAdd', channelId: 2, channelNumber: 2, channelName: 'News', eventId: 0, nextEventId: 0, services: [], tags: [] },
  { method: 'channelAdd', channelId: 3, channelNumber: 3, channelName: 'news', eventId: 0, nextEventId: 0, services: [], tags: [] },
  { method: 'eventAdd', eventId: 10, channelId: 1, start: 9_000, stop: 12_600, title: 'Tagesschau' },
  { method: 'eventAdd', eventId: 11, channelId: 1, start: 12_600, stop: 14_000, title: 'Wetter' },
  { method: 'dvrEntryAdd', id: 5, channel: 1, start: 9_000, stop: 12_600, state: 'recording', title: 'Tagesschau', enabled: 1 },
  { method: 'dvrEntryAdd', id: 6, channel: 2, start: 20_000, stop: 21_000, state: 'scheduled', title: 'Later', enabled: 1 },
];

test('topic helpers: ids, default base, validation, ownership', () => {
  assert.equal(slug('Das Erste HD'), 'das_erste_hd');
  assert.equal(slug('Ärger & Öl / 3sat'), 'arger_ol_3sat');
  assert.equal(slug('***'), 'x');
  assert.equal(defaultBaseTopic('Living Room'), 'tvheadend/living_room');
  assert.equal(defaultBaseTopic(''), 'tvheadend/server');
  assert.equal(topicProblem('a/+/b'), 'must not contain +, # or NUL');
  assert.ok(topicProblem('a/b/'));
  assert.ok(topicProblem('$SYS/x'));
  assert.equal(topicProblem('tvheadend/box'), undefined);
  const t = new Topics('tvheadend/box', 'homeassistant');
  assert.equal(t.nodeId, 'tvheadend_box');
  assert.equal(t.commandOf('tvheadend/box/cmd/getSysTime'), 'getSysTime');
  assert.equal(t.commandOf('tvheadend/box/cmd/a/b'), undefined);
  assert.ok(t.isOwned('tvheadend/box/dvr/1'));
  assert.ok(t.isOwned('homeassistant/sensor/tvheadend_box/viewers/config'));
  assert.ok(!t.isOwned('homeassistant/sensor/other/viewers/config'));
  assert.ok(!t.isOwned('tvheadend/box/cmd/x'));
  assert.ok(!t.isOwned('tvheadend/box/reply/x'));
  assert.ok(!t.isOwned('tvheadend/box/status'));
});

test('discovery validation catches what HA would reject', () => {
  const good = JSON.stringify({
    '~': 'b',
    name: 'X',
    unique_id: 'b_x',
    state_topic: '~/x',
    availability: [{ topic: '~/status' }],
    device: { identifiers: ['d'] },
    origin: { name: 'o' },
  });
  assert.deepEqual(discoveryProblems('ha/sensor/node/x/config', good), []);
  assert.ok(discoveryProblems('ha/sensor/no.de/x/config', good).some((p) => /node id/.test(p)));
  assert.ok(discoveryProblems('ha/sensor/node/x/config', '{nope').includes('payload is not JSON'));
  const without = (k: string): string => {
    const o = JSON.parse(good) as Record<string, unknown>;
    delete o[k];
    return JSON.stringify(o);
  };
  assert.ok(discoveryProblems('ha/sensor/node/x/config', without('unique_id')).includes('unique_id missing'));
  assert.ok(discoveryProblems('ha/sensor/node/x/config', without('state_topic')).includes('state_topic missing'));
  assert.ok(discoveryProblems('ha/sensor/node/x/config', without('availability')).includes('availability missing'));
  assert.ok(discoveryProblems('ha/sensor/node/x/config', without('origin')).includes('origin.name missing'));
  assert.ok(discoveryProblems('ha/button/node/x/config', good).includes('command_topic missing'));
});

test('every config the bridge builds is valid, and entities follow their state topics', () => {
  const topics = new Topics('tvheadend/box', 'homeassistant');
  const s = fakeSession();
  s.feed(CHANNELS);
  const state = computeState({
    session: s,
    topics,
    own: new OwnSubscriptions(),
    disk: { free: 2 ** 31, used: 2 ** 30, total: 2 ** 32 },
    status: undefined,
    channels: [{ id: 1, name: 'Das Erste HD', key: 'das_erste_hd' }],
    progressAt: 10_800,
  });
  const configs = discoveryConfigs({
    topics,
    origin: ORIGIN,
    server: { name: 'Box', version: '4.3' },
    deviceName: 'Tvheadend',
    published: new Set(state.keys()),
    nowPlaying: [{ id: 1, name: 'Das Erste HD', key: 'das_erste_hd' }],
    allowed: new Set(DEFAULT_ALLOWED),
  });
  for (const [topic, cfg] of configs) assert.deepEqual(discoveryProblems(topic, JSON.stringify(cfg)), [], topic);
  // No server status source: no viewer or tuner entities.
  assert.ok(!configs.has('homeassistant/sensor/tvheadend_box/viewers/config'));
  assert.ok(configs.has('homeassistant/sensor/tvheadend_box/now_das_erste_hd/config'));
  const ch = state.get('tvheadend/box/channel/das_erste_hd') as { now: { title: string; progress: number }; next: { title: string } };
  assert.equal(ch.now.title, 'Tagesschau');
  assert.equal(ch.now.progress, 50);
  assert.equal(ch.next.title, 'Wetter');
  const rec = state.get('tvheadend/box/recording') as { count: number; title: string };
  assert.equal(rec.count, 1);
  assert.equal(rec.title, 'Tagesschau');
});

test('fast-moving figures are rounded so that snapshots stay equal', () => {
  const own = new OwnSubscriptions();
  assert.equal(own.handle({ method: 'subscriptionStart', subscriptionId: 1, streams: [], sourceinfo: { service: 'News' } }), true);
  own.handle({ method: 'signalStatus', subscriptionId: 1, feStatus: 'GOOD', feSNR: 50_000, feSignal: 40_000 });
  own.handle({ method: 'queueStatus', subscriptionId: 1, packets: 3, bytes: 1000, delay: 20_000, Bdrops: 1, Pdrops: 0, Idrops: 0 });
  const topics = new Topics('b', 'ha');
  const s = fakeSession();
  s.feed(CHANNELS);
  const snap = (): string =>
    JSON.stringify(computeState({ session: s, topics, own, disk: undefined, status: undefined, channels: [], progressAt: 0 }).get('b/subscriptions'));
  const a = snap();
  own.handle({ method: 'signalStatus', subscriptionId: 1, feStatus: 'GOOD', feSNR: 50_010, feSignal: 40_010 });
  assert.equal(snap(), a, 'a change below one percent is no change');
  const parsed = JSON.parse(a) as { count: number; signal: number; subscriptions: Array<{ queue: { delayMs: number; drops: number } }> };
  assert.equal(parsed.count, 1);
  assert.equal(parsed.signal, 76);
  assert.equal(parsed.subscriptions[0].queue.delayMs, 20);
  assert.equal(parsed.subscriptions[0].queue.drops, 1);
  assert.equal(own.handle({ method: 'subscriptionStop', subscriptionId: 1, status: 'OK' }), true);
  assert.equal(own.list().length, 0);
});

test('the allow-list never admits session methods; commands parse and refuse cleanly', async () => {
  const allowed = normaliseAllowList(['getSysTime', 'subscribe', 'fileRead', ' addDvrEntry ', 'bad name!']);
  assert.deepEqual([...allowed].sort(), ['addDvrEntry', 'getSysTime']);
  assert.ok(!normaliseAllowList(undefined).has('api'), 'api reaches write paths: not a default');
  assert.ok(!normaliseAllowList(undefined).has('deleteDvrEntry'));

  const calls: Array<[string, HtsmsgMap | undefined]> = [];
  const s = fakeSession(calls);
  s.feed(CHANNELS);
  const runner = new CommandRunner({ session: s, allowed: normaliseAllowList(undefined), secrets: () => ['hunter22'] });
  const ok = await runner.run('getSysTime', Buffer.from('{"requestId":"a","flag":true}'));
  assert.deepEqual(ok, { ok: true, method: 'getSysTime', requestId: 'a', result: { ok: 1 } });
  assert.deepEqual(calls.pop(), ['getSysTime', { flag: 1 }]);
  const refused = await runner.run('deleteDvrEntry', Buffer.from('{"id":1}'));
  assert.equal(refused.ok, false);
  assert.equal(!refused.ok && refused.error.code, 'refused');
  assert.equal(calls.length, 0, 'nothing was sent for a refused command');
  const array = await runner.run('getSysTime', Buffer.from('[1]'));
  assert.equal(!array.ok && array.error.code, 'bad-input');
  const big = await runner.run('getSysTime', Buffer.alloc(70_000, 32));
  assert.equal(!big.ok && big.error.code, 'bad-input');

  const rec = await runner.run('recordNow', Buffer.from('{"channel":"das erste hd"}'));
  assert.ok(rec.ok, JSON.stringify(rec));
  assert.deepEqual(calls.pop(), ['addDvrEntry', { eventId: 10 }]);
  const none = await runner.run('recordNow', Buffer.from('{"channel":"News"}'));
  assert.equal(!none.ok && none.error.code, 'bad-input');
  const stop = await runner.run('stopRecording', Buffer.from('{"channel":1}'));
  assert.ok(stop.ok);
  assert.deepEqual(calls.pop(), ['stopDvrEntry', { id: 5 }]);
});

test('HTSMSG values become JSON', () => {
  assert.deepEqual(toJson({ a: 2n ** 60n, b: 5n, c: Buffer.from('hi'), d: [1, undefined, NaN] }), {
    a: '1152921504606846976',
    b: 5,
    c: 'aGk=',
    d: [1, null, null],
  });
});

test('broker credentials: accepted when right, no retry loop and no secret in logs when wrong', async () => {
  const broker = new AedesBroker({ credentials: { username: 'tv', password: 's3cret-pass' } });
  await broker.start();
  const s = fakeSession();
  s.feed(CHANNELS);
  const logs: string[] = [];
  const make = (password: string): MqttBridge =>
    new MqttBridge({
      session: s,
      broker: { url: broker.url, username: 'tv', password, reconnectPeriodMs: 100 },
      baseTopic: 'creds/test',
      origin: ORIGIN,
      serverStatus: false,
      log: (level, text) => logs.push(`${level} ${text}`),
      timing: { readbackMs: 100 },
    });
  const good = make('s3cret-pass');
  const bad = make('wrong-password');
  try {
    good.start();
    await waitFor('connected with the right password', () => good.status.broker === 'connected');
    bad.start();
    await waitFor('refused', () => bad.status.broker === 'refused');
    const attempts = logs.filter((l) => /refused/.test(l)).length;
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(logs.filter((l) => /refused/.test(l)).length, attempts, 'no retry loop');
    for (const l of logs) {
      assert.ok(!l.includes('s3cret-pass') && !l.includes('wrong-password'), l);
    }
  } finally {
    await good.stop(500);
    await bad.stop(500);
    await broker.stop();
  }
});

test('bad settings are refused at construction', () => {
  const s = fakeSession();
  const make = (over: Record<string, unknown>): MqttBridge =>
    new MqttBridge({ session: s, broker: { url: 'mqtt://127.0.0.1:1' }, baseTopic: 'a/b', origin: ORIGIN, ...over });
  assert.throws(() => make({ baseTopic: 'a/#' }), /base topic/);
  assert.throws(() => make({ discoveryPrefix: 'ha/' }), /discovery prefix/);
  assert.throws(() => make({ broker: { url: 'http://x' } }), /broker URL/);
});
