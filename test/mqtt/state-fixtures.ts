/**
 * Fixtures for the incremental-state tests and the MQTT bench: a session double over a real
 * `MetadataCache` (messages go through the cache as the session's would, its change events reach
 * the session's listeners the same way, the clock is the caller's to move), a server-status view,
 * a DVR and EPG library of any size, and the bridge's flush as it was before flushes became
 * incremental (the reference the model is held to, and the bench's baseline).
 */
import { EventEmitter } from 'node:events';
import { MetadataCache } from '../../src/htsp/cache';
import type { HtsmsgMap } from '../../src/htsp/codec';
import type { ServerStatusSnapshot, ServerStatusSummary } from '../../src/htsp/server-status';
import {
  computeState,
  discoveryConfigs,
  discoveryProblems,
  selectChannels,
  STATE,
  subscriptionsShape,
  Topics,
  type BridgeSession,
  type BridgeSubscription,
  type ChannelSelection,
  type DiskSpace,
  type Json,
  type StatusView,
} from '../../src/mqtt';
import type { DiscoveryOptions } from '../../src/mqtt/desired';

/** A subscription as the session shows it; tests change its fields as the server would. */
export type FakeSub = { -readonly [K in keyof BridgeSubscription]: BridgeSubscription[K] };

export function fakeSub(over: Partial<FakeSub> = {}): FakeSub {
  return {
    id: 1,
    channelId: 1,
    channelRef: 1,
    state: 'running',
    streams: [],
    sourceInfo: undefined,
    lastSignal: undefined,
    lastQueue: undefined,
    lastStatus: undefined,
    options: {},
    ...over,
  };
}

export interface FakeSession extends BridgeSession {
  /** Server time, epoch seconds (also the cache's clock). */
  clock: number;
  subs: FakeSub[];
  /** What `getDiskSpace` answers. */
  diskReply: HtsmsgMap;
  /** A first sync of `msgs`, as the session does it (adds flagged `initial`). */
  feed(msgs: readonly HtsmsgMap[]): void;
  /** One async metadata message after the sync. */
  apply(msg: HtsmsgMap): void;
}

export function fakeSession(start = 1_000_000): FakeSession {
  let clock = start;
  const cache = new MetadataCache({ now: (): number => clock, keepEndedEventsSec: 0 });
  const emitter = new EventEmitter();
  const s = Object.assign(emitter, {
    clock,
    state: 'ready' as const,
    serverInfo: { htspVersion: 44, serverHtspVersion: 44, serverName: 'Box', serverVersion: '4.3', capabilities: [] },
    rights: undefined,
    cache,
    diskReply: { freediskspace: 2 ** 40, totaldiskspace: 2 ** 41, useddiskspace: 2 ** 40 } as HtsmsgMap,
    async callRaw(method: string): Promise<HtsmsgMap> {
      if (method === 'getDiskSpace') return s.diskReply;
      return {};
    },
    findChannel: (ref: number | string) => cache.findChannel(ref),
    nowNext: (id: number, at?: number) => cache.nowNext(id, at),
    serverNow: (): number => clock,
    subs: [] as FakeSub[],
    subscriptions(): readonly BridgeSubscription[] {
      return [...s.subs];
    },
    feed(msgs: readonly HtsmsgMap[]): void {
      cache.beginResync();
      for (const m of msgs) cache.apply(m);
      cache.apply({ method: 'initialSyncCompleted' });
    },
    apply(msg: HtsmsgMap): void {
      cache.apply(msg);
    },
  });
  // An accessor, not a copy: Object.assign would copy a getter's value.
  Object.defineProperty(s, 'clock', {
    get: (): number => clock,
    set: (v: number) => {
      clock = v;
    },
  });
  cache.on('change', (c) => emitter.emit('change', c));
  return s;
}

/** A server-status view whose figures the test sets. */
export class FakeStatusView implements StatusView {
  available = true;
  viewers: ServerStatusSummary['watching'] = [];
  inputs: ServerStatusSnapshot['inputs'] = [];
  current(): ServerStatusSnapshot {
    return { available: this.available, stale: false, updatedAt: 1, subscriptions: [], inputs: [...this.inputs], connections: [] };
  }
  summary(): ServerStatusSummary {
    return {
      subscriptions: this.viewers.length,
      viewers: this.viewers.length,
      inputsInUse: this.inputs.filter((i) => typeof i.subs !== 'number' || i.subs > 0).length,
      connections: 0,
      watching: [...this.viewers],
    };
  }
}

export interface Library {
  channels: number;
  dvrEntries: number;
  /** Hours of EPG per channel, from three hours before `now`. */
  epgHours: number;
  now: number;
}

/**
 * Channels with a programme grid each (lengths and offsets differ per channel, so programme
 * boundaries are spread over time) and a DVR library as a long-running server has one: mostly
 * finished recordings, a quarter scheduled, some failed or missed, two recording now.
 */
