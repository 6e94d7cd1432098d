import { HtsUuid, type HtsmsgMap, type HtsmsgValue } from './codec';
import { ContainedEmitter } from './connection';
import type { AutorecEntry, Channel, DvrEntry, EpgEvent, Tag, TimerecEntry } from './messages';

/** What the cache holds, by kind. */
export interface CacheObjects {
  channel: Channel;
  tag: Tag;
  dvrEntry: DvrEntry;
  autorecEntry: AutorecEntry;
  timerecEntry: TimerecEntry;
  event: EpgEvent;
}
export type CacheKind = keyof CacheObjects;
export type CacheId<K extends CacheKind> = K extends 'autorecEntry' | 'timerecEntry' ? string : number;
export type ChangeAction = 'add' | 'update' | 'delete';

export interface ChangeEventOf<K extends CacheKind> {
  kind: K;
  action: ChangeAction;
  id: CacheId<K>;
  /** The merged object; for a delete the last known one. Treat as read-only: the cache shares it. */
  object: CacheObjects[K];
  /** The object before the change (update, delete). */
  previous?: CacheObjects[K];
  /** Names of the fields whose value changed; for an add every field, for a delete none. */
  changed: string[];
  /** Found by the reconciliation after a reconnect (the server re-sent everything). */
  resync?: boolean;
  /** Part of the very first sync of this cache: everything is new then. */
  initial?: boolean;
}

/** A change of any kind; narrow on `kind`. */
export type ChangeEvent = { [K in CacheKind]: ChangeEventOf<K> }[CacheKind];

export interface EpgSearch {
  /** A string matches case-insensitively anywhere in the title. */
  title?: string | RegExp;
  /** Matched against title, subtitle, summary, description, credits, categories, keywords. */
  fullText?: string | RegExp;
  channelId?: number;
  /** 0–15: the DVB major category (high nibble); 16–255: the exact content byte. */
  contentType?: number;
  /** Only events that have not ended by then (epoch seconds). */
  from?: number;
  /** Only events that start before then (epoch seconds). */
  to?: number;
  limit?: number;
}

export interface CacheOptions {
  /** The server's clock in epoch seconds (default: the local clock). */
  now?: () => number;
  /**
   * Events that ended more than this many seconds ago are dropped by `pruneEvents()` and not
   * taken in at all. 0 = keep everything. Default 6 h.
   */
  keepEndedEventsSec?: number;
}

export interface ResyncOptions {
  /** Whether the server will re-send EPG events in this sync; without them events are not swept. */
  epg?: boolean;
}

export interface SyncCounts {
  channels: number;
  tags: number;
  dvrEntries: number;
  autorecEntries: number;
  timerecEntries: number;
  events: number;
}

type Rec = Record<string, HtsmsgValue>;
type Id = number | string;

interface Route {
  kind: CacheKind;
  op: 'add' | 'update' | 'delete';
}

const ROUTES: Readonly<Record<string, Route>> = {
  channelAdd: { kind: 'channel', op: 'add' },
  channelUpdate: { kind: 'channel', op: 'update' },
  channelDelete: { kind: 'channel', op: 'delete' },
  tagAdd: { kind: 'tag', op: 'add' },
  tagUpdate: { kind: 'tag', op: 'update' },
  tagDelete: { kind: 'tag', op: 'delete' },
  dvrEntryAdd: { kind: 'dvrEntry', op: 'add' },
  dvrEntryUpdate: { kind: 'dvrEntry', op: 'update' },
  dvrEntryDelete: { kind: 'dvrEntry', op: 'delete' },
  autorecEntryAdd: { kind: 'autorecEntry', op: 'add' },
  autorecEntryUpdate: { kind: 'autorecEntry', op: 'update' },
  autorecEntryDelete: { kind: 'autorecEntry', op: 'delete' },
  timerecEntryAdd: { kind: 'timerecEntry', op: 'add' },
  timerecEntryUpdate: { kind: 'timerecEntry', op: 'update' },
  timerecEntryDelete: { kind: 'timerecEntry', op: 'delete' },
  eventAdd: { kind: 'event', op: 'add' },
  eventUpdate: { kind: 'event', op: 'update' },
  eventDelete: { kind: 'event', op: 'delete' },
};

