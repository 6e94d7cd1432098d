/**
 * The retained topics the bridge should hold (states and discovery configs), kept up to date
 * part by part.
 *
 * Rebuilding every topic on each flush costs time in proportion to the DVR entries and channels,
 * however small the change: thousands of `dvr/<id>` payloads built and stringified to publish one.
 * Here a part is rebuilt only when something it shows may have changed:
 *
 * - the session's change events mark DVR entries and channels dirty by id; a channel's name also
 *   shows in the DVR entries (and so the summaries) recorded from it without a name of their own;
 * - a DVR entry's summary topic (recording, upcoming, last completed or failed) is rebuilt when
 *   an entry of its class changes, from that class's members only;
 * - server and disk are marked by the bridge, which owns their sources; so is the server status
 *   when its view says when it changed (the shared poller does), otherwise it is read every time;
 * - time: a channel's now/next holds until its programme ends or the next one starts, and its
 *   progress until the next progress step; each update compares the clock with the earliest
 *   such boundary, so a programme change shows at the first flush after it, as before;
 * - subscriptions change in place, without events: they are read on every update (a handful of
 *   entries), which keeps "a subscription came or went" news at the next flush, as before;
 * - discovery follows which state topics exist, so it is rebuilt when one appears or goes, when
 *   the channel selection changes, or after `markAll()`.
 *
 * `update()` rebuilds what is dirty and remembers which topics' payloads changed; `changes()`
 * diffs only those against what the bridge published. `markAll()` rebuilds everything once,
 * for the moments the whole picture may have moved (the session became ready, a full republish).
 */
import type { ChangeEvent } from '../htsp/cache';
import type { DvrStatus } from '../htsp/dvr';
import type { DvrEntry } from '../htsp/messages';
import { discoveryConfigs, discoveryProblems, type DiscoveryConfig, type DiscoveryInputs, type Origin } from './discovery';
import {
  dvrClass,
  selectChannels,
  STATE_BUILDERS,
  subscriptionsShape,
  type DiskSpace,
  type SelectedChannel,
  type StateBuilders,
  type StatusView,
} from './state';
import { STATE, type StateTopicName, type Topics } from './topics';
import type { BridgeSession, ChannelSelection, Logger } from './types';

/** Head and tail of the state topics, in publishing order; DVR entries and channels go between. */
const HEAD: readonly StateTopicName[] = [
  STATE.server,
  STATE.disk,
  STATE.subscriptions,
  STATE.recording,
  STATE.upcoming,
  STATE.lastCompleted,
  STATE.lastFailed,
];
const TAIL: readonly StateTopicName[] = [STATE.viewers, STATE.tuners];

const CLASSES: readonly DvrStatus[] = ['recording', 'upcoming', 'completed', 'failed'];
const SUMMARY_OF: Readonly<Record<DvrStatus, StateTopicName>> = {
  recording: STATE.recording,
  upcoming: STATE.upcoming,
  completed: STATE.lastCompleted,
  failed: STATE.lastFailed,
};

/** Channel fields `selectChannels` reads, besides the id and which channels exist. */
const SELECTION_FIELDS: ReadonlySet<string> = new Set(['channelName', 'channelNumber', 'channelNumberMinor']);

/** Publishing order of a topic among those sent in one flush: configs first, removals last. */
const RANK = { discovery: 0, head: 1, dvr: 2, channel: 3, tail: 4, gone: 5 } as const;
type Rank = (typeof RANK)[keyof typeof RANK];

export interface DiscoveryOptions {
  origin: Origin;
  /** Device name shown until the server's own name is known. */
  deviceName: string;
  /** A now-playing sensor per selected channel (mode `selected` only). */
  nowPlayingSensors: boolean;
  allowed: ReadonlySet<string>;
}

/** Everything `DesiredState` builds with; tests replace some to count what a flush rebuilds. */
export interface DesiredBuilders extends StateBuilders {
  selectChannels(session: BridgeSession, selection: ChannelSelection): SelectedChannel[];
  discovery(inp: DiscoveryInputs): Map<string, DiscoveryConfig>;
}

export const DESIRED_BUILDERS: Readonly<DesiredBuilders> = { ...STATE_BUILDERS, selectChannels, discovery: discoveryConfigs };

