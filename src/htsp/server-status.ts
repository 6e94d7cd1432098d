/**
 * Admin-only server status over HTSP: polls the `api` proxy for `status/subscriptions`,
 * `status/inputs` and `status/connections` on the session's own socket and turns the snapshots
 * into add/update/delete change events, the same shape the metadata cache emits.
 *
 * Noise policy (why not every poll produces events):
 * - Byte and error counters (`in`, `out`, `total_in`, `total_out`, `errors`, `bps`, `ber`, `unc`,
 *   `te`, `cc`, `ec_*`, `tc_*`) and PID lists move on every poll while a stream runs; they are
 *   kept in the objects and snapshots but never cause an update and never appear in `changed`.
 * - Input `signal`/`snr` do cause updates, but only when they moved by at least a step from the
 *   value last reported (5 % of full scale on the relative scale, 1 dB on the decibel scale),
 *   and a change of nothing but signal figures is reported at most once per `minIntervalMs`
 *   (60 s) per input. Gaining or losing a signal (0 ↔ non-zero) is always reported at once.
 *   Signal movements that come with another change are reported with it.
 */
import { EventEmitter } from 'node:events';
import { isHtsmsgMap, type HtsmsgMap, type HtsmsgValue } from './codec';
import { valueEquals } from './cache';
import { isHtspError } from './errors';

export type StatusKind = 'serverSubscription' | 'input' | 'connection';
export const STATUS_KINDS: readonly StatusKind[] = ['serverSubscription', 'input', 'connection'];

/** The `api` path polled for each kind. */
export const STATUS_PATHS: Readonly<Record<StatusKind, string>> = {
  serverSubscription: 'status/subscriptions',
  input: 'status/inputs',
  connection: 'status/connections',
};

/** Any status entry: the decoded `api` map (numbers, strings, BOOLs as booleans, lists, maps). */
export interface StatusEntry {
  readonly [field: string]: HtsmsgValue | undefined;
}

/** One subscription on the server (a viewer, a recording, the EPG grabber, …). */
export interface ServerSubscriptionEntry extends StatusEntry {
  readonly id: number;
  /** e.g. "Running", "Idle", "Testing", "Bad". */
  readonly state?: string;
  /** Peer address of the client; absent for internal subscriptions (DVR, EPG grabber). */
  readonly hostname?: string;
  readonly username?: string;
  /** Client name (HTSP `clientname`, HTTP user agent). */
  readonly client?: string;
  /** What the subscription is for, e.g. "DVR: News", "epggrab", the HTSP client name. */
  readonly title?: string;
  /** Channel name. */
  readonly channel?: string;
  readonly service?: string;
  readonly profile?: string;
  /** Epoch seconds. */
  readonly start?: number;
  readonly errors?: number;
  readonly in?: number;
  readonly out?: number;
  readonly total_in?: number | bigint;
  readonly total_out?: number | bigint;
}

/** One input stream in use: a tuner (or IPTV input) receiving one mux. */
export interface InputEntry extends StatusEntry {
  readonly uuid: string;
  /** Input (tuner) name. */
  readonly input?: string;
  /** Stream (mux) name. */
  readonly stream?: string;
  /** Subscriptions using the stream. */
  readonly subs?: number;
  readonly weight?: number;
  readonly signal?: number;
  /** 0 unknown, 1 relative (0–65535), 2 decibel (value in 0.001 dB). */
  readonly signal_scale?: number;
  readonly snr?: number;
  readonly snr_scale?: number;
  readonly ber?: number;
  readonly unc?: number;
  readonly bps?: number;
  readonly te?: number;
  readonly cc?: number;
}

/** One client connection (HTSP or HTTP). */
export interface ConnectionEntry extends StatusEntry {
  readonly id: number;
  /** "HTSP" or "HTTP". */
  readonly type?: string;
  readonly peer?: string;
  readonly peer_port?: number;
  readonly server?: string;
  readonly server_port?: number;
  readonly user?: string;
  /** Epoch seconds. */
  readonly started?: number;
  readonly streaming?: number;
}

export interface StatusObjects {
  serverSubscription: ServerSubscriptionEntry;
  input: InputEntry;
  connection: ConnectionEntry;
}

