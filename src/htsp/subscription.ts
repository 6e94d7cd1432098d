import { decodeBody, duplicatesOf, isHtsmsgMap, type HtsmsgMap, type HtsmsgValue } from './codec';
import { HtspError } from './errors';
import { ContainedEmitter } from './connection';
import type {
  DescrambleInfoMessage,
  HtspMethodName,
  HtspReply,
  HtspRequest,
  MuxpktMessage,
  QueueStatusMessage,
  SignalStatusMessage,
  SourceInfo,
  Stream,
  SubscribeReply,
  SubscriptionGraceMessage,
  SubscriptionSkipMessage,
  SubscriptionSpeedMessage,
  SubscriptionStatusMessage,
  TimeshiftStatusMessage,
} from './messages';

export interface SubscribeOptions {
  /** Stream profile name or UUID (server default: `htsp`). */
  profile?: string;
  /** 0/absent = the profile's default. */
  weight?: number;
  /** Seconds of timeshift buffer; 4294967295 = unlimited. */
  timeshiftPeriod?: number;
  /** Server-side drop threshold in payload bytes. */
  queueDepth?: number;
  /** Timestamps in 90 kHz ticks instead of microseconds. */
  ninetyKHz?: boolean;
  /** Packets held while delivery is paused (or behind); beyond it the oldest are dropped. Default 1000. */
  packetBufferLimit?: number;
  /**
   * Bytes (of received frames) held while delivery is paused or behind; beyond it the oldest are
   * dropped. Default 32 MiB. A count alone does not bound memory: each packet is a view that
   * keeps its whole frame alive, and a thousand HD I-frames are hundreds of MB.
   */
  packetBufferBytes?: number;
}

export type SubscriptionState = 'pending' | 'running' | 'stopped' | 'closed';

/** A media packet, exactly as the server sent it. `payload` is a view into the received data. */
export type Packet = MuxpktMessage;

export interface SubscriptionStartInfo {
  streams: Stream[];
  sourceinfo: SourceInfo;
  /** Codec configuration blobs (root-level `meta` fields), in stream order. */
  meta: Buffer[];
}

export interface SubscriptionStopInfo {
  /** The server's text ("OK", "Source reconfigured", …), or ours for local reasons. */
  status: string;
  subscriptionError?: string;
  /**
   * - `server`: the server stopped the source; it may start it again by itself.
   * - `reconnecting`: the connection is gone; the subscription is re-made after the reconnect.
   * - `unsubscribed`: `unsubscribe()` was called.
   * - `session-stopped`: the session was stopped.
   * - `error`: subscribing failed (see the 'error' event).
   */
  reason: 'server' | 'reconnecting' | 'unsubscribed' | 'session-stopped' | 'error';
}

/** What a subscription needs from the session that owns it. */
export interface SubscriptionHost {
  request<M extends HtspMethodName>(method: M, fields: HtspRequest<M>): Promise<HtspReply<M>>;
  release(sub: HtspSubscription): void;
}

export const DEFAULT_PACKET_BUFFER_LIMIT = 1000;
export const DEFAULT_PACKET_BUFFER_BYTES = 32 * 1024 * 1024;
/** Time slice for handing buffered packets to listeners before yielding. */
const DELIVERY_SLICE_MS = 8;

/**
 * Events. `error` differs from a plain EventEmitter on purpose: it is emitted only while someone
 * listens, so a refused subscription nobody watches for errors never throws (and never takes the
 * process down). Without a listener the refusal still shows as `stop` with reason `error`, as a
 * rejected `accepted`, and by the subscription leaving `session.subscriptions()`.
 */
