// tvheadend-dvr against the simulator: each action is checked in the node's output, in the
// session cache and in the simulator's own DVR data.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_USERS, type SimDvrEntry, type SimEvent, type SimOptions, type TvheadendSimulator } from '../../src/sim';
import type { HtsmsgMap } from '../../src/htsp';
import serverModule from '../../src/nodes/server/tvheadend-server';
import dvrModule from '../../src/nodes/dvr/tvheadend-dvr';
import { parseDays } from '../../src/nodes/dvr/actions';
import type { NodeStatus } from 'node-red';
import { SERVER, UNDER_TEST, USER, failure, helper, load, ready, result, serverOf, singleNodeFlow, startSim, waitFor } from './helpers';
import { freezeAwayFromBoundaries } from '../helpers/sim-session';

type OutEntry = Record<string, unknown> & { id: number; status: string; state: string; eventId?: number; error?: string };
type OutRule = Record<string, unknown> & { id: string };

let sim: TvheadendSimulator;

async function dvrFlow(
  def: Record<string, unknown> = {},
  simOpts: SimOptions = {},
  credentials?: Record<string, Record<string, string>>,
  frozen = false,
): Promise<void> {
  sim = (await startSim({ channels: 8, epgHours: 24, seed: 3, ...simOpts })).sim;
  if (frozen) freezeAwayFromBoundaries(sim);
  const nodes = singleNodeFlow(sim.port, { type: 'tvheadend-dvr', action: 'msg', ...def }, [], { epg: true, epgDays: 0, pingInterval: 0 });
  await load([serverModule, dvrModule], nodes, credentials);
  await ready();
}

beforeEach(() => {
  sim = undefined as unknown as TvheadendSimulator;
});
afterEach(async () => {
  await helper.unload();
  await sim?.stop();
});

const cache = () => serverOf(SERVER).session.cache;

/** The status a person would give each simulator entry (written independently of the node). */
function statusOf(e: SimDvrEntry): string {
  if (e.state === 'scheduled') return 'upcoming';
  if (e.state === 'recording') return 'recording';
  if (e.state === 'completed' && !e.error) return 'completed';
  return 'failed';
}

function recordedEventIds(): Set<number> {
  return new Set(sim.dvrEntries.map((e) => e.eventId).filter((id): id is number => id !== undefined));
}

function futureEvent(channelIndex: number, minLeadSec = 3600): SimEvent {
  const now = sim.now();
  const taken = recordedEventIds();
  const ev = sim.getEvents(sim.channels[channelIndex].id).find((e) => e.start > now + minLeadSec && !taken.has(e.id));
  assert.ok(ev, 'the simulator has a future programme');
  return ev;
}

/** Waits until the session's cache shows every simulator entry in the simulator's state. */
async function cacheCaughtUp(): Promise<void> {
  await waitFor(
    () => sim.dvrEntries.every((e) => cache().dvrEntriesById.get(e.id)?.state === e.state) && cache().dvrEntriesById.size === sim.dvrEntries.length,
    'the cache to follow the simulator',
  );
}

test('record an EPG event by id: a scheduled entry, in the cache and in the simulator', async () => {
  await dvrFlow();
  const ev = futureEvent(3);
  const { payload } = await result<OutEntry>({ payload: { action: 'record', eventId: ev.id, comment: 'from a flow' } });
  assert.equal(payload.status, 'upcoming');
  assert.equal(payload.state, 'scheduled');
  assert.equal(payload.eventId, ev.id);
  assert.equal(payload.title, ev.title);
  assert.equal(payload.channel, ev.channelId);
  assert.equal(payload.channelName, sim.channels[3].name);
  assert.equal(payload.startIso, new Date(ev.start * 1000).toISOString());
  const inSim = sim.getDvrEntry(payload.id);
  assert.ok(inSim, 'the simulator has the entry');
  assert.equal(inSim.state, 'scheduled');
  assert.equal(inSim.eventId, ev.id);
  assert.equal(inSim.owner, USER);
  assert.equal(inSim.comment, 'from a flow');
  assert.equal(cache().dvrEntriesById.get(payload.id)?.eventId, ev.id);
});