const ID_FIELD: Readonly<Record<CacheKind, string>> = {
  channel: 'channelId',
  tag: 'tagId',
  dvrEntry: 'id',
  autorecEntry: 'id',
  timerecEntry: 'id',
  event: 'eventId',
};

const KINDS: readonly CacheKind[] = ['channel', 'tag', 'dvrEntry', 'autorecEntry', 'timerecEntry', 'event'];

/** True for the metadata messages `apply` understands (including `initialSyncCompleted`). */
export function isMetadataMessage(method: string): boolean {
  return Object.hasOwn(ROUTES, method) || method === 'initialSyncCompleted';
}

const NO_FIELDS: string[] = [];

export declare interface MetadataCache {
  on(event: 'change', listener: (change: ChangeEvent) => void): this;
  /** A listener threw; it was contained (see ContainedEmitter). */
  on(event: 'listenerError', listener: (err: unknown, event: string) => void): this;
  once(event: 'change', listener: (change: ChangeEvent) => void): this;
  off(event: 'change', listener: (change: ChangeEvent) => void): this;
  emit(event: 'change', change: ChangeEvent): boolean;
}

/**
 * Live copy of the server's metadata. Objects are immutable snapshots: a change replaces the
 * stored object, so `previous` in a change event stays valid and nothing needs copying on read.
 *
 * Merge rules: partial updates (now/next channel updates, stats-only DVR updates) merge field by
 * field. Full records (every `*Add`, and the updates Tvheadend builds with the same function as
 * the add) replace the cached object, so a field that went away (a cleared `error`, an event's
 * `dvrId`) is reported as changed and does not linger.
 */
export class MetadataCache extends ContainedEmitter {
  private readonly maps: Record<CacheKind, Map<Id, Rec>> = {
    channel: new Map(),
    tag: new Map(),
    dvrEntry: new Map(),
    autorecEntry: new Map(),
    timerecEntry: new Map(),
    event: new Map(),
  };
  /** Event ids per channel, ordered by (start, eventId). */
  private readonly byChannel = new Map<number, number[]>();
  private readonly clock: () => number;
  private readonly keepEndedSec: number;

  private syncing = false;
  private firstSync = true;
  private sweepEvents = true;
  /**
   * Ids received during the current sync, per kind: whatever is missing at the end is gone.
   * Only kept for kinds that had objects when the sync began (nothing else can be stale), which
   * spares a first sync of 100k events a 100k-entry set.
   */
  private seen: Partial<Record<CacheKind, Set<Id>>> = {};
  private received: SyncCounts = zeroCounts();
  /** Tags arrive twice in a sync (tagAdd without members, tagUpdate with); they are compared once, at the end. */
  private pendingTags = new Map<Id, Rec>();

  constructor(opts: CacheOptions = {}) {
    super();
    this.clock = opts.now ?? (() => Math.floor(Date.now() / 1000));
    this.keepEndedSec = opts.keepEndedEventsSec ?? 6 * 3600;
  }

  // ------------------------------------------------------------------ reading

  get channelsById(): ReadonlyMap<number, Channel> {
    return this.maps.channel as unknown as ReadonlyMap<number, Channel>;
  }
  get tagsById(): ReadonlyMap<number, Tag> {
    return this.maps.tag as unknown as ReadonlyMap<number, Tag>;
  }
  get dvrEntriesById(): ReadonlyMap<number, DvrEntry> {
    return this.maps.dvrEntry as unknown as ReadonlyMap<number, DvrEntry>;
  }
  get autorecEntriesById(): ReadonlyMap<string, AutorecEntry> {
    return this.maps.autorecEntry as unknown as ReadonlyMap<string, AutorecEntry>;
  }
  get timerecEntriesById(): ReadonlyMap<string, TimerecEntry> {
    return this.maps.timerecEntry as unknown as ReadonlyMap<string, TimerecEntry>;
  }
  get eventsById(): ReadonlyMap<number, EpgEvent> {
    return this.maps.event as unknown as ReadonlyMap<number, EpgEvent>;
  }

  get<K extends CacheKind>(kind: K, id: CacheId<K>): CacheObjects[K] | undefined {
    return this.maps[kind].get(id) as CacheObjects[K] | undefined;
  }