export declare interface HtspSubscription {
  /** The server accepted a `subscribe` (again after every reconnect); `start` may come before it (G4). */
  on(event: 'subscribed', listener: (reply: SubscribeReply) => void): this;
  on(event: 'start', listener: (info: SubscriptionStartInfo) => void): this;
  on(event: 'status', listener: (msg: SubscriptionStatusMessage) => void): this;
  on(event: 'grace', listener: (msg: SubscriptionGraceMessage) => void): this;
  on(event: 'stop', listener: (info: SubscriptionStopInfo) => void): this;
  on(event: 'signal', listener: (msg: SignalStatusMessage) => void): this;
  on(event: 'queue', listener: (msg: QueueStatusMessage) => void): this;
  on(event: 'descramble', listener: (msg: DescrambleInfoMessage) => void): this;
  on(event: 'timeshift', listener: (msg: TimeshiftStatusMessage) => void): this;
  on(event: 'skip', listener: (msg: SubscriptionSkipMessage) => void): this;
  on(event: 'speed', listener: (msg: SubscriptionSpeedMessage) => void): this;
  on(event: 'packet', listener: (pkt: Packet) => void): this;
  /** Subscribing failed for good (refused by the server, unknown channel), or an undecodable packet. */
  on(event: 'error', listener: (err: HtspError) => void): this;
  /** A listener threw; it was contained (see ContainedEmitter). */
  on(event: 'listenerError', listener: (err: unknown, event: string) => void): this;
  on(event: string, listener: (...args: never[]) => void): this;
  once(event: 'subscribed', listener: (reply: SubscribeReply) => void): this;
  once(event: 'start', listener: (info: SubscriptionStartInfo) => void): this;
  once(event: 'stop', listener: (info: SubscriptionStopInfo) => void): this;
  once(event: 'error', listener: (err: HtspError) => void): this;
  once(event: string, listener: (...args: never[]) => void): this;
}

const EVENT_OF: Readonly<Record<string, string>> = {
  subscriptionStatus: 'status',
  subscriptionGrace: 'grace',
  signalStatus: 'signal',
  queueStatus: 'queue',
  descrambleInfo: 'descramble',
  timeshiftStatus: 'timeshift',
  subscriptionSkip: 'skip',
  subscriptionSpeed: 'speed',
};

/** Streaming messages that carry a `subscriptionId` (besides `muxpkt`). */
export const SUBSCRIPTION_METHODS: ReadonlySet<string> = new Set([
  'subscriptionStart',
  'subscriptionStop',
  ...Object.keys(EVENT_OF),
]);

/**
 * One live subscription. The object outlives reconnects: the session re-subscribes with a new
 * server-side id and this object keeps its listeners, emitting 'stop' (reason `reconnecting`)
 * and later 'start' again.
 */
export class HtspSubscription extends ContainedEmitter {
  /** What the user asked for: channel id, name or number. */
  readonly channelRef: number | string;
  /**
   * Settles with the server's first answer: resolves with the reply when it accepted the
   * subscription, rejects with the HtspError when it refused (`server`, `noaccess`), when the
   * channel does not exist (`bad-input`), or when the subscription was closed before any answer
   * (`disconnected`). Re-subscribes after a reconnect do not settle it again (see 'subscribed').
   * Never an unhandled rejection: awaiting it is optional.
   */
  readonly accepted: Promise<SubscribeReply>;
  private settleAccepted: ((outcome: SubscribeReply | HtspError) => void) | undefined;
  private _lastSignal: SignalStatusMessage | undefined;
  private _lastQueue: QueueStatusMessage | undefined;
  private _lastStatus: SubscriptionStatusMessage | undefined;
  private _sourceInfo: SourceInfo | undefined;
  private _id = 0;
  private _channelId = 0;
  private _state: SubscriptionState = 'pending';
  private _streams: Stream[] = [];
  private _reply: SubscribeReply | undefined;
  private readonly opts: SubscribeOptions;
  private readonly bufferLimit: number;
  private readonly bufferBytesLimit: number;
  private queue: Packet[] = [];
  /** Frame size of each queued packet, parallel to `queue`. */
  private queueSizes: number[] = [];
  private queueHead = 0;
  private queuedBytes = 0;
  private paused = false;
  private deliveryTimer: NodeJS.Immediate | undefined;
  private _dropped = 0;
  private _ignored = 0;
  private _received = 0;

