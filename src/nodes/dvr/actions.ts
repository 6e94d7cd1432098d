/**
 * The DVR node's actions: what a message asks for, carried out by the library's DVR operations
 * (src/htsp/dvr.ts) and put into the node's output shapes.
 */
import {
  DVR_CHANGE_WAIT_MS,
  DVR_STATUSES,
  addAutorec as addAutorecRule,
  addTimer,
  addTimerec as addTimerecRule,
  cancelRecording,
  deleteAutorec as deleteAutorecRule,
  deleteRecording,
  deleteTimerec as deleteTimerecRule,
  listAutorecs,
  listRecordings,
  listTimerecs,
  recordEvent,
  recordNow,
  stopRecording,
  stopRunning,
  updateAutorec as updateAutorecRule,
  updateRecording,
  type AutorecChanges,
  type AutorecEntry,
  type AutorecOptions,
  type AutorecResult,
  type Channel,
  type DvrEntry,
  type DvrEntryChanges,
  type DvrEntryOptions,
  type DvrEntryResult,
  type DvrStatus,
  type EpgEvent,
  type EpgSource,
  type HtspSession,
  type TimerecEntry,
  type TimerecOptions,
  type TimerecResult,
} from '../../htsp';
import { NodeError, badInput, channelRef, describe, isPlainObject, parseBoolean, parseTime, resolveChannel } from '../shared';
import { searchPattern } from '../epg/query';
import {
  friendlyAutorec,
  friendlyDvrEntry,
  friendlyTimerec,
  type FriendlyAutorec,
  type FriendlyDvrEntry,
  type FriendlyTimerec,
} from './format';

export const ACTIONS = [
  'record',
  'timer',
  'update',
  'stop',
  'cancel',
  'delete',
  'list',
  'addAutorec',
  'updateAutorec',
  'deleteAutorec',
  'listAutorec',
  'addTimerec',
  'deleteTimerec',
  'listTimerec',
] as const;
export type Action = (typeof ACTIONS)[number];

export type ListFilter = DvrStatus | 'all';
export const LIST_FILTERS: readonly ListFilter[] = [...DVR_STATUSES, 'all'];

/** How long a result waits for the server to push the change it caused. */
export const CHANGE_WAIT_MS = DVR_CHANGE_WAIT_MS;

/** "addAutorec", "add-autorec", "ADD_AUTOREC" … all name the same action. */
export function parseAction(value: unknown, source: string): Action {
  if (typeof value !== 'string' || value.trim() === '') {
    throw badInput(`no action: set one in the node or send ${source} as one of ${ACTIONS.join(', ')}`);
  }
  const key = value.toLowerCase().replace(/[^a-z]/g, '');
  const found = ACTIONS.find((a) => a.toLowerCase() === key);
  if (!found) throw badInput(`unknown action ${describe(value)} in ${source}: use one of ${ACTIONS.join(', ')}`);
  return found;
}

export function parseListFilter(value: unknown, source: string): ListFilter {
  const key = typeof value === 'string' ? value.trim().toLowerCase() : '';
  const found = LIST_FILTERS.find((f) => f === key);
  if (!found) throw badInput(`${source} must be one of ${LIST_FILTERS.join(', ')}, got ${describe(value)}`);
  return found;
}

/** What the node's settings contribute to every message. */
export interface DvrDefaults {
  /** Channel from the node's typedInput, already evaluated (undefined when empty). */
  channel: unknown;
  /** The node's DVR configuration name ('' = the user's default). */
  configName: string;
  list: ListFilter;
}

export interface DvrContext {
  session: HtspSession;
  source: EpgSource;
  waitMs: number;
}

export type DvrResult =
  | FriendlyDvrEntry
  | FriendlyAutorec
  | FriendlyTimerec
  | FriendlyDvrEntry[]
  | FriendlyAutorec[]
  | FriendlyTimerec[]
  | { id: number | string };

/** A running recording that `stop` by channel (or all) could not stop. */
export interface FailedStop {
  id: number;
  title: string | null;
  /** What the server or the library said; the node turns it into `code` and a scrubbed `message`. */
  error: unknown;
}

/** What an action puts into the message: `payload`, and for a partly failed stop `failed`. */
export interface DvrOutput {
  payload: DvrResult;
  failed?: FailedStop[];
}

// ------------------------------------------------------------------ parameters

type Params = Record<string, unknown>;

