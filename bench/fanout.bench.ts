/**
 * Fan-out: 50 flow nodes on one `tvheadend-server` config node (40 `tvheadend-events` with
 * different filters, 10 `tvheadend-subscription`), 10 live subscriptions of 10 Mbit/s HD channels
 * from the simulator (its own process). Checks that everything shares one TCP connection and
 * measures this process's CPU per subscription, against the same 50 nodes with nothing subscribed.
 *
 * Two ways to watch: with "emit packets" (every packet decoded and sent into the flow) and
 * without (the library counts packets and drops them undecoded).
 */
import helper from 'node-red-node-test-helper';
import type { NodeMessage } from 'node-red';
import serverModule = require('../src/nodes/server/tvheadend-server');
import eventsModule = require('../src/nodes/events/tvheadend-events');
import subscriptionModule = require('../src/nodes/subscription/tvheadend-subscription');
import type { TvheadendServerNode } from '../src/nodes/shared/types';
import { HD_BITRATE } from './codec.bench';
import { QUICK, cpuMs, fmt, header, probeEventLoop, report, sleep, startSimChild, table, type SimChild } from './util';

helper.init(process.env.NODE_RED_PATH ?? require.resolve('node-red'));

const SUBSCRIPTIONS = QUICK ? 2 : 10;
const EVENTS_NODES = 50 - SUBSCRIPTIONS;
const WINDOW_MS = QUICK ? 500 : 5000;

const EVENT_KINDS = [['dvrEntry'], ['channel'], ['event'], ['dvrEntry', 'autorecEntry', 'timerecEntry'], ['channel', 'tag']];

type Mode = 'idle' | 'packets' | 'status-only';

export interface FanoutPhase {
  mode: Mode;
  connections: number;
  subscriptions: number;
  cpuPercent: number;
  packetsPerSec: number;
  maxBlockMs: number;
}

export interface FanoutResult {
  phases: FanoutPhase[];
  perSubscriptionPackets: number;
  perSubscriptionStatusOnly: number;
}

type FlowNode = { id: string; type: string; wires?: string[][] } & Record<string, unknown>;

function flow(port: number, mode: Mode): FlowNode[] {
  const nodes: FlowNode[] = [
    { id: 'f1', type: 'tab', label: 'fanout' },
    {
      id: 's1',
      type: 'tvheadend-server',
      name: 'sim',
      host: '127.0.0.1',
      port,
      clientName: 'bench',
      epg: true,
      epgDays: 0,
      pingInterval: 30,
      requestTimeout: 15,
      version: 1,
    },
    { id: 'evsink', type: 'helper', z: 'f1' },
    { id: 'sink', type: 'helper', z: 'f1' },
  ];
  for (let i = 0; i < EVENTS_NODES; i++) {
    nodes.push({
      id: `e${i}`,
      type: 'tvheadend-events',
      z: 'f1',
      name: '',
      server: 's1',
      kinds: EVENT_KINDS[i % EVENT_KINDS.length],
      actions: ['add', 'update', 'delete'],
      channels: i % 3 === 0 ? String((i % 10) + 1) : '',
      title: '',
      initial: 'none',
      pollInterval: 5,
      automations: [],
      reminderMinutes: '5',
      wires: [['evsink']],
    });
  }
  for (let i = 0; i < SUBSCRIPTIONS; i++) {
    const packets = mode === 'packets';
    nodes.push({
      id: `w${i}`,
      type: 'tvheadend-subscription',
      z: 'f1',
      name: '',
      server: 's1',
      channel: String(i + 1),
      autoStart: mode !== 'idle',
      profile: '',
      weight: '',
      rateLimit: 5,
      packets,
      outputs: packets ? 2 : 1,
      wires: packets ? [['evsink'], ['sink']] : [['evsink']],
    });
  }
  return nodes;
}

