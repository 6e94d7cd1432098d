/**
 * The retained state the bridge publishes, derived from the session's cache and subscriptions,
 * the disk space and (for admins) the server-wide status.
 *
 * Each topic has its own builder (`STATE_BUILDERS`), a pure function of what it shows, so that
 * the bridge can rebuild only the parts a change touched (see desired.ts). `computeState()` puts
 * them together into a whole snapshot, topic → JSON, in publishing order. Values that move
 * continuously (signal, queue, progress) are rounded or sampled so that a snapshot taken a second
 * later is usually identical.
 */
import type { HtsmsgMap } from '../htsp/codec';
import type { Channel, DvrEntry, EpgEvent, ServerInfo } from '../htsp/messages';
import type { ServerStatusSnapshot, ServerStatusSummary } from '../htsp/server-status';
import { dvrStatus, type DvrStatus } from '../htsp/dvr';
import { channelNumberText } from '../htsp/epg-format';
import type { Json } from './json';
import { slug, STATE, type Topics } from './topics';
import type { BridgeSession, BridgeSubscription, ChannelSelection } from './types';

export interface DiskSpace {
  free: number;
  used: number;
  total: number;
}

/** A `getDiskSpace` reply as published, or undefined when it lacks the free or total figure. */
export function diskSpaceOf(reply: HtsmsgMap): DiskSpace | undefined {
  const free = num(reply.freediskspace);
  const total = num(reply.totaldiskspace);
  const used = num(reply.useddiskspace);
  return free !== undefined && total !== undefined ? { free, total, used: used ?? total - free } : undefined;
}

/** What the server-wide status poller offers; `ServerStatusPoller` satisfies it. */
export interface StatusView {
  readonly available: boolean;
  current(): ServerStatusSnapshot;
  summary(): ServerStatusSummary;
}

// ------------------------------------------------------------------ subscriptions

function num(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}
/** Whole percent: finer steps would change the retained JSON every second. */
function pct(raw: number | undefined): number | undefined {
  return raw === undefined ? undefined : Math.round((raw / 65535) * 100);
}
/** Thousandths (dB, dBm) to one decimal, for the same reason. */
function milli(raw: number | undefined): number | undefined {
  return raw === undefined ? undefined : Math.round(raw / 100) / 10;
}

function signalOf(sub: BridgeSubscription): { [key: string]: Json } | null {
  const m = sub.lastSignal;
  if (!m) return null;
  const out: { [key: string]: Json } = { status: typeof m.feStatus === 'string' ? m.feStatus : '' };
  const figures: Array<[string, number | undefined]> = [
    ['snr', pct(num(m.feSNR))],
    ['snrDb', milli(num(m.feAbsoluteSNR))],
    ['strength', pct(num(m.feSignal))],
    ['strengthDbm', milli(num(m.feAbsoluteSignal))],
    ['ber', num(m.feBER)],
    ['unc', num(m.feUNC)],
  ];
  for (const [k, v] of figures) if (v !== undefined) out[k] = v;
  return out;
}

function queueOf(sub: BridgeSubscription): { [key: string]: Json } | null {
  const q = sub.lastQueue;
  if (!q) return null;
  const ticksPerMs = sub.options.ninetyKHz ? 90 : 1000;
  return {
    packets: num(q.packets) ?? 0,
    bytes: num(q.bytes) ?? 0,
    delayMs: Math.round((num(q.delay) ?? 0) / ticksPerMs),
    drops: (num(q.Bdrops) ?? 0) + (num(q.Pdrops) ?? 0) + (num(q.Idrops) ?? 0),
    errors: num(q.errors) ?? 0,
  };
}

