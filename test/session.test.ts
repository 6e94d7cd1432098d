import { test, describe, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { TvheadendSimulator, SimOptions } from '../src/sim';
import type { HtspSession, SessionOptions, SessionStatus } from '../src/htsp/session';
import { valueEquals, type ChangeEvent } from '../src/htsp/cache';
import type { HtsmsgValue } from '../src/htsp/codec';
import { HtspError } from '../src/htsp/errors';
import { ScriptedServer, type ScriptedConnection } from './helpers/scripted-server';
import { collect, newSession, onCleanup, sleep, startSim, until, untilReady, untilState, waitFor, withSimSession, type SimSession } from './helpers/sim-session';

/** A fixed clock (speed 0): nothing changes at the server unless a test says so. */
const sim = (t: TestContext, opts: SimOptions = {}): Promise<TvheadendSimulator> => startSim(t, { speed: 0, ...opts });
/** That simulator and a ready session to it. */
const simSession = (t: TestContext, simOpts: SimOptions = {}, sessOpts: Partial<SessionOptions> = {}): Promise<SimSession> =>
  withSimSession(t, { speed: 0, ...simOpts }, sessOpts);

function key(c: ChangeEvent): string {
  return `${c.action} ${c.kind} ${c.id}${c.action === 'update' ? ' ' + [...c.changed].sort().join(',') : ''}`;
}

describe('connecting', () => {
  test('good credentials: visible states up to ready, cache filled, status counts', async (t) => {
    const s = await sim(t);
    const sess = newSession(t, s.port);
    const states = collect<SessionStatus>(sess, 'state');
    sess.start();
    sess.start(); // idempotent
    await untilReady(sess);
    assert.deepEqual(
      states.map((x) => x.state),
      ['connecting', 'authenticating', 'syncing', 'ready'],
    );
    assert.equal(sess.cache.counts.channels, s.channels.length);
    assert.equal(sess.cache.counts.events, s.eventCount);
    assert.equal(sess.cache.counts.dvrEntries, s.dvrEntries.length);
    assert.equal(sess.cache.counts.autorecEntries, s.autorecEntries.length);
    assert.equal(sess.status.sync?.channels, s.channels.length);
    assert.equal(sess.serverInfo?.htspVersion, 44);
    assert.equal(sess.rights?.admin, true);
    const disk = await sess.call('getDiskSpace');
    assert.equal(typeof disk.freediskspace, 'number');
    const ch = s.channels[2];
    assert.equal(sess.findChannel(ch.name.toUpperCase())?.channelId, ch.id);
    assert.equal(sess.findChannel(String(ch.number))?.channelId, ch.id);
    const nn = sess.nowNext(ch.id);
    assert.equal(nn.now?.eventId, s.getNowNext(ch.id).now?.id);
    assert.equal(nn.next?.eventId, s.getNowNext(ch.id).next?.id);
  });

  test('bad credentials: auth-failed, kept, no retry storm; start() tries once more', async (t) => {
    const s = await sim(t);
    let connections = 0;
    s.on('connection', () => connections++);
    const sess = newSession(t, s.port, { password: 'not-the-password-xyz' });
    const states: string[] = [];
    sess.on('state', (st) => states.push(st.state));
    sess.start();
    await untilState(sess, 'auth-failed');
    assert.equal(sess.status.error?.code, 'auth-failed');
    assert.ok(!sess.status.error?.message.includes('not-the-password-xyz'));
    await sleep(1500);
    assert.equal(connections, 1, 'no reconnect loop on bad credentials');
    assert.equal(sess.state, 'auth-failed');
    assert.equal(sess.status.nextRetryAt, undefined);
    sess.start();
    await untilState(sess, 'auth-failed');
    assert.equal(connections, 2);
    await assert.rejects(sess.call('getSysTime'), (e: HtspError) => e.code === 'disconnected');
  });

  test('after auth-failed, new credentials through reconfigure() connect', async (t) => {
    const s = await sim(t);
    const sess = newSession(t, s.port, { password: 'bad' });
    sess.start();
    await untilState(sess, 'auth-failed');
    const back = untilReady(sess);
    sess.reconfigure({ password: 'demo' });
    await back;
    assert.equal(sess.status.error, undefined);
  });

  test('on-demand auth through the session: anonymous first, credentials on noaccess', async (t) => {
    const s = await sim(t, { anonymousRights: { streaming: true } });
    const methods: Array<{ method: string | undefined; user: unknown }> = [];
    s.on('request', (r: { method: string | undefined; message: Record<string, unknown> }) =>
      methods.push({ method: r.method, user: r.message.username }),
    );
    const sess = newSession(t, s.port, { authOnDemand: true });
    sess.start();
    await untilReady(sess);
    assert.equal(sess.cache.counts.dvrEntries, 0, 'anonymous sees no recordings');
    const reply = await sess.call('getDvrConfigs');
    assert.ok(Array.isArray(reply.dvrconfigs));
    const calls = methods.filter((m) => m.method === 'getDvrConfigs');
    assert.deepEqual(
      calls.map((c) => c.user),
      [undefined, 'demo'],
    );
  });

  test('call/callRaw reject disconnected at once when not connected', async (t) => {
    const s = await sim(t);
    const sess = newSession(t, s.port);
    const t0 = Date.now();
    await assert.rejects(sess.call('getSysTime'), (e: HtspError) => e.code === 'disconnected');
    await assert.rejects(sess.callRaw('anything'), (e: HtspError) => e.code === 'disconnected');
    // "At once" against the 5 s request timeout: a loaded machine may take a while, not seconds.
    assert.ok(Date.now() - t0 < 1000);
  });
});

describe('faults', () => {
  test('request timeout from a slow server; the session stays ready', async (t) => {
    const { sim: s, session: sess } = await simSession(t);
    s.setReplyDelay(400, ['getDiskSpace']);
    await assert.rejects(sess.call('getDiskSpace', {}, { timeoutMs: 100 }), (e: HtspError) => e.code === 'timeout');
    assert.equal(sess.state, 'ready');
    await sleep(400); // the late reply arrives and is ignored
    assert.equal(sess.state, 'ready');
    s.setReplyDelay(0);
    await sess.call('getDiskSpace');
  });

  test('half-open connection: a stalled server is detected by the ping and the session reconnects', async (t) => {
    const { sim: s, session: sess } = await simSession(t, {}, { pingIntervalMs: 100, pingTimeoutMs: 200, connectTimeoutMs: 300 });
    const lost = untilState(sess, 'disconnected');
    s.stall(1200);
    const st = await lost;
    assert.equal(st.error?.code, 'timeout');
    assert.match(st.error!.message, /liveness/);
    assert.ok(typeof st.nextRetryAt === 'number');
    await untilReady(sess, 8000);
    assert.equal(sess.state, 'ready');
  });

  test('garbage from the server: protocol error, then a clean reconnect without changes', async (t) => {
    const { sim: s, session: sess, changes } = await simSession(t);
    const lost = untilState(sess, 'disconnected');
    s.sendGarbage();
    const st = await lost;
    assert.equal(st.error?.code, 'protocol');
    await untilReady(sess);
    assert.deepEqual(changes.map(key), [], 'nothing changed on the server, so nothing is reported');
  });

  test('an oversized frame length: protocol error and reconnect', async (t) => {
    const { sim: s, session: sess } = await simSession(t);
    const lost = untilState(sess, 'disconnected');
    s.sendOversizeLength();
    const st = await lost;
    assert.equal(st.error?.code, 'protocol');
    assert.match(st.error!.message, /oversized|limit/);
    await untilReady(sess);
  });

  test('backoff grows while the server is down and resets after ready', async (t) => {
    const { sim: s, session: sess } = await simSession(t, {}, { reconnect: { initialDelayMs: 50, maxDelayMs: 400, jitter: 0 } });
    const delays: number[] = [];
    sess.on('state', (st) => {
      if (st.state === 'disconnected' && st.nextRetryAt) delays.push(st.nextRetryAt - Date.now());
    });
    await s.stop();
    await sleep(1500);
    await s.start();
    await untilReady(sess, 5000);
    assert.ok(delays.length >= 4, `delays ${delays.join(',')}`);
    for (let i = 2; i < delays.length; i++) assert.ok(delays[i] >= delays[i - 1] - 5, `not growing: ${delays.join(',')}`);
    assert.ok(Math.max(...delays) <= 400);
    assert.equal(sess.status.attempt, 0);
  });
});

describe('resync', () => {
  type Snapshot = Map<string, Record<string, unknown>>;
  const KINDS = ['channel', 'tag', 'dvrEntry', 'autorecEntry', 'timerecEntry', 'event'] as const;

  function snapshot(sess: HtspSession): Snapshot {
    const out: Snapshot = new Map();
    const c = sess.cache;
    const maps = [c.channelsById, c.tagsById, c.dvrEntriesById, c.autorecEntriesById, c.timerecEntriesById, c.eventsById];
    maps.forEach((m, i) => {
      for (const [id, obj] of m as ReadonlyMap<unknown, object>) out.set(`${KINDS[i]} ${String(id)}`, obj as Record<string, unknown>);
    });
    return out;
  }

  /** The change list a perfect reconciliation would report between two states. */
  function diff(before: Snapshot, after: Snapshot): string[] {
    const out: string[] = [];
    for (const [k, a] of after) {
      const b = before.get(k);
      if (!b) {
        out.push(`add ${k}`);
        continue;
      }
      const fields = new Set([...Object.keys(a), ...Object.keys(b)]);
      const changed = [...fields].filter((f) => !valueEquals(a[f] as HtsmsgValue, b[f] as HtsmsgValue)).sort();
      if (changed.length) out.push(`update ${k} ${changed.join(',')}`);
    }
    for (const k of before.keys()) if (!after.has(k)) out.push(`delete ${k}`);
    return out.sort();
  }

  /** What a client that connects fresh now sees. */
  async function freshView(t: TestContext, s: TvheadendSimulator): Promise<Snapshot> {
    const other = newSession(t, s.port);
    other.start();
    await untilReady(other);
    const snap = snapshot(other);
    await other.stop();
    return snap;
  }

  test('server restart while ready: exactly the changes made while the client was away', async (t) => {
    const { sim: s, session: sess, changes } = await simSession(t);
    const before = snapshot(sess);

    await s.stop();
    const [renamed, removed] = s.channels;
    s.updateChannel(renamed.id, { name: 'Renamed While Away' });
    s.deleteChannel(removed.id);
    const added = s.addChannel({ name: 'Brand New' });
    const evs = s.getEvents(renamed.id);
    s.updateEvent(evs[3].id, { title: 'New Title' });
    s.deleteEvent(evs[10].id);
    const auto = s.autorecEntries[0];
    s.deleteAutorecEntry(auto.id);
    await s.start();
    await untilReady(sess);
    await sleep(100);

    const got = changes.map(key).sort();
    assert.deepEqual(got, diff(before, await freshView(t, s)));
    // The test would notice a reconciliation that missed these:
    for (const k of [
      `update channel ${renamed.id} channelName`,
      `delete channel ${removed.id}`,
      `add channel ${added.id}`,
      `delete event ${evs[10].id}`,
      `delete autorecEntry ${auto.id}`,
    ]) {
      assert.ok(got.includes(k), `missing ${k}`);
    }
    assert.ok(got.some((k) => k.startsWith(`update event ${evs[3].id} `) && k.includes('title')));
    assert.ok(changes.every((c) => c.resync === true && !c.initial));
    assert.ok(changes.length < before.size / 2, 'unchanged objects are not reported');
  });

  test('server restart that renumbers tags (G13): no tag delete/add, no channel change, ids follow', async (t) => {
    const { sim: s, session: sess, changes } = await simSession(t);
    const oldIds = new Map(s.tags.map((tg) => [tg.uuid, tg.id]));
    assert.ok(oldIds.size > 1, 'the simulator has several tags');
    await s.restart();
    await untilReady(sess);
    await sleep(100);
    assert.ok(s.tags.some((tg) => tg.id !== oldIds.get(tg.uuid)), 'the simulator renumbered its tags');
    const got = changes.map(key);
    assert.ok(!got.some((k) => /^(add|delete) tag /.test(k)), `no tag deletes/adds: ${got.join('; ')}`);
    assert.ok(!got.some((k) => k.includes(' channel ')), `channels keep the same tags: ${got.join('; ')}`);
    for (const c of changes) {
      assert.equal(c.kind, 'tag');
      assert.deepEqual(c.changed, ['tagId']);
    }
    assert.equal(changes.length, s.tags.filter((tg) => tg.id !== oldIds.get(tg.uuid)).length);
    for (const tg of s.tags) assert.equal(sess.cache.tagsById.get(tg.id)?.tagIdStr, tg.uuid);
    for (const ch of s.channels) assert.deepEqual(sess.cache.channelsById.get(ch.id)?.tags, ch.tags);
  });

  test('server restart in the middle of the first sync: exactly the changes, adds never repeated', async (t) => {
    const s = await sim(t, { channels: 40, epgHours: 24 * 7 });
    const sess = newSession(t, s.port);
    const changes = collect<ChangeEvent>(sess, 'change');
    let readyBeforeCut = false;
    let cut = false;
    sess.on('ready', () => {
      if (!cut) readyBeforeCut = true;
    });
    const firstEvent = waitFor<ChangeEvent>(sess, 'change', (c) => c.kind === 'event');
    sess.start();
    await firstEvent;
    cut = true;
    const lost = untilState(sess, 'disconnected');
    await s.stop();
    await lost;
    const atCut = snapshot(sess);
    assert.equal(readyBeforeCut, false, 'the cut must land inside the sync');
    assert.ok(atCut.size < 100 + s.eventCount, 'the sync was cut short');
    const seenEvents = [...atCut.keys()].filter((k) => k.startsWith('event ')).map((k) => Number(k.slice(6)));
    const before = changes.length;

    const channel = s.channels[0];
    s.updateChannel(channel.id, { name: 'Changed During Outage' });
    s.updateEvent(seenEvents[0], { title: 'Retitled' });
    const unseen = s.getEvents().find((e) => !atCut.has(`event ${e.id}`))!;
    s.deleteEvent(unseen.id);
    await s.start();
    await untilReady(sess, 20_000);
    const after = changes.slice(before).map(key).sort();

    assert.deepEqual(after, diff(atCut, await freshView(t, s)));
    assert.ok(after.includes(`update channel ${channel.id} channelName`));
    assert.ok(after.some((k) => k.startsWith(`update event ${seenEvents[0]} `)));
    assert.ok(!after.some((k) => k.endsWith(` event ${unseen.id}`)), 'an object never seen is never reported');
    const adds = changes.filter((c) => c.action === 'add').map((c) => `${c.kind} ${c.id}`);
    assert.equal(new Set(adds).size, adds.length, 'no object is added twice');
    assert.equal(sess.cache.counts.events, s.eventCount);
  });

  test('EPG off: no events, and a reconnect with EPG off deletes none', async (t) => {
    const { sim: s, session: sess, changes } = await simSession(t, {}, { epg: false });
    assert.equal(sess.cache.counts.events, 0);
    s.dropConnections();
    await untilReady(sess);
    assert.deepEqual(changes.map(key), []);
  });
});

describe('sync watchdog', () => {
  /** A server that answers everything but sends metadata only as `script` says. */
  async function syncServer(t: TestContext, script: (c: ScriptedConnection, attempt: number) => void): Promise<ScriptedServer> {
    let attempts = 0;
    const srv = new ScriptedServer({
      handlers: {
        enableAsyncMetadata: (_req, c) => {
          const n = ++attempts;
          setTimeout(() => script(c, n), 0);
          return {};
        },
      },
    });
    await srv.start();
    onCleanup(t, () => srv.stop());
    return srv;
  }

  const channelAdd = (id: number) => ({ method: 'channelAdd', channelId: id, channelNumber: id, channelName: `C${id}`, eventId: 0, nextEventId: 0, services: [], tags: [] });

  test('a sync that stalls halfway: timeout, the connection is closed, and the session reconnects', async (t) => {
    const s = await sim(t, { channels: 40, epgHours: 24 * 7 });
    const sess = newSession(t, s.port, { syncTimeoutMs: 300 });
    const states = collect<SessionStatus>(sess, 'state');
    const firstEvent = waitFor<ChangeEvent>(sess, 'change', (c) => c.kind === 'event');
    sess.start();
    await firstEvent;
    assert.equal(sess.state, 'syncing');
    s.stall();
    const t0 = Date.now();
    const lost = await untilState(sess, 'disconnected', 5000);
    assert.equal(lost.error?.code, 'timeout');
    assert.match(lost.error!.message, /initial sync/);
    assert.ok(Date.now() - t0 >= 250, `gave up after ${Date.now() - t0} ms`);
    assert.ok(!states.some((st) => st.state === 'ready'));
    s.resume();
    await untilReady(sess, 20_000);
    assert.equal(sess.cache.counts.events, s.eventCount);
    assert.equal(s.connectionCount, 1, 'the stalled connection was closed');
  });

  test('progress restarts the clock: a slow but steady sync is not cut', async (t) => {
    const srv = await syncServer(t, (c) => {
      let n = 0;
      const timer = setInterval(() => {
        if (c.socket.destroyed) return clearInterval(timer);
        if (++n <= 12) return c.send(channelAdd(n));
        clearInterval(timer);
        c.send({ method: 'initialSyncCompleted' });
      }, 100);
    });
    // Each step well inside the watchdog, the whole sync (1.3 s) well beyond it.
    const sess = newSession(t, srv.port, { syncTimeoutMs: 1000 });
    const states: string[] = [];
    sess.on('state', (st) => states.push(st.state));
    sess.start();
    await untilReady(sess, 5000);
    assert.equal(srv.connections.length, 1, 'one connection: never timed out');
    assert.ok(!states.includes('disconnected'));
    assert.equal(sess.cache.counts.channels, 12);
  });

  test('a server that never completes: timed out and retried each time; 0 turns the watchdog off', async (t) => {
    const srv = await syncServer(t, (c) => c.send(channelAdd(1)));
    const sess = newSession(t, srv.port, { syncTimeoutMs: 100 });
    const errors: Array<string | undefined> = [];
    sess.on('state', (st) => {
      if (st.state === 'disconnected') errors.push(st.error?.code);
    });
    sess.start();
    await until(() => srv.connections.length >= 3, 'three connection attempts', 15_000);
    assert.ok(errors.length >= 2);
    assert.ok(errors.every((c) => c === 'timeout'));
    await sess.stop();

    const patient = newSession(t, srv.port, { syncTimeoutMs: 0 });
    const before = srv.connections.length;
    patient.start();
    await untilState(patient, 'syncing');
    await sleep(400);
    assert.equal(patient.state, 'syncing');
    assert.equal(srv.connections.length, before + 1);
  });
});

describe('DVR entry updates', () => {
  test('an error the server clears is gone from the cache, and the change says so', async (t) => {
    const T0 = 1_800_000_000;
    const { sim: s, session: sess, changes } = await simSession(t, { startTime: T0 });
    const cached = (id: number): Record<string, unknown> | undefined => sess.cache.dvrEntriesById.get(id) as Record<string, unknown> | undefined;

    // A finished recording whose error is taken back (the server's record no longer has one).
    const failed = s.dvrEntries.find((e) => e.state === 'completed' && e.error !== undefined)!;
    const text = failed.error;
    assert.equal(cached(failed.id)?.error, text);
    s.updateDvrEntry(failed.id, { error: undefined });
    const cleared = await waitFor<ChangeEvent>(sess, 'change', (c) => c.kind === 'dvrEntry' && c.id === failed.id);
    assert.equal(cleared.action, 'update');
    assert.ok(cleared.changed.includes('error'), `changed: ${cleared.changed.join(',')}`);
    assert.equal((cleared.object as Record<string, unknown>).error, undefined);
    assert.equal((cleared.previous as Record<string, unknown>).error, text);
    assert.equal('error' in cached(failed.id)!, false);

    // A running recording without a tuner that gets one: full record on recovery, then stats.
    const flaky = s.addDvrEntry({ channelId: s.channels[0].id, start: T0 + 60, stop: T0 + 3600, title: 'Flaky' });
    s.failDvrEntry(flaky.id);
    s.advance(61);
    await waitFor<ChangeEvent>(sess, 'change', (c) => c.id === flaky.id && (c.object as Record<string, unknown>).state === 'recording');
    assert.equal(cached(flaky.id)?.error, 'No free adapter');
    s.advance(5); // a stats-only update that still carries the error
    await sleep(50);
    assert.equal(cached(flaky.id)?.error, 'No free adapter');
    const recovered = waitFor<ChangeEvent>(sess, 'change', (c) => c.id === flaky.id && c.changed.includes('error'));
    s.recoverDvrEntry(flaky.id);
    const r = await recovered;
    assert.ok(r.changed.includes('subscriptionError'));
    assert.equal('error' in cached(flaky.id)!, false);
    assert.equal('subscriptionError' in cached(flaky.id)!, false);
    // Later stats-only updates merge: they neither bring the error back nor drop the record's fields.
    const n = changes.length;
    s.advance(5);
    const stats = await waitFor<ChangeEvent>(sess, 'change', (c) => c.id === flaky.id && c.changed.includes('dataSize'));
    assert.deepEqual(stats.changed, ['dataSize']);
    assert.equal('error' in cached(flaky.id)!, false);
    assert.equal(cached(flaky.id)?.title, 'Flaky');
    assert.ok(changes.length > n);
  });
});

describe('lifecycle', () => {
  test('stop() is prompt during a connect to a stalled server and leaves nothing behind', async (t) => {
    const s = await sim(t);
    s.stall();
    const sess = newSession(t, s.port, { connectTimeoutMs: 10_000 });
    const connecting = waitFor<SessionStatus>(sess, 'state', (st) => st.state === 'authenticating' || st.state === 'connecting');
    sess.start();
    await connecting;
    await sleep(50);
    const t0 = Date.now();
    await sess.stop();
    assert.ok(Date.now() - t0 <= 1000, `stop took ${Date.now() - t0} ms`);
    assert.equal(sess.state, 'disconnected');
    s.resume();
    await until(() => s.connectionCount === 0, 'the simulator to see the connection closed');
  });

  test('50 reconnect cycles: no growth in sockets, timers or listeners', async (t) => {
    const { sim: s, session: sess } = await simSession(t, {}, { pingIntervalMs: 10_000 });
    const sub = sess.subscribe(s.channels[1].id);
    await waitFor(sub, 'start');
    const count = (type: string): number => process.getActiveResourcesInfo().filter((r) => r === type).length;
    const sockets0 = count('TCPSocketWrap');
    const timers0 = count('Timeout');
    const listeners0 = sess.cache.listenerCount('change') + sub.listenerCount('start');
    const ids = new Set<number>([sub.id]);
    for (let i = 0; i < 50; i++) {
      const back = untilReady(sess);
      s.dropConnections();
      await back;
      ids.add(sub.id);
    }
    await waitFor(sub, 'start');
    await sleep(100);
    assert.equal(s.connectionCount, 1);
    assert.ok(count('TCPSocketWrap') <= sockets0, `sockets ${sockets0} → ${count('TCPSocketWrap')}`);
    assert.ok(count('Timeout') <= timers0 + 1, `timers ${timers0} → ${count('Timeout')}`);
    assert.equal(sess.cache.listenerCount('change') + sub.listenerCount('start'), listeners0);
    assert.equal(ids.size, 51, 'every re-subscribe uses a new id');
    assert.equal(s.subscriptionCount, 1);
    await sess.stop();
    await until(() => s.connectionCount === 0, 'the simulator to see the connection closed');
    assert.equal(sub.state, 'closed');
  });
});

describe('listener faults', () => {
  test('a change listener that throws: contained, reported, later messages still processed', async (t) => {
    const { sim: s, session: sess } = await simSession(t);
    const conn = (sess as unknown as { conn: { closed: boolean } }).conn;
    const faults: Array<{ err: unknown; event: string }> = [];
    sess.on('listenerError', (err, event) => faults.push({ err, event }));
    const seen: string[] = [];
    sess.on('change', () => {
      throw new Error('node handler bug');
    });
    sess.on('change', (c) => seen.push(`${c.kind} ${String(c.id)}`));
    const [a, b] = s.channels;
    s.updateChannel(a.id, { name: 'First Rename' });
    s.updateChannel(b.id, { name: 'Second Rename' });
    await waitFor(sess, 'change', (c: ChangeEvent) => c.kind === 'channel' && c.id === b.id);
    assert.equal(sess.cache.channelsById.get(a.id)?.channelName, 'First Rename');
    assert.equal(sess.cache.channelsById.get(b.id)?.channelName, 'Second Rename');
    assert.ok(seen.includes(`channel ${a.id}`), 'the other listener still got the first change');
    assert.ok(faults.length >= 2);
    assert.ok(faults.every((f) => f.event === 'change' && f.err instanceof Error && f.err.message === 'node handler bug'));
    assert.equal(sess.state, 'ready');
    assert.equal(conn.closed, false, 'the shared connection stays open');
  });

  test('nobody listens for listenerError: a process warning, no crash', async (t) => {
    const { sim: s, session: sess } = await simSession(t);
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      if (w.name === 'HtspListenerError') warnings.push(w);
    };
    process.on('warning', onWarning);
    t.after(() => process.off('warning', onWarning));
    sess.once('change', () => {
      throw new Error('unheard bug');
    });
    s.updateChannel(s.channels[0].id, { name: 'Once More' });
    await waitFor(process, 'warning', (w: Error) => w.name === 'HtspListenerError');
    assert.match(warnings[0].message, /'change' listener threw: unheard bug/);
    s.updateChannel(s.channels[1].id, { name: 'And Again' });
    await waitFor(sess, 'change', (c: ChangeEvent) => c.id === s.channels[1].id);
    assert.equal(sess.state, 'ready');
  });
});
