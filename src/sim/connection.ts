/**
 * Server side of one HTSP connection: framing, the control queue with
 * backpressure, per-connection protocol state.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { encodeFrame, type EncodeOptions, type HtsmsgMap } from '../htsp/codec';
import { FrameDecoder } from '../htsp/framing';
import type { SimRights } from './data';
import type { SimSubscription, StreamSink } from './streaming';

/** Tvheadend refuses requests above 1 MiB by closing the socket. */
export const MAX_REQUEST_BYTES = 1024 * 1024;
/** Frames are coalesced into writes of about this size during big bursts. */
const BATCH_BYTES = 256 * 1024;

type QueueItem =
  | { kind: 'msg'; msg: HtsmsgMap }
  | { kind: 'frame'; buf: Buffer }
  | { kind: 'iter'; it: Iterator<HtsmsgMap> };

/** Hooks into the simulator, kept narrow so the connection can be reasoned about alone. */
export interface ConnectionHost {
  isStalled(): boolean;
  waitUnstalled(): Promise<void>;
  onRequest(conn: SimConnection, msg: HtsmsgMap): Promise<void>;
  onClose(conn: SimConnection): void;
}

export interface SimFileHandle {
  dvrId?: number;
  image?: number;
  size: number;
  mtime: number;
  offset: number;
}

export class SimConnection implements StreamSink {
  readonly challenge = randomBytes(32);
  readonly startedAt = Math.floor(Date.now() / 1000);
  readonly peer: string;
  readonly peerPort: number;
  readonly serverAddress: string;
  readonly serverPort: number;

  htspVersion = 0;
  clientName: string | undefined;
  clientVersion: string | undefined;
  username: string | undefined;
  /** The username was proven with a digest. */
  verified = false;
  rights: SimRights;
  language: string | undefined;

  async = false;
  epg = false;
  /** EPG events with a start up to this time have been sent (or will be, by the burst). */
  epgSentUntil = -Infinity;
  /** Window length in seconds; undefined = unlimited. */
  epgWindow: number | undefined;
  /** DVR ids this client has been told about, so visibility changes turn into add/delete. */
  readonly knownDvr = new Set<number>();

  readonly subscriptions = new Map<number, SimSubscription>();
  readonly files = new Map<number, SimFileHandle>();
  nextFileId = 1;

  closed = false;
  private readonly decoder = new FrameDecoder({ maxFrameBytes: MAX_REQUEST_BYTES });
  private readonly queue: QueueItem[] = [];
  private pumping = false;
  private chain: Promise<void> = Promise.resolve();
  private readonly sleeps = new Map<NodeJS.Timeout, () => void>();
  private readonly closeWaiters = new Set<() => void>();

  constructor(
    readonly id: number,
    readonly socket: Socket,
    private readonly host: ConnectionHost,
    anonymousRights: SimRights,
  ) {
    this.rights = { ...anonymousRights };
    this.peer = socket.remoteAddress ?? '';
    this.peerPort = socket.remotePort ?? 0;
    this.serverAddress = socket.localAddress ?? '';
    this.serverPort = socket.localPort ?? 0;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => {
      /* 'close' follows; a reset peer is normal for a server */
    });
    socket.on('close', () => this.onClosed());
  }

  get anonymize(): boolean {
    return this.rights.anonymize === true;
  }

  get pendingBytes(): number {
    return this.socket.writableLength;
  }

  /** Queue a reply or async message on the control queue. */
  send(msg: HtsmsgMap): void {
    if (this.closed) return;
    this.queue.push({ kind: 'msg', msg });
    void this.pump();
  }

  /** Queue a message that needs non-default encoding (e.g. BOOL inside `api` replies). */
  sendEncoded(msg: HtsmsgMap, opts: EncodeOptions): void {
    if (this.closed) return;
    this.queue.push({ kind: 'frame', buf: encodeFrame(msg, opts) });
    void this.pump();
  }

  /** Queue a lazily generated run of messages (the initial burst), encoded as the socket drains. */
  sendMany(it: Iterator<HtsmsgMap>): void {
    if (this.closed) return;
    this.queue.push({ kind: 'iter', it });
    void this.pump();
  }

  reply(seq: number | undefined, fields: HtsmsgMap): void {
    this.send(seq === undefined ? fields : { ...fields, seq });
  }

  sendStream(msg: HtsmsgMap | Buffer): boolean {
    if (this.closed || this.host.isStalled() || this.socket.destroyed) return false;
    this.socket.write(Buffer.isBuffer(msg) ? msg : encodeFrame(msg));
    return true;
  }

  /** Raw bytes, for fault injection. */
  writeRaw(buf: Buffer): void {
    if (!this.closed && !this.socket.destroyed) this.socket.write(buf);
  }

  /** A delay that ends early (resolving) when the connection goes away. */
  sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.sleeps.delete(t);
        resolve();
      }, ms);
      this.sleeps.set(t, resolve);
    });
  }

  destroy(): void {
    this.socket.destroy();
    this.onClosed();
  }

  whenClosed(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => this.closeWaiters.add(resolve));
  }

  private onData(chunk: Buffer): void {
    let msgs: HtsmsgMap[];
    try {
      msgs = this.decoder.push(chunk);
    } catch {
      // Like Tvheadend: a malformed or oversized request ends the session without a reply.
      this.destroy();
      return;
    }
    for (const m of msgs) {
      // Requests are handled strictly one after the other, as by the server's read loop,
      // so a slow (delayed) request holds back the ones behind it.
      this.chain = this.chain.then(() => (this.closed ? undefined : this.host.onRequest(this, m))).catch(() => undefined);
    }
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.closed && this.queue.length > 0) {
        if (this.host.isStalled()) {
          await Promise.race([this.host.waitUnstalled(), this.whenClosed()]);
          continue;
        }
        const parts: Buffer[] = [];
        let size = 0;
        while (this.queue.length > 0 && size < BATCH_BYTES) {
          const item = this.queue[0];
          let buf: Buffer;
          if (item.kind === 'iter') {
            const r = item.it.next();
            if (r.done) {
              this.queue.shift();
              continue;
            }
            buf = encodeFrame(r.value);
          } else {
            this.queue.shift();
            buf = item.kind === 'msg' ? encodeFrame(item.msg) : item.buf;
          }
          parts.push(buf);
          size += buf.length;
        }
        if (parts.length === 0 || this.socket.destroyed) continue;
        const ok = this.socket.write(parts.length === 1 ? parts[0] : Buffer.concat(parts, size));
        if (!ok) await this.drained();
      }
    } finally {
      this.pumping = false;
    }
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  private onClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    for (const sub of this.subscriptions.values()) sub.stop(false);
    this.subscriptions.clear();
    this.files.clear();
    for (const [t, resolve] of this.sleeps) {
      clearTimeout(t);
      resolve();
    }
    this.sleeps.clear();
    for (const w of this.closeWaiters) w();
    this.closeWaiters.clear();
    this.host.onClose(this);
  }
}
