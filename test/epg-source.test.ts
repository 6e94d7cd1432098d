// The EPG sources of the library: the cache source and the RPC source must give the same answers
// (the simulator's EPG is the reference), and pickNowNext must classify a channel's events.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TvheadendSimulator, type SimEvent } from '../src/sim';
import { HtspSession, type SessionOptions } from '../src/htsp/session';
import { epgSource, pickNowNext, type EpgSource } from '../src/htsp/epg-source';
import type { EpgSearch } from '../src/htsp/cache';
import type { EpgEvent } from '../src/htsp/messages';

function ev(eventId: number, start: number, stop: number): EpgEvent {
  return { eventId, channelId: 1, start, stop } as EpgEvent;
}

describe('pickNowNext', () => {
  const events = [ev(3, 200, 300), ev(1, 0, 100), ev(2, 100, 200)];

  test('the running event and the one after it, whatever the input order', () => {
    const nn = pickNowNext(events, 150);
    assert.equal(nn.now?.eventId, 2);
    assert.equal(nn.next?.eventId, 3);
  });

  test('an event ending exactly now is over', () => {
    const nn = pickNowNext(events, 100);
    assert.equal(nn.now?.eventId, 2);
    assert.equal(nn.next?.eventId, 3);
  });

  test('in a gap: only next', () => {
    const nn = pickNowNext([ev(1, 0, 100), ev(2, 200, 300)], 150);
    assert.equal(nn.now, undefined);
    assert.equal(nn.next?.eventId, 2);
  });

  test('the last running event has no next; everything ended: nothing', () => {
    const last = pickNowNext(events, 250);
    assert.equal(last.now?.eventId, 3);
    assert.equal(last.next, undefined);
    assert.deepEqual(pickNowNext(events, 300), {});
    assert.deepEqual(pickNowNext([], 0), {});
  });
});