function integer(value: unknown, field: string, min: number, max: number): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw badInput(`${field} must be a whole number from ${min} to ${max}, got ${describe(value)}`);
  return n;
}

function text(value: unknown, field: string): string {
  if (typeof value !== 'string') throw badInput(`${field} must be text, got ${describe(value)}`);
  return value;
}

const MAX_ID = 0x7fffffff;

/**
 * Settings shared by entries and rules. `configDefault` is the node's DVR config: a default for
 * what a message creates, never for what it changes (that would move existing recordings).
 */
function commonOptions(p: Params, configDefault: string): DvrEntryOptions {
  const out: DvrEntryOptions = {};
  const configName = p.configName !== undefined ? text(p.configName, 'msg.payload.configName') : configDefault;
  if (configName) out.configName = configName;
  if (p.priority !== undefined) out.priority = integer(p.priority, 'msg.payload.priority', 0, 6) as DvrEntryOptions['priority'];
  if (p.startExtra !== undefined) out.startExtra = integer(p.startExtra, 'msg.payload.startExtra (minutes)', 0, 24 * 60);
  if (p.stopExtra !== undefined) out.stopExtra = integer(p.stopExtra, 'msg.payload.stopExtra (minutes)', 0, 24 * 60);
  if (p.retention !== undefined) out.retention = integer(p.retention, 'msg.payload.retention (days)', 0, MAX_ID);
  if (p.removal !== undefined) out.removal = integer(p.removal, 'msg.payload.removal (days)', 0, MAX_ID);
  if (p.comment !== undefined) out.comment = text(p.comment, 'msg.payload.comment');
  return out;
}

function channelParam(p: Params, defaults: DvrDefaults): number | string | undefined {
  const raw = p.channel !== undefined ? p.channel : defaults.channel;
  if (raw === undefined || raw === null || raw === '') return undefined;
  return channelRef(raw, p.channel !== undefined ? 'msg.payload.channel' : 'the channel');
}

/**
 * The parameters of a message: `msg.payload` when it is an object. An array (the output of an
 * EPG search) stands for its first element; a bare number or text for the id of the entry or
 * rule the action is about.
 */
export function messageParams(payload: unknown): Params {
  if (Array.isArray(payload)) {
    if (payload.length === 0) throw badInput('msg.payload is an empty list: nothing to act on');
    return messageParams(payload[0]);
  }
  if (isPlainObject(payload)) return payload;
  if (typeof payload === 'number' || (typeof payload === 'string' && payload.trim() !== '')) return { id: payload };
  return {};
}

function dvrIdOf(p: Params): number {
  // An EPG event that is being recorded names its entry `dvrId`; an entry itself calls it `id`.
  const raw = p.id !== undefined ? p.id : p.dvrId;
  if (raw === undefined) {
    throw badInput('no DVR entry: send its id in msg.payload.id (or msg.payload as a number); to stop by channel, send msg.payload.channel, or msg.payload.all: true for every running recording');
  }
  return integer(raw, 'the DVR entry id', 1, MAX_ID);
}

function ruleIdOf(p: Params, what: string): string {
  const raw = p.id;
  if (typeof raw !== 'string' || raw.trim() === '') {
    throw badInput(`no ${what}: send its id (text) in msg.payload.id or as msg.payload, got ${describe(raw)}`);
  }
  return raw.trim();
}

/** A rule's channel in a change: -1 or "any" for any channel, else a channel reference. */
function ruleChannelParam(session: HtspSession, value: unknown): number {
  if (value === -1 || (typeof value === 'string' && value.trim().toLowerCase() === 'any')) return -1;
  return resolveChannel(session, channelRef(value, 'msg.payload.channel')).channelId;
}

const TIME_OF_DAY = /^(\d{1,2}):(\d{2})$/;

/** A time of day as minutes after midnight: "20:15", or the minutes themselves (0–1439). */
export function parseTimeOfDay(value: unknown, field: string): number {
  if (typeof value === 'string') {
    const m = TIME_OF_DAY.exec(value.trim());
    if (m) {
      const hours = Number(m[1]);
      const minutes = Number(m[2]);
      if (hours < 24 && minutes < 60) return hours * 60 + minutes;
    }
  }
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < 24 * 60) return value;
  throw badInput(`${field} must be a time of day such as "20:15", or minutes after midnight (0 to 1439), got ${describe(value)}`);
}

const DAY_NAMES = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
const DAY_GROUPS: Readonly<Record<string, number>> = { weekdays: 0x1f, weekend: 0x60, weekends: 0x60, daily: 0x7f, all: 0x7f };

