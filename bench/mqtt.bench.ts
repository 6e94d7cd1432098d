/**
 * MQTT bridge flush cost for one DVR change, on a server with 5,000 DVR entries and 500 channels
 * (a now/next topic each, Home Assistant discovery on): the flush as it was (every retained
 * topic rebuilt, then diffed against what was published) beside the incremental one (the parts
 * the change touched rebuilt, the changed topics diffed).
 *
 * Each side runs in this process on a session double of its own (a real `MetadataCache`, from
 * test/mqtt/state-fixtures.ts) with the same library and the same changes, one side after the
 * other: interleaved, the full rebuild's garbage and cold caches would land in the incremental
 * figures. A flush is timed from the change already applied to the list of sends being known:
 * `DesiredState.update()` + `changes()`, what the bridge's flush runs, against the old
 * `computeState` + sampling + discovery + full diff. Publishing the sends costs the same in both
 * and is not timed. Change by change, both sides must yield the same sends (checked).
 */
import { performance } from 'node:perf_hooks';
import { Topics } from '../src/mqtt';
import { DesiredState, type DiscoveryOptions } from '../src/mqtt/desired';
import { fakeSession, FakeStatusView, FullRebuild, library, type ModelSetup } from '../test/mqtt/state-fixtures';
import { QUICK, fmt, gc, header, percentile, report, table, verdict, type Row } from './util';

/** The incremental flush should cost a small fraction of the full one. */
export const TARGET_RATIO = 10;

export interface MqttFlushResult {
  dvrEntries: number;
  channels: number;
  topics: number;
  fullMedianUs: number;
  incrementalMedianUs: number;
  ratio: number;
  markAllMedianUs: number;
  progressStepMedianUs: number;
}

const NOW = 1_700_000_000;

const DISCOVERY: DiscoveryOptions = {
  origin: { name: 'bench', sw: '0', url: 'https://example.invalid' },
  deviceName: 'Tvheadend',
  nowPlayingSensors: true,
  allowed: new Set(['stopRecording']),
};
const DISK = { free: 2 ** 40, used: 2 ** 40, total: 2 ** 41 };

type Sends = Array<[string, string]>;

interface Side {
  /** Topics published once everything was sent. */
  topics: number;
  /** Flush time per change, µs, in change order. */
  us: number[];
  /** The sends of each change, as JSON (compared between the sides). */
  sends: string[];
  /** Incremental side only: a flush that rebuilds everything (`markAll`), µs. */
  markAllUs: number[];
  /** Incremental side only: a flush after the clock moved one progress step, µs. */
  stepUs: number[];
}

/**
 * One side on a session of its own (both sides get the same library and the same changes):
 * publish everything, then time the flush after each of `warmup + changes` DVR changes.
 */
function side(kind: 'full' | 'incremental', dvrEntries: number, channels: number, warmup: number, changes: number): Side {
  const session = fakeSession(NOW);
  session.feed(library({ channels, dvrEntries, epgHours: 24, now: NOW }));
  const status = new FakeStatusView();
  status.viewers = [{ id: 1, channel: 'Channel 1', hostname: 'tv' }];
  status.inputs = [{ uuid: 'a', input: 'Tuner 1', stream: 'Mux', subs: 1, signal: 40000, signal_scale: 1 }];
  const setup: ModelSetup = { session, selection: { mode: 'all' }, discovery: DISCOVERY, status, statusReportsChanges: true, progressIntervalMs: 60_000 };
  const published = new Map<string, string>();
  const apply = (sends: Sends): void => {
    for (const [t, p] of sends) {
      if (p === '') published.delete(t);
      else published.set(t, p);
    }
  };

  let flush: () => Sends;
  let model: DesiredState | undefined;
  if (kind === 'incremental') {
    const m = new DesiredState({
      session,
      topics: new Topics('tvheadend/box', 'homeassistant'),
      channels: setup.selection,
      discovery: DISCOVERY,
      status,
      statusReportsChanges: true,
      progressIntervalMs: setup.progressIntervalMs,
      log: (level, text) => console.log(`${level}: ${text}`),
    });
    session.on('change', (c) => m.noteChange(c));
    m.setDisk(DISK);
    m.update(true);
    apply(m.changes(published));
    // What the bridge's flush runs, but the publishing.
    flush = () => {
      m.update(false);
      return m.changes(published);
    };
    model = m;
  } else {
    const full = new FullRebuild(setup);
    apply([...full.desired(DISK, true)]);
    // The bridge's flush as it was: everything rebuilt, everything diffed.
    flush = () => {
      const desired = full.desired(DISK, false);
      const sends: Sends = [];
      for (const [t, p] of desired) if (published.get(t) !== p) sends.push([t, p]);
      for (const t of published.keys()) if (!desired.has(t)) sends.push([t, '']);
      return sends;
    };
  }
  const topics = published.size;

  // One DVR change per flush: every other one to the next upcoming recording (its topic and the
  // upcoming summary change), the others to another scheduled entry (its topic only).
  const scheduled = session.cache.dvrEntries().filter((e) => e.state === 'scheduled' && e.enabled !== 0);
  const next = scheduled.reduce((a, e) => (e.start < a.start || (e.start === a.start && e.id < a.id) ? e : a));
  const others = scheduled.filter((e) => e !== next);
  const us: number[] = [];
  const sends: string[] = [];
  gc();
  for (let i = 0; i < warmup + changes; i++) {
    const id = i % 2 === 0 ? next.id : others[(i >> 1) % others.length].id;
    session.apply({ method: 'dvrEntryUpdate', id, title: `Changed ${i}` });
    const a = performance.now();
    const out = flush();
    const b = performance.now();
    apply(out);
    if (i < warmup) continue;
    us.push((b - a) * 1000);
    sends.push(JSON.stringify(out));
  }

  // The clock moves on a progress step (a minute): every channel with a programme running is
  // rebuilt, and those whose programme ended meanwhile.
  const stepUs: number[] = [];
  if (model) {
    gc();
    for (let i = 0; i < (QUICK ? 3 : 30); i++) {
      session.clock = (Math.floor(session.clock / 60) + 1) * 60;
      const a = performance.now();
      apply(flush());
      stepUs.push((performance.now() - a) * 1000);
    }
  }

  // A forced flush (broker connect, HA birth) rebuilds and diffs everything, incrementally too.
  const markAllUs: number[] = [];
  if (model) {
    gc();
    for (let i = 0; i < (QUICK ? 3 : 20); i++) {
      const a = performance.now();
      model.markAll();
      model.update(false);
      model.allChanges(published, new Set(), '');
      markAllUs.push((performance.now() - a) * 1000);
    }
  }
  return { topics, us, sends, markAllUs, stepUs };
}

