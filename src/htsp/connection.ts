import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { decodeBody, encodeFrame, FieldType, HtsmsgError, type HtsmsgMap, type HtsmsgValue } from './codec';
import { FrameQueue, DEFAULT_MAX_FRAME_BYTES } from './framing';
import { HtspError } from './errors';
import type { AccessRights, HtspMethodName, HtspReply, HtspRequest, ServerInfo } from './messages';

export interface ConnectionOptions {
  host: string;
  port: number;
  /** No username: anonymous, the server grants rights by IP address. */
  username?: string;
  password?: string;
  clientName?: string;
  clientVersion?: string;
  /** Protocol version asked for in `hello`; the agreed one is min(this, server's). */
  htspVersion?: number;
  /** TCP connect + hello + authenticate must all finish within this. */
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** 0 = off. */
  pingIntervalMs?: number;
  /** How long a liveness ping may stay unanswered; defaults to min(requestTimeoutMs, pingIntervalMs). */
  pingTimeoutMs?: number;
  maxFrameBytes?: number;
  /**
   * Don't authenticate after `hello`; send credentials only when a request is answered with
   * `noaccess` (the request is then repeated once with them). Default false: authenticate up front.
   */
  authOnDemand?: boolean;
}

export interface CallOptions {
  /** Overrides `requestTimeoutMs`; 0 = wait for ever. */
  timeoutMs?: number;
}

/** Hooks the session uses to show its state; not needed for plain use. */
export interface ConnectHooks {
  onPhase?(phase: 'connecting' | 'authenticating'): void;
  /** Aborting closes the half-open connection; `connect` then rejects with 'disconnected'. */
  signal?: AbortSignal;
}

/**
 * Hands an exception thrown by an event listener to whoever watches for it. One shared session
 * serves every node of a flow: a bug in one node's handler must neither take the process down
 * (the handlers run from setImmediate/socket callbacks, where nothing would catch it) nor close
 * the connection everybody else depends on.
 */
export function reportListenerError(source: EventEmitter, err: unknown, event: string): void {
  if (event !== 'listenerError' && source.listenerCount('listenerError') > 0) {
    try {
      source.emit('listenerError', err, event);
      return;
    } catch (again) {
      err = again;
    }
  }
  // A packet listener that always throws would otherwise print a warning per packet.
  let last = lastWarnings.get(source);
  if (!last) lastWarnings.set(source, (last = new Map()));
  const now = Date.now();
  const prev = last.get(event);
  if (prev && now - prev.at < WARN_INTERVAL_MS) {
    prev.suppressed++;
    return;
  }
  last.set(event, { at: now, suppressed: 0 });
  const more = prev?.suppressed ? ` (${prev.suppressed} more since the last warning)` : '';
  const e = err instanceof Error ? err : new Error(String(err));
  process.emitWarning(`a '${event}' listener threw: ${e.message}${more}`, { type: 'HtspListenerError', detail: e.stack });
}

const WARN_INTERVAL_MS = 10_000;
const lastWarnings = new WeakMap<EventEmitter, Map<string, { at: number; suppressed: number }>>();

/**
 * An EventEmitter whose listeners cannot break the emitter: each listener runs on its own, and
 * what it throws goes to `reportListenerError` instead of up into protocol code (where it would
 * abort a half-applied update, skip the other listeners, or escape as an uncaught exception).
 * Event 'listenerError' (err, event) is emitted for it when someone listens; otherwise a
 * process warning. An 'error' nobody listens to still throws, as with any EventEmitter.
 */
export class ContainedEmitter extends EventEmitter {
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'listenerError' || this.listenerCount(event) === 0) return super.emit(event, ...args);
    // rawListeners: a once() wrapper removes itself when called, as it does under super.emit.
    for (const listener of this.rawListeners(event) as ((...a: unknown[]) => unknown)[]) {
      try {
        listener.apply(this, args);
      } catch (err) {
        reportListenerError(this, err, String(event));
      }
    }
    return true;
  }
}

/**
 * Fields only the connection itself may set. Tvheadend takes any request carrying `username`
 * or `digest` as an authentication attempt, which would change (or lose) the rights of the
 * shared connection; `seq` pairs replies with requests.
 */
const RESERVED_FIELDS: readonly string[] = ['username', 'digest', 'seq'];

function withoutReserved(fields: HtsmsgMap): HtsmsgMap {
  if (!RESERVED_FIELDS.some((k) => k in fields)) return fields;
  const out: HtsmsgMap = { ...fields };
  for (const k of RESERVED_FIELDS) delete out[k];
  return out;
}

export const DEFAULT_HTSP_VERSION = 44;
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 15_000;
export const DEFAULT_PING_INTERVAL_MS = 30_000;
/** Tvheadend closes the socket without a word on requests above 1 MiB (protocol reference G7). */
export const MAX_REQUEST_BYTES = 1024 * 1024;

/** Methods whose reply says nothing about credentials, so a `noaccess` there must not trigger a resend. */
const NO_AUTH_RETRY = new Set(['hello', 'authenticate']);

