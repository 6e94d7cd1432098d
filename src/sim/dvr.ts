/**
 * DVR side of the simulator: entries, the clock that moves them through
 * scheduled → recording → completed, and the autorec / timerec rules that
 * create entries.
 */
import {
  FOREVER,
  RETENTION_UNTIL_REMOVED,
  Rng,
  isUpcoming,
  minutesOfDay,
  shortIdFromUuid,
  weekdayBit,
  type SimAutorec,
  type SimAutorecSpec,
  type SimChannel,
  type SimDvrEntry,
  type SimDvrEntrySpec,
  type SimEvent,
  type SimTimerec,
  type SimTimerecSpec,
} from './data';

export interface DvrContext {
  channel(id: number): SimChannel | undefined;
  event(id: number): SimEvent | undefined;
  firstChannel(): SimChannel | undefined;
  defaultConfigId: string;
  /** A recording is a server subscription: it takes an id from the server-wide counter when it starts. */
  newSubscriptionId(): number;
}

export type DvrChange =
  | { kind: 'add'; entry: SimDvrEntry }
  | { kind: 'update'; entry: SimDvrEntry }
  | { kind: 'stats'; entry: SimDvrEntry }
  | { kind: 'delete'; entry: SimDvrEntry };

/** Bytes a recording grows by per simulated second (a typical SD/HD mix). */
export const RECORDING_BYTES_PER_SECOND = 500_000;

export class DvrStore {
  readonly entries = new Map<number, SimDvrEntry>();
  readonly autorecs = new Map<string, SimAutorec>();
  readonly timerecs = new Map<string, SimTimerec>();
  /** Simulated time of the last data-size growth per recording entry. */
  private readonly grownAt = new Map<number, number>();

  constructor(
    private readonly rng: Rng,
    private readonly ctx: DvrContext,
  ) {}

  newUuid(): string {
    return this.rng.hex(32);
  }

  create(spec: SimDvrEntrySpec, now: number): SimDvrEntry {
    const ev = spec.eventId !== undefined ? this.ctx.event(spec.eventId) : undefined;
    const channelId = ev?.channelId ?? spec.channelId ?? this.ctx.firstChannel()?.id;
    const ch = channelId !== undefined ? this.ctx.channel(channelId) : undefined;
    const uuid = this.newUuid();
    const start = spec.start ?? ev?.start ?? now + 3600;
    const entry: SimDvrEntry = {
      id: shortIdFromUuid(uuid, this.entries),
      uuid,
      enabled: spec.enabled ?? true,
      channelId,
      channelName: ch?.name,
      eventId: ev?.id,
      autorecId: spec.autorecId,
      timerecId: spec.timerecId,
      start,
      stop: spec.stop ?? ev?.stop ?? start + 1800,
      startExtra: spec.startExtra ?? 0,
      stopExtra: spec.stopExtra ?? 0,
      retention: spec.retention || RETENTION_UNTIL_REMOVED,
      removal: spec.removal || FOREVER,
      priority: spec.priority ?? 6,
      contentType: Math.floor((spec.contentType ?? ev?.contentType ?? 0) / 16),
      ageRating: spec.ageRating ?? ev?.ageRating ?? 0,
      title: spec.title ?? ev?.title ?? 'Recording',
      subtitle: spec.subtitle ?? ev?.subtitle,
      summary: spec.summary ?? ev?.summary,
      description: spec.description ?? ev?.description,
      seasonNumber: ev?.seasonNumber,
      episodeNumber: ev?.episodeNumber,
      episode: ev?.episodeOnscreen,
      copyrightYear: ev?.copyrightYear,
      image: ev?.image,
      owner: spec.owner ?? 'demo',
      creator: spec.creator ?? spec.owner ?? 'demo',
      comment: spec.comment,
      configId: this.ctx.defaultConfigId,
      state: spec.state ?? 'scheduled',
      error: spec.error,
      dataSize: 0,
      playcount: 0,
      playposition: 0,
      files: [],
    };
    if (entry.state === 'recording' || entry.state === 'completed') {
      const end = entry.state === 'completed' ? entry.stop + entry.stopExtra * 60 : now;
      const began = entry.start - entry.startExtra * 60;
      entry.dataSize = spec.dataSize ?? Math.max(0, end - began) * RECORDING_BYTES_PER_SECOND;
      entry.files.push({
        filename: `/${safeName(entry.title)}.ts`,
        start: began,
        stop: entry.state === 'completed' ? end : undefined,
        size: entry.dataSize,
      });
      if (entry.state === 'recording') {
        this.grownAt.set(entry.id, now);
        entry.statusSubscriptionId = this.ctx.newSubscriptionId();
      }
    }
    this.entries.set(entry.id, entry);
    return entry;
  }

