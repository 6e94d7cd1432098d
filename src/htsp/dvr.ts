/**
 * DVR operations over a session: record an EPG event, set a manual timer, stop, cancel or delete
 * a recording, add and delete autorec rules, list both.
 *
 * The replies of the DVR methods say little more than "success" (G19), so every operation resolves
 * with what the session's cache shows once the server has pushed the change it caused. That wait
 * is bounded: a user who may not see an entry gets no update for it, and the id is then all there
 * is to report.
 */
import type { ChangeEvent, ChangeEventOf } from './cache';
import { withChangeWatch } from './change-watch';
import { HtspError } from './errors';
import type { AddAutorecEntryRequest, AddDvrEntryRequest, AutorecEntry, DupDetect, DvrEntry, DvrPriority, EpgEvent } from './messages';
import type { HtspSession } from './session';

/** How long an operation waits, by default, for the server to push the change it caused. */
export const DVR_CHANGE_WAIT_MS = 3000;

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

export interface TimerOptions extends DvrEntryOptions, DvrWaitOptions {
  channelId: number;
  /** Epoch seconds, padding not included. */
  start: number;
  /** Epoch seconds, padding not included. */
  stop: number;
  title: string;
  subtitle?: string;
  summary?: string;
  description?: string;
}

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

/** What an operation on an autorec rule left behind. */
export interface AutorecResult {
  id: string;
  /** The rule as cached; for a deleted rule its last known state. Absent when the session never saw it. */
  rule?: AutorecEntry;
  removed: boolean;
}

const MAX_ID = 0x7fffffff;

type EntryChange = ChangeEventOf<'dvrEntry'>;
type RuleChange = ChangeEventOf<'autorecEntry'>;

function badInput(message: string): HtspError {
  return new HtspError('bad-input', message);
}

function checkId(id: number, what: string): void {
  if (!Number.isInteger(id) || id < 1 || id > MAX_ID) throw badInput(`${what} must be a whole number from 1 to ${MAX_ID}, got ${String(id)}`);
}

/** A missing right costs the server a deliberate 250 ms per request (G16): don't ask in vain. */
function requireDvrRights(session: HtspSession): void {
  if (session.rights && !session.rights.dvr) throw new HtspError('noaccess', 'the Tvheadend user has no DVR rights');
}