function dayBit(token: unknown, field: string): number {
  if (typeof token === 'number' && Number.isInteger(token) && token >= 1 && token <= 7) return 1 << (token - 1);
  const word = typeof token === 'string' ? token.trim().toLowerCase() : '';
  // In a list ("6,7", ["6", 7]) a digit is a day; only a lone number is the mask (see parseDays).
  if (/^[1-7]$/.test(word)) return 1 << (Number(word) - 1);
  if (Object.hasOwn(DAY_GROUPS, word)) return DAY_GROUPS[word];
  const i = word.length >= 2 ? DAY_NAMES.findIndex((d) => d.startsWith(word)) : -1;
  if (i < 0) throw badInput(`${field}: ${describe(token)} is not a day (mon … sun, 1 = Monday … 7 = Sunday, weekdays, weekend, daily)`);
  return 1 << i;
}

/**
 * Days of the week as Tvheadend's bit mask (bit 0 = Monday … bit 6 = Sunday). Accepts the mask
 * itself (a lone number: 6 = Tuesday and Wednesday), or day names, day numbers (1 = Monday) and
 * the groups weekdays / weekend / daily, as a list or comma-separated text ("6,7" = the weekend).
 */
export function parseDays(value: unknown, field: string): number {
  if (typeof value === 'number' || (typeof value === 'string' && /^\s*\d+\s*$/.test(value))) return integer(value, `${field} (bit 0 = Monday … bit 6 = Sunday)`, 0, 0x7f);
  const tokens = Array.isArray(value) ? value : typeof value === 'string' ? value.split(/[\s,;]+/).filter((t) => t !== '') : undefined;
  if (!tokens || tokens.length === 0) throw badInput(`${field} must be day names (mon … sun, weekdays, weekend, daily) or a bit mask, got ${describe(value)}`);
  return tokens.reduce<number>((mask, t) => mask | dayBit(t, field), 0);
}

// ------------------------------------------------------------------ helpers over the session

function channelOf(session: HtspSession, id: number | undefined): Channel | undefined {
  return id === undefined ? undefined : session.cache.channelsById.get(id);
}

function entryResult(session: HtspSession, entry: DvrEntry, removed = false): FriendlyDvrEntry {
  return friendlyDvrEntry(entry, channelOf(session, entry.channel), removed);
}

function ruleResult(session: HtspSession, rule: AutorecEntry): FriendlyAutorec {
  return friendlyAutorec(rule, channelOf(session, rule.channel));
}

function timerecResult(session: HtspSession, rule: TimerecEntry): FriendlyTimerec {
  return friendlyTimerec(rule, channelOf(session, rule.channel));
}

function entryOutput(session: HtspSession, r: DvrEntryResult): DvrResult {
  // Without the pushed entry (the user may not see it) the id is all there is to report.
  return r.entry ? entryResult(session, r.entry, r.removed) : { id: r.id };
}

function ruleOutput(session: HtspSession, r: AutorecResult): DvrResult {
  return r.rule ? ruleResult(session, r.rule) : { id: r.id };
}

function timerecOutput(session: HtspSession, r: TimerecResult): DvrResult {
  return r.rule ? timerecResult(session, r.rule) : { id: r.id };
}

// ------------------------------------------------------------------ actions

/**
 * Records an event by id, the programme on a channel now (or next), or the next one matching a
 * title.
 */
async function record(ctx: DvrContext, p: Params, defaults: DvrDefaults): Promise<DvrResult> {
  const { session, source } = ctx;
  const options = { ...commonOptions(p, defaults.configName), waitMs: ctx.waitMs };
  let target: EpgEvent | number;
  const channel = channelParam(p, defaults);
  if (p.eventId !== undefined) {
    target = integer(p.eventId, 'msg.payload.eventId', 1, MAX_ID);
  } else if (p.title !== undefined && p.title !== '') {
    const regex = p.regex === undefined ? false : parseBoolean(p.regex, 'msg.payload.regex');
    const title = searchPattern(p.title, regex, 'msg.payload.title');
    const ch = channel !== undefined ? resolveChannel(session, channel) : undefined;
    const found = await source.search({ title, from: await source.now(), limit: 1, ...(ch ? { channelId: ch.channelId } : {}) });
    if (found.length === 0) {
      throw badInput(`no programme that has not ended matches the title ${describe(p.title)}${ch ? ` on ${ch.channelName}` : ''}`);
    }
    target = found[0];
  } else if (channel !== undefined) {
    const ch = resolveChannel(session, channel);
    const when = p.when === undefined ? 'now' : p.when;
    if (when !== 'now' && when !== 'next') throw badInput(`msg.payload.when must be "now" or "next", got ${describe(when)}`);
    // The library's lookup of what is on now, shared with the MQTT bridge's recordNow.
    if (when === 'now') return entryOutput(session, await recordNow(session, ch, options));
    const { next } = await source.nowNext(ch, await source.now());
    if (!next) throw badInput(`the programme guide has no next programme on ${ch.channelName}`);
    target = next;
  } else {
    throw badInput('nothing to record: send msg.payload.eventId, msg.payload.channel (records what is on now) or msg.payload.title');
  }
  return entryOutput(session, await recordEvent(session, target, options));
}

