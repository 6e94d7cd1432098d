// The library's DVR operations: against the simulator for what Tvheadend does, and against a
// scripted server for the answers the simulator never gives (no push, `success: 0`).
import { test, describe, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_USERS, type TvheadendSimulator, type SimEvent, type SimOptions } from '../src/sim';
import type { HtspSession } from '../src/htsp/session';
import type { HtsmsgMap } from '../src/htsp/codec';
import { HtspError } from '../src/htsp/errors';
import type { EpgEvent } from '../src/htsp/messages';
import { ChangeWatch } from '../src/htsp/change-watch';
import {
  DVR_STATUSES,
  addAutorec,
  addTimer,
  cancelRecording,
  deleteAutorec,
  deleteRecording,
  dvrStatus,
  listAutorecs,
  listRecordings,
  recordEvent,
  stopRecording,
} from '../src/htsp/dvr';
import { ScriptedServer, type Handler } from './helpers/scripted-server';
import { onCleanup, readySession, startSim } from './helpers/sim-session';

/** A small fixed world on a stopped clock (speed 0): the same programmes every run. */
const dvrSim = (t: TestContext, opts: SimOptions = {}): Promise<TvheadendSimulator> =>
  startSim(t, { speed: 0, channels: 8, epgHours: 24, seed: 3, ...opts });

/** The methods the simulator receives from now on. */
function record(t: TestContext, sim: TvheadendSimulator): Array<{ method: string; message: HtsmsgMap }> {
  const seen: Array<{ method: string; message: HtsmsgMap }> = [];
  const on = (r: { method?: string; message: HtsmsgMap }): void => {
    if (r.method) seen.push({ method: r.method, message: r.message });
  };
  sim.on('request', on);
  onCleanup(t, () => sim.off('request', on));
  return seen;
}

function futureEvent(sim: TvheadendSimulator, channelIndex: number): SimEvent {
  const now = sim.now();
  const taken = new Set(sim.dvrEntries.map((e) => e.eventId));
  const ev = sim.getEvents(sim.channels[channelIndex].id).find((e) => e.start > now + 3600 && !taken.has(e.id));
  assert.ok(ev, 'the simulator has a future programme');
  return ev;
}

async function rejects(promise: Promise<unknown>, code: HtspError['code'], message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof HtspError, String(err));
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
}

test('dvrStatus: what a person means by the state of a recording', () => {
  assert.deepEqual([...DVR_STATUSES], ['upcoming', 'recording', 'completed', 'failed']);
  assert.equal(dvrStatus({ state: 'scheduled' }), 'upcoming');
  assert.equal(dvrStatus({ state: 'recording' }), 'recording');
  assert.equal(dvrStatus({ state: 'recording', error: 'No signal' }), 'recording');
  assert.equal(dvrStatus({ state: 'completed' }), 'completed');
  assert.equal(dvrStatus({ state: 'completed', error: 'Aborted by user' }), 'failed');
  assert.equal(dvrStatus({ state: 'missed' }), 'failed');
  assert.equal(dvrStatus({ state: 'invalid' }), 'failed');
});

