// Incremental flushes: the bridge's desired state is rebuilt part by part from the session's
// change events and the clock. These tests hold it to two promises: it rebuilds only what a
// change touched (counted per builder), and what it holds is always what a full rebuild (the
// bridge's flush as it was: computeState + sampling + discovery) would hold, in the same order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChangeEvent } from '../../src/htsp/cache';
import type { HtsmsgMap } from '../../src/htsp/codec';
import { computeState, discoveryConfigs, selectChannels, Topics, type ChannelSelection, type DiskSpace } from '../../src/mqtt';
import { MqttBridge } from '../../src/mqtt/bridge';
import { DESIRED_BUILDERS, DesiredState, type DesiredBuilders, type DiscoveryOptions } from '../../src/mqtt/desired';
import { AedesBroker } from './brokers';
import { fakeSession, fakeSub, FakeStatusView, FullRebuild, library, type FakeSession, type ModelSetup } from './state-fixtures';
import { retainedSnapshot, sleep, waitFor, Watcher } from './helpers';

const ORIGIN = { name: 'node-red-contrib-tvheadend', sw: '1.0.0', url: 'https://example.invalid' };
const NOW = 1_000_000;
const BASE = 'tvheadend/box';
const PREFIX = 'homeassistant';

// ------------------------------------------------------------------ helpers

type BuilderName = keyof DesiredBuilders;

/** Builders that count their calls (and which DVR entries and channels they built). */
function countingBuilders(): { builders: DesiredBuilders; counts: Map<BuilderName, number>; dvrIds: number[]; channelIds: number[]; reset(): void } {
  const counts = new Map<BuilderName, number>();
  const dvrIds: number[] = [];
  const channelIds: number[] = [];
  const wrap = <K extends BuilderName>(k: K): DesiredBuilders[K] => {
    const f = DESIRED_BUILDERS[k] as unknown as (...a: unknown[]) => unknown;
    return ((...a: unknown[]) => {
      counts.set(k, (counts.get(k) ?? 0) + 1);
      if (k === 'dvr') dvrIds.push((a[1] as { id: number }).id);
      if (k === 'channel') channelIds.push((a[0] as { channelId: number }).channelId);
      return f(...a);
    }) as unknown as DesiredBuilders[K];
  };
  const builders = Object.fromEntries((Object.keys(DESIRED_BUILDERS) as BuilderName[]).map((k) => [k, wrap(k)])) as unknown as DesiredBuilders;
  return {
    builders,
    counts,
    dvrIds,
    channelIds,
    reset() {
      counts.clear();
      dvrIds.length = 0;
      channelIds.length = 0;
    },
  };
}

/** The counts other than zero, as a plain object (readable in an assertion message). */
function calls(counts: Map<BuilderName, number>): Record<string, number> {
  return Object.fromEntries([...counts].filter(([, n]) => n > 0).sort(([a], [b]) => a.localeCompare(b)));
}

/** A model fed with the session's change events, as the bridge feeds it. */
function model(o: ModelSetup, builders?: DesiredBuilders): DesiredState {
  const m = new DesiredState({
    session: o.session,
    topics: new Topics(BASE, PREFIX),
    channels: o.selection,
    discovery: o.discovery,
    status: o.status,
    statusReportsChanges: o.statusReportsChanges,
    progressIntervalMs: o.progressIntervalMs,
    log: (level, text) => assert.fail(`unexpected log: ${level} ${text}`),
    ...(builders ? { builders } : {}),
  });
  o.session.on('change', (c: ChangeEvent) => m.noteChange(c));
  return m;
}

const DISCOVERY: DiscoveryOptions = { origin: ORIGIN, deviceName: 'Tvheadend', nowPlayingSensors: true, allowed: new Set(['stopRecording']) };

/** Deterministic pseudo-random numbers (a failure names its seed and can be replayed). */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function nextUpcoming(s: FakeSession): number {
  const up = s.cache.dvrEntries().filter((e) => e.state === 'scheduled' && e.enabled !== 0 && !e.duplicate);
  up.sort((a, b) => a.start - b.start || a.id - b.id);
  return up[0].id;
}

