import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';

import type { HtsmsgMap } from '../src/htsp/codec';
import { HtspError } from '../src/htsp/errors';
import type { HtspSession, SessionOptions } from '../src/htsp/session';
import type { TvheadendSimulator, SimOptions } from '../src/sim';
import {
  ServerStatusPoller,
  STATUS_PATHS,
  statusEntryKey,
  type ServerStatusOptions,
  type StatusChangeEvent,
  type StatusSession,
  type StatusUnavailable,
} from '../src/htsp/server-status';
import { collect, newSession, startSim, until, waitFor as waitForEvent } from './helpers/sim-session';

// ---------------------------------------------------------------------------------------------
// A scripted session: answers `api` from per-path lists, counts requests, changes state on demand.

type Handler = (path: string) => Promise<HtsmsgMap>;

class FakeSession extends EventEmitter implements StatusSession {
  state = 'connecting';
  rights: { admin: boolean } | undefined = { admin: true };
  readonly calls: string[] = [];
  readonly data: Record<string, HtsmsgMap[]> = {
    'status/subscriptions': [],
    'status/inputs': [],
    'status/connections': [],
  };
  handler: Handler | undefined;

  async callRaw(method: string, fields: HtsmsgMap = {}): Promise<HtsmsgMap> {
    assert.equal(method, 'api');
    const path = String(fields.path);
    this.calls.push(path);
    if (this.handler) return this.handler(path);
    const entries = this.data[path] ?? [];
    return { response: { entries: entries.map((e) => ({ ...e })), totalCount: entries.length } };
  }

  setState(state: string): void {
    this.state = state;
    this.emit('state', { state });
  }
}

interface Harness {
  session: FakeSession;
  poller: ServerStatusPoller;
  events: StatusChangeEvent[];
  unavailable: StatusUnavailable[];
  clock: { ms: number };
}

/**
 * The poller's timers are unref'd (it must never keep a process alive); a test has to hold the
 * event loop open itself while it waits for them.
 */
function harness(t: TestContext, opts: ServerStatusOptions = {}): Harness {
  const keepAlive = setInterval(() => undefined, 1000);
  const session = new FakeSession();
  const clock = { ms: 1_700_000_000_000 };
  const poller = new ServerStatusPoller(session, { intervalMs: 60_000, now: () => clock.ms, ...opts });
  const events: StatusChangeEvent[] = [];
  const unavailable: StatusUnavailable[] = [];
  poller.on('change', (e) => events.push(e));
  poller.on('unavailable', (u) => unavailable.push(u));
  t.after(() => {
    poller.stop();
    clearInterval(keepAlive);
  });
  return { session, poller, events, unavailable, clock };
}