test('record what is on now on a channel given by number, and what is next by name', async () => {
  await dvrFlow({ action: 'record' }, {}, undefined, true);
  const ch = sim.channels[4];
  const nn = sim.getNowNext(ch.id);
  assert.ok(nn.now && nn.next);
  const now = await result<OutEntry>({ payload: { channel: String(ch.number) } });
  assert.equal(now.payload.eventId, nn.now.id);
  assert.ok(['upcoming', 'recording'].includes(now.payload.status), now.payload.status);
  assert.equal(sim.getDvrEntry(now.payload.id)?.eventId, nn.now.id);
  const next = await result<OutEntry>({ payload: { channel: ch.name, when: 'next' } });
  assert.equal(next.payload.eventId, nn.next.id);
  assert.equal(next.payload.status, 'upcoming');
});

test('record the first result of an EPG search, or the next programme with a title', async () => {
  await dvrFlow({ action: 'record' }, {}, undefined, true);
  const ev = futureEvent(1);
  // What the EPG node outputs: an array of events.
  const fromSearch = await result<OutEntry>({ payload: [{ eventId: ev.id, title: ev.title }, { eventId: 1 }] });
  assert.equal(fromSearch.payload.eventId, ev.id);

  const now = sim.now();
  const taken = recordedEventIds();
  const target = sim
    .getEvents()
    .filter((e) => e.stop > now && /tennis/i.test(e.title) && !taken.has(e.id))
    .sort((a, b) => a.start - b.start || a.id - b.id)[0];
  assert.ok(target, 'the simulator has a tennis programme');
  const byTitle = await result<OutEntry>({ payload: { title: 'tennis' } });
  assert.equal(byTitle.payload.eventId, target.id);
  assert.equal(sim.getDvrEntry(byTitle.payload.id)?.title, target.title);
});

test('a manual timer records a channel for a time window', async () => {
  await dvrFlow({ action: 'timer', channel: 'Sim News 24', channelType: 'str' });
  const start = sim.now() + 2 * 3600;
  const stop = start + 1800;
  const { payload } = await result<OutEntry>({
    payload: { start: new Date(start * 1000).toISOString(), stop: stop * 1000, title: 'Evening timer', description: 'set by a flow' },
  });
  const ch = sim.findChannel('Sim News 24');
  assert.ok(ch);
  assert.equal(payload.status, 'upcoming');
  assert.equal(payload.channel, ch.id);
  assert.equal(payload.start, start);
  assert.equal(payload.stop, stop);
  assert.equal(payload.title, 'Evening timer');
  assert.equal(payload.duration, 1800);
  const inSim = sim.getDvrEntry(payload.id);
  assert.equal(inSim?.channelId, ch.id);
  assert.equal(inSim?.start, start);
  assert.equal(inSim?.stop, stop);
  assert.equal(inSim?.eventId, undefined);
  assert.equal(inSim?.description, 'set by a flow');
});

test('lists by status follow the simulator clock: upcoming, recording, completed, failed', async () => {
  await dvrFlow();
  const ch = sim.channels[0].id;
  const t0 = sim.now();
  const ok = await result<OutEntry>({ payload: { action: 'timer', channel: ch, start: t0 + 60, stop: t0 + 180, title: 'Short one' } });
  const bad = await result<OutEntry>({ payload: { action: 'timer', channel: ch, start: t0 + 60, stop: t0 + 120, title: 'Doomed one' } });
  sim.failDvrEntry(bad.payload.id, 'No free adapter');

  const check = async (phase: string): Promise<Record<string, number[]>> => {
    await cacheCaughtUp();
    const lists: Record<string, number[]> = {};
    for (const state of ['upcoming', 'recording', 'completed', 'failed']) {
      const { payload } = await result<OutEntry[]>({ payload: { action: 'list', state } });
      assert.ok(payload.every((e) => e.status === state), `${phase}: only ${state}`);
      const expected = sim.dvrEntries
        .filter((e) => statusOf(e) === state)
        .sort((a, b) => a.start - b.start || a.id - b.id)
        .map((e) => e.id);
      assert.deepEqual(payload.map((e) => e.id), expected, `${phase}: ${state}`);
      lists[state] = expected;
    }
    const all = await result<OutEntry[]>({ payload: { action: 'list', state: 'all' } });
    assert.equal(all.payload.length, sim.dvrEntries.length, `${phase}: all`);
    return lists;
  };

  const before = await check('before');
  assert.ok(before.upcoming.includes(ok.payload.id) && before.upcoming.includes(bad.payload.id));
  assert.ok(before.failed.length >= 2, 'the simulator starts with an aborted and a missed recording');

  sim.advance(90);
  const during = await check('during');
  assert.ok(during.recording.includes(ok.payload.id));

  sim.advance(200);
  const after = await check('after');
  assert.ok(after.completed.includes(ok.payload.id));
  assert.ok(after.failed.includes(bad.payload.id));
  const failed = await result<OutEntry[]>({ payload: { action: 'list', state: 'failed' } });
  assert.equal(failed.payload.find((e) => e.id === bad.payload.id)?.error, 'No free adapter');
});