// ------------------------------------------------------------------ the model on its own

test('a flush rebuilds only what a change touched: one DVR entry is its topic and its summary', () => {
  const session = fakeSession(NOW);
  session.feed(library({ channels: 30, dvrEntries: 300, epgHours: 24, now: NOW }));
  const status = new FakeStatusView();
  status.inputs = [{ uuid: 'a', input: 'Tuner 1', stream: 'Mux', subs: 1, signal: 40000, signal_scale: 1 }];
  const setup: ModelSetup = { session, selection: { mode: 'all' }, discovery: DISCOVERY, status, statusReportsChanges: true, progressIntervalMs: 60_000 };
  const spy = countingBuilders();
  const m = model(setup, spy.builders);
  m.setDisk({ free: 10, used: 5, total: 15 });
  m.update(true);
  assert.equal(spy.counts.get('dvr'), 300, 'the first update builds everything');
  assert.equal(spy.counts.get('channel'), 30);
  const all = m.takeChanged();
  assert.ok(all.has(`${BASE}/dvr/1`) && all.has(`${BASE}/channel/channel_30`) && all.has(`${PREFIX}/sensor/tvheadend_box/disk_free/config`));

  // Nothing happened: only the subscriptions are read (they change in place, without events).
  spy.reset();
  m.update(false);
  assert.deepEqual(calls(spy.counts), { subscriptions: 1 });
  assert.deepEqual([...m.takeChanged()], []);

  // A scheduled entry that is not the next one: its topic changes, the upcoming summary is
  // rebuilt from the upcoming entries (and comes out the same).
  const next = nextUpcoming(session);
  const other = session.cache.dvrEntries().find((e) => e.state === 'scheduled' && e.enabled !== 0 && e.id !== next);
  assert.ok(other);
  spy.reset();
  session.apply({ method: 'dvrEntryUpdate', id: other.id, title: 'Renamed' });
  m.update(false);
  assert.deepEqual(calls(spy.counts), { dvr: 1, subscriptions: 1, upcoming: 1 });
  assert.deepEqual(spy.dvrIds, [other.id]);
  assert.deepEqual([...m.takeChanged()], [`${BASE}/dvr/${other.id}`]);

  // The next one: its topic and the upcoming summary change.
  spy.reset();
  session.apply({ method: 'dvrEntryUpdate', id: next, title: 'Soon' });
  m.update(false);
  assert.deepEqual(calls(spy.counts), { dvr: 1, subscriptions: 1, upcoming: 1 });
  assert.deepEqual([...m.takeChanged()].sort(), [`${BASE}/dvr/${next}`, `${BASE}/upcoming`]);
  assert.equal((JSON.parse(m.get(`${BASE}/upcoming`) ?? '{}') as { next: { title: string } }).next.title, 'Soon');

  // A finished recording that turns out failed moves between two summaries.
  const done = session.cache.dvrEntries().find((e) => e.state === 'completed' && !e.error);
  assert.ok(done);
  spy.reset();
  session.apply({ method: 'dvrEntryUpdate', id: done.id, error: 'Disk full' });
  m.update(false);
  assert.deepEqual(calls(spy.counts), { dvr: 1, lastCompleted: 1, lastFailed: 1, subscriptions: 1 });
  const moved = m.takeChanged();
  assert.ok(moved.has(`${BASE}/dvr/${done.id}`));
  assert.ok([...moved].every((t) => [`${BASE}/dvr/${done.id}`, `${BASE}/last_completed`, `${BASE}/last_failed`].includes(t)), [...moved].join());

  // A deleted entry: its topic goes; no entry is rebuilt.
  spy.reset();
  session.apply({ method: 'dvrEntryDelete', id: other.id });
  m.update(false);
  assert.deepEqual(calls(spy.counts), { subscriptions: 1, upcoming: 1 });
  assert.ok(!m.has(`${BASE}/dvr/${other.id}`));
  assert.deepEqual([...m.takeChanged()].sort(), [`${BASE}/dvr/${other.id}`, `${BASE}/upcoming`]);

  // An EPG change on one channel rebuilds that channel; a tag, nothing.
  const [ev] = session.cache.eventsOf(7);
  spy.reset();
  session.apply({ method: 'eventUpdate', eventId: ev.eventId, channelId: 7, start: ev.start, stop: ev.stop, title: 'Changed' });
  session.apply({ method: 'tagAdd', tagId: 1, tagName: 'HD', tagIndex: 0 });
  m.update(false);
  assert.deepEqual(calls(spy.counts), { channel: 1, subscriptions: 1 });
  assert.deepEqual(spy.channelIds, [7]);

  // A renamed channel: its topic moves to the new key, and the DVR entries that show its name
  // (those without a name of their own) are rebuilt, with the summaries they count in.
  const shown = session.cache.dvrEntries().filter((e) => e.channel === 5 && !e.channelName);
  assert.ok(shown.length > 0, 'the library has entries that show channel 5 by its name');
  spy.reset();
  session.apply({ method: 'channelUpdate', channelId: 5, channelName: 'Five', channelNumber: 5, eventId: 0, nextEventId: 0, services: [], tags: [] });
  m.update(false);
  assert.equal(spy.counts.get('selectChannels'), 1);
  assert.deepEqual(spy.channelIds, [5]);
  assert.deepEqual(spy.dvrIds.sort((a, b) => a - b), shown.map((e) => e.id).sort((a, b) => a - b));
  assert.equal(spy.counts.get('discovery') ?? 0, 0, 'no now-playing sensors: discovery does not follow channels');
  const changed = m.takeChanged();
  assert.ok(changed.has(`${BASE}/channel/five`) && changed.has(`${BASE}/channel/channel_5`));
  assert.ok(!m.has(`${BASE}/channel/channel_5`));

  // The server status reports a change: viewers and tuners are read, nothing else.
  spy.reset();
  status.viewers = [{ id: 1, channel: 'Channel 1', hostname: 'tv' }];
  m.markServerStatus();
  m.update(false);
  assert.deepEqual(calls(spy.counts), { serverStatus: 1, subscriptions: 1 });
  assert.deepEqual([...m.takeChanged()], [`${BASE}/viewers`]);

  // Disk space: only the disk topic.
  spy.reset();
  m.setDisk({ free: 9, used: 6, total: 15 });
  m.update(false);
  assert.deepEqual(calls(spy.counts), { disk: 1, subscriptions: 1 });
  assert.deepEqual([...m.takeChanged()], [`${BASE}/disk`]);

  // markAll (the session became ready again, a republish): everything once more.
  spy.reset();
  m.markAll();
  m.update(false);
  assert.equal(spy.counts.get('dvr'), session.cache.dvrEntries().length);
  assert.equal(spy.counts.get('channel'), 30);
  assert.equal(spy.counts.get('discovery'), 1);
  assert.deepEqual([...m.takeChanged()], [], 'and nothing differs from what was kept');
});

