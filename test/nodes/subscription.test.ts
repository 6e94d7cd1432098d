// The tvheadend-subscription node against the simulator: subscribing by name and number,
// lifecycle and rate-limited status messages, packets only when asked for, unsubscribing,
// surviving a server restart, and bad input reaching a Catch node.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeMessage, NodeStatus } from 'node-red';
import serverModule = require('../../src/nodes/server/tvheadend-server');
import subscriptionModule = require('../../src/nodes/subscription/tvheadend-subscription');
import { parseCommand, parseSubscriptionSettings } from '../../src/nodes/subscription/commands';
import { NodeError } from '../../src/nodes/shared/errors';
import { helper, serverNode, serverOf as server, ready, tab, catchAll, credentials, waitFor, collect, statusesOf, delay, type FlowNode } from './helpers';
import { simPerSuite } from './suite';

const TAB: FlowNode = tab('subscription');
const NODES = [serverModule, subscriptionModule];
const LIFECYCLE = new Set(['start', 'status', 'grace', 'stop', 'signal', 'queue', 'descrambling', 'timeshift', 'skip', 'speed']);

type Msg = NodeMessage & {
  subscription?: { id: number; channelId?: number; channelName: string; channel: number | string };
  stream?: number;
  streamType?: string;
  pts?: number;
  dts?: number;
  duration?: number;
  frametype?: string;
};

function subNode(id: string, extra: Record<string, unknown> = {}): FlowNode {
  return {
    id,
    type: 'tvheadend-subscription',
    z: 'f1',
    name: '',
    server: 's1',
    channel: '',
    autoStart: true,
    profile: '',
    weight: '',
    rateLimit: 5,
    packets: false,
    outputs: 1,
    ...extra,
  };
}

/** Subscription nodes wired to `<id>-out` (and `<id>-pkt` with two outputs), a Catch node for all. */
function flow(port: number, nodes: FlowNode[]): FlowNode[] {
  const extra: FlowNode[] = [];
  const wired = nodes.map((n) => {
    extra.push({ id: `${n.id}-out`, type: 'helper', z: 'f1' });
    if (n.packets) extra.push({ id: `${n.id}-pkt`, type: 'helper', z: 'f1' });
    return { ...n, wires: n.packets ? [[`${n.id}-out`], [`${n.id}-pkt`]] : [[`${n.id}-out`]] };
  });
  return [
    TAB,
    serverNode('s1', port, { pingInterval: 0 }),
    ...wired,
    ...extra,
    ...catchAll(),
  ];
}

const topics = (msgs: Msg[], topic: string): Msg[] => msgs.filter((m) => m.topic === topic);

describe('tvheadend-subscription: commands (no runtime)', () => {
  const defaults = { channel: '', options: {} };
  it('accepts strings and objects, refuses everything else with bad-input', () => {
    assert.deepEqual(parseCommand('unsubscribe', defaults), { action: 'unsubscribe' });
    assert.deepEqual(parseCommand({ action: 'subscribe', channel: 'Sim News 24', weight: '150' }, defaults), {
      action: 'subscribe',
      channel: 'Sim News 24',
      options: { weight: 150 },
    });
    assert.deepEqual(parseCommand('subscribe', { channel: '3', options: { profile: 'pass' } }), {
      action: 'subscribe',
      channel: '3',
      options: { profile: 'pass' },
    });
    for (const bad of [undefined, 42, true, ['subscribe'], 'play', { channel: 1 }, { action: 'watch' }, { action: 'subscribe', weight: -1 }, { action: 'subscribe', channel: 1.5 }]) {
      assert.throws(
        () => parseCommand(bad, { channel: 'x', options: {} }),
        (err: unknown) => err instanceof NodeError && err.code === 'bad-input',
        JSON.stringify(bad),
      );
    }
    assert.throws(() => parseCommand('subscribe', defaults), /no channel/);
  });

  it('reads the node settings with defaults', () => {
    const s = parseSubscriptionSettings({ channel: ' Sim One HD ', rateLimit: '', packets: 'true', weight: '0' });
    assert.equal(s.channel, 'Sim One HD');
    assert.equal(s.rateLimitMs, 5000);
    assert.equal(s.packets, true);
    assert.deepEqual(s.options, {});
  });
});

