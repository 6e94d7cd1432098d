/** A watching MQTT client and small waiting helpers for the bridge tests. */
import { before, after } from 'node:test';
import mqtt, { type MqttClient, type IClientOptions } from 'mqtt';
import type { TestBroker } from './brokers';
import { HtspSession } from '../../src/htsp';
import { TvheadendSimulator } from '../../src/sim';
import type { MqttBridge } from '../../src/mqtt';

export interface Seen {
  payload: string;
  retain: boolean;
  at: number;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function waitFor<T>(what: string, fn: () => T | undefined | false | null, timeoutMs = 8000, stepMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false && v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(stepMs);
  }
}

/** Subscribes to filters and keeps the last message per topic, plus a log of everything. */
export class Watcher {
  readonly last = new Map<string, Seen>();
  readonly log: Array<{ topic: string } & Seen> = [];
  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      const seen = { payload: payload.toString(), retain: packet.retain, at: Date.now() };
      this.last.set(topic, seen);
      this.log.push({ topic, ...seen });
    });
  }

  static async open(url: string, filters: string[] = ['#'], opts: IClientOptions = {}): Promise<Watcher> {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 200, connectTimeout: 5000, ...opts });
    const w = new Watcher(client);
    await client.subscribeAsync(filters, { qos: 1 });
    // Aedes replays retained messages after the SUBACK, from an asynchronous store: a live
    // message published meanwhile can arrive before an older retained one. Let the replay end.
    await sleep(200);
    return w;
  }

  value(topic: string): string | undefined {
    return this.last.get(topic)?.payload;
  }

  json<T = Record<string, unknown>>(topic: string): T | undefined {
    const v = this.value(topic);
    if (v === undefined || v === '') return undefined;
    return JSON.parse(v) as T;
  }

  clear(): void {
    this.last.clear();
    this.log.length = 0;
  }

  async close(): Promise<void> {
    await this.client.endAsync(true).catch(() => undefined);
  }
}

/** The retained messages a fresh client gets for `filters` (what a newcomer, e.g. HA, would see). */
export async function retainedSnapshot(url: string, filters: string[], settleMs = 400, opts: IClientOptions = {}): Promise<Map<string, string>> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
  const out = new Map<string, string>();
  client.on('message', (topic, payload, packet) => {
    if (packet.retain) out.set(topic, payload.toString());
  });
  await client.subscribeAsync(filters, { qos: 1 });
  // The broker replays retained messages after the SUBACK, from an asynchronous store: done
  // once none has come for `settleMs` (a slow replay extends the wait, up to 5 s).
  let size = -1;
  const deadline = Date.now() + 5000;
  while (out.size !== size && Date.now() < deadline) {
    size = out.size;
    await sleep(settleMs);
  }
  await client.endAsync(true);
  return out;
}

/** A simulator (fast ticks) and a ready session to it, reconnecting quickly: one per bridge test. */
export async function simWithSession(): Promise<{ sim: TvheadendSimulator; session: HtspSession }> {
  const sim = new TvheadendSimulator({ port: 0, tickMs: 100 });
  const where = await sim.start();
  const session = new HtspSession({
    ...where,
    username: 'demo',
    password: 'demo',
    pingIntervalMs: 0,
    reconnect: { initialDelayMs: 100, maxDelayMs: 300, jitter: 0 },
  });
  session.on('error', () => undefined);
  session.start();
  await waitFor('session ready', () => session.state === 'ready');
  return { sim, session };
}

/** Ends a bridge test: its bridges first (they publish offline), then watchers, session, simulator. */
export async function stopBridgeTest(bridges: MqttBridge[], watchers: Watcher[], session: HtspSession, sim: TvheadendSimulator): Promise<void> {
  for (const b of bridges.splice(0)) await b.stop(1000);
  for (const w of watchers.splice(0)) await w.close();
  await session.stop();
  await sim.stop();
}

/**
 * The suite's broker (call in a `describe` body): made and started before its first test, handed
 * to `use`, stopped (and its files removed) after its last. Without `make` (a broker that is not
 * installed; the suite is skipped) nothing is started.
 */
export function brokerPerSuite(make: (() => TestBroker) | undefined, use: (broker: TestBroker) => void): void {
  let broker: TestBroker | undefined;
  before(async () => {
    if (!make) return;
    broker = make();
    use(broker);
    await broker.start();
  });
  after(async () => {
    await broker?.stop();
    (broker as { cleanup?: () => void } | undefined)?.cleanup?.();
  });
}
