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
    let buf: Buffer;
    if (this.buffered === 0) {
      buf = chunk;
    } else {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      // Only join once a whole frame is there: a 20 MiB reply arrives as
      // hundreds of chunks and joining on each would be quadratic.
      const need = this.neededBytes();
      if (need === undefined || this.buffered < need) return out;
      buf = Buffer.concat(this.chunks, this.buffered);
      this.chunks = [];
      this.buffered = 0;
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

  private neededBytes(): number | undefined {
    if (this.buffered < 4) return undefined;
    const head = Buffer.allocUnsafe(4);
    let filled = 0;
    for (const c of this.chunks) {
      const n = Math.min(4 - filled, c.length);
      c.copy(head, filled, 0, n);
      filled += n;
      if (filled === 4) break;
    }
    const length = head.readUInt32BE(0);
    this.checkLength(length);
    return 4 + length;
  }
}
