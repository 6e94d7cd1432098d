/**
 * Initial sync: a session connects to a simulator (its own process) holding `events` EPG events
 * on 500 channels over a week, and runs until `ready`. Measured in the client only: wall time,
 * CPU time, the longest event-loop block, and the heap the cache keeps.
 *
 * Run alone: `node --import tsx --expose-gc bench/sync.bench.ts` (BENCH_EVENTS=n to resize).
 */
import { HtspSession } from '../src/htsp/session';
import {
  QUICK,
  cpuMs,
  eventMinutesFor,
  fmt,
  header,
  mib,
  peakSampler,
  probeEventLoop,
  report,
  retainedHeap,
  startSimChild,
  table,
  verdict,
} from './util';

export const TARGET_READY_MS = 3000;
export const TARGET_BLOCK_MS = 20;
export const TARGET_BYTES_PER_EVENT = 1024;

export interface SyncResult {
  events: number;
  channels: number;
  readyMs: number;
  cpuMs: number;
  maxBlockMs: number;
  p99BlockMs: number;
  retainedBytes: number;
  bytesPerEvent: number;
  peakBytes: number;
}

export async function runSync(target: number, channels = QUICK ? 20 : 500, hours = 168): Promise<SyncResult> {
  const sim = await startSimChild({ channels, epgHours: hours, eventMinutes: eventMinutesFor(target, channels, hours) });
  try {
    const session = new HtspSession({
      host: '127.0.0.1',
      port: sim.port,
      username: 'demo',
      password: 'demo',
      epgDays: 0,
      pingIntervalMs: 0,
      // Big syncs: the reply to enableAsyncMetadata comes first, but be generous anyway.
      requestTimeoutMs: 120_000,
      reconnect: { initialDelayMs: 60_000 },
    });
    const before = retainedHeap();
    const peak = peakSampler();
    const loop = probeEventLoop();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const ready = new Promise<void>((resolve, reject) => {
      session.once('ready', () => resolve());
      session.on('state', (s) => {
        if (s.state === 'disconnected' && s.error) reject(s.error);
      });
    });
    session.start();
    await ready;
    const readyMs = performance.now() - t0;
    const cpu = cpuMs(cpu0);
    const block = loop.stop();
    const peakBytes = peak.stop() - before;
    const after = retainedHeap();
    const events = session.cache.counts.events;
    const retained = after - before;
    await session.stop();
    return {
      events,
      channels: session.cache.counts.channels,
      readyMs,
      cpuMs: cpu,
      maxBlockMs: block.maxMs,
      p99BlockMs: block.p99Ms,
      retainedBytes: retained,
      bytesPerEvent: retained / Math.max(1, events),
      peakBytes,
    };
  } finally {
    await sim.stop();
  }
}

export function printSync(r: SyncResult, title: string): void {
  table(title, [
    { figure: 'events in the cache', value: r.events.toLocaleString('en-US') },
    { figure: 'wall time until ready', value: `${fmt(r.readyMs, 0)} ms`, target: `< ${TARGET_READY_MS} ms`, verdict: verdict(r.readyMs < TARGET_READY_MS) },
    { figure: 'client CPU time until ready', value: `${fmt(r.cpuMs, 0)} ms (${fmt((r.cpuMs / r.readyMs) * 100, 0)} % of one core)` },
    { figure: 'client CPU per event', value: `${fmt((r.cpuMs * 1000) / Math.max(1, r.events))} µs` },
    {
      figure: 'longest event-loop block',
      value: `${fmt(r.maxBlockMs, 1)} ms (p99 ${fmt(r.p99BlockMs, 1)} ms)`,
      target: `≤ ${TARGET_BLOCK_MS} ms`,
      verdict: verdict(r.maxBlockMs <= TARGET_BLOCK_MS),
    },
    {
      figure: 'cache heap after GC',
      value: `${mib(r.retainedBytes)} = ${fmt(r.bytesPerEvent, 0)} B/event`,
      target: `< ${TARGET_BYTES_PER_EVENT} B/event`,
      verdict: verdict(r.bytesPerEvent < TARGET_BYTES_PER_EVENT),
    },
    { figure: 'peak heap during sync (sampled)', value: `${mib(r.peakBytes)} = ${fmt(r.peakBytes / Math.max(1, r.events), 0)} B/event` },
  ]);
}

if (require.main === module) {
  const n = Number(process.env.BENCH_EVENTS ?? (QUICK ? 2000 : 100_000));
  header('Initial sync', `${n.toLocaleString('en-US')} EPG events from the simulator (separate process) over loopback, measured in the client.`);
  runSync(n)
    .then((r) => {
      printSync(r, `Initial sync of ${r.events.toLocaleString('en-US')} events on ${r.channels} channels`);
      report(r);
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