test('time: a programme boundary rebuilds the channels it passes, a progress step those with a programme running', () => {
  const session = fakeSession(NOW);
  session.feed(library({ channels: 40, dvrEntries: 50, epgHours: 24, now: NOW }));
  // A day-long progress step from the day's start: the clock below stays inside it.
  const setup: ModelSetup = { session, selection: { mode: 'all' }, discovery: undefined, status: undefined, statusReportsChanges: false, progressIntervalMs: 86_400_000 };
  const spy = countingBuilders();
  const m = model(setup, spy.builders);
  m.update(true);
  m.takeChanged();

  // The next boundary of each channel at the session's clock (its programme ends or the next starts).
  const boundary = (id: number): number => {
    const nn = session.nowNext(id);
    return Math.min(nn.now?.stop ?? Infinity, nn.next?.start ?? Infinity);
  };
  const ids = session.cache.channels().map((c) => c.channelId);
  const byTime = ids.map((id) => [boundary(id), id] as const).sort((a, b) => a[0] - b[0]);
  // A boundary no other channel shares within a second (the model looks one second ahead).
  const pickIdx = byTime.findIndex(([t], i) => (i === 0 || byTime[i - 1][0] < t - 1) && (i === byTime.length - 1 || byTime[i + 1][0] > t + 1));
  assert.ok(pickIdx >= 0, 'a boundary of one channel alone');
  const [when, channel] = byTime[pickIdx];
  const earlier = byTime.slice(0, pickIdx).map(([, id]) => id);
  // Programmes last 30 minutes or more: no channel passed earlier reaches its next boundary by then.
  assert.ok(when - NOW < 1800, `the boundary comes within 30 minutes (${when - NOW} s)`);

  // Just before it: only channels whose boundaries came earlier.
  spy.reset();
  session.clock = when - 2;
  m.update(false);
  assert.deepEqual(spy.channelIds.sort((a, b) => a - b), [...earlier].sort((a, b) => a - b));
  m.takeChanged();

  spy.reset();
  const topic = `${BASE}/channel/channel_${channel}`;
  const before = JSON.parse(m.get(topic) ?? '{}') as { now: { eventId: number } | null; next: { eventId: number } | null };
  session.clock = when;
  m.update(false);
  assert.deepEqual(spy.channelIds, [channel], 'only the channel whose programme changed, without any change event');
  assert.deepEqual([...m.takeChanged()], [topic]);
  const after = JSON.parse(m.get(topic) ?? '{}') as { now: { eventId: number } | null };
  assert.equal(after.now?.eventId, before.next?.eventId, 'the next programme is now on');

  // A new progress step: every channel with a programme running, nothing else.
  const m2 = model({ ...setup, progressIntervalMs: 60_000 }, spy.builders);
  m2.update(true);
  let step = (Math.floor(session.clock / 60) + 1) * 60;
  // A step at which no programme changes (else move past it first), so that only the step counts.
  while (ids.some((id) => boundary(id) <= step + 1)) {
    session.clock = step + 2;
    m2.update(false);
    step = (Math.floor(session.clock / 60) + 1) * 60;
  }
  spy.reset();
  session.clock = step;
  m2.update(false);
  const running = ids.filter((id) => session.nowNext(id).now !== undefined);
  assert.deepEqual(spy.channelIds.sort((a, b) => a - b), running.sort((a, b) => a - b));
  assert.equal(spy.counts.get('dvr') ?? 0, 0);
});