export interface StatusChangeEventOf<K extends StatusKind> {
  kind: K;
  action: 'add' | 'update' | 'delete';
  /**
   * `id` of subscriptions and connections; for inputs `uuid`, or `uuid/stream` when the entry
   * names its stream (one input can receive several muxes at once — IPTV does — and each is an
   * entry of its own with the same uuid).
   */
  id: number | string;
  /** The entry now; for a delete the last one seen. */
  object: StatusObjects[K];
  /** The entry as last reported (update, delete). */
  previous?: StatusObjects[K];
  /** Fields whose change was reported (noise fields never appear); add: all fields; delete: none. */
  changed: string[];
  /** From the first poll after `start()`: everything is new then. */
  initial?: boolean;
  /** From the first poll after a reconnect (deletes here: gone while we were away). */
  resync?: boolean;
}

export type StatusChangeEvent = { [K in StatusKind]: StatusChangeEventOf<K> }[StatusKind];

export type UnavailableReason = 'not-admin' | 'noaccess' | 'unsupported';

export interface StatusUnavailable {
  reason: UnavailableReason;
  message: string;
}

export interface StatusPollInfo {
  /** Local clock (ms) when the poll finished. */
  at: number;
  durationMs: number;
  /** Change events emitted by this poll. */
  changes: number;
}

export interface ServerStatusSnapshot {
  /** False once the server refused (see `unavailable`) until a reconnect with other rights. */
  available: boolean;
  unavailable?: StatusUnavailable;
  /** True when the lists are not live: session not ready, or no poll finished since it became ready. */
  stale: boolean;
  /** Local clock (ms) of the last completed poll. */
  updatedAt?: number;
  subscriptions: ServerSubscriptionEntry[];
  inputs: InputEntry[];
  connections: ConnectionEntry[];
}

export interface ServerStatusSummary {
  subscriptions: number;
  /** Subscriptions of clients (those with a `hostname`): internal ones (DVR, EPG grabber) excluded. */
  viewers: number;
  /** Distinct inputs (tuners) receiving something (entries with `subs` 0 are idle). */
  inputsInUse: number;
  connections: number;
  /** Who watches what: the client subscriptions. */
  watching: Array<{ id: number; channel?: string; username?: string; hostname?: string; client?: string; title?: string }>;
}

export interface SignalOptions {
  /** Step on the relative scale, as a fraction of full scale (65535). Default 0.05. */
  relativeStep?: number;
  /** Step on the decibel scale, in dB. Default 1. */
  decibelStep?: number;
  /** Least time between two updates that change nothing but signal figures, per input. Default 60 000. */
  minIntervalMs?: number;
}

export interface ServerStatusOptions {
  /** Time between the end of one poll and the start of the next. Default 5000, at least 100. */
  intervalMs?: number;
  /** What to poll. Default: all three. */
  kinds?: readonly StatusKind[];
  /** Per-request timeout; default: the session's own. */
  requestTimeoutMs?: number;
  /** Replaces the default noise fields of a kind (see the file comment). */
  ignoreFields?: Partial<Record<StatusKind, readonly string[]>>;
  signal?: SignalOptions;
  /** Local clock in ms (tests). Default Date.now. */
  now?: () => number;
}

/** What the poller needs from a session; `HtspSession` satisfies it. */
export interface StatusSession {
  readonly state: string;
  readonly rights?: { readonly admin: boolean } | undefined;
  callRaw(method: string, fields?: HtsmsgMap, opts?: { timeoutMs?: number }): Promise<HtsmsgMap>;
  on(event: 'state', listener: (status: { state: string }) => void): unknown;
  off(event: 'state', listener: (status: { state: string }) => void): unknown;
}

export interface ServerStatusEvents {
  change: [StatusChangeEvent];
  /** Once per rights: the server will not tell us (not admin, refused, or too old). */
  unavailable: [StatusUnavailable];
  /** After every poll that produced data. */
  poll: [StatusPollInfo];
  /** A request failed for another reason (timeout, …); the previous state of that kind is kept. */
  pollError: [Error, StatusKind];
  /**
   * A listener threw, or a poll failed unexpectedly. Reported here (or as a process warning when
   * nobody listens) because a timer-driven poll has no caller to hand the error to.
   */
  listenerError: [Error];
}

/** What one user of a shared poller wants; the poller serves the union of all wishes. */
export interface StatusPollWish {
  /** Default: all kinds. */
  kinds?: readonly StatusKind[];
  /** Default 5000. */
  intervalMs?: number;
}

