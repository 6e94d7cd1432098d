/**
 * The simulator as a separate process for the sync, latency and fan-out benches, so that the
 * server's work (generating and encoding 100k events, streaming packets) never shows up in the
 * client's CPU time or event-loop blocks. Driven over the fork IPC channel.
 *
 * Latency stamps use `process.hrtime.bigint()`: on Linux that is CLOCK_MONOTONIC, one clock for
 * the whole machine, so a stamp taken here compares directly with one taken in the client.
 */
import type { Socket } from 'node:net';
import { TvheadendSimulator, type SimDvrEntrySpec } from '../src/sim';

export interface SimConfig {
  channels: number;
  epgHours: number;
  eventMinutes: number;
  /** Bits per second of each subscription's packets. */
  bitrate?: number;
  /** Scheduled DVR entries far in the future (the latency bench updates them). */
  dvrEntries?: number;
}

export type SimCommand =
  | { type: 'updateDvr'; id?: number; n: number }
  | { type: 'stats'; id?: number }
  | { type: 'stop'; id?: number };

export type SimReply =
  | { type: 'listening'; port: number; events: number; channels: number }
  | { type: 'updated'; id: number; n: number }
  /** The frame carrying update `n` was handed to the socket at `t` (hrtime ns, as a string). */
  | { type: 'stamp'; n: number; t: string }
  | { type: 'stats'; id: number; connections: number; subscriptions: number; cpuMs: number };

/** Marker written into the updated entry, found again in the outgoing bytes. */
export function marker(n: number): string {
  return `bench-mark-${n}-end`;
}

async function main(): Promise<void> {
  const send = (m: SimReply): void => {
    process.send?.(m);
  };
  const config = JSON.parse(process.argv[2] ?? '{}') as SimConfig;
  const now = Math.floor(Date.now() / 1000);
  const dvrEntries: SimDvrEntrySpec[] = [];
  for (let i = 0; i < (config.dvrEntries ?? 3); i++) {
    // Days ahead, so that the simulated DVR clock never touches them during a run.
    dvrEntries.push({ channelIndex: i % config.channels, start: now + 86400 * (3 + i), stop: now + 86400 * (3 + i) + 3600, title: `Bench ${i}` });
  }
  const sim = new TvheadendSimulator({
    port: 0,
    channels: config.channels,
    epgHours: config.epgHours,
    eventMinutes: config.eventMinutes,
    bitrate: config.bitrate,
    dvrEntries,
    autorecEntries: [],
    timerecEntries: [],
  });

  let pending: { n: number; bytes: Buffer } | undefined;
  sim.on('connection', (info: { id: number }) => {
    const conn = sim.connections.get(info.id);
    if (!conn) return;
    const socket: Socket = conn.socket;
    const write = socket.write.bind(socket) as (chunk: Buffer) => boolean;
    // Only the frame carrying the pending marker is stamped; everything else passes untouched.
    (socket as unknown as { write: (chunk: Buffer) => boolean }).write = (chunk: Buffer): boolean => {
      if (pending && Buffer.isBuffer(chunk) && chunk.indexOf(pending.bytes) >= 0) {
        const t = process.hrtime.bigint();
        const n = pending.n;
        pending = undefined;
        const ok = write(chunk);
        send({ type: 'stamp', n, t: t.toString() });
        return ok;
      }
      return write(chunk);
    };
  });

  const { port } = await sim.start();
  // An orphan (the benchmark died without stopping it) would hold the port and its parent's pipes.
  process.on('disconnect', () => process.exit(1));
  const cpu0 = process.cpuUsage();
  process.on('message', (raw) => {
    const cmd = raw as SimCommand & { id: number };
    switch (cmd.type) {
      case 'updateDvr': {
        const entries = sim.dvrEntries;
        const entry = entries[cmd.n % entries.length];
        const text = marker(cmd.n);
        pending = { n: cmd.n, bytes: Buffer.from(text) };
        sim.updateDvrEntry(entry.id, { comment: text });
        send({ type: 'updated', id: cmd.id, n: cmd.n });
        return;
      }
      case 'stats': {
        const u = process.cpuUsage(cpu0);
        send({
          type: 'stats',
          id: cmd.id,
          connections: sim.connectionCount,
          subscriptions: sim.subscriptionCount,
          cpuMs: (u.user + u.system) / 1000,
        });
        return;
      }
      case 'stop':
        void sim.stop().then(() => process.exit(0));
        return;
      default:
        return;
    }
  });
  send({ type: 'listening', port, events: sim.eventCount, channels: sim.channels.length });
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
