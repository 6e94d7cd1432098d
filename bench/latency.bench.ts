/**
 * Change latency: from the simulator handing a `dvrEntryUpdate` frame to its socket, to the
 * `tvheadend-events` node's message leaving the node (`node.send` called).
 *
 * The simulator runs in its own process and stamps the write with `process.hrtime.bigint()`
 * (CLOCK_MONOTONIC, shared by all processes on Linux); this process stamps `node.send` with the
 * same clock. The path in between is all the client's: socket read, framing, decode, cache merge,
 * change event, the node's filters, message build and clone. Node-RED itself runs through
 * node-red-node-test-helper (a real runtime, in this process).
 *
 * Updates are sent one at a time with a short random pause, so the figure is latency, not queueing.
 */
import serverModule = require('../src/nodes/server/tvheadend-server');
import eventsModule = require('../src/nodes/events/tvheadend-events');
import type { TvheadendServerNode } from '../src/nodes/shared/types';
import { credentials, eventsNode, helper, serverNode, tab } from '../test/nodes/helpers';
import { QUICK, fmt, header, percentile, report, sleep, startSimChild, table, verdict } from './util';

export const TARGET_P99_MS = 5;

export interface LatencyResult {
  samples: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

type Sendable = { send: (msg: unknown) => void };

export async function runLatency(samples = QUICK ? 20 : 1000, warmup = QUICK ? 5 : 100): Promise<LatencyResult> {
  const sim = await startSimChild({ channels: 50, epgHours: 24, eventMinutes: 30, dvrEntries: 5 });
  const stamps = new Map<number, bigint>();
  sim.onMessage((m) => {
    if (m.type === 'stamp') stamps.set(m.n, BigInt(m.t));
  });
  try {
    const flow = [
      tab('latency'),
      serverNode('s1', sim.port, { clientName: 'bench', epg: true, epgDays: 0, requestTimeout: 15 }),
      eventsNode('e1', 'out'),
      { id: 'out', type: 'helper', z: 'f1' },
    ];
    await helper.load([serverModule, eventsModule], flow, credentials('s1', 'demo', 'demo'));
    const server = helper.getNode('s1') as unknown as TvheadendServerNode;
    const deadline = Date.now() + 30_000;
    while (server.session.state !== 'ready') {
      if (Date.now() > deadline) throw new Error(`the session did not become ready (${server.session.state})`);
      await sleep(20);
    }

    // Stamp the message where it leaves the events node, before Node-RED routes it.
    const node = helper.getNode('e1') as unknown as Sendable;
    const send = node.send.bind(node);
    const left = new Map<number, bigint>();
    let waiting: { n: number; resolve: () => void } | undefined;
    node.send = (msg: unknown): void => {
      const t = process.hrtime.bigint();
      const comment = (msg as { payload?: { comment?: unknown } }).payload?.comment;
      const m = typeof comment === 'string' ? /^bench-mark-(\d+)-end$/.exec(comment) : null;
      if (m) {
        const n = Number(m[1]);
        left.set(n, t);
        if (waiting?.n === n) waiting.resolve();
      }
      send(msg);
    };

    const lat: number[] = [];
    for (let n = 0; n < warmup + samples; n++) {
      const arrived = new Promise<void>((resolve) => {
        waiting = { n, resolve };
      });
      await sim.request({ type: 'updateDvr', n });
      await Promise.race([arrived, sleep(5000)]);
      // The stamp travels over IPC and may come after the message; wait for it briefly.
      for (let i = 0; i < 100 && !stamps.has(n); i++) await sleep(1);
      const t0 = stamps.get(n);
      const t1 = left.get(n);
      if (t0 === undefined || t1 === undefined) throw new Error(`update ${n} was not seen (write ${String(t0)}, send ${String(t1)})`);
      if (n >= warmup) lat.push(Number(t1 - t0) / 1e6);
      await sleep(1 + Math.random() * 4);
    }
    lat.sort((a, b) => a - b);
    return {
      samples: lat.length,
      p50Ms: percentile(lat, 50),
      p90Ms: percentile(lat, 90),
      p99Ms: percentile(lat, 99),
      maxMs: lat[lat.length - 1],
    };
  } finally {
    await helper.unload();
    await sim.stop();
  }
}

if (require.main === module) {
  header('Change latency', 'simulator writes dvrEntryUpdate (own process) → tvheadend-events node sends its message.');
  runLatency()
    .then((r) => {
      table(`Change latency over loopback (${r.samples} updates)`, [
        { figure: 'p50', value: `${fmt(r.p50Ms, 3)} ms` },
        { figure: 'p90', value: `${fmt(r.p90Ms, 3)} ms` },
        { figure: 'p99', value: `${fmt(r.p99Ms, 3)} ms`, target: `< ${TARGET_P99_MS} ms`, verdict: verdict(r.p99Ms < TARGET_P99_MS) },
        { figure: 'max', value: `${fmt(r.maxMs, 3)} ms` },
      ]);
      report(r);
      process.exit(0);
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