/** Some DVR methods answer `success: 0` without an `error`; that is a failure too. */
function checkSuccess(reply: { success?: number }, method: string): void {
  if (reply.success === 0) throw new HtspError('server', `Tvheadend did not carry out ${method}`, { method });
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
async function checkEvent(session: HtspSession, eventId: number): Promise<void> {
  if (session.cache.eventsById.has(eventId)) return;
  try {
    await session.call('getEvent', { eventId });
  } catch (err) {
    if (err instanceof HtspError && err.code === 'server') throw badInput(`unknown EPG event ${eventId}: ${err.message}`);
    throw err;
  }
}

async function addEntry(session: HtspSession, request: AddDvrEntryRequest, waitMs: number): Promise<DvrEntryResult> {
  return withChangeWatch(session, async (watch) => {
    const reply = await session.call('addDvrEntry', request);
    checkSuccess(reply, 'addDvrEntry');
    const id = reply.id;
    if (id === undefined) throw new HtspError('server', 'Tvheadend added the entry but did not say its id', { method: 'addDvrEntry' });
    const cached = session.cache.dvrEntriesById.get(id);
    if (cached) return { id, entry: cached, removed: false };
    const change = await watch.waitFor((c): c is EntryChange => c.kind === 'dvrEntry' && c.action === 'add' && c.id === id, waitMs);
    const entry = session.cache.dvrEntriesById.get(id) ?? change?.object;
    return entry ? { id, entry, removed: false } : { id, removed: false };
  });
}

/**
 * Records an EPG event. An event object (from the cache or an EPG answer) is taken as known; a
 * bare id is first checked with the server.
 */
export async function recordEvent(session: HtspSession, event: number | EpgEvent, opts: RecordOptions = {}): Promise<DvrEntryResult> {
  requireDvrRights(session);
  const eventId = typeof event === 'number' ? event : event.eventId;
  checkId(eventId, 'an EPG event id');
  if (typeof event === 'number') await checkEvent(session, eventId);
  return addEntry(session, { eventId, ...entryFields(opts) }, opts.waitMs ?? DVR_CHANGE_WAIT_MS);
}

/** Sets a manual timer on a channel. */
export async function addTimer(session: HtspSession, timer: TimerOptions): Promise<DvrEntryResult> {
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
  return addEntry(session, request, timer.waitMs ?? DVR_CHANGE_WAIT_MS);
}

type EntryMethod = 'stopDvrEntry' | 'cancelDvrEntry' | 'deleteDvrEntry';

/** Whether `method` will change `entry`, and so push something worth waiting for. */
function willChange(method: EntryMethod, entry: DvrEntry): boolean {
  if (method === 'stopDvrEntry') return entry.state === 'recording';
  if (method === 'cancelDvrEntry') return entry.state === 'recording' || entry.state === 'scheduled';
  return true;
}

async function changeEntry(session: HtspSession, method: EntryMethod, id: number, opts: DvrWaitOptions): Promise<DvrEntryResult> {
  requireDvrRights(session);
  checkId(id, 'a DVR entry id');
  const before = session.cache.dvrEntriesById.get(id);
  return withChangeWatch(session, async (watch) => {
    const reply = await session.call(method, { id });
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
    const now = session.cache.dvrEntriesById.get(id);
    if (now) return { id, entry: now, removed: false };
    return { id, entry: change?.object ?? before, removed: true };
  });
}

/** Ends a running recording as a normal, successful one; for any other entry the server does nothing. */
export function stopRecording(session: HtspSession, id: number, opts: DvrWaitOptions = {}): Promise<DvrEntryResult> {
  return changeEntry(session, 'stopDvrEntry', id, opts);
}

/** Unschedules an upcoming entry, or aborts a running recording (entry and file kept, `error` set). */
export function cancelRecording(session: HtspSession, id: number, opts: DvrWaitOptions = {}): Promise<DvrEntryResult> {
  return changeEntry(session, 'cancelDvrEntry', id, opts);
}

/** Removes an entry; a running or finished one loses its files. */
export function deleteRecording(session: HtspSession, id: number, opts: DvrWaitOptions = {}): Promise<DvrEntryResult> {
  return changeEntry(session, 'deleteDvrEntry', id, opts);
}

/** The cached DVR entries with that status (default all), by start time. */
export function listRecordings(session: HtspSession, status: DvrStatus | 'all' = 'all'): DvrEntry[] {
  return session.cache
    .dvrEntries()
    .filter((e) => status === 'all' || dvrStatus(e) === status)
    .sort((a, b) => a.start - b.start || a.id - b.id);
}

/** Adds an autorec rule. */
export async function addAutorec(session: HtspSession, rule: AutorecOptions): Promise<AutorecResult> {
  requireDvrRights(session);
  const { title } = rule;
  if (!title.trim()) throw badInput('an autorec rule needs a title pattern');
  const channelId = rule.channelId ?? -1;
  if (channelId !== -1) checkId(channelId, 'a channel id');
  const { minDuration, maxDuration } = rule;
  if (minDuration && maxDuration && maxDuration < minDuration) throw badInput(`an autorec rule's maxDuration must not be less than its minDuration`);
  const request: AddAutorecEntryRequest = {
    title,
    // -1 is "any channel"; an absent channelId means the same today but not on every path (G18).
    channelId,
    ...entryFields(rule),
  };
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

  return withChangeWatch(session, async (watch) => {
    const reply = await session.call('addAutorecEntry', request);
    checkSuccess(reply, 'addAutorecEntry');
    const id = reply.id;
    if (id === undefined) throw new HtspError('server', 'Tvheadend added the rule but did not say its id', { method: 'addAutorecEntry' });
    const cached = session.cache.autorecEntriesById.get(id);
    if (cached) return { id, rule: cached, removed: false };
    const change = await watch.waitFor(
      (c): c is RuleChange => c.kind === 'autorecEntry' && c.action === 'add' && c.id === id,
      rule.waitMs ?? DVR_CHANGE_WAIT_MS,
    );
    const added = session.cache.autorecEntriesById.get(id) ?? change?.object;
    return added ? { id, rule: added, removed: false } : { id, removed: false };
  });
}

/** Deletes an autorec rule; the server also removes the upcoming entries it created. */
export async function deleteAutorec(session: HtspSession, id: string, opts: DvrWaitOptions = {}): Promise<AutorecResult> {
  requireDvrRights(session);
  if (typeof id !== 'string' || id.trim() === '') throw badInput('an autorec rule id must be non-empty text');
  const before = session.cache.autorecEntriesById.get(id);
  return withChangeWatch(session, async (watch) => {
    const reply = await session.call('deleteAutorecEntry', { id });
    checkSuccess(reply, 'deleteAutorecEntry');
    if (!before) return { id, removed: false };
    if (session.cache.autorecEntriesById.has(id)) {
      await watch.waitFor((c: ChangeEvent) => c.kind === 'autorecEntry' && c.action === 'delete' && c.id === id, opts.waitMs ?? DVR_CHANGE_WAIT_MS);
    }
    return { id, rule: before, removed: !session.cache.autorecEntriesById.has(id) };
  });
}

/** The cached autorec rules, by name (or title pattern). */
export function listAutorecs(session: HtspSession): AutorecEntry[] {
  return session.cache
    .autorecEntries()
    .sort((a, b) => (a.name ?? a.title ?? '').localeCompare(b.name ?? b.title ?? '') || a.id.localeCompare(b.id));
}