async function timer(ctx: DvrContext, p: Params, defaults: DvrDefaults): Promise<DvrResult> {
  const channel = channelParam(p, defaults);
  if (channel === undefined) throw badInput('a timer needs a channel: set one in the node or send msg.payload.channel');
  const ch = resolveChannel(ctx.session, channel);
  if (p.start === undefined || p.stop === undefined) throw badInput('a timer needs msg.payload.start and msg.payload.stop');
  const start = parseTime(p.start, 'msg.payload.start');
  const stop = parseTime(p.stop, 'msg.payload.stop');
  if (stop <= start) throw badInput('msg.payload.stop must be after msg.payload.start');
  if (stop <= ctx.session.serverNow()) throw badInput('the timer ends in the past');
  const title = p.title === undefined ? '' : text(p.title, 'msg.payload.title').trim();
  if (!title) throw badInput('a timer needs a title in msg.payload.title');
  const texts: { subtitle?: string; summary?: string; description?: string } = {};
  for (const k of ['subtitle', 'summary', 'description'] as const) if (p[k] !== undefined) texts[k] = text(p[k], `msg.payload.${k}`);
  const timerOptions = { channelId: ch.channelId, start, stop, title, ...texts, ...commonOptions(p, defaults.configName), waitMs: ctx.waitMs };
  return entryOutput(ctx.session, await addTimer(ctx.session, timerOptions));
}

/** The changes a message asks of a DVR entry. An entry from `list` can be sent back edited. */
function entryChanges(session: HtspSession, p: Params): DvrEntryChanges {
  const changes: DvrEntryChanges = { ...commonOptions(p, '') };
  if (p.channel !== undefined) changes.channelId = resolveChannel(session, channelRef(p.channel, 'msg.payload.channel')).channelId;
  if (p.enabled !== undefined) changes.enabled = parseBoolean(p.enabled, 'msg.payload.enabled');
  if (p.start !== undefined) changes.start = parseTime(p.start, 'msg.payload.start');
  if (p.stop !== undefined) changes.stop = parseTime(p.stop, 'msg.payload.stop');
  for (const k of ['title', 'subtitle', 'summary', 'description'] as const) if (p[k] !== undefined) changes[k] = text(p[k], `msg.payload.${k}`);
  if (p.playcount !== undefined) changes.playcount = integer(p.playcount, 'msg.payload.playcount', 0, MAX_ID);
  if (p.playposition !== undefined) changes.playposition = integer(p.playposition, 'msg.payload.playposition', 0, MAX_ID);
  return changes;
}

async function update(ctx: DvrContext, p: Params): Promise<DvrResult> {
  const id = dvrIdOf(p);
  const changes = entryChanges(ctx.session, p);
  return entryOutput(ctx.session, await updateRecording(ctx.session, id, changes, { waitMs: ctx.waitMs }));
}

const ENTRY_OPERATIONS = { stop: stopRecording, cancel: cancelRecording, delete: deleteRecording } as const;

async function changeEntry(ctx: DvrContext, action: keyof typeof ENTRY_OPERATIONS, p: Params): Promise<DvrResult> {
  const id = dvrIdOf(p);
  return entryOutput(ctx.session, await ENTRY_OPERATIONS[action](ctx.session, id, { waitMs: ctx.waitMs }));
}

/**
 * `stop`: one entry by id; without one, the running recordings on `channel`, or all of them with
 * `all: true`. A message that names nothing is refused rather than read as "everything".
 */