describe('cache and RPC sources against the simulator', () => {
  let sim: TvheadendSimulator;
  const sessions: HtspSession[] = [];
  let cacheSource: EpgSource;
  let rpcSource: EpgSource;
  let cacheSession: HtspSession;

  function open(opts: Partial<SessionOptions>): Promise<HtspSession> {
    const sess = new HtspSession({ host: '127.0.0.1', port: sim.port, username: 'demo', password: 'demo', pingIntervalMs: 0, ...opts });
    sessions.push(sess);
    const ready = new Promise<HtspSession>((resolve) => sess.once('ready', () => resolve(sess)));
    sess.start();
    return ready;
  }

  before(async () => {
    // A frozen clock: both sources see the same "now".
    sim = new TvheadendSimulator({ port: 0, speed: 0, channels: 6, epgHours: 12, eventMinutes: 30, seed: 11 });
    await sim.start();
    cacheSession = await open({ epg: true });
    const rpcSession = await open({ epg: false });
    assert.ok(cacheSession.cache.counts.events > 0);
    assert.equal(rpcSession.cache.counts.events, 0, 'EPG sync off: no events in the cache');
    cacheSource = epgSource(cacheSession, true);
    rpcSource = epgSource(rpcSession, false);
  });
  after(async () => {
    for (const s of sessions) await s.stop();
    await sim.stop();
  });

  const ids = (events: readonly EpgEvent[]): number[] => events.map((e) => e.eventId);
  const simIds = (events: readonly SimEvent[]): number[] => events.map((e) => e.id);

  test('kind says where the answers come from', () => {
    assert.equal(cacheSource.kind, 'cache');
    assert.equal(rpcSource.kind, 'rpc');
  });

  test('now(): the RPC source asks the server for its clock', async () => {
    assert.equal(await rpcSource.now(), sim.now());
    assert.ok(Math.abs((await cacheSource.now()) - sim.now()) <= 5);
  });

  test('nowNext and nowNextAll: the simulator’s running and next programme, from both sources', async () => {
    const at = sim.now();
    const channels = cacheSession.cache.channels();
    for (const source of [cacheSource, rpcSource]) {
      const all = await source.nowNextAll(channels, at);
      for (const ch of channels) {
        const expected = sim.getNowNext(ch.channelId);
        const nn = await source.nowNext(ch, at);
        assert.equal(nn.now?.eventId, expected.now?.id, `${source.kind} now of ${ch.channelName}`);
        assert.equal(nn.next?.eventId, expected.next?.id, `${source.kind} next of ${ch.channelName}`);
        assert.equal(all.get(ch.channelId)?.now?.eventId, expected.now?.id);
        assert.equal(all.get(ch.channelId)?.next?.eventId, expected.next?.id);
      }
    }
    const one = channels.slice(0, 2);
    const some = await rpcSource.nowNextAll(one, at);
    assert.deepEqual([...some.keys()].sort(), one.map((c) => c.channelId).sort(), 'only the channels asked for');
  });

  test('window: the events overlapping [from, to), in start order, from both sources', async () => {
    const ch = cacheSession.cache.channels()[1];
    const from = sim.now() + 1800;
    const to = from + 3 * 3600;
    const expected = sim
      .getEvents(ch.channelId)
      .filter((e) => e.stop > from && e.start < to)
      .sort((a, b) => a.start - b.start);
    assert.ok(expected.length >= 5);
    assert.deepEqual(ids(await cacheSource.window(ch, from, to)), simIds(expected));
    assert.deepEqual(ids(await rpcSource.window(ch, from, to)), simIds(expected));
  });

  test('a window past the synced days is asked from the server', async () => {
    const short = await open({ epg: true, epgDays: 0.25 });
    const source = epgSource(short, true, 0.25);
    const asked: string[] = [];
    const onRequest = (r: { method?: string }): void => {
      if (r.method) asked.push(r.method);
    };
    sim.on('request', onRequest);
    try {
      const ch = short.cache.channels()[2];
      const from = sim.now() + 8 * 3600;
      const to = from + 2 * 3600;
      assert.equal(short.cache.eventsInWindow(ch.channelId, from, to).length, 0, 'not in the cache');
      const expected = sim.getEvents(ch.channelId).filter((e) => e.stop > from && e.start < to);
      assert.ok(expected.length > 0);
      assert.deepEqual(ids(await source.window(ch, from, to)), simIds(expected));
      assert.ok(asked.includes('getEvents'));
      asked.length = 0;
      await source.window(ch, sim.now(), sim.now() + 3600);
      assert.deepEqual(asked, [], 'a window inside the synced days is answered from the cache');
    } finally {
      sim.off('request', onRequest);
    }
  });

  test('search: both sources find the same events for titles, full text, genres, channels and limits', async () => {
    const now = sim.now();
    const future = sim.getEvents().filter((e) => e.stop > now);
    const sample = future[Math.floor(future.length / 2)];
    const word = sample.title.split(' ')[0];
    const withContent = future.find((e) => e.contentType !== undefined && e.contentType >= 16);
    assert.ok(withContent?.contentType !== undefined, 'the simulator has events with a genre');
    // A category name is not full text for Tvheadend: both sources must agree on that too.
    const category = future.find((e) => Array.isArray(e.category) && e.category.length > 0)?.category?.[0];
    assert.ok(category, 'the simulator has events with categories');
    const queries: EpgSearch[] = [
      { title: word, from: now },
      { title: word.toUpperCase(), from: now, limit: 3 },
      { title: new RegExp(`^${word}`, 'i'), from: now },
      { title: word, from: now, channelId: sample.channelId },
      { title: word, from: now + 3600, to: now + 4 * 3600 },
      { fullText: word, from: now },
      { contentType: withContent.contentType >> 4, from: now },
      { contentType: withContent.contentType, from: now },
      { title: 'a title no programme has', from: now },
      { fullText: category, from: now },
    ];
    const mayBeEmpty = 2; // the last two: nothing has that title; a category may be in no text
    for (const [i, q] of queries.entries()) {
      const fromCache = await cacheSource.search(q);
      const fromRpc = await rpcSource.search(q);
      const label = JSON.stringify({ ...q, title: String(q.title) });
      assert.deepEqual(ids(fromRpc), ids(fromCache), label);
      if (i < queries.length - mayBeEmpty) assert.ok(fromRpc.length > 0, `${label} finds something`);
      for (let i = 1; i < fromRpc.length; i++) {
        const [a, b] = [fromRpc[i - 1], fromRpc[i]];
        assert.ok(a.start < b.start || (a.start === b.start && a.eventId < b.eventId), 'in (start, eventId) order');
      }
      if (q.limit !== undefined) assert.ok(fromRpc.length <= q.limit);
    }
    assert.deepEqual(await rpcSource.search({ title: 'a title no programme has', from: now }), [], 'no match: an empty list (G21)');
  });

  test('search text with regular-expression characters is matched literally by the server', async () => {
    const asked: Array<Record<string, unknown>> = [];
    const onRequest = (r: { method?: string; message: Record<string, unknown> }): void => {
      if (r.method === 'epgQuery') asked.push(r.message);
    };
    sim.on('request', onRequest);
    try {
      assert.deepEqual(await rpcSource.search({ title: 'a.b (c)?', from: sim.now() }), []);
    } finally {
      sim.off('request', onRequest);
    }
    assert.equal(asked[0]?.query, 'a\\.b \\(c\\)\\?');
  });
});