/**
 * Time slice for handling received frames before yielding to the event loop. Large initial syncs
 * arrive as hundreds of thousands of frames; handling them in one go would starve timers and I/O.
 * Short, because a scavenge (5–10 ms during a sync) or the OS running another thread comes on
 * top of whatever slice is under way; more turns of the loop cost little next to that.
 */
const SLICE_MS = 2;
/**
 * What one turn of the event loop may cost while a burst is drained. Everything the loop did
 * between two slices (socket reads, and above all the scavenges and GC finalisations V8 runs as
 * tasks there) delays timers in the same turn as the slice after it, so that slice gets only what
 * is left of this budget: a 10 ms scavenge is followed by a short slice, not by a full one.
 */
const TURN_BUDGET_MS = 4;
/** A slice never gets less than this, so that the burst still moves on a busy loop. */
const MIN_SLICE_MS = 0.5;
/** Frames waiting to be handled before reading from the socket is paused (and below which it resumes). */
const INBOX_HIGH = 20_000;
const INBOX_LOW = 2_000;

interface Pending {
  seq: number;
  method: string;
  fields: HtsmsgMap;
  timeoutMs: number;
  timer: NodeJS.Timeout | undefined;
  authRetry: boolean;
  resolve(reply: HtsmsgMap): void;
  reject(err: HtspError): void;
}

interface RequestOptions {
  timeoutMs?: number;
  /** Send username + digest with the first attempt. */
  withCredentials?: boolean;
  /** Return `noaccess`/`error` replies instead of rejecting (the handshake interprets them itself). */
  rawReply?: boolean;
}

export type PacketHandler = (subscriptionId: number, body: Buffer) => void;

export declare interface HtspConnection {
  on(event: 'message', listener: (msg: HtsmsgMap & { method: string }) => void): this;
  on(event: 'close', listener: (err: HtspError | undefined) => void): this;
  /** A listener threw; it was contained (see ContainedEmitter). */
  on(event: 'listenerError', listener: (err: unknown, event: string) => void): this;
  once(event: 'message', listener: (msg: HtsmsgMap & { method: string }) => void): this;
  once(event: 'close', listener: (err: HtspError | undefined) => void): this;
  off(event: 'message', listener: (msg: HtsmsgMap & { method: string }) => void): this;
  off(event: 'close', listener: (err: HtspError | undefined) => void): this;
  off(event: 'listenerError', listener: (err: unknown, event: string) => void): this;
  emit(event: 'message', msg: HtsmsgMap & { method: string }): boolean;
  emit(event: 'close', err: HtspError | undefined): boolean;
}

/**
 * One HTSP connection: handshake, request/reply matching, timeouts, liveness checks.
 * Never emits 'error'; every failure ends in exactly one 'close' event carrying the reason.
 */
export class HtspConnection extends ContainedEmitter {
  private readonly opts: Required<Omit<ConnectionOptions, 'username' | 'password' | 'clientVersion'>> &
    Pick<ConnectionOptions, 'username' | 'password' | 'clientVersion'>;
  private readonly socket: net.Socket;
  private readonly inbox: FrameQueue;
  private readonly pending = new Map<number, Pending>();
  private nextSeq = 1;
  private draining = false;
  private drainTimer: NodeJS.Immediate | undefined;
  /** performance.now() when the last slice ended, while more frames were waiting (else 0). */
  private sliceEnd = 0;
  private paused = false;
  private pingTimer: NodeJS.Timeout | undefined;
  private bytesIn = 0;
  private challenge: Buffer | undefined;
  private _closed = false;
  private _serverInfo: ServerInfo | undefined;
  private _rights: AccessRights | undefined;
  /** Whether the connection's current rights include HTSP streaming (decides how to ping). */
  private streamingRight = true;
  private packetHandler: PacketHandler | undefined;
  private closeReason: HtspError | undefined;
  private readonly socketClosed: Promise<void>;

