/**
 * The retained state the bridge publishes, derived from the session's cache, the bridge's own
 * subscriptions, the disk space and (for admins) the server-wide status.
 *
 * `StateModel.compute()` is a pure snapshot: topic → JSON. The bridge diffs snapshots and
 * publishes only what changed, so nothing here needs to remember what was sent. Values that
 * move continuously (signal, queue, progress) are rounded or sampled so that a snapshot taken a
 * second later is usually identical.
 */
import type { HtsmsgMap } from '../htsp/codec';
import type { Channel, DvrEntry, EpgEvent } from '../htsp/messages';
import type { ServerStatusSnapshot, ServerStatusSummary } from '../htsp/server-status';
import type { Json } from './json';
import { slug, STATE, type Topics } from './topics';
import type { BridgeSession, ChannelSelection } from './types';

export interface DiskSpace {
  free: number;
  used: number;
  total: number;
}

/** What the server-wide status poller offers; `ServerStatusPoller` satisfies it. */
export interface StatusView {
  readonly available: boolean;
  current(): ServerStatusSnapshot;
  summary(): ServerStatusSummary;
}

// ------------------------------------------------------------------ own subscriptions

interface OwnSub {
  id: number;
  service?: string;
  provider?: string;
  mux?: string;
  network?: string;
  adapter?: string;
  /** undefined = OK (packets flowing). */
  status?: string;
  signal?: { status: string; snr?: number; snrDb?: number; strength?: number; strengthDbm?: number; ber?: number; unc?: number };
  queue?: { packets: number; bytes: number; delayMs: number; drops: number; errors: number };
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}
function num(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}
function pct(raw: number | undefined): number | undefined {
  return raw === undefined ? undefined : Math.round((raw / 65535) * 100);
}
function milli(raw: number | undefined): number | undefined {
  return raw === undefined ? undefined : Math.round(raw / 100) / 10;
}

/**
 * The bridge's session's live subscriptions, followed through the async messages: signal and
 * queue figures arrive every second, which is why they are stored here and only read when a
 * snapshot is taken.
 */
export class OwnSubscriptions {
  private readonly subs = new Map<number, OwnSub>();

  /** Returns true when the set of subscriptions or their status text changed. */
  handle(msg: HtsmsgMap): boolean {
    const id = num(msg.subscriptionId);
    if (id === undefined) return false;
    switch (msg.method) {
      case 'subscriptionStart': {
        const si = msg.sourceinfo;
        const info = si && typeof si === 'object' && !Array.isArray(si) && !Buffer.isBuffer(si) ? (si as HtsmsgMap) : {};
        const sub: OwnSub = { id };
        const fields = ['service', 'provider', 'mux', 'network', 'adapter'] as const;
        for (const f of fields) {
          const v = str(info[f]);
          if (v !== undefined) sub[f] = v;
        }
        this.subs.set(id, sub);
        return true;
      }
      case 'subscriptionStop':
        return this.subs.delete(id);
      case 'subscriptionStatus': {
        const sub = this.subs.get(id);
        if (!sub) return false;
        const status = str(msg.status);
        if (sub.status === status) return false;
        if (status === undefined) delete sub.status;
        else sub.status = status;
        return true;
      }
      case 'signalStatus': {
        const sub = this.subs.get(id);
        if (!sub) return false;
        const s: NonNullable<OwnSub['signal']> = { status: str(msg.feStatus) ?? '' };
        const snr = pct(num(msg.feSNR));
        const snrDb = milli(num(msg.feAbsoluteSNR));
        const strength = pct(num(msg.feSignal));
        const strengthDbm = milli(num(msg.feAbsoluteSignal));
        if (snr !== undefined) s.snr = snr;
        if (snrDb !== undefined) s.snrDb = snrDb;
        if (strength !== undefined) s.strength = strength;
        if (strengthDbm !== undefined) s.strengthDbm = strengthDbm;
        const ber = num(msg.feBER);
        const unc = num(msg.feUNC);
        if (ber !== undefined) s.ber = ber;
        if (unc !== undefined) s.unc = unc;
        sub.signal = s;
        return false;
      }
      case 'queueStatus': {
        const sub = this.subs.get(id);
        if (!sub) return false;
        sub.queue = {
          packets: num(msg.packets) ?? 0,
          bytes: num(msg.bytes) ?? 0,
          delayMs: Math.round((num(msg.delay) ?? 0) / 1000),
          drops: (num(msg.Bdrops) ?? 0) + (num(msg.Pdrops) ?? 0) + (num(msg.Idrops) ?? 0),
          errors: num(msg.errors) ?? 0,
        };
        return false;
      }
      default:
        return false;
    }
  }

  clear(): void {
    this.subs.clear();
  }

  list(): OwnSub[] {
    return [...this.subs.values()].sort((a, b) => a.id - b.id);
  }
}

// ------------------------------------------------------------------ DVR