async function phase(sim: SimChild, mode: Mode): Promise<FanoutPhase> {
  await helper.load([serverModule, eventsModule, subscriptionModule], flow(sim.port, mode), {
    s1: { username: 'demo', password: 'demo' },
  });
  try {
    const server = helper.getNode('s1') as unknown as TvheadendServerNode;
    let packets = 0;
    helper.getNode('sink').on('input', (_m: NodeMessage) => packets++);
    const want = mode === 'idle' ? 0 : SUBSCRIPTIONS;
    const deadline = Date.now() + 30_000;
    for (;;) {
      const s = await sim.request({ type: 'stats' });
      const subs = s.type === 'stats' ? s.subscriptions : -1;
      if (server.session.state === 'ready' && subs === want && (mode !== 'packets' || packets > 0)) break;
      if (Date.now() > deadline) throw new Error(`${mode}: not running after 30 s (${server.session.state}, ${subs} subscriptions)`);
      await sleep(50);
    }
    // Let the start-up (sync, subscription starts, JIT) settle before measuring.
    await sleep(QUICK ? 200 : 1500);
    const loop = probeEventLoop();
    const cpu0 = process.cpuUsage();
    const p0 = packets;
    const t0 = performance.now();
    await sleep(WINDOW_MS);
    const wall = performance.now() - t0;
    const cpu = cpuMs(cpu0);
    const block = loop.stop();
    const stats = await sim.request({ type: 'stats' });
    return {
      mode,
      connections: stats.type === 'stats' ? stats.connections : -1,
      subscriptions: stats.type === 'stats' ? stats.subscriptions : -1,
      cpuPercent: (cpu / wall) * 100,
      packetsPerSec: ((packets - p0) / wall) * 1000,
      maxBlockMs: block.maxMs,
    };
  } finally {
    await helper.unload();
  }
}

export async function runFanout(): Promise<FanoutResult> {
  const sim = await startSimChild({ channels: 20, epgHours: 24, eventMinutes: 30, bitrate: HD_BITRATE });
  try {
    const idle = await phase(sim, 'idle');
    const statusOnly = await phase(sim, 'status-only');
    const packets = await phase(sim, 'packets');
    return {
      phases: [idle, statusOnly, packets],
      perSubscriptionPackets: (packets.cpuPercent - idle.cpuPercent) / SUBSCRIPTIONS,
      perSubscriptionStatusOnly: (statusOnly.cpuPercent - idle.cpuPercent) / SUBSCRIPTIONS,
    };
  } finally {
    await sim.stop();
  }
}

if (require.main === module) {
  header(
    'Fan-out',
    `${EVENTS_NODES} tvheadend-events + ${SUBSCRIPTIONS} tvheadend-subscription nodes on one config node; ${HD_BITRATE / 1e6} Mbit/s per channel.`,
  );
  runFanout()
    .then((r) => {
      const label: Record<Mode, string> = {
        idle: '50 nodes, nothing subscribed',
        'status-only': `${SUBSCRIPTIONS} subscriptions, packets not emitted`,
        packets: `${SUBSCRIPTIONS} subscriptions, every packet into the flow`,
      };
      table(
        `Fan-out: client CPU over ${WINDOW_MS / 1000} s windows`,
        r.phases.map((p) => ({
          phase: label[p.mode],
          'TCP connections': p.connections,
          'server subscriptions': p.subscriptions,
          'packets/s into flow': fmt(p.packetsPerSec, 0),
          'client CPU': `${fmt(p.cpuPercent, 1)} % of one core`,
          'longest block': `${fmt(p.maxBlockMs, 1)} ms`,
          verdict: p.connections === 1 ? 'PASS (one connection)' : 'MISS',
        })),
      );
      table('Fan-out: CPU per subscription (minus the idle phase)', [
        { figure: 'per subscription, packets into the flow', value: `${fmt(r.perSubscriptionPackets, 2)} % of one core` },
        { figure: 'per subscription, packets not emitted', value: `${fmt(r.perSubscriptionStatusOnly, 2)} % of one core` },
      ]);
      report(r);
      process.exit(0);
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
