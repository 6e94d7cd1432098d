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
  addTimerec,
  cancelRecording,
  deleteAutorec,
  deleteRecording,
  deleteTimerec,
  dvrStatus,
  listAutorecs,
  listRecordings,
  listTimerecs,
  recordEvent,
  recordNow,
  stopRecording,
  stopRunning,
  updateAutorec,
  updateRecording,
  updateTimerec,
} from '../src/htsp/dvr';
import { ScriptedServer, type Handler } from './helpers/scripted-server';
import { freezeAwayFromBoundaries, onCleanup, readySession, startSim } from './helpers/sim-session';

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
      recordNow(sess, sim.channels[0].id),
      stopRunning(sess),
      updateRecording(sess, 1, { title: 't' }),
      updateAutorec(sess, 'abc', { name: 'n', channelId: -1 }),
      addTimerec(sess, { channelId: sim.channels[0].id, start: 60, stop: 120, title: 't' }),
      updateTimerec(sess, 'abc', { name: 'n', channelId: sim.channels[0].id }),
      deleteTimerec(sess, 'abc'),
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

/** A complete dvrEntryAdd as a scripted server sends it, on channel 1. */
function scriptedEntry(id: number, fields: HtsmsgMap): HtsmsgMap {
  return {
    method: 'dvrEntryAdd',
    id,
    enabled: 1,
    channel: 1,
    startExtra: 0,
    stopExtra: 0,
    retention: 0,
    removal: 0,
    priority: 2,
    contentType: 0,
    ...fields,
  };
}

