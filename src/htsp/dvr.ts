/**
 * DVR operations over a session: record an EPG event or what is on a channel now, set a manual
 * timer, change, stop, cancel or delete a recording, stop whatever is running; add, change and
 * delete autorec and timerec rules; list all three.
 *
 * The replies of the DVR methods say little more than "success" (G19), so every operation resolves
 * with what the session's cache shows once the server has pushed the change it caused. That wait
 * is bounded: a user who may not see an entry gets no update for it, and the id is then all there
 * is to report.
 */
import type { CacheId, CacheObjects, ChangeEvent, ChangeEventOf, MetadataCache } from './cache';
import type { HtsmsgMap } from './codec';
import { withChangeWatch, type ChangeSource, type ChangeWatch } from './change-watch';
import { HtspError } from './errors';
import { pickNowNext } from './epg-source';
import type {
  AccessRights,
  AddAutorecEntryRequest,
  AddDvrEntryRequest,
  AddTimerecEntryRequest,
  AutorecEntry,
  Channel,
  DupDetect,
  DvrEntry,
  ManualTimerFields,
  DvrPriority,
  EpgEvent,
  HtspMethodName,
  HtspReply,
  HtspRequest,
  TimerecEntry,
  UpdateAutorecEntryRequest,
  UpdateDvrEntryRequest,
  UpdateTimerecEntryRequest,
} from './messages';

/** How long an operation waits, by default, for the server to push the change it caused. */
export const DVR_CHANGE_WAIT_MS = 3000;

/**
 * What the DVR operations need of a session. `HtspSession` has all of it; so has the MQTT
 * bridge's narrower view of a session, which is why requests go out through `callRaw`.
 */
export interface DvrSession extends ChangeSource {
  readonly rights?: AccessRights | undefined;
  readonly cache: MetadataCache;
  callRaw(method: string, fields?: HtsmsgMap, opts?: { timeoutMs?: number }): Promise<HtsmsgMap>;
  findChannel(ref: number | string): Channel | undefined;
  nowNext(channelId: number, at?: number): { now?: EpgEvent; next?: EpgEvent };
  /** The server's clock, epoch seconds. */
  serverNow(): number;
}

/**
 * What a person means by the state of a recording. Tvheadend reports a failed recording as
 * `completed` with an `error`, and one that never started as `missed`; both are `failed` here.
 */
export const DVR_STATUSES = ['upcoming', 'recording', 'completed', 'failed'] as const;
export type DvrStatus = (typeof DVR_STATUSES)[number];

export function dvrStatus(entry: Pick<DvrEntry, 'state' | 'error'>): DvrStatus {
  switch (entry.state) {
    case 'scheduled':
      return 'upcoming';
    case 'recording':
      return 'recording';
    case 'completed':
      return entry.error ? 'failed' : 'completed';
    default:
      // `missed`, `invalid`, and states of newer servers: nothing usable was recorded.
      return 'failed';
  }
}

export interface DvrWaitOptions {
  /** How long to wait for the server's push of the change; default DVR_CHANGE_WAIT_MS. */
  waitMs?: number;
  /** Per request sent; default the session's request timeout. */
  timeoutMs?: number;
}

/** Settings every new entry or rule may carry. */
export interface DvrEntryOptions {
  /** DVR configuration name or UUID; absent or '' = the user's default. */
  configName?: string;
  priority?: DvrPriority;
  /** Padding in minutes. */
  startExtra?: number;
  /** Padding in minutes. */
  stopExtra?: number;
  /** Days; 0 = the DVR configuration's value. */
  retention?: number;
  /** Days; 0 = the DVR configuration's value. */
  removal?: number;
  comment?: string;
}

export type RecordOptions = DvrEntryOptions & DvrWaitOptions;

/** A manual timer: the request's own fields (`start`/`stop` without the padding). */
export interface TimerOptions extends DvrEntryOptions, DvrWaitOptions, Omit<ManualTimerFields, 'ageRating'> {}

/**
 * Changes to a DVR entry; only the fields given are sent. Tvheadend reads 0 as "unchanged" for
 * start, stop, padding, retention and removal, and priority 5 likewise, so none of those can be
 * set to such a value. Entries that are recording or finished accept only some fields
 * (DVR_FIELDS_ONCE_STARTED).
 */
export interface DvrEntryChanges {
  channelId?: number;
  enabled?: boolean;
  /** DVR configuration name or UUID. */
  configName?: string;
  /** Epoch seconds, padding not included. */
  start?: number;
  /** Epoch seconds, padding not included. */
  stop?: number;
  /** Padding in minutes, 1 or more. */
  startExtra?: number;
  /** Padding in minutes, 1 or more. */
  stopExtra?: number;
  priority?: DvrPriority;
  /** Days, 1 or more. */
  retention?: number;
  /** Days, 1 or more. */
  removal?: number;
  title?: string;
  subtitle?: string;
  summary?: string;
  description?: string;
  comment?: string;
  /** See DVR_PLAYCOUNT (messages.ts) for the values with a special meaning. */
  playcount?: number;
  playposition?: number;
}

