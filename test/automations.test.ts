import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';

import type { HtsmsgMap } from '../src/htsp/codec';
import { MetadataCache, type ChangeEvent } from '../src/htsp/cache';
import { HtspSession } from '../src/htsp/session';
import { TvheadendSimulator, type SimOptions } from '../src/sim';
import {
  AutomationEvents,
  type AutomationCache,
  type AutomationEventMap,
  type AutomationOptions,
  type AutomationSession,
} from '../src/htsp/automations';

// The real cache is what the session hands over; the automations must accept it as it is.
const cacheFits: (c: MetadataCache) => AutomationCache = (c) => c;
void cacheFits;

// ---------------------------------------------------------------------------------------------
// A session made of the real metadata cache fed by hand: messages in, change events out.

class FakeSession extends EventEmitter implements AutomationSession {
  state = 'connecting';
  readonly cache: MetadataCache;
  constructor(readonly clock: { ms: number }) {
    super();
    this.cache = new MetadataCache({ now: () => Math.floor(clock.ms / 1000) });
    this.cache.on('change', (c: ChangeEvent) => this.emit('change', c));
  }
  send(...msgs: HtsmsgMap[]): void {
    for (const m of msgs) this.cache.apply(m);
  }
  /** A full sync as after (re)connecting: everything is re-sent, then initialSyncCompleted. */
  sync(msgs: HtsmsgMap[]): void {
    this.state = 'syncing';
    this.cache.beginResync();
    this.send(...msgs, { method: 'initialSyncCompleted' });
    this.state = 'ready';
  }
}

type Log = { [K in keyof AutomationEventMap]: AutomationEventMap[K][0][] };

interface Harness {
  session: FakeSession;
  auto: AutomationEvents;
  log: Log;
  clock: { ms: number };
  names(): string[];
  clear(): void;
}

const T0 = 1_700_000_000; // epoch seconds, "now" at the beginning of every test

function harness(t: TestContext, opts: AutomationOptions = {}, start = true): Harness {
  const keepAlive = setInterval(() => undefined, 1000);
  const clock = { ms: T0 * 1000 };
  const session = new FakeSession(clock);
  const auto = new AutomationEvents(session, { now: () => clock.ms, ...opts });
  const log: Log = { recordingStarted: [], recordingFinished: [], recordingFailed: [], nowPlaying: [], reminder: [] };
  const order: string[] = [];
  for (const name of Object.keys(log) as (keyof AutomationEventMap)[]) {
    auto.on(name, (ev: unknown) => {
      (log[name] as unknown[]).push(ev);
      order.push(name);
    });
  }
  if (start) auto.start();
  t.after(() => {
    auto.stop();
    clearInterval(keepAlive);
  });
  return {
    session,
    auto,
    log,
    clock,
    names: () => [...order],
    clear: () => {
      order.length = 0;
      for (const k of Object.keys(log) as (keyof Log)[]) log[k].length = 0;
    },
  };
}

const channel = (channelId: number, name: string, eventId = 0, nextEventId = 0): HtsmsgMap => ({
  method: 'channelAdd',
  channelId,
  channelNumber: channelId,
  channelName: name,
  eventId,
  nextEventId,
  services: [],
  tags: [],
});

const dvr = (id: number, state: string, extra: HtsmsgMap = {}, method = 'dvrEntryAdd'): HtsmsgMap => ({
  method,
  id,
  enabled: 1,
  channel: 1,
  start: T0 + 600,
  stop: T0 + 4200,
  startExtra: 0,
  stopExtra: 0,
  retention: 31,
  removal: 31,
  priority: 2,
  contentType: 1,
  title: `Recording ${id}`,
  state,
  ...extra,
});

