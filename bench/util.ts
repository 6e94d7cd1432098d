/**
 * Shared plumbing for the benchmarks: quick mode, timing loops, the simulator child process,
 * event-loop and memory probes, and the tables every bench prints.
 *
 * Benchmarks print figures; they never fail on a missed target (they are not tests). Each bench
 * file runs on its own (`node --import tsx --expose-gc bench/<name>.bench.ts`) and, when forked
 * with an IPC channel, also sends its results to the parent (the scale bench collects them so).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import type { SimCommand, SimConfig, SimReply } from './sim-server';

/** BENCH_QUICK=1: tiny sizes and short windows, for the smoke test. Figures are meaningless then. */
export const QUICK = process.env.BENCH_QUICK === '1';

export const ROOT = join(__dirname, '..');

/** The real Tvheadend traffic the codec bench builds its messages from (as the codec tests find it). */
export function capturePath(): string {
  const dir = process.env.BENCH_CAPTURES ?? join(ROOT, '..', 'shared', 'captures');
  const file = join(dir, 'session-ch2-h264-rx.bin');
  if (!existsSync(file)) throw new Error(`capture not found: ${file} (set BENCH_CAPTURES to its folder)`);
  return file;
}

// ------------------------------------------------------------------ output

export type Verdict = 'PASS' | 'MISS' | '';

export function verdict(ok: boolean): Verdict {
  return ok ? 'PASS' : 'MISS';
}

export interface Row {
  [column: string]: string | number | undefined;
}