  /**
   * The current objects of one kind as `add` changes (a snapshot a consumer can filter like live
   * changes). For events, `channelIds` walks only those channels' schedules, not the whole EPG.
   */
  *currentAsAdds(kind: CacheKind, channelIds?: readonly number[]): Generator<ChangeEvent> {
    if (kind === 'event' && channelIds) {
      for (const ch of channelIds) for (const o of this.eventsOf(ch)) yield { kind, action: 'add', id: o.eventId, object: o, changed: [] };
      return;
    }
    for (const [id, object] of this.maps[kind]) yield { kind, action: 'add', id, object, changed: [] } as unknown as ChangeEvent;
  }

  channels(): Channel[] {
    return [...this.channelsById.values()];
  }
  tags(): Tag[] {
    return [...this.tagsById.values()];
  }
  dvrEntries(): DvrEntry[] {
    return [...this.dvrEntriesById.values()];
  }
  autorecEntries(): AutorecEntry[] {
    return [...this.autorecEntriesById.values()];
  }
  timerecEntries(): TimerecEntry[] {
    return [...this.timerecEntriesById.values()];
  }
  /** One channel's events in start order. */
  eventsOf(channelId: number): EpgEvent[] {
    const ids = this.byChannel.get(channelId);
    return ids ? ids.map((id) => this.maps.event.get(id) as EpgEvent) : [];
  }

  get counts(): SyncCounts {
    return {
      channels: this.maps.channel.size,
      tags: this.maps.tag.size,
      dvrEntries: this.maps.dvrEntry.size,
      autorecEntries: this.maps.autorecEntry.size,
      timerecEntries: this.maps.timerecEntry.size,
      events: this.maps.event.size,
    };
  }

  /** Objects received so far in the running sync (all zero when not syncing). */
  get syncProgress(): SyncCounts {
    return this.syncing ? { ...this.received, tags: this.pendingTags.size } : zeroCounts();
  }

  get isSyncing(): boolean {
    return this.syncing;
  }

  /** True once a sync has completed (after that, every sync is a resync). */
  get hasSynced(): boolean {
    return !this.firstSync;
  }

  // ------------------------------------------------------------------ sync

  /**
   * Call before `enableAsyncMetadata`. Everything cached counts as stale until the server sends
   * it again; `completeResync` (or `initialSyncCompleted` through `apply`) removes what did not come.
   */
  beginResync(opts: ResyncOptions = {}): void {
    this.syncing = true;
    this.sweepEvents = opts.epg !== false;
    this.pendingTags = new Map();
    this.received = zeroCounts();
    this.seen = {};
    for (const kind of KINDS) if (this.maps[kind].size > 0) this.seen[kind] = new Set();
  }

  /** Ends a sync: tags are compared, then whatever was not re-sent is deleted. */
  completeResync(): ChangeEvent[] {
    const out: ChangeEvent[] = [];
    if (!this.syncing) return out;
    const seen = this.seen;
    const flag = this.flags();

    this.reconcileTags(flag, out);

    for (const kind of KINDS) {
      if (kind === 'tag' || (kind === 'event' && !this.sweepEvents)) continue;
      const map = this.maps[kind];
      const back = seen[kind];
      if (!back || back.size === map.size) continue;
      const deleted: Rec[] = [];
      for (const [id, obj] of map) {
        if (back.has(id)) continue;
        map.delete(id);
        deleted.push(obj);
        out.push(deleteEvent(kind, id, obj, flag));
      }
      if (kind === 'event' && deleted.length) this.reindexAfterBulkDelete(deleted);
    }
    this.syncing = false;
    this.firstSync = false;
    this.seen = {};
    for (const c of out) this.emit('change', c);
    return out;
  }

