/**
 * Higher-level events derived from the metadata cache's change stream: recordings starting,
 * finishing and failing, the programme on air changing, and reminders before chosen programmes.
 *
 * Sync semantics:
 * - Changes of the very first sync (`initial`) describe the state we found, not something that
 *   happened: they produce no events, unless `emitInitial` is set, in which case an entry that is
 *   already recording produces one 'recordingStarted' with `initial: true`.
 * - Changes found by the reconciliation after a reconnect (`resync`) are real transitions that
 *   happened while we were away and produce events (with `resync: true`): a recording that
 *   started and finished while we were offline yields one 'recordingFinished', no 'recordingStarted'.
 * - Reminders remember what they fired for the life of the object (stop/start included), so a
 *   reconnect, which re-sends the whole EPG, never repeats one.
 */
import { EventEmitter } from 'node:events';
import type { ChangeEvent } from './cache';
import type { Channel, DvrEntry, DvrState, EpgEvent } from './messages';

/** What the automations read from the cache; `MetadataCache` satisfies it. */
export interface AutomationCache {
  get(kind: 'channel', id: number): Channel | undefined;
  get(kind: 'event', id: number): EpgEvent | undefined;
  readonly eventsById: ReadonlyMap<number, EpgEvent>;
}

/** What the automations need from a session; `HtspSession` satisfies it. */
export interface AutomationSession {
  /** Changes arriving while the state is not 'ready' and not flagged `resync` count as initial sync. */
  readonly state: string;
  readonly cache: AutomationCache;
  on(event: 'change', listener: (change: ChangeEvent) => void): unknown;
  off(event: 'change', listener: (change: ChangeEvent) => void): unknown;
}

export interface ReminderRule {
  /** Shown in the reminder; also what tells rules apart in the output. */
  name?: string;
  /** A string matches case-insensitively anywhere in the title; a RegExp is tested as given. */
  title?: string | RegExp;
  /** Only events of these channels. */
  channelIds?: readonly number[];
  /** Genres: 1–15 match the DVB major category (high nibble), 16–255 the exact content byte. */
  contentTypes?: readonly number[];
  /** Minutes before the start; several leads give several reminders per event. */
  leadMinutes: number | readonly number[];
}

export interface AutomationOptions {
  /** The server's clock in epoch **milliseconds** (EPG and DVR times are server times). Default Date.now. */
  now?: () => number;
  /** Report entries found recording at the first sync as 'recordingStarted' with `initial: true`. Default false. */
  emitInitial?: boolean;
  /** Emit 'nowPlaying'. Default true. */
  nowPlaying?: boolean;
  /**
   * A channel may switch to an event the cache does not hold yet (the eventAdd follows); wait this
   * long for it before emitting 'nowPlaying' without `now`. Default 2000 ms; 0 = don't wait.
   */
  nowPlayingWaitMs?: number;
  reminders?: readonly ReminderRule[];
  /**
   * A reminder whose time has passed still fires until the event starts, and in any case until
   * this long after its time (so a 0-minute lead is not lost to timer jitter). Default 60 000 ms.
   */
  reminderLateMs?: number;
  /** Longest single timer wait, so that a clock jump (suspend, NTP) is noticed. Default 60 000 ms. */
  recheckMs?: number;
  /**
   * Reminders an earlier instance fired (from its `firedReminders()`), so that a restart or a
   * redeploy does not remind twice of the same programme.
   */
  firedReminders?: Iterable<readonly [string, number]>;
}

interface RecordingBase {
  /** DVR entry id. */
  id: number;
  entry: DvrEntry;
  /** The entry before this change (absent for adds). */
  previous?: DvrEntry;
  state: DvrState;
  previousState?: DvrState;
  title?: string;
  channelId?: number;
  /** The entry's own channel name, else the cached channel's. */
  channelName?: string;
  /** Found at the first sync (only with `emitInitial`). */
  initial: boolean;
  /** Happened while we were disconnected; found by the reconnect reconciliation. */
  resync: boolean;
  /** Clock (ms) when the event was derived. */
  at: number;
}

export type RecordingEvent = RecordingBase;

export type RecordingFailureCause = 'completed-with-error' | 'missed' | 'error-while-recording';

export interface RecordingFailedEvent extends RecordingBase {
  cause: RecordingFailureCause;
  /** The server's error text (English), or the subscription error code, or "missed". */
  error: string;
  subscriptionError?: string;
}