test('the node’s list setting is used when the message names no state', async () => {
  await dvrFlow({ action: 'list', list: 'completed' });
  await cacheCaughtUp();
  const { payload } = await result<OutEntry[]>({ payload: 1700000000000 });
  assert.deepEqual(
    payload.map((e) => e.id).sort(),
    sim.dvrEntries.filter((e) => statusOf(e) === 'completed').map((e) => e.id).sort(),
  );
});

test('stop a running recording: it completes without an error', async () => {
  await dvrFlow({ action: 'stop' });
  const running = sim.dvrEntries.find((e) => e.state === 'recording');
  assert.ok(running, 'the simulator has a running recording');
  const { payload } = await result<OutEntry>({ payload: running.id });
  assert.equal(payload.id, running.id);
  assert.equal(payload.status, 'completed');
  assert.equal(payload.state, 'completed');
  assert.equal(payload.error, undefined);
  assert.equal(sim.getDvrEntry(running.id)?.state, 'completed');
  assert.equal(sim.getDvrEntry(running.id)?.error, undefined);
});

test('cancel: a scheduled recording is removed, a running one is aborted and kept', async () => {
  await dvrFlow({ action: 'cancel' });
  const scheduled = sim.dvrEntries.find((e) => e.state === 'scheduled' && !e.autorecId && !e.timerecId);
  assert.ok(scheduled);
  const removed = await result<OutEntry>({ payload: { id: scheduled.id } });
  assert.equal(removed.payload.status, 'removed');
  assert.equal(removed.payload.title, scheduled.title);
  assert.equal(sim.getDvrEntry(scheduled.id), undefined);
  assert.equal(cache().dvrEntriesById.has(scheduled.id), false);

  const running = sim.dvrEntries.find((e) => e.state === 'recording');
  assert.ok(running);
  const aborted = await result<OutEntry>({ payload: { id: running.id } });
  assert.equal(aborted.payload.status, 'failed');
  assert.equal(aborted.payload.error, 'Aborted by user');
  assert.equal(sim.getDvrEntry(running.id)?.state, 'completed');
  assert.equal(sim.getDvrEntry(running.id)?.error, 'Aborted by user');
});

test('delete a finished recording, by the dvrId of an EPG event too', async () => {
  await dvrFlow({ action: 'delete' });
  const done = sim.dvrEntries.find((e) => e.state === 'completed' && !e.error);
  assert.ok(done);
  const { payload } = await result<OutEntry>({ payload: { id: done.id } });
  assert.equal(payload.status, 'removed');
  assert.equal(sim.getDvrEntry(done.id), undefined);
  await waitFor(() => !cache().dvrEntriesById.has(done.id), 'the cache to drop the entry');

  const fromEpg = sim.dvrEntries.find((e) => e.eventId !== undefined && e.state === 'scheduled');
  assert.ok(fromEpg);
  const second = await result<OutEntry>({ payload: { eventId: fromEpg.eventId, dvrId: fromEpg.id, title: 'an EPG event' } });
  assert.equal(second.payload.id, fromEpg.id);
  assert.equal(sim.getDvrEntry(fromEpg.id), undefined);
});

test('an unknown DVR id is refused by the server with code server', async () => {
  await dvrFlow({ action: 'stop' });
  const err = await failure({ payload: { id: 424242 } });
  assert.equal(err.code, 'server');
  assert.match(err.message, /not found/i);
});