export interface StatusPollLease {
  readonly poller: ServerStatusPoller;
  /** Changes this user's wish; the poller keeps what it tracks. */
  update(wish: StatusPollWish): void;
  /** Idempotent. The last release stops the poller (and forgets its state). */
  release(): void;
}

export const DEFAULT_IGNORED_FIELDS: Readonly<Record<StatusKind, readonly string[]>> = {
  serverSubscription: ['in', 'out', 'total_in', 'total_out', 'errors', 'bps', 'pids'],
  input: ['bps', 'ber', 'unc', 'te', 'cc', 'ec_bit', 'tc_bit', 'ec_block', 'tc_block', 'pids'],
  connection: [],
};

const SIGNAL_FIELDS = ['signal', 'snr'] as const;
const RELATIVE_FULL_SCALE = 65535;

interface Tracked {
  /** As last reported in an event: the base for "did it change". */
  reported: StatusEntry;
  /** As last polled: what snapshots show. */
  latest: StatusEntry;
  /** When signal figures were last reported. */
  signalAt: number;
}

type FetchResult = { ok: true; entries: StatusEntry[] } | { ok: false; why: 'noaccess' | 'unsupported'; message: string };

/**
 * Polls the server's status lists while the session is ready and emits their differences.
 * Without the admin right it says so once ('unavailable') and stays quiet until the session
 * comes back with different rights.
 */
export class ServerStatusPoller extends EventEmitter<ServerStatusEvents> {
  private readonly session: StatusSession;
  private readonly baseIntervalMs: number;
  private readonly baseKinds: readonly StatusKind[];
  private intervalMs: number;
  private kinds: readonly StatusKind[];
  /** Wishes of the current lease holders; none: the constructor's options apply. */
  private readonly wishes = new Map<object, StatusPollWish>();
  private readonly timeoutMs: number | undefined;
  private readonly ignored: Record<StatusKind, ReadonlySet<string>>;
  private readonly relativeStep: number;
  private readonly decibelStep: number;
  private readonly signalIntervalMs: number;
  private readonly now: () => number;

  private running = false;
  private ready = false;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private pollAgain = false;
  /** Bumped whenever the connection goes away: results of older polls are dropped. */
  private generation = 0;
  private readonly tracked: Record<StatusKind, Map<number | string, Tracked>> = {
    serverSubscription: new Map(),
    input: new Map(),
    connection: new Map(),
  };
  /** Kinds whose path the server does not know (empty reply); retried after a reconnect. */
  private unsupported = new Set<StatusKind>();
  private refused: (StatusUnavailable & { rightsKey: string }) | undefined;
  /** Kinds polled successfully since start (or refusal): their next poll is no longer `initial`. */
  private readonly polledKinds = new Set<StatusKind>();
  private resyncPending = false;
  private freshSinceReady = false;
  private updatedAt: number | undefined;

  constructor(session: StatusSession, opts: ServerStatusOptions = {}) {
    super();
    this.session = session;
    this.baseIntervalMs = this.intervalMs = Math.max(100, finiteOr(opts.intervalMs, 5000));
    this.baseKinds = this.kinds = opts.kinds && opts.kinds.length ? [...new Set(opts.kinds)] : STATUS_KINDS;
    this.timeoutMs = opts.requestTimeoutMs;
    this.ignored = {
      serverSubscription: new Set(opts.ignoreFields?.serverSubscription ?? DEFAULT_IGNORED_FIELDS.serverSubscription),
      input: new Set(opts.ignoreFields?.input ?? DEFAULT_IGNORED_FIELDS.input),
      connection: new Set(opts.ignoreFields?.connection ?? DEFAULT_IGNORED_FIELDS.connection),
    };
    this.relativeStep = finiteOr(opts.signal?.relativeStep, 0.05) * RELATIVE_FULL_SCALE;
    this.decibelStep = finiteOr(opts.signal?.decibelStep, 1) * 1000;
    this.signalIntervalMs = finiteOr(opts.signal?.minIntervalMs, 60_000);
    this.now = opts.now ?? Date.now;
  }

  /**
   * The session's shared poller: every consumer of one session (events nodes, the MQTT bridge)
   * should use it through `acquire()`, so the server is polled once however many there are, and
   * a consumer coming or going never restarts it (which would lose what happened meanwhile).
   */
  static for(session: StatusSession): ServerStatusPoller {
    let p = sharedPollers.get(session);
    if (!p) {
      p = new ServerStatusPoller(session);
      sharedPollers.set(session, p);
    }
    return p;
  }