export interface DesiredStateOptions {
  session: BridgeSession;
  topics: Topics;
  /** Which channels get a now/next topic. */
  channels: ChannelSelection;
  /** Undefined: no discovery configs. */
  discovery: DiscoveryOptions | undefined;
  status: StatusView | undefined;
  /** The status view tells of its changes (`markServerStatus`); otherwise it is read on every update. */
  statusReportsChanges: boolean;
  /** Step of programme progress (ms). */
  progressIntervalMs: number;
  log: Logger;
  builders?: Partial<DesiredBuilders>;
}

interface ChannelTiming {
  /** Server time at which now/next may be different (Infinity: only a change event can tell). */
  until: number;
  /** Has a running programme, so its progress moves with the progress step. */
  hasNow: boolean;
}

export class DesiredState {
  private readonly session: BridgeSession;
  private readonly topics: Topics;
  private readonly selectionWanted: ChannelSelection;
  private readonly discovery: DiscoveryOptions | undefined;
  private readonly status: StatusView | undefined;
  private readonly statusReportsChanges: boolean;
  private readonly stepS: number;
  private readonly log: Logger;
  private readonly b: DesiredBuilders;
  private readonly dvrPrefix: string;
  private readonly channelPrefix: string;
  private readonly tailTopics: ReadonlySet<string>;
  /** Discovery announces a sensor per selected channel, so it follows the channel topics. */
  private readonly nowPlaying: boolean;

  /** Topic → payload of everything that should be retained now. */
  private readonly values = new Map<string, string>();
  /**
   * Topics whose payload changed (or that went) and were not handed out since, plus those a
   * flush could not send (`requeue`). Every topic where the caller's published payload differs
   * from this state's is in here, so a diff need look at these only.
   */
  private changed = new Set<string>();

  private allDirty = true;
  private serverDirty = false;
  private diskDirty = false;
  private statusDirty = false;
  private discoveryDirty = false;
  private selectionDirty = false;
  /** Rebuild every selected channel after the next selection. */
  private channelsAll = false;
  private readonly dvrDirty = new Set<number>();
  /** Rebuild every DVR entry (and drop the topics of those gone). */
  private dvrAll = false;
  /** Channels whose name (as DVR entries show it) may have changed. */
  private readonly labelDirty = new Set<number>();
  private readonly summaryDirty = new Set<DvrStatus>();
  private readonly channelDirty = new Set<number>();

  private disk: DiskSpace | undefined;
  private readonly classOf = new Map<number, DvrStatus>();
  private readonly members: Record<DvrStatus, Map<number, DvrEntry>> = {
    recording: new Map(),
    upcoming: new Map(),
    completed: new Map(),
    failed: new Map(),
  };
  /** DVR entry id → its topic, in publishing order. */
  private readonly dvrTopics = new Map<number, string>();
  private selection: SelectedChannel[] = [];
  private readonly selectedById = new Map<number, SelectedChannel>();
  private readonly timing = new Map<number, ChannelTiming>();
  /**
   * Event id → channels whose payload shows it or whose record names it. A channel without EPG
   * of its own shows the events its record names, and those need not carry its channel id.
   */
  private readonly eventRefs = new Map<number, Set<number>>();
  private readonly refsOf = new Map<number, number[]>();
  /** Earliest `until` of any channel, or lower (then the next check finds nothing and raises it). */
  private nextBoundary = Infinity;
  private progressAt: number | undefined;
  /** Tuners as last read; published only as sampled (see `sample`). */
  private freshTuners: string | undefined;
  /** Signal and queue figures move every second: between samples the last sample stands. */
  private readonly fastSample = new Map<string, string>();
  private shape = '';
  private discoveryTopics: string[] = [];
  private discoverySet: ReadonlySet<string> = new Set();
  /** Discovery topic → the last config payload that passed `discoveryProblems`. */
  private readonly validConfigs = new Map<string, string>();

