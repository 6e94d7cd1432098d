/**
 * Codec throughput on the two streams a client lives on, side by side with JSON in the same run:
 *
 * - EPG-heavy: `eventAdd` messages built from the 92 a real Tvheadend sent in the capture (same
 *   fields, same order, same wire types; only ids and times vary so that no two are identical).
 * - Streaming-heavy: `muxpkt` of a 10 Mbit/s HD channel. The capture's packet sequence (I/P/B
 *   video at 25 fps, AAC audio) is kept, its video sizes scaled up to 10 Mbit/s.
 *
 * The JSON baseline is the same message as `JSON.stringify` writes it (a packet payload as
 * base64, the usual JSON form of bytes).
 */
import { readFileSync } from 'node:fs';
import { decodeBody, encodeBody, encodeFrame, type HtsmsgMap } from '../src/htsp/codec';
import { FrameDecoder, FrameQueue } from '../src/htsp/framing';
import { peekMuxpkt } from '../src/htsp/connection';
import { QUICK, capturePath, consume, fmt, header, measure, ratio, report, table, verdict, type Row } from './util';

/** Bit rate the streaming corpus is scaled to. */
export const HD_BITRATE = 10_000_000;
/** What a socket read on loopback hands over at most (libuv reads 64 KiB). */
const SOCKET_CHUNK = 65536;

export interface CaptureCorpus {
  eventBodies: Buffer[];
  muxBodies: Buffer[];
}

/** The capture's frames, split into eventAdd and muxpkt bodies (views of the file). */
export function loadCapture(): CaptureCorpus {
  const bodies = new FrameDecoder().pushRaw(readFileSync(capturePath()));
  const eventBodies: Buffer[] = [];
  const muxBodies: Buffer[] = [];
  for (const b of bodies) {
    const m = decodeBody(b);
    if (m.method === 'eventAdd') eventBodies.push(b);
    else if (m.method === 'muxpkt') muxBodies.push(b);
  }
  return { eventBodies, muxBodies };
}

/**
 * `count` eventAdd bodies in the capture's shapes. The originals re-encode byte for byte (checked
 * here), so the variants are what Tvheadend would send for other ids and times.
 */
export function epgCorpus(cap: CaptureCorpus, count: number): Buffer[] {
  const templates = cap.eventBodies.map((b) => {
    const m = decodeBody(b);
    if (!encodeBody(m).equals(b)) throw new Error('an eventAdd of the capture does not re-encode byte for byte');
    return m;
  });
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const t = templates[i % templates.length];
    const shift = Math.floor(i / templates.length) * 3600;
    const m: HtsmsgMap = {};
    // Same keys in the same order, with this event's own numbers.
    for (const k of Object.keys(t)) {
      const v = t[k];
      if (k === 'eventId') m[k] = 1_000_000 + i;
      else if (k === 'nextEventId') m[k] = 1_000_001 + i;
      else if (k === 'channelId') m[k] = 791_483_789 + (i % 500);
      else if ((k === 'start' || k === 'stop') && typeof v === 'number') m[k] = v + shift;
      else m[k] = v;
    }
    out.push(encodeBody(m));
  }
  return out;
}

export interface StreamCorpus {
  bodies: Buffer[];
  /** Seconds of media the bodies cover. */
  seconds: number;
  payloadBytes: number;
  wireBytes: number;
}