  /**
   * Registers a user: the poller polls the union of the users' kinds at the shortest interval
   * asked for, and runs while at least one lease is held. Changing the wishes keeps the tracked
   * state; a kind nobody polled before reports its first poll as `initial`.
   */
  acquire(wish: StatusPollWish = {}): StatusPollLease {
    const token = {};
    this.wishes.set(token, { ...wish });
    this.reconfigure();
    this.start();
    let released = false;
    return {
      poller: this,
      update: (w) => {
        if (released) return;
        this.wishes.set(token, { ...w });
        this.reconfigure();
      },
      release: () => {
        if (released) return;
        released = true;
        this.wishes.delete(token);
        if (this.wishes.size === 0) this.stop();
        this.reconfigure();
      },
    };
  }

  /** Lease holders currently registered. */
  get users(): number {
    return this.wishes.size;
  }

  /** The interval and kinds in effect. */
  get config(): { intervalMs: number; kinds: readonly StatusKind[] } {
    return { intervalMs: this.intervalMs, kinds: this.kinds };
  }

  private reconfigure(): void {
    let intervalMs = this.baseIntervalMs;
    let kinds: readonly StatusKind[] = this.baseKinds;
    if (this.wishes.size > 0) {
      intervalMs = Infinity;
      const union = new Set<StatusKind>();
      for (const w of this.wishes.values()) {
        intervalMs = Math.min(intervalMs, Math.max(100, finiteOr(w.intervalMs, 5000)));
        for (const k of w.kinds && w.kinds.length ? w.kinds : STATUS_KINDS) union.add(k);
      }
      kinds = STATUS_KINDS.filter((k) => union.has(k));
    }
    const added = kinds.filter((k) => !this.kinds.includes(k));
    for (const k of this.kinds) {
      if (kinds.includes(k)) continue;
      // Nobody follows it any more: if it comes back, its first poll is news to nobody.
      this.tracked[k].clear();
      this.polledKinds.delete(k);
    }
    const faster = intervalMs < this.intervalMs;
    this.intervalMs = intervalMs;
    this.kinds = kinds;
    if (!this.canPoll()) return;
    if (added.length > 0) {
      // The newcomer should not wait a whole interval for a kind never polled.
      if (this.polling) this.pollAgain = true;
      else this.schedule(0);
    } else if (faster && this.timer) {
      this.schedule(intervalMs);
    }
  }