/** What Tvheadend still changes in an entry that is recording or completed (v28+). */
export const DVR_FIELDS_ONCE_STARTED: readonly (keyof DvrEntryChanges)[] = [
  'enabled',
  'stop',
  'stopExtra',
  'playcount',
  'playposition',
  'retention',
  'removal',
  'title',
  'subtitle',
  'summary',
];
/** What Tvheadend still changes in an entry that was missed or is invalid. */
const DVR_FIELDS_ONCE_OVER: readonly (keyof DvrEntryChanges)[] = ['enabled', 'stop', 'stopExtra'];

export interface AutorecOptions extends DvrEntryOptions, DvrWaitOptions {
  /** Regular expression (Tvheadend's, case-insensitive) matched against event titles. */
  title: string;
  /** Absent or -1 = any channel. */
  channelId?: number;
  /** Display name of the rule. */
  name?: string;
  /** Match the pattern against every text field, not only the title. */
  fullText?: boolean;
  enabled?: boolean;
  /** Seconds; 0 = any. */
  minDuration?: number;
  /** Seconds; 0 = any. */
  maxDuration?: number;
  /** Bit 0 = Monday … bit 6 = Sunday. */
  daysOfWeek?: number;
  dupDetect?: DupDetect;
  /** 0 = unlimited. */
  maxCount?: number;
  directory?: string;
}

/**
 * Changes to an autorec rule; only the fields given change. `channelId` absent keeps the rule's
 * channel (the library sends it again, see G18); -1 = any channel.
 */
export type AutorecChanges = Partial<Omit<AutorecOptions, keyof DvrWaitOptions>>;

export interface TimerecOptions extends DvrWaitOptions {
  /** Time rules need a channel: Tvheadend does not record one without. */
  channelId: number;
  /** Minutes after midnight, server local time (0–1439). */
  start: number;
  /** Minutes after midnight (0–1439); before `start` = the next day. */
  stop: number;
  /** Title of the recordings; Tvheadend expands strftime placeholders such as %F and %R. */
  title: string;
  /** Display name of the rule. */
  name?: string;
  /** Bit 0 = Monday … bit 6 = Sunday; default every day. */
  daysOfWeek?: number;
  enabled?: boolean;
  directory?: string;
  /** DVR configuration name or UUID; absent or '' = the user's default. */
  configName?: string;
  priority?: DvrPriority;
  /** Days; 0 = the DVR configuration's value. */
  retention?: number;
  /** Days; 0 = the DVR configuration's value. */
  removal?: number;
  comment?: string;
}

/** Changes to a timerec rule, as AutorecChanges. */
export type TimerecChanges = Partial<Omit<TimerecOptions, keyof DvrWaitOptions | 'channelId'>> & {
  /** Absent keeps the rule's channel. */
  channelId?: number;
};

/** What an operation on a DVR entry left behind. */
export interface DvrEntryResult {
  id: number;
  /**
   * The entry as the cache shows it after the change; when the entry is gone, its last known
   * state. Absent when the session never saw the entry (the user may not see it).
   */
  entry?: DvrEntry;
  /** The entry no longer exists on the server. */
  removed: boolean;
}

/** What an operation on an autorec or timerec rule left behind. */
export interface RuleResult<R> {
  id: string;
  /** The rule as cached; for a deleted rule its last known state. Absent when the session never saw it. */
  rule?: R;
  removed: boolean;
}
export type AutorecResult = RuleResult<AutorecEntry>;
export type TimerecResult = RuleResult<TimerecEntry>;

/** recordNow's result: the new entry and what it records. */
export interface RecordNowResult extends DvrEntryResult {
  /** The programme running when asked. */
  event: EpgEvent;
  channel: Channel;
}

/** Which running recordings stopRunning stops: one by id, those on a channel, or (neither) all. */
export interface RunningSelection {
  id?: number;
  channel?: number | string | Channel;
}

export interface StopRunningResult {
  /** What the cache shows after each stop (the entry as it was when the push did not come in time). */
  stopped: Array<DvrEntryResult & { entry: DvrEntry }>;
  /** Those the server refused, with why; the others were still stopped. */
  failed: Array<{ id: number; entry: DvrEntry; error: unknown }>;
}

const MAX_ID = 0x7fffffff;
const MINUTES_PER_DAY = 24 * 60;

type EntryChange = ChangeEventOf<'dvrEntry'>;
type RuleKind = 'autorecEntry' | 'timerecEntry';
type RuleOf<K extends RuleKind> = CacheObjects[K];

function badInput(message: string): HtspError {
  return new HtspError('bad-input', message);
}

function checkId(id: number, what: string): void {
  if (!Number.isInteger(id) || id < 1 || id > MAX_ID) throw badInput(`${what} must be a whole number from 1 to ${MAX_ID}, got ${String(id)}`);
}

function checkWhole(value: number, what: string, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) throw badInput(`${what} must be a whole number from ${min} to ${max}, got ${String(value)}`);
}

function checkRuleId(id: string, what: string): void {
  if (typeof id !== 'string' || id.trim() === '') throw badInput(`${what} id must be non-empty text`);
}