/** Session becomes ready and the first (immediate) poll completes. */
async function readyAndPolled(h: Harness): Promise<void> {
  const polled = once(h.poller, 'poll');
  h.session.setState('ready');
  await polled;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const viewer = (id: number, channel: string, extra: HtsmsgMap = {}): HtsmsgMap => ({
  id,
  state: 'Running',
  hostname: '192.168.1.20',
  username: 'kodi',
  client: 'Kodi Media Center',
  title: 'Kodi Media Center',
  channel,
  service: `${channel} service`,
  profile: 'htsp',
  start: 1_700_000_000,
  errors: 0,
  in: 1000,
  out: 1000,
  total_in: 10_000,
  total_out: 10_000,
  ...extra,
});

const tuner = (uuid: string, stream: string, extra: HtsmsgMap = {}): HtsmsgMap => ({
  uuid,
  input: `Tuner ${uuid}`,
  stream,
  subs: 1,
  weight: 100,
  signal: 40_000,
  signal_scale: 1,
  snr: 30_000,
  snr_scale: 1,
  ber: 0,
  unc: 0,
  bps: 2_000_000,
  te: 0,
  cc: 0,
  ...extra,
});

const conn = (id: number, extra: HtsmsgMap = {}): HtsmsgMap => ({
  id,
  type: 'HTSP',
  peer: '192.168.1.20',
  peer_port: 50_000 + id,
  server: '192.168.1.2',
  server_port: 9982,
  user: 'kodi',
  started: 1_700_000_000,
  streaming: 0,
  ...extra,
});

// ---------------------------------------------------------------------------------------------

describe('ServerStatusPoller (fake session)', () => {
  test('first poll after ready: every entry as an initial add; snapshots and summary', async (t) => {
    const h = harness(t);
    h.session.data['status/subscriptions'] = [
      viewer(1, 'News 24'),
      { id: 2, state: 'Running', title: 'DVR: Film', channel: 'Movies', start: 1_700_000_100 },
    ];
    h.session.data['status/inputs'] = [
      tuner('aa', '11836H'),
      tuner('aa', '12188H'),
      tuner('bb', '10773H'),
      tuner('cc', '', { subs: 0, weight: 0, signal: 0, snr: 0 }),
    ];
    h.session.data['status/connections'] = [conn(7)];
    h.poller.start();
    assert.equal(h.session.calls.length, 0, 'no polling before the session is ready');
    assert.equal(h.poller.current().stale, true);
    await readyAndPolled(h);

    assert.deepEqual(h.session.calls.sort(), Object.values(STATUS_PATHS).sort());
    assert.equal(h.events.length, 7);
    assert.ok(h.events.every((e) => e.action === 'add' && e.initial === true && e.resync === undefined));
    const inputIds = h.events.filter((e) => e.kind === 'input').map((e) => e.id).sort();
    assert.deepEqual(inputIds, ['aa/11836H', 'aa/12188H', 'bb/10773H', 'cc']);
    const sub = h.events.find((e) => e.kind === 'serverSubscription' && e.id === 1);
    assert.ok(sub);
    assert.equal(sub.object.channel, 'News 24');
    assert.ok(sub.changed.includes('channel'));

    const snap = h.poller.current();
    assert.equal(snap.available, true);
    assert.equal(snap.stale, false);
    assert.equal(snap.subscriptions.length, 2);
    assert.equal(snap.inputs.length, 4);
    assert.equal(snap.connections.length, 1);
    assert.equal(typeof snap.updatedAt, 'number');

    const sum = h.poller.summary();
    assert.equal(sum.subscriptions, 2);
    assert.equal(sum.viewers, 1, 'the DVR subscription has no hostname: not a viewer');
    assert.equal(sum.inputsInUse, 2, 'two muxes on one tuner count as one tuner; an idle one not at all');
    assert.equal(sum.connections, 1);
    assert.deepEqual(sum.watching, [
      { id: 1, channel: 'News 24', username: 'kodi', hostname: '192.168.1.20', client: 'Kodi Media Center', title: 'Kodi Media Center' },
    ]);
  });

  test('updates report only real changes; counters are noise; deletes when entries vanish', async (t) => {
    const h = harness(t);
    h.session.data['status/subscriptions'] = [viewer(1, 'News 24')];
    h.session.data['status/connections'] = [conn(7)];
    h.poller.start();
    await readyAndPolled(h);
    h.events.length = 0;

    // Only byte/error counters move: nothing to report, but the snapshot shows the new figures.
    h.session.data['status/subscriptions'] = [viewer(1, 'News 24', { in: 5555, out: 4444, total_in: 99_999, errors: 3 })];
    await h.poller.pollNow();
    assert.equal(h.events.length, 0);
    assert.equal(h.poller.current().subscriptions[0].in, 5555);

    // Zapping: the channel changes.
    h.session.data['status/subscriptions'] = [viewer(1, 'Sports', { in: 7777 })];
    await h.poller.pollNow();
    assert.equal(h.events.length, 1);
    const up = h.events[0];
    assert.equal(up.action, 'update');
    assert.equal(up.kind, 'serverSubscription');
    assert.equal(up.id, 1);
    assert.deepEqual(up.changed, ['channel', 'service']);
    assert.equal(up.previous?.channel, 'News 24');
    assert.equal(up.object.channel, 'Sports');
    assert.equal(up.initial, undefined);

    // A second viewer and a new connection appear, then the first viewer leaves.
    h.events.length = 0;
    h.session.data['status/subscriptions'] = [viewer(1, 'Sports'), viewer(2, 'Movies', { hostname: '192.168.1.30' })];
    h.session.data['status/connections'] = [conn(7), conn(8, { peer: '192.168.1.30' })];
    await h.poller.pollNow();
    assert.deepEqual(
      h.events.map((e) => `${e.kind}:${e.action}:${e.id}`).sort(),
      ['connection:add:8', 'serverSubscription:add:2'],
    );
    assert.equal(h.poller.summary().viewers, 2);

    h.events.length = 0;
    h.session.data['status/subscriptions'] = [viewer(2, 'Movies', { hostname: '192.168.1.30' })];
    await h.poller.pollNow();
    assert.equal(h.events.length, 1);
    assert.equal(h.events[0].action, 'delete');
    assert.equal(h.events[0].id, 1);
    assert.deepEqual(h.events[0].changed, []);
    assert.equal(h.events[0].object.channel, 'Sports');
    assert.equal(h.poller.summary().viewers, 1);
  });

  test('BOOL fields from the api reply are compared like any value', async (t) => {
    const h = harness(t);
    h.session.data['status/connections'] = [conn(7, { tls: false })];
    h.poller.start();
    await readyAndPolled(h);
    h.events.length = 0;
    h.session.data['status/connections'] = [conn(7, { tls: false })];
    await h.poller.pollNow();
    assert.equal(h.events.length, 0);
    h.session.data['status/connections'] = [conn(7, { tls: true })];
    await h.poller.pollNow();
    assert.equal(h.events.length, 1);
    assert.deepEqual(h.events[0].changed, ['tls']);
    assert.equal(h.events[0].object.tls, true);
  });

  test('signal: small moves ignored, big ones rate-limited, lock gained/lost reported at once', async (t) => {
    const h = harness(t, { signal: { minIntervalMs: 60_000 } });
    h.session.data['status/inputs'] = [tuner('aa', 'mux1', { signal: 0, snr: 0 })];
    h.poller.start();
    await readyAndPolled(h);
    h.events.length = 0;

    // Lock: 0 → value, reported immediately although the add was just now.
    h.clock.ms += 1000;
    h.session.data['status/inputs'] = [tuner('aa', 'mux1', { signal: 40_000, snr: 30_000 })];
    await h.poller.pollNow();
    assert.equal(h.events.length, 1);
    assert.deepEqual(h.events[0].changed.sort(), ['signal', 'snr']);

    // Below 5 % of full scale (3277): nothing.
    h.events.length = 0;
    h.clock.ms += 120_000;
    h.session.data['status/inputs'] = [tuner('aa', 'mux1', { signal: 42_000, snr: 31_000, bps: 123 })];
    await h.poller.pollNow();
    assert.equal(h.events.length, 0);

    // A big move, but the last signal report was 1 s + 120 s ago → reported.
    h.clock.ms += 1000;
    h.session.data['status/inputs'] = [tuner('aa', 'mux1', { signal: 50_000, snr: 31_000 })];
    await h.poller.pollNow();
    assert.equal(h.events.length, 1);
    assert.deepEqual(h.events[0].changed, ['signal']);
    assert.equal(h.events[0].previous?.signal, 40_000, 'previous is the last reported value, not the last polled');

    // Another big move 10 s later: rate-limited…
    h.events.length = 0;
    h.clock.ms += 10_000;
    h.session.data['status/inputs'] = [tuner('aa', 'mux1', { signal: 60_000, snr: 31_000 })];
    await h.poller.pollNow();
    assert.equal(h.events.length, 0);
    // …unless something else changes with it.
    h.session.data['status/inputs'] = [tuner('aa', 'mux1', { signal: 60_000, snr: 31_000, subs: 2 })];
    await h.poller.pollNow();
    assert.equal(h.events.length, 1);
    assert.deepEqual(h.events[0].changed.sort(), ['signal', 'subs']);

    // Decibel scale: 1 dB = 1000 steps.
    h.events.length = 0;
    h.clock.ms += 120_000;
    h.session.data['status/inputs'] = [tuner('aa', 'mux1', { signal: -75_000, signal_scale: 2, snr: 31_000, subs: 2 })];
    await h.poller.pollNow();
    assert.equal(h.events.length, 1, 'the scale itself changed');
    h.events.length = 0;
    h.clock.ms += 120_000;
    h.session.data['status/inputs'] = [tuner('aa', 'mux1', { signal: -75_600, signal_scale: 2, snr: 31_000, subs: 2 })];
    await h.poller.pollNow();
    assert.equal(h.events.length, 0);
    h.session.data['status/inputs'] = [tuner('aa', 'mux1', { signal: -76_100, signal_scale: 2, snr: 31_000, subs: 2 })];
    await h.poller.pollNow();
    assert.equal(h.events.length, 1);
    assert.deepEqual(h.events[0].changed, ['signal']);
  });

  test('a reused id with another start time is a different subscription: delete + add', async (t) => {
    const h = harness(t);
    h.session.data['status/subscriptions'] = [viewer(1, 'News 24')];
    h.poller.start();
    await readyAndPolled(h);
    h.events.length = 0;
    h.session.data['status/subscriptions'] = [viewer(1, 'Movies', { start: 1_700_009_999 })];
    await h.poller.pollNow();
    assert.deepEqual(h.events.map((e) => `${e.action}:${e.object.channel}`), ['delete:News 24', 'add:Movies']);
  });

  test('without the admin right: one unavailable, no api request, also after a reconnect with the same rights', async (t) => {
    const h = harness(t, { intervalMs: 10 });
    h.session.rights = { admin: false };
    h.poller.start();
    h.session.setState('ready');
    await sleep(50);
    assert.deepEqual(h.unavailable.map((u) => u.reason), ['not-admin']);
    assert.equal(h.session.calls.length, 0);
    assert.equal(h.poller.available, false);
    assert.equal(h.poller.current().unavailable?.reason, 'not-admin');

    h.session.setState('disconnected');
    h.session.setState('ready');
    await sleep(50);
    assert.equal(h.unavailable.length, 1, 'not repeated for the same rights');
    assert.equal(h.session.calls.length, 0);

    // The user was made admin: the next connection tries again.
    h.session.setState('disconnected');
    h.session.rights = { admin: true };
    const polled = once(h.poller, 'poll');
    h.session.setState('ready');
    await polled;
    assert.equal(h.poller.available, true);
    assert.equal(h.session.calls.length, 3);
  });

  test('a noaccess api reply (rights unknown) makes it unavailable once and stops polling', async (t) => {
    for (const style of ['reply', 'reject'] as const) {
      const h = harness(t, { intervalMs: 10 });
        h.session.rights = undefined;
      h.session.handler = async () => {
        if (style === 'reply') return { noaccess: 1 };
        throw new HtspError('noaccess', 'the server refused api', { method: 'api' });
      };
      h.poller.start();
      const u = once(h.poller, 'unavailable');
      h.session.setState('ready');
      const [info] = (await u) as [StatusUnavailable];
      assert.equal(info.reason, 'noaccess', style);
      const after = h.session.calls.length;
      assert.ok(after <= 3);
      await sleep(60);
      assert.equal(h.session.calls.length, after, `no polling after noaccess (${style})`);
      assert.equal(h.unavailable.length, 1);
    }
  });

  test('unknown paths (empty reply) are skipped; none known at all → unavailable "unsupported"', async (t) => {
    const h = harness(t);
    h.session.data['status/connections'] = [conn(7)];
    h.session.handler = async (path): Promise<HtsmsgMap> => {
      if (path === 'status/inputs') return {};
      return { response: { entries: (h.session.data[path] ?? []).map((e) => ({ ...e })), totalCount: 0 } };
    };
    h.poller.start();
    await readyAndPolled(h);
    assert.equal(h.poller.available, true);
    h.session.calls.length = 0;
    await h.poller.pollNow();
    assert.deepEqual(h.session.calls.sort(), ['status/connections', 'status/subscriptions'], 'inputs no longer asked for');

    const h2 = harness(t);
    h2.session.handler = async () => {
      throw new HtspError('server', 'Method not found', { method: 'api' });
    };
    h2.poller.start();
    const u = once(h2.poller, 'unavailable');
    h2.session.setState('ready');
    const [info] = (await u) as [StatusUnavailable];
    assert.equal(info.reason, 'unsupported');
  });

  test('a failed request keeps what we knew of that kind and reports pollError', async (t) => {
    const h = harness(t);
    h.session.data['status/subscriptions'] = [viewer(1, 'News 24')];
    h.poller.start();
    await readyAndPolled(h);
    h.events.length = 0;
    const errors: string[] = [];
    h.poller.on('pollError', (err, kind) => errors.push(`${kind}:${err.message}`));
    h.session.data['status/subscriptions'] = [];
    h.session.handler = async (path) => {
      if (path === 'status/subscriptions') throw new HtspError('timeout', 'no reply in time', { method: 'api' });
      return { response: { entries: [], totalCount: 0 } };
    };
    await h.poller.pollNow();
    assert.deepEqual(errors, ['serverSubscription:no reply in time']);
    assert.equal(h.events.length, 0, 'a timeout is no evidence that the viewer left');
    assert.equal(h.poller.current().subscriptions.length, 1);
  });

  test('reconnect: polling pauses while offline, then resync diff (gone → delete, new → add)', async (t) => {
    const h = harness(t, { intervalMs: 20 });
    h.session.data['status/subscriptions'] = [viewer(1, 'News 24'), viewer(2, 'Movies')];
    h.poller.start();
    await readyAndPolled(h);
    h.events.length = 0;

    h.session.setState('disconnected');
    assert.equal(h.poller.current().stale, true);
    const before = h.session.calls.length;
    await sleep(80);
    assert.equal(h.session.calls.length, before, 'no polling while not ready');

    h.session.data['status/subscriptions'] = [viewer(2, 'Movies'), viewer(3, 'Kids')];
    h.session.setState('connecting');
    h.session.setState('syncing');
    await readyAndPolled(h);
    assert.deepEqual(
      h.events.map((e) => `${e.action}:${e.id}:${e.resync === true}`).sort(),
      ['add:3:true', 'delete:1:true'],
    );
    assert.equal(h.poller.current().stale, false);

    // Later polls are ordinary again.
    h.events.length = 0;
    h.session.data['status/subscriptions'] = [viewer(3, 'Kids')];
    await once(h.poller, 'poll');
    assert.deepEqual(h.events.map((e) => `${e.action}:${e.id}:${e.resync === true}`), ['delete:2:false']);
  });

  test('polls at the interval and never overlaps a slow poll', async (t) => {
    const h = harness(t, { intervalMs: 10 });
    let release: (() => void) | undefined;
    const gate = new Promise<void>((r) => (release = r));
    h.session.handler = async () => {
      await gate;
      return { response: { entries: [], totalCount: 0 } };
    };
    h.poller.start();
    h.session.setState('ready');
    await sleep(80);
    assert.equal(h.session.calls.length, 3, 'one poll (three paths) in flight, no second one');
    void h.poller.pollNow();
    await sleep(10);
    assert.equal(h.session.calls.length, 3, 'pollNow does not overlap either');
    release?.();
    await once(h.poller, 'poll');
    // The requested extra poll and then the interval polls follow.
    await once(h.poller, 'poll');
    await once(h.poller, 'poll');
    assert.ok(h.session.calls.length >= 9);
  });

  test('stop() ends polling; start() again begins afresh with initial adds', async (t) => {
    const h = harness(t, { intervalMs: 10 });
    h.session.data['status/connections'] = [conn(7)];
    h.poller.start();
    await readyAndPolled(h);
    h.poller.stop();
    const n = h.session.calls.length;
    await sleep(60);
    assert.equal(h.session.calls.length, n);
    assert.equal(h.poller.current().connections.length, 0);
    assert.equal(h.session.listenerCount('state'), 0);

    h.events.length = 0;
    const polled = once(h.poller, 'poll');
    h.poller.start();
    await polled;
    assert.deepEqual(h.events.map((e) => `${e.action}:${e.id}:${e.initial === true}`), ['add:7:true']);
  });

  test('kinds and ignoreFields options', async (t) => {
    const h = harness(t, { kinds: ['connection'], ignoreFields: { connection: ['streaming'] } });
    h.session.data['status/connections'] = [conn(7)];
    h.poller.start();
    await readyAndPolled(h);
    assert.deepEqual(h.session.calls, ['status/connections']);
    h.events.length = 0;
    h.session.data['status/connections'] = [conn(7, { streaming: 2 })];
    await h.poller.pollNow();
    assert.equal(h.events.length, 0);
  });
});

describe('shared poller (acquire / release)', () => {
  function shared(t: TestContext): { session: FakeSession; poller: ServerStatusPoller } {
    const keepAlive = setInterval(() => undefined, 1000);
    const session = new FakeSession();
    const poller = ServerStatusPoller.for(session);
    t.after(() => {
      poller.stop();
      clearInterval(keepAlive);
    });
    return { session, poller };
  }

  test('one poller per session; polls the union of kinds at the shortest interval', async (t) => {
    const { session, poller } = shared(t);
    assert.equal(ServerStatusPoller.for(session), poller);
    const a = poller.acquire({ kinds: ['connection'], intervalMs: 60_000 });
    const b = poller.acquire({ kinds: ['input'], intervalMs: 30_000 });
    assert.deepEqual(poller.config, { intervalMs: 30_000, kinds: ['input', 'connection'] });
    b.release();
    b.release();
    assert.deepEqual(poller.config, { intervalMs: 60_000, kinds: ['connection'] });
    assert.equal(poller.users, 1);
    a.release();
    assert.equal(poller.users, 0);
    assert.equal(session.listenerCount('state'), 0, 'the last release stops it');
  });

  test('a user joining or leaving keeps the tracked state: a delete in between is reported', async (t) => {
    const { session, poller } = shared(t);
    session.data['status/subscriptions'] = [viewer(1, 'One')];
    const events: StatusChangeEvent[] = [];
    poller.on('change', (e) => events.push(e));
    const first = poller.acquire({ kinds: ['serverSubscription'], intervalMs: 60_000 });
    const polled = once(poller, 'poll');
    session.setState('ready');
    await polled;
    assert.deepEqual(events.map((e) => `${e.action}:${e.id}:${e.initial === true}`), ['add:1:true']);

    events.length = 0;
    session.data['status/subscriptions'] = [];
    const second = poller.acquire({ kinds: ['serverSubscription', 'connection'], intervalMs: 60_000 });
    await once(poller, 'poll');
    // The viewer left while the second user joined: still a (non-initial) delete.
    assert.deepEqual(
      events.map((e) => `${e.kind}:${e.action}:${e.id}:${e.initial === true}`),
      ['serverSubscription:delete:1:false'],
    );
    second.release();
    session.data['status/subscriptions'] = [viewer(2, 'Two')];
    events.length = 0;
    await poller.pollNow();
    assert.deepEqual(events.map((e) => `${e.action}:${e.id}:${e.initial === true}`), ['add:2:false']);
    first.release();
  });

  test('a kind added later reports its first poll as initial, the others stay live', async (t) => {
    const { session, poller } = shared(t);
    session.data['status/connections'] = [conn(7)];
    session.data['status/inputs'] = [tuner('aa', 'mux')];
    const events: StatusChangeEvent[] = [];
    poller.on('change', (e) => events.push(e));
    poller.acquire({ kinds: ['connection'], intervalMs: 60_000 });
    const polled = once(poller, 'poll');
    session.setState('ready');
    await polled;
    events.length = 0;
    session.data['status/connections'] = [conn(7), conn(8)];
    const snapshotPending = once(poller, 'poll');
    poller.acquire({ kinds: ['input'], intervalMs: 60_000 });
    assert.equal(poller.current().stale, true, 'the new kind has no lists yet');
    await snapshotPending;
    assert.equal(poller.current().stale, false);
    assert.deepEqual(
      events.map((e) => `${e.kind}:${e.action}:${e.initial === true}`).sort(),
      ['connection:add:false', 'input:add:true'],
    );
  });

  test('a throwing listener neither crashes the process nor starves the other listeners', async (t) => {
    const { session, poller } = shared(t);
    session.data['status/connections'] = [conn(7)];
    const seen: StatusChangeEvent[] = [];
    const reported: Error[] = [];
    poller.on('change', () => {
      throw new Error('listener bug');
    });
    poller.on('change', (e) => seen.push(e));
    poller.on('poll', () => {
      throw new Error('poll listener bug');
    });
    poller.on('listenerError', (e) => reported.push(e));
    poller.acquire({ kinds: ['connection'], intervalMs: 100 });
    session.setState('ready');
    // Two timer-driven polls: the poller keeps going after the throws.
    await until(() => session.calls.length >= 2, 'two polls');
    assert.equal(seen.length, 1);
    assert.ok(session.calls.length >= 2, `polls went on: ${session.calls.length}`);
    assert.ok(reported.some((e) => e.message === 'listener bug'));
    assert.ok(reported.some((e) => e.message === 'poll listener bug'));
  });
});

describe('entry keys and snapshots', () => {
  test('statusEntryKey: uuid/stream for inputs, uuid alone without a stream, id otherwise', () => {
    assert.equal(statusEntryKey('input', { uuid: 'aa', stream: '11836H' }), 'aa/11836H');
    assert.equal(statusEntryKey('input', { uuid: 'aa', stream: '' }), 'aa');
    assert.equal(statusEntryKey('input', { uuid: 'aa' }), 'aa');
    assert.equal(statusEntryKey('input', { stream: 'x' }), undefined);
    assert.equal(statusEntryKey('serverSubscription', { id: 12 }), 12);
    assert.equal(statusEntryKey('connection', { id: 7n }), 7, 'an S64 that arrived as bigint keys as a number');
    assert.equal(statusEntryKey('connection', { peer: 'x' }), undefined);
  });

  test('snapshotChanges: the current entries as adds, with the ids the live events use', async (t) => {
    const h = harness(t);
    h.session.data['status/subscriptions'] = [viewer(3, 'News 24')];
    h.session.data['status/inputs'] = [tuner('aa', '11836H'), tuner('aa', '12188H')];
    h.session.data['status/connections'] = [conn(7)];
    assert.deepEqual(h.poller.snapshotChanges(), [], 'nothing before the first poll');
    h.poller.start();
    await readyAndPolled(h);
    const snap = h.poller.snapshotChanges();
    const live = h.events.map((e) => `${e.kind} ${e.id}`).sort();
    assert.deepEqual(snap.map((e) => `${e.kind} ${e.id}`).sort(), live);
    assert.ok(snap.every((e) => e.action === 'add' && e.changed.length === 0 && e.initial === undefined && e.resync === undefined));
    const input = snap.find((e) => e.id === 'aa/12188H');
    assert.equal(input?.object.stream, '12188H');
    // Only the kinds asked for, and the objects are the latest ones (noise fields included).
    h.session.data['status/inputs'] = [tuner('aa', '11836H', { bps: 1 }), tuner('aa', '12188H')];
    await h.poller.pollNow();
    const inputs = h.poller.snapshotChanges(['input']);
    assert.deepEqual(inputs.map((e) => e.kind), ['input', 'input']);
    assert.equal(inputs.find((e) => e.id === 'aa/11836H')?.object.bps, 1);
  });
});

// ---------------------------------------------------------------------------------------------
// Against the simulator: real HTSP on loopback, the `api` method answered by the simulator.

interface Live {
  sim: TvheadendSimulator;
  session: HtspSession;
  apiRequests: () => number;
}

/** A simulator and a session to it, not started yet; both stopped when the test ends. */
async function live(t: TestContext, simOpts: SimOptions = {}, sessOpts: Partial<SessionOptions> = {}): Promise<Live> {
  // No DVR entries by default: a recording is a subscription too, and would add to every list.
  const sim = await startSim(t, { speed: 0, dvrEntries: [], ...simOpts });
  let api = 0;
  sim.on('request', (r: { method?: string }) => {
    if (r.method === 'api') api++;
  });
  const session = newSession(t, sim.port, sessOpts);
  return { sim, session, apiRequests: () => api };
}

/** A poller of `session` every `intervalMs`, stopped when the test ends. */
function livePoller(t: TestContext, session: StatusSession, intervalMs: number): ServerStatusPoller {
  const poller = new ServerStatusPoller(session, { intervalMs });
  t.after(() => poller.stop());
  return poller;
}

/** Resolves with the first emitted value that passes `pred`; rejects after 5 s. */
function waitFor<T>(em: EventEmitter, event: string, pred?: (v: T) => boolean, ms = 5000): Promise<T> {
  return waitForEvent(em, event, pred, ms);
}

describe('ServerStatusPoller against the simulator', () => {
  test('admin: viewers (external and our own subscription) appear and disappear', async (t) => {
    const { sim, session } = await live(t);
    const poller = livePoller(t, session, 30);
    const events = collect<StatusChangeEvent>(poller, 'change');
    poller.start();
    session.start();
    await waitFor(poller, 'poll');
    assert.equal(poller.available, true);
    const own = poller.current().connections;
    assert.equal(own.length, 1, 'our own HTSP connection is listed');
    assert.equal(own[0].type, 'HTSP');
    assert.equal(own[0].user, 'demo');
    assert.equal(poller.summary().viewers, 0);
    assert.equal(poller.summary().inputsInUse, 0);
    assert.ok(events.every((e) => e.initial === true && e.action === 'add'));
    events.length = 0;

    // Our own live subscription.
    const news = sim.channels[1];
    const sub = session.subscribe(news.id);
    const ownAdd = await waitFor<StatusChangeEvent>(poller, 'change', (e) => e.kind === 'serverSubscription' && e.action === 'add');
    assert.equal(ownAdd.object.channel, news.name);
    assert.equal(ownAdd.object.username, 'demo');
    assert.equal(ownAdd.initial, undefined);

    // Somebody else starts watching another channel.
    const movies = sim.channels[2];
    const viewerId = sim.addExternalViewer({ channelId: movies.id, username: 'alice', hostname: '10.0.0.9', client: 'VLC' });
    const otherAdd = await waitFor<StatusChangeEvent>(
      poller,
      'change',
      (e) => e.kind === 'serverSubscription' && e.action === 'add' && e.object.hostname === '10.0.0.9',
    );
    assert.equal(otherAdd.object.channel, movies.name);
    assert.equal(otherAdd.object.username, 'alice');
    await waitFor(poller, 'poll');
    const sum = poller.summary();
    assert.equal(sum.viewers, 2);
    assert.deepEqual(sum.watching.map((w) => w.channel).sort(), [movies.name, news.name].sort());
    assert.ok(sum.inputsInUse >= 1);

    // She stops; then we unsubscribe.
    sim.removeExternalViewer(viewerId);
    const gone = await waitFor<StatusChangeEvent>(poller, 'change', (e) => e.kind === 'serverSubscription' && e.action === 'delete');
    assert.equal(gone.object.username, 'alice');
    await sub.unsubscribe();
    const gone2 = await waitFor<StatusChangeEvent>(poller, 'change', (e) => e.kind === 'serverSubscription' && e.action === 'delete');
    assert.equal(gone2.object.username, 'demo');
    await waitFor(poller, 'poll');
    assert.equal(poller.summary().viewers, 0);
    assert.equal(poller.summary().inputsInUse, 0);
    // No spurious churn: exactly two adds and two deletes of subscriptions.
    const subs = events.filter((e) => e.kind === 'serverSubscription').map((e) => e.action);
    assert.deepEqual(subs.filter((a) => a !== 'update'), ['add', 'add', 'delete', 'delete']);
  });

  test('non-admin user: one unavailable, no api request, also not after a reconnect', async (t) => {
    const { sim, session, apiRequests } = await live(
      t,
      { users: [{ username: 'viewer', password: 'pw', rights: { streaming: true, dvr: true } }] },
      { username: 'viewer', password: 'pw' },
    );
    const poller = livePoller(t, session, 20);
    const unavailable = collect<StatusUnavailable>(poller, 'unavailable');
    poller.start();
    session.start();
    await waitFor(session, 'ready');
    assert.equal(session.rights?.admin, false);
    assert.deepEqual(unavailable.map((u) => u.reason), ['not-admin']);

    sim.dropConnections();
    await waitFor(session, 'state', (s: { state: string }) => s.state !== 'ready');
    await waitFor(session, 'ready');
    await sleep(100);
    assert.equal(unavailable.length, 1);
    assert.equal(apiRequests(), 0);
    assert.equal(poller.current().available, false);
  });

  test('rights unknown to the client: the server says noaccess once, then no more polling', async (t) => {
    const { session, apiRequests } = await live(
      t,
      { users: [{ username: 'viewer', password: 'pw', rights: { streaming: true } }] },
      { username: 'viewer', password: 'pw' },
    );
    // As with a server older than v26: the client cannot know the rights up front.
    const blind: StatusSession = {
      get state() {
        return session.state;
      },
      rights: undefined,
      callRaw: (m, f, o) => session.callRaw(m, f, o),
      on: (e, l) => session.on(e, l),
      off: (e, l) => session.off(e, l),
    };
    const poller = livePoller(t, blind, 20);
    const unavailable = collect<StatusUnavailable>(poller, 'unavailable');
    poller.start();
    session.start();
    await waitFor(poller, 'unavailable');
    const n = apiRequests();
    assert.ok(n >= 1);
    await sleep(150);
    assert.equal(apiRequests(), n, 'no polling after noaccess');
    assert.deepEqual(unavailable.map((u) => u.reason), ['noaccess']);
  });

  test('simulator: subscription ids are kept for the subscription\'s life; idle inputs are not listed', async (t) => {
    const { sim, session } = await live(t, { channels: [{ name: 'IPTV A', input: 'iptv' }, { name: 'IPTV B', input: 'iptv' }, { name: 'DVB C', input: 'dvb' }] });
    const [a, b, c] = sim.channels;
    const list = async (path: string): Promise<HtsmsgMap[]> =>
      ((await session.callRaw('api', { path })).response as HtsmsgMap).entries as HtsmsgMap[];
    session.start();
    await waitFor(session, 'ready');
    assert.deepEqual(await list('status/inputs'), [], 'nothing received: no inputs listed');

    const v1 = sim.addExternalViewer({ channelId: a.id, username: 'one' });
    const v2 = sim.addExternalViewer({ channelId: b.id, username: 'two' });
    const own = session.subscribe(c.id);
    await waitFor(own, 'start');
    const rec = sim.addDvrEntry({ channelId: a.id, start: sim.now() - 5, stop: sim.now() + 600, title: 'Now' });
    assert.equal(rec.state, 'recording');
    const first = await list('status/subscriptions');
    const idOf = (entries: HtsmsgMap[], pred: (e: HtsmsgMap) => boolean): unknown => entries.find(pred)?.id;
    const ids = {
      two: idOf(first, (e) => e.username === 'two'),
      own: idOf(first, (e) => e.username === 'demo' && e.title !== 'DVR: Now'),
      rec: idOf(first, (e) => e.title === 'DVR: Now'),
    };
    assert.equal(idOf(first, (e) => e.username === 'one'), v1);
    assert.equal(ids.two, v2);
    assert.equal(new Set([v1, ...Object.values(ids)]).size, 4, 'one counter for every kind of subscription');

    // The first one leaves: nobody else is renumbered.
    sim.removeExternalViewer(v1);
    const second = await list('status/subscriptions');
    assert.equal(second.length, 3);
    assert.equal(idOf(second, (e) => e.username === 'two'), ids.two);
    assert.equal(idOf(second, (e) => e.title === 'DVR: Now'), ids.rec);
    assert.equal(idOf(second, (e) => e.username === 'demo' && e.title !== 'DVR: Now'), ids.own);
    // A new one gets a new id, never a freed one.
    const v3 = sim.addExternalViewer({ channelId: b.id, username: 'three' });
    assert.ok(v3 > Math.max(v1, v2, Number(ids.own), Number(ids.rec)));

    // One entry per input and mux in use: the IPTV input receives two muxes, the tuner one.
    const inputs = await list('status/inputs');
    const byStream = new Map(inputs.map((i) => [`${String(i.uuid)}/${String(i.stream)}`, i]));
    assert.equal(inputs.length, 3);
    assert.equal(new Set(inputs.map((i) => i.uuid)).size, 2);
    assert.ok(inputs.every((i) => (i.subs as number) >= 1));
    const iptvB = [...byStream.values()].find((i) => String(i.stream).endsWith(b.name));
    assert.equal(iptvB?.subs, 2, 'two viewers on channel B share its mux');

    // All gone: the list is empty again.
    sim.removeExternalViewer(v2);
    sim.removeExternalViewer(v3);
    sim.updateDvrEntry(rec.id, { state: 'completed' });
    await own.unsubscribe();
    assert.deepEqual(await list('status/subscriptions'), []);
    assert.deepEqual(await list('status/inputs'), []);
  });

  test('reconnect: what changed while offline comes as resync adds and deletes', async (t) => {
    const { sim, session } = await live(t);
    const ch = sim.channels;
    const poller = livePoller(t, session, 30);
    const a = sim.addExternalViewer({ channelId: ch[0].id, username: 'a', hostname: '10.0.0.1' });
    poller.start();
    session.start();
    await waitFor(poller, 'poll');
    const before = poller.current();
    assert.equal(before.subscriptions.length, 1);

    const events = collect<StatusChangeEvent>(poller, 'change');
    sim.dropConnections();
    // Changed while we are away: a leaves, b arrives.
    sim.removeExternalViewer(a);
    sim.addExternalViewer({ channelId: ch[2].id, username: 'b', hostname: '10.0.0.2' });
    await waitFor(session, 'ready');
    await waitFor(poller, 'poll');
    const subEvents = events.filter((e) => e.kind === 'serverSubscription');
    assert.ok(subEvents.length >= 1);
    assert.ok(subEvents.every((e) => e.resync === true));
    assert.deepEqual(poller.current().subscriptions.map((s) => s.username), ['b']);
    const added = subEvents.filter((e) => e.action === 'add').map((e) => e.object.username);
    const deleted = subEvents.filter((e) => e.action === 'delete').map((e) => e.object.username);
    assert.deepEqual([added, deleted], [['b'], ['a']]);
    // Our connection is a new one after the reconnect.
    const conns = events.filter((e) => e.kind === 'connection').map((e) => e.action).sort();
    assert.deepEqual(conns, ['add', 'delete']);
  });
});