  private constructor(opts: ConnectionOptions) {
    super();
    this.opts = {
      host: opts.host,
      port: opts.port,
      username: opts.username,
      password: opts.password,
      clientName: opts.clientName ?? 'node-red-contrib-tvheadend',
      clientVersion: opts.clientVersion,
      htspVersion: opts.htspVersion ?? DEFAULT_HTSP_VERSION,
      connectTimeoutMs: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      requestTimeoutMs: opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      pingIntervalMs: opts.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS,
      pingTimeoutMs: opts.pingTimeoutMs ?? 0,
      maxFrameBytes: opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      authOnDemand: opts.authOnDemand ?? false,
    };
    if (!this.opts.pingTimeoutMs) {
      this.opts.pingTimeoutMs = Math.min(this.opts.requestTimeoutMs, this.opts.pingIntervalMs || Infinity);
    }
    this.inbox = new FrameQueue({ maxFrameBytes: this.opts.maxFrameBytes });
    this.socket = new net.Socket();
    this.socket.setNoDelay(true);
    // The server sends nothing while idle, so a dead peer is only noticed by keepalive or our ping.
    this.socket.setKeepAlive(true, 15_000);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err: Error) => {
      this.fail(new HtspError('disconnected', `connection to ${this.where} failed: ${err.message}`, { cause: err }));
    });
    this.socketClosed = new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve());
    });
    this.socket.on('close', () => {
      this.fail(new HtspError('disconnected', `the server at ${this.where} closed the connection`));
    });
  }

  /** TCP connect, `hello`, and (with a username and unless `authOnDemand`) `authenticate`. */
  static async connect(opts: ConnectionOptions, hooks: ConnectHooks = {}): Promise<HtspConnection> {
    validateOptions(opts);
    const conn = new HtspConnection(opts);
    await conn.handshake(hooks);
    return conn;
  }

  get closed(): boolean {
    return this._closed;
  }

  get serverInfo(): ServerInfo {
    if (!this._serverInfo) throw new HtspError('disconnected', 'the handshake has not finished');
    return this._serverInfo;
  }

  get rights(): AccessRights | undefined {
    return this._rights;
  }

  /** The agreed protocol version. */
  get htspVersion(): number {
    return this._serverInfo?.htspVersion ?? 0;
  }

  /** Resolves once the socket is fully closed (after `close()` or a failure). */
  whenClosed(): Promise<void> {
    return this.socketClosed;
  }

  /** Why the connection closed (undefined while open or after a plain `close()`). */
  get error(): HtspError | undefined {
    return this.closeReason;
  }

  private get where(): string {
    return `${this.opts.host}:${this.opts.port}`;
  }

  // ------------------------------------------------------------------ handshake

  private async handshake(hooks: ConnectHooks): Promise<void> {
    const deadline = Date.now() + this.opts.connectTimeoutMs;
    const timer = setTimeout(() => {
      this.fail(new HtspError('timeout', `could not connect to ${this.where} within ${this.opts.connectTimeoutMs} ms`));
    }, this.opts.connectTimeoutMs);
    const remaining = (): number => Math.max(1, deadline - Date.now());
    const onAbort = (): void => this.fail(new HtspError('disconnected', `connecting to ${this.where} was aborted`));
    if (hooks.signal?.aborted) onAbort();
    hooks.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (this._closed) throw this.closeReason ?? closedError('connect');
      hooks.onPhase?.('connecting');
      await new Promise<void>((resolve, reject) => {
        const onClose = (err: HtspError | undefined): void => reject(err ?? closedError('connect'));
        this.once('close', onClose);
        this.socket.connect({ host: this.opts.host, port: this.opts.port }, () => {
          this.off('close', onClose);
          resolve();
        });
      });

      const hello = await this.request(
        'hello',
        {
          htspversion: this.opts.htspVersion,
          clientname: this.opts.clientName,
          ...(this.opts.clientVersion !== undefined ? { clientversion: this.opts.clientVersion } : {}),
        },
        { timeoutMs: remaining() },
      );
      this.applyHello(hello);

      hooks.onPhase?.('authenticating');
      const useCredentials = this.opts.username !== undefined && !this.opts.authOnDemand;
      const auth = await this.request('authenticate', {}, {
        timeoutMs: remaining(),
        withCredentials: useCredentials,
        rawReply: true,
      });
      await this.applyAuthenticate(auth, useCredentials, remaining);
    } catch (err) {
      // When the connection was torn down (timeout, socket error) the pending request only says
      // 'disconnected'; the reason it was torn down is the useful error.
      const e = this.closeReason ?? toHtspError(err, 'connect');
      this.fail(e);
      throw e;
    } finally {
      clearTimeout(timer);
      hooks.signal?.removeEventListener('abort', onAbort);
    }
    this.schedulePing();
  }

  private applyHello(reply: HtsmsgMap): void {
    const serverVersion = num(reply.htspversion) ?? 0;
    const challenge = reply.challenge;
    if (!Buffer.isBuffer(challenge)) {
      throw new HtspError('protocol', 'the hello reply has no challenge', { method: 'hello', reply: redact(reply) });
    }
    this.challenge = Buffer.from(challenge);
    const caps = Array.isArray(reply.servercapability)
      ? reply.servercapability.filter((c): c is string => typeof c === 'string')
      : [];
    this._serverInfo = {
      htspVersion: Math.min(this.opts.htspVersion, serverVersion || this.opts.htspVersion),
      serverHtspVersion: serverVersion,
      serverName: str(reply.servername) ?? '',
      serverVersion: str(reply.serverversion) ?? '',
      capabilities: caps,
      webroot: str(reply.webroot) ?? '',
      apiVersion: num(reply.api_version),
      language: str(reply.language),
    };
  }

  private async applyAuthenticate(reply: HtsmsgMap, withCredentials: boolean, remaining: () => number): Promise<void> {
    const user = this.opts.username;
    if (reply.noaccess) {
      if (reply.connlimit) {
        throw new HtspError('noaccess', `the server refused the login of "${user ?? ''}": connection limit reached for this user`, {
          method: 'authenticate',
        });
      }
      this.streamingRight = false;
      if (!withCredentials) {
        // Anonymous without streaming: fine, the IP rules may still allow DVR methods.
        this._rights = undefined;
        return;
      }
      // `authenticate` says noaccess for a correct login that only has the DVR right (G16).
      // A DVR method tells the two cases apart; it is only paid for on this rare path.
      const probe = await this.request('getDvrConfigs', {}, { timeoutMs: remaining(), withCredentials: true, rawReply: true });
      if (probe.noaccess) {
        throw new HtspError('auth-failed', `the server refused the credentials of user "${user ?? ''}" (wrong user name or password, or no HTSP rights)`, {
          method: 'authenticate',
        });
      }
      this._rights = { ...emptyRights(), dvr: true };
      return;
    }
    if (typeof reply.error === 'string') {
      throw new HtspError('server', reply.error, { method: 'authenticate', reply: redact(reply) });
    }
    this.streamingRight = true;
    if (this.htspVersion >= 26 && reply.streaming !== undefined) {
      this._rights = rightsOf(reply);
      if (withCredentials && !this._rights.streaming && !this._rights.dvr) {
        throw new HtspError('auth-failed', `user "${user ?? ''}" has neither the HTSP streaming nor the HTSP DVR right`, {
          method: 'authenticate',
        });
      }
    } else {
      this._rights = undefined;
    }
  }

  // ------------------------------------------------------------------ requests

  call<M extends HtspMethodName>(method: M, fields?: HtspRequest<M>, opts: CallOptions = {}): Promise<HtspReply<M>> {
    return this.callRaw(method, fields as HtsmsgMap | undefined, opts) as Promise<HtspReply<M>>;
  }

  /** Any method, known or not. Fields are checked for encodability first (code 'bad-input'). */
  callRaw(method: string, fields: HtsmsgMap = {}, opts: CallOptions = {}): Promise<HtsmsgMap> {
    if (typeof method !== 'string' || method.length === 0) {
      return Promise.reject(new HtspError('bad-input', 'the method name must be a non-empty string'));
    }
    if (fields === null || typeof fields !== 'object' || Array.isArray(fields) || Buffer.isBuffer(fields)) {
      return Promise.reject(new HtspError('bad-input', `the fields of ${method} must be an object`, { method }));
    }
    return this.request(method, fields, { timeoutMs: opts.timeoutMs });
  }

  /** Fire and forget: no `seq`, no reply expected. Throws 'bad-input' or 'disconnected'. */
  send(msg: HtsmsgMap): void {
    if (this._closed) throw new HtspError('disconnected', 'the connection is closed');
    this.socket.write(encodeRequest(withoutReserved(msg), typeof msg.method === 'string' ? msg.method : undefined));
  }

  private request(method: string, fields: HtsmsgMap, opts: RequestOptions = {}): Promise<HtsmsgMap> {
    if (this._closed) {
      return Promise.reject(new HtspError('disconnected', `cannot send ${method}: the connection is closed`, { method }));
    }
    return new Promise<HtsmsgMap>((resolve, reject) => {
      const p: Pending = {
        seq: 0,
        method,
        fields,
        timeoutMs: opts.timeoutMs ?? this.opts.requestTimeoutMs,
        timer: undefined,
        authRetry: false,
        resolve: opts.rawReply ? resolve : (reply) => this.settle(p, reply, resolve, reject),
        reject,
      };
      try {
        this.transmit(p, opts.withCredentials === true);
      } catch (err) {
        reject(toHtspError(err, method));
      }
    });
  }

  /** Interprets a reply for normal calls: error → 'server', noaccess → one resend with credentials. */
  private settle(p: Pending, reply: HtsmsgMap, resolve: (r: HtsmsgMap) => void, reject: (e: HtspError) => void): void {
    if (reply.noaccess) {
      if (!reply.connlimit && !p.authRetry && this.opts.username !== undefined && !NO_AUTH_RETRY.has(p.method)) {
        p.authRetry = true;
        try {
          this.transmit(p, true);
        } catch (err) {
          reject(toHtspError(err, p.method));
        }
        return;
      }
      const why = reply.connlimit
        ? 'the connection limit for this user was reached'
        : this.opts.username === undefined
          ? 'anonymous access lacks the right for it'
          : `user "${this.opts.username}" lacks the right for it`;
      reject(new HtspError('noaccess', `the server refused ${p.method}: ${why}`, { method: p.method, reply }));
      return;
    }
    if (typeof reply.error === 'string') {
      reject(new HtspError('server', reply.error, { method: p.method, reply }));
      return;
    }
    resolve(reply);
  }

  private transmit(p: Pending, withCredentials: boolean): void {
    const seq = this.nextSeq;
    this.nextSeq = this.nextSeq >= 0xffff_fffe ? 1 : this.nextSeq + 1;
    const msg: HtsmsgMap = { ...withoutReserved(p.fields), method: p.method, seq };
    if (withCredentials && this.opts.username !== undefined) {
      msg.username = this.opts.username;
      msg.digest = this.digest();
    }
    // Encode before registering, so that bad input never leaves a pending entry behind.
    const frame = encodeRequest(msg, p.method);
    if (p.timer) clearTimeout(p.timer);
    this.pending.delete(p.seq);
    p.seq = seq;
    p.timer =
      p.timeoutMs > 0
        ? setTimeout(() => {
            if (this.pending.get(seq) !== p) return;
            this.pending.delete(seq);
            p.reject(new HtspError('timeout', `no reply to ${p.method} within ${p.timeoutMs} ms`, { method: p.method }));
          }, p.timeoutMs)
        : undefined;
    this.pending.set(seq, p);
    this.socket.write(frame);
  }

  private digest(): Buffer {
    if (!this.challenge) throw new HtspError('protocol', 'no challenge from the server yet');
    return createHash('sha1')
      .update(Buffer.from(this.opts.password ?? '', 'utf8'))
      .update(this.challenge)
      .digest();
  }

  // ------------------------------------------------------------------ receiving

  /** Lets the session take `muxpkt` frames undecoded (decoding is left to subscriptions that want packets). */
  setPacketHandler(handler: PacketHandler | undefined): void {
    this.packetHandler = handler;
  }

  private onData(chunk: Buffer): void {
    if (this._closed) return;
    this.bytesIn += chunk.length;
    try {
      this.inbox.push(chunk);
    } catch (err) {
      this.fail(protocolError(err));
      return;
    }
    if (!this.paused && this.inbox.length > INBOX_HIGH) {
      this.paused = true;
      this.socket.pause();
    }
    // Drain on the next turn, not inside this read callback: libuv can deliver many reads in
    // one go, and a slice per read would add up to one long block of the event loop.
    if (!this.draining) {
      this.draining = true;
      this.drainTimer = setImmediate(() => this.drain());
    }
  }

  private drain(): void {
    this.drainTimer = undefined;
    this.draining = true;
    const start = performance.now();
    const others = this.sliceEnd > 0 ? start - this.sliceEnd : 0;
    const until = start + Math.max(MIN_SLICE_MS, Math.min(SLICE_MS, TURN_BUDGET_MS - others));
    this.sliceEnd = 0;
    try {
      let body: Buffer | undefined;
      while (!this._closed && (body = this.inbox.shift()) !== undefined) {
        try {
          this.handleBody(body);
        } catch (err) {
          // A consumer's fault, not the server's: the connection and the rest of the burst go on.
          reportListenerError(this, err, 'message');
        }
        if (performance.now() >= until) break;
      }
    } finally {
      if (this._closed) {
        this.inbox.clear();
        this.draining = false;
      } else if (this.inbox.length > 0) {
        if (this.paused && this.inbox.length < INBOX_LOW) {
          this.paused = false;
          this.socket.resume();
        }
        // Stay "draining" so new data only appends: order must be kept across slices.
        this.drainTimer = setImmediate(() => this.drain());
        this.sliceEnd = performance.now();
      } else {
        this.draining = false;
        if (this.paused) {
          this.paused = false;
          this.socket.resume();
        }
      }
    }
  }

  private handleBody(body: Buffer): void {
    if (this.packetHandler) {
      const sid = peekMuxpkt(body);
      if (sid !== undefined) {
        this.packetHandler(sid, body);
        return;
      }
    }
    let msg: HtsmsgMap;
    try {
      msg = decodeBody(body);
    } catch (err) {
      this.fail(protocolError(err));
      return;
    }
    const method = msg.method;
    if (typeof method === 'string') {
      this.emit('message', msg as HtsmsgMap & { method: string });
      return;
    }
    const seq = msg.seq;
    if (typeof seq !== 'number') return; // neither reply nor async message: nothing to do with it
    const p = this.pending.get(seq);
    if (!p) return; // a reply that arrived after its timeout
    this.pending.delete(seq);
    if (p.timer) clearTimeout(p.timer);
    delete msg.seq;
    p.resolve(msg);
  }

  // ------------------------------------------------------------------ liveness

  private schedulePing(): void {
    if (this._closed || this.opts.pingIntervalMs <= 0) return;
    this.pingTimer = setTimeout(() => this.ping(), this.opts.pingIntervalMs);
  }

  private ping(): void {
    this.pingTimer = undefined;
    if (this._closed) return;
    const bytesBefore = this.bytesIn;
    // Without the streaming right getSysTime costs a 250 ms noaccess; an empty authenticate is free.
    const method = this.streamingRight ? 'getSysTime' : 'authenticate';
    this.request(method, {}, { timeoutMs: this.opts.pingTimeoutMs, rawReply: true }).then(
      () => this.schedulePing(),
      (err: HtspError) => {
        if (this._closed) return;
        if (err.code === 'timeout' && this.bytesIn === bytesBefore) {
          this.fail(
            new HtspError('timeout', `the server did not answer the liveness check within ${this.opts.pingTimeoutMs} ms`, {
              method,
            }),
          );
          return;
        }
        // Data kept arriving (the reply is queued behind a big burst): the peer is alive.
        this.schedulePing();
      },
    );
  }

  // ------------------------------------------------------------------ closing

  /** Closes the socket; pending requests reject with 'disconnected'. */
  close(): void {
    this.shutdown(undefined);
  }

  private fail(err: HtspError): void {
    this.shutdown(err);
  }

  private shutdown(reason: HtspError | undefined): void {
    if (this._closed) return;
    this._closed = true;
    this.closeReason = reason;
    if (this.pingTimer) clearTimeout(this.pingTimer);
    this.pingTimer = undefined;
    if (this.drainTimer) clearImmediate(this.drainTimer);
    this.drainTimer = undefined;
    this.socket.destroy();
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) {
      if (p.timer) clearTimeout(p.timer);
      const why = reason ? `: ${reason.message}` : '';
      p.reject(new HtspError('disconnected', `${p.method} failed, the connection closed${why}`, { method: p.method, cause: reason }));
    }
    this.emit('close', reason);
  }

  // ------------------------------------------------------------------ typed methods (one per RPC method)

  hello(req: HtspRequest<'hello'>, opts?: CallOptions): Promise<HtspReply<'hello'>> {
    return this.call('hello', req, opts);
  }
  /** Re-authenticates with the configured credentials (if any) and returns the rights reply. */
  async authenticate(opts?: CallOptions): Promise<HtspReply<'authenticate'>> {
    const reply = await this.request('authenticate', {}, { timeoutMs: opts?.timeoutMs, withCredentials: true });
    if (this.htspVersion >= 26 && reply.streaming !== undefined) this._rights = rightsOf(reply);
    return reply as HtspReply<'authenticate'>;
  }
  api(req: HtspRequest<'api'>, opts?: CallOptions): Promise<HtspReply<'api'>> {
    return this.call('api', req, opts);
  }
  getDiskSpace(opts?: CallOptions): Promise<HtspReply<'getDiskSpace'>> {
    return this.call('getDiskSpace', {} as HtspRequest<'getDiskSpace'>, opts);
  }
  getSysTime(opts?: CallOptions): Promise<HtspReply<'getSysTime'>> {
    return this.call('getSysTime', {} as HtspRequest<'getSysTime'>, opts);
  }
  enableAsyncMetadata(req: HtspRequest<'enableAsyncMetadata'>, opts?: CallOptions): Promise<HtspReply<'enableAsyncMetadata'>> {
    return this.call('enableAsyncMetadata', req, opts);
  }
  getChannel(req: HtspRequest<'getChannel'>, opts?: CallOptions): Promise<HtspReply<'getChannel'>> {
    return this.call('getChannel', req, opts);
  }
  getEvent(req: HtspRequest<'getEvent'>, opts?: CallOptions): Promise<HtspReply<'getEvent'>> {
    return this.call('getEvent', req, opts);
  }
  getEvents(req: HtspRequest<'getEvents'>, opts?: CallOptions): Promise<HtspReply<'getEvents'>> {
    return this.call('getEvents', req, opts);
  }
  epgQuery(req: HtspRequest<'epgQuery'>, opts?: CallOptions): Promise<HtspReply<'epgQuery'>> {
    return this.call('epgQuery', req, opts);
  }
  getEpgObject(req: HtspRequest<'getEpgObject'>, opts?: CallOptions): Promise<HtspReply<'getEpgObject'>> {
    return this.call('getEpgObject', req, opts);
  }
  getDvrConfigs(opts?: CallOptions): Promise<HtspReply<'getDvrConfigs'>> {
    return this.call('getDvrConfigs', {} as HtspRequest<'getDvrConfigs'>, opts);
  }
  getProfiles(opts?: CallOptions): Promise<HtspReply<'getProfiles'>> {
    return this.call('getProfiles', {} as HtspRequest<'getProfiles'>, opts);
  }
  addDvrEntry(req: HtspRequest<'addDvrEntry'>, opts?: CallOptions): Promise<HtspReply<'addDvrEntry'>> {
    return this.call('addDvrEntry', req, opts);
  }
  updateDvrEntry(req: HtspRequest<'updateDvrEntry'>, opts?: CallOptions): Promise<HtspReply<'updateDvrEntry'>> {
    return this.call('updateDvrEntry', req, opts);
  }
  stopDvrEntry(req: HtspRequest<'stopDvrEntry'>, opts?: CallOptions): Promise<HtspReply<'stopDvrEntry'>> {
    return this.call('stopDvrEntry', req, opts);
  }
  cancelDvrEntry(req: HtspRequest<'cancelDvrEntry'>, opts?: CallOptions): Promise<HtspReply<'cancelDvrEntry'>> {
    return this.call('cancelDvrEntry', req, opts);
  }
  deleteDvrEntry(req: HtspRequest<'deleteDvrEntry'>, opts?: CallOptions): Promise<HtspReply<'deleteDvrEntry'>> {
    return this.call('deleteDvrEntry', req, opts);
  }
  addAutorecEntry(req: HtspRequest<'addAutorecEntry'>, opts?: CallOptions): Promise<HtspReply<'addAutorecEntry'>> {
    return this.call('addAutorecEntry', req, opts);
  }
  updateAutorecEntry(req: HtspRequest<'updateAutorecEntry'>, opts?: CallOptions): Promise<HtspReply<'updateAutorecEntry'>> {
    return this.call('updateAutorecEntry', req, opts);
  }
  deleteAutorecEntry(req: HtspRequest<'deleteAutorecEntry'>, opts?: CallOptions): Promise<HtspReply<'deleteAutorecEntry'>> {
    return this.call('deleteAutorecEntry', req, opts);
  }
  addTimerecEntry(req: HtspRequest<'addTimerecEntry'>, opts?: CallOptions): Promise<HtspReply<'addTimerecEntry'>> {
    return this.call('addTimerecEntry', req, opts);
  }
  updateTimerecEntry(req: HtspRequest<'updateTimerecEntry'>, opts?: CallOptions): Promise<HtspReply<'updateTimerecEntry'>> {
    return this.call('updateTimerecEntry', req, opts);
  }
  deleteTimerecEntry(req: HtspRequest<'deleteTimerecEntry'>, opts?: CallOptions): Promise<HtspReply<'deleteTimerecEntry'>> {
    return this.call('deleteTimerecEntry', req, opts);
  }
  getDvrCutpoints(req: HtspRequest<'getDvrCutpoints'>, opts?: CallOptions): Promise<HtspReply<'getDvrCutpoints'>> {
    return this.call('getDvrCutpoints', req, opts);
  }
  getTicket(req: HtspRequest<'getTicket'>, opts?: CallOptions): Promise<HtspReply<'getTicket'>> {
    return this.call('getTicket', req, opts);
  }
  subscribe(req: HtspRequest<'subscribe'>, opts?: CallOptions): Promise<HtspReply<'subscribe'>> {
    return this.call('subscribe', req, opts);
  }
  unsubscribe(req: HtspRequest<'unsubscribe'>, opts?: CallOptions): Promise<HtspReply<'unsubscribe'>> {
    return this.call('unsubscribe', req, opts);
  }
  subscriptionChangeWeight(
    req: HtspRequest<'subscriptionChangeWeight'>,
    opts?: CallOptions,
  ): Promise<HtspReply<'subscriptionChangeWeight'>> {
    return this.call('subscriptionChangeWeight', req, opts);
  }
  subscriptionSkip(req: HtspRequest<'subscriptionSkip'>, opts?: CallOptions): Promise<HtspReply<'subscriptionSkip'>> {
    return this.call('subscriptionSkip', req, opts);
  }
  subscriptionSeek(req: HtspRequest<'subscriptionSeek'>, opts?: CallOptions): Promise<HtspReply<'subscriptionSeek'>> {
    return this.call('subscriptionSeek', req, opts);
  }
  subscriptionSpeed(req: HtspRequest<'subscriptionSpeed'>, opts?: CallOptions): Promise<HtspReply<'subscriptionSpeed'>> {
    return this.call('subscriptionSpeed', req, opts);
  }
  subscriptionLive(req: HtspRequest<'subscriptionLive'>, opts?: CallOptions): Promise<HtspReply<'subscriptionLive'>> {
    return this.call('subscriptionLive', req, opts);
  }
  subscriptionFilterStream(
    req: HtspRequest<'subscriptionFilterStream'>,
    opts?: CallOptions,
  ): Promise<HtspReply<'subscriptionFilterStream'>> {
    return this.call('subscriptionFilterStream', req, opts);
  }
  fileOpen(req: HtspRequest<'fileOpen'>, opts?: CallOptions): Promise<HtspReply<'fileOpen'>> {
    return this.call('fileOpen', req, opts);
  }
  fileRead(req: HtspRequest<'fileRead'>, opts?: CallOptions): Promise<HtspReply<'fileRead'>> {
    return this.call('fileRead', req, opts);
  }
  fileClose(req: HtspRequest<'fileClose'>, opts?: CallOptions): Promise<HtspReply<'fileClose'>> {
    return this.call('fileClose', req, opts);
  }
  fileStat(req: HtspRequest<'fileStat'>, opts?: CallOptions): Promise<HtspReply<'fileStat'>> {
    return this.call('fileStat', req, opts);
  }
  fileSeek(req: HtspRequest<'fileSeek'>, opts?: CallOptions): Promise<HtspReply<'fileSeek'>> {
    return this.call('fileSeek', req, opts);
  }
}