/** A missing right costs the server a deliberate 250 ms per request (G16): don't ask in vain. */
function requireDvrRights(session: DvrSession): void {
  if (session.rights && !session.rights.dvr) throw new HtspError('noaccess', 'the Tvheadend user has no DVR rights');
}

/** What `HtspSession.call` does too: the method table types the fields, `callRaw` carries them. */
function call<M extends HtspMethodName>(session: DvrSession, method: M, fields: HtspRequest<M>, opts: DvrWaitOptions): Promise<HtspReply<M>> {
  const timeout = opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : undefined;
  return session.callRaw(method, fields as HtsmsgMap, timeout) as Promise<HtspReply<M>>;
}

/**
 * Some DVR methods answer `success: 0` without an `error`; that is a failure too. A connection
 * rejects replies that carry an `error` before this sees them; a session double may not.
 */
function checkSuccess(reply: { success?: number; error?: unknown }, method: string): void {
  if (reply.success === 0) {
    const text = typeof reply.error === 'string' && reply.error !== '' ? reply.error : `Tvheadend did not carry out ${method}`;
    throw new HtspError('server', text, { method });
  }
}

function entryFields(opts: DvrEntryOptions): DvrEntryOptions {
  const out: DvrEntryOptions = {};
  // '' names no configuration; leaving the field out is what selects the user's default.
  if (opts.configName) out.configName = opts.configName;
  if (opts.priority !== undefined) out.priority = opts.priority;
  if (opts.startExtra !== undefined) out.startExtra = opts.startExtra;
  if (opts.stopExtra !== undefined) out.stopExtra = opts.stopExtra;
  if (opts.retention !== undefined) out.retention = opts.retention;
  if (opts.removal !== undefined) out.removal = opts.removal;
  if (opts.comment !== undefined) out.comment = opts.comment;
  return out;
}

/** An event id the server knows. Tvheadend would silently turn an unknown one into a manual timer. */
async function checkEvent(session: DvrSession, eventId: number, opts: DvrWaitOptions): Promise<void> {
  if (session.cache.eventsById.has(eventId)) return;
  try {
    await call(session, 'getEvent', { eventId }, opts);
  } catch (err) {
    if (err instanceof HtspError && err.code === 'server') throw badInput(`unknown EPG event ${eventId}: ${err.message}`);
    throw err;
  }
}

/** Waits for a change of one object that touches one of `fields` (or removes it). */
function waitForFields(watch: ChangeWatch, kind: ChangeEvent['kind'], id: number | string, fields: ReadonlySet<string>, waitMs: number): Promise<ChangeEvent | undefined> {
  return watch.waitFor((c) => c.kind === kind && c.id === id && (c.action === 'delete' || c.changed.some((f) => fields.has(f))), waitMs);
}

// ------------------------------------------------------------------ DVR entries

async function addEntry(session: DvrSession, request: AddDvrEntryRequest, opts: DvrWaitOptions): Promise<DvrEntryResult> {
  return withChangeWatch(session, async (watch) => {
    const reply = await call(session, 'addDvrEntry', request, opts);
    checkSuccess(reply, 'addDvrEntry');
    const id = reply.id;
    if (id === undefined) throw new HtspError('server', 'Tvheadend added the entry but did not say its id', { method: 'addDvrEntry' });
    const cached = session.cache.dvrEntriesById.get(id);
    if (cached) return { id, entry: cached, removed: false };
    const change = await watch.waitFor(
      (c): c is EntryChange => c.kind === 'dvrEntry' && c.action === 'add' && c.id === id,
      opts.waitMs ?? DVR_CHANGE_WAIT_MS,
    );
    const entry = session.cache.dvrEntriesById.get(id) ?? change?.object;
    return entry ? { id, entry, removed: false } : { id, removed: false };
  });
}

/** After a change was asked for: the cached entry, or its last known state when it is gone. */
function entryAfter(session: DvrSession, id: number, before: DvrEntry, change: ChangeEvent | undefined): DvrEntryResult {
  const now = session.cache.dvrEntriesById.get(id);
  if (now) return { id, entry: now, removed: false };
  return { id, entry: change?.kind === 'dvrEntry' ? change.object : before, removed: true };
}

/**
 * Records an EPG event. An event object (from the cache or an EPG answer) is taken as known; a
 * bare id is first checked with the server.
 */
export async function recordEvent(session: DvrSession, event: number | EpgEvent, opts: RecordOptions = {}): Promise<DvrEntryResult> {
  requireDvrRights(session);
  const eventId = typeof event === 'number' ? event : event.eventId;
  checkId(eventId, 'an EPG event id');
  if (typeof event === 'number') await checkEvent(session, eventId, opts);
  return addEntry(session, { eventId, ...entryFields(opts) }, opts);
}

/**
 * The programme running now on a channel: from the cache, or, when the cache has none (EPG sync
 * off, or a gap in what was synced), from the server. `getEvents` from a channel starts at its
 * current programme, or at the next one when nothing runs.
 */