test('autorec rules: created with the wire fields Tvheadend needs, the simulator schedules matches, deleted again', async () => {
  await dvrFlow();
  const requests: HtsmsgMap[] = [];
  sim.on('request', (r: { method?: string; message: HtsmsgMap }) => {
    if (r.method === 'addAutorecEntry') requests.push(r.message);
  });
  const sports = sim.channels.find((c) => c.genre === 'sports');
  assert.ok(sports);

  const { payload: rule } = await result<OutRule>({
    payload: { action: 'addAutorec', title: 'Match Day', channel: sports.name, minDuration: 600, name: 'Football' },
  });
  assert.equal(typeof rule.id, 'string');
  assert.equal(rule.title, 'Match Day');
  assert.equal(rule.name, 'Football');
  assert.equal(rule.channel, sports.id);
  assert.equal(rule.channelName, sports.name);
  assert.equal(rule.minDuration, 600);
  assert.equal(requests[0]?.channelId, sports.id);
  assert.equal(requests[0]?.minduration, 600, 'lower-case on the wire (G18)');
  assert.equal(requests[0]?.minDuration, undefined);

  const inSim = sim.getAutorecEntry(rule.id);
  assert.equal(inSim?.channelId, sports.id);
  assert.equal(inSim?.minDuration, 600);
  const made = sim.dvrEntries.filter((e) => e.autorecId === rule.id);
  assert.ok(made.length > 0, 'the simulator scheduled matching programmes');
  for (const e of made) {
    const ev = sim.getEvent(e.eventId ?? -1);
    assert.ok(ev && /match day/i.test(ev.title) && ev.channelId === sports.id && ev.stop - ev.start >= 600);
  }
  await waitFor(() => made.every((e) => cache().dvrEntriesById.get(e.id)?.autorecId === rule.id), 'the cache to have the new entries');

  const { payload: anyChannel } = await result<OutRule>({ payload: { action: 'addAutorec', title: '^Quiz Master$' } });
  assert.equal(requests[1]?.channelId, -1, 'any channel is sent as -1');
  assert.equal(anyChannel.channel, undefined);
  assert.equal(sim.getAutorecEntry(anyChannel.id)?.channelId, undefined);

  const { payload: rules } = await result<OutRule[]>({ payload: { action: 'listAutorec' } });
  assert.deepEqual(new Set(rules.map((r) => r.id)), new Set(sim.autorecEntries.map((r) => r.id)));

  const { payload: gone } = await result<OutRule>({ payload: { action: 'deleteAutorec', id: rule.id } });
  assert.equal(gone.id, rule.id);
  assert.equal(sim.getAutorecEntry(rule.id), undefined);
  assert.equal(sim.dvrEntries.filter((e) => e.autorecId === rule.id && e.state === 'scheduled').length, 0);
  assert.equal(cache().autorecEntriesById.has(rule.id), false);
});

type OutTimerec = Record<string, unknown> & { id: string; start: number; stop: number; startTime: string; stopTime: string; daysOfWeek: number; channel?: number };

/** The requests of `method` the simulator receives from now on. */
function requestsOf(method: string): HtsmsgMap[] {
  const seen: HtsmsgMap[] = [];
  sim.on('request', (r: { method?: string; message: HtsmsgMap }) => {
    if (r.method === method) seen.push(r.message);
  });
  return seen;
}

