// Shared set-up for the node tests: the Node-RED test helper (against the Node-RED named by
// NODE_RED_PATH, else the one in devDependencies; CI runs the suites on Node-RED 4.1 and 5), a
// simulator with a recognisable password, flow builders, and ways to ask a node and see what
// came out (an output message or the error a Catch node got).
import type { EventEmitter } from 'node:events';
import helper from 'node-red-node-test-helper';
import type { Node, NodeMessage, NodeStatus } from 'node-red';
import { TvheadendSimulator, DEFAULT_USERS } from '../../src/sim';
import type { SimOptions } from '../../src/sim';
import { isServerNode, type TvheadendServerNode } from '../../src/nodes/shared/types';
import { freePort } from '../helpers/ports';

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
export const closedPort = freePort;

export type FlowNode = { id: string; type: string; z?: string; wires?: string[][] } & Record<string, unknown>;

/** Ids every suite uses: the flow tab, the server node, and the helper behind the one Catch node. */
export const TAB_ID = 'f1';
export const SERVER = 's1';
export const CAUGHT = 'caught';
/** The node under test and the helper its output is wired to (see `singleNodeFlow`). */
export const UNDER_TEST = 'under-test';
export const OUT = 'out';

export function tab(label = 'test'): FlowNode {
  return { id: TAB_ID, type: 'tab', label };
}

/** One Catch node for every node of the flow (the test helper cannot load a second one), wired to `CAUGHT`. */
export function catchAll(): FlowNode[] {
  return [
    { id: 'k1', type: 'catch', z: TAB_ID, scope: null, uncaught: false, wires: [[CAUGHT]] },
    { id: CAUGHT, type: 'helper', z: TAB_ID },
  ];
}

/**
 * A server node, the node under test (`def`, given its id and wiring here) with its output wired
 * to `OUT`, and the Catch node. `extra` nodes (a second server, a second node) are added as they are.
 */
export function singleNodeFlow(port: number, def: Record<string, unknown>, extra: FlowNode[] = [], serverExtra: Record<string, unknown> = {}): FlowNode[] {
  return [
    tab(),
    serverNode(SERVER, port, serverExtra),
    { server: SERVER, z: TAB_ID, ...def, id: UNDER_TEST, type: String(def.type), wires: [[OUT]] },
    { id: OUT, type: 'helper', z: TAB_ID },
    ...catchAll(),
    // Flow nodes go on the tab, where the Catch node sees them; config nodes stay global.
    ...extra.map((n) => (n.type === 'tvheadend-server' || n.z !== undefined ? n : { ...n, z: TAB_ID })),
  ];
}

/** Loads `nodes` with the test user's credentials for every server node (unless given). */
export async function load(modules: unknown[], nodes: FlowNode[], creds: Record<string, Record<string, string>> = {}): Promise<void> {
  const all: Record<string, Record<string, string>> = {};
  for (const n of nodes) if (n.type === 'tvheadend-server') Object.assign(all, credentials(n.id));
  await helper.load(modules as Parameters<typeof helper.load>[0], nodes, { ...all, ...creds });
}

/** The running server node `id`. */
export function serverOf(id = SERVER): TvheadendServerNode {
  const n: unknown = helper.getNode(id);
  if (!isServerNode(n as Node)) throw new Error(`${id} is not a running tvheadend-server`);
  return n as TvheadendServerNode;
}

/** Waits until the server node's session is ready (its first sync is in). */
export async function ready(id = SERVER, ms = 10_000): Promise<TvheadendServerNode> {
  await waitFor(() => serverOf(id).session.state === 'ready', `server ${id} to be ready`, ms);
  return serverOf(id);
}

/** A `tvheadend-events` node on the tab, for the server node, wired to `out`: DVR changes, no automations. */
export function eventsNode(id: string, out: string, extra: Record<string, unknown> = {}): FlowNode {
  return {
    id,
    type: 'tvheadend-events',
    z: TAB_ID,
    name: '',
    server: SERVER,
    kinds: ['dvrEntry'],
    actions: ['add', 'update', 'delete'],
    channels: '',
    title: '',
    initial: 'none',
    pollInterval: 5,
    automations: [],
    reminderMinutes: '5',
    wires: [[out]],
    ...extra,
  };
}

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

export interface CaughtError {
  message: string;
  code?: string;
  source?: { id: string; type: string };
}

export type Outcome =
  | { output: NodeMessage & Record<string, unknown>; error?: undefined }
  | { output?: undefined; error: CaughtError; statuses: NodeStatus[] };

export interface AskOptions {
  node?: string;
  out?: string;
  caught?: string;
  timeoutMs?: number;
}

/**
 * Sends `msg` to a node and resolves with what came out: the output message, or the error the
 * Catch node received (with the statuses the node showed meanwhile).
 */
export function ask(msg: Record<string, unknown>, opts: AskOptions = {}): Promise<Outcome> {
  const target = helper.getNode(opts.node ?? UNDER_TEST);
  const spied = target as unknown as EventEmitter;
  const out = helper.getNode(opts.out ?? OUT);
  const caught = helper.getNode(opts.caught ?? CAUGHT);
  const statuses: NodeStatus[] = [];
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      out.removeListener('input', onOut);
      caught.removeListener('input', onError);
      spied.removeListener('call:status', onStatus);
    };
    const onOut = (m: NodeMessage): void => {
      cleanup();
      resolve({ output: m as NodeMessage & Record<string, unknown> });
    };
    const onError = (m: NodeMessage & { error?: CaughtError }): void => {
      if (m.error?.source && m.error.source.id !== target.id) return;
      // The status is set in the same tick as done(err); the spy reports it one tick later.
      setImmediate(() => {
        cleanup();
        resolve({ error: m.error ?? { message: 'no error object' }, statuses });
      });
    };
    const onStatus = (call: { args: unknown[] }): void => {
      statuses.push(call.args[0] as NodeStatus);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no output and no error within ${timeoutMs} ms for ${serialise(msg)}`));
    }, timeoutMs);
    out.on('input', onOut);
    caught.on('input', onError);
    spied.on('call:status', onStatus);
    target.receive(msg);
  });
}

/** The output's payload; fails the test with the caught error if there was one. */
export async function result<T = unknown>(msg: Record<string, unknown>, opts?: AskOptions): Promise<{ payload: T; msg: Record<string, unknown> }> {
  const o = await ask(msg, opts);
  if (o.error) throw new Error(`expected an output, got error ${o.error.code}: ${o.error.message}`);
  return { payload: o.output.payload as T, msg: o.output };
}

/** The caught error; fails the test if the node produced an output instead. */
export async function failure(msg: Record<string, unknown>, opts?: AskOptions): Promise<CaughtError & { statuses: NodeStatus[] }> {
  const o = await ask(msg, opts);
  if (!o.error) throw new Error(`expected an error, got output ${serialise(o.output.payload).slice(0, 300)}`);
  return { ...o.error, statuses: o.statuses };
}
