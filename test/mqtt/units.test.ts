// Pure parts of the bridge: topic names, discovery validation, allow-list, command parsing,
// state derivation (rounding that keeps the publish rate down), broker credentials and which
// broker errors are worth retrying.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { MetadataCache } from '../../src/htsp/cache';
import { HtspError } from '../../src/htsp/errors';
import type { HtsmsgMap } from '../../src/htsp/codec';
import {
  CommandRunner,
  DEFAULT_ALLOWED,
  MqttBridge,
  Topics,
  brokerProblem,
  computeState,
  defaultBaseTopic,
  discoveryConfigs,
  discoveryProblems,
  normaliseAllowList,
  slug,
  subscriptionsShape,
  subscriptionsState,
  toJson,
  topicProblem,
  type BridgeSession,
  type BridgeSubscription,
} from '../../src/mqtt';
import { AedesBroker } from './brokers';
import { sleep, waitFor, Watcher } from './helpers';
import { fakeSub, type FakeSub } from './state-fixtures';

const ORIGIN = { name: 'node-red-contrib-tvheadend', sw: '1.0.0', url: 'https://example.invalid' };

/** A session double over a real cache, fed with HTSP messages. */
function fakeSession(
  calls: Array<[string, HtsmsgMap | undefined]> = [],
): BridgeSession & { feed(msgs: HtsmsgMap[]): void; clock: number; subs: FakeSub[] } {
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
    subs: [] as FakeSub[],
    subscriptions(): readonly BridgeSubscription[] {
      return [...this.subs];
    },
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

test('subscriptions: channel id and name from the cache, source, signal, SNR and queue, rounded', () => {
  const s = fakeSession();
  s.feed(CHANNELS);
  const sub = fakeSub({
    id: 7,
    channelId: 1,
    channelRef: 'das erste hd',
    streams: [
      { index: 1, type: 'H264' },
      { index: 2, type: 'AAC' },
    ],
    sourceInfo: { service: 'Das Erste HD', provider: 'ARD', mux: '570 MHz', network: 'DVB-T', adapter: 'Tuner #0' },
    lastSignal: { method: 'signalStatus', subscriptionId: 7, feStatus: 'GOOD', feSNR: 50_000, feSignal: 40_000, feAbsoluteSNR: 23_456, feBER: 0, feUNC: 2 },
    lastQueue: { method: 'queueStatus', subscriptionId: 7, packets: 3, bytes: 1000, delay: 20_000, Bdrops: 1, Pdrops: 2, Idrops: 0 },
  });
  s.subs.push(sub);
  const topics = new Topics('b', 'ha');
  const snap = (): string =>
    JSON.stringify(computeState({ session: s, topics, disk: undefined, status: undefined, channels: [], progressAt: 0 }).get('b/subscriptions'));
  const a = snap();
  const parsed = JSON.parse(a) as {
    count: number;
    running: number;
    signal: number;
    subscriptions: Array<Record<string, unknown> & { signal: Record<string, unknown>; queue: Record<string, number> }>;
  };
  assert.equal(parsed.count, 1);
  assert.equal(parsed.running, 1);
  assert.equal(parsed.signal, 76, 'the SNR share is the quality');
  const one = parsed.subscriptions[0];
  assert.equal(one.id, 7);
  assert.equal(one.channelId, 1);
  assert.equal(one.channel, 'Das Erste HD', 'the name from the cache, not what was asked for');
  assert.equal(one.requested, 'das erste hd');
  assert.equal(one.state, 'running');
  assert.equal(one.status, 'OK');
  assert.equal(one.service, 'Das Erste HD');
  assert.equal(one.adapter, 'Tuner #0');
  assert.deepEqual(one.streams, ['H264', 'AAC']);
  assert.deepEqual(one.signal, { status: 'GOOD', snr: 76, snrDb: 23.5, strength: 61, ber: 0, unc: 2 });
  assert.deepEqual(one.queue, { packets: 3, bytes: 1000, delayMs: 20, drops: 3, errors: 0 });

  // Jitter below the rounding is no change, so nothing would be published.
  sub.lastSignal = { method: 'signalStatus', subscriptionId: 7, feStatus: 'GOOD', feSNR: 50_010, feSignal: 40_010, feAbsoluteSNR: 23_470, feBER: 0, feUNC: 2 };
  assert.equal(snap(), a, 'a change below one percent is no change');

  // Figures change the snapshot but not its shape (they wait for the next sample); a status
  // text or a subscription coming or going changes the shape (published at once).
  const shapeOf = (): string => subscriptionsShape(subscriptionsState(s));
  const shape = shapeOf();
  sub.lastSignal = { method: 'signalStatus', subscriptionId: 7, feStatus: 'BAD', feSNR: 10_000 };
  assert.notEqual(snap(), a);
  assert.equal(shapeOf(), shape);
  sub.lastStatus = { method: 'subscriptionStatus', subscriptionId: 7, status: 'No input detected', subscriptionError: 'noInput' };
  assert.notEqual(shapeOf(), shape);
  const withStatus = subscriptionsState(s).subscriptions as Array<Record<string, unknown>>;
  assert.equal(withStatus[0].status, 'No input detected');
  assert.equal(withStatus[0].error, 'noInput');

  // Waiting for a tuner, or for a channel name to resolve after a reconnect: no id, no figures.
  s.subs.push(fakeSub({ id: 0, channelId: 0, channelRef: 'Arte', state: 'pending', options: { ninetyKHz: true } }));
  const two = subscriptionsState(s) as { count: number; running: number; subscriptions: Array<Record<string, unknown>> };
  assert.equal(two.count, 2);
  assert.equal(two.running, 1);
  assert.deepEqual(two.subscriptions[1], {
    id: null,
    channelId: null,
    channel: null,
    requested: 'Arte',
    state: 'pending',
    status: null,
    error: null,
    service: null,
    provider: null,
    mux: null,
    network: null,
    adapter: null,
    streams: [],
    signal: null,
    queue: null,
  });
  // 90 kHz subscriptions report the queue delay in ticks.
  s.subs[1].lastQueue = { method: 'queueStatus', subscriptionId: 8, packets: 0, bytes: 0, delay: 9000, Bdrops: 0, Pdrops: 0, Idrops: 0 };
  const ticks = subscriptionsState(s).subscriptions as Array<{ queue: { delayMs: number } }>;
  assert.equal(ticks[1].queue.delayMs, 100);

  // Closed ones are gone; IPTV (no signal) gives no quality.
  s.subs.length = 0;
  s.subs.push(fakeSub({ state: 'closed' }), fakeSub({ id: 9, channelId: 2 }));
  const iptv = subscriptionsState(s) as { count: number; signal: number | null; subscriptions: Array<{ channel: string }> };
  assert.equal(iptv.count, 1);
  assert.equal(iptv.signal, null);
  assert.equal(iptv.subscriptions[0].channel, 'News');
});

test('subscriptions on the broker: figures wait for the sample, a subscription coming, going or changing status does not', async () => {
  const broker = new AedesBroker();
  await broker.start();
  const s = fakeSession();
  s.feed(CHANNELS);
  const signal = (snr: number): FakeSub['lastSignal'] => ({ method: 'signalStatus', subscriptionId: 1, feStatus: 'GOOD', feSNR: snr });
  const sub = fakeSub({ lastSignal: signal(30_000) });
  s.subs.push(sub);
  const topic = 'rate/test/subscriptions';
  const w = await Watcher.open(broker.url, [topic]);
  // No sample falls inside the test: whatever is published comes from a change of shape.
  const b = new MqttBridge({
    session: s,
    broker: { url: broker.url },
    baseTopic: 'rate/test',
    origin: ORIGIN,
    serverStatus: false,
    discovery: false,
    timing: { publishIntervalMs: 50, statsIntervalMs: 60_000, readbackMs: 100 },
  });
  type Subs = { count: number; signal: number | null; subscriptions: Array<{ channel: string; status: string | null }> };
  const sent = (): number => w.log.filter((m) => m.topic === topic).length;
  try {
    b.start();
    await waitFor('first publish', () => w.json<Subs>(topic)?.signal === 46);
    const before = sent();
    for (let i = 1; i <= 20; i++) {
      sub.lastSignal = signal(30_000 + i * 1000);
      await sleep(50);
    }
    assert.equal(sent(), before, 'signal figures alone are not published between samples');

    // "At once" against the 60 s statistics interval; generous for a loaded machine.
    const quick = 3000;
    s.subs.push(fakeSub({ id: 2, channelId: 2, channelRef: 2 }));
    await waitFor('a new subscription at once', () => w.json<Subs>(topic)?.count === 2, quick);
    assert.equal(w.json<Subs>(topic)?.signal, 76, 'with the figures of that moment');
    s.subs.splice(1, 1);
    await waitFor('an ended subscription at once', () => w.json<Subs>(topic)?.count === 1, quick);
    sub.lastStatus = { method: 'subscriptionStatus', subscriptionId: 1, status: 'No input detected' };
    await waitFor('a status text at once', () => w.json<Subs>(topic)?.subscriptions[0].status === 'No input detected', quick);
  } finally {
    await b.stop(500);
    await w.close();
    await broker.stop();
  }
});

test('broker errors: credentials and lasting refusals, TLS failures, and what is left to retry', () => {
  const cred = brokerProblem({ message: 'Connection refused: Not authorized', code: 135 }, true);
  assert.equal(cred?.problem, 'credentials');
  assert.match(cred?.text ?? '', /user name or password/);
  assert.match(brokerProblem({ message: 'Connection refused: Not authorized', code: 5 }, false)?.text ?? '', /wants a user name/);
  assert.equal(brokerProblem({ message: 'x', code: 4 }, true)?.problem, 'credentials');
  assert.equal(brokerProblem({ message: 'x', code: 138 }, true)?.problem, 'refused');
  assert.equal(brokerProblem({ message: 'Server unavailable', code: 136 }, true), undefined, 'a busy broker is retried');
  const ca = brokerProblem({ message: 'unable to verify the first certificate', code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }, false);
  assert.equal(ca?.problem, 'tls-untrusted');
  assert.match(ca?.text ?? '', /not trusted .*unable to verify the first certificate.*CA/);
  assert.equal(brokerProblem({ message: 'x', code: 'SELF_SIGNED_CERT_IN_CHAIN' }, false)?.problem, 'tls-untrusted');
  assert.equal(brokerProblem({ message: 'x', code: 'CERT_HAS_EXPIRED' }, false)?.problem, 'tls-expired');
  assert.equal(brokerProblem({ message: 'x', code: 'ERR_TLS_CERT_ALTNAME_INVALID' }, false)?.problem, 'tls-hostname');
  assert.equal(brokerProblem({ message: 'x', code: 'ERR_SSL_WRONG_VERSION_NUMBER' }, false)?.problem, 'tls');
  for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', undefined]) {
    assert.equal(brokerProblem({ message: 'x', code }, false), undefined, String(code));
  }
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

test('short user names are redacted from command errors (quoted, as the library quotes them)', async () => {
  const s = fakeSession();
  s.feed(CHANNELS);
  s.callRaw = async (method: string): Promise<HtsmsgMap> => {
    throw new HtspError('noaccess', `user "tv" lacks the right for ${method}`, { method });
  };
  const runner = new CommandRunner({ session: s, allowed: normaliseAllowList(undefined), secrets: () => ['tv'] });
  const r = await runner.run('getSysTime', Buffer.from('{}'));
  assert.equal(r.ok, false);
  const text = JSON.stringify(r);
  assert.ok(!text.includes('"tv"') && !text.includes('\\"tv\\"'), text);
  assert.match(text, /user \\"\*\*\*\\" lacks/);
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

test('recordNow asks the server when the cache has no EPG (sync off); stopRecording stops every entry it can', async () => {
  const calls: Array<[string, HtsmsgMap | undefined]> = [];
  const s = fakeSession(calls);
  // No eventAdd: as with EPG sync off. Two running recordings on channel 1.
  s.feed([
    ...CHANNELS.filter((m) => m.method === 'channelAdd'),
    { method: 'dvrEntryAdd', id: 7, channel: 1, start: 9_000, stop: 12_600, state: 'recording', title: 'A', enabled: 1 },
    { method: 'dvrEntryAdd', id: 8, channel: 1, start: 9_000, stop: 12_600, state: 'recording', title: 'B', enabled: 1 },
  ]);
  s.callRaw = async (method: string, fields?: HtsmsgMap): Promise<HtsmsgMap> => {
    calls.push([method, fields]);
    if (method === 'getEvents') return { events: [{ eventId: 42, channelId: 1, start: 9_500, stop: 11_000, title: 'Live' }] };
    if (method === 'addDvrEntry') return { success: 1, id: 99 };
    if (method === 'stopDvrEntry') return fields?.id === 7 ? { success: 0, error: 'busy' } : { success: 1 };
    return {};
  };
  const runner = new CommandRunner({ session: s, allowed: normaliseAllowList(undefined), secrets: () => [] });
  const rec = await runner.run('recordNow', Buffer.from('{"channel":1}'));
  assert.ok(rec.ok, JSON.stringify(rec));
  assert.deepEqual(
    calls.map((c) => c[0]),
    ['getEvents', 'addDvrEntry'],
  );
  assert.deepEqual(calls[1][1], { eventId: 42 });
  assert.deepEqual(rec, {
    ok: true,
    method: 'recordNow',
    result: { id: 99, eventId: 42, title: 'Live', channel: 'Das Erste HD', start: 9_500, stop: 11_000 },
  });
  calls.length = 0;
  const stop = await runner.run('stopRecording', Buffer.from('{}'));
  assert.ok(stop.ok, JSON.stringify(stop));
  assert.deepEqual(calls.map((c) => c[1]?.id), [7, 8], 'a refusal of the first does not leave the second recording');
  const result = (stop as unknown as { result: { stopped: Array<{ id: number }>; failed: Array<{ id: number; message: string }> } }).result;
  assert.deepEqual(result.stopped.map((e) => e.id), [8]);
  assert.deepEqual(result.failed.map((e) => [e.id, e.message]), [[7, 'busy']]);
  assert.deepEqual(result, { stopped: [{ id: 8, title: 'B' }], failed: [{ id: 7, title: 'A', code: 'server', message: 'busy' }] });
  const unknown = await runner.run('stopRecording', Buffer.from('{"id":"42"}'));
  assert.equal(!unknown.ok && unknown.error.code, 'bad-input', 'no running recording has that id');
});