async function runningEvent(session: DvrSession, channelId: number, opts: DvrWaitOptions = {}): Promise<EpgEvent | undefined> {
  const cached = session.nowNext(channelId).now;
  if (cached) return cached;
  // Three events, as the EPG source asks: the first may have ended between the server's clock and ours.
  const reply = await call(session, 'getEvents', { channelId, numFollowing: 3 }, opts);
  return pickNowNext(Array.isArray(reply.events) ? reply.events : [], session.serverNow()).now;
}

function channelFor(session: DvrSession, ref: number | string | Channel): Channel {
  if (typeof ref === 'object' && ref !== null) return ref;
  if (typeof ref !== 'number' && typeof ref !== 'string') throw badInput('a channel must be given by id, name or number');
  const ch = session.findChannel(ref);
  if (!ch) throw badInput(`no channel matches ${JSON.stringify(ref)}`);
  return ch;
}

/** Records the programme running now on a channel (id, name, number, or the channel itself). */
export async function recordNow(session: DvrSession, channel: number | string | Channel, opts: RecordOptions = {}): Promise<RecordNowResult> {
  requireDvrRights(session);
  const ch = channelFor(session, channel);
  const event = await runningEvent(session, ch.channelId, opts);
  if (!event) throw badInput(`nothing is on ${ch.channelName} now (no EPG event)`);
  const added = await addEntry(session, { eventId: event.eventId, ...entryFields(opts) }, opts);
  return { ...added, event, channel: ch };
}

/** Sets a manual timer on a channel. */
export async function addTimer(session: DvrSession, timer: TimerOptions): Promise<DvrEntryResult> {
  requireDvrRights(session);
  const { channelId, start, stop, title } = timer;
  checkId(channelId, 'a channel id');
  if (!Number.isFinite(start) || !Number.isFinite(stop)) throw badInput('a timer needs a start and a stop time (epoch seconds)');
  if (stop <= start) throw badInput(`a timer's stop must be after its start`);
  if (stop <= session.serverNow()) throw badInput('the timer ends in the past');
  // The server refuses an empty title with an error that does not say why.
  if (!title.trim()) throw badInput('a timer needs a title');
  const request: AddDvrEntryRequest = { channelId, start, stop, title, ...entryFields(timer) };
  if (timer.subtitle !== undefined) request.subtitle = timer.subtitle;
  if (timer.summary !== undefined) request.summary = timer.summary;
  if (timer.description !== undefined) request.description = timer.description;
  return addEntry(session, request, timer);
}

type EntryMethod = 'stopDvrEntry' | 'cancelDvrEntry' | 'deleteDvrEntry';

/** Whether `method` will change `entry`, and so push something worth waiting for. */
function willChange(method: EntryMethod, entry: DvrEntry): boolean {
  if (method === 'stopDvrEntry') return entry.state === 'recording';
  if (method === 'cancelDvrEntry') return entry.state === 'recording' || entry.state === 'scheduled';
  return true;
}

async function changeEntry(session: DvrSession, method: EntryMethod, id: number, opts: DvrWaitOptions): Promise<DvrEntryResult> {
  requireDvrRights(session);
  checkId(id, 'a DVR entry id');
  const before = session.cache.dvrEntriesById.get(id);
  return withChangeWatch(session, async (watch) => {
    const reply = await call(session, method, { id }, opts);
    checkSuccess(reply, method);
    if (!before) return { id, removed: false };
    let change: EntryChange | undefined;
    if (willChange(method, before)) {
      change = await watch.waitFor(
        (c): c is EntryChange =>
          c.kind === 'dvrEntry' && c.id === id && (c.action === 'delete' || c.object.state !== before.state || c.object.error !== before.error),
        opts.waitMs ?? DVR_CHANGE_WAIT_MS,
      );
    }
    return entryAfter(session, id, before, change);
  });
}

/** Ends a running recording as a normal, successful one; for any other entry the server does nothing. */
export function stopRecording(session: DvrSession, id: number, opts: DvrWaitOptions = {}): Promise<DvrEntryResult> {
  return changeEntry(session, 'stopDvrEntry', id, opts);
}

/** Unschedules an upcoming entry, or aborts a running recording (entry and file kept, `error` set). */
export function cancelRecording(session: DvrSession, id: number, opts: DvrWaitOptions = {}): Promise<DvrEntryResult> {
  return changeEntry(session, 'cancelDvrEntry', id, opts);
}

/** Removes an entry; a running or finished one loses its files. */
export function deleteRecording(session: DvrSession, id: number, opts: DvrWaitOptions = {}): Promise<DvrEntryResult> {
  return changeEntry(session, 'deleteDvrEntry', id, opts);
}

/**
 * Stops running recordings: the one with `id`, those on `channel`, or, with neither, all of them
 * (what a "stop recording" button means). Each is stopped on its own, so that one the server
 * refuses does not leave the others recording; only when every one fails does this reject.
 * Results keep the order of the entries in the cache.
 */