  /**
   * Tvheadend renumbers `tagId` on every start (G13), so after a server restart an id may be
   * gone, new, or even name another tag. Where the server sends `tagIdStr` (v41+), that is the
   * tag's identity: an old tag that comes back under a new id is one `update` (with `tagId` in
   * `changed`, the old id in `previous.tagId`), not a delete and an add. The cache stays keyed by
   * the current `tagId`, because that is what channels' `tags` lists hold. Without `tagIdStr`
   * the id is all there is.
   */
  private reconcileTags(flag: SyncFlag, out: ChangeEvent[]): void {
    const pending = this.pendingTags;
    this.pendingTags = new Map();
    const map = this.maps.tag;
    const oldByStr = new Map<string, Id>();
    for (const [id, t] of map) if (typeof t.tagIdStr === 'string') oldByStr.set(t.tagIdStr, id);
    const continues = new Map<Id, Id>(); // new id → old id
    const used = new Set<Id>();
    for (const [id, incoming] of pending) {
      const str = incoming.tagIdStr;
      let oldId: Id | undefined;
      if (typeof str === 'string' && oldByStr.size > 0) {
        oldId = oldByStr.get(str);
      } else {
        const same = map.get(id);
        // The same number under another tagIdStr is another tag that inherited the number.
        if (same && (typeof str !== 'string' || typeof same.tagIdStr !== 'string' || same.tagIdStr === str)) oldId = id;
      }
      if (oldId !== undefined && !used.has(oldId)) {
        continues.set(id, oldId);
        used.add(oldId);
      }
    }
    const old = new Map(map);
    map.clear();
    for (const [id, oldId] of continues) map.set(id, old.get(oldId) as Rec);
    for (const [id, incoming] of pending) {
      const c = this.store('tag', id, incoming, true, flag);
      if (c) out.push(c);
    }
    for (const [id, obj] of old) if (!used.has(id)) out.push(deleteEvent('tag', id, obj, flag));
  }

  /**
   * Whether two `tags` lists name the same tags, the old one in the cache's numbering and the
   * new one in the numbering of the sync under way (whose tags are pending until its end);
   * undefined when that cannot be told (a list missing, a tag without tagIdStr).
   */
  private sameTagsByStr(before: HtsmsgValue | undefined, after: HtsmsgValue | undefined): boolean | undefined {
    if (!Array.isArray(before) || !Array.isArray(after)) return undefined;
    const strs = (ids: HtsmsgValue[], lookup: (id: number) => Rec | undefined): string[] | undefined => {
      const out: string[] = [];
      for (const id of ids) {
        const str = typeof id === 'number' ? lookup(id)?.tagIdStr : undefined;
        if (typeof str !== 'string') return undefined;
        out.push(str);
      }
      return out.sort();
    };
    const a = strs(before, (id) => this.maps.tag.get(id));
    const b = strs(after, (id) => this.pendingTags.get(id));
    if (a === undefined || b === undefined) return undefined;
    return a.length === b.length && a.every((s, i) => s === b[i]);
  }

  /** Drops a sync that will not complete (connection lost): nothing is swept, nothing emitted. */
  abortResync(): void {
    this.syncing = false;
    this.seen = {};
    this.pendingTags = new Map();
  }

  /** Forgets everything without emitting (e.g. when switching servers). */
  clear(): void {
    for (const kind of KINDS) this.maps[kind].clear();
    this.byChannel.clear();
    this.pendingTags = new Map();
    this.syncing = false;
    this.seen = {};
    this.firstSync = true;
  }

  // ------------------------------------------------------------------ applying messages

  /**
   * Applies one metadata message and returns the resulting change (also emitted as 'change'),
   * or undefined when nothing changed. `initialSyncCompleted` ends a sync: its deletions are
   * emitted and not returned (use `completeResync()` directly to get them).
   */
  apply(msg: HtsmsgMap): ChangeEvent | undefined {
    const method = msg.method;
    if (typeof method !== 'string') return undefined;
    if (method === 'initialSyncCompleted') {
      this.completeResync();
      return undefined;
    }
    const route = Object.hasOwn(ROUTES, method) ? ROUTES[method] : undefined;
    if (!route) return undefined;
    const { kind, op } = route;
    const rawId = msg[ID_FIELD[kind]];
    const id = normaliseId(kind, rawId);
    if (id === undefined) return undefined;

    let change: ChangeEvent | undefined;
    if (op === 'delete') {
      change = this.remove(kind, id);
    } else if (this.syncing) {
      change = this.applyDuringSync(kind, op, id, msg);
    } else {
      change = this.store(kind, id, msg, isFullRecord(kind, op, msg));
    }
    if (change) this.emit('change', change);
    return change;
  }