async function stop(ctx: DvrContext, p: Params): Promise<DvrOutput> {
  const { session } = ctx;
  const byId = p.id !== undefined || p.dvrId !== undefined;
  const all = p.all !== undefined && parseBoolean(p.all, 'msg.payload.all');
  if (byId || (p.channel === undefined && !all)) return { payload: await changeEntry(ctx, 'stop', p) };
  const channel = p.channel !== undefined ? resolveChannel(session, channelRef(p.channel, 'msg.payload.channel')) : undefined;
  const r = await stopRunning(session, channel ? { channel } : {}, { waitMs: ctx.waitMs });
  const payload = r.stopped.map((s) => entryResult(session, s.entry));
  if (r.failed.length === 0) return { payload };
  return { payload, failed: r.failed.map((f) => ({ id: f.id, title: f.entry.title ?? null, error: f.error })) };
}

function list(ctx: DvrContext, p: Params, defaults: DvrDefaults): FriendlyDvrEntry[] {
  const filter = p.state !== undefined ? parseListFilter(p.state, 'msg.payload.state') : defaults.list;
  const { session } = ctx;
  return listRecordings(session, filter).map((e) => entryResult(session, e));
}

/** Title pattern of an autorec rule: one JavaScript cannot compile is almost certainly a typo. */
function rulePattern(value: unknown): string {
  const title = text(value, 'msg.payload.title');
  if (!title.trim()) throw badInput('an autorec rule needs a title pattern in msg.payload.title');
  // Tvheadend matches with its own regular expressions; this only catches what neither accepts.
  searchPattern(title, true, 'msg.payload.title');
  return title;
}

/** The autorec fields of a message other than title and channel. */
function autorecParams(p: Params, configDefault: string): AutorecChanges {
  const rule: AutorecChanges = { ...commonOptions(p, configDefault) };
  if (p.name !== undefined) rule.name = text(p.name, 'msg.payload.name');
  if (p.fulltext !== undefined) rule.fullText = parseBoolean(p.fulltext, 'msg.payload.fulltext');
  if (p.enabled !== undefined) rule.enabled = parseBoolean(p.enabled, 'msg.payload.enabled');
  // Both spellings: camelCase is how the rules come back, lower-case is the request's wire name
  // (G18), which the library sends whatever was given here.
  const minD = p.minDuration ?? p.minduration;
  const maxD = p.maxDuration ?? p.maxduration;
  if (minD !== undefined) rule.minDuration = integer(minD, 'msg.payload.minDuration (seconds)', 0, MAX_ID);
  if (maxD !== undefined) rule.maxDuration = integer(maxD, 'msg.payload.maxDuration (seconds)', 0, MAX_ID);
  if (rule.minDuration && rule.maxDuration && rule.maxDuration < rule.minDuration) {
    throw badInput('msg.payload.maxDuration must not be less than minDuration');
  }
  if (p.daysOfWeek !== undefined) rule.daysOfWeek = parseDays(p.daysOfWeek, 'msg.payload.daysOfWeek');
  if (p.dupDetect !== undefined) rule.dupDetect = integer(p.dupDetect, 'msg.payload.dupDetect', 0, 15) as AutorecOptions['dupDetect'];
  if (p.maxCount !== undefined) rule.maxCount = integer(p.maxCount, 'msg.payload.maxCount', 0, MAX_ID);
  if (p.directory !== undefined) rule.directory = text(p.directory, 'msg.payload.directory');
  return rule;
}

async function addAutorec(ctx: DvrContext, p: Params, defaults: DvrDefaults): Promise<DvrResult> {
  const { session } = ctx;
  const title = rulePattern(p.title ?? '');
  const channel = channelParam(p, defaults);
  const ch = channel !== undefined ? resolveChannel(session, channel) : undefined;
  const rule: AutorecOptions = { ...autorecParams(p, defaults.configName), title, channelId: ch ? ch.channelId : -1, waitMs: ctx.waitMs };
  return ruleOutput(session, await addAutorecRule(session, rule));
}

async function updateAutorec(ctx: DvrContext, p: Params): Promise<DvrResult> {
  const { session } = ctx;
  const id = ruleIdOf(p, 'autorec rule');
  const changes = autorecParams(p, '');
  if (p.title !== undefined) changes.title = rulePattern(p.title);
  if (p.channel !== undefined) changes.channelId = ruleChannelParam(session, p.channel);
  return ruleOutput(session, await updateAutorecRule(session, id, changes, { waitMs: ctx.waitMs }));
}