describe('against the simulator', () => {
  test('recordEvent by id: resolves with the entry the server pushed', async (t) => {
    const sim = await dvrSim(t);
    const sess = await readySession(t, sim.port);
    const requests = record(t, sim);
    const ev = futureEvent(sim, 1);
    const r = await recordEvent(sess, ev.id, { comment: 'from the test', priority: 1, configName: '' });
    assert.equal(r.removed, false);
    assert.ok(r.entry, 'the pushed entry');
    assert.equal(r.entry.id, r.id);
    assert.equal(r.entry.eventId, ev.id);
    assert.equal(r.entry.state, 'scheduled');
    assert.equal(r.entry.comment, 'from the test');
    assert.equal(sess.cache.dvrEntriesById.get(r.id), r.entry);
    assert.equal(sim.getDvrEntry(r.id)?.eventId, ev.id);
    const add = requests.find((x) => x.method === 'addDvrEntry');
    assert.equal(add?.message.eventId, ev.id);
    assert.equal(add?.message.priority, 1);
    assert.equal('configName' in (add?.message ?? {}), false, 'an empty config name is left out (the user’s default)');
  });

  test('recordEvent: an unknown event id is bad input, and nothing is added', async (t) => {
    const sim = await dvrSim(t);
    const sess = await readySession(t, sim.port);
    const requests = record(t, sim);
    const before = sim.dvrEntries.length;
    await rejects(recordEvent(sess, 987654321), 'bad-input', /unknown EPG event 987654321/);
    await rejects(recordEvent(sess, 0), 'bad-input', /EPG event id must be a whole number/);
    assert.deepEqual(
      requests.map((x) => x.method),
      ['getEvent'],
    );
    assert.equal(sim.dvrEntries.length, before);
  });

  test('recordEvent with an event object: taken as known, no lookup even without EPG sync', async (t) => {
    const sim = await dvrSim(t);
    const sess = await readySession(t, sim.port, { epg: false });
    const ev: EpgEvent = await sess.call('getEvent', { eventId: futureEvent(sim, 2).id });
    const requests = record(t, sim);
    const r = await recordEvent(sess, ev);
    assert.equal(r.entry?.eventId, ev.eventId);
    assert.deepEqual(
      requests.map((x) => x.method),
      ['addDvrEntry'],
    );
  });

  test('addTimer: a manual entry; impossible timers are bad input and never sent', async (t) => {
    const sim = await dvrSim(t);
    const sess = await readySession(t, sim.port);
    const requests = record(t, sim);
    const channelId = sim.channels[3].id;
    const start = sim.now() + 7200;
    const r = await addTimer(sess, { channelId, start, stop: start + 1800, title: 'Timer test', subtitle: 'Part 1', stopExtra: 5 });
    assert.ok(r.entry);
    assert.equal(r.entry.channel, channelId);
    assert.equal(r.entry.start, start);
    assert.equal(r.entry.stop, start + 1800);
    assert.equal(r.entry.title, 'Timer test');
    assert.equal(r.entry.subtitle, 'Part 1');
    assert.equal(sim.getDvrEntry(r.id)?.title, 'Timer test');
    assert.equal(requests.filter((x) => x.method === 'addDvrEntry').length, 1);

    await rejects(addTimer(sess, { channelId, start, stop: start, title: 't' }), 'bad-input', /stop must be after/);
    await rejects(addTimer(sess, { channelId, start: 1000, stop: 2000, title: 't' }), 'bad-input', /ends in the past/);
    await rejects(addTimer(sess, { channelId, start, stop: start + 60, title: '  ' }), 'bad-input', /needs a title/);
    await rejects(addTimer(sess, { channelId: -3, start, stop: start + 60, title: 't' }), 'bad-input', /channel id/);
    assert.equal(requests.filter((x) => x.method === 'addDvrEntry').length, 1, 'none of them was sent');
  });

  test('stop, cancel and delete resolve with the entry after the server’s change', async (t) => {
    const sim = await dvrSim(t);
    const sess = await readySession(t, sim.port);
    const running = sim.dvrEntries.find((e) => e.state === 'recording');
    assert.ok(running);
    const stopped = await stopRecording(sess, running.id);
    assert.equal(stopped.removed, false);
    assert.equal(stopped.entry?.state, 'completed');
    assert.equal(stopped.entry?.error, undefined);
    assert.equal(dvrStatus(stopped.entry), 'completed');

    const upcoming = (await recordEvent(sess, futureEvent(sim, 0).id)).id;
    const t0 = Date.now();
    const untouched = await stopRecording(sess, upcoming, { waitMs: 2000 });
    assert.ok(Date.now() - t0 < 1500, 'stopping an entry that does not record waits for nothing');
    assert.equal(untouched.entry?.state, 'scheduled');

    const cancelled = await cancelRecording(sess, upcoming);
    assert.equal(cancelled.removed, true, 'a cancelled upcoming entry is gone');
    assert.equal(cancelled.entry?.id, upcoming, 'with its last known state');
    assert.equal(sim.getDvrEntry(upcoming), undefined);
    assert.equal(sess.cache.dvrEntriesById.has(upcoming), false);

    const done = sim.dvrEntries.find((e) => e.state === 'completed' && e.id !== running.id);
    assert.ok(done);
    const deleted = await deleteRecording(sess, done.id);
    assert.equal(deleted.id, done.id);
    assert.equal(deleted.removed, sim.getDvrEntry(done.id) === undefined);
    assert.equal(deleted.removed, !sess.cache.dvrEntriesById.has(done.id));

    await rejects(cancelRecording(sess, 0x7ffffff0), 'server', /not found/i);
    await rejects(deleteRecording(sess, 1.5), 'bad-input', /DVR entry id must be a whole number/);
  });

  test('listRecordings: the cached entries with a status, by start time', async (t) => {
    const sim = await dvrSim(t);
    const sess = await readySession(t, sim.port);
    const all = listRecordings(sess);
    assert.equal(all.length, sim.dvrEntries.length);
    for (let i = 1; i < all.length; i++) assert.ok(all[i - 1].start <= all[i].start);
    let total = 0;
    for (const status of DVR_STATUSES) {
      const some = listRecordings(sess, status);
      assert.ok(some.every((e) => dvrStatus(e) === status));
      total += some.length;
    }
    assert.equal(total, all.length, 'every entry has exactly one status');
    assert.ok(listRecordings(sess, 'failed').length >= 2, 'the simulator has a failed and a missed recording');
  });

  test('addAutorec sends the wire fields Tvheadend needs (G18); deleteAutorec removes the rule', async (t) => {
    const sim = await dvrSim(t);
    const sess = await readySession(t, sim.port);
    const requests = record(t, sim);
    const sports = sim.channels.find((c) => c.genre === 'sports');
    assert.ok(sports);

    const made = await addAutorec(sess, { title: 'Match Day', channelId: sports.id, minDuration: 600, name: 'Football', fullText: false, enabled: true });
    assert.ok(made.rule);
    assert.equal(made.rule.id, made.id);
    assert.equal(made.rule.title, 'Match Day');
    assert.equal(made.rule.minDuration, 600);
    assert.equal(made.rule.channel, sports.id);
    const wire = requests.filter((x) => x.method === 'addAutorecEntry').map((x) => x.message);
    assert.equal(wire[0]?.channelId, sports.id);
    assert.equal(wire[0]?.minduration, 600);
    assert.equal(wire[0]?.minDuration, undefined, 'never camelCase on the wire');
    assert.equal(wire[0]?.fulltext, 0);
    assert.equal(wire[0]?.enabled, 1);

    const anyChannel = await addAutorec(sess, { title: '^Quiz Master$' });
    assert.equal(requests.filter((x) => x.method === 'addAutorecEntry')[1]?.message.channelId, -1, 'any channel is sent as -1');
    assert.equal(anyChannel.rule?.channel, undefined);

    const names = listAutorecs(sess).map((r) => r.name ?? r.title ?? '');
    assert.deepEqual(names, [...names].sort((a, b) => a.localeCompare(b)));
    assert.equal(listAutorecs(sess).length, sim.autorecEntries.length);

    await rejects(addAutorec(sess, { title: ' ' }), 'bad-input', /needs a title pattern/);
    await rejects(addAutorec(sess, { title: 'x', minDuration: 600, maxDuration: 60 }), 'bad-input', /maxDuration must not be less/);
    assert.equal(requests.filter((x) => x.method === 'addAutorecEntry').length, 2, 'refused rules are not sent');

    const gone = await deleteAutorec(sess, made.id);
    assert.equal(gone.removed, true);
    assert.equal(gone.rule?.title, 'Match Day', 'the last known rule');
    assert.equal(sim.getAutorecEntry(made.id), undefined);
    assert.equal(sess.cache.autorecEntriesById.has(made.id), false);
    await rejects(deleteAutorec(sess, ''), 'bad-input', /autorec rule id/);
  });

  test('a user without DVR rights gets noaccess, and the server is not asked (G16)', async (t) => {
    const sim = await dvrSim(t, { users: [...DEFAULT_USERS, { username: 'viewer', password: 'viewer', rights: { streaming: true } }] });
    const sess = await readySession(t, sim.port, { username: 'viewer', password: 'viewer' });
    assert.equal(sess.rights?.dvr, false);
    const requests = record(t, sim);
    const start = sim.now() + 3600;
    const attempts: Array<Promise<unknown>> = [
      recordEvent(sess, futureEvent(sim, 0).id),
      addTimer(sess, { channelId: sim.channels[0].id, start, stop: start + 60, title: 't' }),
      stopRecording(sess, 1),
      cancelRecording(sess, 1),
      deleteRecording(sess, 1),
      addAutorec(sess, { title: 'x' }),
      deleteAutorec(sess, 'abc'),
    ];
    for (const a of attempts) await rejects(a, 'noaccess', /no DVR rights/);
    assert.deepEqual(requests, []);
  });

  test('ChangeWatch keeps what it saw before the wait, and close ends a wait', async (t) => {
    const sim = await dvrSim(t);
    const sess = await readySession(t, sim.port);
    const entry = sim.dvrEntries[0];
    const watch = new ChangeWatch(sess);
    try {
      const arrived = new Promise<void>((resolve) => sess.once('change', () => resolve()));
      sim.updateDvrEntry(entry.id, { comment: 'changed' });
      await arrived;
      const seen = await watch.waitFor((c) => c.kind === 'dvrEntry' && c.id === entry.id, 10);
      assert.equal(seen?.kind === 'dvrEntry' ? seen.object.comment : undefined, 'changed');

      const t0 = Date.now();
      assert.equal(await watch.waitFor((c) => c.kind === 'tag', 50), undefined, 'nothing came: undefined after the timeout');
      assert.ok(Date.now() - t0 >= 40);

      const pending = watch.waitFor((c) => c.kind === 'tag', 60_000);
      watch.close();
      assert.equal(await pending, undefined);
    } finally {
      watch.close();
    }
  });
});