describe('tvheadend-subscription: against the simulator', () => {
  const sim = simPerSuite({}, {
    // The node unsubscribes when it closes.
    afterUnload: (s) => waitFor(() => s.sim.subscriptionCount === 0, 'no subscription left at the server'),
  });

  it('subscribes by name from a message: start with streams, status, then watching', async () => {
    await helper.load(NODES, flow(sim.port, [subNode('n1')]), credentials('s1'));
    const got = collect('n1-out') as Msg[];
    const statuses: NodeStatus[] = statusesOf('n1');
    await ready();
    const ch = sim.sim.channels[1];
    helper.getNode('n1').receive({ payload: { action: 'subscribe', channel: ch.name.toUpperCase() } });
    await waitFor(() => topics(got, 'start').length === 1, 'the start message');
    const start = topics(got, 'start')[0];
    const streams = (start.payload as { streams: Array<{ index: number; type: string }> }).streams;
    assert.deepEqual(
      streams.map((s) => s.type),
      ['H264', 'AAC'],
    );
    assert.equal(start.subscription?.channelId, ch.id);
    assert.equal(start.subscription?.channelName, ch.name);
    assert.ok((start.subscription?.id ?? 0) > 0);
    assert.ok(topics(got, 'grace').length >= 1, 'grace came before the start');
    assert.ok(got.every((m) => LIFECYCLE.has(String(m.topic))), 'one output, lifecycle messages only');
    await waitFor(() => statuses.some((s) => s.text === `watching ${ch.name}`), 'the "watching" status');
    assert.equal(sim.sim.subscriptionCount, 1);
  });

  it('subscribes by number on deploy; signal and queue messages are rate-limited', async () => {
    const ch = sim.sim.channels[0];
    assert.equal(ch.input, 'dvb', 'a tuner channel, which reports its signal');
    const limitMs = 2000;
    await helper.load(NODES, flow(sim.port, [subNode('n2', { channel: String(ch.number), rateLimit: limitMs / 1000 })]), credentials('s1'));
    const got = collect('n2-out') as Msg[];
    const arrivals: Array<{ topic: string; at: number }> = [];
    helper.getNode('n2-out').on('input', (m: NodeMessage) => arrivals.push({ topic: String(m.topic), at: Date.now() }));
    await waitFor(() => topics(got, 'start').length === 1, 'the start message', 10_000);
    assert.equal(topics(got, 'start')[0].subscription?.channelId, ch.id);
    const t0 = Date.now();
    const queueBefore = topics(got, 'queue').length;
    const signalBefore = topics(got, 'signal').length;
    await delay(5200);
    const windowMs = Date.now() - t0;
    const queues = topics(got, 'queue').length - queueBefore;
    const signals = topics(got, 'signal').length - signalBefore;
    // The simulator reports both every second, so how many pass depends on how its ticks fall
    // against the window; what the limit guarantees is an upper bound and a minimum spacing.
    const most = Math.ceil(windowMs / limitMs) + 1;
    for (const [kind, n] of [['queue', queues], ['signal', signals]] as const) {
      assert.ok(n >= 1 && n <= most, `${n} ${kind} messages in ${windowMs} ms with a ${limitMs} ms limit (at most ${most})`);
      const times = arrivals.filter((a) => a.topic === kind).map((a) => a.at);
      for (let i = 1; i < times.length; i++) {
        // Measured on arrival, after Node-RED's message queue, which a busy machine may bunch up;
        // without the limit they would come a second (half the limit) apart or less.
        assert.ok(times[i] - times[i - 1] > limitMs / 2, `${kind} messages ${times[i] - times[i - 1]} ms apart with a ${limitMs} ms limit`);
      }
    }
    const signal = topics(got, 'signal')[0].payload as Record<string, unknown>;
    assert.equal(signal.feStatus, 'GOOD');
    assert.equal(signal.subscriptionId, undefined, 'routing fields are not part of the payload');
  });

  it('emits packets on a second output only when enabled, never without it', async () => {
    const [ch0, ch1] = sim.sim.channels;
    const nodes = [subNode('with', { channel: ch0.name, packets: true, outputs: 2 }), subNode('without', { channel: ch1.name })];
    await helper.load(NODES, flow(sim.port, nodes), credentials('s1'));
    const life = collect('with-out') as Msg[];
    const packets = collect('with-pkt') as Msg[];
    const other = collect('without-out') as Msg[];
    await waitFor(() => packets.length >= 30 && topics(other, 'start').length === 1, 'packets and the other start', 10_000);
    await delay(500);
    assert.ok(life.every((m) => m.topic !== 'packet'), 'no packet on output 1');
    assert.ok(topics(life, 'start').length === 1);
    assert.ok(packets.every((m) => m.topic === 'packet' && Buffer.isBuffer(m.payload)));
    const video = packets.filter((m) => m.streamType === 'H264');
    const audio = packets.filter((m) => m.streamType === 'AAC');
    assert.ok(video.length > 0 && audio.length > 0, 'video and audio packets');
    assert.ok(video.every((m) => m.stream === 1 && ['I', 'P', 'B'].includes(String(m.frametype))));
    assert.ok(audio.every((m) => m.frametype === undefined));
    assert.ok(packets.every((m) => typeof m.pts === 'number' && typeof m.dts === 'number' && typeof m.duration === 'number'));
    assert.equal(packets[0].subscription?.channelId, ch0.id);
    assert.ok(other.length > 0 && other.every((m) => m.topic !== 'packet'), 'the node without packets never sends one');
  });

  it('unsubscribes on command with a stop message', async () => {
    const ch = sim.sim.channels[2];
    await helper.load(NODES, flow(sim.port, [subNode('n3', { channel: ch.name })]), credentials('s1'));
    const got = collect('n3-out') as Msg[];
    await waitFor(() => topics(got, 'start').length === 1, 'the start message', 10_000);
    assert.equal(sim.sim.subscriptionCount, 1);
    helper.getNode('n3').receive({ payload: 'unsubscribe' });
    await waitFor(() => topics(got, 'stop').length === 1, 'the stop message');
    assert.equal((topics(got, 'stop')[0].payload as { reason: string }).reason, 'unsubscribed');
    await waitFor(() => sim.sim.subscriptionCount === 0, 'the server to drop the subscription');
    const count = got.length;
    await delay(1200);
    assert.equal(got.length, count, 'nothing after the stop');
  });

  it('unsubscribes when the node is removed while the shared session stays up', async () => {
    const ch = sim.sim.channels[3];
    const nodes = flow(sim.port, [subNode('gone', { channel: ch.name }), subNode('stays')]);
    await helper.load(NODES, nodes, credentials('s1'));
    const got = collect('gone-out') as Msg[];
    await waitFor(() => topics(got, 'start').length === 1, 'the start message', 10_000);
    assert.equal(sim.sim.subscriptionCount, 1);
    const session = server().session;
    await helper.setFlows(
      nodes.filter((n) => n.id !== 'gone' && n.id !== 'gone-out'),
      'nodes',
      credentials('s1'),
    );
    await waitFor(() => sim.sim.subscriptionCount === 0, 'the server to drop the subscription');
    assert.equal(server().session, session, 'the same session');
    assert.equal(session.state, 'ready', 'still connected: the node unsubscribed, the connection did not end');
  });

  it('survives a simulator restart: reconnecting, then a new start', async () => {
    const ch = sim.sim.channels[1];
    await helper.load(NODES, flow(sim.port, [subNode('n4', { channel: ch.name })]), credentials('s1'));
    const got = collect('n4-out') as Msg[];
    const statuses: NodeStatus[] = statusesOf('n4');
    await waitFor(() => topics(got, 'start').length === 1, 'the first start', 10_000);
    const firstId = topics(got, 'start')[0].subscription?.id;
    await sim.sim.restart({ downtimeMs: 300 });
    await waitFor(() => topics(got, 'start').length === 2, 'a start after the reconnect', 15_000);
    const stop = topics(got, 'stop')[0];
    assert.equal((stop.payload as { reason: string }).reason, 'reconnecting');
    assert.ok(statuses.some((s) => s.text === 'reconnecting'), `statuses: ${statuses.map((s) => s.text).join(' | ')}`);
    await waitFor(() => statuses[statuses.length - 1]?.text === `watching ${ch.name}`, 'watching again');
    const second = topics(got, 'start')[1];
    assert.equal(second.subscription?.channelId, ch.id);
    assert.ok(typeof firstId === 'number' && second.subscription?.id !== undefined, 'both starts name their subscription');
    assert.equal(sim.sim.subscriptionCount, 1, 'one subscription at the server, not two');
  });

  it('bad input reaches a Catch node with code bad-input and a clear message', async () => {
    await helper.load(NODES, flow(sim.port, [subNode('n5')]), credentials('s1'));
    const caught = collect('caught');
    const statuses: NodeStatus[] = statusesOf('n5');
    await ready();
    const cases: Array<[unknown, RegExp]> = [
      [{ action: 'subscribe', channel: 'No Such Channel' }, /no channel "No Such Channel"/],
      [12345, /msg\.payload must be "subscribe", "unsubscribe"/],
      [{ channel: 'Sim One HD' }, /action is missing/],
      ['subscribe', /no channel: set one in the node/],
      [{ action: 'subscribe', channel: 'Sim One HD', weight: 'heavy' }, /weight must be a number/],
    ];
    for (const [payload, pattern] of cases) {
      const n = caught.length;
      helper.getNode('n5').receive({ payload });
      await waitFor(() => caught.length === n + 1, `the error for ${JSON.stringify(payload)}`);
      const error = caught[n].error as { message: string; code: string };
      assert.equal(error.code, 'bad-input', JSON.stringify(payload));
      assert.match(error.message, pattern);
    }
    assert.ok(statuses.some((s) => s.fill === 'red' && s.shape === 'ring'), 'a red ring');
    assert.equal(sim.sim.subscriptionCount, 0);
  });
});