export async function stopRunning(session: DvrSession, which: RunningSelection = {}, opts: DvrWaitOptions = {}): Promise<StopRunningResult> {
  requireDvrRights(session);
  let running = session.cache.dvrEntries().filter((e) => e.state === 'recording');
  if (which.id !== undefined) {
    const { id } = which;
    running = running.filter((e) => e.id === id);
    if (running.length === 0) throw badInput(`no running recording has id ${String(id)}`);
  } else if (which.channel !== undefined) {
    const ch = channelFor(session, which.channel);
    running = running.filter((e) => e.channel === ch.channelId);
  }
  // All at once: each waits for its own push, and none should go on recording while another waits.
  const outcomes = await Promise.allSettled(running.map((e) => changeEntry(session, 'stopDvrEntry', e.id, opts)));
  const result: StopRunningResult = { stopped: [], failed: [] };
  outcomes.forEach((o, i) => {
    const e = running[i];
    if (o.status === 'fulfilled') result.stopped.push({ ...o.value, entry: o.value.entry ?? e });
    else result.failed.push({ id: e.id, entry: e, error: o.reason });
  });
  const { failed } = result;
  if (result.stopped.length === 0 && failed.length > 0) {
    throw new HtspError('server', `could not stop ${failed.length === 1 ? 'the recording' : `${failed.length} recordings`}`, {
      method: 'stopDvrEntry',
      cause: failed[0].error,
    });
  }
  return result;
}

/** The entry field an `updateDvrEntry` request field shows up in. */
const DVR_FIELD_OF: Partial<Record<keyof DvrEntryChanges, keyof DvrEntry>> = { channelId: 'channel', configName: 'configId' };

/** Request fields whose 0 (or 5, for priority) Tvheadend reads as "unchanged" (G19). */
const KEEP_VALUES: Partial<Record<keyof DvrEntryChanges, number>> = {
  start: 0,
  stop: 0,
  startExtra: 0,
  stopExtra: 0,
  retention: 0,
  removal: 0,
  priority: 5,
};

function validateEntryChanges(session: DvrSession, changes: DvrEntryChanges): void {
  const { channelId, start, stop } = changes;
  if (channelId !== undefined) {
    checkId(channelId, 'a channel id');
    // Tvheadend keeps the old channel for an id it does not know, and says nothing.
    if (session.cache.channelsById.size > 0 && !session.cache.channelsById.has(channelId)) throw badInput(`no channel has the id ${channelId}`);
  }
  for (const key of ['start', 'stop'] as const) {
    const v = changes[key];
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw badInput(`${key} must be a time in epoch seconds, got ${String(v)}`);
  }
  if (start !== undefined && stop !== undefined && stop <= start) throw badInput(`a recording's stop must be after its start`);
  for (const key of ['startExtra', 'stopExtra'] as const) {
    const v = changes[key];
    if (v !== undefined) checkWhole(v, `${key} (minutes)`, 0, MINUTES_PER_DAY);
  }
  for (const key of ['retention', 'removal', 'playcount', 'playposition'] as const) {
    const v = changes[key];
    if (v !== undefined) checkWhole(v, key, 0, MAX_ID);
  }
  if (changes.priority !== undefined) checkWhole(changes.priority, 'priority', 0, 6);
  for (const [key, keep] of Object.entries(KEEP_VALUES)) {
    if (changes[key as keyof DvrEntryChanges] === keep) {
      throw badInput(`${key} cannot be set to ${keep} by an update: Tvheadend reads ${keep} as "leave unchanged"`);
    }
  }
  if (changes.title !== undefined && changes.title.trim() === '') throw badInput('a recording needs a title');
}

/** The value an entry field would have for a request field, to see whether it changes. */
function asEntryValue(key: keyof DvrEntryChanges, value: unknown): unknown {
  return key === 'enabled' ? (value ? 1 : 0) : value;
}

/**
 * Changes a DVR entry. Fields that already have the value asked for are left out, so that an
 * entry from a list can be sent back with a few fields edited; when none is left, nothing is
 * sent and the entry comes back as it is.
 */
export async function updateRecording(session: DvrSession, id: number, changes: DvrEntryChanges, opts: DvrWaitOptions = {}): Promise<DvrEntryResult> {
  requireDvrRights(session);
  checkId(id, 'a DVR entry id');
  const given = (Object.keys(changes) as (keyof DvrEntryChanges)[]).filter((k) => changes[k] !== undefined);
  if (given.length === 0) throw badInput('nothing to change: give at least one field of the recording');
  const before = session.cache.dvrEntriesById.get(id);
  const field = (k: keyof DvrEntryChanges): keyof DvrEntry => DVR_FIELD_OF[k] ?? (k as keyof DvrEntry);
  const differs = (k: keyof DvrEntryChanges): boolean => !before || before[field(k)] !== asEntryValue(k, changes[k]);
  const wanted: DvrEntryChanges = {};
  for (const k of given) if (differs(k)) Object.assign(wanted, { [k]: changes[k] });
  const keys = Object.keys(wanted) as (keyof DvrEntryChanges)[];
  if (before && keys.length === 0) return { id, entry: before, removed: false };

  validateEntryChanges(session, wanted);
  if (before) {
    const start = wanted.start ?? before.start;
    const stop = wanted.stop ?? before.stop;
    if (stop <= start) throw badInput(`a recording's stop must be after its start (${start})`);
    if (before.state !== 'scheduled') {
      const allowed = before.state === 'recording' || before.state === 'completed' ? DVR_FIELDS_ONCE_STARTED : DVR_FIELDS_ONCE_OVER;
      const refused = keys.filter((k) => !allowed.includes(k));
      if (refused.length > 0) {
        throw badInput(`a recording that is ${before.state} cannot change ${refused.join(', ')}; it accepts ${allowed.join(', ')}`);
      }
    }
  }

  const { enabled, ...rest } = wanted;
  const request: UpdateDvrEntryRequest = { id, ...rest };
  if (enabled !== undefined) request.enabled = enabled ? 1 : 0;
  return withChangeWatch(session, async (watch) => {
    const reply = await call(session, 'updateDvrEntry', request, opts);
    checkSuccess(reply, 'updateDvrEntry');
    if (!before) return { id, removed: false };
    const expected = new Set(keys.map(field));
    const change = await waitForFields(watch, 'dvrEntry', id, expected, opts.waitMs ?? DVR_CHANGE_WAIT_MS);
    return entryAfter(session, id, before, change);
  });
}