const epg = (eventId: number, channelId: number, start: number, stop: number, title: string, extra: HtsmsgMap = {}): HtsmsgMap => ({
  method: 'eventAdd',
  eventId,
  channelId,
  start,
  stop,
  title,
  ...extra,
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

// ---------------------------------------------------------------------------------------------

describe('recordings', () => {
  test('the first sync reports nothing for entries already recording (or, with emitInitial, marks them initial)', (t) => {
    for (const emitInitial of [false, true]) {
      const h = harness(t, { emitInitial });
      h.session.sync([channel(1, 'News 24'), dvr(10, 'recording'), dvr(11, 'completed'), dvr(12, 'scheduled'), dvr(13, 'missed')]);
      if (!emitInitial) {
        assert.deepEqual(h.names(), []);
      } else {
        assert.deepEqual(h.names(), ['recordingStarted']);
        assert.equal(h.log.recordingStarted[0].initial, true);
        assert.equal(h.log.recordingStarted[0].id, 10);
      }
    }
  });

  test('scheduled → recording → completed: started, then finished, each once', (t) => {
    const h = harness(t);
    h.session.sync([channel(1, 'News 24'), dvr(10, 'scheduled')]);
    h.session.send(dvr(10, 'recording', {}, 'dvrEntryUpdate'));
    assert.deepEqual(h.names(), ['recordingStarted']);
    const started = h.log.recordingStarted[0];
    assert.equal(started.id, 10);
    assert.equal(started.previousState, 'scheduled');
    assert.equal(started.state, 'recording');
    assert.equal(started.channelName, 'News 24', 'taken from the cached channel when the entry has none');
    assert.equal(started.title, 'Recording 10');
    assert.equal(started.initial, false);
    assert.equal(started.resync, false);

    // Stats-only updates while recording.
    h.session.send({ method: 'dvrEntryUpdate', id: 10, state: 'recording', dataSize: 1000 });
    h.session.send({ method: 'dvrEntryUpdate', id: 10, state: 'recording', dataSize: 2000 });
    assert.equal(h.names().length, 1);

    h.session.send(dvr(10, 'completed', { channelName: 'News 24 HD', dataSize: 3000 }, 'dvrEntryUpdate'));
    assert.deepEqual(h.names(), ['recordingStarted', 'recordingFinished']);
    const fin = h.log.recordingFinished[0];
    assert.equal(fin.previousState, 'recording');
    assert.equal(fin.channelName, 'News 24 HD', "the entry's own channel name wins");
    assert.equal(fin.entry.dataSize, 3000);

    h.session.send({ method: 'dvrEntryUpdate', id: 10, playcount: 1 });
    assert.equal(h.names().length, 2, 'later edits of a completed entry are not transitions');
  });

  test('an instant recording (live add in state recording) starts', (t) => {
    const h = harness(t);
    h.session.sync([channel(1, 'News 24')]);
    h.session.send(dvr(20, 'recording'));
    assert.deepEqual(h.names(), ['recordingStarted']);
    assert.equal(h.log.recordingStarted[0].previousState, undefined);
  });

  test('completed with an error, and missed, are failures with the error text', (t) => {
    const h = harness(t);
    h.session.sync([channel(1, 'News 24'), dvr(10, 'recording'), dvr(11, 'scheduled'), dvr(12, 'scheduled')]);
    h.session.send(dvr(10, 'completed', { error: 'Aborted by user' }, 'dvrEntryUpdate'));
    h.session.send(dvr(11, 'missed', {}, 'dvrEntryUpdate'));
    h.session.send(dvr(12, 'missed', { error: 'Time missed' }, 'dvrEntryUpdate'));
    assert.deepEqual(h.names(), ['recordingFailed', 'recordingFailed', 'recordingFailed']);
    const [a, b, c] = h.log.recordingFailed;
    assert.equal(a.id, 10);
    assert.equal(a.cause, 'completed-with-error');
    assert.equal(a.error, 'Aborted by user');
    assert.equal(b.cause, 'missed');
    assert.equal(b.error, 'missed');
    assert.equal(c.error, 'Time missed');
    assert.equal(h.log.recordingFinished.length, 0);
  });

  test('an error appearing while recording fails once; the completion with that error does not fail again', (t) => {
    const h = harness(t);
    h.session.sync([channel(1, 'News 24'), dvr(10, 'scheduled')]);
    h.session.send(dvr(10, 'recording', {}, 'dvrEntryUpdate'));
    h.session.send({ method: 'dvrEntryUpdate', id: 10, state: 'recording', error: 'No signal', subscriptionError: 'badSignal' });
    h.session.send({ method: 'dvrEntryUpdate', id: 10, state: 'recording', error: 'No signal', subscriptionError: 'badSignal', dataSize: 10 });
    assert.deepEqual(h.names(), ['recordingStarted', 'recordingFailed']);
    const f = h.log.recordingFailed[0];
    assert.equal(f.cause, 'error-while-recording');
    assert.equal(f.error, 'No signal');
    assert.equal(f.subscriptionError, 'badSignal');
    assert.equal(f.state, 'recording');

    h.session.send(dvr(10, 'completed', { error: 'No signal', subscriptionError: 'badSignal' }, 'dvrEntryUpdate'));
    assert.deepEqual(h.names(), ['recordingStarted', 'recordingFailed']);

    // A different error at the end is news.
    h.session.send(dvr(11, 'recording'));
    h.session.send({ method: 'dvrEntryUpdate', id: 11, state: 'recording', subscriptionError: 'tuningFailed' });
    h.session.send(dvr(11, 'completed', { error: 'File missing', subscriptionError: 'tuningFailed' }, 'dvrEntryUpdate'));
    assert.deepEqual(h.log.recordingFailed.map((e) => `${e.id}:${e.cause}:${e.error}`), [
      '10:error-while-recording:No signal',
      '11:error-while-recording:tuningFailed',
      '11:completed-with-error:File missing',
    ]);
  });

  test('after a reconnect: what happened offline is reported once, flagged resync', (t) => {
    const h = harness(t);
    const before = [
      channel(1, 'News 24'),
      dvr(10, 'recording'),
      dvr(11, 'scheduled'),
      dvr(12, 'recording'),
      dvr(13, 'completed'),
      dvr(14, 'scheduled'),
    ];
    h.session.sync(before);
    h.session.state = 'disconnected';
    assert.deepEqual(h.names(), []);

    h.session.sync([
      channel(1, 'News 24'),
      dvr(10, 'completed', { dataSize: 5 }), // finished while offline
      dvr(11, 'completed', { dataSize: 5 }), // started and finished while offline
      dvr(12, 'completed', { error: 'No free adapter' }), // failed while offline
      dvr(13, 'completed'), // unchanged
      // 14 deleted while offline
      dvr(15, 'recording'), // created and started while offline
    ]);
    const got = [
      ...h.log.recordingStarted.map((e) => `started:${e.id}:${e.resync}`),
      ...h.log.recordingFinished.map((e) => `finished:${e.id}:${e.resync}`),
      ...h.log.recordingFailed.map((e) => `failed:${e.id}:${e.resync}:${e.error}`),
    ].sort();
    assert.deepEqual(got, [
      'failed:12:true:No free adapter',
      'finished:10:true',
      'finished:11:true',
      'started:15:true',
    ]);

    // The same state re-sent on the next reconnect is not news.
    h.clear();
    h.session.sync([channel(1, 'News 24'), dvr(10, 'completed', { dataSize: 5 }), dvr(11, 'completed', { dataSize: 5 }), dvr(15, 'recording')]);
    assert.deepEqual(h.names(), []);
  });
});

// ---------------------------------------------------------------------------------------------

describe('now playing', () => {
  const schedule = (): HtsmsgMap[] => [
    channel(1, 'News 24', 101, 102),
    epg(101, 1, T0 - 600, T0 + 600, 'Morning News', { nextEventId: 102 }),
    epg(102, 1, T0 + 600, T0 + 1800, 'Weather', { nextEventId: 103 }),
    epg(103, 1, T0 + 1800, T0 + 3600, 'Sports'),
  ];

  test('the first sync is not a change; the EPG rolling over is, with now/next resolved', (t) => {
    const h = harness(t);
    h.session.sync(schedule());
    assert.deepEqual(h.names(), []);

    h.session.send({ method: 'channelUpdate', channelId: 1, eventId: 102, nextEventId: 103 });
    assert.deepEqual(h.names(), ['nowPlaying']);
    const np = h.log.nowPlaying[0];
    assert.equal(np.channelId, 1);
    assert.equal(np.channelName, 'News 24');
    assert.equal(np.eventId, 102);
    assert.equal(np.now?.title, 'Weather');
    assert.equal(np.now?.start, T0 + 600);
    assert.equal(np.next?.title, 'Sports');
    assert.equal(np.previousEventId, 101);
    assert.equal(np.previous?.title, 'Morning News');
    assert.equal(np.resync, false);

    // Only nextEventId moving is not a new programme.
    h.session.send({ method: 'channelUpdate', channelId: 1, eventId: 102, nextEventId: 0 });
    assert.equal(h.log.nowPlaying.length, 1);

    // Nothing on air.
    h.session.send({ method: 'channelUpdate', channelId: 1, eventId: 0, nextEventId: 0 });
    assert.equal(h.log.nowPlaying.length, 2);
    assert.equal(h.log.nowPlaying[1].eventId, 0);
    assert.equal(h.log.nowPlaying[1].now, undefined);
  });

  test('waits for an event the cache does not hold yet, then resolves it', async (t) => {
    const h = harness(t, { nowPlayingWaitMs: 5000 });
    h.session.sync(schedule());
    h.session.send({ method: 'channelUpdate', channelId: 1, eventId: 104, nextEventId: 0 });
    assert.equal(h.log.nowPlaying.length, 0, 'held back until the EPG event arrives');
    h.session.send(epg(104, 1, T0 + 3600, T0 + 5400, 'Late Movie'));
    assert.equal(h.log.nowPlaying.length, 1);
    assert.equal(h.log.nowPlaying[0].now?.title, 'Late Movie');
    assert.equal(h.log.nowPlaying[0].previousEventId, 101);
    await sleep(20);
    assert.equal(h.log.nowPlaying.length, 1);
  });

  test('emits without `now` when the event never comes', async (t) => {
    const h = harness(t, { nowPlayingWaitMs: 30 });
    h.session.sync(schedule());
    h.session.send({ method: 'channelUpdate', channelId: 1, eventId: 999, nextEventId: 0 });
    assert.equal(h.log.nowPlaying.length, 0);
    const [np] = (await once(h.auto, 'nowPlaying')) as [AutomationEventMap['nowPlaying'][0]];
    assert.equal(np.eventId, 999);
    assert.equal(np.now, undefined);
  });

  test('a change found by the reconnect reconciliation is reported with resync', (t) => {
    const h = harness(t);
    h.session.sync(schedule());
    h.session.sync([
      channel(1, 'News 24', 103, 0),
      epg(102, 1, T0 + 600, T0 + 1800, 'Weather', { nextEventId: 103 }),
      epg(103, 1, T0 + 1800, T0 + 3600, 'Sports'),
    ]);
    assert.deepEqual(h.names(), ['nowPlaying']);
    assert.equal(h.log.nowPlaying[0].resync, true);
    assert.equal(h.log.nowPlaying[0].now?.title, 'Sports');
  });

  test('nowPlaying: false turns it off', (t) => {
    const h = harness(t, { nowPlaying: false });
    h.session.sync(schedule());
    h.session.send({ method: 'channelUpdate', channelId: 1, eventId: 102, nextEventId: 103 });
    assert.equal(h.log.nowPlaying.length, 0);
  });
});

// ---------------------------------------------------------------------------------------------

describe('reminders', () => {
  const base = (): HtsmsgMap[] => [channel(1, 'News 24'), channel(2, 'Movies'), channel(3, 'Sport')];

  test('fires once at start − lead for matching events only (title, channel, genre)', (t) => {
    const h = harness(t, {
      reminders: [
        { name: 'news', title: 'news', channelIds: [1], leadMinutes: 5 },
        { name: 'films', title: /^film/gi, leadMinutes: 10 },
        { name: 'football', contentTypes: [0x43], leadMinutes: 1 },
        { name: 'any movie genre', contentTypes: [1], channelIds: [3], leadMinutes: 2 },
      ],
    });
    h.session.sync([
      ...base(),
      epg(1, 1, T0 + 3600, T0 + 4000, 'Evening NEWS'),
      epg(2, 2, T0 + 3600, T0 + 4000, 'News on the wrong channel'),
      epg(3, 2, T0 + 7200, T0 + 9000, 'Film: Something'),
      epg(4, 2, T0 + 7300, T0 + 9000, 'Another film'),
      epg(5, 3, T0 + 1800, T0 + 3600, 'Cup final', { contentType: 0x43 }),
      epg(6, 3, T0 + 1800, T0 + 3600, 'Tennis', { contentType: 0x44 }),
      epg(7, 3, T0 + 5000, T0 + 6000, 'Drama', { contentType: 0x15 }),
      epg(8, 2, T0 + 5000, T0 + 6000, 'Drama elsewhere', { contentType: 0x15 }),
    ]);
    assert.equal(h.auto.pendingReminders, 4);

    const fireAt = (sec: number): string[] => {
      h.clock.ms = sec * 1000;
      h.auto.check();
      return h.log.reminder.splice(0).map((r) => `${r.eventId}:${r.leadMinutes}:${r.ruleName}`);
    };
    assert.deepEqual(fireAt(T0 + 1800 - 61), []);
    assert.deepEqual(fireAt(T0 + 1800 - 60), ['5:1:football']);
    assert.deepEqual(fireAt(T0 + 1800 - 30), [], 'once only');
    assert.deepEqual(fireAt(T0 + 3600 - 301), []);
    assert.deepEqual(fireAt(T0 + 3600 - 300), ['1:5:news']);
    assert.deepEqual(fireAt(T0 + 5000 - 120), ['7:2:any movie genre']);
    assert.deepEqual(fireAt(T0 + 7200 - 600), ['3:10:films']);
    assert.deepEqual(fireAt(T0 + 7200 - 599), []);
    assert.equal(h.auto.pendingReminders, 0);
  });

  test('payload: event, channel name, time to start; several leads give several reminders', (t) => {
    const h = harness(t, { reminders: [{ title: 'Match', leadMinutes: [15, 5] }] });
    h.session.sync([...base(), epg(50, 3, T0 + 3600, T0 + 7200, 'Match of the Day', { contentType: 0x43, subtitle: 'Highlights' })]);
    h.clock.ms = (T0 + 3600 - 900) * 1000;
    h.auto.check();
    h.clock.ms = (T0 + 3600 - 300) * 1000;
    h.auto.check();
    assert.equal(h.log.reminder.length, 2);
    const [a, b] = h.log.reminder;
    assert.equal(a.key, '50:15');
    assert.equal(a.leadMinutes, 15);
    assert.equal(a.startsInSeconds, 900);
    assert.equal(a.late, false);
    assert.equal(a.title, 'Match of the Day');
    assert.equal(a.event.subtitle, 'Highlights');
    assert.equal(a.channelId, 3);
    assert.equal(a.channelName, 'Sport');
    assert.equal(a.start, T0 + 3600);
    assert.equal(a.stop, T0 + 7200);
    assert.equal(b.key, '50:5');
    assert.equal(b.startsInSeconds, 300);
  });

  test('found late: fires at once (late) while the event has not started; never for started events', (t) => {
    const h = harness(t, { reminders: [{ title: 'Show', leadMinutes: 10 }] }, false);
    h.session.sync([
      ...base(),
      epg(60, 1, T0 + 120, T0 + 1000, 'Show soon'),
      epg(61, 1, T0 - 60, T0 + 1000, 'Show running'),
    ]);
    h.auto.start();
    assert.equal(h.log.reminder.length, 1);
    assert.equal(h.log.reminder[0].eventId, 60);
    assert.equal(h.log.reminder[0].late, true);
    assert.equal(h.log.reminder[0].startsInSeconds, 120);
  });

  test('reconnects, re-sent and edited events do not repeat a reminder', async (t) => {
    const h = harness(t, { reminders: [{ title: 'news', leadMinutes: 5 }] });
    const ev = epg(70, 1, T0 + 600, T0 + 1200, 'News');
    h.session.sync([...base(), ev]);
    h.clock.ms = (T0 + 300) * 1000;
    h.auto.check();
    assert.equal(h.log.reminder.length, 1);

    h.session.sync([...base(), ev]); // identical: the cache reports nothing
    h.session.sync([...base(), { ...ev, title: 'News extended', stop: T0 + 1500 }]); // an edit
    await tick();
    h.auto.check();
    h.session.send({ method: 'eventDelete', eventId: 70 });
    h.session.send({ ...ev, method: 'eventAdd' }); // gone and back
    await tick();
    h.clock.ms = (T0 + 400) * 1000;
    h.auto.check();
    assert.equal(h.log.reminder.length, 1);

    // Also across stop()/start() of the automations.
    h.auto.stop();
    h.auto.start();
    assert.equal(h.log.reminder.length, 1);
  });

  test('a new instance seeded with firedReminders() does not remind again; expired or malformed entries are dropped', (t) => {
    const first = harness(t, { reminders: [{ title: 'news', leadMinutes: 5 }] });
    const ev = epg(75, 1, T0 + 600, T0 + 1200, 'News');
    first.session.sync([...base(), ev]);
    first.clock.ms = (T0 + 300) * 1000;
    first.auto.check();
    assert.equal(first.log.reminder.length, 1);
    const kept = first.auto.firedReminders();
    assert.deepEqual(kept.map(([key]) => key), ['75:5']);
    assert.ok(kept[0][1] > (T0 + 1200) * 1000, 'remembered beyond the end of the programme');

    const seeded = [...kept, ['old:5', T0 * 1000 - 1], 'garbage', [1, 2]] as unknown as Array<[string, number]>;
    const second = harness(t, { reminders: [{ title: 'news', leadMinutes: 5 }], firedReminders: seeded }, false);
    second.clock.ms = (T0 + 310) * 1000;
    second.session.sync([...base(), ev]);
    second.auto.start();
    second.auto.check();
    assert.equal(second.log.reminder.length, 0, 'already announced by the first instance');
    assert.deepEqual(second.auto.firedReminders().map(([key]) => key), ['75:5']);

    // Unseeded, the same situation does remind (the premise of the check above).
    const third = harness(t, { reminders: [{ title: 'news', leadMinutes: 5 }] }, false);
    third.clock.ms = (T0 + 310) * 1000;
    third.session.sync([...base(), ev]);
    third.auto.start();
    assert.equal(third.log.reminder.length, 1);
  });

  test('an event moved later is reminded at its new time', async (t) => {
    const h = harness(t, { reminders: [{ title: 'news', leadMinutes: 5 }] });
    h.session.sync([...base(), epg(80, 1, T0 + 600, T0 + 1200, 'News')]);
    h.session.send({ method: 'eventUpdate', eventId: 80, channelId: 1, start: T0 + 1200, stop: T0 + 1800, title: 'News' });
    await tick();
    h.clock.ms = (T0 + 300) * 1000;
    h.auto.check();
    assert.equal(h.log.reminder.length, 0);
    h.clock.ms = (T0 + 900) * 1000;
    h.auto.check();
    assert.equal(h.log.reminder.length, 1);
    assert.equal(h.log.reminder[0].startsInSeconds, 300);
  });

  test('fires from its own timer, with no one calling check()', async (t) => {
    // A clock a few ms before the reminder is due; the timer must do the rest.
    const realStart = Date.now();
    const startSec = T0 + 3600;
    const dueMs = (startSec - 300) * 1000;
    const clock0 = dueMs - 80;
    const h = harness(t, { reminders: [{ title: 'news', leadMinutes: 5 }], now: () => clock0 + (Date.now() - realStart) });
    const fired = once(h.auto, 'reminder');
    h.session.sync([...base(), epg(90, 1, startSec, startSec + 600, 'News')]);
    const guard = setTimeout(() => h.auto.emit('reminder', undefined as never), 3000);
    const [r] = (await fired) as [AutomationEventMap['reminder'][0] | undefined];
    clearTimeout(guard);
    assert.ok(r, 'the reminder timer did not fire within 3 s');
    assert.equal(r.eventId, 90);
    assert.equal(r.late, false);
  });

  test('thousands of matching events: one timer, not one per event', async (t) => {
    const h = harness(t, { reminders: [{ channelIds: [1], leadMinutes: 5 }] });
    const spy = t.mock.method(globalThis, 'setTimeout');
    const msgs: HtsmsgMap[] = [...base()];
    for (let i = 0; i < 5000; i++) msgs.push(epg(1000 + i, 1, T0 + 3600 + i * 60, T0 + 3660 + i * 60, `Programme ${i}`));
    h.session.sync(msgs);
    await tick();
    await tick();
    assert.equal(h.auto.pendingReminders, 5000);
    assert.ok(spy.mock.callCount() <= 2, `${spy.mock.callCount()} timers for 5000 events`);
    spy.mock.restore();

    h.clock.ms = (T0 + 3600 + 60 - 300) * 1000;
    h.auto.check();
    assert.deepEqual(h.log.reminder.map((r) => r.eventId), [1000, 1001]);
  });

  test('setReminders() at runtime; stop() silences everything', (t) => {
    const h = harness(t);
    h.session.sync([...base(), epg(95, 2, T0 + 600, T0 + 1200, 'Film night')]);
    assert.equal(h.auto.pendingReminders, 0);
    h.auto.setReminders([{ title: 'film', leadMinutes: 5 }]);
    assert.equal(h.auto.pendingReminders, 1);
    h.auto.stop();
    assert.equal(h.session.listenerCount('change'), 0);
    h.clock.ms = (T0 + 400) * 1000;
    h.auto.check();
    assert.equal(h.log.reminder.length, 0);
    assert.throws(() => h.auto.setReminders([{ title: 'x', leadMinutes: -1 }]), RangeError);
  });
});

// ---------------------------------------------------------------------------------------------
// Against the simulator: the session's own cache fed over real HTSP, the simulator's clock moved by hand.

interface Live {
  sim: TvheadendSimulator;
  session: HtspSession;
  auto: AutomationEvents;
  log: Log;
}

async function live(t: TestContext, opts: AutomationOptions = {}, simOpts: SimOptions = {}): Promise<Live> {
  const sim = new TvheadendSimulator({ port: 0, speed: 0, dvrEntries: [], autorecEntries: [], timerecEntries: [], ...simOpts });
  await sim.start();
  const session = new HtspSession({
    host: '127.0.0.1',
    port: sim.port,
    username: 'demo',
    password: 'demo',
    pingIntervalMs: 0,
    reconnect: { initialDelayMs: 20, maxDelayMs: 200, jitter: 0 },
  });
  const auto = new AutomationEvents(session, { now: () => sim.nowExact() * 1000, ...opts });
  const log: Log = { recordingStarted: [], recordingFinished: [], recordingFailed: [], nowPlaying: [], reminder: [] };
  for (const name of Object.keys(log) as (keyof AutomationEventMap)[]) {
    auto.on(name, (ev: unknown) => (log[name] as unknown[]).push(ev));
  }
  t.after(async () => {
    auto.stop();
    await session.stop();
    await sim.stop();
  });
  auto.start();
  session.start();
  await once(session, 'ready');
  return { sim, session, auto, log };
}

/** Polls `cond` until it holds (the simulator's messages need a moment to arrive). */
async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('automations against the simulator', () => {
  test('a recording scheduled → recording → completed: started, then finished', async (t) => {
    const { sim, session, log } = await live(t);
    const ch = sim.channels[1];
    const now = sim.now();
    const e = sim.addDvrEntry({ channelId: ch.id, start: now + 60, stop: now + 120, title: 'Sim recording' });
    await until(() => session.cache.get('dvrEntry', e.id) !== undefined, 'the new entry');
    assert.equal(log.recordingStarted.length, 0, 'scheduling is not starting');

    sim.advance(60);
    await until(() => log.recordingStarted.length > 0, 'recordingStarted');
    assert.equal(log.recordingStarted[0].id, e.id);
    assert.equal(log.recordingStarted[0].channelName, ch.name);
    assert.equal(log.recordingStarted[0].previousState, 'scheduled');

    sim.advance(61);
    await until(() => log.recordingFinished.length > 0, 'recordingFinished');
    assert.equal(log.recordingFinished[0].id, e.id);
    assert.equal(log.recordingFinished[0].title, 'Sim recording');
    await sleep(50);
    assert.equal(log.recordingStarted.length, 1);
    assert.equal(log.recordingFinished.length, 1);
    assert.equal(log.recordingFailed.length, 0);
  });

  test('failures: aborted while recording, and missed', async (t) => {
    const { sim, log } = await live(t);
    const ch = sim.channels[0];
    const now = sim.now();
    const a = sim.addDvrEntry({ channelId: ch.id, start: now + 10, stop: now + 600, title: 'Will abort' });
    const b = sim.addDvrEntry({ channelId: ch.id, start: now + 3600, stop: now + 4000, title: 'Will be missed' });
    sim.advance(10);
    await until(() => log.recordingStarted.some((r) => r.id === a.id), 'start of a');
    sim.failDvrEntry(a.id, 'Aborted by user');
    sim.missDvrEntry(b.id);
    await until(() => log.recordingFailed.length >= 2, 'two failures');
    const byId = new Map(log.recordingFailed.map((f) => [f.id, f]));
    assert.equal(byId.get(a.id)?.cause, 'completed-with-error');
    assert.equal(byId.get(a.id)?.error, 'Aborted by user');
    assert.equal(byId.get(b.id)?.cause, 'missed');
    assert.equal(log.recordingFinished.length, 0);
  });

  test('a recording that finished while we were offline: finished once, flagged resync', async (t) => {
    const { sim, session, log } = await live(t);
    const now = sim.now();
    const e = sim.addDvrEntry({ channelId: sim.channels[0].id, start: now + 10, stop: now + 100, title: 'Offline finish' });
    sim.advance(10);
    await until(() => log.recordingStarted.length === 1, 'start');
    sim.dropConnections();
    sim.advance(100); // finishes before the session is back
    await until(() => session.state !== 'ready', 'the disconnect');
    await once(session, 'ready');
    await until(() => log.recordingFinished.length === 1, 'finished after the resync');
    assert.equal(log.recordingFinished[0].id, e.id);
    assert.equal(log.recordingFinished[0].resync, true);
    await sleep(50);
    assert.equal(log.recordingFinished.length, 1);
    assert.equal(log.recordingStarted.length, 1);
  });

  test('now playing follows the EPG rolling over', async (t) => {
    const { sim, log } = await live(t);
    const ch = sim.channels[0];
    const { now, next } = sim.getNowNext(ch.id);
    assert.ok(now && next, 'the simulator has now/next');
    sim.advance(now.stop - sim.now());
    await until(() => log.nowPlaying.some((p) => p.channelId === ch.id), 'nowPlaying');
    const np = log.nowPlaying.find((p) => p.channelId === ch.id);
    assert.ok(np);
    assert.equal(np.eventId, next.id);
    assert.equal(np.now?.title, next.title);
    assert.equal(np.now?.start, next.start);
    assert.equal(np.previousEventId, now.id);
    assert.equal(np.channelName, ch.name);
    const after = sim.getNowNext(ch.id).next;
    if (after) assert.equal(np.next?.eventId, after.id);
  });

  test('a reminder fires N minutes before the start', async (t) => {
    const { sim, auto, log } = await live(t, { recheckMs: 20 });
    const ch0 = sim.channels[0];
    // The first programme that starts more than 5 minutes from now, whatever the time of day.
    const ev = sim.getEvents(ch0.id).find((e) => e.start - 300 > sim.now() + 10);
    assert.ok(ev);
    auto.setReminders([{ name: 'target', title: ev.title, channelIds: [ch0.id], leadMinutes: 5 }]);
    const due = ev.start - 300;
    assert.ok(due > sim.now(), 'the test needs the reminder in the future');
    sim.advance(due - 2 - sim.now());
    await sleep(120);
    assert.equal(log.reminder.filter((r) => r.eventId === ev.id).length, 0, 'not before its time');
    sim.advance(2);
    await until(() => log.reminder.some((r) => r.eventId === ev.id), 'the reminder');
    const r = log.reminder.find((x) => x.eventId === ev.id);
    assert.ok(r);
    assert.equal(r.leadMinutes, 5);
    assert.equal(r.ruleName, 'target');
    assert.equal(r.channelName, ch0.name);
    assert.ok(r.startsInSeconds <= 300 && r.startsInSeconds >= 298, String(r.startsInSeconds));
    await sleep(80);
    assert.equal(log.reminder.filter((x) => x.eventId === ev.id).length, 1);
  });
});