  remove(id: number): SimDvrEntry | undefined {
    const e = this.entries.get(id);
    if (!e) return undefined;
    this.entries.delete(id);
    this.grownAt.delete(id);
    return e;
  }

  /** Move entries along as the clock passes their start and stop. */
  tick(now: number): DvrChange[] {
    const changes: DvrChange[] = [];
    for (const e of this.entries.values()) {
      if (e.state === 'scheduled' && e.enabled && now >= e.start - e.startExtra * 60) {
        this.startRecording(e, e.start - e.startExtra * 60);
        changes.push({ kind: 'update', entry: e });
      }
      if (e.state === 'recording') {
        this.grow(e, now);
        if (now >= e.stop + e.stopExtra * 60) {
          this.finish(e, e.stop + e.stopExtra * 60);
          changes.push({ kind: 'update', entry: e });
        }
      }
    }
    return changes;
  }

  /** Stats-only updates for everything recording, as the server sends them every few seconds. */
  stats(now: number): DvrChange[] {
    const out: DvrChange[] = [];
    for (const e of this.entries.values()) {
      if (e.state !== 'recording') continue;
      this.grow(e, now);
      out.push({ kind: 'stats', entry: e });
    }
    return out;
  }

  startRecording(e: SimDvrEntry, at: number): void {
    e.state = 'recording';
    e.statusSubscriptionId = this.ctx.newSubscriptionId();
    e.dataSize = 0;
    e.files = [{ filename: `/${safeName(e.title)}.ts`, start: at, size: 0 }];
    this.grownAt.set(e.id, at);
    if (e.pendingFailure !== undefined) {
      e.error = e.pendingFailure;
      e.subscriptionError = e.pendingFailure === 'No free adapter' ? 'noFreeAdapter' : undefined;
    }
  }

  finish(e: SimDvrEntry, at: number, error?: string): void {
    this.grow(e, at);
    e.state = 'completed';
    e.statusSubscriptionId = undefined;
    if (error !== undefined) e.error = error;
    else if (e.pendingFailure !== undefined) e.error = e.pendingFailure;
    e.pendingFailure = undefined;
    const file = e.files[e.files.length - 1];
    if (file) file.stop = at;
    this.grownAt.delete(e.id);
  }

  private grow(e: SimDvrEntry, now: number): void {
    const since = this.grownAt.get(e.id) ?? now;
    // A recording without a tuner (failure injected) writes nothing.
    if (now > since && e.pendingFailure === undefined && e.subscriptionError === undefined) {
      e.dataSize += Math.round((now - since) * RECORDING_BYTES_PER_SECOND);
      const file = e.files[e.files.length - 1];
      if (file) file.size = e.dataSize;
    }
    this.grownAt.set(e.id, Math.max(since, now));
  }

  // ------------------------------------------------------------ autorec