  /** Starts following the session (idempotent). Polls at once if it is ready. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.session.on('state', this.onState);
    if (this.session.state === 'ready') this.becameReady();
  }

  /** Stops polling and forgets everything; a later `start()` begins afresh. */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.session.off('state', this.onState);
    this.clearTimer();
    this.generation++;
    this.ready = false;
    for (const k of STATUS_KINDS) this.tracked[k].clear();
    this.unsupported = new Set();
    this.refused = undefined;
    this.polledKinds.clear();
    this.resyncPending = false;
    this.freshSinceReady = false;
    this.updatedAt = undefined;
  }

  /** Whether the server answers status requests (as far as we know). */
  get available(): boolean {
    return this.refused === undefined;
  }

  /** The last known lists (copies of the arrays; the entries are shared and frozen). */
  current(): ServerStatusSnapshot {
    const snap: ServerStatusSnapshot = {
      available: this.refused === undefined,
      // A kind a newcomer just added has no lists yet, however fresh the others are.
      stale: !this.ready || !this.freshSinceReady || this.kinds.some((k) => !this.polledKinds.has(k) && !this.unsupported.has(k)),
      subscriptions: this.list('serverSubscription'),
      inputs: this.list('input'),
      connections: this.list('connection'),
    };
    if (this.refused) snap.unavailable = { reason: this.refused.reason, message: this.refused.message };
    if (this.updatedAt !== undefined) snap.updatedAt = this.updatedAt;
    return snap;
  }

  /**
   * The current entries as change events (action `add`, `changed` empty), keyed as live events
   * are: what a consumer needs to rebuild its state, in the shape it already handles. Empty for
   * a kind that was never polled; the `stale` flag of `current()` says whether to trust it.
   */
  snapshotChanges(kinds: readonly StatusKind[] = STATUS_KINDS): StatusChangeEvent[] {
    const out: StatusChangeEvent[] = [];
    for (const kind of kinds) {
      for (const [id, t] of this.tracked[kind]) out.push(event(kind, 'add', id, t.latest, undefined, [], {}));
    }
    return out;
  }

  /** Counts for dashboards: viewers, tuners in use, connections, and who watches what. */
  summary(): ServerStatusSummary {
    const subs = this.list('serverSubscription');
    const watching: ServerStatusSummary['watching'] = [];
    for (const s of subs) {
      if (typeof s.hostname !== 'string' || s.hostname === '') continue;
      const w: ServerStatusSummary['watching'][number] = { id: s.id };
      if (typeof s.channel === 'string') w.channel = s.channel;
      if (typeof s.username === 'string') w.username = s.username;
      w.hostname = s.hostname;
      if (typeof s.client === 'string') w.client = s.client;
      if (typeof s.title === 'string') w.title = s.title;
      watching.push(w);
    }
    // Some servers list idle inputs too (subs 0); "in use" means receiving for someone.
    const tuners = new Set(this.list('input').filter((i) => typeof i.subs !== 'number' || i.subs > 0).map((i) => i.uuid));
    return {
      subscriptions: subs.length,
      viewers: watching.length,
      inputsInUse: tuners.size,
      connections: this.tracked.connection.size,
      watching,
    };
  }

  /** Polls now (unless a poll is running); mostly for tests and "refresh" buttons. */
  async pollNow(): Promise<void> {
    if (!this.canPoll()) return;
    this.clearTimer();
    await this.poll();
  }

  // ------------------------------------------------------------------ lifecycle

  private readonly onState = (status: { state: string }): void => {
    if (!this.running) return;
    if (status.state === 'ready') {
      if (!this.ready) this.becameReady();
    } else if (this.ready) {
      this.ready = false;
      this.generation++;
      this.clearTimer();
      this.freshSinceReady = false;
      if (this.polledKinds.size > 0) this.resyncPending = true;
    }
  };

  private becameReady(): void {
    this.ready = true;
    this.freshSinceReady = false;
    this.unsupported = new Set();
    const key = rightsKey(this.session.rights);
    if (this.refused) {
      // Same rights, same answer: asking again would only cost the server work.
      if (this.refused.rightsKey === key) return;
      this.refused = undefined;
    }
    if (this.session.rights && this.session.rights.admin === false) {
      this.refuse('not-admin', 'the server status needs the admin right, which this user does not have');
      return;
    }
    this.schedule(0);
  }

  private canPoll(): boolean {
    return this.running && this.ready && this.refused === undefined && this.session.state === 'ready';
  }

  private schedule(delayMs: number): void {
    this.clearTimer();
    if (!this.canPoll()) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.poll().catch((err: unknown) => {
        this.report(err);
        if (!this.timer) this.schedule(this.intervalMs);
      });
    }, Math.max(0, delayMs));
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private refuse(reason: UnavailableReason, message: string): void {
    this.clearTimer();
    this.refused = { reason, message, rightsKey: rightsKey(this.session.rights) };
    // What we knew is no longer observable; consumers drop it on 'unavailable'.
    for (const k of STATUS_KINDS) this.tracked[k].clear();
    this.polledKinds.clear();
    this.resyncPending = false;
    this.deliver('unavailable', { reason, message });
  }

  // ------------------------------------------------------------------ polling

  private async poll(): Promise<void> {
    if (!this.canPoll()) return;
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    this.polling = true;
    this.pollAgain = false;
    const gen = this.generation;
    const began = this.now();
    const kinds = this.kinds.filter((k) => !this.unsupported.has(k));
    let results: PromiseSettledResult<FetchResult>[];
    try {
      results = await Promise.allSettled(kinds.map((k) => this.fetch(k)));
    } finally {
      this.polling = false;
    }
    if (gen !== this.generation || !this.canPoll()) {
      // The connection changed under us: whatever this poll saw belongs to the old one.
      if (this.canPoll() && !this.timer) this.schedule(0);
      return;
    }

    for (const r of results) {
      if (r.status === 'fulfilled' && !r.value.ok && r.value.why === 'noaccess') {
        this.refuse('noaccess', r.value.message);
        return;
      }
    }

    let changes = 0;
    let got = false;
    kinds.forEach((kind, i) => {
      const r = results[i];
      if (r.status === 'rejected') {
        const err = r.reason instanceof Error ? r.reason : new Error(String(r.reason));
        this.deliver('pollError', err, kind);
        return;
      }
      if (!r.value.ok) {
        this.unsupported.add(kind);
        return;
      }
      got = true;
      const flags: { initial?: boolean; resync?: boolean } = {};
      if (!this.polledKinds.has(kind)) flags.initial = true;
      else if (this.resyncPending) flags.resync = true;
      this.polledKinds.add(kind);
      changes += this.apply(kind, r.value.entries, flags);
    });

    if (this.kinds.every((k) => this.unsupported.has(k))) {
      this.refuse('unsupported', 'the server does not answer status requests over HTSP (api method or status paths missing)');
      return;
    }
    const finished = this.now();
    if (got) {
      this.resyncPending = false;
      this.freshSinceReady = true;
      this.updatedAt = finished;
      this.deliver('poll', { at: finished, durationMs: finished - began, changes });
    }
    if (this.pollAgain) this.schedule(0);
    else this.schedule(this.intervalMs);
  }

  private async fetch(kind: StatusKind): Promise<FetchResult> {
    let reply: HtsmsgMap;
    try {
      const opts = this.timeoutMs !== undefined ? { timeoutMs: this.timeoutMs } : undefined;
      reply = await this.session.callRaw('api', { path: STATUS_PATHS[kind] }, opts);
    } catch (err) {
      if (isHtspError(err) && err.code === 'noaccess') {
        return { ok: false, why: 'noaccess', message: `the server refused ${STATUS_PATHS[kind]}: admin right needed` };
      }
      if (isHtspError(err) && err.code === 'server' && err.method === 'api') {
        // Servers before the `api` method (v25 and older) answer "Method not found".
        return { ok: false, why: 'unsupported', message: err.message };
      }
      throw err;
    }
    if (reply.noaccess) {
      return { ok: false, why: 'noaccess', message: `the server refused ${STATUS_PATHS[kind]}: admin right needed` };
    }
    const response = reply.response;
    if (!isHtsmsgMap(response)) {
      // An unknown api path gets an empty reply.
      return { ok: false, why: 'unsupported', message: `the server does not know ${STATUS_PATHS[kind]}` };
    }
    const entries = response.entries;
    if (entries === undefined) return { ok: true, entries: [] };
    if (!Array.isArray(entries)) throw new Error(`${STATUS_PATHS[kind]}: the reply's entries is not a list`);
    return { ok: true, entries: entries.filter(isHtsmsgMap) };
  }

  // ------------------------------------------------------------------ diffing

  private apply(kind: StatusKind, entries: StatusEntry[], flags: { initial?: boolean; resync?: boolean }): number {
    const map = this.tracked[kind];
    const now = this.now();
    const seen = new Set<number | string>();
    const out: StatusChangeEvent[] = [];
    for (const raw of entries) {
      const id = statusEntryKey(kind, raw);
      if (id === undefined || seen.has(id)) continue;
      seen.add(id);
      const obj = Object.freeze({ ...raw }) as StatusEntry;
      const t = map.get(id);
      if (!t) {
        map.set(id, { reported: obj, latest: obj, signalAt: now });
        out.push(event(kind, 'add', id, obj, undefined, Object.keys(obj), flags));
        continue;
      }
      if (!sameIdentity(kind, t.reported, obj)) {
        // A server restart reuses small ids: same id, different subscription or connection.
        out.push(event(kind, 'delete', id, t.latest, t.latest, [], flags));
        map.set(id, { reported: obj, latest: obj, signalAt: now });
        out.push(event(kind, 'add', id, obj, undefined, Object.keys(obj), flags));
        continue;
      }
      t.latest = obj;
      const changed = this.significant(kind, t, obj, now);
      if (changed.length === 0) continue;
      const previous = t.reported;
      t.reported = obj;
      if (changed.some((f) => (SIGNAL_FIELDS as readonly string[]).includes(f))) t.signalAt = now;
      out.push(event(kind, 'update', id, obj, previous, changed, flags));
    }
    for (const [id, t] of map) {
      if (seen.has(id)) continue;
      map.delete(id);
      out.push(event(kind, 'delete', id, t.latest, t.latest, [], flags));
    }
    for (const e of out) this.deliver('change', e);
    return out.length;
  }

  /**
   * Calls every listener even when one throws: a listener's bug must neither starve the other
   * users of a shared poller nor escape from a timer as an uncaught exception.
   */
  private deliver<K extends keyof ServerStatusEvents>(name: K, ...args: ServerStatusEvents[K]): void {
    for (const l of this.rawListeners(name) as Array<(...a: ServerStatusEvents[K]) => void>) {
      try {
        l.apply(this, args);
      } catch (err) {
        this.report(err);
      }
    }
  }

  private report(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    if (this.listenerCount('listenerError') > 0) {
      try {
        this.emit('listenerError', e);
        return;
      } catch {
        // A throwing error listener: fall through to the process warning.
      }
    }
    process.emitWarning(e);
  }

  private significant(kind: StatusKind, t: Tracked, obj: StatusEntry, now: number): string[] {
    const ignored = this.ignored[kind];
    const before = t.reported;
    const changed: string[] = [];
    const signal: string[] = [];
    let gainedOrLost = false;
    const names = new Set([...Object.keys(before), ...Object.keys(obj)]);
    for (const f of names) {
      if (ignored.has(f)) continue;
      const a = before[f];
      const b = obj[f];
      if (kind === 'input' && (f === 'signal' || f === 'snr') && typeof a === 'number' && typeof b === 'number') {
        if (a === b) continue;
        if ((a === 0) !== (b === 0)) {
          gainedOrLost = true;
          signal.push(f);
        } else if (Math.abs(b - a) >= this.stepFor(obj[`${f}_scale`])) {
          signal.push(f);
        }
        continue;
      }
      if (!valueEquals(a, b)) changed.push(f);
    }
    if (changed.length > 0) return [...changed, ...signal];
    if (signal.length > 0 && (gainedOrLost || now - t.signalAt >= this.signalIntervalMs)) return signal;
    return [];
  }

  private stepFor(scale: HtsmsgValue | undefined): number {
    if (scale === 1) return this.relativeStep;
    if (scale === 2) return this.decibelStep;
    // Unknown scale: any movement counts, the rate limit still applies.
    return 1;
  }

  private list<K extends StatusKind>(kind: K): StatusObjects[K][] {
    return [...this.tracked[kind].values()].map((t) => t.latest as StatusObjects[K]);
  }
}

