/**
 * The DVR node's actions: what a message asks for, carried out by the library's DVR operations
 * (src/htsp/dvr.ts) and put into the node's output shapes.
 */
import {
  DVR_CHANGE_WAIT_MS,
  DVR_STATUSES,
  addAutorec as addAutorecRule,
  addTimer,
  cancelRecording,
  deleteAutorec as deleteAutorecRule,
  deleteRecording,
  listAutorecs,
  listRecordings,
  recordEvent,
  stopRecording,
  type AutorecEntry,
  type AutorecOptions,
  type AutorecResult,
  type Channel,
  type DvrEntry,
  type DvrEntryOptions,
  type DvrEntryResult,
  type DvrStatus,
  type EpgEvent,
  type EpgSource,
  type HtspSession,
} from '../../htsp';
import { NodeError, badInput, channelRef, describe, isPlainObject, parseBoolean, parseTime, resolveChannel } from '../shared';
import { searchPattern } from '../epg/query';
import { friendlyAutorec, friendlyDvrEntry, type FriendlyAutorec, type FriendlyDvrEntry } from './format';

export const ACTIONS = ['record', 'timer', 'stop', 'cancel', 'delete', 'list', 'addAutorec', 'deleteAutorec', 'listAutorec'] as const;
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

export type DvrResult = FriendlyDvrEntry | FriendlyAutorec | FriendlyDvrEntry[] | FriendlyAutorec[] | { id: number | string };

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