describe('against a scripted server', () => {
  const fullEntry = (id: number): HtsmsgMap => scriptedEntry(id, { start: 2_000_000_000, stop: 2_000_003_600, title: 'Scripted', state: 'scheduled' });

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

describe('record now and stop what runs, against the simulator', () => {
  test('recordNow: the programme on now, from the cache; unknown channels are bad input', async (t) => {
    const sim = await dvrSim(t);
    freezeAwayFromBoundaries(sim);
    const sess = await readySession(t, sim.port);
    const requests = record(t, sim);
    const ch = sim.channels[4];
    const running = sim.getNowNext(ch.id).now;
    assert.ok(running, 'the simulator has a running programme');
    const r = await recordNow(sess, String(ch.number), { comment: 'now' });
    assert.equal(r.event.eventId, running.id);
    assert.equal(r.channel.channelId, ch.id);
    assert.equal(r.entry?.eventId, running.id, 'the pushed entry');
    assert.equal(r.entry?.comment, 'now');
    assert.equal(sim.getDvrEntry(r.id)?.eventId, running.id);
    assert.deepEqual(
      requests.map((x) => x.method),
      ['addDvrEntry'],
      'the cache knew what is on: no question to the server',
    );
    await rejects(recordNow(sess, 'Nope TV'), 'bad-input', /no channel matches "Nope TV"/);
  });

  test('recordNow without EPG sync asks the server (getEvents, one event); a gap is bad input', async (t) => {
    const sim = await dvrSim(t);
    freezeAwayFromBoundaries(sim);
    const sess = await readySession(t, sim.port, { epg: false });
    assert.equal(sess.cache.eventsById.size, 0, 'premise: no EPG in the cache');
    const requests = record(t, sim);
    const ch = sim.channels[2];
    const running = sim.getNowNext(ch.id).now;
    assert.ok(running);
    const r = await recordNow(sess, ch.id);
    assert.equal(r.event.eventId, running.id);
    assert.equal(r.entry?.eventId, running.id);
    assert.deepEqual(
      requests.map((x) => x.method),
      ['getEvents', 'addDvrEntry'],
    );
    assert.equal(requests[0].message.channelId, ch.id);
    assert.equal(requests[0].message.numFollowing, 3);

    // Nothing runs on a channel whose current programme is gone: the server starts at the next one.
    const other = sim.channels[5];
    const gap = sim.getNowNext(other.id).now;
    assert.ok(gap);
    sim.deleteEvent(gap.id);
    const before = sim.dvrEntries.length;
    await rejects(recordNow(sess, other.name), 'bad-input', /nothing is on .* now/);
    assert.equal(sim.dvrEntries.length, before, 'nothing was recorded');
  });

  test('stopRunning: by id, by channel, then all; each stopped entry is completed', async (t) => {
    const sim = await dvrSim(t);
    const now = sim.now();
    const [a, b] = [sim.channels[5], sim.channels[6]];
    const onA = [1, 2].map((i) => sim.addDvrEntry({ channelId: a.id, start: now - 600, stop: now + 3600, title: `On A ${i}`, state: 'recording' }));
    const onB = sim.addDvrEntry({ channelId: b.id, start: now - 600, stop: now + 3600, title: 'On B', state: 'recording' });
    const sess = await readySession(t, sim.port);
    const requests = record(t, sim);

    await rejects(stopRunning(sess, { id: sim.dvrEntries.find((e) => e.state === 'scheduled')?.id ?? 1 }), 'bad-input', /no running recording has id/);
    await rejects(stopRunning(sess, { channel: 'Nope TV' }), 'bad-input', /no channel matches/);
    assert.deepEqual(requests, [], 'nothing sent for either');

    const one = await stopRunning(sess, { id: onB.id });
    assert.deepEqual(one.stopped.map((s) => [s.id, s.entry.state]), [[onB.id, 'completed']]);
    assert.equal(sim.getDvrEntry(onB.id)?.state, 'completed');

    const byChannel = await stopRunning(sess, { channel: a.name });
    assert.deepEqual(byChannel.stopped.map((s) => s.id).sort(), onA.map((e) => e.id).sort());
    assert.ok(byChannel.stopped.every((s) => s.entry.state === 'completed' && !s.entry.error));
    assert.deepEqual(byChannel.failed, []);
    assert.ok(onA.every((e) => sim.getDvrEntry(e.id)?.state === 'completed'));
    assert.ok(sim.dvrEntries.some((e) => e.state === 'recording'), 'recordings elsewhere still run');

    const rest = sim.dvrEntries.filter((e) => e.state === 'recording').map((e) => e.id);
    const all = await stopRunning(sess);
    assert.deepEqual(all.stopped.map((s) => s.id).sort(), rest.sort());
    assert.equal(sim.dvrEntries.filter((e) => e.state === 'recording').length, 0);
    assert.deepEqual((await stopRunning(sess)).stopped, [], 'nothing left to stop');
  });
});

describe('changes and time rules, against the simulator', () => {
  test('updateRecording: sends only what changes and resolves with the pushed entry', async (t) => {
    const sim = await dvrSim(t);
    const sess = await readySession(t, sim.port);
    const start = sim.now() + 7200;
    const made = await addTimer(sess, { channelId: sim.channels[1].id, start, stop: start + 1800, title: 'Before' });
    assert.ok(made.entry);
    const requests = record(t, sim);
    // `start` is given with the value it already has: it must be left out of the request.
    assert.equal(made.entry.start, start, 'premise: the entry starts where asked');
    const r = await updateRecording(sess, made.id, { title: 'After', stopExtra: 10, priority: 1, comment: 'edited', start, stop: start + 3600 });
    assert.equal(r.removed, false);
    assert.equal(r.entry?.title, 'After');
    assert.equal(r.entry?.stopExtra, 10);
    assert.equal(r.entry?.priority, 1);
    assert.equal(r.entry?.comment, 'edited');
    assert.equal(r.entry?.stop, start + 3600);
    assert.equal(sess.cache.dvrEntriesById.get(made.id), r.entry);
    const sent = sim.getDvrEntry(made.id);
    assert.equal(sent?.title, 'After');
    assert.equal(sent?.stopExtra, 10);
    const wire = requests.filter((x) => x.method === 'updateDvrEntry').map((x) => x.message);
    assert.equal(wire.length, 1);
    assert.equal('start' in wire[0], false, 'a field that keeps its value is left out');
    assert.equal(wire[0].stop, start + 3600, 'a changed one is sent');

    // The same again changes nothing: no request, and no wait.
    const t0 = Date.now();
    const same = await updateRecording(sess, made.id, { title: 'After', stopExtra: 10 }, { waitMs: 2000 });
    assert.ok(Date.now() - t0 < 1000);
    assert.equal(same.entry?.title, 'After');
    assert.equal(requests.filter((x) => x.method === 'updateDvrEntry').length, 1);
  });

  test('updateRecording refuses what Tvheadend would misread or ignore, and sends none of it', async (t) => {
    const sim = await dvrSim(t);
    const now = sim.now();
    const upcoming = sim.addDvrEntry({ channelIndex: 1, start: now + 7200, stop: now + 9000, title: 'Padded', startExtra: 5 });
    const sess = await readySession(t, sim.port);
    const requests = record(t, sim);
    const running = sim.dvrEntries.find((e) => e.state === 'recording');
    assert.ok(running);
    await rejects(updateRecording(sess, upcoming.id, {}), 'bad-input', /nothing to change/);
    await rejects(updateRecording(sess, upcoming.id, { priority: 5 }), 'bad-input', /priority cannot be set to 5/);
    await rejects(updateRecording(sess, upcoming.id, { retention: 0 }), 'bad-input', /retention cannot be set to 0/);
    await rejects(updateRecording(sess, upcoming.id, { startExtra: 0 }), 'bad-input', /startExtra cannot be set to 0/);
    await rejects(updateRecording(sess, upcoming.id, { stop: upcoming.start - 60 }), 'bad-input', /stop must be after its start/);
    await rejects(updateRecording(sess, upcoming.id, { title: ' ' }), 'bad-input', /needs a title/);
    await rejects(updateRecording(sess, upcoming.id, { channelId: 0x7ffffff0 }), 'bad-input', /no channel has the id/);
    await rejects(updateRecording(sess, running.id, { start: running.start - 60, description: 'x' }), 'bad-input', /recording that is recording cannot change start, description/);
    await rejects(updateRecording(sess, 0, { title: 'x' }), 'bad-input', /DVR entry id/);
    assert.deepEqual(requests, []);
    await rejects(updateRecording(sess, 0x7ffffff0, { title: 'x' }), 'server', /not found/i);
  });

  test('updateRecording of a running recording: a later stop and a new title', async (t) => {
    const sim = await dvrSim(t);
    const sess = await readySession(t, sim.port);
    const running = sim.dvrEntries.find((e) => e.state === 'recording');
    assert.ok(running);
    // The simulator changes its entry objects in place: keep the old value.
    const later = running.stop + 900;
    const r = await updateRecording(sess, running.id, { stop: later, title: 'Longer' });
    assert.equal(r.entry?.state, 'recording');
    assert.equal(r.entry?.stop, later);
    assert.equal(r.entry?.title, 'Longer');
    assert.equal(sim.getDvrEntry(running.id)?.stop, later);
  });

  test('updateAutorec keeps the rule’s channel unless told (G18), and -1 widens it to any', async (t) => {
    const sim = await dvrSim(t);
    const sess = await readySession(t, sim.port);
    const ch = sim.channels[2];
    const made = await addAutorec(sess, { title: 'Quiz', channelId: ch.id, name: 'Quiz' });
    const requests = record(t, sim);
    const r = await updateAutorec(sess, made.id, { name: 'Quiz nights', minDuration: 900, daysOfWeek: 0x60 });
    assert.equal(r.rule?.name, 'Quiz nights');
    assert.equal(r.rule?.minDuration, 900);
    assert.equal(r.rule?.daysOfWeek, 0x60);
    assert.equal(r.rule?.channel, ch.id, 'the channel stayed');
    const wire = requests.filter((x) => x.method === 'updateAutorecEntry').map((x) => x.message);
    assert.equal(wire[0].channelId, ch.id, 'sent again, or the server would widen the rule');
    assert.equal(wire[0].minduration, 900, 'lower-case on the wire');
    assert.equal(sim.getAutorecEntry(made.id)?.name, 'Quiz nights');

    const wide = await updateAutorec(sess, made.id, { channelId: -1 });
    assert.equal(wide.rule?.channel, undefined);
    assert.equal(sim.getAutorecEntry(made.id)?.channelId, undefined);

    await rejects(updateAutorec(sess, made.id, { maxDuration: 60 }), 'bad-input', /maxDuration must not be less/);
    await rejects(updateAutorec(sess, made.id, {}), 'bad-input', /nothing to change/);
    await rejects(updateAutorec(sess, 'not-in-the-cache', { name: 'x' }), 'bad-input', /give its channel/);
    await rejects(updateAutorec(sess, 'not-in-the-cache', { name: 'x', channelId: -1 }), 'server', /not found/i);
  });

  test('timerec rules: added, scheduled by the server, moved, listed and deleted', async (t) => {
    const sim = await dvrSim(t, { timerecEntries: [] });
    const sess = await readySession(t, sim.port);
    const ch = sim.channels[3];
    const requests = record(t, sim);
    const made = await addTimerec(sess, { channelId: ch.id, start: 20 * 60 + 15, stop: 21 * 60 + 5, title: 'Evening %F', name: 'Evening', priority: 1 });
    assert.ok(made.rule, 'the pushed rule');
    assert.equal(made.rule.id, made.id);
    assert.equal(made.rule.start, 1215);
    assert.equal(made.rule.stop, 1265);
    assert.equal(made.rule.channel, ch.id);
    assert.equal(made.rule.title, 'Evening %F');
    assert.equal(made.rule.daysOfWeek, 0x7f);
    const add = requests.find((x) => x.method === 'addTimerecEntry')?.message;
    assert.equal(add?.channelId, ch.id);
    assert.equal(add?.start, 1215);
    const scheduled = (): SimDvrEntryLike[] => sim.dvrEntries.filter((e) => e.timerecId === made.id && e.state === 'scheduled');
    assert.equal(scheduled().length, 1, 'the server keeps one upcoming recording per rule');
    assert.equal(Math.floor((scheduled()[0].start % 86400) / 60), 1215);

    const moved = await updateTimerec(sess, made.id, { start: 1230, stop: 1320 });
    assert.equal(moved.rule?.start, 1230);
    assert.equal(moved.rule?.channel, ch.id, 'the channel stayed');
    assert.equal(requests.find((x) => x.method === 'updateTimerecEntry')?.message.channelId, ch.id);
    assert.equal(scheduled().length, 1);
    assert.equal(Math.floor((scheduled()[0].start % 86400) / 60), 1230, 'the upcoming recording moved with the rule');

    assert.deepEqual(
      listTimerecs(sess).map((r) => r.id),
      [made.id],
    );

    await rejects(addTimerec(sess, { channelId: ch.id, start: 1440, stop: 60, title: 't' }), 'bad-input', /start \(minutes after midnight\)/);
    await rejects(addTimerec(sess, { channelId: ch.id, start: 60, stop: 60, title: 't' }), 'bad-input', /must differ/);
    await rejects(addTimerec(sess, { channelId: ch.id, start: 60, stop: 90, title: ' ' }), 'bad-input', /needs a title/);
    await rejects(addTimerec(sess, { channelId: -1, start: 60, stop: 90, title: 't' }), 'bad-input', /channel id/);
    await rejects(addTimerec(sess, { channelId: ch.id, start: 60, stop: 90, title: 't', daysOfWeek: 0 }), 'bad-input', /at least one day/);
    await rejects(updateTimerec(sess, made.id, { channelId: -1 }), 'bad-input', /needs a channel/);
    assert.equal(requests.filter((x) => x.method === 'addTimerecEntry').length, 1, 'refused rules are not sent');

    const gone = await deleteTimerec(sess, made.id);
    assert.equal(gone.removed, true);
    assert.equal(gone.rule?.name, 'Evening', 'the last known rule');
    assert.equal(sim.getTimerecEntry(made.id), undefined);
    assert.equal(scheduled().length, 0, 'its upcoming recording went with it');
    assert.deepEqual(listTimerecs(sess), []);
    await rejects(deleteTimerec(sess, made.id), 'server', /not found/i);
  });
});

type SimDvrEntryLike = TvheadendSimulator['dvrEntries'][number];

describe('stopRunning against a scripted server', () => {
  const running = (id: number): HtsmsgMap => scriptedEntry(id, { start: 1_000, stop: 2_000_000_000, title: `Running ${id}`, state: 'recording' });

  async function withRunning(t: TestContext, stop: Handler): Promise<HtspSession> {
    const srv = new ScriptedServer({
      handlers: {
        enableAsyncMetadata: (_req, c) => {
          setTimeout(() => {
            c.send({ method: 'channelAdd', channelId: 1, channelNumber: 1, channelName: 'One', eventId: 0, nextEventId: 0, services: [], tags: [] });
            c.send(running(7));
            c.send(running(8));
            c.send({ method: 'initialSyncCompleted' });
          }, 0);
          return {};
        },
        stopDvrEntry: stop,
      },
    });
    await srv.start();
    onCleanup(t, () => srv.stop());
    return readySession(t, srv.port);
  }

  test('one refusal leaves the other stopped, and is reported with its error', async (t) => {
    const sess = await withRunning(t, (req, c): HtsmsgMap => {
      if (req.id === 7) return { error: 'Busy' };
      setTimeout(() => c.send({ ...running(8), method: 'dvrEntryUpdate', state: 'completed' }), 10);
      return { success: 1 };
    });
    const r = await stopRunning(sess, { channel: 'One' });
    assert.deepEqual(r.stopped.map((s) => [s.id, s.entry.state]), [[8, 'completed']]);
    assert.deepEqual(r.failed.map((f) => [f.id, f.entry.title]), [[7, 'Running 7']]);
    const err = r.failed[0].error;
    assert.ok(err instanceof HtspError && err.code === 'server' && err.message === 'Busy', String(err));
  });

  test('when every stop is refused, stopRunning rejects with code server', async (t) => {
    const sess = await withRunning(t, () => ({ success: 0 }));
    await rejects(stopRunning(sess), 'server', /could not stop 2 recordings/);
  });
});