  private applyDuringSync(kind: CacheKind, op: 'add' | 'update', id: Id, msg: HtsmsgMap): ChangeEvent | undefined {
    const seen = this.seen;
    if (kind === 'tag') {
      seen.tag?.add(id);
      const before = this.pendingTags.get(id);
      // tagAdd carries no members: keep the ones a tagUpdate (or the cache) supplies.
      this.pendingTags.set(id, before ? mergeRecords(before, msg) : copyRecord(msg));
      return undefined;
    }
    if (kind === 'event' && this.isLongEnded(msg)) return undefined;
    seen[kind]?.add(id);
    this.received[COUNT_OF[kind]]++;
    let verdict: FieldVerdict | undefined;
    if (kind === 'channel' && !this.firstSync) {
      const prev = this.maps.channel.get(id);
      // After a server restart the numbers in `tags` say nothing (G13): renumbered tags are the
      // same tags, and the same number may now be another tag. Compared by tagIdStr where known.
      const same = prev ? this.sameTagsByStr(prev.tags, msg.tags) : undefined;
      if (same !== undefined) verdict = { field: 'tags', changed: !same };
    }
    return this.store(kind, id, msg, isFullRecord(kind, op, msg), this.flags(), verdict);
  }

  /**
   * Stores `msg` as the new state of `kind`/`id`. `replace`: the message is a full record
   * (fields missing from it are gone). `verdict`: whether one field changed, decided by the
   * caller instead of by value (its new value is stored either way). Returns the change, or
   * undefined when nothing (reportable) changed.
   */
  private store(
    kind: CacheKind,
    id: Id,
    msg: HtsmsgMap,
    replace: boolean,
    flag?: SyncFlag,
    verdict?: FieldVerdict,
  ): ChangeEvent | undefined {
    const map = this.maps[kind];
    const prev = map.get(id);
    if (!prev) {
      if (kind === 'event' && this.isLongEnded(msg)) return undefined;
      const obj = copyRecord(msg);
      map.set(id, obj);
      if (kind === 'event') this.indexInsert(obj);
      return makeEvent(kind, 'add', id, obj, undefined, Object.keys(obj), flag);
    }
    let changed: string[] | undefined;
    for (const k in msg) {
      if (k === 'method') continue;
      const v = msg[k];
      if (v === undefined || v === null) continue;
      if (!valueEquals(prev[k], v)) (changed ??= []).push(k);
    }
    if (replace) {
      for (const k in prev) {
        if ((msg[k] === undefined || msg[k] === null) && !(kind === 'tag' && k === 'members')) (changed ??= []).push(k);
      }
    }
    let silent = false;
    if (verdict) {
      const f = verdict.field;
      const byValue = changed?.includes(f) ?? false;
      if (byValue && !verdict.changed) {
        changed = changed && changed.length > 1 ? changed.filter((k) => k !== f) : undefined;
        silent = true;
      } else if (!byValue && verdict.changed) {
        (changed ??= []).push(f);
      }
    }
    if (!changed && !silent) return undefined;
    let next: Rec;
    if (replace) {
      next = copyRecord(msg);
      if (kind === 'tag' && next.members === undefined && prev.members !== undefined) next.members = prev.members;
    } else {
      next = mergeRecords(prev, msg);
    }
    if (kind === 'event' && (prev.start !== next.start || prev.channelId !== next.channelId)) {
      this.indexRemove(prev);
      map.set(id, next);
      this.indexInsert(next);
    } else {
      map.set(id, next);
    }
    return changed ? makeEvent(kind, 'update', id, next, prev, changed, flag) : undefined;
  }

  private remove(kind: CacheKind, id: Id): ChangeEvent | undefined {
    const map = this.maps[kind];
    this.seen[kind]?.delete(id);
    if (kind === 'tag' && this.syncing) {
      // The id is in the numbering of the sync under way, the cache's may differ (G13): the
      // reconciliation at the end reports what is gone.
      this.pendingTags.delete(id);
      return undefined;
    }
    const prev = map.get(id);
    if (!prev) return undefined;
    if (kind === 'event') this.indexRemove(prev);
    map.delete(id);
    return deleteEvent(kind, id, prev, undefined);
  }

  private flags(): SyncFlag {
    return this.firstSync ? 'initial' : 'resync';
  }

  // ------------------------------------------------------------------ EPG

  private isLongEnded(ev: HtsmsgMap | Rec): boolean {
    if (this.keepEndedSec <= 0) return false;
    const stop = ev.stop;
    return typeof stop === 'number' && stop < this.clock() - this.keepEndedSec;
  }