  createAutorec(spec: SimAutorecSpec): SimAutorec {
    const a: SimAutorec = {
      id: this.newUuid(),
      enabled: spec.enabled ?? true,
      name: spec.name,
      title: spec.title,
      fulltext: spec.fulltext ?? false,
      channelId: spec.channelId !== undefined && spec.channelId >= 0 ? spec.channelId : undefined,
      minDuration: spec.minDuration ?? 0,
      maxDuration: spec.maxDuration ?? 0,
      daysOfWeek: spec.daysOfWeek ?? 0x7f,
      start: spec.start ?? -1,
      startWindow: spec.startWindow ?? -1,
      priority: spec.priority ?? 6,
      startExtra: Math.max(0, spec.startExtra ?? 0),
      stopExtra: Math.max(0, spec.stopExtra ?? 0),
      retention: spec.retention || RETENTION_UNTIL_REMOVED,
      removal: spec.removal || FOREVER,
      dupDetect: spec.dupDetect ?? 0,
      maxCount: spec.maxCount ?? 0,
      broadcastType: spec.broadcastType ?? 0,
      comment: spec.comment,
      directory: spec.directory,
      owner: spec.owner ?? 'demo',
      creator: spec.creator ?? spec.owner ?? 'demo',
      serieslinkUri: spec.serieslinkUri,
      configId: this.ctx.defaultConfigId,
    };
    this.autorecs.set(a.id, a);
    return a;
  }

  autorecMatches(a: SimAutorec, ev: SimEvent): boolean {
    if (!a.enabled) return false;
    if (a.channelId !== undefined && a.channelId !== ev.channelId) return false;
    if (a.serieslinkUri && a.serieslinkUri !== ev.serieslinkUri) return false;
    if (a.title !== undefined && a.title !== '') {
      const re = safeRegex(a.title);
      if (!re) return false;
      const texts = a.fulltext ? [ev.title, ev.subtitle, ev.summary, ev.description] : [ev.title];
      if (!texts.some((t) => t !== undefined && re.test(t))) return false;
    } else if (!a.serieslinkUri) {
      return false; // an empty rule would record everything; Tvheadend refuses that too
    }
    const duration = ev.stop - ev.start;
    if (a.minDuration > 0 && duration < a.minDuration) return false;
    if (a.maxDuration > 0 && duration > a.maxDuration) return false;
    if ((a.daysOfWeek & weekdayBit(ev.start)) === 0) return false;
    if (a.start >= 0 && a.startWindow >= 0) {
      const m = minutesOfDay(ev.start);
      const inWindow = a.start <= a.startWindow ? m >= a.start && m <= a.startWindow : m >= a.start || m <= a.startWindow;
      if (!inWindow) return false;
    }
    if (a.broadcastType === 3 && !ev.isNew) return false;
    if (a.broadcastType === 2 && ev.isNew) return false;
    return true;
  }

  /**
   * Create entries for future events matching enabled rules. Bounded per rule,
   * so that a careless regex over 100k events cannot explode.
   */
  applyAutorecs(events: Iterable<SimEvent>, now: number, only?: SimAutorec): SimDvrEntry[] {
    const rules = only ? [only] : [...this.autorecs.values()].filter((a) => a.enabled);
    if (rules.length === 0) return [];
    const recorded = new Set<number>();
    const perRule = new Map<string, number>();
    for (const e of this.entries.values()) {
      if (e.eventId !== undefined) recorded.add(e.eventId);
      if (e.autorecId && isUpcoming(e)) perRule.set(e.autorecId, (perRule.get(e.autorecId) ?? 0) + 1);
    }
    const created: SimDvrEntry[] = [];
    for (const ev of events) {
      if (ev.start <= now || recorded.has(ev.id)) continue;
      for (const a of rules) {
        const limit = a.maxCount > 0 ? a.maxCount : 50;
        if ((perRule.get(a.id) ?? 0) >= limit) continue;
        if (!this.autorecMatches(a, ev)) continue;
        const entry = this.create(
          {
            eventId: ev.id,
            autorecId: a.id,
            startExtra: a.startExtra,
            stopExtra: a.stopExtra,
            priority: a.priority,
            retention: a.retention,
            removal: a.removal,
            owner: a.owner,
            creator: a.creator,
            comment: `Auto recording${a.name ? `: ${a.name}` : ''}`,
          },
          now,
        );
        created.push(entry);
        recorded.add(ev.id);
        perRule.set(a.id, (perRule.get(a.id) ?? 0) + 1);
        break;
      }
    }
    return created;
  }