  constructor(opts: DesiredStateOptions) {
    this.session = opts.session;
    this.topics = opts.topics;
    this.selectionWanted = opts.channels;
    this.discovery = opts.discovery;
    this.status = opts.status;
    this.statusReportsChanges = opts.statusReportsChanges;
    this.stepS = opts.progressIntervalMs / 1000;
    this.log = opts.log;
    this.b = { ...DESIRED_BUILDERS, ...opts.builders };
    this.dvrPrefix = `${opts.topics.base}/dvr/`;
    this.channelPrefix = `${opts.topics.base}/channel/`;
    this.tailTopics = new Set(TAIL.map((n) => opts.topics.state(n)));
    this.nowPlaying = opts.discovery !== undefined && opts.discovery.nowPlayingSensors && opts.channels.mode === 'selected';
  }

  // ------------------------------------------------------------------ marking

  /** Rebuild everything at the next update. */
  markAll(): void {
    this.allDirty = true;
  }

  /** A change event of the session. */
  noteChange(change: ChangeEvent): void {
    // A full rebuild is due anyway (during a sync: 100k events); marking would be wasted.
    if (this.allDirty) return;
    switch (change.kind) {
      case 'dvrEntry':
        // The cache puts an entry that (re)appears last; its topic goes last too: a deleted one
        // leaves the order, and new topics join it in the order of their last add.
        if (change.action === 'delete') this.dvrTopics.delete(change.id);
        if (change.action === 'add') this.dvrDirty.delete(change.id);
        this.dvrDirty.add(change.id);
        return;
      case 'channel': {
        this.channelDirty.add(change.id);
        const structural = change.action !== 'update';
        if (this.selectionWanted.mode !== 'none' && (structural || change.changed.some((f) => SELECTION_FIELDS.has(f)))) {
          this.selectionDirty = true;
        }
        if (structural || change.changed.includes('channelName')) this.labelDirty.add(change.id);
        return;
      }
      case 'event': {
        if (this.selectionWanted.mode === 'none') return;
        const channel = change.object.channelId;
        if (channel !== undefined) this.channelDirty.add(channel);
        const before = change.previous?.channelId;
        if (before !== undefined && before !== channel) this.channelDirty.add(before);
        const shownBy = this.eventRefs.get(change.id);
        if (shownBy) for (const id of shownBy) this.channelDirty.add(id);
        return;
      }
      default:
      // Tags and autorec/timerec rules show in no topic.
    }
  }

  setDisk(disk: DiskSpace | undefined): void {
    const a = this.disk;
    if (a === disk || (a && disk && a.free === disk.free && a.used === disk.used && a.total === disk.total)) return;
    this.disk = disk;
    this.diskDirty = true;
  }

  markServerStatus(): void {
    this.statusDirty = true;
  }

  // ------------------------------------------------------------------ reading

  get(topic: string): string | undefined {
    return this.values.get(topic);
  }

  has(topic: string): boolean {
    return this.values.has(topic);
  }

  /** Shape of the subscriptions as last read (see `subscriptionsShape`). */
  get subsShape(): string {
    return this.shape;
  }

  /** Every topic and payload, in publishing order: configs, head, DVR entries, channels, tail. */
  *entries(): IterableIterator<[string, string]> {
    const v = this.values;
    const all = [
      this.discoveryTopics,
      HEAD.map((n) => this.topics.state(n)),
      this.dvrTopics.values(),
      this.selection.map((c) => this.topics.channel(c.key)),
      TAIL.map((n) => this.topics.state(n)),
    ];
    for (const part of all) {
      for (const t of part) {
        const p = v.get(t);
        if (p !== undefined) yield [t, p];
      }
    }
  }

  /** Where `topic` goes among the messages of one flush (as `entries()` orders them). */
  private rank(topic: string): Rank {
    if (!this.values.has(topic)) return RANK.gone;
    if (this.discoverySet.has(topic)) return RANK.discovery;
    if (topic.startsWith(this.dvrPrefix)) return RANK.dvr;
    if (topic.startsWith(this.channelPrefix)) return RANK.channel;
    return this.tailTopics.has(topic) ? RANK.tail : RANK.head;
  }

  /** The topics whose payload changed (or that went) since the last call or `changes()` (tests look). */
  takeChanged(): Set<string> {
    const out = this.changed;
    this.changed = new Set();
    return out;
  }

