import { test, describe, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { HtspSubscription, Packet, SubscriptionStartInfo, SubscriptionStopInfo } from '../src/htsp/subscription';
import type { SubscribeReply } from '../src/htsp/messages';
import { HtspError } from '../src/htsp/errors';
import type { HtsmsgMap } from '../src/htsp/codec';
import type { HtspSession } from '../src/htsp/session';
import { ScriptedServer, type ScriptedConnection } from './helpers/scripted-server';
import { newSession, onCleanup, readySession, sleep, startSim, until, waitFor, withSimSession } from './helpers/sim-session';

/** A scripted server whose metadata is one channel, for precise control of streaming messages. */
async function scripted(t: TestContext, onSubscribe?: (req: HtsmsgMap, c: ScriptedConnection) => HtsmsgMap | undefined): Promise<ScriptedServer> {
  const s = new ScriptedServer({
    handlers: {
      enableAsyncMetadata: (_req, c) => {
        setTimeout(() => {
          c.send({ method: 'channelAdd', channelId: 7, channelNumber: 1, channelName: 'Seven', eventId: 0, nextEventId: 0, services: [], tags: [] });
          c.send({ method: 'initialSyncCompleted' });
        }, 0);
        return {};
      },
      subscribe: (req, c) => (onSubscribe ? onSubscribe(req, c) : {}),
    },
  });
  await s.start();
  onCleanup(t, () => s.stop());
  return s;
}

/** The latest subscribe the scripted server accepted: its connection and subscription id. */
interface Subscriber {
  conn?: ScriptedConnection;
  sid: number;
}

/**
 * A scripted server that accepts every subscribe (and then does `after`, if given) and a ready
 * session to it; `subscriber` is whom the test speaks to as the server.
 */
async function accepting(
  t: TestContext,
  after?: (c: ScriptedConnection, sid: number) => void,
): Promise<{ server: ScriptedServer; session: HtspSession; subscriber: Subscriber }> {
  const subscriber: Subscriber = { sid: 0 };
  const server = await scripted(t, (req, c) => {
    subscriber.conn = c;
    subscriber.sid = req.subscriptionId as number;
    after?.(c, subscriber.sid);
    return {};
  });
  return { server, session: await readySession(t, server.port), subscriber };
}

function muxpkt(subscriptionId: number, n: number): HtsmsgMap {
  return { method: 'muxpkt', subscriptionId, stream: 1, com: 0, pts: n, dts: n, duration: 1, payload: Buffer.from([n & 0xff]) };
}

describe('with the simulator', () => {
  test('subscribe by name: start with streams, packets, queue status; unsubscribe ends it', async (t) => {
    const { sim: s, session: sess } = await withSimSession(t);
    const ch = s.channels[1];
    const sub = sess.subscribe(ch.name);
    assert.equal(sub.state, 'pending');
    const started = waitFor<SubscriptionStartInfo>(sub, 'start');
    const packets: Packet[] = [];
    sub.on('packet', (p) => packets.push(p));
    const info = await started;
    assert.equal(sub.state, 'running');
    assert.equal(sub.channelId, ch.id);
    assert.ok(info.streams.length >= 1);
    assert.deepEqual(sub.streams, info.streams);
    await waitFor(sub, 'queue');
    await until(() => packets.length > 0, 'packets');
    assert.ok(Buffer.isBuffer(packets[0].payload));
    assert.equal(packets[0].subscriptionId, sub.id);
    assert.equal(s.subscriptionCount, 1);
    const stops: SubscriptionStopInfo[] = [];
    sub.on('stop', (i) => stops.push(i));
    await sub.unsubscribe();
    const n = packets.length;
    await sleep(300);
    assert.equal(packets.length, n, 'nothing after unsubscribe');
    assert.equal(sub.state, 'closed');
    assert.deepEqual(stops.map((x) => x.reason), ['unsubscribed']);
    assert.equal(s.subscriptionCount, 0);
  });

  test('without a packet listener nothing is decoded, and nothing counts as dropped', async (t) => {
    const { sim: s, session: sess } = await withSimSession(t);
    const sub = sess.subscribe(s.channels[0].id);
    await waitFor(sub, 'start');
    await until(() => sub.ignoredPackets > 0, 'packets nobody listens for');
    assert.equal(sub.ignoredPackets, sub.receivedPackets);
    assert.equal(sub.droppedPackets, 0);
  });

  test('a paused consumer: the buffer stays bounded, drops are counted, order is kept', async (t) => {
    const { sim: s, session: sess } = await withSimSession(t, { bitrate: 4_000_000 });
    const sub = sess.subscribe(s.channels[1].id, { packetBufferLimit: 10 });
    const got: Packet[] = [];
    sub.on('packet', (p) => got.push(p));
    await waitFor(sub, 'start');
    sub.pause();
    const received0 = sub.receivedPackets;
    const delivered0 = got.length;
    await waitFor(sub, 'queue', () => sub.receivedPackets - received0 > 30, 5000);
    assert.equal(sub.bufferedPackets, 10, 'never more than the limit');
    const arrived = sub.receivedPackets - received0;
    assert.equal(sub.droppedPackets, arrived - 10);
    assert.equal(got.length, delivered0, 'nothing delivered while paused');
    sub.resume();
    await until(() => got.length - delivered0 >= 10, 'the buffered packets after resume');
    const afterResume = got.slice(delivered0);
    const dtsOf = (p: Packet): number => (typeof p.dts === 'number' ? p.dts : 0);
    const buffered = afterResume.slice(0, 10).filter((p) => p.stream === afterResume[0].stream);
    for (let i = 1; i < buffered.length; i++) assert.ok(dtsOf(buffered[i]) >= dtsOf(buffered[i - 1]), 'delivered in order');
  });

  test('server restart mid-subscription: stop(reconnecting), then start again with a new id', async (t) => {
    const { sim: s, session: sess } = await withSimSession(t);
    const sub = sess.subscribe(s.channels[2].id);
    let packets = 0;
    sub.on('packet', () => packets++);
    await waitFor(sub, 'start');
    const firstId = sub.id;
    const stop = waitFor<SubscriptionStopInfo>(sub, 'stop');
    await s.restart({ downtimeMs: 100 });
    assert.equal((await stop).reason, 'reconnecting');
    assert.equal(sub.state, 'pending');
    await waitFor(sub, 'start');
    assert.equal(sub.state, 'running');
    assert.notEqual(sub.id, firstId);
    const n = packets;
    await until(() => packets > n, 'packets flowing again');
    assert.equal(s.subscriptionCount, 1);
  });

  test('an unknown channel fails the subscription with an error event', async (t) => {
    const s = await startSim(t);
    const sess = newSession(t, s.port);
    const sub = sess.subscribe('No Such Channel');
    const err = waitFor<HtspError>(sub, 'error');
    sess.start();
    assert.equal((await err).code, 'bad-input');
    assert.equal(sub.state, 'closed');
  });

  test('subscribing before the session is ready starts once it is', async (t) => {
    const s = await startSim(t);
    const sess = newSession(t, s.port);
    const sub = sess.subscribe(s.channels[3].name);
    sess.start();
    await waitFor(sub, 'start');
    assert.equal(sub.channelId, s.channels[3].id);
  });
});

describe('the session\'s view of its subscriptions', () => {
  test('subscriptions(): channel, state, streams, source and the last signal/queue figures', async (t) => {
    const { sim: s, session: sess } = await withSimSession(t, { channels: [{ name: 'Tuner One', input: 'dvb' }, { name: 'Web Two', input: 'iptv' }] });
    assert.deepEqual(sess.subscriptions(), []);
    const [tuner, web] = s.channels;
    const a = sess.subscribe('Tuner One');
    const before = sess.subscriptions();
    assert.equal(before.length, 1);
    assert.equal(before[0], a);
    assert.equal(a.channelRef, 'Tuner One');
    assert.equal(sess.subscriptions()[0].lastSignal, undefined, 'no figures before the server sends any');
    await waitFor(a, 'signal', () => a.lastQueue !== undefined);
    const b = sess.subscribe(web.id);
    await waitFor(b, 'start');
    await waitFor(b, 'queue');
    assert.equal(before.length, 1, 'an earlier view does not change');
    assert.ok(Object.isFrozen(before));

    const view = sess.subscriptions();
    assert.deepEqual(view.map((x) => [x.channelId, x.channelRef, x.state]), [
      [tuner.id, 'Tuner One', 'running'],
      [web.id, web.id, 'running'],
    ]);
    assert.equal(a.lastSignal?.feStatus, 'GOOD');
    assert.equal(typeof a.lastSignal?.feSNR, 'number');
    assert.equal(typeof a.lastQueue?.packets, 'number');
    assert.equal(a.lastQueue?.subscriptionId, a.id);
    assert.ok(a.streams.length >= 1);
    assert.equal(a.sourceInfo?.adapter_uuid !== undefined, true);
    assert.equal(b.lastSignal, undefined, 'IPTV never reports a signal');

    // A lost connection clears the live figures: an old one would pass for a live one.
    const suspended = waitFor<SubscriptionStopInfo>(a, 'stop');
    s.dropConnections();
    assert.equal((await suspended).reason, 'reconnecting');
    assert.equal(a.lastSignal, undefined);
    assert.equal(a.lastQueue, undefined);
    assert.equal(sess.subscriptions().length, 2, 'still kept: they come back after the reconnect');
    await waitFor(a, 'signal');

    await a.unsubscribe();
    assert.deepEqual(sess.subscriptions(), [b]);
    assert.equal(a.lastQueue, undefined);
  });

  test("'subscribed' on every accepted subscribe; accepted resolves once with the first reply", async (t) => {
    const { sim: s, session: sess } = await withSimSession(t);
    const sub = sess.subscribe(s.channels[0].id, { timeshiftPeriod: 60 });
    const replies: SubscribeReply[] = [];
    sub.on('subscribed', (r) => replies.push(r));
    const reply = await sub.accepted;
    assert.equal(reply.timeshiftPeriod, 60);
    assert.equal(replies.length, 1);
    await waitFor(sub, 'start');
    s.dropConnections();
    await waitFor(sub, 'subscribed');
    assert.equal(replies.length, 2, 'the re-subscribe after the reconnect was accepted too');
    assert.equal(await sub.accepted, reply);
  });
});

/** Unhandled rejections and uncaught exceptions seen while `fn` runs (they must be none). */
async function crashesDuring(fn: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const onRejection = (r: unknown): void => void seen.push(r);
  const onException = (e: unknown): void => void seen.push(e);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  try {
    await fn();
    await sleep(50);
  } finally {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  }
  return seen;
}

describe('a refused subscribe', () => {
  test('server error: accepted rejects, error event when listened to, stop(error), gone from the list', async (t) => {
    const s = await scripted(t, () => ({ error: 'Channel does not exist' }));
    const sess = await readySession(t, s.port);
    const sub = sess.subscribe(7);
    const errors: HtspError[] = [];
    sub.on('error', (e) => errors.push(e));
    const stop = waitFor<SubscriptionStopInfo>(sub, 'stop');
    await assert.rejects(sub.accepted, (e: HtspError) => e instanceof HtspError && e.code === 'server' && /does not exist/.test(e.message));
    assert.deepEqual(errors.map((e) => e.code), ['server']);
    assert.equal((await stop).reason, 'error');
    assert.equal(sub.state, 'closed');
    assert.deepEqual(sess.subscriptions(), []);
    assert.equal(sess.state, 'ready');
  });

  test('nobody listening: no crash, no unhandled rejection, for every kind of refusal', async (t) => {
    const s = await scripted(t, (req): HtsmsgMap => (req.weight === 8 ? { noaccess: 1 } : { error: 'Channel does not exist' }));
    const sess = await readySession(t, s.port);
    const subs: HtspSubscription[] = [];
    const crashes = await crashesDuring(async () => {
      subs.push(sess.subscribe(7), sess.subscribe(7, { weight: 8 }), sess.subscribe('No Such Channel'));
      for (let i = 0; i < 100 && subs.some((x) => x.state !== 'closed'); i++) await sleep(20);
    });
    assert.deepEqual(crashes, []);
    assert.deepEqual(subs.map((x) => x.state), ['closed', 'closed', 'closed']);
    const codes = await Promise.all(subs.map((x) => x.accepted.then(() => 'accepted', (e: HtspError) => e.code)));
    assert.deepEqual(codes, ['server', 'noaccess', 'bad-input']);
    assert.deepEqual(sess.subscriptions(), []);
  });

  test('closed before the server answered: accepted rejects with disconnected', async (t) => {
    const s = await scripted(t, () => undefined);
    const sess = await readySession(t, s.port);
    const sub = sess.subscribe(7);
    await sleep(20);
    await sub.unsubscribe();
    await assert.rejects(sub.accepted, (e: HtspError) => e.code === 'disconnected');
    const late = sess.subscribe(7);
    await sess.stop();
    await assert.rejects(late.accepted, (e: HtspError) => e.code === 'disconnected');
  });
});

describe('with a scripted server', () => {
  test('subscriptionStart and queueStatus before the subscribe reply are delivered (G4)', async (t) => {
    let sid = 0;
    const s = await scripted(t, (req, c) => {
      sid = req.subscriptionId as number;
      c.send({ method: 'queueStatus', subscriptionId: sid, packets: 0, bytes: 0, delay: 0, Bdrops: 0, Pdrops: 0, Idrops: 0 });
      c.send({
        method: 'subscriptionStart',
        subscriptionId: sid,
        streams: [{ index: 1, type: 'H264' }],
        sourceinfo: { service: 'x' },
        meta: Buffer.from('cfg'),
      });
      c.send(muxpkt(sid, 1));
      return { timeshiftPeriod: 0 };
    });
    const sess = await readySession(t, s.port);
    const sub = sess.subscribe(7);
    const queue = waitFor(sub, 'queue');
    const start = waitFor<SubscriptionStartInfo>(sub, 'start');
    const packet = waitFor<Packet>(sub, 'packet');
    await queue;
    const info = await start;
    assert.deepEqual(info.meta, [Buffer.from('cfg')]);
    assert.equal(info.sourceinfo.service, 'x');
    assert.equal((await packet).pts, 1);
    await until(() => sub.reply !== undefined, 'the subscribe reply');
    assert.equal(sub.reply?.timeshiftPeriod, 0);
  });

  test('after unsubscribe, stray messages for the old id are ignored', async (t) => {
    const { session: sess, subscriber } = await accepting(t, (c, id) => {
      setTimeout(() => c.send({ method: 'subscriptionStart', subscriptionId: id, streams: [], sourceinfo: {} }), 0);
    });
    const sub = sess.subscribe(7);
    await waitFor(sub, 'start');
    const seen: string[] = [];
    for (const e of ['start', 'stop', 'status', 'packet', 'queue']) sub.on(e, () => seen.push(e));
    await sub.unsubscribe();
    assert.deepEqual(seen, ['stop']);
    subscriber.conn!.send({ method: 'subscriptionStop', subscriptionId: subscriber.sid, status: 'OK' });
    subscriber.conn!.send(muxpkt(subscriber.sid, 2));
    subscriber.conn!.send({ method: 'subscriptionStatus', subscriptionId: subscriber.sid, status: 'x' });
    // One socket keeps order: once this reply is in, the stray messages before it were handled.
    await sess.call('getSysTime', {});
    assert.deepEqual(seen, ['stop']);
    assert.equal(sess.state, 'ready');
  });

  test('server stop and restart of a source; control methods send the right fields', async (t) => {
    const { server: s, session: sess, subscriber } = await accepting(t);
    const sub = sess.subscribe(7, { weight: 100, profile: 'pass', timeshiftPeriod: 3600, queueDepth: 1000, ninetyKHz: true });
    await sub.accepted;
    const [subReq] = s.requestsFor('subscribe');
    assert.equal(subReq.channelId, 7);
    assert.equal(subReq.weight, 100);
    assert.equal(subReq.profile, 'pass');
    assert.equal(subReq['90khz'], 1);
    assert.equal(subReq.timeshiftPeriod, 3600);
    assert.equal(subReq.queueDepth, 1000);

    subscriber.conn!.send({ method: 'subscriptionStart', subscriptionId: subscriber.sid, streams: [], sourceinfo: {} });
    await waitFor(sub, 'start');
    subscriber.conn!.send({ method: 'subscriptionStop', subscriptionId: subscriber.sid, status: 'Source reconfigured', subscriptionError: 'x' });
    const stop = await waitFor<SubscriptionStopInfo>(sub, 'stop');
    assert.deepEqual(stop, { status: 'Source reconfigured', subscriptionError: 'x', reason: 'server' });
    assert.equal(sub.state, 'stopped');
    subscriber.conn!.send({ method: 'subscriptionStart', subscriptionId: subscriber.sid, streams: [], sourceinfo: {} });
    await waitFor(sub, 'start');
    assert.equal(sub.state, 'running');

    await sub.changeWeight(50);
    await sub.skip({ time: -5_000_000 });
    await sub.seek(123);
    await sub.speed(0);
    await sub.live();
    await sub.filterStreams({ disable: [2] });
    const last = (m: string): HtsmsgMap => s.requestsFor(m)[s.requestsFor(m).length - 1];
    assert.equal(last('subscriptionChangeWeight').weight, 50);
    assert.equal(last('subscriptionSkip').time, -5_000_000);
    assert.equal(last('subscriptionSkip').absolute, 0);
    assert.equal(last('subscriptionSeek').absolute, 1);
    assert.equal(last('subscriptionSpeed').speed, 0);
    assert.equal(last('subscriptionLive').subscriptionId, subscriber.sid);
    assert.deepEqual(last('subscriptionFilterStream').disable, [2]);
    await sub.unsubscribe();
    await assert.rejects(sub.speed(100), (e: HtspError) => e.code === 'bad-input');
  });

  test('status, grace, signal, skip, speed, timeshift and descramble map to their events', async (t) => {
    const { session: sess, subscriber } = await accepting(t);
    const sub = sess.subscribe(7);
    await sub.accepted;
    const seen: string[] = [];
    for (const e of ['status', 'grace', 'signal', 'skip', 'speed', 'timeshift', 'descramble']) sub.on(e, () => seen.push(e));
    subscriber.conn!.send({ method: 'subscriptionStatus', subscriptionId: subscriber.sid, status: 'No free adapter', subscriptionError: 'noFreeAdapter' });
    subscriber.conn!.send({ method: 'subscriptionGrace', subscriptionId: subscriber.sid, graceTimeout: 5 });
    subscriber.conn!.send({ method: 'signalStatus', subscriptionId: subscriber.sid, feStatus: 'GOOD' });
    subscriber.conn!.send({ method: 'subscriptionSkip', subscriptionId: subscriber.sid, time: 5 });
    subscriber.conn!.send({ method: 'subscriptionSpeed', subscriptionId: subscriber.sid, speed: 100 });
    subscriber.conn!.send({ method: 'timeshiftStatus', subscriptionId: subscriber.sid, full: 0, shift: 0 });
    subscriber.conn!.send({ method: 'descrambleInfo', subscriptionId: subscriber.sid, pid: 1, caid: 2, provid: 3, ecmtime: 4, hops: 0 });
    subscriber.conn!.send({ method: 'signalStatus', subscriptionId: subscriber.sid + 1000, feStatus: 'BAD' });
    await sess.call('getSysTime', {});
    assert.deepEqual(seen, ['status', 'grace', 'signal', 'skip', 'speed', 'timeshift', 'descramble']);
  });
});

describe('listener faults', () => {
  test('a packet listener that throws: contained per packet, delivery goes on, also from the buffer', async (t) => {
    const { session: sess, subscriber } = await accepting(t);
    const sub = sess.subscribe(7);
    await sub.accepted;
    const faults: unknown[] = [];
    sub.on('listenerError', (err) => faults.push(err));
    const got: number[] = [];
    sub.on('packet', (p) => {
      got.push(p.pts as number);
      throw new Error('consumer bug');
    });
    for (let i = 0; i < 3; i++) subscriber.conn?.send(muxpkt(subscriber.sid, i));
    await waitFor(sub, 'packet', (p: Packet) => p.pts === 2);
    sub.pause();
    for (let i = 3; i < 6; i++) subscriber.conn?.send(muxpkt(subscriber.sid, i));
    await until(() => sub.receivedPackets === 6, 'six packets received');
    assert.equal(sub.bufferedPackets, 3);
    sub.resume();
    await waitFor(sub, 'packet', (p: Packet) => p.pts === 5);
    await until(() => faults.length === 6, 'six listener faults');
    assert.deepEqual(got, [0, 1, 2, 3, 4, 5]);
    assert.equal(faults.length, 6);
    assert.equal(sess.state, 'ready');
  });
});

describe('packet buffer', () => {
  test('bounded by bytes as well as by count: the oldest go, drops are counted, the newest are kept', async (t) => {
    const { session: sess, subscriber } = await accepting(t);
    const sub = sess.subscribe(7, { packetBufferBytes: 10_000 });
    await sub.accepted;
    const got: number[] = [];
    sub.on('packet', (p) => got.push(p.pts as number));
    sub.pause();
    const big = (n: number): HtsmsgMap => ({ ...muxpkt(subscriber.sid, n), payload: Buffer.alloc(3000, n) });
    for (let i = 0; i < 10; i++) subscriber.conn?.send(big(i));
    await until(() => sub.receivedPackets === 10, 'ten packets received');
    assert.equal(sub.receivedPackets, 10);
    assert.equal(sub.bufferedPackets, 3, 'three 3 kB frames fit in 10 kB, a fourth does not');
    assert.ok(sub.bufferedBytes <= 10_000 && sub.bufferedBytes > 9000);
    assert.equal(sub.droppedPackets, 7);
    // A frame bigger than the whole budget is dropped on its own, the buffer kept.
    subscriber.conn?.send({ ...muxpkt(subscriber.sid, 99), payload: Buffer.alloc(20_000) });
    await until(() => sub.receivedPackets === 11, 'the oversized packet');
    assert.equal(sub.droppedPackets, 8);
    assert.equal(sub.bufferedPackets, 3);
    sub.resume();
    await until(() => got.length === 3, 'the buffered packets');
    assert.deepEqual(got, [7, 8, 9]);
    assert.equal(sub.bufferedBytes, 0);
  });
});