test('update a scheduled recording; an entry from the list comes back with one edit', async () => {
  await dvrFlow();
  const ch = sim.channels[1];
  const start = Math.floor(sim.now()) + 3 * 3600;
  const { payload: made } = await result<OutEntry>({ payload: { action: 'timer', channel: ch.id, start, stop: start + 1800, title: 'Plain' } });
  const updates = requestsOf('updateDvrEntry');
  const { payload } = await result<OutEntry>({
    payload: { action: 'update', id: made.id, title: 'Renamed', stop: new Date((start + 3600) * 1000).toISOString(), stopExtra: 15, priority: 1, comment: 'by a flow' },
  });
  assert.equal(payload.id, made.id);
  assert.equal(payload.status, 'upcoming');
  assert.equal(payload.title, 'Renamed');
  assert.equal(payload.stop, start + 3600);
  assert.equal(payload.duration, 3600);
  assert.equal(payload.stopExtra, 15);
  assert.equal(payload.priority, 1);
  assert.equal(payload.comment, 'by a flow');
  const inSim = sim.getDvrEntry(made.id);
  assert.equal(inSim?.title, 'Renamed');
  assert.equal(inSim?.stop, start + 3600);
  assert.equal(inSim?.stopExtra, 15);

  const { payload: listed } = await result<OutEntry[]>({ payload: { action: 'list', state: 'upcoming' } });
  const mine = listed.find((e) => e.id === made.id);
  assert.ok(mine, 'the list has the recording');
  const { payload: edited } = await result<OutEntry>({ payload: { ...mine, action: 'update', summary: 'Edited from the list' } });
  assert.equal(edited.summary, 'Edited from the list');
  assert.equal(edited.title, 'Renamed');
  assert.equal(sim.getDvrEntry(made.id)?.summary, 'Edited from the list');
  assert.equal(updates.length, 2);
  assert.equal(updates[1].summary, 'Edited from the list');
  for (const k of ['title', 'start', 'stop', 'channelId', 'priority', 'retention']) assert.equal(k in updates[1], false, `${k} kept its value: not sent`);
});

test('stop by channel, then all: arrays of the recordings stopped', async () => {
  await dvrFlow({ action: 'stop' });
  const now = sim.now();
  const ch = sim.channels[5];
  const live = [1, 2].map((i) => sim.addDvrEntry({ channelId: ch.id, start: now - 600, stop: now + 7200, title: `Live ${i}`, state: 'recording' }));
  await cacheCaughtUp();
  const elsewhere = sim.dvrEntries.filter((e) => e.state === 'recording' && e.channelId !== ch.id).map((e) => e.id);
  assert.ok(elsewhere.length > 0, 'the simulator records on another channel too');

  const byChannel = await result<OutEntry[]>({ payload: { channel: ch.name } });
  assert.deepEqual(byChannel.payload.map((e) => e.id).sort(), live.map((e) => e.id).sort());
  assert.ok(byChannel.payload.every((e) => e.status === 'completed' && e.error === undefined));
  assert.equal(byChannel.msg.failed, undefined);
  assert.ok(live.every((e) => sim.getDvrEntry(e.id)?.state === 'completed'));
  assert.ok(elsewhere.every((id) => sim.getDvrEntry(id)?.state === 'recording'), 'the other channel still records');

  const all = await result<OutEntry[]>({ payload: { all: true } });
  assert.deepEqual(all.payload.map((e) => e.id).sort(), [...elsewhere].sort());
  assert.equal(sim.dvrEntries.filter((e) => e.state === 'recording').length, 0);
  const none = await result<OutEntry[]>({ payload: { all: true } });
  assert.deepEqual(none.payload, [], 'nothing was running');
});

test('record now with EPG sync off: the node asks the server what is on', async () => {
  sim = (await startSim({ channels: 8, epgHours: 24, seed: 3 })).sim;
  freezeAwayFromBoundaries(sim);
  const nodes = singleNodeFlow(sim.port, { type: 'tvheadend-dvr', action: 'record' }, [], { epg: false, pingInterval: 0 });
  await load([serverModule, dvrModule], nodes);
  await ready();
  assert.equal(cache().eventsById.size, 0, 'premise: no EPG in the cache');
  const asked = requestsOf('getEvents');
  const ch = sim.channels[6];
  const running = sim.getNowNext(ch.id).now;
  assert.ok(running);
  const { payload } = await result<OutEntry>({ payload: { channel: ch.name } });
  assert.equal(payload.eventId, running.id);
  assert.equal(sim.getDvrEntry(payload.id)?.eventId, running.id);
  assert.deepEqual(
    asked.map((m) => [m.channelId, m.numFollowing]),
    [[ch.id, 3]],
  );
});