  /** Drops events that ended more than `keepEndedEventsSec` ago, silently. Returns how many. */
  pruneEvents(endedBefore?: number): number {
    const limit = endedBefore ?? (this.keepEndedSec > 0 ? this.clock() - this.keepEndedSec : undefined);
    if (limit === undefined) return 0;
    const map = this.maps.event;
    const dropped: Rec[] = [];
    for (const [id, ev] of map) {
      if (typeof ev.stop === 'number' && ev.stop < limit) {
        map.delete(id);
        dropped.push(ev);
      }
    }
    if (dropped.length) this.reindexAfterBulkDelete(dropped);
    return dropped.length;
  }

  private startOf(id: number): number {
    return (this.maps.event.get(id)?.start as number | undefined) ?? 0;
  }

  /** First position in `ids` whose (start, id) is not below (start, eventId). */
  private lowerBound(ids: number[], start: number, eventId: number): number {
    let lo = 0;
    let hi = ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const s = this.startOf(ids[mid]);
      if (s < start || (s === start && ids[mid] < eventId)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private indexInsert(ev: Rec): void {
    const ch = ev.channelId;
    if (typeof ch !== 'number') return;
    const id = ev.eventId as number;
    const start = typeof ev.start === 'number' ? ev.start : 0;
    let ids = this.byChannel.get(ch);
    if (!ids) {
      this.byChannel.set(ch, [id]);
      return;
    }
    // The server sends each channel's events in start order, so appending is the common case.
    const last = ids[ids.length - 1];
    const lastStart = this.startOf(last);
    if (lastStart < start || (lastStart === start && last < id)) {
      ids.push(id);
      return;
    }
    ids.splice(this.lowerBound(ids, start, id), 0, id);
  }

  /** Must run while the map still holds `ev` (the positions are found through it). */
  private indexRemove(ev: Rec): void {
    const ch = ev.channelId;
    if (typeof ch !== 'number') return;
    const ids = this.byChannel.get(ch);
    if (!ids) return;
    const id = ev.eventId as number;
    let i = this.lowerBound(ids, typeof ev.start === 'number' ? ev.start : 0, id);
    if (ids[i] !== id) i = ids.indexOf(id);
    if (i < 0) return;
    ids.splice(i, 1);
    if (ids.length === 0) this.byChannel.delete(ch);
  }

  private reindexAfterBulkDelete(deleted: Rec[]): void {
    const channels = new Set<number>();
    for (const ev of deleted) if (typeof ev.channelId === 'number') channels.add(ev.channelId);
    const map = this.maps.event;
    for (const ch of channels) {
      const ids = this.byChannel.get(ch);
      if (!ids) continue;
      const kept = ids.filter((id) => map.has(id));
      if (kept.length) this.byChannel.set(ch, kept);
      else this.byChannel.delete(ch);
    }
  }

  /** The running and the following event of a channel at `at` (default: now). */
  nowNext(channelId: number, at?: number): { now?: EpgEvent; next?: EpgEvent } {
    const events = this.maps.event as unknown as Map<number, EpgEvent>;
    const ids = this.byChannel.get(channelId);
    if (!ids || ids.length === 0) {
      // No EPG stream: the channel record still names its current and next event.
      const ch = this.maps.channel.get(channelId) as Channel | undefined;
      if (!ch || at !== undefined) return {};
      return { now: ch.eventId ? events.get(ch.eventId) : undefined, next: ch.nextEventId ? events.get(ch.nextEventId) : undefined };
    }
    const t = at ?? this.clock();
    // Last event starting at or before t.
    let lo = 0;
    let hi = ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.startOf(ids[mid]) <= t) lo = mid + 1;
      else hi = mid;
    }
    const cand = lo > 0 ? events.get(ids[lo - 1]) : undefined;
    if (cand && cand.stop > t) {
      return { now: cand, next: lo < ids.length ? events.get(ids[lo]) : undefined };
    }
    return { next: lo < ids.length ? events.get(ids[lo]) : undefined };
  }

