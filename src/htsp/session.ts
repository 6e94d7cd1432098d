import type { HtsmsgMap } from './codec';
import { ContainedEmitter, HtspConnection, reportListenerError, type CallOptions, type ConnectionOptions } from './connection';
import { HtspError } from './errors';
import { MetadataCache, isMetadataMessage, type ChangeEvent, type EpgSearch, type SyncCounts } from './cache';
import { HtspSubscription, SUBSCRIPTION_METHODS, type SubscribeOptions } from './subscription';
import type { AccessRights, Channel, EpgEvent, HtspMethodName, HtspReply, HtspRequest, ServerInfo } from './messages';
import { withTimeout } from './util';

export type SessionState = 'disconnected' | 'connecting' | 'authenticating' | 'syncing' | 'ready' | 'auth-failed';

export interface ReconnectOptions {
  /** First delay after a lost connection (default 1000 ms); doubles per failed attempt. */
  initialDelayMs?: number;
  /** Cap (default 60 000 ms). */
  maxDelayMs?: number;
  /** ± fraction of random spread on each delay (default 0.2), so that many clients don't reconnect in step. */
  jitter?: number;
}

export interface SessionOptions extends ConnectionOptions {
  /** Stream EPG events (default true). */
  epg?: boolean;
  /** 0 = everything the server has; else `epgMaxTime` = now + days × 86400. */
  epgDays?: number;
  /** EPG language(s), e.g. "ger,eng". */
  language?: string;
  reconnect?: ReconnectOptions;
  /** Events that ended more than this long ago are dropped from the cache (default 6 h, 0 = keep). */
  keepEndedEventsSec?: number;
  /**
   * Gives up on an initial sync that stopped moving: when no metadata (nor a reply to the sync's
   * own requests) arrived for this long, the connection is closed with code `timeout` and the
   * session reconnects. Progress restarts the clock, so a huge EPG on a slow link is fine.
   * Default 120 000 ms; 0 = never.
   */
  syncTimeoutMs?: number;
}

export interface SessionStatus {
  state: SessionState;
  /** When the state was entered (epoch ms). */
  since: number;
  /** Connection attempts since the last time the session was ready (1 = the first try). */
  attempt: number;
  error?: HtspError;
  /** While waiting to reconnect: when the next attempt starts (epoch ms). */
  nextRetryAt?: number;
  /** Objects received in the running sync (syncing) or held (ready). */
  sync?: { channels: number; tags: number; dvrEntries: number; events: number };
}

export declare interface HtspSession {
  on(event: 'state', listener: (status: SessionStatus) => void): this;
  on(event: 'change', listener: (change: ChangeEvent) => void): this;
  on(event: 'ready', listener: () => void): this;
  on(event: 'message', listener: (msg: HtsmsgMap & { method: string }) => void): this;
  /** A listener threw; it was contained (see ContainedEmitter). */
  on(event: 'listenerError', listener: (err: unknown, event: string) => void): this;
  on(event: string, listener: (...args: never[]) => void): this;
  once(event: 'state', listener: (status: SessionStatus) => void): this;
  once(event: 'change', listener: (change: ChangeEvent) => void): this;
  once(event: 'ready', listener: () => void): this;
  once(event: 'message', listener: (msg: HtsmsgMap & { method: string }) => void): this;
  once(event: string, listener: (...args: never[]) => void): this;
}

const PROGRESS_INTERVAL_MS = 1000;
const DEFAULT_SYNC_TIMEOUT_MS = 120_000;
const PRUNE_INTERVAL_MS = 10 * 60_000;
const STOP_WAIT_MS = 1000;

/**
 * A self-healing HTSP session: connects, authenticates, keeps the metadata cache in sync and
 * reconnects with backoff. Wrong credentials end in `auth-failed`, which is not retried.
 */