// Compile-time check that the typed methods above cover the method table exactly.
type TypedMethodNames = {
  [K in keyof HtspConnection]: K extends HtspMethodName ? K : never;
}[keyof HtspConnection];
type MissingTypedMethods = Exclude<HtspMethodName, TypedMethodNames>;
const _allTyped: [MissingTypedMethods] extends [never] ? true : MissingTypedMethods = true;
void _allTyped;

// ------------------------------------------------------------------ helpers

function validateOptions(opts: ConnectionOptions): void {
  if (!opts || typeof opts.host !== 'string' || opts.host.length === 0) {
    throw new HtspError('bad-input', 'host must be a non-empty string');
  }
  if (!Number.isInteger(opts.port) || opts.port <= 0 || opts.port > 65535) {
    throw new HtspError('bad-input', `port must be an integer 1–65535, got ${String(opts.port)}`);
  }
  if (opts.htspVersion !== undefined && (!Number.isInteger(opts.htspVersion) || opts.htspVersion < 1)) {
    throw new HtspError('bad-input', 'htspVersion must be a positive integer');
  }
}

function encodeRequest(msg: HtsmsgMap, method: string | undefined): Buffer {
  let frame: Buffer;
  try {
    frame = encodeFrame(msg);
  } catch (err) {
    if (err instanceof HtsmsgError) {
      throw new HtspError('bad-input', `cannot encode ${method ?? 'the message'}: ${err.message}`, { method, cause: err });
    }
    throw new HtspError('bad-input', `cannot encode ${method ?? 'the message'}: ${(err as Error).message}`, { method });
  }
  if (frame.length - 4 > MAX_REQUEST_BYTES) {
    throw new HtspError('bad-input', `${method ?? 'the message'} is ${frame.length - 4} bytes; the server refuses requests over 1 MiB`, {
      method,
    });
  }
  return frame;
}