export function runMqttFlush(dvrEntries = QUICK ? 200 : 5000, channels = QUICK ? 20 : 500, changes = QUICK ? 20 : 500): MqttFlushResult {
  const warmup = QUICK ? 5 : 200;
  const probe = fakeSession(NOW);
  probe.feed(library({ channels, dvrEntries, epgHours: 24, now: NOW }));
  console.log(`library: ${dvrEntries} DVR entries, ${channels} channels (a now/next topic each), ${probe.cache.counts.events} EPG events; discovery on`);

  const full = side('full', dvrEntries, channels, warmup, changes);
  const inc = side('incremental', dvrEntries, channels, warmup, changes);
  if (full.topics !== inc.topics) throw new Error(`the two sides start from different states: ${full.topics} and ${inc.topics} topics`);
  const differs = inc.sends.findIndex((s, i) => s !== full.sends[i]);
  if (differs >= 0) throw new Error(`change ${differs}: the flushes differ:\nincremental ${inc.sends[differs]}\nfull ${full.sends[differs]}`);
  const messages = inc.sends.reduce((n, s) => n + (JSON.parse(s) as unknown[]).length, 0) / changes;

  const row = (flush: string, xs: number[]): Row => {
    const sorted = [...xs].sort((a, b) => a - b);
    return {
      flush,
      'median µs': fmt(percentile(sorted, 50)),
      'p90 µs': fmt(percentile(sorted, 90)),
      'mean µs': fmt(sorted.reduce((s, x) => s + x, 0) / sorted.length),
      'max µs': fmt(sorted[sorted.length - 1]),
    };
  };
  const median = (xs: number[]): number => percentile([...xs].sort((a, b) => a - b), 50);
  const fullMed = median(full.us);
  const incMed = median(inc.us);
  const ratio = fullMed / incMed;
  table(
    `Flush cost for one DVR change (${dvrEntries.toLocaleString('en-US')} DVR entries, ${channels} channels, ${inc.topics.toLocaleString('en-US')} retained topics; ${changes} changes after ${warmup} warm-up)`,
    [
      row('full rebuild (the flush before this change)', full.us),
      row('incremental', inc.us),
      row('incremental, everything rebuilt (connect, HA birth)', inc.markAllUs),
      row('incremental, clock one progress step on (no change event)', inc.stepUs),
    ],
  );
  table('Incremental against full rebuild', [
    { figure: 'messages per flush (the same on both sides, checked per change)', value: fmt(messages, 2) },
    { figure: 'full / incremental (medians)', value: `${fmt(ratio, 1)}×`, target: `≥ ${TARGET_RATIO}×`, verdict: verdict(ratio >= TARGET_RATIO) },
  ]);
  return { dvrEntries, channels, topics: inc.topics, fullMedianUs: fullMed, incrementalMedianUs: incMed, ratio, markAllMedianUs: median(inc.markAllUs), progressStepMedianUs: median(inc.stepUs) };
}

if (require.main === module) {
  header('MQTT flush', 'One DVR change: the bridge flush rebuilding every retained topic, against rebuilding what the change touched.');
  report(runMqttFlush());
}