for (const selection of [{ mode: 'all' }, { mode: 'selected', refs: ['channel 3', '4', 'Same', 'Gone', '2.1'] }, { mode: 'none' }] as ChannelSelection[]) {
  for (const statusReportsChanges of [true, false]) {
    test(`random changes (channels ${selection.mode}, status ${statusReportsChanges ? 'reported' : 'read'}): the model always equals a full rebuild, in order`, () => {
      for (const seed of [1, 2, 3]) equivalence(selection, statusReportsChanges, seed);
    });
  }
}

function equivalence(selection: ChannelSelection, statusReportsChanges: boolean, seed: number): void {
  const rnd = prng(seed * 7 + (statusReportsChanges ? 1 : 0) + selection.mode.length * 13);
  const int = (n: number): number => Math.floor(rnd() * n);
  const session = fakeSession(NOW);
  session.feed(library({ channels: 12, dvrEntries: 40, epgHours: 12, now: NOW }));
  const status = new FakeStatusView();
  const setup: ModelSetup = { session, selection, discovery: DISCOVERY, status, statusReportsChanges, progressIntervalMs: 60_000 };
  const m = model(setup);
  const full = new FullRebuild(setup);
  let disk: DiskSpace | undefined = { free: 10, used: 5, total: 15 };
  m.setDisk(disk);
  let nextDvr = 1000;
  let nextEvent = 100_000;
  let nextChannel = 100;

  const names = ['Same', 'same', 'Channel 3', 'Ärger', 'X'];
  const ops: Array<[string, () => void]> = [
    ['dvr add', () => {
      const e: HtsmsgMap = {
        method: 'dvrEntryAdd',
        id: nextDvr++,
        channel: 1 + int(14),
        start: session.clock + (int(40) - 20) * 600,
        stop: session.clock + int(40) * 600,
        state: ['scheduled', 'recording', 'completed', 'missed', 'invalid'][int(5)],
        title: `New ${nextDvr}`,
        enabled: int(4) ? 1 : 0,
      };
      if (int(3) === 0) e.channelName = 'Own name';
      if (int(5) === 0) e.error = 'Oops';
      if (int(8) === 0) e.duplicate = 1;
      session.apply(e);
    }],
    ['dvr update', () => {
      const all = session.cache.dvrEntries();
      if (!all.length) return;
      const e = all[int(all.length)];
      const patch: HtsmsgMap = { method: 'dvrEntryUpdate', id: e.id };
      const what = int(5);
      if (what === 0) patch.title = `T${int(100)}`;
      else if (what === 1) patch.state = ['scheduled', 'recording', 'completed', 'missed'][int(4)];
      else if (what === 2) patch.enabled = int(2);
      else if (what === 3) patch.error = int(2) ? 'Broken' : '';
      else Object.assign(patch, { start: e.start + 600, stop: e.stop + 1200, state: e.state, title: e.title ?? 'x', channel: e.channel ?? 1 });
      session.apply(patch);
    }],
    ['dvr delete', () => {
      const all = session.cache.dvrEntries();
      if (all.length) session.apply({ method: 'dvrEntryDelete', id: all[int(all.length)].id });
    }],
    ['dvr delete and add again', () => {
      const all = session.cache.dvrEntries();
      if (!all.length) return;
      const e = all[int(all.length)];
      session.apply({ method: 'dvrEntryDelete', id: e.id });
      session.apply({ ...(e as unknown as HtsmsgMap), method: 'dvrEntryAdd', title: 'Back' });
    }],
    ['channel rename', () => {
      const all = session.cache.channels();
      const c = all[int(all.length)];
      session.apply({ ...(c as unknown as HtsmsgMap), method: 'channelUpdate', channelName: names[int(names.length)] });
    }],
    ['channel renumber', () => {
      const all = session.cache.channels();
      const c = all[int(all.length)];
      session.apply({ method: 'channelUpdate', channelId: c.channelId, channelNumber: 1 + int(5), channelNumberMinor: int(2) });
    }],
    ['channel add', () => {
      session.apply({ method: 'channelAdd', channelId: nextChannel++, channelNumber: 50, channelName: names[int(names.length)], eventId: 0, nextEventId: 0, services: [], tags: [] });
    }],
    ['channel delete', () => {
      const all = session.cache.channels();
      if (all.length > 3) session.apply({ method: 'channelDelete', channelId: all[int(all.length)].channelId });
    }],
    ['channel now/next ids', () => {
      const all = session.cache.channels();
      const c = all[int(all.length)];
      const evs = session.cache.eventsOf(c.channelId);
      const pickId = (): number => (evs.length && int(3) ? evs[int(evs.length)].eventId : nextEvent + int(3));
      session.apply({ method: 'channelUpdate', channelId: c.channelId, eventId: pickId(), nextEventId: pickId() });
    }],
    ['event add', () => {
      const ch = 1 + int(14);
      const start = session.clock + (int(20) - 10) * 300;
      session.apply({ method: 'eventAdd', eventId: nextEvent++, channelId: ch, start, stop: start + 300 * (1 + int(6)), title: 'Inserted' });
    }],
    ['event without channel', () => {
      // What a channel without EPG of its own shows (its record names it).
      const start = session.clock - int(600);
      session.apply({ method: 'eventAdd', eventId: nextEvent + int(3), start, stop: start + 1200, title: 'Orphan' });
    }],
    ['event update', () => {
      const all = session.cache.channels();
      const evs = session.cache.eventsOf(all[int(all.length)].channelId);
      if (!evs.length) return;
      const ev = evs[int(evs.length)];
      session.apply({ ...(ev as unknown as HtsmsgMap), method: 'eventUpdate', title: `Changed ${int(9)}`, channelId: int(4) ? ev.channelId ?? 1 : 1 + int(14) });
    }],
    ['event delete', () => {
      const all = session.cache.channels();
      const evs = session.cache.eventsOf(all[int(all.length)].channelId);
      if (evs.length) session.apply({ method: 'eventDelete', eventId: evs[int(evs.length)].eventId });
    }],
    ['time passes a little', () => {
      session.clock += 1 + int(90);
    }],
    ['time passes a lot', () => {
      session.clock += int(7200);
    }],
    ['disk', () => {
      disk = int(4) ? { free: int(100), used: 5, total: 105 } : undefined;
      m.setDisk(disk);
    }],
    ['subscriptions', () => {
      const what = int(3);
      if (what === 0) session.subs.push(fakeSub({ id: 1 + int(9), channelId: 1 + int(12) }));
      else if (what === 1) session.subs.splice(int(session.subs.length + 1), 1);
      else if (session.subs.length) session.subs[0].lastSignal = { method: 'signalStatus', subscriptionId: 1, feStatus: 'GOOD', feSNR: int(65535) };
    }],
    ['server status', () => {
      const what = int(3);
      if (what === 0) status.viewers = int(2) ? [{ id: 1, channel: `Channel ${1 + int(3)}`, hostname: 'tv' }] : [];
      else if (what === 1) status.inputs = [{ uuid: 'u', input: 'Tuner', stream: 'Mux', subs: int(3), signal: int(65535), signal_scale: 1 }];
      else status.available = !status.available || int(3) > 0;
      if (statusReportsChanges) m.markServerStatus();
    }],
    ['tag', () => {
      session.apply({ method: 'tagAdd', tagId: int(5), tagName: 'HD', tagIndex: 0 });
    }],
    ['session ready again', () => {
      m.markAll();
    }],
  ];

  const label = `${selection.mode}, status ${statusReportsChanges ? 'reported' : 'read'}, seed ${seed}`;
  const check = (step: string, fastDue: boolean): void => {
    m.update(fastDue);
    const want = [...full.desired(disk, fastDue)];
    const got = [...m.entries()];
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      const g = new Map(got);
      const w = new Map(want);
      const diff = [...new Set([...g.keys(), ...w.keys()])].filter((t) => g.get(t) !== w.get(t)).slice(0, 5);
      assert.fail(
        `${label}, after ${step}: ${diff.length ? diff.map((t) => `${t}: model ${g.get(t)} / full ${w.get(t)}`).join('\n') : 'same topics, other order'}`,
      );
    }
  };
  // The bridge's path: `changes()` applied to what is published, sometimes capped (the rest
  // requeued, as a flush with `maxPerFlush` does). Once nothing is left over, the published map
  // must be the model's state.
  const published = new Map<string, string>();
  let behind = false;
  const publish = (step: string, capped: boolean): void => {
    const sends = m.changes(published);
    const n = capped ? int(sends.length + 1) : sends.length;
    for (const [topic, payload] of sends.slice(0, n)) {
      if (payload === '') published.delete(topic);
      else published.set(topic, payload);
    }
    m.requeue(sends.slice(n).map(([topic]) => topic));
    behind = n < sends.length;
    if (!behind) assert.deepEqual(published, new Map(m.entries()), `${label}, published after ${step}`);
  };
  check('the first update', true);
  publish('the first update', false);
  const history: string[] = [];
  for (let i = 0; i < 300; i++) {
    // Sometimes several changes between two flushes, as a burst coalesces into one.
    const burst = int(4) === 0 ? 1 + int(5) : 1;
    for (let k = 0; k < burst; k++) {
      const [name, run] = ops[int(ops.length)];
      history.push(name);
      run();
    }
    const step = history.slice(-burst).join(' + ');
    check(step, int(5) === 0);
    publish(step, int(3) === 0);
  }
  // An uncapped flush sends all that is left.
  if (behind) publish('draining', false);
  assert.deepEqual(published, new Map(m.entries()), `${label}, published once drained`);
}