/** The capture's packet sequence, video payloads scaled so that the whole is `bitrate`. */
export function streamCorpus(cap: CaptureCorpus, bitrate = HD_BITRATE): StreamCorpus {
  const pkts = cap.muxBodies.map((b) => decodeBody(b));
  const video = pkts.filter((p) => p.stream === 1);
  const audio = pkts.filter((p) => p.stream === 2);
  const size = (p: HtsmsgMap): number => (p.payload as Buffer).length;
  const seconds = video.reduce((s, p) => s + (p.duration as number), 0) / 1e6;
  const audioBytes = audio.reduce((s, p) => s + size(p), 0);
  const videoBytes = video.reduce((s, p) => s + size(p), 0);
  const factor = ((bitrate / 8) * seconds - audioBytes) / videoBytes;
  const filler = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < filler.length; i++) filler[i] = (i * 2654435761) >>> 24;
  let payloadBytes = 0;
  let wireBytes = 0;
  const bodies = pkts.map((p) => {
    const n = p.stream === 1 ? Math.round(size(p) * factor) : size(p);
    const payload = Buffer.allocUnsafe(n);
    for (let o = 0; o < n; o += filler.length) filler.copy(payload, o, 0, Math.min(filler.length, n - o));
    (p.payload as Buffer).copy(payload, 0, 0, Math.min(16, size(p), n));
    payloadBytes += n;
    const body = encodeBody({ ...p, payload });
    wireBytes += 4 + body.length;
    return body;
  });
  return { bodies, seconds, payloadBytes, wireBytes };
}

/** The stream as a socket delivers it: 4-byte lengths and bodies, cut into separate 64 KiB reads. */
export function socketChunks(bodies: Buffer[]): Buffer[] {
  const frames: Buffer[] = [];
  for (const b of bodies) {
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(b.length, 0);
    frames.push(len, b);
  }
  const all = Buffer.concat(frames);
  const chunks: Buffer[] = [];
  // Each read is its own allocation, as with a real socket.
  for (let o = 0; o < all.length; o += SOCKET_CHUNK) chunks.push(Buffer.from(all.subarray(o, o + SOCKET_CHUNK)));
  return chunks;
}

function jsonForm(m: HtsmsgMap): string {
  return JSON.stringify(m, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('base64') : v));
}

/** A JSON-ready copy (payload as base64), so that JSON.stringify is measured without conversion. */
function jsonReady(m: HtsmsgMap): Record<string, unknown> {
  return JSON.parse(jsonForm(m)) as Record<string, unknown>;
}

export interface CodecResult {
  epgMessages: number;
  epgDecodePerSec: number;
  jsonParseEpgPerSec: number;
  epgDecodeVsJson: number;
  epgEncodePerSec: number;
  jsonStringifyEpgPerSec: number;
  muxDecodePerSec: number;
  streamCpuPercent: number;
  framingCopiedBytesPerSec: number;
  payloadViews: boolean;
}