  /** @internal Created by `HtspSession.subscribe`. */
  constructor(
    private readonly host: SubscriptionHost,
    channel: number | string,
    opts: SubscribeOptions = {},
  ) {
    super();
    this.channelRef = channel;
    this.accepted = new Promise<SubscribeReply>((resolve, reject) => {
      this.settleAccepted = (outcome) => {
        this.settleAccepted = undefined;
        if (outcome instanceof HtspError) reject(outcome);
        else resolve(outcome);
      };
    });
    // Most callers never look at it; a refusal must not surface as an unhandled rejection.
    this.accepted.catch(() => undefined);
    this.opts = { ...opts };
    const limit = opts.packetBufferLimit ?? DEFAULT_PACKET_BUFFER_LIMIT;
    this.bufferLimit = Number.isFinite(limit) && limit >= 0 ? Math.floor(limit) : DEFAULT_PACKET_BUFFER_LIMIT;
    const bytes = opts.packetBufferBytes ?? DEFAULT_PACKET_BUFFER_BYTES;
    this.bufferBytesLimit = Number.isFinite(bytes) && bytes >= 0 ? Math.floor(bytes) : DEFAULT_PACKET_BUFFER_BYTES;
  }

  /** The current server-side subscription id (changes on every re-subscribe; 0 before the first). */
  get id(): number {
    return this._id;
  }
  /** The channel id, once resolved (0 before). */
  get channelId(): number {
    return this._channelId;
  }
  get state(): SubscriptionState {
    return this._state;
  }
  get streams(): Stream[] {
    return this._streams;
  }
  /** The reply to the last `subscribe` (effective timeshift period, 90 kHz, …). */
  get reply(): SubscribeReply | undefined {
    return this._reply;
  }
  /** Where the stream comes from (adapter, mux, network, service), from the last `subscriptionStart`. */
  get sourceInfo(): SourceInfo | undefined {
    return this._sourceInfo;
  }
  /**
   * The last `signalStatus` (tuners only; IPTV never sends one). Cleared when the source stops or
   * the connection goes: an old figure would pass for a live one.
   */
  get lastSignal(): SignalStatusMessage | undefined {
    return this._lastSignal;
  }
  /** The last `queueStatus` (send queue, drops, errors); cleared like `lastSignal`. */
  get lastQueue(): QueueStatusMessage | undefined {
    return this._lastQueue;
  }
  /** The last `subscriptionStatus` (no `status` = OK); cleared like `lastSignal`. */
  get lastStatus(): SubscriptionStatusMessage | undefined {
    return this._lastStatus;
  }
  /** Packets dropped because the buffer was full. */
  get droppedPackets(): number {
    return this._dropped;
  }
  /** Packets that arrived while nobody listened to 'packet' (not decoded). */
  get ignoredPackets(): number {
    return this._ignored;
  }
  get receivedPackets(): number {
    return this._received;
  }
  /** Packets waiting for delivery. */
  get bufferedPackets(): number {
    return this.queue.length - this.queueHead;
  }
  /** Frame bytes of the packets waiting for delivery (what `packetBufferBytes` bounds). */
  get bufferedBytes(): number {
    return this.queuedBytes;
  }
  get options(): Readonly<SubscribeOptions> {
    return this.opts;
  }

  // ------------------------------------------------------------------ control

  async unsubscribe(): Promise<void> {
    if (this._state === 'closed') return;
    const id = this._id;
    const wasActive = id !== 0;
    this.close({ status: 'unsubscribed', reason: 'unsubscribed' });
    if (!wasActive) return;
    try {
      await this.host.request('unsubscribe', { subscriptionId: id });
    } catch (err) {
      // Gone with the connection is as good as unsubscribed: the server drops it on its side.
      if (!(err instanceof HtspError && err.code === 'disconnected')) throw err;
    }
  }

  async changeWeight(weight: number): Promise<void> {
    this.opts.weight = weight;
    await this.control('subscriptionChangeWeight', { subscriptionId: this._id, weight });
  }

  /** Timeshift: move by `time` (relative, default) or to it (absolute); unit as the timestamps. */
  async skip(req: { time?: number; size?: number; absolute?: boolean }): Promise<void> {
    await this.control('subscriptionSkip', {
      subscriptionId: this._id,
      ...(req.time !== undefined ? { time: req.time } : {}),
      ...(req.size !== undefined ? { size: req.size } : {}),
      absolute: req.absolute ? 1 : 0,
    });
  }

  /** Timeshift: jump to an absolute position (same unit as the timestamps). */
  async seek(time: number): Promise<void> {
    await this.control('subscriptionSeek', { subscriptionId: this._id, time, absolute: 1 });
  }