// ------------------------------------------------------------------ the bridge on a broker

interface Rig {
  session: FakeSession;
  broker: AedesBroker;
  watcher: Watcher;
  bridge: MqttBridge;
  spy: ReturnType<typeof countingBuilders>;
  close(): Promise<void>;
}

async function rig(
  base: string,
  opts: { channels: ChannelSelection; maxPerFlush?: number; progressIntervalMs?: number; statsIntervalMs?: number; dvrEntries?: number },
): Promise<Rig> {
  const session = fakeSession(NOW);
  session.feed(library({ channels: 20, dvrEntries: opts.dvrEntries ?? 200, epgHours: 24, now: NOW }));
  const broker = new AedesBroker();
  await broker.start();
  const watcher = await Watcher.open(broker.url, [`${base}/#`, `${PREFIX}/#`]);
  const spy = countingBuilders();
  const bridge = new MqttBridge({
    session,
    broker: { url: broker.url, reconnectPeriodMs: 200 },
    baseTopic: base,
    discoveryPrefix: PREFIX,
    origin: ORIGIN,
    channels: opts.channels,
    serverStatus: false,
    builders: spy.builders,
    timing: {
      publishIntervalMs: 50,
      readbackMs: 100,
      // No sample and no progress step falls inside these tests unless they ask for one.
      statsIntervalMs: opts.statsIntervalMs ?? 600_000,
      progressIntervalMs: opts.progressIntervalMs ?? 600_000,
      maxPerFlush: opts.maxPerFlush ?? 1000,
    },
  });
  bridge.start();
  return {
    session,
    broker,
    watcher,
    bridge,
    spy,
    async close() {
      await bridge.stop(500);
      await watcher.close();
      await broker.stop();
    },
  };
}