test('change an autorec rule: name and days by name, the channel kept; "any" widens it', async () => {
  await dvrFlow();
  const sports = sim.channels.find((c) => c.genre === 'sports');
  assert.ok(sports);
  const { payload: rule } = await result<OutRule>({ payload: { action: 'addAutorec', title: 'Match Day', channel: sports.name } });
  const updates = requestsOf('updateAutorecEntry');
  const { payload: changed } = await result<OutRule>({ payload: { action: 'updateAutorec', id: rule.id, name: 'Weekend football', daysOfWeek: 'sat, sun' } });
  assert.equal(changed.id, rule.id);
  assert.equal(changed.name, 'Weekend football');
  assert.equal(changed.daysOfWeek, 0x60);
  assert.equal(changed.channel, sports.id);
  assert.equal(changed.channelName, sports.name);
  assert.equal(updates[0]?.channelId, sports.id, 'the channel is sent again (G18)');
  assert.equal(sim.getAutorecEntry(rule.id)?.daysOfWeek, 0x60);
  assert.equal(sim.getAutorecEntry(rule.id)?.channelId, sports.id);

  const { payload: wide } = await result<OutRule>({ payload: { action: 'updateAutorec', id: rule.id, channel: 'any' } });
  assert.equal(wide.channel, undefined);
  assert.equal(updates[1]?.channelId, -1);
  assert.equal(sim.getAutorecEntry(rule.id)?.channelId, undefined);
});

test('time rules: created from times of day and day names on the node’s channel, listed, deleted', async () => {
  await dvrFlow({ channel: 'Sim News 24', channelType: 'str' }, { timerecEntries: [] });
  const ch = sim.findChannel('Sim News 24');
  assert.ok(ch);
  const { payload: rule } = await result<OutTimerec>({
    payload: { action: 'addTimerec', start: '06:30', stop: '07:15', daysOfWeek: 'weekdays', title: 'Morning %F', name: 'Morning news' },
  });
  assert.equal(typeof rule.id, 'string');
  assert.equal(rule.start, 6 * 60 + 30);
  assert.equal(rule.stop, 7 * 60 + 15);
  assert.equal(rule.startTime, '06:30');
  assert.equal(rule.stopTime, '07:15');
  assert.equal(rule.daysOfWeek, 0x1f);
  assert.equal(rule.channel, ch.id);
  assert.equal(rule.channelName, ch.name);
  assert.equal(rule.name, 'Morning news');
  const inSim = sim.getTimerecEntry(rule.id);
  assert.equal(inSim?.start, 390);
  assert.equal(inSim?.daysOfWeek, 0x1f);
  assert.equal(inSim?.channelId, ch.id);
  const made = sim.dvrEntries.filter((e) => e.timerecId === rule.id);
  assert.equal(made.length, 1, 'the simulator scheduled the next one');
  await waitFor(() => cache().dvrEntriesById.get(made[0].id)?.timerecId === rule.id, 'the cache to have the scheduled recording');

  const { payload: night } = await result<OutTimerec>({ payload: { action: 'addTimerec', channel: sim.channels[0].name, start: 1410, stop: 30, title: 'Night' } });
  assert.equal(night.stopTime, '00:30', 'past midnight');
  assert.equal(night.daysOfWeek, 0x7f, 'every day by default');

  const { payload: rules } = await result<OutTimerec[]>({ payload: { action: 'listTimerec' } });
  assert.deepEqual(new Set(rules.map((r) => r.id)), new Set([rule.id, night.id]));

  const { payload: gone } = await result<OutTimerec>({ payload: { action: 'deleteTimerec', id: rule.id } });
  assert.equal(gone.id, rule.id);
  assert.equal(sim.getTimerecEntry(rule.id), undefined);
  assert.equal(sim.dvrEntries.filter((e) => e.timerecId === rule.id && e.state === 'scheduled').length, 0);
  await waitFor(() => !cache().timerecEntriesById.has(rule.id), 'the cache to drop the rule');
});

test('a user without DVR rights gets code noaccess at the Catch node', async () => {
  await dvrFlow({}, { users: [...DEFAULT_USERS, { username: 'viewer', password: 'viewer', rights: { streaming: true } }] }, { [SERVER]: { username: 'viewer', password: 'viewer' } });
  assert.equal(serverOf().session.rights?.dvr, false);
  const before = sim.dvrEntries.length;
  for (const payload of [
    { action: 'record', channel: sim.channels[0].name },
    { action: 'list' },
    { action: 'addAutorec', title: 'x' },
    { action: 'addTimerec', channel: sim.channels[0].name, start: '20:00', stop: '21:00', title: 'x' },
    { action: 'stop', all: true },
  ]) {
    const err = await failure({ payload });
    assert.equal(err.code, 'noaccess', payload.action);
    assert.match(err.message, /no DVR rights/);
    assert.ok(err.statuses.some((s) => s.fill === 'red' && s.shape === 'ring'));
  }
  assert.equal(sim.dvrEntries.length, before);
});