export interface NowPlayingEvent {
  channelId: number;
  channelName?: string;
  channel: Channel;
  /** 0 = nothing on air. */
  eventId: number;
  nextEventId: number;
  /** The event on air; absent when `eventId` is 0 or the EPG does not hold it. */
  now?: EpgEvent;
  next?: EpgEvent;
  previousEventId?: number;
  /** The event that was on air before, if the cache still holds it. */
  previous?: EpgEvent;
  resync: boolean;
  at: number;
}

export interface ReminderEvent {
  /** `<eventId>:<leadMinutes>`: what deduplicates reminders. */
  key: string;
  rule: ReminderRule;
  ruleName?: string;
  leadMinutes: number;
  event: EpgEvent;
  eventId: number;
  title?: string;
  channelId?: number;
  channelName?: string;
  /** Epoch seconds. */
  start: number;
  stop: number;
  /** Seconds until the start when it fired (less than the lead when it fired late). */
  startsInSeconds: number;
  /** Fired after its time (found late: started late, reconnected late, event moved). */
  late: boolean;
  at: number;
}

export interface AutomationEventMap {
  recordingStarted: [RecordingEvent];
  recordingFinished: [RecordingEvent];
  recordingFailed: [RecordingFailedEvent];
  nowPlaying: [NowPlayingEvent];
  reminder: [ReminderEvent];
}

interface Candidate {
  key: string;
  eventId: number;
  dueMs: number;
  startMs: number;
  stopMs: number;
  lead: number;
  rule: CompiledRule;
}

interface CompiledRule {
  source: ReminderRule;
  title?: (s: string) => boolean;
  channels?: ReadonlySet<number>;
  genres?: readonly number[];
  leads: number[];
}

interface PendingNow {
  eventId: number;
  previousEventId: number | undefined;
  resync: boolean;
  timer: NodeJS.Timeout;
}

/** Keep fired keys this long after the event ended, in case the EPG re-sends it. */
const FIRED_KEEP_MS = 6 * 3600_000;

export class AutomationEvents extends EventEmitter<AutomationEventMap> {
  private readonly session: AutomationSession;
  private readonly now: () => number;
  private readonly emitInitial: boolean;
  private readonly nowPlayingEnabled: boolean;
  private readonly waitMs: number;
  private readonly lateMs: number;
  private readonly recheckMs: number;
  private rules: CompiledRule[] = [];

  private running = false;
  /** Reminder candidates of matching events, by event id: few, so scanning them is cheap. */
  private readonly candidates = new Map<number, Candidate[]>();
  /** Fired reminder keys → when they may be forgotten. */
  private readonly fired = new Map<string, number>();
  private reminderTimer: NodeJS.Timeout | undefined;
  private checkQueued = false;
  private readonly pendingNow = new Map<number, PendingNow>();
  /** Error signature last reported per DVR entry during its current run. */
  private readonly reportedError = new Map<number, string>();

  constructor(session: AutomationSession, opts: AutomationOptions = {}) {
    super();
    this.session = session;
    this.now = opts.now ?? Date.now;
    this.emitInitial = opts.emitInitial === true;
    this.nowPlayingEnabled = opts.nowPlaying !== false;
    this.waitMs = nonNegative(opts.nowPlayingWaitMs, 2000);
    this.lateMs = nonNegative(opts.reminderLateMs, 60_000);
    this.recheckMs = Math.max(1, nonNegative(opts.recheckMs, 60_000));
    this.rules = compileRules(opts.reminders ?? []);
    const now = this.now();
    for (const entry of opts.firedReminders ?? []) {
      if (!Array.isArray(entry)) continue;
      const [key, until] = entry;
      if (typeof key === 'string' && typeof until === 'number' && until >= now) this.fired.set(key, until);
    }
  }

  /** Reminders fired and still worth remembering, as `[key, forget after (ms)]`: keep them across restarts. */
  firedReminders(): Array<[string, number]> {
    return [...this.fired];
  }

