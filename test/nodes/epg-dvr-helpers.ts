// Node-RED test harness for the EPG and DVR nodes: one simulator, a server node pointing at it,
// the node under test wired to a helper node, and a Catch node for its errors.
import type { EventEmitter } from 'node:events';
import helper from 'node-red-node-test-helper';
import type { NodeMessage, NodeStatus } from 'node-red';
import { TvheadendSimulator, type SimOptions } from '../../src/sim';
import serverNode from '../../src/nodes/server/tvheadend-server';
import epgNode from '../../src/nodes/epg/tvheadend-epg';
import dvrNode from '../../src/nodes/dvr/tvheadend-dvr';
import type { TvheadendServerNode } from '../../src/nodes/shared/types';

// CI runs these suites on Node-RED 4.1 and again on Node-RED 5.
helper.init(process.env.NODE_RED_PATH ?? require.resolve('node-red'));

export { helper };
export const NODES = [serverNode, epgNode, dvrNode];

/** A node of a test flow. */
export type FlowNode = { id: string; type: string; wires?: string[][] } & Record<string, unknown>;

export const SERVER = 'srv';
export const UNDER_TEST = 'under-test';
export const OUT = 'out';
export const ERRORS = 'errors';

export async function startSim(opts: SimOptions = {}): Promise<TvheadendSimulator> {
  const sim = new TvheadendSimulator({ port: 0, ...opts });
  await sim.start();
  return sim;
}

export function serverDef(id: string, port: number, extra: Record<string, unknown> = {}): FlowNode {
  return { id, type: 'tvheadend-server', name: `server ${id}`, host: '127.0.0.1', port, epg: true, epgDays: 0, pingInterval: 0, requestTimeout: 5, version: 1, ...extra };
}

/**
 * The node under test (`def`, given an id and wiring here) with an output helper and a Catch
 * node scoped to it. Extra nodes (a second server, a second node under test) can be added.
 */
export function flow(port: number, def: Record<string, unknown>, extra: FlowNode[] = []): FlowNode[] {
  return [
    serverDef(SERVER, port),
    { server: SERVER, type: 'tvheadend-epg', ...def, id: UNDER_TEST, wires: [[OUT]] },
    { id: OUT, type: 'helper' },
    // One Catch node for every node of the flow: the test helper cannot load a second one.
    { id: 'catch-1', type: 'catch', scope: null, uncaught: false, wires: [[ERRORS]] },
    { id: ERRORS, type: 'helper' },
    ...extra,
  ];
}

export const DEMO = { username: 'demo', password: 'demo' };

export async function load(nodes: FlowNode[], credentials: Record<string, Record<string, string>> = {}): Promise<void> {
  const creds: Record<string, Record<string, string>> = {};
  for (const n of nodes) if (n.type === 'tvheadend-server') creds[String(n.id)] = DEMO;
  await helper.load(NODES, nodes, { ...creds, ...credentials });
}

export function serverNodeOf(id = SERVER): TvheadendServerNode {
  return helper.getNode(id) as unknown as TvheadendServerNode;
}

/** Waits until the server node's session is ready (and its first sync is in). */
export async function ready(id = SERVER, timeoutMs = 10_000): Promise<TvheadendServerNode> {
  const server = serverNodeOf(id);
  const deadline = Date.now() + timeoutMs;
  while (server.session.state !== 'ready') {
    if (Date.now() > deadline) throw new Error(`server ${id} not ready: ${server.session.state}`);
    await delay(20);
  }
  return server;
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(20);
  }
}

export interface CaughtError {
  message: string;
  code?: string;
  source?: { id: string; type: string };
}

export type Outcome = { output: NodeMessage & Record<string, unknown>; error?: undefined } | { output?: undefined; error: CaughtError; statuses: NodeStatus[] };

/**
 * Sends `msg` to a node and resolves with what came out: the output message, or the error the
 * Catch node received (with the statuses the node showed meanwhile).
 */
export function ask(msg: Record<string, unknown>, opts: { node?: string; out?: string; errors?: string; timeoutMs?: number } = {}): Promise<Outcome> {
  const target = helper.getNode(opts.node ?? UNDER_TEST);
  // The helper reports every status() call as a `call:status` event on the node.
  const spied = target as unknown as EventEmitter;
  const out = helper.getNode(opts.out ?? OUT);
  const errors = helper.getNode(opts.errors ?? ERRORS);
  const statuses: NodeStatus[] = [];
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      out.removeListener('input', onOut);
      errors.removeListener('input', onError);
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
      reject(new Error(`no output and no error within ${opts.timeoutMs ?? 10_000} ms for ${JSON.stringify(msg)}`));
    }, opts.timeoutMs ?? 10_000);
    out.on('input', onOut);
    errors.on('input', onError);
    spied.on('call:status', onStatus);
    target.receive(msg);
  });
}

/** The output's payload; fails the test with the caught error if there was one. */
export async function result<T = unknown>(msg: Record<string, unknown>, opts?: Parameters<typeof ask>[1]): Promise<{ payload: T; msg: Record<string, unknown> }> {
  const o = await ask(msg, opts);
  if (o.error) throw new Error(`expected an output, got error ${o.error.code}: ${o.error.message}`);
  return { payload: o.output.payload as T, msg: o.output };
}

/** The caught error; fails the test if the node produced an output instead. */
export async function failure(msg: Record<string, unknown>, opts?: Parameters<typeof ask>[1]): Promise<CaughtError & { statuses: NodeStatus[] }> {
  const o = await ask(msg, opts);
  if (!o.error) throw new Error(`expected an error, got output ${JSON.stringify(o.output.payload).slice(0, 300)}`);
  return { ...o.error, statuses: o.statuses };
}
