/**
 * The `tvheadend-events` node's settings and filters. Pure (no Node-RED), so that they are tested
 * and reasoned about without a runtime.
 *
 * Filters run on the protocol library's change objects before any message is built: the first
 * sync of a large EPG delivers 100 000 changes, and all but the wanted ones must cost no more
 * than a set lookup.
 */
import { STATUS_KINDS, type CacheKind, type ChangeAction, type ChangeEvent, type Channel, type StatusChangeEvent, type StatusKind } from '../../htsp';
import type { NodeDef } from '../shared/types';

export const EVENTS_TYPE = 'tvheadend-events';

/** The node as saved by the editor; every property is checked by `parseEventsSettings`. */
export interface EventsNodeDef extends NodeDef {
  server?: string;
  kinds?: unknown;
  actions?: unknown;
  channels?: unknown;
  title?: unknown;
  initial?: unknown;
  pollInterval?: unknown;
  automations?: unknown;
  reminderMinutes?: unknown;
}

/** Kinds mirrored from the session's metadata cache. */
export const OBJECT_KINDS: readonly CacheKind[] = ['channel', 'tag', 'event', 'dvrEntry', 'autorecEntry', 'timerecEntry'];
/** Server-wide activity from the admin status poll; `connection` = client connections of the server. */
export const SERVER_KINDS: readonly StatusKind[] = STATUS_KINDS;
/** Our own session's state changes (connecting, ready, disconnected, …). */
export const SESSION_KIND = 'session';

export type EventsKind = CacheKind | StatusKind | typeof SESSION_KIND;
export const ALL_KINDS: readonly EventsKind[] = [...OBJECT_KINDS, ...SERVER_KINDS, SESSION_KIND];

export const ACTIONS: readonly ChangeAction[] = ['add', 'update', 'delete'];

export const AUTOMATIONS = ['recordingStarted', 'recordingFinished', 'recordingFailed', 'nowPlaying', 'reminder'] as const;
export type Automation = (typeof AUTOMATIONS)[number];

/** none: only changes; start: the current state once when the node starts; connect: also after every reconnect. */
export type InitialMode = 'none' | 'start' | 'connect';

export const EVENTS_DEFAULTS = Object.freeze({
  kinds: ['channel', 'tag', 'dvrEntry', 'autorecEntry', 'timerecEntry', 'session'] as EventsKind[],
  actions: [...ACTIONS],
  initial: 'none' as InitialMode,
  pollInterval: 5,
  reminderMinutes: '5',
});

const POLL_LIMITS = [1, 3600] as const;

export interface EventsSettings {
  kinds: ReadonlySet<EventsKind>;
  actions: ReadonlySet<ChangeAction>;
  /** Channel references as typed: id, name or number. Empty = all channels. */
  channels: readonly string[];
  /** Case-insensitive; undefined = no title filter. */
  title: RegExp | undefined;
  initial: InitialMode;
  pollIntervalMs: number;
  automations: ReadonlySet<Automation>;
  reminderMinutes: readonly number[];
}

/** A setting that cannot be used; the node shows it and refuses to run with it. */
export class SettingsError extends Error {
  constructor(
    message: string,
    /** Short status text. */
    readonly short: string,
  ) {
    super(message);
    this.name = 'SettingsError';
  }
}

/**
 * A list setting as saved by the editor (an array) or typed by hand in an older flow or a
 * hand-written one (a comma-separated string). Unknown entries are dropped.
 */
function listOf<T extends string>(raw: unknown, allowed: readonly T[], fallback: readonly T[]): T[] {
  let items: unknown[];
  if (Array.isArray(raw)) items = raw;
  else if (typeof raw === 'string') items = raw.split(',');
  else return [...fallback];
  const out: T[] = [];
  for (const item of items) {
    if (typeof item !== 'string') continue;
    const v = item.trim();
    if ((allowed as readonly string[]).includes(v) && !out.includes(v as T)) out.push(v as T);
  }
  return out;
}