  /** 100 = normal, 0 = pause, negative = backwards. */
  async speed(speed: number): Promise<void> {
    await this.control('subscriptionSpeed', { subscriptionId: this._id, speed });
  }

  async live(): Promise<void> {
    await this.control('subscriptionLive', { subscriptionId: this._id });
  }

  async filterStreams(req: { enable?: number[]; disable?: number[] }): Promise<void> {
    await this.control('subscriptionFilterStream', {
      subscriptionId: this._id,
      ...(req.enable ? { enable: req.enable } : {}),
      ...(req.disable ? { disable: req.disable } : {}),
    });
  }

  /** Stops handing packets to listeners; they are buffered up to `packetBufferLimit`. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.scheduleDelivery();
  }

  private async control<M extends HtspMethodName>(method: M, fields: HtspRequest<M>): Promise<void> {
    if (this._state === 'closed') {
      throw new HtspError('bad-input', `the subscription to ${String(this.channelRef)} is closed`, { method });
    }
    if (this._id === 0) {
      throw new HtspError('disconnected', `the subscription to ${String(this.channelRef)} is not active right now`, { method });
    }
    await this.host.request(method, fields);
  }

  // ------------------------------------------------------------------ session side (internal)

  /** @internal The session sent `subscribe` with this id. */
  _begin(id: number, channelId: number): void {
    this._id = id;
    this._channelId = channelId;
    this._state = 'pending';
  }

  /** @internal The server accepted the `subscribe`. */
  _subscribed(reply: SubscribeReply): void {
    if (this._state === 'closed') return;
    this._reply = reply;
    this.settleAccepted?.(reply);
    this.emit('subscribed', reply);
  }

  /** @internal The subscription options as `subscribe` fields. */
  _subscribeFields(): Omit<HtspRequest<'subscribe'>, 'subscriptionId' | 'channelId' | 'channelName'> {
    const o = this.opts;
    return {
      ...(o.weight !== undefined ? { weight: o.weight } : {}),
      ...(o.profile !== undefined ? { profile: o.profile } : {}),
      ...(o.timeshiftPeriod !== undefined ? { timeshiftPeriod: o.timeshiftPeriod } : {}),
      ...(o.queueDepth !== undefined ? { queueDepth: o.queueDepth } : {}),
      ...(o.ninetyKHz ? { '90khz': 1 } : {}),
    };
  }

  /** @internal The connection is gone; the session will re-subscribe. */
  _suspend(): void {
    if (this._state === 'closed') return;
    const wasActive = this._id !== 0;
    this._id = 0;
    this._state = 'pending';
    this.clearQueue();
    this.clearFigures();
    if (wasActive) this.emit('stop', { status: 'reconnecting', reason: 'reconnecting' } satisfies SubscriptionStopInfo);
  }

  /** @internal Subscribing failed for good. */
  _fail(err: HtspError): void {
    if (this._state === 'closed') return;
    this.settleAccepted?.(err);
    // Only with a listener: EventEmitter would throw an unheard 'error' (see the class comment).
    if (this.listenerCount('error') > 0) this.emit('error', err);
    this.close({ status: err.message, reason: 'error' });
  }

  /** @internal */
  _close(info: SubscriptionStopInfo): void {
    this.close(info);
  }

  private close(info: SubscriptionStopInfo): void {
    if (this._state === 'closed') return;
    const wasActive = this._id !== 0 || this._state === 'running';
    this._state = 'closed';
    this.host.release(this);
    this._id = 0;
    this.clearQueue();
    this.clearFigures();
    this.settleAccepted?.(new HtspError('disconnected', `the subscription to ${String(this.channelRef)} ended (${info.status}) before the server answered`, { method: 'subscribe' }));
    if (wasActive || info.reason === 'error') this.emit('stop', info);
  }

