// The tvheadend-call node against the simulator: replies, field merging, one shared connection,
// and every kind of failure reaching a Catch node with a code and without credentials.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeMessage } from 'node-red';
import serverModule = require('../../src/nodes/server/tvheadend-server');
import callModule = require('../../src/nodes/call/tvheadend-call');
import { mergeFields, methodFor } from '../../src/nodes/call/request';
import { NodeError, redact, toNodeError } from '../../src/nodes/shared/errors';
import { settleWithin } from '../../src/nodes/shared/timing';
import { HtspError } from '../../src/htsp';
import { isServerNode } from '../../src/nodes/shared/types';
import {
  helper,
  startSim,
  serverNode,
  credentials,
  waitFor,
  nextMessage,
  events,
  collect,
  loggedText,
  serialise,
  delay,
  PASSWORD,
  USER,
  ready,
  tab,
  catchAll,
  type FlowNode,
} from './helpers';
import { simPerSuite } from './suite';

const TAB: FlowNode = tab();
const nodes = [serverModule, callModule];

function call(id: string, extra: Record<string, unknown> = {}): FlowNode {
  return {
    id,
    type: 'tvheadend-call',
    z: 'f1',
    name: '',
    server: 's1',
    method: 'getSysTime',
    fields: '{}',
    fieldsType: 'json',
    timeout: '',
    wires: [['out']],
    ...extra,
  };
}

/** A call node wired to `out`, a Catch node for it wired to `caught`. */
function flow(port: number, ...calls: FlowNode[]): FlowNode[] {
  return [
    TAB,
    serverNode('s1', port),
    ...calls,
    { id: 'out', type: 'helper', z: 'f1' },
    ...catchAll(),
  ];
}

interface Caught extends NodeMessage {
  error: { message: string; code?: string; source: { id: string } };
}

/** Sends `msg` to node `id` and returns what the Catch node got. */
async function failWith(id: string, msg: NodeMessage): Promise<Caught> {
  const caught = nextMessage('caught');
  helper.getNode(id).receive(msg);
  return (await caught) as Caught;
}

describe('call request rules', () => {
  it('takes the method from the node, else from msg.topic, and refuses session methods', () => {
    assert.equal(methodFor('getSysTime', { topic: 'getDiskSpace' }), 'getSysTime');
    assert.equal(methodFor('', { topic: ' getDiskSpace ' }), 'getDiskSpace');
    assert.throws(() => methodFor('', {}), (e: NodeError) => e.code === 'bad-input' && /no method/.test(e.message));
    assert.throws(() => methodFor('', { topic: 'get sys time' }), (e: NodeError) => e.code === 'bad-input');
    assert.throws(() => methodFor('subscribe', {}), (e: NodeError) => e.code === 'bad-input' && /server node/.test(e.message));
  });

  it('lets the file methods through and says why handshake and subscription methods are refused', () => {
    for (const m of ['fileOpen', 'fileRead', 'fileSeek', 'fileStat', 'fileClose']) assert.equal(methodFor(m, {}), m);
    for (const m of ['hello', 'authenticate', 'enableAsyncMetadata']) {
      assert.throws(() => methodFor(m, {}), (e: NodeError) => e.code === 'bad-input' && /handshake/.test(e.message), m);
    }
    for (const m of ['subscribe', 'unsubscribe', 'subscriptionSkip', 'subscriptionFilterStream']) {
      assert.throws(() => methodFor('', { topic: m }), (e: NodeError) => e.code === 'bad-input' && /tvheadend-subscription node/.test(e.message), m);
    }
  });

  it('lays msg.payload over the node fields and accepts only objects', () => {
    assert.deepEqual(mergeFields({ a: 1, b: 2 }, { b: 3, c: null }), { a: 1, b: 3 });
    assert.deepEqual(mergeFields(undefined, undefined), {});
    assert.deepEqual(mergeFields({ a: 1 }, null), { a: 1 });
    for (const bad of [1717000000000, 'text', [1, 2], true, Buffer.from('x')]) {
      assert.throws(() => mergeFields({}, bad), (e: NodeError) => e.code === 'bad-input' && /msg.payload must be an object/.test(e.message));
    }
    assert.throws(() => mergeFields([1], undefined), (e: NodeError) => e.code === 'bad-input');
  });

  it('maps protocol errors to node codes and removes secrets', () => {
    assert.equal(toNodeError(new HtspError('auth-failed', 'x')).code, 'noaccess');
    assert.equal(toNodeError(new HtspError('protocol', 'x')).code, 'disconnected');
    assert.equal(toNodeError(new HtspError('timeout', 'x')).code, 'timeout');
    assert.equal(toNodeError(new Error('boom')).code, 'server');
    const e = toNodeError(new HtspError('noaccess', 'user "ab" with password hunter22 refused'), ['ab', 'hunter22']);
    assert.equal(e.message, 'user "***" with password *** refused');
    assert.equal(redact('tab "ab" table', ['ab']), 'tab "***" table');
    assert.equal(String(new NodeError('server', 'Method not found')), 'Method not found');
  });

  it('settleWithin gives up on a stop that never finishes', async () => {
    const t0 = Date.now();
    await settleWithin(() => new Promise<void>(() => undefined), 100);
    assert.ok(Date.now() - t0 < 1000);
    await settleWithin(() => {
      throw new Error('sync throw');
    }, 100);
  });
});