export function runCodec(epgCount = QUICK ? 500 : 20_000): CodecResult {
  const cap = loadCapture();

  // ---------------------------------------------------------------- EPG
  const epgBodies = epgCorpus(cap, epgCount);
  const epgMaps = epgBodies.map((b) => decodeBody(b));
  const epgJson = epgMaps.map((m) => jsonForm(m));
  const epgJsonBytes = epgJson.map((s) => Buffer.from(s, 'utf8'));
  const epgObjects = epgJson.map((s) => JSON.parse(s) as Record<string, unknown>);
  const epgWire = epgBodies.reduce((s, b) => s + 4 + b.length, 0);
  const epgJsonSize = epgJson.reduce((s, j) => s + Buffer.byteLength(j), 0);
  const n = epgBodies.length;

  const epgDecode = measure(() => {
    for (let i = 0; i < n; i++) consume(decodeBody(epgBodies[i]));
  }, n);
  const epgParse = measure(() => {
    for (let i = 0; i < n; i++) consume(JSON.parse(epgJson[i]));
  }, n);
  const epgParseBytes = measure(() => {
    for (let i = 0; i < n; i++) consume(JSON.parse(epgJsonBytes[i].toString('utf8')));
  }, n);
  const epgEncode = measure(() => {
    for (let i = 0; i < n; i++) consume(encodeFrame(epgMaps[i]));
  }, n);
  const epgStringify = measure(() => {
    for (let i = 0; i < n; i++) consume(JSON.stringify(epgObjects[i]));
  }, n);

  // ---------------------------------------------------------------- streaming
  const stream = streamCorpus(cap);
  const mux = stream.bodies;
  const muxMaps = mux.map((b) => decodeBody(b));
  const muxJson = muxMaps.map((m) => jsonForm(m));
  const muxObjects = muxMaps.map((m) => jsonReady(m));
  const m = mux.length;

  // The promise of the codec: a payload is a view into the body it came in, never a copy.
  const payloadViews = mux.every((body, i) => {
    const p = muxMaps[i].payload as Buffer;
    return p.buffer === body.buffer && p.byteOffset >= body.byteOffset && p.byteOffset + p.length <= body.byteOffset + body.length;
  });

  const muxDecode = measure(() => {
    for (let i = 0; i < m; i++) consume(decodeBody(mux[i]));
  }, m);
  const muxParse = measure(() => {
    for (let i = 0; i < m; i++) consume(JSON.parse(muxJson[i]));
  }, m);
  const muxEncode = measure(() => {
    for (let i = 0; i < m; i++) consume(encodeFrame(muxMaps[i]));
  }, m);
  const muxStringify = measure(() => {
    for (let i = 0; i < m; i++) consume(JSON.stringify(muxObjects[i]));
  }, m);

  // The whole receive path of one HD stream, as the connection runs it: frame reassembly from
  // 64 KiB socket reads, the muxpkt peek that routes a packet, and its decode.
  const chunks = socketChunks(mux);
  const chunkBuffers = new Set(chunks.map((c) => c.buffer));
  let copied = 0;
  {
    const q = new FrameQueue();
    for (const c of chunks) {
      q.push(c);
      for (let body = q.shift(); body; body = q.shift()) if (!chunkBuffers.has(body.buffer)) copied += body.length;
    }
  }
  const receive = measure(() => {
    const q = new FrameQueue();
    for (const c of chunks) {
      q.push(c);
      for (let body = q.shift(); body; body = q.shift()) {
        if (peekMuxpkt(body) !== undefined) consume(decodeBody(body));
      }
    }
  }, 1);
  // One pass covers `stream.seconds` of media; its cost over that time is the share of a core.
  const streamCpu = (receive.nsPerOp / 1e9 / stream.seconds) * 100;
  const decodeOnlyCpu = ((muxDecode.nsPerOp * m) / 1e9 / stream.seconds) * 100;

  const epgRatio = epgDecode.opsPerSec / epgParse.opsPerSec;
  const rows: Row[] = [
    {
      case: `EPG decode (${fmt(epgWire / n, 0)} B/msg)`,
      'HTSMSG msg/s': fmt(epgDecode.opsPerSec),
      'HTSMSG MB/s': fmt((epgDecode.opsPerSec * epgWire) / n / 1e6),
      'JSON msg/s': fmt(epgParse.opsPerSec),
      'JSON MB/s': fmt((epgParse.opsPerSec * epgJsonSize) / n / 1e6),
      'HTSMSG vs JSON': ratio(epgDecode.opsPerSec, epgParse.opsPerSec),
      target: '≥ 1.00×',
      verdict: verdict(epgRatio >= 1),
    },
    {
      case: 'EPG decode vs JSON.parse(utf8 bytes)',
      'HTSMSG msg/s': fmt(epgDecode.opsPerSec),
      'JSON msg/s': fmt(epgParseBytes.opsPerSec),
      'HTSMSG vs JSON': ratio(epgDecode.opsPerSec, epgParseBytes.opsPerSec),
    },
    {
      case: 'EPG encode (encodeFrame / JSON.stringify)',
      'HTSMSG msg/s': fmt(epgEncode.opsPerSec),
      'HTSMSG MB/s': fmt((epgEncode.opsPerSec * epgWire) / n / 1e6),
      'JSON msg/s': fmt(epgStringify.opsPerSec),
      'JSON MB/s': fmt((epgStringify.opsPerSec * epgJsonSize) / n / 1e6),
      'HTSMSG vs JSON': ratio(epgEncode.opsPerSec, epgStringify.opsPerSec),
    },
    {
      case: `muxpkt decode (${fmt(stream.wireBytes / m / 1024, 1)} KiB/msg avg)`,
      'HTSMSG msg/s': fmt(muxDecode.opsPerSec),
      'HTSMSG MB/s': fmt((muxDecode.opsPerSec * stream.wireBytes) / m / 1e6),
      'JSON msg/s': fmt(muxParse.opsPerSec),
      'HTSMSG vs JSON': ratio(muxDecode.opsPerSec, muxParse.opsPerSec),
    },
    {
      case: 'muxpkt encode (encodeFrame / JSON.stringify)',
      'HTSMSG msg/s': fmt(muxEncode.opsPerSec),
      'HTSMSG MB/s': fmt((muxEncode.opsPerSec * stream.wireBytes) / m / 1e6),
      'JSON msg/s': fmt(muxStringify.opsPerSec),
      'HTSMSG vs JSON': ratio(muxEncode.opsPerSec, muxStringify.opsPerSec),
    },
  ];
  table(`Codec throughput (${n.toLocaleString('en-US')} eventAdd; ${m} muxpkt = ${fmt(stream.seconds)} s of ${HD_BITRATE / 1e6} Mbit/s HD)`, rows);

  const pps = m / stream.seconds;
  table('Streaming cost per 10 Mbit/s HD stream', [
    { figure: 'packets per second of media', value: fmt(pps, 1) },
    { figure: 'payload copied by decode', value: payloadViews ? 'no (views)' : 'YES', target: 'no', verdict: verdict(payloadViews) },
    { figure: 'decode only, % of one core', value: `${fmt(decodeOnlyCpu, 3)} %`, target: '< 1 %', verdict: verdict(decodeOnlyCpu < 1) },
    {
      figure: 'framing + peek + decode, % of one core',
      value: `${fmt(streamCpu, 3)} %`,
      target: '< 1 %',
      verdict: verdict(streamCpu < 1),
    },
    {
      figure: 'bytes copied by frame reassembly',
      value: `${fmt((copied / stream.wireBytes) * 100, 1)} % of the stream (${fmt(copied / stream.seconds / 1e6)} MB/s)`,
    },
  ]);

  return {
    epgMessages: n,
    epgDecodePerSec: epgDecode.opsPerSec,
    jsonParseEpgPerSec: epgParse.opsPerSec,
    epgDecodeVsJson: epgRatio,
    epgEncodePerSec: epgEncode.opsPerSec,
    jsonStringifyEpgPerSec: epgStringify.opsPerSec,
    muxDecodePerSec: muxDecode.opsPerSec,
    streamCpuPercent: streamCpu,
    framingCopiedBytesPerSec: copied / stream.seconds,
    payloadViews,
  };
}