export function library(lib: Library): HtsmsgMap[] {
  const msgs: HtsmsgMap[] = [];
  for (let c = 1; c <= lib.channels; c++) {
    msgs.push({ method: 'channelAdd', channelId: c, channelNumber: c, channelName: `Channel ${c}`, eventId: 0, nextEventId: 0, services: [], tags: [] });
  }
  let eventId = 1;
  for (let c = 1; c <= lib.channels; c++) {
    let t = lib.now - 3 * 3600 - ((c * 137) % 1800);
    const end = lib.now + (lib.epgHours - 3) * 3600;
    for (let k = 0; t < end; k++) {
      const len = [1800, 2700, 3600, 5400][(c + k) % 4];
      msgs.push({ method: 'eventAdd', eventId: eventId++, channelId: c, start: t, stop: t + len, title: `Programme ${c}.${k}`, summary: 'A programme.' });
      t += len;
    }
  }
  for (let i = 1; i <= lib.dvrEntries; i++) {
    const channel = 1 + ((i * 7919) % lib.channels);
    const r = i % 20;
    let state: string;
    let start: number;
    if (i <= 2) {
      state = 'recording';
      start = lib.now - 600 * i;
    } else if (r < 5) {
      state = 'scheduled';
      start = lib.now + 3600 + i * 60;
    } else if (r < 7) {
      state = 'missed';
      start = lib.now - 86400 - i * 60;
    } else {
      state = 'completed';
      start = lib.now - 86400 - i * 60;
    }
    const e: HtsmsgMap = { method: 'dvrEntryAdd', id: i, channel, start, stop: start + 3600, state, title: `Recording ${i}`, enabled: 1, startExtra: 2, stopExtra: 5 };
    if (r === 9) e.error = 'File missing';
    if (r === 3) e.enabled = 0;
    if (i % 3 === 0) e.channelName = `Channel ${channel}`;
    msgs.push(e);
  }
  return msgs;
}

/** How a `DesiredState` (and its reference) is set up. */
export interface ModelSetup {
  session: FakeSession;
  selection: ChannelSelection;
  discovery: DiscoveryOptions | undefined;
  status: StatusView | undefined;
  statusReportsChanges: boolean;
  progressIntervalMs: number;
  /** Default `tvheadend/box` and `homeassistant`. */
  base?: string;
  prefix?: string;
}

/**
 * The bridge's flush before incremental flushes, as it was: every topic rebuilt through
 * computeState, figures sampled, discovery from the published state topics.
 */
export class FullRebuild {
  private readonly fastSample = new Map<string, Json>();
  private subsShape = '';
  private readonly validConfigs = new Map<string, string>();
  private readonly topics: Topics;
  constructor(private readonly o: ModelSetup) {
    this.topics = new Topics(o.base ?? 'tvheadend/box', o.prefix ?? 'homeassistant');
  }

  desired(disk: DiskSpace | undefined, fastDue: boolean): Map<string, string> {
    const { session, selection } = this.o;
    const topics = this.topics;
    const channels = selectChannels(session, selection);
    const stepS = this.o.progressIntervalMs / 1000;
    const state = computeState({ session, topics, disk, status: this.o.status, channels, progressAt: Math.floor(session.serverNow() / stepS) * stepS });
    const subsTopic = topics.state(STATE.subscriptions);
    const shape = subscriptionsShape(state.get(subsTopic));
    const subsChanged = shape !== this.subsShape;
    this.subsShape = shape;
    for (const name of [STATE.subscriptions, STATE.tuners]) {
      const topic = topics.state(name);
      const fresh = state.get(topic);
      if (fastDue || !this.fastSample.has(topic) || (topic === subsTopic && subsChanged)) {
        if (fresh === undefined) this.fastSample.delete(topic);
        else this.fastSample.set(topic, fresh);
      } else if (fresh !== undefined) {
        state.set(topic, this.fastSample.get(topic) as Json);
      } else {
        this.fastSample.delete(topic);
      }
    }
    const out = new Map<string, string>();
    const d = this.o.discovery;
    if (d) {
      const info = session.serverInfo;
      const configs = discoveryConfigs({
        topics,
        origin: d.origin,
        server: info ? { name: info.serverName, version: info.serverVersion } : undefined,
        deviceName: d.deviceName,
        published: new Set(state.keys()),
        nowPlaying: selection.mode === 'selected' && d.nowPlayingSensors ? channels : [],
        allowed: d.allowed,
      });
      for (const [topic, cfg] of configs) {
        const payload = JSON.stringify(cfg);
        // As the bridge did: each payload checked once.
        if (this.validConfigs.get(topic) !== payload) {
          if (discoveryProblems(topic, payload).length) continue;
          this.validConfigs.set(topic, payload);
        }
        out.set(topic, payload);
      }
    }
    for (const [topic, value] of state) out.set(topic, JSON.stringify(value));
    return out;
  }
}
