import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import type { HtsmsgMap } from '../src/htsp/codec';
import { TvheadendSimulator, type SimOptions } from '../src/sim';
import { RawClient } from './helpers/raw-client';
import { until } from './helpers/sim-session';

/** A fixed clock (speed 0) makes DVR and EPG changes happen only through advance(). */
const T0 = 1_800_000_000;

async function withSim(opts: SimOptions, fn: (sim: TvheadendSimulator, port: number) => Promise<void>): Promise<void> {
  const sim = new TvheadendSimulator({ port: 0, ...opts });
  const { port } = await sim.start();
  try {
    await fn(sim, port);
  } finally {
    await sim.stop();
  }
}

async function client(port: number, login = true): Promise<RawClient> {
  const c = await RawClient.connect(port);
  await c.hello();
  if (login) await c.login('demo', 'demo');
  return c;
}

/** A simulator and one logged-in client to it, for `fn`; both closed afterwards. */
async function withClient(opts: SimOptions, fn: (sim: TvheadendSimulator, c: RawClient, port: number) => Promise<void>): Promise<void> {
  await withSim(opts, async (sim, port) => {
    const c = await client(port);
    try {
      await fn(sim, c, port);
    } finally {
      await c.close();
    }
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('hello reply has the real server shape; version and challenge rules', async () => {
  await withSim({}, async (_sim, port) => {
    const c = await RawClient.connect(port);
    const c2 = await RawClient.connect(port);
    try {
      const r = await c.hello(34, 'test');
      assert.deepEqual(Object.keys(r), ['htspversion', 'servername', 'serverversion', 'challenge', 'language', 'servercapability', 'api_version', 'seq']);
      assert.equal(r.htspversion, 44, 'server maximum, not the negotiated version');
      assert.equal(r.servername, 'Tvheadend');
      assert.equal(r.api_version, 19);
      assert.equal(r.language, 'eng');
      assert.ok(Array.isArray(r.servercapability));
      assert.ok(Buffer.isBuffer(r.challenge) && r.challenge.length === 32);
      const again = await c.request('hello', { htspversion: 44, clientname: 'test' });
      assert.ok((again.challenge as Buffer).equals(r.challenge as Buffer), 'same challenge on one connection');
      const other = await c2.hello();
      assert.ok(!(other.challenge as Buffer).equals(r.challenge as Buffer), 'new challenge per connection');
      const bad = await c.request('hello', { htspversion: 44 });
      assert.deepEqual(bad, { error: 'Invalid arguments', seq: bad.seq });
    } finally {
      await c.close();
      await c2.close();
    }
  });
});

test('digest authentication: good, bad, piggybacked, wrong password keeps rights', async () => {
  await withSim({}, async (_sim, port) => {
    const bad = await RawClient.connect(port);
    const good = await RawClient.connect(port);
    try {
      await bad.hello();
      const t = Date.now();
      const r1 = await bad.login('demo', 'wrong');
      assert.equal(r1.noaccess, 1);
      assert.ok(Date.now() - t >= 200, 'noaccess comes after the server delay');
      const r2 = await bad.request('getSysTime');
      assert.equal(r2.noaccess, 1);
      // Credentials on an ordinary request authenticate it.
      const r3 = await bad.request('getSysTime', { username: 'demo', digest: bad.digest('demo') });
      assert.equal(typeof r3.time, 'number');
      assert.equal(r3.noaccess, undefined);

      await good.hello();
      const ok = await good.login('demo', 'demo');
      assert.deepEqual(
        { admin: ok.admin, streaming: ok.streaming, dvr: ok.dvr, faileddvr: ok.faileddvr, anonymous: ok.anonymous },
        { admin: 1, streaming: 1, dvr: 1, faileddvr: 1, anonymous: 0 },
      );
      for (const k of ['limitall', 'limitdvr', 'limitstreaming', 'uilevel', 'uilanguage']) assert.ok(k in ok, k);
      const again = await good.login('demo', 'nope');
      assert.equal(again.streaming, 1, 'a wrong password keeps the rights already held');
    } finally {
      await bad.close();
      await good.close();
    }
  });
});

test('missing rights: 250 ms delay then noaccess; DVR-only user; unknown method', async () => {
  const users = [
    { username: 'demo', password: 'demo', rights: { streaming: true, dvr: true, admin: true, allRecorder: true } },
    { username: 'rec', password: 'rec', rights: { dvr: true } },
  ];
  await withSim({ users }, async (_sim, port) => {
    const c = await RawClient.connect(port);
    try {
      await c.hello();
      const auth = await c.login('rec', 'rec');
      assert.equal(auth.noaccess, 1, 'authenticate reports noaccess without the streaming right');
      const t = Date.now();
      const r = await c.request('getSysTime');
      const took = Date.now() - t;
      assert.deepEqual(r, { noaccess: 1, seq: r.seq });
      assert.ok(took >= 240 && took < 5000, `delay was ${took} ms`);
      const dvr = await c.request('getDvrConfigs');
      assert.ok(Array.isArray(dvr.dvrconfigs), 'DVR methods work with the DVR right');
      const nf = await c.request('noSuchMethod');
      assert.deepEqual(nf, { error: 'Method not found', seq: nf.seq });
      const from = c.messages.length;
      c.send({ seq: 99 });
      const noMethod = await c.waitFor((m) => m.seq === 99, { from });
      assert.equal(noMethod.error, 'Invalid arguments');
    } finally {
      await c.close();
    }
  });
});

test('getSysTime, getDiskSpace, profiles and configs answer with the real fields', async () => {
  await withClient({ startTime: T0, speed: 0, gmtOffsetMinutes: 60 }, async (_sim, c) => {
    const t = await c.request('getSysTime');
    assert.deepEqual(t, { time: T0, timezone: -1, gmtoffset: 60, seq: t.seq });
    const d = await c.request('getDiskSpace');
    assert.deepEqual(Object.keys(d), ['freediskspace', 'useddiskspace', 'totaldiskspace', 'seq']);
    assert.equal((d.freediskspace as number) + (d.useddiskspace as number), d.totaldiskspace);
    const p = await c.request('getProfiles');
    assert.ok((p.profiles as HtsmsgMap[]).some((x) => x.name === 'htsp'));
  });
});

test('enableAsyncMetadata: reply first, then the initial burst in the real order', async () => {
  await withClient({ startTime: T0, speed: 0 }, async (sim, c) => {
    const from = c.messages.length;
    await c.request('enableAsyncMetadata', { epg: 1 });
    await c.waitForMethod('initialSyncCompleted', { from });
    const got = c.messages.slice(from);
    assert.equal(got[0].method, undefined, 'the reply comes before any metadata');
    const order: string[] = [];
    for (const m of got.slice(1)) if (order[order.length - 1] !== m.method) order.push(String(m.method));
    assert.deepEqual(order, [
      'tagAdd',
      'channelAdd',
      'tagUpdate',
      'autorecEntryAdd',
      'timerecEntryAdd',
      'dvrEntryAdd',
      'eventAdd',
      'initialSyncCompleted',
    ]);
    assert.equal(c.byMethod('channelAdd', from).length, sim.channels.length);
    assert.equal(c.byMethod('tagAdd', from).length, sim.tags.length);
    assert.equal(c.byMethod('dvrEntryAdd', from).length, sim.dvrEntries.length);
    assert.equal(c.byMethod('eventAdd', from).length, sim.eventCount);
    assert.ok(c.byMethod('tagAdd', from).every((m) => !('members' in m)));
    assert.ok(c.byMethod('tagUpdate', from).every((m) => Array.isArray(m.members)));
    const ch = c.byMethod('channelAdd', from)[0];
    for (const k of ['channelId', 'channelIdStr', 'channelNumber', 'channelName', 'eventId', 'nextEventId', 'services', 'tags']) {
      assert.ok(k in ch, k);
    }
    assert.match(ch.channelIdStr as string, /^[0-9a-f]{32}$/);
    const states = new Set(c.byMethod('dvrEntryAdd', from).map((m) => m.state));
    for (const s of ['scheduled', 'recording', 'completed', 'missed']) assert.ok(states.has(s), `default entries include ${s}`);
    const ev = c.byMethod('eventAdd', from)[0];
    assert.equal(ev.eventId, ch.eventId, 'the first event of a channel is its running one');
    assert.ok((ev.start as number) <= T0 && (ev.stop as number) > T0);
    assert.equal(c.byMethod('initialSyncCompleted', from).length, 1);
    // A second call does not repeat the burst.
    const from2 = c.messages.length;
    await c.request('enableAsyncMetadata', { epg: 1 });
    await sleep(100);
    assert.equal(c.byMethod('channelAdd', from2).length, 0);
    assert.equal(c.byMethod('initialSyncCompleted', from2).length, 0);
  });
});

test('epgMaxTime limits the events in the burst; epg 0 sends none', async () => {
  await withSim({ startTime: T0, speed: 0, channels: 3 }, async (sim, port) => {
    const windowed = await client(port);
    const noEpg = await client(port);
    try {
      await windowed.request('enableAsyncMetadata', { epg: 1, epgMaxTime: T0 + 2 * 3600 });
      await windowed.waitForMethod('initialSyncCompleted');
      const evs = windowed.byMethod('eventAdd');
      assert.ok(evs.length > 0 && evs.length < sim.eventCount);
      assert.ok(evs.every((e) => (e.start as number) <= T0 + 2 * 3600));
      await noEpg.request('enableAsyncMetadata', {});
      await noEpg.waitForMethod('initialSyncCompleted');
      assert.equal(noEpg.byMethod('eventAdd').length, 0);
      // The window slides: advancing the clock brings new events in.
      const from = windowed.messages.length;
      sim.advance(3600);
      await windowed.waitForMethod('eventAdd', { from, where: (m) => (m.start as number) > T0 + 2 * 3600 });
    } finally {
      await windowed.close();
      await noEpg.close();
    }
  });
});

test('a DVR entry moves scheduled → recording → completed as the clock advances', async () => {
  await withClient({ startTime: T0, speed: 0, dvrEntries: [], autorecEntries: [], timerecEntries: [] }, async (sim, c) => {
    await c.request('enableAsyncMetadata', {});
    await c.waitForMethod('initialSyncCompleted');
    const ch = sim.channels[0];
    let from = c.messages.length;
    const e = sim.addDvrEntry({ channelId: ch.id, start: T0 + 600, stop: T0 + 1800, title: 'Clock Test', startExtra: 2 });
    const add = await c.waitForMethod('dvrEntryAdd', { from });
    assert.equal(add.id, e.id);
    assert.equal(add.state, 'scheduled');

    from = c.messages.length;
    sim.advance(400); // 2 minutes of padding before 600 s
    await sleep(30);
    assert.equal(c.byMethod('dvrEntryUpdate', from).length === 0 || c.byMethod('dvrEntryUpdate', from).every((m) => m.state === 'scheduled'), true);
    sim.advance(100);
    const rec = await c.waitForMethod('dvrEntryUpdate', { from, where: (m) => m.state === 'recording' });
    assert.equal(rec.id, e.id);
    assert.ok('start' in rec && 'files' in rec, 'a state change sends the full record');

    from = c.messages.length;
    sim.advance(30);
    const stats = await c.waitForMethod('dvrEntryUpdate', { from, where: (m) => m.id === e.id });
    assert.deepEqual(Object.keys(stats).sort(), ['dataSize', 'duplicate', 'id', 'idStr', 'method', 'state'].sort());
    assert.ok((stats.dataSize as number) > 0);

    from = c.messages.length;
    sim.advance(1800);
    const done = await c.waitForMethod('dvrEntryUpdate', { from, where: (m) => m.state === 'completed' });
    assert.equal(done.id, e.id);
    assert.equal(done.error, undefined);
    assert.equal(sim.getDvrEntry(e.id)?.state, 'completed');

    // Injected failures.
    const f = sim.addDvrEntry({ channelId: ch.id, start: sim.now() - 10, stop: sim.now() + 600, title: 'Fails' });
    assert.equal(f.state, 'recording');
    await c.waitForMethod('dvrEntryUpdate', { where: (x) => x.id === f.id && x.state === 'recording' });
    from = c.messages.length;
    sim.failDvrEntry(f.id, 'No input detected');
    const failed = await c.waitForMethod('dvrEntryUpdate', { from, where: (m) => m.id === f.id });
    assert.equal(failed.state, 'completed');
    assert.equal(failed.error, 'No input detected');
    const m = sim.addDvrEntry({ channelId: ch.id, start: sim.now() + 600, stop: sim.now() + 900, title: 'Missed' });
    from = c.messages.length;
    sim.missDvrEntry(m.id);
    const missed = await c.waitForMethod('dvrEntryUpdate', { from, where: (x) => x.id === m.id });
    assert.equal(missed.state, 'missed');
  });
});

test('a failing recording that recovers: full record without error, then stats-only updates', async () => {
  await withClient({ startTime: T0, speed: 0, dvrEntries: [], autorecEntries: [], timerecEntries: [] }, async (sim, c) => {
    await c.request('enableAsyncMetadata', {});
    await c.waitForMethod('initialSyncCompleted');
    const e = sim.addDvrEntry({ channelId: sim.channels[0].id, start: T0 + 60, stop: T0 + 3600, title: 'Flaky' });
    sim.failDvrEntry(e.id);
    let from = c.messages.length;
    sim.advance(61);
    const started = await c.waitForMethod('dvrEntryUpdate', { from, where: (m) => m.id === e.id && m.state === 'recording' });
    assert.ok('start' in started, 'a state change sends the full record');
    assert.equal(started.error, 'No free adapter');
    from = c.messages.length;
    sim.advance(5);
    const failingStats = await c.waitForMethod('dvrEntryUpdate', { from, where: (m) => m.id === e.id });
    assert.ok(!('start' in failingStats));
    assert.equal(failingStats.error, 'No free adapter', 'stats carry the error while it lasts');
    assert.equal(failingStats.subscriptionError, 'noFreeAdapter');

    from = c.messages.length;
    sim.recoverDvrEntry(e.id);
    const recovered = await c.waitForMethod('dvrEntryUpdate', { from, where: (m) => m.id === e.id });
    assert.ok('start' in recovered && 'title' in recovered, 'the recovery is announced with the full record');
    assert.equal(recovered.error, undefined);
    assert.equal(recovered.subscriptionError, undefined);
    from = c.messages.length;
    sim.advance(5);
    const stats = await c.waitForMethod('dvrEntryUpdate', { from, where: (m) => m.id === e.id });
    assert.deepEqual(Object.keys(stats).sort(), ['dataSize', 'duplicate', 'id', 'idStr', 'method', 'state']);
    assert.ok((stats.dataSize as number) > 0, 'data flows again');
  });
});

test('EPG rolls: finished events deleted, new ones added, now/next channelUpdate', async () => {
  await withClient({ startTime: T0, speed: 0, channels: 2, epgHours: 4 }, async (sim, c) => {
    await c.request('enableAsyncMetadata', { epg: 1 });
    await c.waitForMethod('initialSyncCompleted');
    const ch = sim.channels[0];
    const running = sim.getNowNext(ch.id).now;
    assert.ok(running);
    const from = c.messages.length;
    sim.advance(running.stop - sim.now() + 1);
    const del = await c.waitForMethod('eventDelete', { from, where: (m) => m.eventId === running.id });
    assert.deepEqual(Object.keys(del).sort(), ['eventId', 'method']);
    const upd = await c.waitForMethod('channelUpdate', { from, where: (m) => m.channelId === ch.id });
    assert.deepEqual(Object.keys(upd).sort(), ['channelId', 'eventId', 'method', 'nextEventId']);
    assert.equal(upd.eventId, sim.getNowNext(ch.id).now?.id);
    await c.waitForMethod('eventAdd', { from, where: (m) => m.channelId === ch.id });
    assert.equal(sim.getEvent(running.id), undefined);
  });
});

test('subscribe: start sequence, muxpkt at the bitrate, queueStatus, signalStatus; unsubscribe stops it', async () => {
  const channels = [
    { name: 'Tuner Channel', input: 'dvb' as const, serviceType: 'HDTV' as const, scrambled: true },
    { name: 'IPTV Channel', input: 'iptv' as const },
  ];
  await withSim({ channels, bitrate: 2_000_000 }, async (sim, port) => {
    const c = await client(port);
    try {
      const dvb = sim.findChannel('Tuner Channel')!;
      const iptv = sim.findChannel('IPTV Channel')!;
      const from = c.messages.length;
      const reply = await c.request('subscribe', { channelId: dvb.id, subscriptionId: 5 });
      assert.equal(reply.normts, 1);
      const start = await c.waitForMethod('subscriptionStart', { from });
      const idx = (m: HtsmsgMap): number => c.messages.indexOf(m);
      const grace = await c.waitForMethod('subscriptionGrace', { from });
      const status = await c.waitForMethod('subscriptionStatus', { from });
      assert.ok(idx(reply) < idx(grace) && idx(grace) < idx(status) && idx(status) < idx(start));
      assert.equal(status.status, undefined, 'no status text = OK');
      assert.ok(c.byMethod('queueStatus', from).some((q) => idx(q) < idx(start)), 'queueStatus before subscriptionStart');
      const streams = start.streams as HtsmsgMap[];
      assert.deepEqual(streams.map((s) => [s.index, s.type]), [[1, 'H264'], [2, 'AAC']]);
      assert.ok(Buffer.isBuffer(start.meta), 'root-level meta');
      assert.equal((start.sourceinfo as HtsmsgMap).network_type, 'DVB-T');
      const t0 = Date.now();
      await sleep(1300);
      const pkts = c.byMethod('muxpkt', from).filter((m) => m.subscriptionId === 5);
      // The simulator paces by wall time and catches up after a stall: the upper bounds follow
      // the time that really passed (a loaded machine oversleeps), the lower ones the nominal 1.3 s.
      const scale = Math.max(1, (Date.now() - t0) / 1300);
      const video = pkts.filter((m) => m.stream === 1);
      const audio = pkts.filter((m) => m.stream === 2);
      assert.ok(video.length >= 20 && video.length <= 45 * scale, `video packets: ${video.length} (×${scale.toFixed(2)})`);
      assert.ok(audio.length >= 40 && audio.length <= 80 * scale, `audio packets: ${audio.length} (×${scale.toFixed(2)})`);
      assert.ok(video.some((m) => m.frametype === 73) && video.some((m) => m.frametype === 80) && video.some((m) => m.frametype === 66));
      assert.ok(audio.every((m) => !('frametype' in m)));
      const bytes = pkts.reduce((s, m) => s + (m.payload as Buffer).length, 0);
      assert.ok(bytes > 150_000 && bytes < 500_000 * scale, `payload bytes in ~1.3 s at 2 Mbit/s: ${bytes}`);
      assert.ok(c.byMethod('signalStatus', from).some((m) => m.feStatus === 'GOOD'));
      assert.ok(c.byMethod('descrambleInfo', from).length >= 1, 'scrambled channel sends descrambleInfo');
      assert.ok(c.byMethod('queueStatus', from).filter((q) => idx(q) > idx(start)).length >= 1);

      // IPTV: no signalStatus.
      const from2 = c.messages.length;
      await c.request('subscribe', { channelId: iptv.id, subscriptionId: 6, '90khz': 1 });
      await c.waitForMethod('muxpkt', { from: from2, where: (m) => m.subscriptionId === 6 });
      await sleep(1200);
      assert.equal(c.byMethod('signalStatus', from2).filter((m) => m.subscriptionId === 6).length, 0);
      const v90 = c.byMethod('muxpkt', from2).find((m) => m.subscriptionId === 6 && m.stream === 1);
      assert.equal(v90?.duration, 3600, '90 kHz units');

      const unsub = await c.request('unsubscribe', { subscriptionId: 5 });
      assert.deepEqual(unsub, { seq: unsub.seq });
      await sleep(150);
      const after = c.messages.length;
      await sleep(300);
      assert.equal(c.messages.slice(after).filter((m) => m.subscriptionId === 5).length, 0, 'nothing after unsubscribe');
      assert.equal(sim.subscriptionCount, 1);
    } finally {
      await c.close();
    }
    await until(() => sim.subscriptionCount === 0, 'the subscription to end with the socket');
  });
});

test('api: status grids for admins (BOOL inside), noaccess for others, empty reply for unknown paths', async () => {
  const users = [
    { username: 'demo', password: 'demo', rights: { streaming: true, dvr: true, admin: true, allRecorder: true } },
    { username: 'viewer', password: 'v', rights: { streaming: true } },
  ];
  await withSim({ users, dvrEntries: [] }, async (sim, port) => {
    const admin = await client(port);
    const viewer = await RawClient.connect(port);
    try {
      await viewer.hello(44, 'viewer-app');
      await viewer.login('viewer', 'v');
      const ch = sim.channels[0];
      await viewer.request('subscribe', { channelId: ch.id, subscriptionId: 1 });
      sim.addExternalViewer({ username: 'kodi', client: 'Kodi', channelId: sim.channels[1].id });
      const r = await admin.request('api', { path: 'status/subscriptions' });
      const resp = r.response as HtsmsgMap;
      const entries = resp.entries as HtsmsgMap[];
      assert.equal(resp.totalCount, entries.length);
      const mine = entries.find((e) => e.username === 'viewer');
      assert.ok(mine, 'subscriptions of other connections are listed');
      assert.equal(mine.client, 'viewer-app');
      assert.equal(mine.channel, ch.name);
      for (const k of ['id', 'start', 'errors', 'state', 'hostname', 'username', 'client', 'title', 'channel', 'service', 'profile', 'in', 'out']) {
        assert.ok(k in mine, k);
      }
      assert.ok(entries.some((e) => e.username === 'kodi' && e.client === 'Kodi'));

      const inputs = ((await admin.request('api', { path: 'status/inputs' })).response as HtsmsgMap).entries as HtsmsgMap[];
      for (const k of ['uuid', 'input', 'stream', 'subs', 'weight', 'signal', 'signal_scale', 'snr', 'snr_scale', 'ber', 'unc', 'bps', 'cc', 'te', 'ec_bit', 'tc_bit']) {
        assert.ok(k in inputs[0], k);
      }
      const conns = ((await admin.request('api', { path: 'status/connections' })).response as HtsmsgMap).entries as HtsmsgMap[];
      assert.equal(conns.length, 2);
      assert.ok(conns.some((x) => x.user === 'viewer' && x.type === 'HTSP'));
      const info = (await admin.request('api', { path: 'serverinfo' })).response as HtsmsgMap;
      assert.equal(info.api_version, 19);
      const grid = ((await admin.request('api', { path: 'channel/grid' })).response as HtsmsgMap).entries as HtsmsgMap[];
      assert.equal(grid[0].enabled, true, 'JSON booleans arrive as the BOOL type');

      const unknown = await admin.request('api', { path: 'no/such/path' });
      assert.deepEqual(unknown, { seq: unknown.seq });
      const t = Date.now();
      const denied = await viewer.request('api', { path: 'status/subscriptions' });
      assert.deepEqual(denied, { noaccess: 1, seq: denied.seq });
      assert.ok(Date.now() - t >= 240);
    } finally {
      await admin.close();
      await viewer.close();
    }
  });
});

test('updateTimerecEntry moves the rule’s upcoming recording when its times change, keeps it otherwise', async () => {
  await withClient({ startTime: T0, speed: 0, dvrEntries: [], autorecEntries: [], timerecEntries: [] }, async (sim, c) => {
    await c.request('enableAsyncMetadata', { epg: 0 });
    await c.waitForMethod('initialSyncCompleted');
    const ch = sim.channels[0].id;
    const tr = await c.request('addTimerecEntry', { title: 'Timed', channelId: ch, start: 600, stop: 630 });
    const upcoming = () => sim.dvrEntries.filter((e) => e.timerecId === tr.id && e.state === 'scheduled');
    assert.equal(upcoming().length, 1);
    const first = upcoming()[0];
    assert.equal(Math.floor((first.start % 86400) / 60), 600);

    let from = c.messages.length;
    assert.equal((await c.request('updateTimerecEntry', { id: tr.id, channelId: ch, name: 'renamed' })).success, 1);
    await c.waitForMethod('timerecEntryUpdate', { from, where: (m) => m.id === tr.id && m.name === 'renamed' });
    assert.deepEqual(upcoming().map((e) => e.id), [first.id], 'same times: the same recording');

    from = c.messages.length;
    assert.equal((await c.request('updateTimerecEntry', { id: tr.id, channelId: ch, start: 720, stop: 750 })).success, 1);
    await c.waitForMethod('dvrEntryDelete', { from, where: (m) => m.id === first.id });
    const added = await c.waitForMethod('dvrEntryAdd', { from, where: (m) => m.timerecId === tr.id });
    assert.equal(Math.floor(((added.start as number) % 86400) / 60), 720);
    assert.deepEqual(upcoming().map((e) => e.id), [added.id]);
  });
});

test('RPC changes are pushed to every async connection; autorec creates entries', async () => {
  await withSim({ startTime: T0, speed: 0, dvrEntries: [], autorecEntries: [], timerecEntries: [] }, async (sim, port) => {
    const a = await client(port);
    const b = await client(port);
    try {
      for (const c of [a, b]) {
        await c.request('enableAsyncMetadata', { epg: 1 });
        await c.waitForMethod('initialSyncCompleted');
      }
      const future = sim.getEvents(sim.channels[0].id).find((e) => e.start > T0 + 3600)!;
      let from = b.messages.length;
      const added = await a.request('addDvrEntry', { eventId: future.id });
      assert.equal(added.success, 1);
      const seen = await b.waitForMethod('dvrEntryAdd', { from, where: (m) => m.id === added.id });
      assert.equal(seen.eventId, future.id);
      const evUpd = await b.waitForMethod('eventUpdate', { from, where: (m) => m.eventId === future.id });
      assert.equal(evUpd.dvrId, added.id);

      from = b.messages.length;
      assert.equal((await a.request('cancelDvrEntry', { id: added.id })).success, 1);
      await b.waitForMethod('dvrEntryDelete', { from, where: (m) => m.id === added.id });

      const manual = await a.request('addDvrEntry', { channelId: sim.channels[1].id, start: T0 + 7200, stop: T0 + 9000, title: 'Manual' });
      from = b.messages.length;
      assert.equal((await a.request('updateDvrEntry', { id: manual.id, title: 'Renamed' })).success, 1);
      const upd = await b.waitForMethod('dvrEntryUpdate', { from, where: (m) => m.id === manual.id });
      assert.equal(upd.title, 'Renamed');
      assert.equal((await a.request('deleteDvrEntry', { id: 123 })).error, 'DVR entry not found');

      const title = sim.getEvents(sim.channels[2].id).find((e) => e.start > T0)!.title;
      from = b.messages.length;
      const rule = await a.request('addAutorecEntry', { title: `^${title}$`, channelId: sim.channels[2].id, name: 'rule' });
      assert.equal(rule.success, 1);
      assert.equal(typeof rule.id, 'string');
      await b.waitForMethod('autorecEntryAdd', { from, where: (m) => m.id === rule.id });
      const created = await b.waitForMethod('dvrEntryAdd', { from, where: (m) => m.autorecId === rule.id });
      assert.equal(created.title, title);
      from = b.messages.length;
      await a.request('deleteAutorecEntry', { id: rule.id });
      await b.waitForMethod('autorecEntryDelete', { from, where: (m) => m.id === rule.id });
      await b.waitForMethod('dvrEntryDelete', { from, where: (m) => m.id === created.id });

      const tr = await a.request('addTimerecEntry', { title: 'Timed %F', channelId: sim.channels[0].id, start: 600, stop: 630 });
      assert.equal(tr.success, 1);
      await b.waitForMethod('dvrEntryAdd', { from, where: (m) => m.timerecId === tr.id });

      // epgQuery: ids, full events, and no key at all when nothing matches.
      const q = await a.request('epgQuery', { query: title });
      assert.ok((q.eventIds as number[]).length > 0);
      const qf = await a.request('epgQuery', { query: title, full: 1 });
      assert.ok((qf.events as HtsmsgMap[]).every((e) => e.title === title));
      const none = await a.request('epgQuery', { query: 'zzz-no-such-title' });
      assert.deepEqual(none, { seq: none.seq });
    } finally {
      await a.close();
      await b.close();
    }
  });
});

test('simulator data mutations reach connected clients and the next sync', async () => {
  await withSim({ startTime: T0, speed: 0 }, async (sim, port) => {
    const c = await client(port);
    try {
      await c.request('enableAsyncMetadata', {});
      await c.waitForMethod('initialSyncCompleted');
      const ch = sim.channels[0];
      let from = c.messages.length;
      sim.updateChannel(ch.id, { name: 'Renamed One' });
      const upd = await c.waitForMethod('channelUpdate', { from, where: (m) => m.channelId === ch.id });
      assert.equal(upd.channelName, 'Renamed One');
      from = c.messages.length;
      const tag = sim.addTag({ name: 'Favourites' });
      const tu = await c.waitForMethod('tagUpdate', { from, where: (m) => m.tagId === tag.id });
      assert.equal(tu.tagName, 'Favourites');
      const gone = sim.dvrEntries[0];
      from = c.messages.length;
      sim.deleteDvrEntry(gone.id);
      await c.waitForMethod('dvrEntryDelete', { from, where: (m) => m.id === gone.id });
      const newCh = sim.addChannel({ name: 'Brand New' });
      await c.waitForMethod('channelAdd', { from, where: (m) => m.channelId === newCh.id });
    } finally {
      await c.close();
    }
    // While nobody is connected.
    const removed = sim.channels[1];
    sim.deleteChannel(removed.id);
    const c2 = await client(port);
    try {
      await c2.request('enableAsyncMetadata', {});
      await c2.waitForMethod('initialSyncCompleted');
      const names = c2.byMethod('channelAdd').map((m) => m.channelName);
      assert.ok(names.includes('Renamed One') && names.includes('Brand New'));
      assert.ok(!c2.byMethod('channelAdd').some((m) => m.channelId === removed.id));
    } finally {
      await c2.close();
    }
  });
});

test('file access serves fake bytes for recordings', async () => {
  await withClient({ startTime: T0, speed: 0 }, async (sim, c) => {
    const done = sim.dvrEntries.find((e) => e.state === 'completed' && !e.error)!;
    const open = await c.request('fileOpen', { file: `dvrfile/${done.id}` });
    assert.equal(open.size, done.dataSize);
    const read = await c.request('fileRead', { id: open.id, size: 376 });
    const data = read.data as Buffer;
    assert.equal(data.length, 376);
    assert.equal(data[0], 0x47);
    assert.equal(data[188], 0x47);
    const seek = await c.request('fileSeek', { id: open.id, offset: 0, whence: 'SEEK_END' });
    assert.equal(seek.offset, done.dataSize);
    const eof = await c.request('fileRead', { id: open.id, size: 100 });
    assert.equal((eof.data as Buffer).length, 0);
    assert.deepEqual(await c.request('fileClose', { id: open.id }).then((r) => Object.keys(r)), ['seq']);
    assert.equal((await c.request('fileRead', { id: open.id, size: 1 })).error, 'Invalid file');
    const scheduled = sim.dvrEntries.find((e) => e.state === 'scheduled')!;
    assert.equal((await c.request('fileOpen', { file: `dvr/${scheduled.id}` })).error, 'DVR schedule does not have a file yet');
  });
});

test('fault: dropConnections closes every client socket', async () => {
  await withSim({}, async (sim, port) => {
    const a = await client(port);
    const b = await client(port);
    sim.dropConnections();
    await a.waitClosed();
    await b.waitClosed();
    assert.equal(sim.connectionCount, 0);
  });
});

test('fault: stall holds replies and async data with the socket open; resume releases them', async () => {
  await withClient({}, async (sim, c) => {
    sim.stall(0);
    const pending = c.request('getSysTime', {}, 5000);
    let answered = false;
    void pending.then(() => (answered = true));
    await sleep(400);
    assert.equal(answered, false, 'no reply while stalled');
    assert.equal(c.closed, false, 'the socket stays open');
    sim.resume();
    const r = await pending;
    assert.equal(typeof r.time, 'number');

    const t = Date.now();
    sim.stall(300);
    await c.request('getSysTime');
    assert.ok(Date.now() - t >= 280, 'a timed stall ends by itself');
  });
});

test('fault: garbage and an oversized length break the client decoder', async () => {
  await withSim({}, async (sim, port) => {
    const a = await client(port);
    const b = await RawClient.connect(port, '127.0.0.1', { maxFrameBytes: 16 * 1024 * 1024 });
    try {
      await b.hello();
      sim.sendGarbage();
      const err = await a.waitDecodeError();
      assert.match(String((err as { code?: string }).code), /unknown-type|truncated|trailing-bytes/);
      const b2 = await RawClient.connect(port, '127.0.0.1', { maxFrameBytes: 16 * 1024 * 1024 });
      await b2.hello();
      sim.sendOversizeLength();
      const err2 = await b2.waitDecodeError();
      assert.equal((err2 as { code?: string }).code, 'frame-too-large');
      await b2.close();
    } finally {
      await a.close();
      await b.close();
    }
  });
});

test('fault: setReplyDelay slows down the chosen methods only', async () => {
  await withClient({}, async (sim, c) => {
    // Far apart, so that a loaded machine cannot make a quick reply look delayed.
    sim.setReplyDelay(1500, ['getDiskSpace']);
    let t = Date.now();
    await c.request('getSysTime');
    assert.ok(Date.now() - t < 1000);
    t = Date.now();
    await c.request('getDiskSpace');
    assert.ok(Date.now() - t >= 1480);
    sim.setReplyDelay(0);
    t = Date.now();
    await c.request('getDiskSpace');
    assert.ok(Date.now() - t < 1000);
  });
});

test('restart keeps the port and all data; stop leaves nothing listening', async () => {
  const sim = new TvheadendSimulator({ port: 0, startTime: T0, speed: 0 });
  const { port } = await sim.start();
  try {
    const c = await client(port);
    await c.request('enableAsyncMetadata', {});
    await c.waitForMethod('initialSyncCompleted');
    const before = {
      channels: c.byMethod('channelAdd').map((m) => m.channelId).sort(),
      dvr: c.byMethod('dvrEntryAdd').map((m) => m.id).sort(),
      tags: c.byMethod('tagAdd').map((m) => m.tagId).sort(),
    };
    const added = sim.addDvrEntry({ channelId: sim.channels[0].id, start: T0 + 9000, stop: T0 + 9600, title: 'Kept' });
    await sim.restart({ downtimeMs: 100 });
    await c.waitClosed();
    assert.equal(sim.port, port);
    const c2 = await client(port);
    await c2.request('enableAsyncMetadata', {});
    await c2.waitForMethod('initialSyncCompleted');
    assert.deepEqual(c2.byMethod('channelAdd').map((m) => m.channelId).sort(), before.channels);
    assert.deepEqual(c2.byMethod('tagAdd').map((m) => m.tagId).sort(), before.tags);
    assert.deepEqual(c2.byMethod('dvrEntryAdd').map((m) => m.id).sort(), [...before.dvr, added.id].sort());
    await c2.close();
  } finally {
    await sim.stop();
  }
  await assert.rejects(
    new Promise<void>((resolve, reject) => {
      const s = connect({ port, host: '127.0.0.1' }, () => {
        s.destroy();
        resolve();
      });
      s.once('error', reject);
    }),
    /ECONNREFUSED/,
  );
  assert.equal(sim.connectionCount, 0);
});

test('same seed, same data; big EPG streams through with backpressure', async () => {
  const a = new TvheadendSimulator({ port: 0, seed: 7, startTime: T0, speed: 0 });
  const b = new TvheadendSimulator({ port: 0, seed: 7, startTime: T0, speed: 0 });
  assert.deepEqual(
    a.channels.map((c) => [c.id, c.uuid, c.name]),
    b.channels.map((c) => [c.id, c.uuid, c.name]),
  );
  assert.deepEqual(
    a.getEvents().map((e) => [e.id, e.title, e.start]),
    b.getEvents().map((e) => [e.id, e.title, e.start]),
  );
  await withSim({ channels: 200, epgHours: 168, eventMinutes: 50, startTime: T0, speed: 0 }, async (sim, port) => {
    assert.ok(sim.eventCount > 35_000, `events: ${sim.eventCount}`);
    const c = await client(port);
    try {
      c.send({ method: 'enableAsyncMetadata', epg: 1, seq: 1000 });
      c.socket.pause();
      await sleep(300);
      const conn = [...sim.connections.values()][0];
      assert.ok(conn.socket.writableLength < 2 * 1024 * 1024, `server buffered ${conn.socket.writableLength} bytes for a paused reader`);
      c.socket.resume();
      await c.waitForMethod('initialSyncCompleted', { timeoutMs: 20_000 });
      assert.equal(c.byMethod('eventAdd').length, sim.eventCount);
    } finally {
      await c.close();
    }
  });
});

test('all 39 methods are implemented and answer without "Method not found" or internal errors', async () => {
  await withSim({ startTime: T0, speed: 0 }, async (sim, port) => {
    const { METHOD_NAMES } = await import('../src/sim');
    assert.equal(METHOD_NAMES.length, 39);
    const c = await client(port);
    try {
      const ch = sim.channels[0];
      const ev = sim.getEvents(ch.id)[1];
      const done = sim.dvrEntries.find((e) => e.state === 'completed' && !e.error)!;
      const args: Record<string, HtsmsgMap> = {
        hello: { htspversion: 44, clientname: 'x' },
        api: { path: 'serverinfo' },
        getChannel: { channelId: ch.id },
        getEvent: { eventId: ev.id },
        getEvents: { channelId: ch.id, numFollowing: 3 },
        epgQuery: { query: ev.title },
        getEpgObject: { id: ev.id, type: 1 },
        addDvrEntry: { channelId: ch.id, start: T0 + 50_000, stop: T0 + 51_000, title: 'x' },
        updateDvrEntry: { id: done.id, playcount: 2147483647 },
        stopDvrEntry: { id: done.id },
        cancelDvrEntry: { id: done.id },
        deleteDvrEntry: { id: done.id },
        addAutorecEntry: { title: 'zz-nothing', channelId: -1 },
        updateAutorecEntry: { id: sim.autorecEntries[0].id, channelId: -1, enabled: 0 },
        deleteAutorecEntry: { id: sim.autorecEntries[1].id },
        addTimerecEntry: { title: 't', channelId: ch.id, start: 60, stop: 90, enabled: 0 },
        updateTimerecEntry: { id: sim.timerecEntries[0].id, channelId: ch.id },
        deleteTimerecEntry: { id: sim.timerecEntries[1].id },
        getDvrCutpoints: { id: done.id },
        getTicket: { channelId: ch.id },
        subscribe: { channelId: ch.id, subscriptionId: 3, timeshiftPeriod: 60 },
        subscriptionChangeWeight: { subscriptionId: 3, weight: 200 },
        subscriptionSkip: { subscriptionId: 3, time: -1_000_000 },
        subscriptionSeek: { subscriptionId: 3, time: 0, absolute: 1 },
        subscriptionSpeed: { subscriptionId: 3, speed: 0 },
        subscriptionLive: { subscriptionId: 3 },
        subscriptionFilterStream: { subscriptionId: 3, disable: [2] },
        unsubscribe: { subscriptionId: 3 },
        fileOpen: { file: 'imagecache/1' },
        fileRead: { id: 1, size: 10 },
        fileStat: { id: 1 },
        fileSeek: { id: 1, offset: 0 },
        fileClose: { id: 1 },
      };
      // Order matters for a few (subscribe before its controls, fileOpen before reads, entry deletes last).
      const order = [...METHOD_NAMES].sort((a, b) => rank(a) - rank(b));
      function rank(m: string): number {
        if (m === 'subscribe' || m === 'fileOpen') return 0;
        if (m === 'unsubscribe' || m === 'fileClose') return 2;
        if (m === 'deleteDvrEntry') return 3;
        return 1;
      }
      for (const m of order) {
        const r = await c.request(m, args[m] ?? {});
        assert.notEqual(r.error, 'Method not found', m);
        assert.notEqual(r.error, 'Internal error', m);
        assert.equal(r.error, undefined, `${m}: ${String(r.error)}`);
        assert.equal(r.noaccess, undefined, m);
        if (m === 'subscribe') assert.equal(r.timeshiftPeriod, 60);
        if (m === 'getEvents') assert.equal((r.events as HtsmsgMap[]).length, 3);
        if (m === 'getEpgObject') assert.equal((r.tit as HtsmsgMap).eng, ev.title);
        if (m === 'getTicket') assert.match(String(r.ticket), /^[0-9A-F]{40}$/);
      }
      // Timeshift controls answered asynchronously.
      await c.waitForMethod('subscriptionSpeed', { where: (m) => m.speed === 0 });
      await c.waitForMethod('subscriptionSkip', { where: (m) => m.subscriptionId === 3 });
      assert.equal(sim.getDvrEntry(done.id), undefined);
    } finally {
      await c.close();
    }
  });
});

test('DVR visibility follows the user rights (own entries only, failed hidden)', async () => {
  const users = [
    { username: 'demo', password: 'demo', rights: { streaming: true, dvr: true, allRecorder: true, failedRecorder: true } },
    { username: 'kid', password: 'kid', rights: { streaming: true, dvr: true } },
  ];
  const dvrEntries = [
    { channelIndex: 0, start: T0 + 3600, stop: T0 + 7200, title: 'Mine', owner: 'kid' },
    { channelIndex: 0, start: T0 + 7200, stop: T0 + 9000, title: 'Theirs', owner: 'demo' },
    { channelIndex: 0, start: T0 - 7200, stop: T0 - 3600, title: 'Broken', owner: 'kid', state: 'completed' as const, error: 'File missing' },
  ];
  await withSim({ users, dvrEntries, autorecEntries: [], timerecEntries: [], startTime: T0, speed: 0 }, async (_sim, port) => {
    const kid = await RawClient.connect(port);
    const all = await client(port);
    try {
      await kid.login('kid', 'kid');
      for (const c of [kid, all]) {
        await c.request('enableAsyncMetadata', {});
        await c.waitForMethod('initialSyncCompleted');
      }
      assert.deepEqual(kid.byMethod('dvrEntryAdd').map((m) => m.title), ['Mine']);
      assert.deepEqual(all.byMethod('dvrEntryAdd').map((m) => m.title).sort(), ['Broken', 'Mine', 'Theirs']);
    } finally {
      await kid.close();
      await all.close();
    }
  });
});