  /** @internal A streaming message for this subscription. */
  _handle(msg: HtsmsgMap & { method: string }): void {
    if (this._state === 'closed') return;
    switch (msg.method) {
      case 'subscriptionStart': {
        const streams = Array.isArray(msg.streams) ? (msg.streams as Stream[]) : [];
        this._streams = streams;
        this._state = 'running';
        const meta = duplicatesOf(msg, 'meta').filter((m): m is Buffer => Buffer.isBuffer(m));
        if (meta.length === 0) {
          // Older documentation puts `meta` inside each stream entry.
          for (const s of streams as unknown as Record<string, HtsmsgValue>[]) if (Buffer.isBuffer(s.meta)) meta.push(s.meta);
        }
        const info: SubscriptionStartInfo = {
          streams,
          sourceinfo: (isHtsmsgMap(msg.sourceinfo) ? msg.sourceinfo : {}) as SourceInfo,
          meta,
        };
        this._sourceInfo = info.sourceinfo;
        this.emit('start', info);
        return;
      }
      case 'subscriptionStop': {
        this._state = 'stopped';
        this.clearFigures();
        const info: SubscriptionStopInfo = { status: typeof msg.status === 'string' ? msg.status : '', reason: 'server' };
        if (typeof msg.subscriptionError === 'string') info.subscriptionError = msg.subscriptionError;
        this.emit('stop', info);
        return;
      }
      default: {
        const event = EVENT_OF[msg.method];
        if (!event) return;
        if (event === 'signal') this._lastSignal = msg as unknown as SignalStatusMessage;
        else if (event === 'queue') this._lastQueue = msg as unknown as QueueStatusMessage;
        else if (event === 'status') this._lastStatus = msg as unknown as SubscriptionStatusMessage;
        this.emit(event, msg);
      }
    }
  }

  /** @internal A `muxpkt` frame body, not decoded yet. */
  _packet(body: Buffer): void {
    if (this._state === 'closed') return;
    this._received++;
    if (this.listenerCount('packet') === 0) {
      this._ignored++;
      return;
    }
    let pkt: Packet;
    try {
      pkt = decodeBody(body) as unknown as Packet;
    } catch (err) {
      if (this.listenerCount('error') > 0) {
        this.emit('error', new HtspError('protocol', `undecodable muxpkt: ${(err as Error).message}`, { cause: err }));
      }
      return;
    }
    if (!this.paused && this.queueHead === this.queue.length) {
      this.emit('packet', pkt);
      return;
    }
    // The frame, not the payload: the payload is a view that keeps the whole frame alive.
    const size = body.length;
    if (this.bufferLimit === 0 || size > this.bufferBytesLimit) {
      this._dropped++;
      return;
    }
    // Keep the newest: for live media a late packet is worth less than a current one.
    while (
      this.queueHead < this.queue.length &&
      (this.queue.length - this.queueHead >= this.bufferLimit || this.queuedBytes + size > this.bufferBytesLimit)
    ) {
      this.shiftQueue();
      this._dropped++;
    }
    this.queue.push(pkt);
    this.queueSizes.push(size);
    this.queuedBytes += size;
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueSizes = this.queueSizes.slice(this.queueHead);
      this.queueHead = 0;
    }
    this.scheduleDelivery();
  }

  private scheduleDelivery(): void {
    if (this.deliveryTimer || this.paused || this.queueHead === this.queue.length) return;
    this.deliveryTimer = setImmediate(() => this.deliver());
  }

  private deliver(): void {
    this.deliveryTimer = undefined;
    const until = performance.now() + DELIVERY_SLICE_MS;
    while (!this.paused && this.queueHead < this.queue.length && this._state !== 'closed') {
      this.emit('packet', this.shiftQueue());
      if (performance.now() >= until) break;
    }
    if (this.queueHead === this.queue.length) {
      this.queue = [];
      this.queueSizes = [];
      this.queueHead = 0;
    }
    this.scheduleDelivery();
  }

  /** Takes the oldest queued packet out (the caller knows there is one). */
  private shiftQueue(): Packet {
    const i = this.queueHead++;
    const pkt = this.queue[i];
    this.queue[i] = undefined as unknown as Packet;
    this.queuedBytes -= this.queueSizes[i];
    return pkt;
  }

  private clearFigures(): void {
    this._lastSignal = undefined;
    this._lastQueue = undefined;
    this._lastStatus = undefined;
  }

  private clearQueue(): void {
    if (this.deliveryTimer) clearImmediate(this.deliveryTimer);
    this.deliveryTimer = undefined;
    this.queue = [];
    this.queueSizes = [];
    this.queueHead = 0;
    this.queuedBytes = 0;
  }
}