  /** Starts listening (idempotent); reminders are computed for what the cache already holds. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.session.on('change', this.onChange);
    this.rescanReminders();
  }

  /** Stops listening and drops timers. Fired reminders stay remembered. */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.session.off('change', this.onChange);
    if (this.reminderTimer) clearTimeout(this.reminderTimer);
    this.reminderTimer = undefined;
    for (const p of this.pendingNow.values()) clearTimeout(p.timer);
    this.pendingNow.clear();
    this.candidates.clear();
    this.reportedError.clear();
  }

  /** Replaces the reminder rules; events already reminded of stay reminded. */
  setReminders(rules: readonly ReminderRule[]): void {
    this.rules = compileRules(rules);
    if (this.running) this.rescanReminders();
  }

  /** Fires due reminders and re-arms the timer; call after moving a test clock. */
  check(): void {
    if (!this.running) return;
    const now = this.now();
    const due: Candidate[] = [];
    let next = Infinity;
    for (const [eventId, list] of this.candidates) {
      const keep = list.filter((c) => !this.fired.has(c.key) && now < this.deadline(c));
      if (keep.length === 0) {
        this.candidates.delete(eventId);
        continue;
      }
      if (keep.length !== list.length) this.candidates.set(eventId, keep);
      for (const c of keep) {
        if (now >= c.dueMs) due.push(c);
        else if (c.dueMs < next) next = c.dueMs;
      }
    }
    due.sort((a, b) => a.dueMs - b.dueMs || a.eventId - b.eventId || b.lead - a.lead);
    for (const c of due) {
      if (!this.running) return;
      if (this.fired.has(c.key)) continue;
      this.fired.set(c.key, Math.max(c.stopMs, c.startMs) + FIRED_KEEP_MS);
      this.emitReminder(c, now);
    }
    for (const [key, until] of this.fired) if (until < now) this.fired.delete(key);
    this.arm(next, now);
  }

  /** How many reminder candidates are waiting (diagnostics). */
  get pendingReminders(): number {
    let n = 0;
    for (const list of this.candidates.values()) for (const c of list) if (!this.fired.has(c.key)) n++;
    return n;
  }

  // ------------------------------------------------------------------ dispatch

  private readonly onChange = (change: ChangeEvent): void => {
    if (!this.running) return;
    switch (change.kind) {
      case 'dvrEntry':
        this.onDvr(change);
        break;
      case 'channel':
        this.onChannel(change);
        break;
      case 'event':
        this.onEvent(change);
        break;
      default:
        break;
    }
  };

  private isInitial(change: ChangeEvent): boolean {
    if (change.initial === true) return true;
    if (change.resync === true) return false;
    return change.initial === undefined && this.session.state !== 'ready';
  }

  // ------------------------------------------------------------------ recordings

  private onDvr(change: Extract<ChangeEvent, { kind: 'dvrEntry' }>): void {
    const id = change.object.id;
    if (change.action === 'delete') {
      this.reportedError.delete(id);
      return;
    }
    const entry = change.object;
    const previous = change.action === 'update' ? change.previous : undefined;
    const state = entry.state;
    const prevState = previous?.state;
    const initial = this.isInitial(change);
    const resync = change.resync === true;

    if (initial) {
      const sig = errorSignature(entry);
      if (state === 'recording' && sig) this.reportedError.set(id, sig);
      if (this.emitInitial && state === 'recording') {
        this.emit('recordingStarted', this.recording(entry, previous, true, false));
      }
      return;
    }

    if (state === prevState) {
      if (state === 'recording') this.checkRecordingError(entry, previous, resync);
      return;
    }

    switch (state) {
      case 'recording':
        this.reportedError.delete(id);
        this.emit('recordingStarted', this.recording(entry, previous, false, resync));
        this.checkRecordingError(entry, previous, resync);
        break;
      case 'completed': {
        const sig = errorSignature(entry);
        const already = this.reportedError.get(id);
        this.reportedError.delete(id);
        if (entry.error) {
          // Reported while recording with the same text: one failure per recording is enough.
          if (already !== sig) this.emitFailed(entry, previous, 'completed-with-error', resync);
        } else {
          this.emit('recordingFinished', this.recording(entry, previous, false, resync));
        }
        break;
      }
      case 'missed':
        this.reportedError.delete(id);
        this.emitFailed(entry, previous, 'missed', resync);
        break;
      case 'scheduled':
        // Rescheduled: a new run, with its own errors.
        this.reportedError.delete(id);
        break;
      default:
        break;
    }
  }

  private checkRecordingError(entry: DvrEntry, previous: DvrEntry | undefined, resync: boolean): void {
    const sig = errorSignature(entry);
    if (!sig || this.reportedError.get(entry.id) === sig) return;
    this.reportedError.set(entry.id, sig);
    this.emitFailed(entry, previous, 'error-while-recording', resync);
  }

  private emitFailed(entry: DvrEntry, previous: DvrEntry | undefined, cause: RecordingFailureCause, resync: boolean): void {
    const base = this.recording(entry, previous, false, resync);
    const error = entry.error || entry.subscriptionError || (cause === 'missed' ? 'missed' : 'unknown error');
    const ev: RecordingFailedEvent = { ...base, cause, error };
    if (entry.subscriptionError) ev.subscriptionError = entry.subscriptionError;
    this.emit('recordingFailed', ev);
  }

  private recording(entry: DvrEntry, previous: DvrEntry | undefined, initial: boolean, resync: boolean): RecordingEvent {
    const ev: RecordingEvent = { id: entry.id, entry, state: entry.state, initial, resync, at: this.now() };
    if (previous) {
      ev.previous = previous;
      ev.previousState = previous.state;
    }
    if (entry.title !== undefined) ev.title = entry.title;
    if (entry.channel !== undefined) ev.channelId = entry.channel;
    const name = entry.channelName ?? (entry.channel !== undefined ? this.session.cache.get('channel', entry.channel)?.channelName : undefined);
    if (name !== undefined) ev.channelName = name;
    return ev;
  }

  // ------------------------------------------------------------------ now playing

  private onChannel(change: Extract<ChangeEvent, { kind: 'channel' }>): void {
    const channelId = change.object.channelId;
    if (change.action === 'delete') {
      const p = this.pendingNow.get(channelId);
      if (p) clearTimeout(p.timer);
      this.pendingNow.delete(channelId);
      return;
    }
    if (!this.nowPlayingEnabled || change.action !== 'update' || this.isInitial(change)) return;
    if (!change.changed.includes('eventId')) return;
    const pending = this.pendingNow.get(channelId);
    const previousEventId = pending ? pending.previousEventId : change.previous?.eventId;
    if (pending) {
      clearTimeout(pending.timer);
      this.pendingNow.delete(channelId);
    }
    const eventId = change.object.eventId;
    const resync = change.resync === true || pending?.resync === true;
    if (eventId && this.waitMs > 0 && !this.session.cache.get('event', eventId)) {
      const timer = setTimeout(() => {
        this.pendingNow.delete(channelId);
        this.emitNowPlaying(channelId, previousEventId, resync);
      }, this.waitMs);
      timer.unref();
      this.pendingNow.set(channelId, { eventId, previousEventId, resync, timer });
      return;
    }
    this.emitNowPlaying(channelId, previousEventId, resync);
  }

  private emitNowPlaying(channelId: number, previousEventId: number | undefined, resync: boolean): void {
    if (!this.running) return;
    const cache = this.session.cache;
    const channel = cache.get('channel', channelId);
    if (!channel) return;
    const eventId = channel.eventId ?? 0;
    // It flipped back while we waited for the EPG: nothing changed after all.
    if (previousEventId !== undefined && eventId === previousEventId) return;
    const now = eventId ? cache.get('event', eventId) : undefined;
    const nextEventId = channel.nextEventId || now?.nextEventId || 0;
    const next = nextEventId ? cache.get('event', nextEventId) : undefined;
    const ev: NowPlayingEvent = { channelId, channel, eventId, nextEventId, resync, at: this.now() };
    if (channel.channelName !== undefined) ev.channelName = channel.channelName;
    if (now) ev.now = now;
    if (next) ev.next = next;
    if (previousEventId !== undefined) {
      ev.previousEventId = previousEventId;
      const prev = previousEventId ? cache.get('event', previousEventId) : undefined;
      if (prev) ev.previous = prev;
    }
    this.emit('nowPlaying', ev);
  }

  // ------------------------------------------------------------------ EPG events

  private onEvent(change: Extract<ChangeEvent, { kind: 'event' }>): void {
    const ev = change.object;
    if (change.action === 'delete') {
      if (this.candidates.delete(ev.eventId)) this.queueCheck();
      return;
    }
    for (const [channelId, p] of this.pendingNow) {
      if (p.eventId === ev.eventId) {
        clearTimeout(p.timer);
        this.pendingNow.delete(channelId);
        this.emitNowPlaying(channelId, p.previousEventId, p.resync);
      }
    }
    if (this.rules.length === 0) return;
    const had = this.candidates.has(ev.eventId);
    this.evaluate(ev, this.now());
    if (had || this.candidates.has(ev.eventId)) this.queueCheck();
  }

  // ------------------------------------------------------------------ reminders

  private rescanReminders(): void {
    this.candidates.clear();
    if (this.rules.length > 0) {
      const now = this.now();
      for (const ev of this.session.cache.eventsById.values()) this.evaluate(ev, now);
    }
    this.check();
  }

  private evaluate(ev: EpgEvent, now: number): void {
    this.candidates.delete(ev.eventId);
    if (typeof ev.start !== 'number') return;
    const startMs = ev.start * 1000;
    const stopMs = (typeof ev.stop === 'number' ? ev.stop : ev.start) * 1000;
    const list: Candidate[] = [];
    for (const rule of this.rules) {
      if (!matches(rule, ev)) continue;
      for (const lead of rule.leads) {
        const key = `${ev.eventId}:${lead}`;
        if (list.some((c) => c.key === key)) continue;
        const c: Candidate = { key, eventId: ev.eventId, dueMs: startMs - lead * 60_000, startMs, stopMs, lead, rule };
        if (now < this.deadline(c) && !this.fired.has(key)) list.push(c);
      }
    }
    if (list.length) this.candidates.set(ev.eventId, list);
  }

  private deadline(c: Candidate): number {
    return Math.max(c.startMs, c.dueMs + this.lateMs);
  }

  /** Coalesces the many EPG changes of a sync into one scan. */
  private queueCheck(): void {
    if (this.checkQueued) return;
    this.checkQueued = true;
    setImmediate(() => {
      this.checkQueued = false;
      this.check();
    }).unref();
  }

  private arm(next: number, now: number): void {
    if (this.reminderTimer) clearTimeout(this.reminderTimer);
    this.reminderTimer = undefined;
    if (!this.running || next === Infinity) return;
    const delay = Math.min(Math.max(0, next - now), this.recheckMs);
    this.reminderTimer = setTimeout(() => {
      this.reminderTimer = undefined;
      this.check();
    }, delay);
    this.reminderTimer.unref();
  }

  private emitReminder(c: Candidate, now: number): void {
    const event = this.session.cache.get('event', c.eventId);
    if (!event) return;
    const ev: ReminderEvent = {
      key: c.key,
      rule: c.rule.source,
      leadMinutes: c.lead,
      event,
      eventId: c.eventId,
      start: event.start,
      stop: event.stop,
      startsInSeconds: Math.round((c.startMs - now) / 1000),
      late: now - c.dueMs >= 1000,
      at: now,
    };
    if (c.rule.source.name !== undefined) ev.ruleName = c.rule.source.name;
    if (event.title !== undefined) ev.title = event.title;
    if (event.channelId !== undefined) {
      ev.channelId = event.channelId;
      const name = this.session.cache.get('channel', event.channelId)?.channelName;
      if (name !== undefined) ev.channelName = name;
    }
    this.emit('reminder', ev);
  }
}

