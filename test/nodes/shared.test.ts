// The runtime helpers every node shares, without a Node-RED runtime: the JSON-safe output path,
// the server link's hooks, and the value readers moved out of the EPG node.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { HtsUuid } from '../../src/htsp';
import type { NodeMessage, NodeStatus } from 'node-red';
import { plainMessage, plainOutput } from '../../src/nodes/shared/output';
import { linkServer } from '../../src/nodes/shared/link';
import { channelRef, describe as describeValue, parseTime, whenReady } from '../../src/nodes/shared';
import type { HtspSession, NodeAPI, Node, StatusUser, TvheadendServerNode } from '../../src/nodes/shared';

describe('messages leave JSON-safe', () => {
  it('bigint and UUID values in payload and previous become text; the rest of the message is left alone', () => {
    const request: Record<string, unknown> = { url: '/x' };
    request.self = request; // an HTTP request object of a flow: circular, must not be walked
    const uuid = new HtsUuid(Buffer.alloc(16, 0xab));
    const cached = { id: 1, files: [{ fsid: 2n ** 60n, size: 10 }] };
    const msg: NodeMessage & Record<string, unknown> = { payload: cached, previous: { u: uuid }, req: request, topic: 't' };
    const out = plainMessage(msg);
    assert.equal(JSON.stringify({ p: out.payload, q: out.previous }), `{"p":{"id":1,"files":[{"fsid":"${2n ** 60n}","size":10}]},"q":{"u":"${'ab'.repeat(16)}"}}`);
    assert.equal(out.req, request);
    assert.equal(typeof cached.files[0].fsid, 'bigint', 'the cache object itself is not changed');
  });

  it('handles every shape of send(): one message, one per output, several on one output, none', () => {
    const big = (): NodeMessage => ({ payload: 5n });
    const single = plainOutput(big()) as NodeMessage;
    assert.equal(single.payload, '5');
    const many = plainOutput([big(), null, [big(), { payload: Buffer.from('a') }]]) as Array<NodeMessage | NodeMessage[] | null>;
    assert.equal((many[0] as NodeMessage).payload, '5');
    assert.equal(many[1], null);
    assert.equal((many[2] as NodeMessage[])[0].payload, '5');
    assert.ok(Buffer.isBuffer((many[2] as NodeMessage[])[1].payload), 'buffers stay buffers');
  });
});

/** A config node stand-in that records what the link does with it. */
function fakeServer(): TvheadendServerNode & { users: StatusUser[]; left: string[] } {
  const users: StatusUser[] = [];
  const left: string[] = [];
  const server = {
    id: 'srv',
    type: 'tvheadend-server',
    session: new EventEmitter() as unknown as HtspSession,
    currentStatus: { fill: 'green', shape: 'dot', text: 'connected' } as NodeStatus,
    users,
    left,
    register(user: StatusUser) {
      users.push(user);
      user.status(server.currentStatus);
    },
    deregister(user: StatusUser) {
      left.push(user.id);
      return Promise.resolve();
    },
    secrets: () => ['pw'],
  };
  return server as unknown as TvheadendServerNode & { users: StatusUser[]; left: string[] };
}

function fakeNode(): Node & { shown: NodeStatus[]; close(): Promise<void> } {
  const emitter = new EventEmitter();
  const shown: NodeStatus[] = [];
  const node = {
    id: 'n1',
    shown,
    status: (s: NodeStatus) => shown.push(s),
    on: (event: string, fn: (...args: unknown[]) => void) => emitter.on(event, fn),
    close: () => new Promise<void>((resolve) => emitter.emit('close', false, resolve)),
  };
  return node as unknown as Node & { shown: NodeStatus[]; close(): Promise<void> };
}

function fakeRED(server: TvheadendServerNode): NodeAPI {
  return { nodes: { getNode: (id: string) => (id === server.id ? server : null) } } as unknown as NodeAPI;
}

describe('linkServer', () => {
  it('shows the node’s own status for the session’s, once per change, and errors over it', () => {
    const server = fakeServer();
    const node = fakeNode();
    let extra = 'idle';
    const link = linkServer(fakeRED(server), node, 'srv', { statusFor: (s) => ({ ...s, text: `${s.text} ${extra}` }) });
    assert.ok(link);
    assert.deepEqual(node.shown.map((s) => s.text), ['connected idle']);
    link.refresh();
    assert.equal(node.shown.length, 1, 'an unchanged status is not sent again');
    extra = 'busy';
    link.refresh();
    link.showError('bad input');
    link.refresh();
    link.clearError();
    assert.deepEqual(node.shown.map((s) => s.text), ['connected idle', 'connected busy', 'bad input', 'connected busy']);
    server.users[0].status({ fill: 'red', shape: 'ring', text: 'down' });
    assert.equal(node.shown[node.shown.length - 1].text, 'down busy');
  });

  it('runs beforeClose before leaving the server, and does not wait for it forever', async () => {
    const server = fakeServer();
    const node = fakeNode();
    const order: string[] = [];
    linkServer(fakeRED(server), node, 'srv', {
      beforeClose: () => {
        order.push('before');
        return new Promise<void>(() => undefined); // an unsubscribe nobody answers
      },
      beforeCloseMs: 50,
    });
    const started = Date.now();
    await node.close();
    assert.ok(Date.now() - started < 1000, 'the close finished');
    assert.deepEqual(order, ['before']);
    assert.deepEqual(server.left, ['n1'], 'deregistered after the bounded wait');
  });

  it('without a server node shows "no server configured"', () => {
    const node = fakeNode();
    assert.equal(linkServer(fakeRED(fakeServer()), node, 'missing'), undefined);
    assert.equal(node.shown[0].text, 'no server configured');
  });
});

describe('values from flows', () => {
  it('reads times, channel references and describes what it refuses', () => {
    assert.equal(parseTime(1700000000, 't'), 1700000000);
    assert.equal(parseTime(1700000000123, 't'), 1700000000);
    assert.equal(parseTime('2023-11-14T22:13:20Z', 't'), 1700000000);
    assert.throws(() => parseTime('soon', 't'), /not a valid time/);
    assert.equal(channelRef(' Sim One HD '), 'Sim One HD');
    assert.throws(() => channelRef({}), /must be a channel name, number or id, got an object/);
    assert.equal(describeValue(undefined), 'nothing');
  });

  it('whenReady fails at once for a session that is down, waits for one on its way', async () => {
    const session = Object.assign(new EventEmitter(), { state: 'disconnected', status: { state: 'disconnected' } }) as unknown as HtspSession & {
      state: string;
    };
    await assert.rejects(whenReady(session, 1000), (e: { code?: string }) => e.code === 'disconnected');
    (session as { state: string }).state = 'syncing';
    const waiting = whenReady(session, 1000);
    (session as { state: string }).state = 'ready';
    session.emit('state', { state: 'ready' });
    await waiting;
    (session as { state: string }).state = 'connecting';
    await assert.rejects(whenReady(session, 30), (e: { code?: string }) => e.code === 'timeout');
  });
});