/** What the broker should retain under the bridge's topics: a full rebuild of the session. */
function expectedRetained(session: FakeSession, base: string, selection: ChannelSelection): Map<string, string> {
  const topics = new Topics(base, PREFIX);
  const state = computeState({
    session,
    topics,
    disk: { free: 2 ** 40, used: 2 ** 40, total: 2 ** 41 },
    status: undefined,
    channels: selectChannels(session, selection),
    progressAt: Math.floor(session.serverNow() / 600) * 600,
  });
  const out = new Map<string, string>([[topics.availability, 'online']]);
  const configs = discoveryConfigs({
    topics,
    origin: ORIGIN,
    server: { name: 'Box', version: '4.3' },
    deviceName: 'Tvheadend',
    published: new Set(state.keys()),
    nowPlaying: selection.mode === 'selected' ? selectChannels(session, selection) : [],
    allowed: new Set(['stopRecording']),
  });
  for (const [t, c] of configs) out.set(t, JSON.stringify(c));
  for (const [t, v] of state) out.set(t, JSON.stringify(v));
  return out;
}

test('on the broker: one DVR change publishes that entry and the summary it counts in, and rebuilds nothing else', async () => {
  const base = 'inc/one';
  const r = await rig(base, { channels: { mode: 'all' } });
  try {
    const total = r.session.cache.dvrEntries().length;
    await waitFor('every topic published', () => r.watcher.value(`${base}/dvr/${total}`) !== undefined && r.watcher.value(`${base}/disk`) !== undefined);
    await sleep(300);
    const from = r.watcher.log.length;
    r.spy.reset();

    const id = nextUpcoming(r.session);
    r.session.apply({ method: 'dvrEntryUpdate', id, title: 'Moved up' });
    await waitFor('the change published', () => r.watcher.json<{ title: string }>(`${base}/dvr/${id}`)?.title === 'Moved up');
    await sleep(300);
    const sent = r.watcher.log.slice(from).map((m) => m.topic);
    assert.deepEqual(sent.sort(), [`${base}/dvr/${id}`, `${base}/upcoming`], 'only the entry and the upcoming summary');
    assert.equal(r.watcher.json<{ next: { title: string } }>(`${base}/upcoming`)?.next.title, 'Moved up');
    const c = calls(r.spy.counts);
    // One flush for the change; each flush reads the subscriptions, which change without events.
    assert.equal(c.dvr, 1);
    assert.equal(c.upcoming, 1);
    for (const k of ['channel', 'recording', 'lastCompleted', 'lastFailed', 'discovery', 'selectChannels', 'server', 'disk']) {
      assert.equal(c[k] ?? 0, 0, `${k} not rebuilt (${JSON.stringify(c)})`);
    }
  } finally {
    await r.close();
  }
});