/** Prints a Markdown table (so it can go into docs/performance.md as printed). */
export function table(title: string, rows: Row[]): void {
  const cols: string[] = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!cols.includes(k)) cols.push(k);
  const cell = (v: string | number | undefined): string => (v === undefined ? '' : String(v));
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]): string => `| ${vals.map((v, i) => v.padEnd(width[i])).join(' | ')} |`;
  console.log(`\n### ${title}\n`);
  console.log(line(cols));
  console.log(`|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(cols.map((c) => cell(r[c]))));
}

export function fmt(n: number, digits = 2): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  if (abs >= 100) return Math.round(n).toLocaleString('en-US');
  if (abs >= 10) return n.toFixed(Math.max(0, digits - 1));
  return n.toFixed(digits);
}

export function ratio(a: number, b: number): string {
  return `${fmt(a / b)}×`;
}

export function mib(bytes: number): string {
  return `${fmt(bytes / (1024 * 1024), 1)} MiB`;
}

/** Sends the structured results to a parent that forked this bench (the scale bench). */
export function report(result: object): void {
  if (typeof process.send === 'function') process.send({ type: 'result', result });
}

export function header(name: string, what: string): void {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(`\n## ${name}${QUICK ? ' (QUICK mode: sizes too small for meaningful figures)' : ''}`);
  console.log(`${what}`);
  console.log(
    `Node ${process.version}, ${cpu}, ${cpus().length} cores, ${mib(totalmem())} RAM, ${new Date().toISOString()}, ` +
      `load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
  );
  // Other work on the machine lands in every figure; say so where it can be seen.
  if (loadavg()[0] > cpus().length * 0.5) console.log('WARNING: the machine is busy (load average above half the cores); figures are pessimistic.');
}

// ------------------------------------------------------------------ timing

export interface Throughput {
  /** Operations per second (median of the rounds). */
  opsPerSec: number;
  /** Nanoseconds per operation. */
  nsPerOp: number;
}

/**
 * Runs `fn` (which does `opsPerCall` operations) repeatedly for about `ms` per round, after a
 * warm-up, and returns the median round: the median is steadier than the best on a shared VM and
 * still ignores the odd GC-heavy round.
 */
export function measure(fn: () => void, opsPerCall: number, opts: { ms?: number; rounds?: number } = {}): Throughput {
  const ms = opts.ms ?? (QUICK ? 20 : 400);
  const rounds = opts.rounds ?? (QUICK ? 1 : 5);
  const warmUntil = performance.now() + ms;
  while (performance.now() < warmUntil) fn();
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let calls = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < ms) {
      fn();
      calls++;
      t = performance.now();
    }
    rates.push((calls * opsPerCall) / ((t - t0) / 1000));
  }
  rates.sort((a, b) => a - b);
  const opsPerSec = rates[Math.floor(rates.length / 2)];
  return { opsPerSec, nsPerOp: 1e9 / opsPerSec };
}

/** Keeps results alive so that the JIT cannot drop the work that made them. */
export let sink: unknown;
export function consume(v: unknown): void {
  sink = v;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/** CPU time (user + system) of this process in ms since `from`. */
export function cpuMs(from?: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(from);
  return (u.user + u.system) / 1000;
}

// ------------------------------------------------------------------ event loop and memory

export interface LoopProbe {
  stop(): { maxMs: number; p99Ms: number };
}

/**
 * Longest event-loop block while it runs: a 1 ms-resolution delay histogram. Its maximum is how
 * long the loop went without running a timer, i.e. the longest stretch Node-RED could not react.
 */
export function probeEventLoop(): LoopProbe {
  const h: IntervalHistogram = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  return {
    stop() {
      h.disable();
      return { maxMs: h.max / 1e6, p99Ms: h.percentile(99) / 1e6 };
    },
  };
}

export function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error('run with --expose-gc (npm run bench does)');
  // Twice: the first pass can leave weakly held objects for the next one.
  g();
  g();
}

/** Heap in use after a full collection (what is really retained). */
export function retainedHeap(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

/** Samples heapUsed + external every `everyMs` and keeps the peak. */
export function peakSampler(everyMs = 20): { stop(): number } {
  let peak = 0;
  const sample = (): void => {
    const m = process.memoryUsage();
    peak = Math.max(peak, m.heapUsed + m.external);
  };
  sample();
  const t = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(t);
      sample();
      return peak;
    },
  };
}

// ------------------------------------------------------------------ the simulator child

export interface SimChild {
  port: number;
  events: number;
  channels: number;
  /** Sends a command and waits for the reply with the same `id`. */
  request(cmd: SimCommand): Promise<SimReply>;
  /** Every message the child sends (stamps arrive here too). */
  onMessage(fn: (m: SimReply) => void): void;
  stop(): Promise<void>;
}

/**
 * Starts the simulator in its own process, so that its CPU time and event-loop blocks are never
 * counted as the client's. Resolves once it listens and its data (the whole EPG) is generated.
 */
export function startSimChild(config: SimConfig): Promise<SimChild> {
  const child: ChildProcess = fork(join(__dirname, 'sim-server.ts'), [JSON.stringify(config)], {
    execArgv: ['--import', 'tsx', ...profArgs()],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let nextId = 1;
  const waiting = new Map<number, (r: SimReply) => void>();
  const listeners: Array<(m: SimReply) => void> = [];
  child.on('message', (raw) => {
    const m = raw as SimReply;
    for (const l of listeners) l(m);
    if ('id' in m && typeof m.id === 'number') {
      const w = waiting.get(m.id);
      if (w) {
        waiting.delete(m.id);
        w(m);
      }
    }
  });
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`the simulator process exited early (${code})`));
    child.once('exit', onExit);
    const onReady = (raw: unknown): void => {
      const m = raw as SimReply;
      if (m.type !== 'listening') return;
      child.off('message', onReady);
      child.off('exit', onExit);
      resolve({
        port: m.port,
        events: m.events,
        channels: m.channels,
        request(cmd) {
          const id = nextId++;
          return new Promise((res) => {
            waiting.set(id, res);
            child.send({ ...cmd, id });
          });
        },
        onMessage(fn) {
          listeners.push(fn);
        },
        stop() {
          return new Promise((res) => {
            if (child.exitCode !== null) return res();
            child.once('exit', () => res());
            child.send({ type: 'stop', id: 0 });
            setTimeout(() => child.kill(), 3000).unref();
          });
        },
      });
    };
    child.on('message', onReady);
  });
}

/** Event minutes that give about `events` events over `channels` × `hours`. */
export function eventMinutesFor(events: number, channels: number, hours: number): number {
  return (channels * hours * 60) / events;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** `--cpu-prof` for forked processes when `npm run bench -- --prof` asked for profiles. */
export function profArgs(): string[] {
  const dir = process.env.BENCH_CPU_PROF_DIR;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}