  /** A channel's events overlapping [from, to), in start order. */
  eventsInWindow(channelId: number, from: number, to: number): EpgEvent[] {
    const out: EpgEvent[] = [];
    const ids = this.byChannel.get(channelId);
    if (!ids) return out;
    const events = this.maps.event as unknown as Map<number, EpgEvent>;
    let i = this.lowerBound(ids, from, -1);
    // Earlier events can still be running at `from`; schedules rarely overlap, so few steps back.
    while (i > 0 && (events.get(ids[i - 1])?.stop ?? 0) > from) i--;
    for (; i < ids.length; i++) {
      const ev = events.get(ids[i]) as EpgEvent;
      if (ev.start >= to) break;
      if (ev.stop > from) out.push(ev);
    }
    return out;
  }

  /** Searches the cached EPG; results in start order. */
  searchEpg(q: EpgSearch = {}): EpgEvent[] {
    const events = this.maps.event as unknown as Map<number, EpgEvent>;
    const from = q.from;
    const to = q.to;
    const limit = q.limit !== undefined && q.limit >= 0 ? q.limit : Infinity;
    const title = matcher(q.title);
    const full = matcher(q.fullText);
    const ct = q.contentType;
    const accept = (ev: EpgEvent): boolean => {
      if (from !== undefined && ev.stop <= from) return false;
      if (to !== undefined && ev.start >= to) return false;
      if (ct !== undefined) {
        const c = ev.contentType;
        if (c === undefined) return false;
        if (ct < 16 ? c >> 4 !== ct : c !== ct) return false;
      }
      if (title && !(ev.title !== undefined && title(ev.title))) return false;
      if (full && !fullTextMatches(ev, full)) return false;
      return true;
    };
    if (q.channelId !== undefined) {
      const source =
        from !== undefined || to !== undefined
          ? this.eventsInWindow(q.channelId, from ?? -Infinity, to ?? Infinity)
          : this.eventsOf(q.channelId);
      const out: EpgEvent[] = [];
      for (const ev of source) {
        if (out.length >= limit) break;
        if (accept(ev)) out.push(ev);
      }
      return out;
    }
    const out: EpgEvent[] = [];
    for (const ev of events.values()) if (accept(ev)) out.push(ev);
    out.sort((a, b) => a.start - b.start || a.eventId - b.eventId);
    if (out.length > limit) out.length = limit;
    return out;
  }

  // ------------------------------------------------------------------ channels

  /**
   * A channel by id (number), by exact name (case-insensitive), or by number ("3", "3.1").
   * A number argument is tried as id first, then as channel number.
   */
  findChannel(ref: number | string): Channel | undefined {
    const channels = this.maps.channel as unknown as Map<number, Channel>;
    if (typeof ref === 'number') {
      const byId = channels.get(ref);
      if (byId) return byId;
      return Number.isInteger(ref) ? this.byNumber(ref, 0) : undefined;
    }
    if (typeof ref !== 'string') return undefined;
    const wanted = ref.trim();
    if (!wanted) return undefined;
    const lower = wanted.toLowerCase();
    for (const ch of channels.values()) {
      if (typeof ch.channelName === 'string' && ch.channelName.toLowerCase() === lower) return ch;
    }
    const m = /^(\d+)(?:\.(\d+))?$/.exec(wanted);
    if (!m) return undefined;
    const byNum = this.byNumber(Number(m[1]), m[2] === undefined ? 0 : Number(m[2]));
    if (byNum) return byNum;
    return m[2] === undefined ? channels.get(Number(m[1])) : undefined;
  }

  private byNumber(major: number, minor: number): Channel | undefined {
    if (major === 0) return undefined;
    for (const ch of (this.maps.channel as unknown as Map<number, Channel>).values()) {
      if (ch.channelNumber === major && (ch.channelNumberMinor ?? 0) === minor) return ch;
    }
    return undefined;
  }
}

// ------------------------------------------------------------------ helpers

const COUNT_OF: Readonly<Record<CacheKind, keyof SyncCounts>> = {
  channel: 'channels',
  tag: 'tags',
  dvrEntry: 'dvrEntries',
  autorecEntry: 'autorecEntries',
  timerecEntry: 'timerecEntries',
  event: 'events',
};

function zeroCounts(): SyncCounts {
  return { channels: 0, tags: 0, dvrEntries: 0, autorecEntries: 0, timerecEntries: 0, events: 0 };
}

type SyncFlag = 'initial' | 'resync';

interface FieldVerdict {
  field: string;
  changed: boolean;
}

