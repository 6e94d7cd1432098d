/**
 * One live subscription: the start sequence seen in real traffic, then
 * `muxpkt` at the configured bitrate plus the once-a-second status messages.
 */
import { randomBytes } from 'node:crypto';
import { encodeBody, type HtsmsgMap } from '../htsp/codec';
import { compact, type SimChannel } from './data';

/** What a subscription needs from its connection. */
export interface StreamSink {
  /** Streaming messages bypass the control queue, as in Tvheadend. Returns false when dropped. */
  sendStream(msg: HtsmsgMap | Buffer): boolean;
  /** Bytes waiting in the socket: what the server's queue-depth logic looks at. */
  readonly pendingBytes: number;
  readonly anonymize: boolean;
  readonly htspVersion: number;
}

export interface SimInput {
  uuid: string;
  name: string;
  kind: 'iptv' | 'dvb';
  networkUuid: string;
  network: string;
}

export interface SubscriptionOptions {
  id: number;
  /** The server-wide id shown in `api` status/subscriptions (the HTSP id is per connection). */
  statusId: number;
  channel: SimChannel;
  input: SimInput;
  muxUuid: string;
  bitrate: number;
  weight: number;
  ninetyKHz: boolean;
  queueDepth: number;
  timeshiftPeriod: number;
  profile: string;
}

const VIDEO_FRAME_US = 40_000;
const AUDIO_FRAME_US = (1024 * 1_000_000) / 48_000;
/** Display index of each frame in decode order: a 12-frame GOP with B-frames. */
const GOP_DISPLAY = [0, 3, 1, 2, 6, 4, 5, 9, 7, 8, 11, 10];
const GOP_TYPES = GOP_DISPLAY.map((d) => (d === 0 ? 73 : d % 3 === 0 || d === 11 ? 80 : 66));
const GOP_WEIGHT = GOP_TYPES.reduce((s, t) => s + (t === 73 ? 8 : t === 80 ? 3 : 1), 0);

/** Shared random payload pools, each starting with a plausible codec header. */
const pools: { I?: Buffer; P?: Buffer; B?: Buffer; A?: Buffer } = {};
function pool(kind: 'I' | 'P' | 'B' | 'A', size: number): Buffer {
  const have = pools[kind];
  if (have && have.length >= size) return have;
  const buf = randomBytes(Math.max(size, 65536));
  const header =
    kind === 'A'
      ? [0xff, 0xf1, 0x50, 0x80]
      : [0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, kind === 'I' ? 0x65 : kind === 'P' ? 0x41 : 0x01];
  Buffer.from(header).copy(buf);
  pools[kind] = buf;
  return buf;
}

const H264_META = Buffer.from('0000000167640028acd940780227e5c04400000303e80000e9a03c60c6580000000168ebecb22c', 'hex');
const AAC_META = Buffer.from([0x11, 0x90]);

export class SimSubscription {
  readonly id: number;
  readonly statusId: number;
  readonly channel: SimChannel;
  readonly input: SimInput;
  readonly startedAt = Date.now();
  weight: number;
  readonly profile: string;
  readonly timeshiftPeriod: number;
  state: 'starting' | 'running' | 'stopped' = 'starting';
  bytesOut = 0;
  errors = 0;
  Bdrops = 0;
  Pdrops = 0;
  Idrops = 0;
  speed = 100;
  readonly disabledStreams = new Set<number>();

  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly opts: SubscriptionOptions;
  private readonly hasVideo: boolean;
  private readonly audioIndex: number;
  private readonly basePts: number;
  private streamStart = 0;
  private videoSent = 0;
  private audioSent = 0;
  private pausedAt: number | undefined;
  private pausedTotal = 0;
  private statusTicks = 0;