function commonOptions(p: Params, defaults: DvrDefaults): DvrEntryOptions {
  const out: DvrEntryOptions = {};
  const configName = p.configName !== undefined ? text(p.configName, 'msg.payload.configName') : defaults.configName;
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
  if (raw === undefined) throw badInput('no DVR entry: send its id in msg.payload.id (or msg.payload as a number)');
  return integer(raw, 'the DVR entry id', 1, MAX_ID);
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

function entryOutput(session: HtspSession, r: DvrEntryResult): DvrResult {
  // Without the pushed entry (the user may not see it) the id is all there is to report.
  return r.entry ? entryResult(session, r.entry, r.removed) : { id: r.id };
}

function ruleOutput(session: HtspSession, r: AutorecResult): DvrResult {
  return r.rule ? ruleResult(session, r.rule) : { id: r.id };
}

/** The event to record: by id, the one on a channel now (or next), or the next one matching a title. */
async function eventToRecord(ctx: DvrContext, p: Params, defaults: DvrDefaults): Promise<EpgEvent | number> {
  const { session, source } = ctx;
  if (p.eventId !== undefined) return integer(p.eventId, 'msg.payload.eventId', 1, MAX_ID);
  const channel = channelParam(p, defaults);
  if (p.title !== undefined && p.title !== '') {
    const regex = p.regex === undefined ? false : parseBoolean(p.regex, 'msg.payload.regex');
    const title = searchPattern(p.title, regex, 'msg.payload.title');
    const ch = channel !== undefined ? resolveChannel(session, channel) : undefined;
    const found = await source.search({ title, from: await source.now(), limit: 1, ...(ch ? { channelId: ch.channelId } : {}) });
    if (found.length === 0) {
      throw badInput(`no programme that has not ended matches the title ${describe(p.title)}${ch ? ` on ${ch.channelName}` : ''}`);
    }
    return found[0];
  }
  if (channel !== undefined) {
    const ch = resolveChannel(session, channel);
    const when = p.when === undefined ? 'now' : p.when;
    if (when !== 'now' && when !== 'next') throw badInput(`msg.payload.when must be "now" or "next", got ${describe(when)}`);
    const nn = await source.nowNext(ch, await source.now());
    const ev = when === 'now' ? nn.now : nn.next;
    if (!ev) throw badInput(`the programme guide has no ${when === 'now' ? 'running' : 'next'} programme on ${ch.channelName}`);
    return ev;
  }
  throw badInput('nothing to record: send msg.payload.eventId, msg.payload.channel (records what is on now) or msg.payload.title');
}

// ------------------------------------------------------------------ actions

async function record(ctx: DvrContext, p: Params, defaults: DvrDefaults): Promise<DvrResult> {
  const target = await eventToRecord(ctx, p, defaults);
  const options = { ...commonOptions(p, defaults), waitMs: ctx.waitMs };
  return entryOutput(ctx.session, await recordEvent(ctx.session, target, options));
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
  const timerOptions = { channelId: ch.channelId, start, stop, title, ...texts, ...commonOptions(p, defaults), waitMs: ctx.waitMs };
  return entryOutput(ctx.session, await addTimer(ctx.session, timerOptions));
}

const ENTRY_OPERATIONS = { stop: stopRecording, cancel: cancelRecording, delete: deleteRecording } as const;

async function changeEntry(ctx: DvrContext, action: keyof typeof ENTRY_OPERATIONS, p: Params): Promise<DvrResult> {
  const id = dvrIdOf(p);
  return entryOutput(ctx.session, await ENTRY_OPERATIONS[action](ctx.session, id, { waitMs: ctx.waitMs }));
}

function list(ctx: DvrContext, p: Params, defaults: DvrDefaults): FriendlyDvrEntry[] {
  const filter = p.state !== undefined ? parseListFilter(p.state, 'msg.payload.state') : defaults.list;
  const { session } = ctx;
  return listRecordings(session, filter).map((e) => entryResult(session, e));
}

async function addAutorec(ctx: DvrContext, p: Params, defaults: DvrDefaults): Promise<DvrResult> {
  const { session } = ctx;
  const title = p.title === undefined ? '' : text(p.title, 'msg.payload.title');
  if (!title.trim()) throw badInput('an autorec rule needs a title pattern in msg.payload.title');
  // Tvheadend matches with its own regular expressions; one JavaScript cannot compile is almost
  // certainly a typo that would make the rule match nothing.
  searchPattern(title, true, 'msg.payload.title');
  const channel = channelParam(p, defaults);
  const ch = channel !== undefined ? resolveChannel(session, channel) : undefined;
  const rule: AutorecOptions = { title, channelId: ch ? ch.channelId : -1, ...commonOptions(p, defaults), waitMs: ctx.waitMs };
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
  if (p.daysOfWeek !== undefined) rule.daysOfWeek = integer(p.daysOfWeek, 'msg.payload.daysOfWeek (bit 0 = Monday)', 0, 0x7f);
  if (p.dupDetect !== undefined) rule.dupDetect = integer(p.dupDetect, 'msg.payload.dupDetect', 0, 15) as AutorecOptions['dupDetect'];
  if (p.maxCount !== undefined) rule.maxCount = integer(p.maxCount, 'msg.payload.maxCount', 0, MAX_ID);
  if (p.directory !== undefined) rule.directory = text(p.directory, 'msg.payload.directory');
  return ruleOutput(session, await addAutorecRule(session, rule));
}

async function deleteAutorec(ctx: DvrContext, p: Params): Promise<DvrResult> {
  const raw = p.id;
  if (typeof raw !== 'string' || raw.trim() === '') {
    throw badInput(`no autorec rule: send its id (text) in msg.payload.id or as msg.payload, got ${describe(raw)}`);
  }
  return ruleOutput(ctx.session, await deleteAutorecRule(ctx.session, raw.trim(), { waitMs: ctx.waitMs }));
}

function listAutorec(ctx: DvrContext): FriendlyAutorec[] {
  const { session } = ctx;
  return listAutorecs(session).map((r) => ruleResult(session, r));
}

/** Carries out one action. The caller has made sure the session is ready. */
export async function runAction(ctx: DvrContext, action: Action, p: Params, defaults: DvrDefaults): Promise<DvrResult> {
  const rights = ctx.session.rights;
  // A missing right costs the server a deliberate 250 ms per request (G16): don't ask in vain.
  if (rights && !rights.dvr) throw new NodeError('noaccess', 'the Tvheadend user of the server node has no DVR rights');
  switch (action) {
    case 'record':
      return record(ctx, p, defaults);
    case 'timer':
      return timer(ctx, p, defaults);
    case 'stop':
      return changeEntry(ctx, 'stop', p);
    case 'cancel':
      return changeEntry(ctx, 'cancel', p);
    case 'delete':
      return changeEntry(ctx, 'delete', p);
    case 'list':
      return list(ctx, p, defaults);
    case 'addAutorec':
      return addAutorec(ctx, p, defaults);
    case 'deleteAutorec':
      return deleteAutorec(ctx, p);
    case 'listAutorec':
      return listAutorec(ctx);
    default:
      throw badInput(`unknown action ${String(action)}`);
  }
}