describe('tvheadend-call with the simulator', () => {
  const sim = simPerSuite({}, { beforeUnload: (s) => s.sim.setReplyDelay(0) });

  it('replies to getSysTime with the server clock and keeps the other message properties', async () => {
    await helper.load(nodes, flow(sim.port, call('c1')), credentials('s1'));
    await ready();
    const out = nextMessage('out');
    const before = sim.sim.now();
    helper.getNode('c1').receive({ payload: {}, correlation: 42 });
    const msg = await out;
    assert.equal(msg.topic, 'getSysTime');
    const reply = msg.payload as { time: number; gmtoffset?: number };
    assert.equal(typeof reply.time, 'number');
    // Bracketed rather than compared with a tolerance: a busy machine can take seconds to answer.
    assert.ok(reply.time >= before && reply.time <= sim.sim.now(), 'simulated clock');
    assert.equal(msg.correlation, 42);
  });

  it('takes the method from msg.topic and the fields from node JSON laid under msg.payload', async () => {
    const ch = sim.sim.channels;
    await helper.load(
      nodes,
      flow(sim.port, call('c1', { method: '' }), call('c2', { method: 'getChannel', fields: JSON.stringify({ channelId: ch[0].id }) })),
      credentials('s1'),
    );
    await ready();
    let out = nextMessage('out');
    helper.getNode('c1').receive({ topic: 'getDiskSpace' });
    let msg = await out;
    assert.equal(msg.topic, 'getDiskSpace');
    assert.equal(typeof (msg.payload as { freediskspace: number }).freediskspace, 'number');

    out = nextMessage('out');
    helper.getNode('c2').receive({ payload: {} });
    msg = await out;
    assert.equal((msg.payload as { channelName: string }).channelName, ch[0].name);

    out = nextMessage('out');
    helper.getNode('c2').receive({ payload: { channelId: ch[1].id } });
    msg = await out;
    assert.equal((msg.payload as { channelName: string }).channelName, ch[1].name, 'payload wins over node fields');
  });

  it('reads fields from msg when the fields type is msg', async () => {
    const ch = sim.sim.channels[2];
    await helper.load(nodes, flow(sim.port, call('c1', { method: 'getChannel', fields: 'request', fieldsType: 'msg' })), credentials('s1'));
    await ready();
    const out = nextMessage('out');
    helper.getNode('c1').receive({ request: { channelId: ch.id } });
    assert.equal(((await out).payload as { channelName: string }).channelName, ch.name);
  });

  it('answers a message sent right after deploy, before the session is ready', async () => {
    await helper.load(nodes, flow(sim.port, call('c1')), credentials('s1'));
    const server = helper.getNode('s1');
    assert.ok(isServerNode(server));
    assert.notEqual(server.session.state, 'ready', 'the message really is early');
    const out = nextMessage('out', 10_000);
    const caught = collect('caught');
    helper.getNode('c1').receive({ payload: {} });
    const msg = await out;
    assert.equal(msg.topic, 'getSysTime');
    assert.equal(typeof (msg.payload as { time: number }).time, 'number');
    assert.equal(caught.length, 0);
  });

  it('opens, reads and closes a finished recording through the file methods; subscribe is refused', async () => {
    const rec = sim.sim.dvrEntries.find((e) => e.state === 'completed' && e.dataSize > 0);
    assert.ok(rec, 'the simulator has a finished recording with a file');
    await helper.load(nodes, flow(sim.port, call('c1', { method: '' })), credentials('s1'));
    await ready();
    const ask = async (topic: string, payload: Record<string, unknown>): Promise<Record<string, unknown>> => {
      const out = nextMessage('out');
      helper.getNode('c1').receive({ topic, payload });
      return (await out).payload as Record<string, unknown>;
    };
    const opened = await ask('fileOpen', { file: `/dvrfile/${rec.id}` });
    assert.equal(typeof opened.id, 'number');
    assert.equal(Number(opened.size), rec.dataSize);
    const stat = await ask('fileStat', { id: opened.id });
    assert.equal(Number(stat.size), rec.dataSize);
    const read = await ask('fileRead', { id: opened.id, size: 188 });
    assert.ok(Buffer.isBuffer(read.data) && read.data.length > 0, 'file data');
    await ask('fileClose', { id: opened.id });

    const e = await failWith('c1', { topic: 'subscribe', payload: { channelId: sim.sim.channels[0].id } });
    assert.equal(e.error.code, 'bad-input');
    assert.match(e.error.message, /subscribe controls live subscriptions.*tvheadend-subscription node/);
    assert.equal(sim.sim.subscriptionCount, 0);
  });

  it('two call nodes on one server share one TCP connection', async () => {
    const before = sim.connections();
    await helper.load(nodes, flow(sim.port, call('c1'), call('c2', { method: 'getDiskSpace' })), credentials('s1'));
    await ready();
    const got = collect('out');
    helper.getNode('c1').receive({});
    helper.getNode('c2').receive({});
    await waitFor(() => got.length === 2, 'two replies');
    assert.deepEqual(got.map((m) => m.topic).sort(), ['getDiskSpace', 'getSysTime']);
    assert.equal(sim.connections() - before, 1);
    assert.equal(sim.sim.connectionCount, 1);
  });

  it('sends every bad input to a Catch node with a clear message and a code', async () => {
    await helper.load(
      nodes,
      flow(
        sim.port,
        call('c1'),
        call('c2', { method: '' }),
        call('c3', { method: 'getSysTim' }),
        call('c4', { method: 'subscribe' }),
        call('c5', { method: 'getChannel', fields: '{"channelId": ' }),
        call('c6', { method: 'getChannel', fields: '{"channelId": 1.5}' }),
      ),
      credentials('s1'),
    );
    await ready();

    let e = await failWith('c1', { payload: 1717000000000 });
    assert.equal(e.error.code, 'bad-input');
    assert.match(e.error.message, /msg.payload must be an object .* got a number/);
    assert.equal(e.error.source.id, 'c1');

    e = await failWith('c1', { payload: 'hello' });
    assert.equal(e.error.code, 'bad-input');

    e = await failWith('c2', { payload: {} });
    assert.equal(e.error.code, 'bad-input');
    assert.match(e.error.message, /no method/);

    e = await failWith('c3', {});
    assert.equal(e.error.code, 'server');
    assert.match(e.error.message, /Method not found/);

    e = await failWith('c4', {});
    assert.equal(e.error.code, 'bad-input');

    e = await failWith('c5', {});
    assert.equal(e.error.code, 'bad-input');
    assert.match(e.error.message, /not valid JSON/);

    e = await failWith('c6', {});
    assert.equal(e.error.code, 'bad-input');
    assert.match(e.error.message, /floating-point/);

    // The failing node shows it, and the next good message puts the connection status back.
    const c1 = helper.getNode('c1');
    const shown: string[] = [];
    events('c1').on('call:status', (c: { args: [{ text?: string }] }) => shown.push(c.args[0].text ?? ''));
    await failWith('c1', { payload: 'x' });
    await delay(10);
    assert.equal(shown[shown.length - 1], 'bad input');
    const out = nextMessage('out');
    c1.receive({});
    await out;
    await delay(10);
    assert.equal(shown[shown.length - 1], 'Tvheadend · HTSP 44');
  });

  it('reports timeout, noaccess and a server that is down with their codes', async () => {
    sim.sim.addUser({ username: 'viewer', password: 'viewer-pass', rights: { streaming: true, dvr: false, admin: false, allRecorder: false, failedRecorder: false } });
    await helper.load(nodes, flow(sim.port, call('c1', { timeout: '0.3' })), credentials('s1', 'viewer', 'viewer-pass'));
    await ready();
    sim.sim.setReplyDelay(1500, ['getSysTime']);
    let e = await failWith('c1', {});
    assert.equal(e.error.code, 'timeout');
    sim.sim.setReplyDelay(0);

    await helper.setFlows(flow(sim.port, call('c1', { method: 'getDvrConfigs' })), 'nodes', credentials('s1', 'viewer', 'viewer-pass'));
    await ready();
    e = await failWith('c1', {});
    assert.equal(e.error.code, 'noaccess');
  });

  it('fails with code disconnected while the server is down, and without a server node', async () => {
    const down = await startSim();
    await helper.load(nodes, [...flow(down.port, call('c1')), call('c9', { server: '' })], credentials('s1'));
    await waitFor(() => {
      const s = helper.getNode('s1');
      return isServerNode(s) && s.session.state === 'ready';
    }, 'ready');
    await down.stop();
    let e = await failWith('c1', {});
    assert.equal(e.error.code, 'disconnected');
    e = await failWith('c9', {});
    assert.equal(e.error.code, 'disconnected');
    assert.match(e.error.message, /no Tvheadend server configured/);
  });

  it('never puts the user name or password in replies, errors or the log', async () => {
    await helper.load(nodes, flow(sim.port, call('c1'), call('c2', { method: 'nope' })), credentials('s1'));
    await ready();
    const out = nextMessage('out');
    helper.getNode('c1').receive({});
    const reply = await out;
    const err = await failWith('c2', {});
    const text = serialise([reply, err]) + loggedText();
    assert.doesNotMatch(text, new RegExp(PASSWORD));
    assert.doesNotMatch(text, new RegExp(USER));
  });
});
