/**
 * Scale curve: the EPG decode throughput (figure 1) and the initial sync (figure 2) at 10k, 100k
 * and 500k events. Every step runs in a fresh process, so that one step's heap and JIT state
 * cannot flatter or burden the next, and memory per event is measured from a clean start.
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import type { EpgScalePoint } from './codec.bench';
import type { SyncResult } from './sync.bench';
import { TARGET_BLOCK_MS, TARGET_BYTES_PER_EVENT, TARGET_READY_MS } from './sync.bench';
import { QUICK, fmt, header, profArgs, ratio, report, table, verdict } from './util';

const SIZES = QUICK ? [500, 1000, 2000] : [10_000, 100_000, 500_000];
/** Per-event cost at the largest size may be this much above the smallest and still count as linear. */
const LINEAR_SLACK = 1.5;

function step<T>(file: string, env: Record<string, string>): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = fork(join(__dirname, file), [], {
      execArgv: ['--import', 'tsx', '--expose-gc', ...profArgs()],
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    let result: T | undefined;
    child.on('message', (m) => {
      const msg = m as { type?: string; result?: T };
      if (msg.type === 'result') result = msg.result;
    });
    child.on('exit', (code) => {
      if (result !== undefined) resolve(result);
      else reject(new Error(`${file} (${JSON.stringify(env)}) exited with ${code} and no result`));
    });
  });
}

/** 3 s is the target for 100k events; a linear client gets proportionally longer for more. */
function readyTarget(events: number): number {
  return TARGET_READY_MS * Math.max(1, events / 100_000);
}

export interface ScaleResult {
  codec: EpgScalePoint[];
  sync: SyncResult[];
}

export async function runScale(): Promise<ScaleResult> {
  const codec: EpgScalePoint[] = [];
  const sync: SyncResult[] = [];
  for (const n of SIZES) {
    codec.push(await step<EpgScalePoint>('codec.bench.ts', { BENCH_EPG_ONLY: String(n) }));
    sync.push(await step<SyncResult>('sync.bench.ts', { BENCH_EVENTS: String(n) }));
  }
  return { codec, sync };
}

if (require.main === module) {
  header('Scale curve', `EPG decode and initial sync at ${SIZES.map((n) => n.toLocaleString('en-US')).join(', ')} events, each step in a fresh process.`);
  runScale()
    .then((r) => {
      table(
        'Scale: EPG decode (eventAdd from the capture shapes, distinct messages)',
        r.codec.map((c) => ({
          messages: c.messages.toLocaleString('en-US'),
          'HTSMSG msg/s': fmt(c.decodePerSec),
          'JSON.parse msg/s': fmt(c.parsePerSec),
          'HTSMSG vs JSON': ratio(c.decodePerSec, c.parsePerSec),
          verdict: verdict(c.decodePerSec >= c.parsePerSec),
        })),
      );
      table(
        'Scale: initial sync (500 channels, one week)',
        r.sync.map((s) => ({
          events: s.events.toLocaleString('en-US'),
          'ready ms': fmt(s.readyMs, 0),
          'ready target ms': fmt(readyTarget(s.events), 0),
          'ready µs/event': fmt((s.readyMs * 1000) / s.events),
          'client CPU ms': fmt(s.cpuMs, 0),
          'CPU µs/event': fmt((s.cpuMs * 1000) / s.events),
          'longest block ms': fmt(s.maxBlockMs, 1),
          'cache B/event': fmt(s.bytesPerEvent, 0),
          'peak B/event': fmt(s.peakBytes / s.events, 0),
          verdict: [
            s.readyMs < readyTarget(s.events) ? '' : `ready>${fmt(readyTarget(s.events) / 1000, 0)}s`,
            s.maxBlockMs <= TARGET_BLOCK_MS ? '' : 'block>20ms',
            s.bytesPerEvent < TARGET_BYTES_PER_EVENT ? '' : 'mem>1KB',
          ]
            .filter(Boolean)
            .join(' ') || 'PASS',
        })),
      );
      const first = r.sync[0];
      const last = r.sync[r.sync.length - 1];
      const cpuGrowth = last.cpuMs / last.events / (first.cpuMs / first.events);
      const memGrowth = last.bytesPerEvent / first.bytesPerEvent;
      const decodeDrop = r.codec[0].decodePerSec / r.codec[r.codec.length - 1].decodePerSec;
      table('Scale: is it linear? (per-event cost, largest size over smallest)', [
        { figure: 'sync CPU per event', value: ratio(last.cpuMs / last.events, first.cpuMs / first.events), target: `≤ ${LINEAR_SLACK}×`, verdict: verdict(cpuGrowth <= LINEAR_SLACK) },
        { figure: 'cache bytes per event', value: ratio(last.bytesPerEvent, first.bytesPerEvent), target: `≤ ${LINEAR_SLACK}×`, verdict: verdict(memGrowth <= LINEAR_SLACK) },
        { figure: 'decode time per message', value: ratio(r.codec[0].decodePerSec, r.codec[r.codec.length - 1].decodePerSec), target: `≤ ${LINEAR_SLACK}×`, verdict: verdict(decodeDrop <= LINEAR_SLACK) },
      ]);
      report(r);
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