/** Failed as Tvheadend's "Failed recordings" view counts it: missed, or finished with an error. */
export function isFailedEntry(e: DvrEntry): boolean {
  return e.state === 'missed' || (e.state === 'completed' && typeof e.error === 'string' && e.error !== '');
}

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
    failed: isFailedEntry(e),
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

// ------------------------------------------------------------------ channels

export interface SelectedChannel {
  id: number;
  name: string;
  /** Topic level under `<base>/channel/`, unique within the selection. */
  key: string;
}

function channelNumber(c: Channel): string | null {
  if (!c.channelNumber) return null;
  return c.channelNumberMinor ? `${c.channelNumber}.${c.channelNumberMinor}` : String(c.channelNumber);
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

// ------------------------------------------------------------------ the model

export interface StateInputs {
  session: BridgeSession;
  topics: Topics;
  own: OwnSubscriptions;
  disk: DiskSpace | undefined;
  status: StatusView | undefined;
  channels: readonly SelectedChannel[];
  /** Server time used for progress, already rounded to the progress step. */
  progressAt: number;
}

/** Everything the bridge publishes as retained state while the session is ready. */
export function computeState(inp: StateInputs): Map<string, Json> {
  const { session, topics } = inp;
  const out = new Map<string, Json>();
  const info = session.serverInfo;
  if (info) {
    out.set(topics.state(STATE.server), {
      name: info.serverName,
      version: info.serverVersion,
      htspVersion: info.htspVersion,
      serverHtspVersion: info.serverHtspVersion,
    });
  }
  if (inp.disk) {
    const { free, used, total } = inp.disk;
    out.set(topics.state(STATE.disk), {
      free,
      used,
      total,
      usedPercent: total > 0 ? Math.round(((total - free) / total) * 1000) / 10 : null,
    });
  }

  const subs = inp.own.list();
  const first = subs.find((s) => s.signal && (s.signal.snr !== undefined || s.signal.strength !== undefined));
  out.set(topics.state(STATE.subscriptions), {
    count: subs.length,
    signal: first?.signal ? (first.signal.snr ?? first.signal.strength ?? null) : null,
    subscriptions: subs.map((s) => ({
      id: s.id,
      service: s.service ?? null,
      provider: s.provider ?? null,
      mux: s.mux ?? null,
      network: s.network ?? null,
      adapter: s.adapter ?? null,
      status: s.status ?? 'OK',
      signal: s.signal ? { ...s.signal } : null,
      queue: s.queue ? { ...s.queue } : null,
    })),
  });

  const entries = session.cache.dvrEntries();
  const recording = entries.filter((e) => e.state === 'recording').sort((a, b) => a.start - b.start || a.id - b.id);
  const upcoming = entries
    .filter((e) => e.state === 'scheduled' && e.enabled !== 0 && !e.duplicate)
    .sort((a, b) => a.start - b.start || a.id - b.id);
  const completed = entries.filter((e) => e.state === 'completed' && !isFailedEntry(e));
  const failed = entries.filter(isFailedEntry);
  const latest = (list: DvrEntry[]): DvrEntry | undefined =>
    list.reduce<DvrEntry | undefined>((best, e) => (!best || e.stop > best.stop || (e.stop === best.stop && e.id > best.id) ? e : best), undefined);

  const titles = recording.map((e) => e.title ?? '');
  out.set(topics.state(STATE.recording), {
    count: recording.length,
    // HA caps a state at 255 characters.
    title: recording.length ? titles.join(', ').slice(0, 255) : null,
    titles,
    entries: recording.map((e) => brief(session, e)),
  });
  const next = upcoming[0];
  out.set(topics.state(STATE.upcoming), { count: upcoming.length, next: next ? brief(session, next) : null });
  const lastDone = latest(completed);
  out.set(topics.state(STATE.lastCompleted), lastDone ? brief(session, lastDone) : { id: null, title: null, channel: null, start: null, stop: null });
  const lastFail = latest(failed);
  out.set(
    topics.state(STATE.lastFailed),
    lastFail
      ? { ...brief(session, lastFail), state: lastFail.state, error: lastFail.error ?? (lastFail.state === 'missed' ? 'Missed' : null) }
      : { id: null, title: null, channel: null, start: null, stop: null, state: null, error: null },
  );
  for (const e of entries) out.set(topics.dvr(e.id), dvrSummary(session, e));

  for (const ch of inp.channels) {
    const c = session.cache.channelsById.get(ch.id);
    if (!c) continue;
    const { now, next: following } = session.nowNext(ch.id);
    out.set(topics.channel(ch.key), {
      channel: { id: c.channelId, name: c.channelName ?? null, number: channelNumber(c) },
      now: programme(now, inp.progressAt),
      next: programme(following, undefined),
    });
  }

  const status = inp.status;
  if (status && status.available) {
    const snap = status.current();
    if (!snap.stale || snap.updatedAt !== undefined) {
      const sum = status.summary();
      out.set(topics.state(STATE.viewers), {
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
      });
      out.set(topics.state(STATE.tuners), {
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
      });
    }
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