describe('against a scripted server', () => {
  const fullEntry = (id: number): HtsmsgMap => ({
    method: 'dvrEntryAdd',
    id,
    enabled: 1,
    channel: 1,
    start: 2_000_000_000,
    stop: 2_000_003_600,
    startExtra: 0,
    stopExtra: 0,
    retention: 0,
    removal: 0,
    priority: 2,
    contentType: 0,
    title: 'Scripted',
    state: 'scheduled',
  });

  async function scripted(t: TestContext, handlers: Record<string, Handler>): Promise<HtspSession> {
    const srv = new ScriptedServer({
      handlers: {
        enableAsyncMetadata: (_req, c) => {
          setTimeout(() => c.send({ method: 'initialSyncCompleted' }), 0);
          return {};
        },
        ...handlers,
      },
    });
    await srv.start();
    onCleanup(t, () => srv.stop());
    return readySession(t, srv.port);
  }

  test('no push after the reply: the id only, after the bounded wait', async (t) => {
    const sess = await scripted(t, { addDvrEntry: () => ({ success: 1, id: 4242 }) });
    const t0 = Date.now();
    const r = await recordEvent(sess, { eventId: 5, start: 0, stop: 1 } as EpgEvent, { waitMs: 150 });
    assert.deepEqual(r, { id: 4242, removed: false });
    assert.ok(Date.now() - t0 >= 140, 'waited');
  });

  test('a push that follows the reply is waited for', async (t) => {
    const sess = await scripted(t, {
      addDvrEntry: (_req, c) => {
        setTimeout(() => c.send(fullEntry(77)), 30);
        return { success: 1, id: 77 };
      },
    });
    const r = await recordEvent(sess, { eventId: 5, start: 0, stop: 1 } as EpgEvent);
    assert.equal(r.entry?.title, 'Scripted');
  });

  test('success: 0 without an error text is a server error', async (t) => {
    const sess = await scripted(t, { addAutorecEntry: () => ({ success: 0 }), deleteDvrEntry: () => ({ success: 0 }) });
    await rejects(addAutorec(sess, { title: 'x' }), 'server', /did not carry out addAutorecEntry/);
    await rejects(deleteRecording(sess, 3), 'server', /did not carry out deleteDvrEntry/);
  });

  test('a reply without the new id is a server error', async (t) => {
    const sess = await scripted(t, { addDvrEntry: () => ({ success: 1 }) });
    await rejects(recordEvent(sess, { eventId: 5, start: 0, stop: 1 } as EpgEvent), 'server', /did not say its id/);
  });
});
