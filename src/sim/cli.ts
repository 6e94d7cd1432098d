#!/usr/bin/env node
/**
 * tvheadend-sim: run the simulator as a stand-alone server, e.g. to point a
 * Node-RED config node at it for a demo.
 */
import { parseArgs } from 'node:util';
import { TvheadendSimulator, type SimOptions } from './index';

const HELP = `Usage: tvheadend-sim [options]

A simulated Tvheadend server speaking HTSP (for demos and tests).

Options:
  --host <addr>        address to listen on (default 127.0.0.1)
  --port <n>           HTSP port (default 9982, 0 = any free port)
  --user <name>        user name (default demo)
  --password <pw>      password (default demo)
  --anonymous          let unauthenticated clients stream and record too
  --channels <n>       number of channels (default 8)
  --epg-hours <n>      hours of EPG ahead (default 24)
  --event-minutes <n>  average programme length (default 30)
  --speed <x>          clock factor, 60 = one minute per second (default 1)
  --bitrate <bps>      bitrate of streamed packets (default 1000000)
  --seed <n>           seed for the generated data (default 1)
  --quiet              do not log connections and requests
  -h, --help           show this help
`;

function num(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) {
    process.stderr.write(`tvheadend-sim: --${name} needs a non-negative number, got "${v}"\n`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        user: { type: 'string' },
        password: { type: 'string' },
        anonymous: { type: 'boolean' },
        channels: { type: 'string' },
        'epg-hours': { type: 'string' },
        'event-minutes': { type: 'string' },
        speed: { type: 'string' },
        bitrate: { type: 'string' },
        seed: { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`tvheadend-sim: ${(err as Error).message}\n\n${HELP}`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const username = values.user ?? 'demo';
  const password = values.password ?? 'demo';
  const all = { streaming: true, dvr: true, admin: true, allRecorder: true, failedRecorder: true };
  const opts: SimOptions = {
    host: values.host ?? '127.0.0.1',
    port: num(values.port, 'port') ?? 9982,
    users: [{ username, password, rights: all }],
    anonymousRights: values.anonymous ? { streaming: true, dvr: true, allRecorder: true, failedRecorder: true } : undefined,
    channels: num(values.channels, 'channels'),
    epgHours: num(values['epg-hours'], 'epg-hours'),
    eventMinutes: num(values['event-minutes'], 'event-minutes'),
    speed: num(values.speed, 'speed'),
    bitrate: num(values.bitrate, 'bitrate'),
    seed: num(values.seed, 'seed'),
  };
  const sim = new TvheadendSimulator(opts);
  if (!values.quiet) {
    const log = (text: string): void => {
      process.stdout.write(`${new Date().toISOString()} ${text}\n`);
    };
    sim.on('connection', (c: { id: number; peer: string; peerPort: number }) => log(`connection #${c.id} from ${c.peer}:${c.peerPort}`));
    sim.on('disconnect', (c: { id: number }) => log(`connection #${c.id} closed`));
    sim.on('auth', (a: { connectionId: number; username: string; ok: boolean }) =>
      log(`connection #${a.connectionId}: ${a.ok ? 'authenticated' : 'authentication failed for'} ${a.username}`),
    );
    sim.on('dvrState', (d: { id: number; state: string; entry: { title: string } }) => log(`DVR entry ${d.id} "${d.entry.title}" is now ${d.state}`));
    sim.on('subscribe', (s: { connectionId: number; subscriptionId: number; channelId: number }) =>
      log(`connection #${s.connectionId}: subscription ${s.subscriptionId} on channel ${sim.getChannel(s.channelId)?.name ?? s.channelId}`),
    );
  }
  let where;
  try {
    where = await sim.start();
  } catch (err) {
    process.stderr.write(`tvheadend-sim: cannot listen: ${(err as Error).message}\n`);
    process.exit(1);
  }
  process.stdout.write(
    `Tvheadend simulator listening on ${where.host}:${where.port} (HTSP) — user "${username}", password "${password}"; ` +
      `${sim.channels.length} channels, ${sim.eventCount} EPG events, speed ${sim.getSpeed()}x\n`,
  );
  // The ticker is unref'd for library use; the command must stay alive on its own.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${signal}: stopping\n`);
    clearInterval(keepAlive);
    sim.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

void main();