export interface EpgScalePoint {
  messages: number;
  decodePerSec: number;
  parsePerSec: number;
}

/**
 * EPG decode over a corpus of `count` distinct messages, one full pass per call: with 500k
 * messages the working set is far beyond the CPU caches, as in a real initial sync.
 */
export function epgDecodeAt(count: number): EpgScalePoint {
  const bodies = epgCorpus(loadCapture(), count);
  const json = bodies.map((b) => jsonForm(decodeBody(b)));
  const rounds = { ms: QUICK ? 10 : 1500, rounds: 3 };
  const dec = measure(() => {
    for (let i = 0; i < bodies.length; i++) consume(decodeBody(bodies[i]));
  }, bodies.length, rounds);
  const parse = measure(() => {
    for (let i = 0; i < json.length; i++) consume(JSON.parse(json[i]));
  }, json.length, rounds);
  return { messages: count, decodePerSec: dec.opsPerSec, parsePerSec: parse.opsPerSec };
}

if (require.main === module && process.env.BENCH_EPG_ONLY) {
  report(epgDecodeAt(Number(process.env.BENCH_EPG_ONLY)));
} else if (require.main === module) {
  header('Codec', 'HTSMSG decode/encode against JSON.parse/JSON.stringify of the same messages, in one process.');
  const n = process.env.BENCH_EVENTS ? Number(process.env.BENCH_EVENTS) : undefined;
  report(runCodec(n));
}