test('on the broker: with few messages per flush, leftovers and later bursts still end in exactly the full state', async () => {
  const base = 'inc/burst';
  const selection: ChannelSelection = { mode: 'selected', refs: ['Channel 1', '2', 'channel 3'] };
  const r = await rig(base, { channels: selection, maxPerFlush: 25 });
  const filters = [`${base}/#`, `${PREFIX}/+/inc_burst/+/config`];
  const matches = async (): Promise<boolean> => {
    const want = expectedRetained(r.session, base, selection);
    const got = await retainedSnapshot(r.broker.url, filters, 150);
    return got.size === want.size && [...want].every(([t, p]) => got.get(t) === p);
  };
  try {
    await waitFor('the first publish, 25 at a time', () => r.watcher.value(`${base}/dvr/200`) !== undefined, 15_000);
    await waitFor('retained = full state', () => matches(), 15_000, 300);

    // A burst bigger than one flush: deletions, changes, additions, a renamed selected channel.
    for (let i = 1; i <= 30; i++) r.session.apply({ method: 'dvrEntryDelete', id: i * 3 });
    for (let i = 1; i <= 30; i++) r.session.apply({ method: 'dvrEntryUpdate', id: i * 3 + 1, title: `Burst ${i}`, state: 'completed' });
    for (let i = 1; i <= 30; i++) r.session.apply({ method: 'dvrEntryAdd', id: 1000 + i, channel: 1, start: NOW + i * 600, stop: NOW + i * 600 + 60, state: 'scheduled', title: `Added ${i}`, enabled: 1 });
    r.session.apply({ method: 'channelUpdate', channelId: 2, channelName: 'Two', channelNumber: 2, eventId: 0, nextEventId: 0, services: [], tags: [] });
    await waitFor('retained = full state after the burst', () => matches(), 15_000, 300);
    assert.equal(r.watcher.value(`${base}/dvr/3`), '', 'a deleted entry is cleared with a retained empty payload');
    assert.equal(r.watcher.value(`${base}/channel/channel_2`), '', 'the renamed channel left its old topic');
    assert.ok(r.watcher.value(`${PREFIX}/sensor/inc_burst/now_two/config`), 'and its sensor follows it');
  } finally {
    await r.close();
  }
});

test('on the broker: a programme ending moves now/next without any change event', async () => {
  const base = 'inc/time';
  // The figures sample flushes every 200 ms; the progress step is a day, so that what moves the
  // programme is its end passing, not a new progress step.
  const r = await rig(base, { channels: { mode: 'selected', refs: ['Channel 4'] }, progressIntervalMs: 86_400_000, statsIntervalMs: 200, dvrEntries: 20 });
  const topic = `${base}/channel/channel_4`;
  type NowNext = { now: { eventId: number; title: string } | null; next: { eventId: number } | null };
  try {
    const first = await waitFor('now/next published', () => r.watcher.json<NowNext>(topic));
    assert.ok(first.now && first.next);
    const ends = r.session.nowNext(4).now?.stop;
    assert.ok(ends !== undefined);
    const changes = r.watcher.log.length;
    r.session.clock = ends;
    const after = await waitFor('the next programme is on', () => {
      const j = r.watcher.json<NowNext>(topic);
      return j?.now?.eventId === first.next?.eventId ? j : undefined;
    }, 5000);
    assert.notEqual(after.now?.title, first.now.title);
    assert.ok(r.watcher.log.length > changes);
  } finally {
    await r.close();
  }
});
