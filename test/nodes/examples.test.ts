// Every example flow, deployed the way `npm start` deploys it (scripts/demo-flows.mjs) into a real
// Node-RED process against the simulator and a real MQTT broker: each inject button pressed in
// turn must bring a message to a debug node it leads to, and nothing may log an error. An example
// that imports cleanly but does nothing (a topic that no longer matches, a renamed action) fails.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { demoFlows, type DemoFlowNode } from '../../scripts/demo-flows.mjs';
import { TvheadendSimulator } from '../../src/sim';
import { AedesBroker } from '../mqtt/brokers';
import { startNodeRed, type RunningNodeRed } from '../helpers/node-red-process';
import { until } from '../helpers/sim-session';

interface DebugMessage {
  id: string;
  name?: string;
  format?: string;
  msg?: string;
}

let sim: TvheadendSimulator;
let broker: AedesBroker;
let red: RunningNodeRed;
let comms: WebSocket;
let flows: DemoFlowNode[] = [];
const debug: DebugMessage[] = [];

before(async () => {
  sim = new TvheadendSimulator({ port: 0 });
  const { port: simPort } = await sim.start();
  broker = new AedesBroker();
  await broker.start();
  const demo = demoFlows({ simPort, mqttPort: broker.port });
  flows = demo.flows;
  red = await startNodeRed({ install: 'link', flows, credentials: demo.credentials });
  comms = new WebSocket(`ws://127.0.0.1:${red.port}/comms`);
  await new Promise<void>((resolve, reject) => {
    comms.once('open', () => resolve());
    comms.once('error', reject);
  });
  comms.on('message', (data: Buffer) => {
    for (const m of JSON.parse(data.toString()) as Array<{ topic: string; data: DebugMessage }>) {
      if (m.topic === 'debug') debug.push(m.data);
    }
  });
  comms.send(JSON.stringify({ subscribe: 'debug' }));
  // Every server node must be connected before the buttons mean anything.
  await until(() => /connected to 127\.0\.0\.1:\d+ \(Tvheadend/.test(red.log()), 'the server node connected', 20_000);
});

after(async () => {
  comms?.close();
  await red?.stop();
  await broker?.stop();
  await sim?.stop();
});

/**
 * The debug nodes an inject leads to: along the wires, and from an `mqtt out` on to the
 * `mqtt in` nodes of its tab (the way back from the bridge goes through the broker).
 */
function debugNodesFrom(start: DemoFlowNode): Set<string> {
  const byId = new Map(flows.map((n) => [n.id, n]));
  const found = new Set<string>();
  const seen = new Set<string>();
  const queue = [start];
  while (queue.length > 0) {
    const n = queue.shift()!;
    if (seen.has(n.id)) continue;
    seen.add(n.id);
    if (n.type === 'debug') found.add(n.id);
    const next = (n.wires ?? []).flat().map((id) => byId.get(id));
    if (n.type === 'mqtt out') next.push(...flows.filter((m) => m.type === 'mqtt in' && m.z === n.z));
    for (const m of next) if (m) queue.push(m);
  }
  return found;
}

/**
 * What the press must bring where its debug node also gets messages of its own (a running
 * subscription's status, live changes): the stop of an unsubscribe, the marked snapshot.
 */
function expectedFrom(inject: DemoFlowNode): RegExp | undefined {
  const payload = String(inject.payload ?? '');
  if (/unsubscribe/.test(payload)) return /"topic":"stop"/;
  if (/snapshot/.test(payload)) return /"initial":true/;
  return undefined;
}

test('the demo deploys every example, one tab each, with no node left unconfigured', () => {
  const tabs = flows.filter((n) => n.type === 'tab');
  assert.ok(tabs.length >= 6, `${tabs.length} tabs`);
  assert.doesNotMatch(red.log(), /\[error\]/i);
  assert.doesNotMatch(red.log(), /missing node types|unknown type/i);
});

test('each inject of each example brings a message to its debug node, without an error', async () => {
  const injects = flows.filter((n) => n.type === 'inject');
  assert.ok(injects.length >= 6, `${injects.length} injects`);
  const tabName = (z: string | undefined): string => String(flows.find((n) => n.id === z)?.label ?? z);
  for (const inject of injects) {
    const what = `${tabName(inject.z)} / ${String(inject.name || inject.id)}`;
    const targets = debugNodesFrom(inject);
    assert.ok(targets.size > 0, `${what} leads to a debug node`);
    const from = debug.length;
    const res = await fetch(`http://127.0.0.1:${red.port}/inject/${inject.id}`, { method: 'POST' });
    assert.equal(res.status, 200, what);
    const shape = expectedFrom(inject);
    await until(
      () => debug.slice(from).some((m) => targets.has(m.id) && (!shape || shape.test(m.msg ?? ''))),
      `a debug message after "${what}"${shape ? ` matching ${String(shape)}` : ''}`,
      10_000,
    );
  }
  // A caught error (msg.error with its source), a refused MQTT command, or an error shown as such;
  // a DVR entry's own `error` field ("Aborted by user") is data, not a failure.
  const errors = debug.filter((m) => m.format === 'error' || /"error":\{"message"|"ok":false/.test(m.msg ?? ''));
  assert.deepEqual(errors, [], 'no message carried an error');
  assert.doesNotMatch(red.log(), /\[error\]/i, 'Node-RED logged an error');
});

test('the MQTT example answers its command on the reply topic', async () => {
  const replies = debug.filter((m) => /recordNow/.test(m.msg ?? '') && /"ok"\s*:\s*true/.test(m.msg ?? ''));
  assert.ok(replies.length >= 1, `a successful recordNow reply: ${JSON.stringify(debug.filter((m) => /recordNow/.test(m.msg ?? '')))}`);
});