/** "ARD, 3, 7.1" → ["ARD", "3", "7.1"]. */
export function channelRefs(raw: unknown): string[] {
  if (typeof raw === 'number') return [String(raw)];
  if (Array.isArray(raw)) return raw.flatMap((r) => channelRefs(r));
  if (typeof raw !== 'string') return [];
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export function compileTitle(raw: unknown): RegExp | undefined {
  if (typeof raw !== 'string' || raw.trim() === '') return undefined;
  try {
    return new RegExp(raw.trim(), 'i');
  } catch (err) {
    throw new SettingsError(`the title pattern is not a valid regular expression: ${err instanceof Error ? err.message : String(err)}`, 'bad title pattern');
  }
}

export function reminderLeads(raw: unknown): number[] {
  const text = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw : '';
  const parts = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (parts.length === 0) return [Number(EVENTS_DEFAULTS.reminderMinutes)];
  const out: number[] = [];
  for (const p of parts) {
    const n = Number(p);
    if (!Number.isFinite(n) || n < 0 || n > 10080) {
      throw new SettingsError(`reminder minutes must be numbers from 0 to 10080 (a week), got "${p}"`, 'bad reminder minutes');
    }
    if (!out.includes(n)) out.push(n);
  }
  return out;
}

function pollSeconds(raw: unknown): number {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
  if (!Number.isFinite(n)) return EVENTS_DEFAULTS.pollInterval;
  return Math.min(POLL_LIMITS[1], Math.max(POLL_LIMITS[0], n));
}

function initialMode(raw: unknown): InitialMode {
  return raw === 'start' || raw === 'connect' ? raw : 'none';
}

/** The node's settings from its saved definition. Throws `SettingsError` for unusable ones. */
export function parseEventsSettings(raw: Readonly<Record<string, unknown>>): EventsSettings {
  const kinds = listOf(raw.kinds, ALL_KINDS, EVENTS_DEFAULTS.kinds);
  const actions = listOf(raw.actions, ACTIONS, EVENTS_DEFAULTS.actions);
  const automations = listOf(raw.automations, AUTOMATIONS, []);
  return {
    kinds: new Set(kinds),
    actions: new Set(actions),
    channels: channelRefs(raw.channels),
    title: compileTitle(raw.title),
    initial: initialMode(raw.initial),
    pollIntervalMs: Math.round(pollSeconds(raw.pollInterval) * 1000),
    automations: new Set(automations),
    reminderMinutes: automations.includes('reminder') ? reminderLeads(raw.reminderMinutes) : [],
  };
}

// ---------------------------------------------------------------- channel filter

/**
 * Whether a channel change can change what a channel reference (name or number) resolves to:
 * an add or delete, or an update of the name or number.
 */
export function changesChannelRefs(change: Extract<ChangeEvent, { kind: 'channel' }>): boolean {
  return change.action !== 'update' || change.changed.some((f) => f === 'channelName' || f === 'channelNumber' || f === 'channelNumberMinor');
}

/** What the channel filter needs from the session. */
export interface ChannelLookup {
  findChannel(ref: number | string): Channel | undefined;
}

/**
 * Matches objects against the node's channel list. Names and numbers are resolved to ids through
 * the session's channel list, lazily, and again after a channel was added, deleted, renamed or
 * renumbered, so that a filter written before the first sync (or before a rename) still works.
 */
export class ChannelFilter {
  private ids = new Set<number>();
  private names = new Set<string>();
  private dirty = true;

  constructor(
    private readonly refs: readonly string[],
    private readonly lookup: ChannelLookup,
  ) {}

  get active(): boolean {
    return this.refs.length > 0;
  }

  /** Called for every channel change; only those that can change what a reference names matter. */
  noteChannelChange(change: Extract<ChangeEvent, { kind: 'channel' }>): void {
    if (this.dirty || !this.active) return;
    if (changesChannelRefs(change)) this.dirty = true;
  }

  invalidate(): void {
    this.dirty = true;
  }

  private resolve(): void {
    if (!this.dirty) return;
    this.dirty = false;
    const ids = new Set<number>();
    const names = new Set<string>();
    for (const ref of this.refs) {
      // Kept as a name too: a DVR entry of a deleted channel, and the server's status lists,
      // only carry the channel's name.
      names.add(ref.toLowerCase());
      const ch = this.lookup.findChannel(ref);
      if (!ch) continue;
      ids.add(ch.channelId);
      if (typeof ch.channelName === 'string') names.add(ch.channelName.toLowerCase());
    }
    this.ids = ids;
    this.names = names;
  }

  /** Ids of the channels the filter names right now (for reminder rules). */
  channelIds(): number[] {
    this.resolve();
    return [...this.ids];
  }

  matches(id: number | undefined, name?: string): boolean {
    if (!this.active) return true;
    this.resolve();
    if (id !== undefined && this.ids.has(id)) return true;
    return typeof name === 'string' && this.names.has(name.toLowerCase());
  }

  /** Whether a cache object passes; kinds without a channel (tags) always do. */
  matchesObject(change: ChangeEvent): boolean {
    if (!this.active) return true;
    switch (change.kind) {
      case 'channel':
        return this.matches(change.object.channelId, change.object.channelName);
      case 'event':
        return this.matches(change.object.channelId);
      case 'dvrEntry':
        return this.matches(change.object.channel, change.object.channelName);
      case 'autorecEntry':
      case 'timerecEntry':
        return this.matches(change.object.channel);
      case 'tag':
        return true;
      default:
        return true;
    }
  }

  /** Server subscriptions name their channel; inputs and connections have none. */
  matchesStatus(change: StatusChangeEvent): boolean {
    if (!this.active || change.kind !== 'serverSubscription') return true;
    const ch = change.object.channel;
    return this.matches(undefined, typeof ch === 'string' ? ch : undefined);
  }
}

/** The title filter applies to EPG events and DVR entries (before or after the change). */
export function titleMatches(title: RegExp | undefined, change: ChangeEvent): boolean {
  if (!title) return true;
  if (change.kind !== 'event' && change.kind !== 'dvrEntry') return true;
  return textMatches(title, change.object.title) || (change.previous !== undefined && textMatches(title, change.previous.title));
}

export function textMatches(re: RegExp | undefined, text: string | undefined): boolean {
  if (!re) return true;
  return typeof text === 'string' && re.test(text);
}