export class HtspSession extends ContainedEmitter {
  readonly cache: MetadataCache;
  private readonly opts: SessionOptions;
  private conn: HtspConnection | undefined;
  private _status: SessionStatus = { state: 'disconnected', since: Date.now(), attempt: 0 };
  private running = false;
  /** Bumped by stop() and on every new attempt so that late callbacks of an old one do nothing. */
  private generation = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private progressTimer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private abort: AbortController | undefined;
  private attemptDone: Promise<void> | undefined;
  private failures = 0;
  /** Delays waited since the last ready (or start): the exponent of the backoff. */
  private retries = 0;
  private serverOffsetSec = 0;
  private nextSubscriptionId = 1;
  private readonly subs = new Set<HtspSubscription>();
  private syncWatchdog: NodeJS.Timeout | undefined;
  /** performance.now() of the last sign of sync progress. */
  private syncProgressAt = 0;
  private readonly routes = new Map<number, HtspSubscription>();
  private _serverInfo: ServerInfo | undefined;
  private _rights: AccessRights | undefined;

  constructor(opts: SessionOptions) {
    super();
    // One session serves every node of a flow (fifty is ordinary), each listening for state and changes.
    this.setMaxListeners(0);
    this.opts = { ...opts, reconnect: { ...opts.reconnect } };
    this.cache = new MetadataCache({
      now: () => Math.floor(Date.now() / 1000) + this.serverOffsetSec,
      keepEndedEventsSec: opts.keepEndedEventsSec,
    });
    this.cache.on('change', (c) => this.emit('change', c));
    this.cache.on('listenerError', this.onListenerError);
  }

  get state(): SessionState {
    return this._status.state;
  }

  get status(): SessionStatus {
    const s: SessionStatus = { ...this._status };
    if (s.state === 'syncing') {
      s.sync = syncOf(this.cache.syncProgress);
    } else if (s.state === 'ready') {
      s.sync = syncOf(this.cache.counts);
    }
    return s;
  }

  get serverInfo(): ServerInfo | undefined {
    return this._serverInfo;
  }

  get rights(): AccessRights | undefined {
    return this._rights;
  }

  /** The live connection (syncing or ready), for its typed methods. */
  get connection(): HtspConnection | undefined {
    return this.conn && !this.conn.closed ? this.conn : undefined;
  }

  /** The server's clock (epoch seconds), as estimated at connect time. */
  serverNow(): number {
    return Math.floor(Date.now() / 1000) + this.serverOffsetSec;
  }

  // ------------------------------------------------------------------ lifecycle

  /** Starts connecting (idempotent). After `auth-failed` it tries once more. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.failures = 0;
    this.retries = 0;
    if (!this.pruneTimer) {
      this.pruneTimer = setInterval(() => this.cache.pruneEvents(), PRUNE_INTERVAL_MS);
      this.pruneTimer.unref();
    }
    void this.connect();
  }

  /** Closes the connection, stops reconnecting and ends all subscriptions. */
  async stop(): Promise<void> {
    this.running = false;
    this.generation++;
    this.clearTimers();
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.pruneTimer = undefined;
    this.abort?.abort();
    this.abort = undefined;
    for (const sub of [...this.subs]) sub._close({ status: 'session stopped', reason: 'session-stopped' });
    this.subs.clear();
    const conn = this.dropConnection();
    this.setState('disconnected', { attempt: 0 });
    const waits: Promise<void>[] = [];
    if (conn) waits.push(conn.whenClosed());
    if (this.attemptDone) waits.push(this.attemptDone);
    if (waits.length) await withTimeout(Promise.all(waits).then(() => undefined), STOP_WAIT_MS);
  }

  /**
   * Changes options (credentials, host, EPG settings, …). A running session, or one stopped by
   * `auth-failed`, reconnects with them at once; the cache is reconciled as after any reconnect.
   */
  reconfigure(patch: Partial<SessionOptions>): void {
    Object.assign(this.opts, patch);
    if (patch.reconnect) this.opts.reconnect = { ...patch.reconnect };
    const active = this.running || this._status.state === 'auth-failed';
    if (!active) return;
    this.generation++;
    this.clearTimers();
    this.abort?.abort();
    this.abort = undefined;
    this.dropConnection();
    this.running = false;
    this.start();
  }