test('bad input reaches the Catch node with code bad-input', async () => {
  await dvrFlow();
  const cases: Array<{ payload: unknown; message: RegExp }> = [
    { payload: { action: 'fly' }, message: /unknown action "fly"/ },
    { payload: {}, message: /no action/ },
    { payload: { action: 'record' }, message: /nothing to record/ },
    { payload: { action: 'record', eventId: 987654321 }, message: /unknown EPG event 987654321/ },
    { payload: { action: 'record', channel: 'Nope TV' }, message: /unknown channel "Nope TV"/ },
    { payload: { action: 'record', title: 'no programme is called this' }, message: /no programme/ },
    { payload: { action: 'record', channel: 1, when: 'later' }, message: /"now" or "next"/ },
    { payload: { action: 'timer', channel: sim.channels[0].name, start: 1000, stop: 2000, title: 'old' }, message: /ends in the past/ },
    { payload: { action: 'timer', channel: sim.channels[0].name, start: '2100-01-01T20:00:00Z', stop: '2100-01-01T19:00:00Z', title: 't' }, message: /stop must be after/ },
    { payload: { action: 'timer', channel: sim.channels[0].name, start: '2100-01-01T20:00:00Z', stop: '2100-01-01T21:00:00Z' }, message: /needs a title/ },
    { payload: { action: 'timer', start: '2100-01-01T20:00:00Z', stop: '2100-01-01T21:00:00Z', title: 't' }, message: /needs a channel/ },
    { payload: { action: 'stop' }, message: /no DVR entry/ },
    { payload: { action: 'cancel', id: -4 }, message: /whole number/ },
    { payload: { action: 'list', state: 'sometime' }, message: /state must be one of/ },
    { payload: { action: 'addAutorec', title: '(' }, message: /not a valid regular expression/ },
    { payload: { action: 'addAutorec', title: 'x', priority: 9 }, message: /priority/ },
    { payload: { action: 'deleteAutorec', id: 5 }, message: /no autorec rule/ },
    { payload: { action: 'update', title: 'x' }, message: /no DVR entry/ },
    { payload: { action: 'update', id: sim.dvrEntries[0].id }, message: /nothing to change/ },
    { payload: { action: 'update', id: sim.dvrEntries[0].id, priority: 5 }, message: /priority cannot be set to 5/ },
    { payload: { action: 'update', id: sim.dvrEntries[0].id, start: 'soon' }, message: /msg.payload.start is not a valid time/ },
    { payload: { action: 'stop', channel: 'Nope TV' }, message: /unknown channel "Nope TV"/ },
    { payload: { action: 'stop', all: 'yes' }, message: /msg.payload.all must be true or false/ },
    { payload: { action: 'updateAutorec', name: 'x' }, message: /no autorec rule/ },
    { payload: { action: 'updateAutorec', id: sim.autorecEntries[0].id, channel: 'Nope TV' }, message: /unknown channel "Nope TV"/ },
    { payload: { action: 'addTimerec', start: '20:00', stop: '21:00', title: 't' }, message: /time rule needs a channel/ },
    { payload: { action: 'addTimerec', channel: 1, start: '25:00', stop: '21:00', title: 't' }, message: /msg.payload.start must be a time of day/ },
    { payload: { action: 'addTimerec', channel: 1, start: '20:00', stop: '20:00', title: 't' }, message: /must differ/ },
    { payload: { action: 'addTimerec', channel: 1, start: '20:00', stop: '21:00' }, message: /time rule needs a title/ },
    { payload: { action: 'addTimerec', channel: 1, start: '20:00', stop: '21:00', title: 't', daysOfWeek: 'mon,funday' }, message: /"funday" is not a day/ },
    { payload: { action: 'addTimerec', channel: 1, start: '20:00', stop: '21:00', title: 't', stopExtra: 5 }, message: /no padding/ },
    { payload: { action: 'deleteTimerec', id: 5 }, message: /no time rule/ },
  ];
  const entries = sim.dvrEntries.length;
  const timerecs = sim.timerecEntries.length;
  const recording = sim.dvrEntries.filter((e) => e.state === 'recording').length;
  for (const c of cases) {
    const err = await failure({ payload: c.payload });
    assert.equal(err.code, 'bad-input', JSON.stringify(c.payload));
    assert.match(err.message, c.message, JSON.stringify(c.payload));
  }
  assert.equal(sim.dvrEntries.length, entries, 'nothing was created');
  assert.equal(sim.timerecEntries.length, timerecs, 'no time rule was created');
  assert.equal(sim.dvrEntries.filter((e) => e.state === 'recording').length, recording, 'nothing was stopped');
});