const sharedPollers = new WeakMap<StatusSession, ServerStatusPoller>();

function event(
  kind: StatusKind,
  action: 'add' | 'update' | 'delete',
  id: number | string,
  object: StatusEntry,
  previous: StatusEntry | undefined,
  changed: string[],
  flags: { initial?: boolean; resync?: boolean },
): StatusChangeEvent {
  const e = { kind, action, id, object, changed } as StatusChangeEvent;
  if (previous) e.previous = previous as never;
  if (flags.initial) e.initial = true;
  if (flags.resync) e.resync = true;
  return e;
}

/**
 * The id under which the poller tracks a status entry, and which its change events carry:
 * `id` for subscriptions and connections; for inputs `uuid/stream`, or `uuid` alone when the
 * entry names no stream (one input can receive several muxes at once and lists each of them
 * under its own uuid). Undefined for an entry without a usable key; the poller skips those.
 */
export function statusEntryKey(kind: StatusKind, e: StatusEntry): number | string | undefined {
  if (kind === 'input') {
    const uuid = e.uuid;
    if (typeof uuid !== 'string' || uuid === '') return undefined;
    return typeof e.stream === 'string' && e.stream !== '' ? `${uuid}/${e.stream}` : uuid;
  }
  const id = e.id;
  if (typeof id === 'number') return id;
  if (typeof id === 'bigint') return Number(id);
  return undefined;
}

function sameIdentity(kind: StatusKind, a: StatusEntry, b: StatusEntry): boolean {
  const f = kind === 'serverSubscription' ? 'start' : kind === 'connection' ? 'started' : undefined;
  if (!f || a[f] === undefined || b[f] === undefined) return true;
  return valueEquals(a[f], b[f]);
}

function rightsKey(rights: { readonly admin: boolean } | undefined): string {
  if (!rights) return 'unknown';
  const r = rights as unknown as Record<string, unknown>;
  return JSON.stringify(Object.keys(r).sort().map((k) => [k, r[k]]));
}

function finiteOr(v: number | undefined, dflt: number): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : dflt;
}
