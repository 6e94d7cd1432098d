// Shared set-up for the node tests: the Node-RED test helper (against the Node-RED named by
// NODE_RED_PATH, else the one in devDependencies), a simulator with a recognisable password,
// and small flow builders.
import type { EventEmitter } from 'node:events';
import helper from 'node-red-node-test-helper';
import type { Node, NodeMessage, NodeStatus } from 'node-red';
import { TvheadendSimulator, DEFAULT_USERS } from '../../src/sim';
import type { SimOptions } from '../../src/sim';

helper.init(process.env.NODE_RED_PATH ?? require.resolve('node-red'));

export { helper };

/** A user whose name and password are distinctive enough to search for in logs and messages. */
export const USER = 'flowuser';
export const PASSWORD = 'Zq7-unlikely-PASSWORD-9x';

export interface SimHandle {
  sim: TvheadendSimulator;
  port: number;
  /** Every TCP connection the simulator accepted since start. */
  connections(): number;
  /** Connections that authenticated with a wrong password. */
  failedLogins(): number;
  stop(): Promise<void>;
}

export async function startSim(opts: SimOptions = {}): Promise<SimHandle> {
  const sim = new TvheadendSimulator({
    port: 0,
    channels: 4,
    epgHours: 4,
    users: [...DEFAULT_USERS, { username: USER, password: PASSWORD, rights: { ...DEFAULT_USERS[0].rights } }],
    ...opts,
  });
  let accepted = 0;
  let failed = 0;
  sim.on('connection', () => accepted++);
  sim.on('auth', (e: { ok: boolean }) => {
    if (!e.ok) failed++;
  });
  const { port } = await sim.start();
  return { sim, port, connections: () => accepted, failedLogins: () => failed, stop: () => sim.stop() };
}

/** A port nothing listens on (bound once, then released). */
export async function closedPort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      const p = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(p));
    });
  });
}

export type FlowNode = { id: string; type: string; z?: string; wires?: string[][] } & Record<string, unknown>;

export function serverNode(id: string, port: number, extra: Record<string, unknown> = {}): FlowNode {
  return {
    id,
    type: 'tvheadend-server',
    name: 'sim',
    host: '127.0.0.1',
    port,
    clientName: 'node-test',
    epg: false,
    epgDays: 1,
    pingInterval: 30,
    requestTimeout: 5,
    version: 1,
    ...extra,
  };
}

export function credentials(id: string, username = USER, password = PASSWORD): Record<string, { username: string; password: string }> {
  return { [id]: { username, password } };
}

/** Resolves when `pred` is true, polling; rejects with `what` after `ms`. */
export async function waitFor(pred: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(20);
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * A node as a plain event emitter. The test helper emits `call:<method>` events (e.g.
 * `call:status`) that the Node typings do not declare.
 */
export function events(id: string): EventEmitter {
  return helper.getNode(id);
}

/** Collects every message a helper node receives. */
export function collect(id: string): NodeMessage[] {
  const got: NodeMessage[] = [];
  helper.getNode(id).on('input', (msg: NodeMessage) => got.push(msg));
  return got;
}

/** Resolves with the next message a helper node receives. */
export function nextMessage(id: string, ms = 5000): Promise<NodeMessage> {
  return new Promise((resolve, reject) => {
    const node: Node = helper.getNode(id);
    const timer = setTimeout(() => reject(new Error(`no message at ${id} within ${ms} ms`)), ms);
    node.once('input', (msg: NodeMessage) => {
      clearTimeout(timer);
      resolve(msg);
    });
  });
}

/** The statuses a node has shown, recorded from now on (the test helper spies on Node#status). */
export function statusesOf(id: string): NodeStatus[] {
  const seen: NodeStatus[] = [];
  events(id).on('call:status', (call: { args: unknown[] }) => {
    const s = call.args[0];
    if (s && typeof s === 'object') seen.push(s as NodeStatus);
  });
  return seen;
}

/** Every line logged through Node-RED's log since the flows were loaded, as text. */
export function loggedText(): string {
  return helper
    .log()
    .args.map((args: unknown[]) => JSON.stringify(args, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)))
    .join('\n');
}

/** The deployed flow configuration, as Node-RED would export it. */
export function exportedFlows(): unknown {
  const internal = helper as unknown as { _redNodes: { getFlows(): { flows: unknown[] } } };
  return internal._redNodes.getFlows().flows;
}

export function serialise(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? String(x) : x));
}