/** The cached DVR entries with that status (default all), by start time. */
export function listRecordings(session: DvrSession, status: DvrStatus | 'all' = 'all'): DvrEntry[] {
  return session.cache
    .dvrEntries()
    .filter((e) => status === 'all' || dvrStatus(e) === status)
    .sort((a, b) => a.start - b.start || a.id - b.id);
}

// ------------------------------------------------------------------ autorec and timerec rules

function ruleOf<K extends RuleKind>(session: DvrSession, kind: K, id: string): RuleOf<K> | undefined {
  return session.cache.get(kind, id as CacheId<K>);
}

async function addRule<K extends RuleKind>(
  session: DvrSession,
  kind: K,
  method: 'addAutorecEntry' | 'addTimerecEntry',
  send: () => Promise<{ success?: number; error?: string; id?: string }>,
  opts: DvrWaitOptions,
): Promise<RuleResult<RuleOf<K>>> {
  return withChangeWatch(session, async (watch) => {
    const reply = await send();
    checkSuccess(reply, method);
    const id = reply.id;
    if (id === undefined) throw new HtspError('server', 'Tvheadend added the rule but did not say its id', { method });
    const cached = ruleOf(session, kind, id);
    if (cached) return { id, rule: cached, removed: false };
    const change = await watch.waitFor((c) => c.kind === kind && c.action === 'add' && c.id === id, opts.waitMs ?? DVR_CHANGE_WAIT_MS);
    const added = ruleOf(session, kind, id) ?? (change?.object as RuleOf<K> | undefined);
    return added ? { id, rule: added, removed: false } : { id, removed: false };
  });
}

async function updateRule<K extends RuleKind>(
  session: DvrSession,
  kind: K,
  id: string,
  method: 'updateAutorecEntry' | 'updateTimerecEntry',
  send: () => Promise<{ success?: number; error?: string }>,
  expected: ReadonlySet<string>,
  opts: DvrWaitOptions,
): Promise<RuleResult<RuleOf<K>>> {
  const before = ruleOf(session, kind, id);
  return withChangeWatch(session, async (watch) => {
    const reply = await send();
    checkSuccess(reply, method);
    if (!before) return { id, removed: false };
    let change: ChangeEvent | undefined;
    if (expected.size > 0) change = await waitForFields(watch, kind, id, expected, opts.waitMs ?? DVR_CHANGE_WAIT_MS);
    const now = ruleOf(session, kind, id);
    if (now) return { id, rule: now, removed: false };
    return { id, rule: (change?.object as RuleOf<K> | undefined) ?? before, removed: true };
  });
}

async function deleteRule<K extends RuleKind>(
  session: DvrSession,
  kind: K,
  id: string,
  method: 'deleteAutorecEntry' | 'deleteTimerecEntry',
  opts: DvrWaitOptions,
): Promise<RuleResult<RuleOf<K>>> {
  const before = ruleOf(session, kind, id);
  return withChangeWatch(session, async (watch) => {
    const reply = await call(session, method, { id }, opts);
    checkSuccess(reply, method);
    if (!before) return { id, removed: false };
    if (ruleOf(session, kind, id)) {
      await watch.waitFor((c) => c.kind === kind && c.action === 'delete' && c.id === id, opts.waitMs ?? DVR_CHANGE_WAIT_MS);
    }
    return { id, rule: before, removed: !ruleOf(session, kind, id) };
  });
}

/** The rule's channel to send with an update: Tvheadend resets an update without one to "any channel" (G18). */
function ruleChannel(given: number | undefined, before: { channel?: number } | undefined, what: string): number {
  if (given !== undefined) {
    if (given !== -1) checkId(given, 'a channel id');
    return given;
  }
  if (before) return before.channel ?? -1;
  throw badInput(`${what} is not in this session's data: give its channel with the change, as Tvheadend would otherwise reset it to any channel`);
}

/** The rule field an update request field shows up in, where the names differ. */
const RULE_FIELD_OF: Readonly<Record<string, string>> = {
  minduration: 'minDuration',
  maxduration: 'maxDuration',
  channelId: 'channel',
  configName: 'configId',
};

