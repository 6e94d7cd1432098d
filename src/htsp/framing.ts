import { decodeBody, HtsmsgError, type HtsmsgMap } from './codec';

/** Tvheadend itself refuses requests over 1 MiB but may send replies of many MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;

export interface FrameDecoderOptions {
  /** Largest body accepted; a longer announced length is refused before any allocation. */
  maxFrameBytes?: number;
}

/**
 * Incremental frame reader for a TCP byte stream. Feed it chunks split
 * anywhere; it returns every complete message. A frame that lies inside one
 * chunk is decoded in place, so BIN fields are views of that chunk.
 *
 * After an error the stream cannot be resynchronised (there is no frame
 * marker), so the decoder stays failed and the caller must drop the connection.
 */
export class FrameDecoder {
  readonly maxFrameBytes: number;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failed: HtsmsgError | undefined;

  constructor(opts: FrameDecoderOptions = {}) {
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  /** Bytes held while waiting for the rest of a frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /**
   * Returns the bodies of all complete frames now available, undecoded.
   * Throws HtsmsgError('frame-too-large') on an oversized length.
   */
  pushRaw(chunk: Buffer): Buffer[] {
    if (this.failed) throw this.failed;
    const out: Buffer[] = [];
    if (chunk.length === 0) return out;
    let buf = chunk;
    if (this.buffered > 0) {
      const need = this.neededBytes(chunk);
      if (need === undefined || this.buffered + chunk.length < need) {
        // Only join once a whole frame is there: a 20 MiB reply arrives as hundreds of chunks
        // and joining on each would be quadratic.
        this.chunks.push(chunk);
        this.buffered += chunk.length;
        return out;
      }
      // Copy just what completes the pending frame. The frames after it in this chunk are read
      // in place below, so their BIN fields stay views of the socket's buffer: at 10 Mbit/s the
      // frames are as big as a socket read, and joining whole chunks would copy the entire stream.
      const take = need - this.buffered;
      this.chunks.push(chunk.subarray(0, take));
      const frame = Buffer.concat(this.chunks, need);
      this.chunks = [];
      this.buffered = 0;
      out.push(frame.subarray(4));
      buf = chunk.subarray(take);
    }
    let p = 0;
    while (buf.length - p >= 4) {
      const length = buf.readUInt32BE(p);
      if (length > this.maxFrameBytes) this.tooLarge(length, p);
      if (buf.length - p - 4 < length) break;
      out.push(buf.subarray(p + 4, p + 4 + length));
      p += 4 + length;
    }
    if (p < buf.length) {
      const rest = buf.subarray(p);
      this.chunks = [rest];
      this.buffered = rest.length;
      if (rest.length >= 4) this.checkLength(rest.readUInt32BE(0));
    }
    return out;
  }

  /**
   * Like `pushRaw`, but appends the complete frames to `out` as they lie in the stream, length
   * prefixes included, and returns how many there are: one slice of `chunk` holds all the frames
   * that lie inside it, and a frame that straddled reads comes as its own joined copy. A reader
   * that queues frames (`FrameQueue`) then keeps one object per read instead of one per frame.
   */
  pushFrames(chunk: Buffer, out: Buffer[]): number {
    if (this.failed) throw this.failed;
    if (chunk.length === 0) return 0;
    let buf = chunk;
    let joined: Buffer | undefined;
    if (this.buffered > 0) {
      const need = this.neededBytes(chunk);
      if (need === undefined || this.buffered + chunk.length < need) {
        this.chunks.push(chunk);
        this.buffered += chunk.length;
        return 0;
      }
      const take = need - this.buffered;
      this.chunks.push(chunk.subarray(0, take));
      joined = Buffer.concat(this.chunks, need);
      this.chunks = [];
      this.buffered = 0;
      buf = chunk.subarray(take);
    }
    let n = joined ? 1 : 0;
    let p = 0;
    while (buf.length - p >= 4) {
      const length = buf.readUInt32BE(p);
      if (length > this.maxFrameBytes) this.tooLarge(length, p);
      if (buf.length - p - 4 < length) break;
      p += 4 + length;
      n++;
    }
    if (p < buf.length) {
      const rest = buf.subarray(p);
      this.chunks = [rest];
      this.buffered = rest.length;
      if (rest.length >= 4) this.checkLength(rest.readUInt32BE(0));
    }
    if (joined) out.push(joined);
    if (p > 0) out.push(p === buf.length ? buf : buf.subarray(0, p));
    return n;
  }

  /** Returns decoded messages. Throws HtsmsgError on any malformed input. */
  push(chunk: Buffer): HtsmsgMap[] {
    const bodies = this.pushRaw(chunk);
    const out: HtsmsgMap[] = new Array(bodies.length);
    for (let i = 0; i < bodies.length; i++) {
      try {
        out[i] = decodeBody(bodies[i]);
      } catch (err) {
        if (err instanceof HtsmsgError) this.failed = err;
        throw err;
      }
    }
    return out;
  }

  reset(): void {
    this.chunks = [];
    this.buffered = 0;
    this.failed = undefined;
  }

  private checkLength(length: number): void {
    if (length > this.maxFrameBytes) this.tooLarge(length, undefined);
  }

  /** Fails the decoder for good: an oversized length. `offset`: where it stands in the chunk. */
  private tooLarge(length: number, offset: number | undefined): never {
    this.failed = new HtsmsgError('frame-too-large', `frame announces ${length} bytes, the limit is ${this.maxFrameBytes}`, offset);
    this.chunks = [];
    this.buffered = 0;
    throw this.failed;
  }

  /** Size (with its 4-byte length) of the pending frame, once its length can be read from the held bytes and `next`. */
  private neededBytes(next: Buffer): number | undefined {
    if (this.buffered + next.length < 4) return undefined;
    const head = Buffer.allocUnsafe(4);
    let filled = 0;
    for (const c of this.chunks) {
      const n = Math.min(4 - filled, c.length);
      c.copy(head, filled, 0, n);
      filled += n;
      if (filled === 4) break;
    }
    if (filled < 4) next.copy(head, filled, 0, 4 - filled);
    const length = head.readUInt32BE(0);
    this.checkLength(length);
    return 4 + length;
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * Frames received and not yet handled, in order. A big burst (the initial sync) can queue tens of
 * thousands of frames; holding them as the reads they came in, and making each frame's view only
 * when it is taken, keeps that backlog to a few objects. Views queued one per frame survived
 * every scavenge while they waited and were copied by each, which lengthened the GC pauses.
 */
export class FrameQueue {
  private readonly decoder: FrameDecoder;
  private runs: Buffer[] = [];
  private head = 0;
  /** Offset of the next frame's length prefix in runs[head]. */
  private pos = 0;
  private frames = 0;

  constructor(opts: FrameDecoderOptions = {}) {
    this.decoder = new FrameDecoder(opts);
  }

  /** Frames waiting. */
  get length(): number {
    return this.frames;
  }

  /** Queues the complete frames of a chunk; throws like `FrameDecoder.pushRaw`. */
  push(chunk: Buffer): number {
    const n = this.decoder.pushFrames(chunk, this.runs);
    this.frames += n;
    return n;
  }

  /** The next frame's body (a view), or undefined when none is waiting. */
  shift(): Buffer | undefined {
    if (this.frames === 0) return undefined;
    const run = this.runs[this.head];
    const p = this.pos;
    const length = run.readUInt32BE(p);
    const end = p + 4 + length;
    const body = run.subarray(p + 4, end);
    this.frames--;
    if (end < run.length) {
      this.pos = end;
    } else {
      this.runs[this.head++] = EMPTY;
      this.pos = 0;
      if (this.head === this.runs.length) {
        this.runs = [];
        this.head = 0;
      } else if (this.head >= 1024) {
        this.runs = this.runs.slice(this.head);
        this.head = 0;
      }
    }
    return body;
  }

  /** Drops what is queued (and any partial frame). */
  clear(): void {
    this.runs = [];
    this.head = 0;
    this.pos = 0;
    this.frames = 0;
    this.decoder.reset();
  }
}