  /**
   * What brings `published` (topic → payload as retained on the broker) to this state: the
   * changed topics whose payload differs, and an empty payload for each that went, in
   * publishing order (configs first, removals last). The caller sends them, or hands back the
   * ones it could not send (`requeue`).
   */
  changes(published: ReadonlyMap<string, string>): Array<[string, string]> {
    const sends: Array<[string, string]> = [];
    if (this.changed.size === 0) return sends;
    // Sort is stable: within a part, topics go in the order they changed.
    const order = [...this.changed].sort((a, b) => this.rank(a) - this.rank(b));
    this.changed = new Set();
    for (const topic of order) {
      const payload = this.values.get(topic);
      if (payload !== undefined) {
        if (published.get(topic) !== payload) sends.push([topic, payload]);
      } else if (published.has(topic)) {
        sends.push([topic, '']);
      }
    }
    return sends;
  }

  /**
   * A full diff against `published`: every topic whose payload differs or that is in `forced`,
   * in publishing order, then an empty payload for each published topic this state lacks (but
   * `keep`, the availability topic, which is no state).
   */
  allChanges(published: ReadonlyMap<string, string>, forced: ReadonlySet<string>, keep: string): Array<[string, string]> {
    const sends: Array<[string, string]> = [];
    this.changed = new Set();
    for (const [topic, payload] of this.entries()) {
      if (published.get(topic) !== payload || forced.has(topic)) sends.push([topic, payload]);
    }
    for (const topic of published.keys()) {
      if (topic !== keep && !this.values.has(topic)) sends.push([topic, '']);
    }
    return sends;
  }

  /** Topics a flush could not send: the next `changes()` looks at them again. */
  requeue(topics: Iterable<string>): void {
    for (const t of topics) this.changed.add(t);
  }

  // ------------------------------------------------------------------ rebuilding

  /**
   * Rebuilds the dirty parts (the session must be ready). `fastDue`: take a new sample of the
   * signal and queue figures.
   */
  update(fastDue: boolean): void {
    if (this.allDirty) this.markEverything();
    const { session, topics, b } = this;
    if (this.serverDirty) {
      this.serverDirty = false;
      const info = session.serverInfo;
      this.setState(topics.state(STATE.server), info ? JSON.stringify(b.server(info)) : undefined);
    }
    if (this.diskDirty) {
      this.diskDirty = false;
      this.setState(topics.state(STATE.disk), this.disk ? JSON.stringify(b.disk(this.disk)) : undefined);
    }
    const subs = b.subscriptions(session);
    const shape = subscriptionsShape(subs);
    // A subscription coming, going or changing state is news at once, not at the next sample.
    this.sample(topics.state(STATE.subscriptions), () => JSON.stringify(subs), fastDue || shape !== this.shape);
    this.shape = shape;
    this.updateDvr();
    this.updateChannels();
    if (this.status && (this.statusDirty || !this.statusReportsChanges)) {
      const st = b.serverStatus(this.status);
      this.setState(topics.state(STATE.viewers), st ? JSON.stringify(st.viewers) : undefined);
      this.freshTuners = st ? JSON.stringify(st.tuners) : undefined;
    }
    this.statusDirty = false;
    const tuners = this.freshTuners;
    this.sample(topics.state(STATE.tuners), tuners === undefined ? undefined : () => tuners, fastDue);
    // Last: discovery follows which of the topics above exist.
    if (this.discoveryDirty) this.updateDiscovery();
  }

  private markEverything(): void {
    this.allDirty = false;
    this.serverDirty = this.diskDirty = this.statusDirty = this.discoveryDirty = this.selectionDirty = true;
    this.channelsAll = true;
    this.dvrAll = true;
    for (const c of CLASSES) this.summaryDirty.add(c);
  }