/**
 * The rule fields an update request will alter, as they are named in the rule: waiting for those
 * (rather than any change of the rule) keeps an unrelated push from ending the wait early. A
 * configuration is asked for by name but shown by uuid, so a given one is always waited for.
 */
function expectedRuleFields(before: object | undefined, request: object): Set<string> {
  const out = new Set<string>();
  if (!before) return out;
  const current = before as Record<string, unknown>;
  for (const [k, v] of Object.entries(request)) {
    if (k === 'id' || v === undefined) continue;
    const field = RULE_FIELD_OF[k] ?? k;
    // -1 is "any channel", which the rule shows as no channel at all.
    const now = field === 'channel' ? (current.channel ?? -1) : current[field];
    if (k === 'configName' || now !== v) out.add(field);
  }
  return out;
}

function checkRetention(opts: { retention?: number; removal?: number; priority?: number }): void {
  if (opts.retention !== undefined) checkWhole(opts.retention, 'retention (days)', 0, MAX_ID);
  if (opts.removal !== undefined) checkWhole(opts.removal, 'removal (days)', 0, MAX_ID);
  if (opts.priority !== undefined) checkWhole(opts.priority, 'priority', 0, 6);
}

function checkDays(days: number | undefined): void {
  if (days !== undefined) checkWhole(days, 'daysOfWeek (bit 0 = Monday … bit 6 = Sunday)', 0, 0x7f);
}

/** The autorec request fields of `rule` (all but the title and channel). */
function autorecFields(rule: AutorecChanges): Omit<AddAutorecEntryRequest, 'title'> {
  const { minDuration, maxDuration } = rule;
  if (minDuration && maxDuration && maxDuration < minDuration) throw badInput(`an autorec rule's maxDuration must not be less than its minDuration`);
  checkRetention(rule);
  checkDays(rule.daysOfWeek);
  const request: Omit<AddAutorecEntryRequest, 'title'> = entryFields(rule);
  if (rule.name !== undefined) request.name = rule.name;
  if (rule.fullText !== undefined) request.fulltext = rule.fullText ? 1 : 0;
  if (rule.enabled !== undefined) request.enabled = rule.enabled ? 1 : 0;
  // Lower-case on the wire; the camelCase spelling of the docs is silently ignored (G18).
  if (minDuration !== undefined) request.minduration = minDuration;
  if (maxDuration !== undefined) request.maxduration = maxDuration;
  if (rule.daysOfWeek !== undefined) request.daysOfWeek = rule.daysOfWeek;
  if (rule.dupDetect !== undefined) request.dupDetect = rule.dupDetect;
  if (rule.maxCount !== undefined) request.maxCount = rule.maxCount;
  if (rule.directory !== undefined) request.directory = rule.directory;
  return request;
}

/** Adds an autorec rule. */
export async function addAutorec(session: DvrSession, rule: AutorecOptions): Promise<AutorecResult> {
  requireDvrRights(session);
  const { title } = rule;
  if (!title.trim()) throw badInput('an autorec rule needs a title pattern');
  const channelId = rule.channelId ?? -1;
  if (channelId !== -1) checkId(channelId, 'a channel id');
  const request: AddAutorecEntryRequest = {
    title,
    // -1 is "any channel"; an absent channelId means the same today but not on every path (G18).
    channelId,
    ...autorecFields(rule),
  };
  return addRule(session, 'autorecEntry', 'addAutorecEntry', () => call(session, 'addAutorecEntry', request, rule), rule);
}

/** Changes an autorec rule; the server then schedules what the changed rule matches. */
export async function updateAutorec(session: DvrSession, id: string, changes: AutorecChanges, opts: DvrWaitOptions = {}): Promise<AutorecResult> {
  requireDvrRights(session);
  checkRuleId(id, 'an autorec rule');
  const given = Object.entries(changes).filter(([, v]) => v !== undefined);
  if (given.length === 0) throw badInput('nothing to change: give at least one field of the autorec rule');
  if (changes.title !== undefined && !changes.title.trim()) throw badInput('an autorec rule needs a title pattern');
  const before = session.cache.autorecEntriesById.get(id);
  const channelId = ruleChannel(changes.channelId, before, `the autorec rule ${id}`);
  // A new bound is checked against the one that stays.
  const minDuration = changes.minDuration ?? before?.minDuration;
  const maxDuration = changes.maxDuration ?? before?.maxDuration;
  if (minDuration && maxDuration && maxDuration < minDuration) throw badInput(`an autorec rule's maxDuration must not be less than its minDuration`);
  const request: UpdateAutorecEntryRequest = { id, channelId, ...autorecFields(changes) };
  if (changes.title !== undefined) request.title = changes.title;
  const expected = expectedRuleFields(before, request);
  return updateRule(session, 'autorecEntry', id, 'updateAutorecEntry', () => call(session, 'updateAutorecEntry', request, opts), expected, opts);
}