async function deleteAutorec(ctx: DvrContext, p: Params): Promise<DvrResult> {
  const id = ruleIdOf(p, 'autorec rule');
  return ruleOutput(ctx.session, await deleteAutorecRule(ctx.session, id, { waitMs: ctx.waitMs }));
}

function listAutorec(ctx: DvrContext): FriendlyAutorec[] {
  const { session } = ctx;
  return listAutorecs(session).map((r) => ruleResult(session, r));
}

async function addTimerec(ctx: DvrContext, p: Params, defaults: DvrDefaults): Promise<DvrResult> {
  const { session } = ctx;
  const channel = channelParam(p, defaults);
  if (channel === undefined) throw badInput('a time rule needs a channel: set one in the node or send msg.payload.channel');
  const ch = resolveChannel(session, channel);
  if (p.start === undefined || p.stop === undefined) throw badInput('a time rule needs msg.payload.start and msg.payload.stop (times of day such as "20:15")');
  const start = parseTimeOfDay(p.start, 'msg.payload.start');
  const stop = parseTimeOfDay(p.stop, 'msg.payload.stop');
  if (start === stop) throw badInput('msg.payload.stop must differ from msg.payload.start');
  const title = p.title === undefined ? '' : text(p.title, 'msg.payload.title').trim();
  if (!title) throw badInput('a time rule needs a title in msg.payload.title (it names the recordings; %F and %R add the date and time)');
  // Tvheadend's time rules have no padding; silently dropping it would surprise.
  if (p.startExtra !== undefined || p.stopExtra !== undefined) throw badInput('a time rule has no padding: leave out startExtra and stopExtra, or widen start and stop');
  const rule: TimerecOptions = { ...commonOptions(p, defaults.configName), channelId: ch.channelId, start, stop, title, waitMs: ctx.waitMs };
  if (p.name !== undefined) rule.name = text(p.name, 'msg.payload.name');
  if (p.enabled !== undefined) rule.enabled = parseBoolean(p.enabled, 'msg.payload.enabled');
  if (p.directory !== undefined) rule.directory = text(p.directory, 'msg.payload.directory');
  if (p.daysOfWeek !== undefined) {
    rule.daysOfWeek = parseDays(p.daysOfWeek, 'msg.payload.daysOfWeek');
    if (rule.daysOfWeek === 0) throw badInput('msg.payload.daysOfWeek names no day: a time rule needs at least one');
  }
  return timerecOutput(session, await addTimerecRule(session, rule));
}

async function deleteTimerec(ctx: DvrContext, p: Params): Promise<DvrResult> {
  const id = ruleIdOf(p, 'time rule');
  return timerecOutput(ctx.session, await deleteTimerecRule(ctx.session, id, { waitMs: ctx.waitMs }));
}

function listTimerec(ctx: DvrContext): FriendlyTimerec[] {
  const { session } = ctx;
  return listTimerecs(session).map((r) => timerecResult(session, r));
}

async function result(ctx: DvrContext, action: Exclude<Action, 'stop'>, p: Params, defaults: DvrDefaults): Promise<DvrResult> {
  switch (action) {
    case 'record':
      return record(ctx, p, defaults);
    case 'timer':
      return timer(ctx, p, defaults);
    case 'update':
      return update(ctx, p);
    case 'cancel':
      return changeEntry(ctx, 'cancel', p);
    case 'delete':
      return changeEntry(ctx, 'delete', p);
    case 'list':
      return list(ctx, p, defaults);
    case 'addAutorec':
      return addAutorec(ctx, p, defaults);
    case 'updateAutorec':
      return updateAutorec(ctx, p);
    case 'deleteAutorec':
      return deleteAutorec(ctx, p);
    case 'listAutorec':
      return listAutorec(ctx);
    case 'addTimerec':
      return addTimerec(ctx, p, defaults);
    case 'deleteTimerec':
      return deleteTimerec(ctx, p);
    case 'listTimerec':
      return listTimerec(ctx);
    default:
      throw badInput(`unknown action ${String(action)}`);
  }
}

/** Carries out one action. The caller has made sure the session is ready. */
export async function runAction(ctx: DvrContext, action: Action, p: Params, defaults: DvrDefaults): Promise<DvrOutput> {
  const rights = ctx.session.rights;
  // A missing right costs the server a deliberate 250 ms per request (G16): don't ask in vain.
  if (rights && !rights.dvr) throw new NodeError('noaccess', 'the Tvheadend user of the server node has no DVR rights');
  if (action === 'stop') return stop(ctx, p);
  return { payload: await result(ctx, action, p, defaults) };
}