  private updateDvr(): void {
    const { session, topics, b } = this;
    const byId = session.cache.dvrEntriesById;
    if (this.dvrAll) {
      this.dvrAll = false;
      // Gone: what the order holds and the cache not, and deletions noted before (which left
      // the order already).
      const gone = new Set(this.reorderDvr());
      for (const id of this.dvrDirty) if (!byId.has(id)) gone.add(id);
      this.dvrDirty.clear();
      this.labelDirty.clear();
      for (const id of byId.keys()) this.rebuildDvr(id);
      for (const id of gone) this.rebuildDvr(id);
    } else {
      if (this.labelDirty.size > 0) {
        // Only entries without a channel name of their own show the channel's.
        for (const e of byId.values()) if (e.channel !== undefined && !e.channelName && this.labelDirty.has(e.channel)) this.dvrDirty.add(e.id);
        this.labelDirty.clear();
      }
      for (const id of this.dvrDirty) this.rebuildDvr(id);
      this.dvrDirty.clear();
    }
    for (const c of CLASSES) {
      if (!this.summaryDirty.has(c)) continue;
      const build = c === 'recording' ? b.recording : c === 'upcoming' ? b.upcoming : c === 'completed' ? b.lastCompleted : b.lastFailed;
      this.setState(topics.state(SUMMARY_OF[c]), JSON.stringify(build(session, this.members[c].values())));
    }
    this.summaryDirty.clear();
  }

  /**
   * Puts the DVR topics in the cache's order (a full publish sends them in the order the server
   * has them; a resync can change it) and returns the ids the cache no longer has.
   */
  private reorderDvr(): number[] {
    const byId = this.session.cache.dvrEntriesById;
    const kept = this.dvrTopics;
    let inOrder = kept.size === byId.size;
    if (inOrder) {
      const mine = kept.keys();
      for (const id of byId.keys()) {
        if (mine.next().value !== id) {
          inOrder = false;
          break;
        }
      }
    }
    if (inOrder) return [];
    const known = new Map(kept);
    kept.clear();
    for (const id of byId.keys()) kept.set(id, known.get(id) ?? this.topics.dvr(id));
    return [...known.keys()].filter((id) => !byId.has(id));
  }

  private rebuildDvr(id: number): void {
    const e = this.session.cache.dvrEntriesById.get(id);
    const before = this.classOf.get(id);
    const after = e ? dvrClass(e) : undefined;
    if (before !== after) {
      if (before) this.members[before].delete(id);
      if (after) this.classOf.set(id, after);
      else this.classOf.delete(id);
    }
    if (before) this.summaryDirty.add(before);
    if (e && after) {
      this.members[after].set(id, e);
      this.summaryDirty.add(after);
    }
    const topic = this.dvrTopics.get(id) ?? this.topics.dvr(id);
    if (e) {
      this.dvrTopics.set(id, topic);
      this.setState(topic, JSON.stringify(this.b.dvr(this.session, e)), false);
    } else {
      this.dvrTopics.delete(id);
      this.setState(topic, undefined, false);
    }
  }

  private updateChannels(): void {
    const { session, topics, b } = this;
    if (this.selectionDirty) {
      this.selectionDirty = false;
      this.reselect();
    }
    this.channelsAll = false;
    const now = session.serverNow();
    const progressAt = Math.floor(now / this.stepS) * this.stepS;
    if (progressAt !== this.progressAt) {
      this.progressAt = progressAt;
      for (const [id, t] of this.timing) if (t.hasNow) this.channelDirty.add(id);
    }
    // One second early: the cache reads its own clock, which may tick between the two reads.
    // A channel rebuilt early yields the same payload and stays due until its boundary passes.
    if (now + 1 >= this.nextBoundary) {
      let next = Infinity;
      for (const [id, t] of this.timing) {
        if (t.until <= now + 1) this.channelDirty.add(id);
        else if (t.until < next) next = t.until;
      }
      this.nextBoundary = next;
    }
    for (const id of this.channelDirty) {
      const sel = this.selectedById.get(id);
      if (!sel) continue;
      const topic = topics.channel(sel.key);
      const c = session.cache.channelsById.get(id);
      if (!c) {
        this.forget(id);
        this.setState(topic, undefined, this.nowPlaying);
        continue;
      }
      const nn = session.nowNext(id);
      this.setState(topic, JSON.stringify(b.channel(c, nn, progressAt)), this.nowPlaying);
      this.refer(id, [nn.now?.eventId, nn.next?.eventId, c.eventId, c.nextEventId]);
      let until = Math.min(nn.now?.stop ?? Infinity, nn.next?.start ?? Infinity);
      // Not after now: the channel record's own now/next (no EPG for it), which no clock moves.
      if (!(until > now)) until = Infinity;
      this.timing.set(id, { until, hasNow: nn.now !== undefined });
      if (until < this.nextBoundary) this.nextBoundary = until;
    }
    this.channelDirty.clear();
  }