test('a recording whose file size is beyond 2^53 is listed as JSON-safe text', async () => {
  await dvrFlow();
  const huge = 2n ** 60n + 7n;
  const now = sim.now();
  const entry = sim.addDvrEntry({ channelIndex: 0, start: now - 3 * 3600, stop: now - 2 * 3600, title: 'Huge File' });
  // The simulator's file list has no `fsid`; its `size` goes over the wire the same way (s64).
  sim.updateDvrEntry(entry.id, { state: 'completed', files: [{ filename: '/recordings/huge.ts', start: now - 3 * 3600, stop: now - 2 * 3600, size: huge as unknown as number }] });
  const fileOf = (o: unknown): { filename?: string; size?: unknown } | undefined => (o as { files?: Array<{ filename?: string; size?: unknown }> } | undefined)?.files?.[0];
  await waitFor(() => fileOf(cache().dvrEntriesById.get(entry.id))?.filename === '/recordings/huge.ts', 'the new file in the cache');
  assert.equal(typeof fileOf(cache().dvrEntriesById.get(entry.id))?.size, 'bigint');
  const { payload } = await result<OutEntry[]>({ payload: { action: 'list', state: 'all' } });
  const listed = payload.find((e) => e.id === entry.id);
  assert.ok(listed, 'the entry is listed');
  assert.equal(fileOf(listed)?.size, String(huge));
  assert.doesNotThrow(() => JSON.stringify(payload));
});

test('an unknown saved action shows a red ring and refuses every message with code bad-input', async () => {
  sim = (await startSim({ channels: 8, epgHours: 24, seed: 3 })).sim;
  const nodes = singleNodeFlow(sim.port, { type: 'tvheadend-dvr', action: 'erase' }, [], { epg: true, epgDays: 0, pingInterval: 0 });
  await load([serverModule, dvrModule], nodes);
  await ready();
  // The test helper spies on Node#status; the spy keeps the arguments of every call.
  const shown = (): NodeStatus[] => (helper.getNode(UNDER_TEST) as unknown as { status: { args: NodeStatus[][] } }).status.args.map((a) => a[0]);
  await waitFor(() => shown().at(-1)?.text === 'unknown action "erase"', 'the error status to outlast the session status');
  const entries = sim.dvrEntries.length;
  const err = await failure({ payload: { eventId: futureEvent(1).id } });
  assert.equal(err.code, 'bad-input');
  assert.match(err.message, /action "erase" is unknown; choose one of record, .*list/);
  assert.ok(err.statuses.some((s) => s.fill === 'red'), 'a red ring');
  assert.equal(sim.dvrEntries.length, entries, 'nothing was recorded');
  assert.equal(shown().every((s) => s.fill === 'red'), true, 'never shown as connected');
});

test('days of the week: a lone number is the mask, numbers in a list are days', () => {
  assert.equal(parseDays(6, 'd'), 0b0000110, 'Tuesday and Wednesday');
  assert.equal(parseDays('6', 'd'), 0b0000110);
  assert.equal(parseDays([6, 7], 'd'), 0b1100000, 'Saturday and Sunday');
  assert.equal(parseDays('6,7', 'd'), 0b1100000);
  assert.equal(parseDays('mon, 3 fri', 'd'), 0b0010101);
  assert.equal(parseDays('weekdays', 'd'), 0b0011111);
  assert.throws(() => parseDays('8,9', 'd'), /not a day/);
  assert.throws(() => parseDays(128, 'd'), /bit 0 = Monday/);
});