  // ------------------------------------------------------------ timerec

  createTimerec(spec: SimTimerecSpec): SimTimerec {
    const t: SimTimerec = {
      id: this.newUuid(),
      enabled: spec.enabled ?? true,
      name: spec.name,
      title: spec.title,
      channelId: spec.channelId !== undefined && spec.channelId >= 0 ? spec.channelId : undefined,
      daysOfWeek: spec.daysOfWeek ?? 0x7f,
      start: spec.start ?? 0,
      stop: spec.stop ?? 0,
      priority: spec.priority ?? 6,
      retention: spec.retention || RETENTION_UNTIL_REMOVED,
      removal: spec.removal || FOREVER,
      comment: spec.comment,
      directory: spec.directory,
      owner: spec.owner ?? 'demo',
      creator: spec.creator ?? spec.owner ?? 'demo',
      configId: this.ctx.defaultConfigId,
    };
    this.timerecs.set(t.id, t);
    return t;
  }

  /** Like Tvheadend, keep exactly one upcoming entry per enabled time rule. */
  applyTimerecs(now: number): SimDvrEntry[] {
    const created: SimDvrEntry[] = [];
    for (const t of this.timerecs.values()) {
      if (!t.enabled || t.daysOfWeek === 0) continue;
      let has = false;
      for (const e of this.entries.values()) {
        if (e.timerecId === t.id && isUpcoming(e)) {
          has = true;
          break;
        }
      }
      if (has) continue;
      const slot = nextTimerecSlot(t, now);
      if (!slot) continue;
      const ch = (t.channelId !== undefined ? this.ctx.channel(t.channelId) : undefined) ?? this.ctx.firstChannel();
      if (!ch) continue;
      created.push(
        this.create(
          {
            channelId: ch.id,
            start: slot.start,
            stop: slot.stop,
            title: expandTitle(t.title || t.name || 'Time recording', slot.start),
            timerecId: t.id,
            priority: t.priority,
            retention: t.retention,
            removal: t.removal,
            owner: t.owner,
            creator: t.creator,
            comment: `Time recording${t.name ? `: ${t.name}` : ''}`,
          },
          now,
        ),
      );
    }
    return created;
  }
}

function nextTimerecSlot(t: SimTimerec, now: number): { start: number; stop: number } | undefined {
  const day0 = Math.floor(now / 86400) * 86400;
  for (let d = 0; d <= 7; d++) {
    const day = day0 + d * 86400;
    if ((t.daysOfWeek & weekdayBit(day)) === 0) continue;
    const start = day + t.start * 60;
    let stop = day + t.stop * 60;
    if (stop <= start) stop += 86400;
    if (start > now) return { start, stop };
  }
  return undefined;
}

function expandTitle(title: string, at: number): string {
  const iso = new Date(at * 1000).toISOString();
  return title.replace(/%F/g, iso.slice(0, 10)).replace(/%R/g, iso.slice(11, 16));
}

function safeName(title: string): string {
  return title.replace(/[/\\]/g, '-');
}

const regexCache = new Map<string, RegExp | null>();
export function safeRegex(src: string): RegExp | undefined {
  let re = regexCache.get(src);
  if (re === undefined) {
    try {
      re = new RegExp(src, 'i');
    } catch {
      re = null;
    }
    if (regexCache.size > 500) regexCache.clear();
    regexCache.set(src, re);
  }
  return re ?? undefined;
}