  constructor(
    private readonly sink: StreamSink,
    opts: SubscriptionOptions,
  ) {
    this.opts = opts;
    this.id = opts.id;
    this.statusId = opts.statusId;
    this.channel = opts.channel;
    this.input = opts.input;
    this.weight = opts.weight;
    this.profile = opts.profile;
    this.timeshiftPeriod = opts.timeshiftPeriod;
    this.hasVideo = !opts.channel.services.some((s) => s.type === 'Radio');
    this.audioIndex = this.hasVideo ? 2 : 1;
    this.basePts = 700_000 + Math.floor(Math.random() * 1000) * 1000;
  }

  get isTuner(): boolean {
    return this.input.kind === 'dvb';
  }

  /** Call after the subscribe reply has been queued. */
  start(): void {
    this.later(0, () => {
      this.send({ method: 'subscriptionGrace', subscriptionId: this.id, graceTimeout: this.isTuner ? 5 : 10 });
      this.send({ method: 'subscriptionStatus', subscriptionId: this.id });
      this.sendQueueStatus();
      this.later(30, () => this.begin());
    });
  }

  stop(sendStop: boolean, status = 'OK', subscriptionError?: string): void {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (sendStop) {
      this.send(compact({ method: 'subscriptionStop', subscriptionId: this.id, status, subscriptionError }));
    }
  }

  setSpeed(speed: number): void {
    const hasTimeshift = this.timeshiftPeriod > 0;
    const effective = hasTimeshift ? speed : 100;
    if (effective === 0 && this.pausedAt === undefined) this.pausedAt = Date.now();
    if (effective !== 0 && this.pausedAt !== undefined) {
      this.pausedTotal += Date.now() - this.pausedAt;
      this.pausedAt = undefined;
    }
    this.speed = effective;
    this.send({ method: 'subscriptionSpeed', subscriptionId: this.id, speed: effective });
  }

  skip(time: number | undefined, absolute: boolean): void {
    if (this.timeshiftPeriod <= 0 || time === undefined) {
      this.send({ method: 'subscriptionSkip', subscriptionId: this.id, error: 1, absolute: absolute ? 1 : 0 });
      return;
    }
    this.send({ method: 'subscriptionSkip', subscriptionId: this.id, absolute: absolute ? 1 : 0, time });
  }

  live(): void {
    if (this.pausedAt !== undefined) this.setSpeed(100);
    this.send({ method: 'subscriptionSkip', subscriptionId: this.id, absolute: 1, time: this.unit(this.currentPts()) });
  }

  /** Bytes per second delivered, for the status pages. */
  get outRate(): number {
    const secs = Math.max(1, (Date.now() - this.startedAt) / 1000);
    return Math.round(this.bytesOut / secs);
  }