function text(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

/**
 * `<base>/subscriptions`: every subscription the session holds (the subscription nodes' and any
 * other), in the order they were made. `signal` is the first tuner's quality in percent: the
 * SNR where the tuner reports it as a share, else the strength.
 */
export function subscriptionsState(session: BridgeSession): { [key: string]: Json } {
  const subs = session.subscriptions().filter((s) => s.state !== 'closed');
  const list = subs.map((s) => {
    const ch = s.channelId ? session.cache.channelsById.get(s.channelId) : undefined;
    const src = s.sourceInfo ?? {};
    const status = s.lastStatus;
    return {
      id: s.id || null,
      channelId: s.channelId || null,
      channel: ch?.channelName ?? null,
      // What the node asked for: the only clue while a name or number is not resolved yet.
      requested: s.channelRef,
      state: s.state,
      // No status text means packets flow; before the start there is nothing to judge.
      status: text(status?.status) ?? (s.state === 'running' ? 'OK' : null),
      error: text(status?.subscriptionError),
      service: text(src.service),
      provider: text(src.provider),
      mux: text(src.mux),
      network: text(src.network),
      adapter: text(src.adapter),
      streams: s.streams.map((st) => st.type),
      signal: signalOf(s),
      queue: queueOf(s),
    };
  });
  let quality: number | null = null;
  for (const s of list) {
    const q = s.signal?.snr ?? s.signal?.strength;
    if (typeof q === 'number') {
      quality = q;
      break;
    }
  }
  return { count: list.length, running: subs.filter((s) => s.state === 'running').length, signal: quality, subscriptions: list };
}

/**
 * What makes a subscriptions snapshot news at once rather than at the next figures sample: a
 * subscription coming or going, or its state or status text changing.
 */
export function subscriptionsShape(value: Json | undefined): string {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return '';
  const list = value.subscriptions;
  if (!Array.isArray(list)) return '';
  return JSON.stringify(
    list.map((s) => (s && typeof s === 'object' && !Array.isArray(s) ? [s.id, s.channelId, s.channel, s.state, s.status, s.error, s.service] : null)),
  );
}

// ------------------------------------------------------------------ DVR

function channelLabel(session: BridgeSession, e: DvrEntry): string | null {
  if (e.channelName) return e.channelName;
  const ch = e.channel !== undefined ? session.cache.channelsById.get(e.channel) : undefined;
  return ch?.channelName ?? null;
}

/** A DVR entry as published: no byte counters (they move every few seconds while recording). */
export function dvrSummary(session: BridgeSession, e: DvrEntry): { [key: string]: Json } {
  const out: { [key: string]: Json } = {
    id: e.id,
    title: e.title ?? null,
    subtitle: e.subtitle ?? null,
    channel: channelLabel(session, e),
    channelId: e.channel ?? null,
    start: e.start,
    stop: e.stop,
    startExtra: e.startExtra ?? 0,
    stopExtra: e.stopExtra ?? 0,
    state: e.state,
    enabled: e.enabled !== 0,
    failed: dvrStatus(e) === 'failed',
    error: e.error ?? null,
  };
  if (e.subscriptionError) out.subscriptionError = e.subscriptionError;
  if (e.streamErrors) out.streamErrors = e.streamErrors;
  if (e.dataErrors) out.dataErrors = e.dataErrors;
  if (e.duplicate) out.duplicate = true;
  if (e.autorecId) out.autorecId = e.autorecId;
  if (e.timerecId) out.timerecId = e.timerecId;
  if (e.owner) out.owner = e.owner;
  if (e.idStr) out.uuid = e.idStr;
  return out;
}

function brief(session: BridgeSession, e: DvrEntry): { [key: string]: Json } {
  return { id: e.id, title: e.title ?? null, channel: channelLabel(session, e), start: e.start, stop: e.stop };
}

/** Which summary topic an entry counts in; undefined for none (disabled, duplicate). */
export function dvrClass(e: DvrEntry): DvrStatus | undefined {
  // Upcoming as Tvheadend's "Upcoming recordings" view counts it: enabled and no duplicate.
  // Failed as its "Failed recordings" view: missed, or finished with an error (`dvrStatus`).
  if (e.state === 'scheduled' && (e.enabled === 0 || e.duplicate)) return undefined;
  return dvrStatus(e);
}

const byStart = (a: DvrEntry, b: DvrEntry): number => a.start - b.start || a.id - b.id;

function latest(list: Iterable<DvrEntry>): DvrEntry | undefined {
  let best: DvrEntry | undefined;
  for (const e of list) if (!best || e.stop > best.stop || (e.stop === best.stop && e.id > best.id)) best = e;
  return best;
}

/** `<base>/recording` from the entries in class `recording`, in any order. */
export function recordingState(session: BridgeSession, entries: Iterable<DvrEntry>): Json {
  const recording = [...entries].sort(byStart);
  const titles = recording.map((e) => e.title ?? '');
  return {
    count: recording.length,
    // HA caps a state at 255 characters.
    title: recording.length ? titles.join(', ').slice(0, 255) : null,
    titles,
    entries: recording.map((e) => brief(session, e)),
  };
}

/** `<base>/upcoming` from the entries in class `upcoming`, in any order. */
export function upcomingState(session: BridgeSession, entries: Iterable<DvrEntry>): Json {
  // The first by (start, id) without sorting: thousands of timers are common.
  let count = 0;
  let next: DvrEntry | undefined;
  for (const e of entries) {
    count++;
    if (!next || byStart(e, next) < 0) next = e;
  }
  return { count, next: next ? brief(session, next) : null };
}

/** `<base>/last_completed` from the entries in class `completed`. */
export function lastCompletedState(session: BridgeSession, entries: Iterable<DvrEntry>): Json {
  const last = latest(entries);
  return last ? brief(session, last) : { id: null, title: null, channel: null, start: null, stop: null };
}

/** `<base>/last_failed` from the entries in class `failed`. */
export function lastFailedState(session: BridgeSession, entries: Iterable<DvrEntry>): Json {
  const last = latest(entries);
  return last
    ? { ...brief(session, last), state: last.state, error: last.error ?? (last.state === 'missed' ? 'Missed' : null) }
    : { id: null, title: null, channel: null, start: null, stop: null, state: null, error: null };
}

// ------------------------------------------------------------------ channels

export interface SelectedChannel {
  id: number;
  name: string;
  /** Topic level under `<base>/channel/`, unique within the selection. */
  key: string;
}

/**
 * The channels that get a now/next topic. Keys are the channel name as an id; when two channels
 * would share one, both get their id appended, so the key of a channel does not depend on the
 * order channels arrived in.
 */
export function selectChannels(session: BridgeSession, selection: ChannelSelection): SelectedChannel[] {
  let chosen: Channel[];
  if (selection.mode === 'none') return [];
  if (selection.mode === 'all') {
    chosen = session.cache.channels();
  } else {
    const seen = new Set<number>();
    chosen = [];
    for (const ref of selection.refs) {
      const r = ref.trim();
      if (!r) continue;
      const ch = session.findChannel(/^\d+$/.test(r) && Number(r) > 99999 ? Number(r) : r);
      if (ch && !seen.has(ch.channelId)) {
        seen.add(ch.channelId);
        chosen.push(ch);
      }
    }
  }
  const count = new Map<string, number>();
  const base = chosen.map((c) => slug(c.channelName ?? '', String(c.channelId)));
  for (const k of base) count.set(k, (count.get(k) ?? 0) + 1);
  return chosen
    .map((c, i) => ({
      id: c.channelId,
      name: c.channelName ?? String(c.channelId),
      key: (count.get(base[i]) ?? 0) > 1 ? `${base[i]}_${c.channelId}` : base[i],
    }))
    .sort((a, b) => a.key.localeCompare(b.key));
}

function programme(ev: EpgEvent | undefined, at: number | undefined): Json {
  if (!ev) return null;
  const out: { [key: string]: Json } = { eventId: ev.eventId, title: ev.title ?? null, start: ev.start, stop: ev.stop };
  if (ev.subtitle) out.subtitle = ev.subtitle;
  if (at !== undefined) {
    const len = ev.stop - ev.start;
    out.progress = len > 0 ? Math.max(0, Math.min(100, Math.floor(((at - ev.start) / len) * 100))) : 0;
  }
  return out;
}

export interface NowNext {
  now?: EpgEvent;
  next?: EpgEvent;
}

/** `<base>/channel/<key>`: `nn` as `session.nowNext()` gave it, progress at `progressAt`. */
export function channelState(c: Channel, nn: NowNext, progressAt: number): Json {
  return {
    channel: { id: c.channelId, name: c.channelName ?? null, number: channelNumberText(c) ?? null },
    now: programme(nn.now, progressAt),
    next: programme(nn.next, undefined),
  };
}

// ------------------------------------------------------------------ server, disk, server status

export function serverState(info: ServerInfo): Json {
  return { name: info.serverName, version: info.serverVersion, htspVersion: info.htspVersion, serverHtspVersion: info.serverHtspVersion };
}

export function diskState(disk: DiskSpace): Json {
  const { free, used, total } = disk;
  return { free, used, total, usedPercent: total > 0 ? Math.round(((total - free) / total) * 1000) / 10 : null };
}

/** `<base>/viewers` and `<base>/tuners`, or undefined while the view has nothing to show. */
export function serverStatusState(status: StatusView): { viewers: Json; tuners: Json } | undefined {
  if (!status.available) return undefined;
  const snap = status.current();
  if (snap.stale && snap.updatedAt === undefined) return undefined;
  const sum = status.summary();
  return {
    viewers: {
      count: sum.viewers,
      subscriptions: sum.subscriptions,
      watching: sum.watching
        .map((w) => ({
          channel: w.channel ?? null,
          username: w.username ?? null,
          hostname: w.hostname ?? null,
          client: w.client ?? null,
          title: w.title ?? null,
        }))
        .sort((a, b) => String(a.channel).localeCompare(String(b.channel)) || String(a.hostname).localeCompare(String(b.hostname))),
    },
    tuners: {
      inUse: sum.inputsInUse,
      inputs: snap.inputs
        .map((i) => ({
          input: i.input ?? null,
          stream: i.stream ?? null,
          subscriptions: i.subs ?? 0,
          signal: scaled(i.signal, i.signal_scale),
          snr: scaled(i.snr, i.snr_scale),
        }))
        .sort((a, b) => String(a.input).localeCompare(String(b.input)) || String(a.stream).localeCompare(String(b.stream))),
    },
  };
}

/**
 * Every per-part builder. The bridge takes them through this table (tests hand in counting
 * wrappers to prove that a flush rebuilds only what changed).
 */
export interface StateBuilders {
  server(info: ServerInfo): Json;
  disk(disk: DiskSpace): Json;
  subscriptions(session: BridgeSession): { [key: string]: Json };
  recording(session: BridgeSession, entries: Iterable<DvrEntry>): Json;
  upcoming(session: BridgeSession, entries: Iterable<DvrEntry>): Json;
  lastCompleted(session: BridgeSession, entries: Iterable<DvrEntry>): Json;
  lastFailed(session: BridgeSession, entries: Iterable<DvrEntry>): Json;
  dvr(session: BridgeSession, e: DvrEntry): Json;
  channel(c: Channel, nn: NowNext, progressAt: number): Json;
  serverStatus(status: StatusView): { viewers: Json; tuners: Json } | undefined;
}

export const STATE_BUILDERS: Readonly<StateBuilders> = {
  server: serverState,
  disk: diskState,
  subscriptions: subscriptionsState,
  recording: recordingState,
  upcoming: upcomingState,
  lastCompleted: lastCompletedState,
  lastFailed: lastFailedState,
  dvr: dvrSummary,
  channel: channelState,
  serverStatus: serverStatusState,
};

// ------------------------------------------------------------------ the model

export interface StateInputs {
  session: BridgeSession;
  topics: Topics;
  disk: DiskSpace | undefined;
  status: StatusView | undefined;
  channels: readonly SelectedChannel[];
  /** Server time used for progress, already rounded to the progress step. */
  progressAt: number;
}

/** Everything the bridge publishes as retained state while the session is ready, in publishing order. */
export function computeState(inp: StateInputs): Map<string, Json> {
  const { session, topics } = inp;
  const out = new Map<string, Json>();
  const info = session.serverInfo;
  if (info) out.set(topics.state(STATE.server), serverState(info));
  if (inp.disk) out.set(topics.state(STATE.disk), diskState(inp.disk));
  out.set(topics.state(STATE.subscriptions), subscriptionsState(session));

  const entries = session.cache.dvrEntries();
  const byClass: Record<DvrStatus, DvrEntry[]> = { recording: [], upcoming: [], completed: [], failed: [] };
  for (const e of entries) {
    const c = dvrClass(e);
    if (c) byClass[c].push(e);
  }
  out.set(topics.state(STATE.recording), recordingState(session, byClass.recording));
  out.set(topics.state(STATE.upcoming), upcomingState(session, byClass.upcoming));
  out.set(topics.state(STATE.lastCompleted), lastCompletedState(session, byClass.completed));
  out.set(topics.state(STATE.lastFailed), lastFailedState(session, byClass.failed));
  for (const e of entries) out.set(topics.dvr(e.id), dvrSummary(session, e));

  for (const ch of inp.channels) {
    const c = session.cache.channelsById.get(ch.id);
    if (!c) continue;
    out.set(topics.channel(ch.key), channelState(c, session.nowNext(ch.id), inp.progressAt));
  }

  const status = inp.status ? serverStatusState(inp.status) : undefined;
  if (status) {
    out.set(topics.state(STATE.viewers), status.viewers);
    out.set(topics.state(STATE.tuners), status.tuners);
  }
  return out;
}

/** Input figures in the unit their scale says: percent (relative) or dB (decibel). */
function scaled(v: number | undefined, scale: number | undefined): Json {
  if (typeof v !== 'number') return null;
  if (scale === 1) return { percent: Math.round((v / 65535) * 100) };
  if (scale === 2) return { db: Math.round(v / 100) / 10 };
  return null;
}