function protocolError(err: unknown): HtspError {
  if (err instanceof HtsmsgError) {
    const what = err.code === 'frame-too-large' ? 'an oversized frame' : 'a malformed frame';
    return new HtspError('protocol', `the server sent ${what}: ${err.message}`, { cause: err });
  }
  return new HtspError('protocol', `could not read the server's data: ${(err as Error).message}`, { cause: err });
}

function toHtspError(err: unknown, method: string): HtspError {
  if (err instanceof HtspError) return err;
  return new HtspError('protocol', `${method}: ${(err as Error)?.message ?? String(err)}`, { method, cause: err });
}

function closedError(phase: string): HtspError {
  return new HtspError('disconnected', `the connection closed during ${phase}`);
}

/** A hello reply must not travel in an error: it holds the challenge. */
function redact(reply: HtsmsgMap): HtsmsgMap {
  const { challenge: _c, ...rest } = reply;
  return rest;
}

function num(v: HtsmsgValue | undefined): number | undefined {
  return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined;
}

function str(v: HtsmsgValue | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function flag(v: HtsmsgValue | undefined): boolean {
  return v === true || (typeof v === 'number' && v !== 0) || (typeof v === 'bigint' && v !== 0n);
}

function emptyRights(): AccessRights {
  return {
    admin: false,
    streaming: false,
    dvr: false,
    failedDvr: false,
    anonymous: false,
    limitAll: 0,
    limitDvr: 0,
    limitStreaming: 0,
    uiLevel: 0,
    uiLanguage: '',
  };
}

function rightsOf(reply: HtsmsgMap): AccessRights {
  return {
    admin: flag(reply.admin),
    streaming: flag(reply.streaming),
    dvr: flag(reply.dvr),
    failedDvr: flag(reply.faileddvr),
    anonymous: flag(reply.anonymous),
    limitAll: num(reply.limitall) ?? 0,
    limitDvr: num(reply.limitdvr) ?? 0,
    limitStreaming: num(reply.limitstreaming) ?? 0,
    uiLevel: num(reply.uilevel) ?? 0,
    uiLanguage: str(reply.uilanguage) ?? '',
  };
}

const METHOD = Buffer.from('method');
const MUXPKT = Buffer.from('muxpkt');
const SUBSCRIPTION_ID = Buffer.from('subscriptionId');

function nameIs(buf: Buffer, start: number, length: number, name: Buffer): boolean {
  if (length !== name.length) return false;
  for (let i = 0; i < length; i++) if (buf[start + i] !== name[i]) return false;
  return true;
}

/**
 * The subscription id of a `muxpkt` frame, read from the root field headers without decoding
 * the frame; undefined for every other frame (or a muxpkt without a usable id).
 */
export function peekMuxpkt(body: Buffer): number | undefined {
  let isMux = false;
  let sid: number | undefined;
  let p = 0;
  const end = body.length;
  while (p + 6 <= end) {
    const type = body[p];
    const nameLength = body[p + 1];
    const dataLength = body.readUInt32BE(p + 2);
    const nameStart = p + 6;
    const dataStart = nameStart + nameLength;
    const next = dataStart + dataLength;
    if (next > end) return undefined;
    if (nameIs(body, nameStart, nameLength, METHOD)) {
      if (type !== FieldType.STR || !nameIs(body, dataStart, dataLength, MUXPKT)) return undefined;
      isMux = true;
      if (sid !== undefined) return sid;
    } else if (nameIs(body, nameStart, nameLength, SUBSCRIPTION_ID)) {
      if (type !== FieldType.S64 || dataLength > 6) return undefined;
      sid = dataLength === 0 ? 0 : body.readUIntLE(dataStart, dataLength);
      if (isMux) return sid;
    }
    p = next;
  }
  return isMux ? sid : undefined;
}