  // ------------------------------------------------------------ internals

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.state !== 'stopped') fn();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(() => {
      if (this.state !== 'stopped') fn();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  private send(msg: HtsmsgMap | Buffer): boolean {
    if (this.state === 'stopped' && !(!Buffer.isBuffer(msg) && msg.method === 'subscriptionStop')) return false;
    return this.sink.sendStream(msg);
  }

  private unit(us: number): number {
    return this.opts.ninetyKHz ? Math.round((us * 9) / 100) : Math.round(us);
  }

  private currentPts(): number {
    return this.basePts + this.videoSent * VIDEO_FRAME_US;
  }

  private begin(): void {
    this.state = 'running';
    this.send(this.startFrame());
    this.streamStart = Date.now();
    this.emitStatus(true);
    this.every(40, () => this.pump());
    this.every(1000, () => this.emitStatus(false));
  }

  private startFrame(): Buffer {
    const ch = this.channel;
    const hd = ch.services.some((s) => s.type === 'HDTV' || s.type === 'FHDTV' || s.type === 'UHDTV');
    const streams: HtsmsgMap[] = [];
    if (this.hasVideo) {
      streams.push({
        index: 1,
        type: 'H264',
        width: hd ? 1280 : 720,
        height: hd ? 720 : 576,
        duration: this.unit(VIDEO_FRAME_US),
        aspect_num: 16,
        aspect_den: 9,
      });
    }
    streams.push({ index: this.audioIndex, type: 'AAC', language: 'eng', audio_type: 0, channels: 2, rate: 3, rds_uecp: 0 });
    const named = compact({
      adapter: this.input.name,
      mux: ch.mux,
      network: this.input.network,
      network_type: this.input.kind === 'iptv' ? 'IPTV' : 'DVB-T',
      provider: ch.provider,
      service: ch.name,
    });
    const sourceinfo: HtsmsgMap = {
      adapter_uuid: this.input.uuid,
      mux_uuid: this.opts.muxUuid,
      network_uuid: this.input.networkUuid,
      ...(this.sink.anonymize ? {} : named),
    };
    // Real servers put codec config data in root-level `meta` fields, one per
    // stream that has any, under the same name: a JS object cannot hold that,
    // so the second field is appended to the encoded body by hand.
    const first: HtsmsgMap = this.hasVideo ? { meta: H264_META } : { meta: AAC_META };
    const body = encodeBody({ ...first, streams, sourceinfo, method: 'subscriptionStart', subscriptionId: this.id });
    const extra = this.hasVideo ? metaField(AAC_META) : Buffer.alloc(0);
    const frame = Buffer.allocUnsafe(4 + body.length + extra.length);
    frame.writeUInt32BE(body.length + extra.length, 0);
    body.copy(frame, 4);
    extra.copy(frame, 4 + body.length);
    return frame;
  }

  private pump(): void {
    if (this.pausedAt !== undefined) return;
    const elapsedUs = (Date.now() - this.streamStart - this.pausedTotal) * 1000;
    const videoDue = this.hasVideo ? Math.floor(elapsedUs / VIDEO_FRAME_US) + 1 : 0;
    const audioDue = Math.floor(elapsedUs / AUDIO_FRAME_US) + 1;
    // After a stall or a slow event loop, skip ahead instead of bursting.
    if (videoDue - this.videoSent > 50) this.videoSent = videoDue - 50;
    if (audioDue - this.audioSent > 100) this.audioSent = audioDue - 100;
    while (this.videoSent < videoDue || this.audioSent < audioDue) {
      const vNext = this.videoSent * VIDEO_FRAME_US;
      const aNext = this.audioSent * AUDIO_FRAME_US;
      if (this.videoSent < videoDue && (vNext <= aNext || this.audioSent >= audioDue)) this.sendVideo();
      else this.sendAudio();
    }
  }

  private sendVideo(): void {
    const n = this.videoSent++;
    if (this.disabledStreams.has(1)) return;
    const gopPos = n % GOP_DISPLAY.length;
    const gopStart = n - gopPos;
    const frametype = GOP_TYPES[gopPos];
    const audioBps = Math.min(128_000, this.opts.bitrate * 0.15);
    const gopBytes = ((this.opts.bitrate - audioBps) / 8) * ((GOP_DISPLAY.length * VIDEO_FRAME_US) / 1e6);
    const w = frametype === 73 ? 8 : frametype === 80 ? 3 : 1;
    const size = Math.max(16, Math.round((gopBytes * w * (0.9 + Math.random() * 0.2)) / GOP_WEIGHT));
    const pending = this.sink.pendingBytes;
    const depth = this.opts.queueDepth;
    if (pending > 3 * depth || (pending > 2 * depth && frametype !== 73) || (pending > depth && frametype === 66)) {
      if (frametype === 73) this.Idrops++;
      else if (frametype === 80) this.Pdrops++;
      else this.Bdrops++;
      return;
    }
    const kind = frametype === 73 ? 'I' : frametype === 80 ? 'P' : 'B';
    const dts = this.basePts + n * VIDEO_FRAME_US;
    const pts = this.basePts + (gopStart + GOP_DISPLAY[gopPos]) * VIDEO_FRAME_US + 2 * VIDEO_FRAME_US;
    const ok = this.send({
      method: 'muxpkt',
      subscriptionId: this.id,
      frametype,
      stream: 1,
      com: 0,
      pts: this.unit(pts),
      dts: this.unit(dts),
      duration: this.unit(VIDEO_FRAME_US),
      payload: pool(kind, size).subarray(0, size),
    });
    if (ok) this.bytesOut += size;
  }

  private sendAudio(): void {
    const n = this.audioSent++;
    if (this.disabledStreams.has(this.audioIndex)) return;
    const audioBps = Math.min(128_000, this.opts.bitrate * 0.15);
    const size = Math.max(8, Math.round(((audioBps / 8) * AUDIO_FRAME_US * (0.85 + Math.random() * 0.3)) / 1e6));
    const t = this.basePts + Math.round(n * AUDIO_FRAME_US);
    const ok = this.send({
      method: 'muxpkt',
      subscriptionId: this.id,
      stream: this.audioIndex,
      com: 0,
      pts: this.unit(t),
      dts: this.unit(t),
      duration: this.unit(Math.floor(AUDIO_FRAME_US)),
      payload: pool('A', size).subarray(0, size),
    });
    if (ok) this.bytesOut += size;
  }

  private sendQueueStatus(): void {
    const bytes = Math.min(this.sink.pendingBytes, 0xffffffff);
    this.send(
      compact({
        method: 'queueStatus',
        subscriptionId: this.id,
        packets: Math.ceil(bytes / 1400),
        bytes,
        delay: 0,
        Bdrops: this.Bdrops,
        Pdrops: this.Pdrops,
        Idrops: this.Idrops,
        errors: this.errors || undefined,
      }),
    );
  }

  private emitStatus(first: boolean): void {
    this.statusTicks++;
    if (!first) this.sendQueueStatus();
    if (this.isTuner) {
      const anon = this.sink.anonymize;
      this.send(
        anon
          ? { method: 'signalStatus', subscriptionId: this.id, feStatus: '' }
          : {
              method: 'signalStatus',
              subscriptionId: this.id,
              feStatus: 'GOOD',
              feSNR: 52000 + Math.floor(Math.random() * 2000),
              feSignal: 47000 + Math.floor(Math.random() * 3000),
              feBER: 0,
              feUNC: 0,
            },
      );
    }
    if (this.channel.scrambled && !this.sink.anonymize && this.sink.htspVersion >= 24 && (first || this.statusTicks % 10 === 0)) {
      this.send({
        method: 'descrambleInfo',
        subscriptionId: this.id,
        pid: 1601,
        caid: 0x0d95,
        provid: 0,
        ecmtime: 120 + Math.floor(Math.random() * 200),
        hops: 1,
        cardsystem: 'CryptoWorks',
        reader: 'sim-reader',
        from: '127.0.0.1:15050',
        protocol: 'newcamd',
      });
    }
    if (this.timeshiftPeriod > 0) {
      const live = this.currentPts();
      const shift = this.pausedAt !== undefined ? (Date.now() - this.pausedAt) * 1000 : 0;
      const span = Math.min(this.timeshiftPeriod * 1e6, (Date.now() - this.startedAt) * 1000);
      this.send({
        method: 'timeshiftStatus',
        subscriptionId: this.id,
        full: span >= this.timeshiftPeriod * 1e6 ? 1 : 0,
        shift: this.unit(shift),
        start: this.unit(Math.max(this.basePts, live - span)),
        end: this.unit(live),
      });
    }
  }
}

function metaField(data: Buffer): Buffer {
  const f = Buffer.allocUnsafe(6 + 4 + data.length);
  f[0] = 4; // BIN
  f[1] = 4;
  f.writeUInt32BE(data.length, 2);
  f.write('meta', 6, 'latin1');
  data.copy(f, 10);
  return f;
}
