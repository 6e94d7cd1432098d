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
      if (length > this.maxFrameBytes) {
        this.failed = new HtsmsgError(
          'frame-too-large',
          `frame announces ${length} bytes, the limit is ${this.maxFrameBytes}`,
          p,
        );
        this.chunks = [];
        this.buffered = 0;
        throw this.failed;
      }
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
    if (length > this.maxFrameBytes) {
      this.failed = new HtsmsgError('frame-too-large', `frame announces ${length} bytes, the limit is ${this.maxFrameBytes}`);
      this.chunks = [];
      this.buffered = 0;
      throw this.failed;
    }
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