  private reselect(): void {
    const next = this.b.selectChannels(this.session, this.selectionWanted);
    const old = this.selection;
    const nextById = new Map(next.map((c) => [c.id, c]));
    // Gone topics first: a key can pass from one channel to another in the same change.
    for (const o of old) {
      const n = nextById.get(o.id);
      if (n && n.key === o.key) continue;
      this.forget(o.id);
      this.setState(this.topics.channel(o.key), undefined, this.nowPlaying);
    }
    for (const n of next) {
      const o = this.selectedById.get(n.id);
      if (this.channelsAll || !o || o.key !== n.key) this.channelDirty.add(n.id);
    }
    // Now-playing sensors carry the channel's name and key.
    if (this.nowPlaying && (old.length !== next.length || next.some((n, i) => old[i].id !== n.id || old[i].key !== n.key || old[i].name !== n.name))) {
      this.discoveryDirty = true;
    }
    this.selection = next;
    this.selectedById.clear();
    for (const c of next) this.selectedById.set(c.id, c);
  }

  private refer(channel: number, eventIds: ReadonlyArray<number | undefined>): void {
    this.unrefer(channel);
    const ids: number[] = [];
    for (const e of eventIds) {
      if (!e || ids.includes(e)) continue;
      ids.push(e);
      let set = this.eventRefs.get(e);
      if (!set) this.eventRefs.set(e, (set = new Set()));
      set.add(channel);
    }
    if (ids.length) this.refsOf.set(channel, ids);
  }

  private unrefer(channel: number): void {
    const ids = this.refsOf.get(channel);
    if (!ids) return;
    this.refsOf.delete(channel);
    for (const e of ids) {
      const set = this.eventRefs.get(e);
      set?.delete(channel);
      if (set?.size === 0) this.eventRefs.delete(e);
    }
  }

  /** A channel no longer published. */
  private forget(channel: number): void {
    this.timing.delete(channel);
    this.unrefer(channel);
  }

  private updateDiscovery(): void {
    this.discoveryDirty = false;
    const d = this.discovery;
    if (!d) return;
    const info = this.session.serverInfo;
    const configs = this.b.discovery({
      topics: this.topics,
      origin: d.origin,
      server: info ? { name: info.serverName, version: info.serverVersion } : undefined,
      deviceName: d.deviceName,
      published: this.values,
      nowPlaying: this.nowPlaying ? this.selection : [],
      allowed: d.allowed,
    });
    const now: Array<[string, string]> = [];
    for (const [topic, cfg] of configs) {
      const payload = JSON.stringify(cfg);
      // Configs rarely change: check each payload once, not on every rebuild.
      if (this.validConfigs.get(topic) !== payload) {
        const problems = discoveryProblems(topic, payload);
        if (problems.length) {
          this.log('error', `not announcing ${topic}: ${problems.join('; ')}`);
          continue;
        }
        this.validConfigs.set(topic, payload);
      }
      now.push([topic, payload]);
    }
    const keep = new Set(now.map(([t]) => t));
    for (const t of this.discoveryTopics) if (!keep.has(t)) this.setState(t, undefined, false);
    for (const [t, p] of now) this.setState(t, p, false);
    this.discoveryTopics = now.map(([t]) => t);
    this.discoverySet = keep;
  }

  /**
   * A figures topic: the fresh value when a sample is due (or there is none yet), else the last
   * sample. Undefined `fresh`: the topic is not published.
   */
  private sample(topic: string, fresh: (() => string) | undefined, due: boolean): void {
    if (fresh === undefined) {
      this.fastSample.delete(topic);
      this.setState(topic, undefined);
      return;
    }
    if (due || !this.fastSample.has(topic)) this.fastSample.set(topic, fresh());
    this.setState(topic, this.fastSample.get(topic));
  }

  /** `entity`: whether discovery depends on this topic existing (DVR entries and configs: no). */
  private setState(topic: string, payload: string | undefined, entity = true): void {
    const old = this.values.get(topic);
    if (old === payload) return;
    if (payload === undefined) this.values.delete(topic);
    else this.values.set(topic, payload);
    this.changed.add(topic);
    if (entity && (old === undefined || payload === undefined)) this.discoveryDirty = true;
  }
}
