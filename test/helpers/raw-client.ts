/**
 * A deliberately tiny HTSP client for tests: raw frames in and out, no
 * reconnects, no cleverness. Every message received is kept in `messages`.
 */
import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { encodeFrame, type HtsmsgMap } from '../../src/htsp/codec';
import { FrameDecoder } from '../../src/htsp/framing';

export type Predicate = (m: HtsmsgMap) => boolean;

export class RawClient {
  readonly messages: HtsmsgMap[] = [];
  /** Set when the server sent bytes that are not valid HTSMSG frames. */
  decodeError: Error | undefined;
  closed = false;
  challenge: Buffer | undefined;
  private seq = 0;
  private readonly decoder: FrameDecoder;
  private waiters: Array<{ pred: Predicate; from: number; resolve: (m: HtsmsgMap) => void }> = [];
  private closeWaiters: Array<() => void> = [];
  private errorWaiters: Array<() => void> = [];

  private constructor(
    readonly socket: Socket,
    maxFrameBytes: number,
  ) {
    this.decoder = new FrameDecoder({ maxFrameBytes });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.closeWaiters) w();
      this.closeWaiters = [];
    });
  }

  static connect(port: number, host = '127.0.0.1', opts: { maxFrameBytes?: number } = {}): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const sock = connect({ port, host }, () => {
        sock.off('error', reject);
        resolve(new RawClient(sock, opts.maxFrameBytes ?? 64 * 1024 * 1024));
      });
      sock.once('error', reject);
    });
  }

  /** Fire and forget (no seq added). */
  send(msg: HtsmsgMap): void {
    this.socket.write(encodeFrame(msg));
  }

  writeRaw(buf: Buffer): void {
    this.socket.write(buf);
  }

  /** Send a request with a fresh seq and wait for the reply carrying it. */
  async request(method: string, fields: HtsmsgMap = {}, timeoutMs = 5000): Promise<HtsmsgMap> {
    const seq = ++this.seq;
    const from = this.messages.length;
    this.send({ method, ...fields, seq });
    return this.waitFor((m) => m.seq === seq && m.method === undefined, { timeoutMs, from });
  }

  async hello(htspversion = 44, clientname = 'raw-test'): Promise<HtsmsgMap> {
    const r = await this.request('hello', { htspversion, clientname, clientversion: '0.0.1' });
    if (Buffer.isBuffer(r.challenge)) this.challenge = Buffer.from(r.challenge);
    return r;
  }

  digest(password: string): Buffer {
    if (!this.challenge) throw new Error('hello first');
    return createHash('sha1').update(Buffer.from(password, 'utf8')).update(this.challenge).digest();
  }

  /** hello (if not done) + authenticate with a digest. */
  async login(username: string, password: string): Promise<HtsmsgMap> {
    if (!this.challenge) await this.hello();
    return this.request('authenticate', { username, digest: this.digest(password) });
  }

  /**
   * First message matching `pred` at or after index `from` (default: the
   * start), waiting up to `timeoutMs` for it to arrive.
   */
  waitFor(pred: Predicate, opts: { timeoutMs?: number; from?: number } = {}): Promise<HtsmsgMap> {
    const from = opts.from ?? 0;
    for (let i = from; i < this.messages.length; i++) if (pred(this.messages[i])) return Promise.resolve(this.messages[i]);
    const timeoutMs = opts.timeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        from,
        resolve: (m: HtsmsgMap) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for a message`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  waitForMethod(method: string, opts: { timeoutMs?: number; from?: number; where?: Predicate } = {}): Promise<HtsmsgMap> {
    return this.waitFor((m) => m.method === method && (!opts.where || opts.where(m)), opts);
  }

  /** Messages with this `method`, from index `from`. */
  byMethod(method: string, from = 0): HtsmsgMap[] {
    return this.messages.slice(from).filter((m) => m.method === method);
  }

  /** Resolves when the server closes the socket (or rejects after the timeout). */
  waitClosed(timeoutMs = 5000): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('socket still open')), timeoutMs);
      this.closeWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Resolves when undecodable bytes arrive. */
  waitDecodeError(timeoutMs = 5000): Promise<Error> {
    if (this.decodeError) return Promise.resolve(this.decodeError);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no decode error')), timeoutMs);
      this.errorWaiters.push(() => {
        clearTimeout(timer);
        resolve(this.decodeError as Error);
      });
    });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.closeWaiters.push(resolve);
      this.socket.destroy();
    });
  }

  private onData(chunk: Buffer): void {
    if (this.decodeError) return;
    let msgs: HtsmsgMap[];
    try {
      msgs = this.decoder.push(chunk);
    } catch (err) {
      this.decodeError = err as Error;
      for (const w of this.errorWaiters) w();
      this.errorWaiters = [];
      return;
    }
    for (const m of msgs) {
      this.messages.push(m);
      const idx = this.messages.length - 1;
      for (const w of [...this.waiters]) {
        if (idx >= w.from && w.pred(m)) {
          this.waiters = this.waiters.filter((x) => x !== w);
          w.resolve(m);
        }
      }
    }
  }
}