function compileRules(rules: readonly ReminderRule[]): CompiledRule[] {
  return rules.map((r, i) => {
    const leads = (Array.isArray(r.leadMinutes) ? r.leadMinutes : [r.leadMinutes]) as readonly number[];
    for (const l of leads) {
      if (typeof l !== 'number' || !Number.isFinite(l) || l < 0) {
        throw new RangeError(`reminder rule ${r.name ?? i}: leadMinutes must be numbers >= 0, got ${String(l)}`);
      }
    }
    const c: CompiledRule = { source: r, leads: [...new Set(leads)] };
    if (r.title instanceof RegExp) {
      // A global/sticky RegExp keeps state between test() calls; matching must not.
      const re = new RegExp(r.title.source, r.title.flags.replace(/[gy]/g, ''));
      c.title = (s) => re.test(s);
    } else if (typeof r.title === 'string' && r.title !== '') {
      const needle = r.title.toLowerCase();
      c.title = (s) => s.toLowerCase().includes(needle);
    }
    if (r.channelIds && r.channelIds.length) c.channels = new Set(r.channelIds);
    if (r.contentTypes && r.contentTypes.length) c.genres = [...r.contentTypes];
    return c;
  });
}

function matches(rule: CompiledRule, ev: EpgEvent): boolean {
  if (rule.title && !(typeof ev.title === 'string' && rule.title(ev.title))) return false;
  if (rule.channels && !(ev.channelId !== undefined && rule.channels.has(ev.channelId))) return false;
  if (rule.genres) {
    const ct = ev.contentType;
    if (typeof ct !== 'number') return false;
    if (!rule.genres.some((g) => (g < 16 ? ct >> 4 === g : ct === g))) return false;
  }
  return true;
}

function errorSignature(entry: DvrEntry): string {
  if (!entry.error && !entry.subscriptionError) return '';
  return `${entry.error ?? ''}\u0000${entry.subscriptionError ?? ''}`;
}

function nonNegative(v: number | undefined, dflt: number): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : dflt;
}