function normaliseId(kind: CacheKind, v: HtsmsgValue | undefined): Id | undefined {
  if (kind === 'autorecEntry' || kind === 'timerecEntry') {
    return typeof v === 'string' && v.length > 0 ? v : undefined;
  }
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}

function makeEvent(
  kind: CacheKind,
  action: ChangeAction,
  id: Id,
  object: Rec,
  previous: Rec | undefined,
  changed: string[],
  flag: SyncFlag | undefined,
): ChangeEvent {
  const e = { kind, action, id, object, changed } as ChangeEvent & { previous?: Rec };
  if (previous) e.previous = previous as never;
  if (flag === 'initial') e.initial = true;
  else if (flag === 'resync') e.resync = true;
  return e;
}

function deleteEvent(kind: CacheKind, id: Id, obj: Rec, flag: SyncFlag | undefined): ChangeEvent {
  return makeEvent(kind, 'delete', id, obj, obj, NO_FIELDS, flag === 'resync' ? 'resync' : undefined);
}

function copyRecord(msg: HtsmsgMap): Rec {
  return copyFields({}, msg);
}

function mergeRecords(prev: Rec, msg: HtsmsgMap): Rec {
  return copyFields({ ...prev }, msg);
}

/** Copies the message's fields onto `out`, leaving out `method` and absent values. */
function copyFields(out: Rec, msg: HtsmsgMap): Rec {
  for (const k in msg) {
    if (k === 'method') continue;
    const v = msg[k];
    if (v !== undefined && v !== null) out[k] = v;
  }
  return out;
}

/**
 * Whether a message carries the whole object. Tvheadend sends two kinds of update: a full
 * record (built like the add) and, for channels and DVR entries, a partial one: now/next
 * (`channelId`, `eventId`, `nextEventId`) and recording statistics (no `start`).
 */
function isFullRecord(kind: CacheKind, op: 'add' | 'update', msg: HtsmsgMap): boolean {
  if (op === 'add') return kind !== 'tag';
  switch (kind) {
    case 'channel':
      return msg.channelName !== undefined;
    case 'dvrEntry':
      return msg.start !== undefined;
    case 'tag':
      return false;
    default:
      return true;
  }
}

/** Structural equality for decoded HTSMSG values (lists, maps, Buffers, UUIDs). */
export function valueEquals(a: HtsmsgValue | undefined, b: HtsmsgValue | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  const ta = typeof a;
  if (ta !== 'object' || typeof b !== 'object') {
    // A value that crossed 2^53 in one message and not in another is still the same number.
    if ((ta === 'bigint' && typeof b === 'number') || (ta === 'number' && typeof b === 'bigint')) {
      return BigInt(a as number | bigint) === BigInt(b as number | bigint);
    }
    return false;
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!valueEquals(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  if (Buffer.isBuffer(a)) return Buffer.isBuffer(b) && a.equals(b);
  if (Buffer.isBuffer(b)) return false;
  if (a instanceof HtsUuid) return b instanceof HtsUuid && a.bytes.equals(b.bytes);
  if (b instanceof HtsUuid) return false;
  const ma = a as HtsmsgMap;
  const mb = b as HtsmsgMap;
  let na = 0;
  for (const k in ma) {
    if (ma[k] === undefined) continue;
    na++;
    if (!valueEquals(ma[k], mb[k])) return false;
  }
  let nb = 0;
  for (const k in mb) if (mb[k] !== undefined) nb++;
  return na === nb;
}

function matcher(q: string | RegExp | undefined): ((s: string) => boolean) | undefined {
  if (q === undefined) return undefined;
  if (q instanceof RegExp) {
    return (s) => {
      q.lastIndex = 0;
      return q.test(s);
    };
  }
  const needle = String(q).toLowerCase();
  if (!needle) return undefined;
  return (s) => s.toLowerCase().includes(needle);
}

/** The fields Tvheadend's `epgQuery` full-text search looks at (not categories), so that cache and server agree. */
function fullTextMatches(ev: EpgEvent, m: (s: string) => boolean): boolean {
  for (const t of [ev.title, ev.subtitle, ev.summary, ev.description]) {
    if (typeof t === 'string' && m(t)) return true;
  }
  if (ev.credits) for (const name in ev.credits) if (m(name)) return true;
  if (Array.isArray(ev.keyword)) for (const s of ev.keyword) if (typeof s === 'string' && m(s)) return true;
  return false;
}