/** Deletes an autorec rule; the server also removes the upcoming entries it created. */
export async function deleteAutorec(session: DvrSession, id: string, opts: DvrWaitOptions = {}): Promise<AutorecResult> {
  requireDvrRights(session);
  checkRuleId(id, 'an autorec rule');
  return deleteRule(session, 'autorecEntry', id, 'deleteAutorecEntry', opts);
}

/** The cached autorec rules, by name (or title pattern). */
export function listAutorecs(session: DvrSession): AutorecEntry[] {
  return session.cache.autorecEntries().sort(byRuleName);
}

function byRuleName(a: { id: string; name?: string; title?: string }, b: { id: string; name?: string; title?: string }): number {
  return (a.name ?? a.title ?? '').localeCompare(b.name ?? b.title ?? '') || a.id.localeCompare(b.id);
}

function checkTimeOfDay(minutes: number, what: string): void {
  checkWhole(minutes, `${what} (minutes after midnight)`, 0, MINUTES_PER_DAY - 1);
}

/** The timerec request fields of `rule` (all but the title and channel). */
function timerecFields(rule: Omit<TimerecChanges, 'channelId' | 'title'>): Omit<AddTimerecEntryRequest, 'title'> {
  checkRetention(rule);
  checkDays(rule.daysOfWeek);
  const request: Omit<AddTimerecEntryRequest, 'title'> = {};
  if (rule.start !== undefined) request.start = rule.start;
  if (rule.stop !== undefined) request.stop = rule.stop;
  // '' names no configuration; leaving the field out is what selects the user's default.
  if (rule.configName) request.configName = rule.configName;
  if (rule.priority !== undefined) request.priority = rule.priority;
  if (rule.retention !== undefined) request.retention = rule.retention;
  if (rule.removal !== undefined) request.removal = rule.removal;
  if (rule.comment !== undefined) request.comment = rule.comment;
  if (rule.name !== undefined) request.name = rule.name;
  if (rule.enabled !== undefined) request.enabled = rule.enabled ? 1 : 0;
  if (rule.daysOfWeek !== undefined) request.daysOfWeek = rule.daysOfWeek;
  if (rule.directory !== undefined) request.directory = rule.directory;
  return request;
}

/** Adds a timerec rule: a channel recorded at the same time of day on the given days. */
export async function addTimerec(session: DvrSession, rule: TimerecOptions): Promise<TimerecResult> {
  requireDvrRights(session);
  const { channelId, start, stop, title } = rule;
  checkId(channelId, 'a channel id');
  checkTimeOfDay(start, 'start');
  checkTimeOfDay(stop, 'stop');
  if (start === stop) throw badInput(`a time rule's stop must differ from its start`);
  if (!title.trim()) throw badInput('a time rule needs a title');
  if (rule.daysOfWeek === 0) throw badInput('a time rule needs at least one day of the week');
  const request: AddTimerecEntryRequest = { title, channelId, ...timerecFields(rule) };
  return addRule(session, 'timerecEntry', 'addTimerecEntry', () => call(session, 'addTimerecEntry', request, rule), rule);
}

/** Changes a timerec rule; the server replaces the upcoming recording it made. */
export async function updateTimerec(session: DvrSession, id: string, changes: TimerecChanges, opts: DvrWaitOptions = {}): Promise<TimerecResult> {
  requireDvrRights(session);
  checkRuleId(id, 'a timerec rule');
  const given = Object.entries(changes).filter(([, v]) => v !== undefined);
  if (given.length === 0) throw badInput('nothing to change: give at least one field of the time rule');
  if (changes.title !== undefined && !changes.title.trim()) throw badInput('a time rule needs a title');
  const before = session.cache.timerecEntriesById.get(id);
  const channelId = ruleChannel(changes.channelId, before, `the time rule ${id}`);
  if (channelId === -1) throw badInput('a time rule needs a channel');
  if (changes.start !== undefined) checkTimeOfDay(changes.start, 'start');
  if (changes.stop !== undefined) checkTimeOfDay(changes.stop, 'stop');
  const start = changes.start ?? before?.start;
  const stop = changes.stop ?? before?.stop;
  if (start !== undefined && start === stop) throw badInput(`a time rule's stop must differ from its start`);
  if (changes.daysOfWeek === 0) throw badInput('a time rule needs at least one day of the week');
  const request: UpdateTimerecEntryRequest = { id, channelId, ...timerecFields(changes) };
  if (changes.title !== undefined) request.title = changes.title;
  const expected = expectedRuleFields(before, request);
  return updateRule(session, 'timerecEntry', id, 'updateTimerecEntry', () => call(session, 'updateTimerecEntry', request, opts), expected, opts);
}

/** Deletes a timerec rule; the server also removes the upcoming recording it created. */
export async function deleteTimerec(session: DvrSession, id: string, opts: DvrWaitOptions = {}): Promise<TimerecResult> {
  requireDvrRights(session);
  checkRuleId(id, 'a timerec rule');
  return deleteRule(session, 'timerecEntry', id, 'deleteTimerecEntry', opts);
}

/** The cached timerec rules, by name (or title). */
export function listTimerecs(session: DvrSession): TimerecEntry[] {
  return session.cache.timerecEntries().sort(byRuleName);
}