  private async connect(): Promise<void> {
    const gen = ++this.generation;
    this.failures++;
    const abort = new AbortController();
    this.abort = abort;
    this.setState('connecting', { attempt: this.failures });
    let finish: () => void = () => undefined;
    this.attemptDone = new Promise<void>((r) => (finish = r));
    let conn: HtspConnection;
    try {
      conn = await HtspConnection.connect(this.opts, {
        signal: abort.signal,
        onPhase: (phase) => {
          if (gen === this.generation && phase === 'authenticating') this.setState('authenticating');
        },
      });
    } catch (err) {
      finish();
      if (gen !== this.generation) return;
      const e = err instanceof HtspError ? err : new HtspError('disconnected', String(err));
      if (e.code === 'auth-failed' || e.code === 'bad-input') {
        // Retrying would only hammer the server (and may lock the account): wait for the user.
        this.running = false;
        this.setState(e.code === 'auth-failed' ? 'auth-failed' : 'disconnected', { error: e });
        return;
      }
      this.scheduleRetry(e);
      return;
    }
    finish();
    if (gen !== this.generation) {
      conn.close();
      return;
    }
    this.abort = undefined;
    this.attach(conn);
    this._serverInfo = conn.serverInfo;
    this._rights = conn.rights;
    this.setState('syncing');
    this.startSyncWatchdog(conn);
    await this.sync(conn, gen);
  }

  private async sync(conn: HtspConnection, gen: number): Promise<void> {
    const live = (): boolean => gen === this.generation && this.conn === conn && !conn.closed;
    try {
      // The cache needs the server's clock for "now" and for pruning; a simulated or skewed
      // server clock must not make fresh events look ancient.
      if (conn.rights?.streaming !== false) {
        try {
          const t = await conn.getSysTime();
          this.syncProgressed();
          if (typeof t.time === 'number') this.serverOffsetSec = t.time - Math.floor(Date.now() / 1000);
        } catch (err) {
          if (!(err instanceof HtspError) || err.code === 'disconnected' || err.code === 'timeout') throw err;
        }
      }
      if (!live()) return;
      // Subscriptions whose channel is known come back at once, without waiting for the sync.
      for (const sub of this.subs) if (sub.channelId) this.startSubscription(sub, conn);

      const epg = this.opts.epg !== false;
      const days = this.opts.epgDays ?? 0;
      this.cache.beginResync({ epg });
      this.startProgress();
      const req: HtspRequest<'enableAsyncMetadata'> = { epg: epg ? 1 : 0 };
      if (epg && days > 0) req.epgMaxTime = this.serverNow() + Math.round(days * 86400);
      if (this.opts.language) req.language = this.opts.language;
      try {
        await conn.enableAsyncMetadata(req);
        this.syncProgressed();
      } catch (err) {
        if (err instanceof HtspError && err.code === 'noaccess' && live()) {
          // No streaming right: no metadata at all, but DVR calls may still work.
          this.cache.abortResync();
          this.becomeReady(conn, err);
          return;
        }
        throw err;
      }
    } catch (err) {
      if (!live()) return;
      this.lost(conn, err instanceof HtspError ? err : new HtspError('protocol', String(err)));
    }
  }

  private becomeReady(conn: HtspConnection, warning?: HtspError): void {
    this.failures = 0;
    this.retries = 0;
    this.stopProgress();
    this.stopSyncWatchdog();
    this._rights = conn.rights;
    this.setState('ready', { attempt: 0, ...(warning ? { error: warning } : {}) });
    for (const sub of this.subs) if (sub.id === 0) this.startSubscription(sub, conn);
    this.emit('ready');
  }

  private attach(conn: HtspConnection): void {
    this.conn = conn;
    conn.on('message', this.onMessage);
    conn.on('close', this.onClose);
    conn.on('listenerError', this.onListenerError);
    conn.setPacketHandler(this.onPacket);
  }

  private detach(): void {
    const conn = this.conn;
    if (!conn) return;
    conn.off('message', this.onMessage);
    conn.off('close', this.onClose);
    conn.off('listenerError', this.onListenerError);
    conn.setPacketHandler(undefined);
    this.conn = undefined;
  }

  private readonly onMessage = (msg: HtsmsgMap & { method: string }): void => {
    const method = msg.method;
    if (SUBSCRIPTION_METHODS.has(method)) {
      const sid = msg.subscriptionId;
      if (typeof sid === 'number') this.routes.get(sid)?._handle(msg);
    } else if (isMetadataMessage(method)) {
      if (this.syncWatchdog) this.syncProgressed();
      this.cache.apply(msg);
      if (method === 'initialSyncCompleted' && this.conn && this._status.state === 'syncing') {
        this.becomeReady(this.conn);
      }
    }
    this.emit('message', msg);
  };

  /** Faults of the cache's or connection's listeners surface where the user looks: on the session. */
  private readonly onListenerError = (err: unknown, event: string): void => {
    reportListenerError(this, err, event);
  };

  private readonly onPacket = (subscriptionId: number, body: Buffer): void => {
    this.routes.get(subscriptionId)?._packet(body);
  };

  private readonly onClose = (err: HtspError | undefined): void => {
    const conn = this.conn;
    if (!conn) return;
    this.lost(conn, err ?? new HtspError('disconnected', 'the connection closed'));
  };

  /** Forgets the current connection (closing it): a half sync is dropped, subscriptions wait. */
  private dropConnection(): HtspConnection | undefined {
    const conn = this.conn;
    if (!conn) return undefined;
    this.detach();
    conn.close();
    this.stopProgress();
    this.stopSyncWatchdog();
    this.cache.abortResync();
    this.routes.clear();
    for (const sub of this.subs) sub._suspend();
    return conn;
  }

  private lost(conn: HtspConnection, err: HtspError): void {
    if (this.conn !== conn) return;
    this.dropConnection();
    if (!this.running) {
      this.setState('disconnected', { error: err });
      return;
    }
    this.generation++;
    this.scheduleRetry(err);
  }

  private scheduleRetry(err: HtspError): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const r = this.opts.reconnect ?? {};
    const initial = r.initialDelayMs ?? 1000;
    const max = r.maxDelayMs ?? 60_000;
    const jitter = Math.min(Math.max(r.jitter ?? 0.2, 0), 1);
    const base = Math.min(max, initial * 2 ** Math.min(this.retries++, 30));
    const delay = Math.max(0, Math.round(base * (1 + jitter * (Math.random() * 2 - 1))));
    const nextRetryAt = Date.now() + delay;
    this.setState('disconnected', { error: err, nextRetryAt, attempt: this.failures });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.running) void this.connect();
    }, delay);
  }

  private setState(state: SessionState, extra: Partial<Omit<SessionStatus, 'state' | 'since'>> = {}): void {
    const prev = this._status;
    // While retrying, the reason of the last failure stays visible until the session is ready again.
    const error = extra.error ?? (state === 'connecting' || state === 'authenticating' || state === 'syncing' ? prev.error : undefined);
    this._status = {
      state,
      since: prev.state === state ? prev.since : Date.now(),
      attempt: extra.attempt ?? prev.attempt,
      ...(error ? { error } : {}),
      ...(extra.nextRetryAt !== undefined ? { nextRetryAt: extra.nextRetryAt } : {}),
    };
    this.emit('state', this.status);
  }

  private startProgress(): void {
    this.stopProgress();
    let last = -1;
    this.progressTimer = setInterval(() => {
      const p = this.cache.syncProgress;
      const total = p.channels + p.tags + p.dvrEntries + p.autorecEntries + p.timerecEntries + p.events;
      if (total !== last && this._status.state === 'syncing') {
        last = total;
        this.emit('state', this.status);
      }
    }, PROGRESS_INTERVAL_MS);
  }

  private stopProgress(): void {
    if (this.progressTimer) clearInterval(this.progressTimer);
    this.progressTimer = undefined;
  }

  /**
   * Only metadata and the replies to the sync's own requests count as progress. Streaming
   * messages do not: a live subscription's once-a-second status would keep a stuck sync alive
   * for ever. The ping cannot catch this either; it proves the server answers, not that it syncs.
   */
  private startSyncWatchdog(conn: HtspConnection): void {
    this.stopSyncWatchdog();
    const ms = this.opts.syncTimeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS;
    if (!(ms > 0) || !Number.isFinite(ms)) return;
    this.syncProgressAt = performance.now();
    const check = (): void => {
      this.syncWatchdog = undefined;
      if (this.conn !== conn || conn.closed || this._status.state !== 'syncing') return;
      // One timer re-armed for the remaining time, instead of one per message of a big burst.
      const idle = performance.now() - this.syncProgressAt;
      if (idle < ms) {
        this.syncWatchdog = setTimeout(check, ms - idle);
        this.syncWatchdog.unref();
        return;
      }
      const secs = Math.round(ms / 100) / 10;
      this.lost(conn, new HtspError('timeout', `the initial sync made no progress for ${secs} s (no initialSyncCompleted)`));
    };
    this.syncWatchdog = setTimeout(check, ms);
    this.syncWatchdog.unref();
  }

  private syncProgressed(): void {
    this.syncProgressAt = performance.now();
  }

  private stopSyncWatchdog(): void {
    if (this.syncWatchdog) clearTimeout(this.syncWatchdog);
    this.syncWatchdog = undefined;
  }

  private clearTimers(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.stopProgress();
    this.stopSyncWatchdog();
  }

  // ------------------------------------------------------------------ calls

  call<M extends HtspMethodName>(method: M, fields?: HtspRequest<M>, opts?: CallOptions): Promise<HtspReply<M>> {
    const conn = this.connection;
    if (!conn) return Promise.reject(this.notConnected(method));
    return conn.call(method, fields, opts);
  }

  callRaw(method: string, fields?: HtsmsgMap, opts?: CallOptions): Promise<HtsmsgMap> {
    const conn = this.connection;
    if (!conn) return Promise.reject(this.notConnected(method));
    return conn.callRaw(method, fields, opts);
  }

  private notConnected(method: string): HtspError {
    return new HtspError('disconnected', `cannot call ${method}: not connected (${this._status.state})`, { method });
  }

  // ------------------------------------------------------------------ subscriptions

  /**
   * Subscribes to a channel (id, name or number). The subscription starts as soon as the session
   * is connected (a name or number is resolved once the channel list is in), and is re-made
   * after every reconnect until `unsubscribe()` or `stop()`.
   */
  subscribe(channel: number | string, opts: SubscribeOptions = {}): HtspSubscription {
    const sub = new HtspSubscription(
      {
        request: (method, fields) => this.call(method, fields),
        release: (s) => {
          this.subs.delete(s);
          if (s.id) this.routes.delete(s.id);
        },
      },
      channel,
      opts,
    );
    this.subs.add(sub);
    const conn = this.connection;
    if (conn) this.startSubscription(sub, conn);
    return sub;
  }

  /**
   * The subscriptions this session keeps (pending, running or stopped by the server; closed ones
   * leave), in the order they were made. A copy: subscribing or unsubscribing later does not
   * change it. Each one shows its channel, state, streams, source and last signal/queue figures.
   */
  subscriptions(): readonly HtspSubscription[] {
    return Object.freeze([...this.subs]);
  }

  private startSubscription(sub: HtspSubscription, conn: HtspConnection): void {
    let channelId = sub.channelId;
    if (!channelId) {
      const ref = sub.channelRef;
      const ch = this.cache.findChannel(ref);
      if (ch) channelId = ch.channelId;
      else if (this._status.state !== 'ready') return; // resolved once the channel list is complete
      else {
        sub._fail(new HtspError('bad-input', `no channel matches ${JSON.stringify(ref)}`, { method: 'subscribe' }));
        return;
      }
    }
    const id = this.nextSubscriptionId++;
    // Routed before sending: the server may deliver subscriptionStart ahead of the reply (G4).
    sub._begin(id, channelId);
    this.routes.set(id, sub);
    conn.subscribe({ subscriptionId: id, channelId, ...sub._subscribeFields() }).then(
      (reply) => {
        if (sub.id === id) sub._subscribed(reply);
      },
      (err: unknown) => {
        if (sub.id !== id) return;
        const e = err instanceof HtspError ? err : new HtspError('protocol', String(err));
        // A lost connection re-subscribes by itself; anything else is final.
        if (e.code === 'disconnected' || conn.closed) return;
        this.routes.delete(id);
        sub._fail(e);
      },
    );
  }

  // ------------------------------------------------------------------ cache helpers

  findChannel(ref: number | string): Channel | undefined {
    return this.cache.findChannel(ref);
  }

  nowNext(channelId: number, at?: number): { now?: EpgEvent; next?: EpgEvent } {
    return this.cache.nowNext(channelId, at);
  }

  searchEpg(q: EpgSearch): EpgEvent[] {
    return this.cache.searchEpg(q);
  }
}

function syncOf(c: SyncCounts): NonNullable<SessionStatus['sync']> {
  return { channels: c.channels, tags: c.tags, dvrEntries: c.dvrEntries, events: c.events };
}
