import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { HtspConnection, peekMuxpkt, type ConnectionOptions } from '../src/htsp/connection';
import { HtspError } from '../src/htsp/errors';
import { encodeBody, encodeFrame, type HtsmsgMap } from '../src/htsp/codec';
import { ScriptedServer } from './helpers/scripted-server';
import { freePort } from './helpers/ports';
import { until } from './helpers/sim-session';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

async function server(opts: ConstructorParameters<typeof ScriptedServer>[0] = {}): Promise<ScriptedServer> {
  const s = new ScriptedServer(opts);
  await s.start();
  cleanups.push(() => s.stop());
  return s;
}

async function connect(s: ScriptedServer, opts: Partial<ConnectionOptions> = {}): Promise<HtspConnection> {
  const conn = await HtspConnection.connect({
    host: '127.0.0.1',
    port: s.port,
    username: 'demo',
    password: 'demo',
    pingIntervalMs: 0,
    ...opts,
  });
  cleanups.push(() => conn.close());
  return conn;
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<HtspError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof HtspError, `expected an HtspError, got ${String(err)}`);
    assert.equal(err.code, code, `expected code ${code}, got ${err.code}: ${err.message}`);
    return err;
  }
  assert.fail(`expected a rejection with code ${code}`);
}

function closeEvent(conn: HtspConnection): Promise<HtspError | undefined> {
  return new Promise((resolve) => conn.once('close', resolve));
}

describe('handshake', () => {
  test('hello negotiates min(version), keeps server info, authenticates with SHA-1(password || challenge)', async () => {
    const s = await server({ htspVersion: 34 });
    const conn = await connect(s, { htspVersion: 44 });
    assert.equal(conn.serverInfo.htspVersion, 34);
    assert.equal(conn.serverInfo.serverHtspVersion, 34);
    assert.equal(conn.serverInfo.serverName, 'Scripted');
    assert.equal(conn.serverInfo.webroot, '/tvh');
    assert.equal(conn.serverInfo.apiVersion, 19);
    assert.deepEqual(conn.serverInfo.capabilities, ['timeshift']);
    const [hello] = s.requestsFor('hello');
    assert.equal(hello.htspversion, 44);
    const [auth] = s.requestsFor('authenticate');
    assert.equal(auth.username, 'demo');
    const expected = createHash('sha1').update('demo').update(s.last!.challenge).digest();
    assert.deepEqual(auth.digest, expected);
    assert.deepEqual(conn.rights && { streaming: conn.rights.streaming, dvr: conn.rights.dvr, admin: conn.rights.admin }, {
      streaming: true,
      dvr: true,
      admin: true,
    });
  });

  test('an older server: rights are not reported below v26', async () => {
    const s = await server({ htspVersion: 20 });
    const conn = await connect(s);
    assert.equal(conn.serverInfo.htspVersion, 20);
    assert.equal(conn.rights, undefined);
  });

  test('a wrong password fails with auth-failed and never shows the password or digest', async () => {
    const s = await server();
    const err = await rejectsWith(
      HtspConnection.connect({ host: '127.0.0.1', port: s.port, username: 'demo', password: 'secret-wrong', pingIntervalMs: 0 }),
      'auth-failed',
    );
    assert.ok(!err.message.includes('secret-wrong'));
    assert.ok(!JSON.stringify(err).includes('secret-wrong'));
    const digest = s.requestsFor('authenticate')[0].digest as Buffer;
    assert.ok(!err.message.includes(digest.toString('hex')));
  });

  test('a DVR-only user is not mistaken for a wrong password (authenticate says noaccess)', async () => {
    const s = await server({ users: { rec: { password: 'pw', rights: { streaming: false, dvr: true } } } });
    const conn = await connect(s, { username: 'rec', password: 'pw' });
    assert.equal(conn.rights?.dvr, true);
    assert.equal(conn.rights?.streaming, false);
  });

  test('anonymous without streaming connects; rights unknown', async () => {
    const s = await server();
    const conn = await connect(s, { username: undefined, password: undefined });
    assert.equal(conn.rights, undefined);
    assert.equal(s.requestsFor('authenticate')[0].username, undefined);
  });

  test('connect timeout covers hello: a server that never answers', async () => {
    const s = await server({ handlers: { hello: () => undefined } });
    const t0 = Date.now();
    await rejectsWith(connect(s, { connectTimeoutMs: 300 }), 'timeout');
    assert.ok(Date.now() - t0 < 2000);
  });

  test('connection refused is disconnected, with the system error as cause', async () => {
    const port = await freePort();
    const err = await rejectsWith(HtspConnection.connect({ host: '127.0.0.1', port, pingIntervalMs: 0 }), 'disconnected');
    assert.equal((err.cause as NodeJS.ErrnoException).code, 'ECONNREFUSED');
  });

  test('bad options are bad-input', async () => {
    await rejectsWith(HtspConnection.connect({ host: '', port: 1 }), 'bad-input');
    await rejectsWith(HtspConnection.connect({ host: 'x', port: 70000 }), 'bad-input');
  });
});

describe('requests', () => {
  test('replies are matched by seq even out of order; async messages become message events', async () => {
    let held: (() => void) | undefined;
    const s = await server({
      handlers: {
        getDiskSpace: (req, c) => {
          held = () => c.reply(req, { freediskspace: 1, useddiskspace: 2, totaldiskspace: 3 });
          return undefined;
        },
        getChannel: (req) => ({ channelId: req.channelId as number, channelName: 'X' }),
      },
    });
    const conn = await connect(s);
    const messages: HtsmsgMap[] = [];
    conn.on('message', (m) => messages.push(m));
    const disk = conn.getDiskSpace();
    const ch = await conn.getChannel({ channelId: 5 });
    assert.equal(ch.channelName, 'X');
    s.last!.send({ method: 'channelDelete', channelId: 9 });
    held!();
    assert.equal((await disk).totaldiskspace, 3);
    assert.deepEqual(messages, [{ method: 'channelDelete', channelId: 9 }]);
  });

  test('an error reply rejects with code server, the text, the method and the reply', async () => {
    const s = await server({ handlers: { getEvent: () => ({ error: 'Event does not exist' }) } });
    const conn = await connect(s);
    const err = await rejectsWith(conn.getEvent({ eventId: 1 }), 'server');
    assert.equal(err.message, 'Event does not exist');
    assert.equal(err.method, 'getEvent');
    assert.equal(err.reply?.error, 'Event does not exist');
  });

  test('request timeout; the late reply is ignored and the connection stays usable', async () => {
    let late: (() => void) | undefined;
    const s = await server({
      handlers: {
        getTicket: (req, c) => {
          late = () => c.reply(req, { path: '/x', ticket: 't' });
          return undefined;
        },
      },
    });
    const conn = await connect(s);
    const err = await rejectsWith(conn.getTicket({ channelId: 1 }, { timeoutMs: 100 }), 'timeout');
    assert.equal(err.method, 'getTicket');
    late!();
    const t = await conn.getSysTime();
    assert.equal(typeof t.time, 'number');
    assert.equal(conn.closed, false);
  });

  test('on-demand auth: anonymous connect, noaccess, one resend with digest, success', async () => {
    const s = await server({ anonymous: { streaming: true, dvr: false } });
    const conn = await connect(s, { authOnDemand: true });
    assert.equal(s.requestsFor('authenticate')[0].username, undefined, 'no credentials up front');
    const reply = await conn.addDvrEntry({ channelId: 1, start: 1, stop: 2, title: 't' });
    assert.deepEqual(reply, {});
    const adds = s.requestsFor('addDvrEntry');
    assert.equal(adds.length, 2);
    assert.equal(adds[0].username, undefined);
    assert.equal(adds[1].username, 'demo');
    const expected = createHash('sha1').update('demo').update(s.last!.challenge).digest();
    assert.deepEqual(adds[1].digest, expected);
    assert.equal(adds[0].title, adds[1].title);
    // The connection now has the user's rights: no more round trips.
    await conn.deleteDvrEntry({ id: 1 });
    assert.equal(s.requestsFor('deleteDvrEntry').length, 1);
  });

  test('noaccess after the resend rejects noaccess; connlimit is named', async () => {
    const s = await server({
      users: { demo: { password: 'demo', rights: { streaming: true, dvr: false } } },
      handlers: { getTicket: () => ({ noaccess: 1, connlimit: 1 }) },
    });
    const conn = await connect(s);
    const err = await rejectsWith(conn.addDvrEntry({ eventId: 1 }), 'noaccess');
    assert.equal(s.requestsFor('addDvrEntry').length, 2);
    assert.match(err.message, /addDvrEntry/);
    const limit = await rejectsWith(conn.getTicket({ channelId: 1 }), 'noaccess');
    assert.match(limit.message, /connection limit/);
    assert.equal(s.requestsFor('getTicket').length, 1, 'a connection limit is not retried');
  });

  test('callRaw: unknown methods, and bad input is refused before sending', async () => {
    const s = await server();
    const conn = await connect(s);
    await rejectsWith(conn.callRaw('noSuchMethod', {}), 'server');
    await rejectsWith(conn.callRaw('getEvent', { eventId: 1.5 }), 'bad-input');
    await rejectsWith(conn.callRaw('getEvent', { eventId: (() => 1) as unknown as number }), 'bad-input');
    await rejectsWith(conn.callRaw('api', { path: 'x', args: { blob: Buffer.alloc(2 * 1024 * 1024) } }), 'bad-input');
    await rejectsWith(conn.callRaw('', {}), 'bad-input');
    await rejectsWith(conn.callRaw('x', 5 as unknown as HtsmsgMap), 'bad-input');
    assert.equal(s.requestsFor('getEvent').length, 0);
    assert.equal(conn.closed, false);
    await conn.getSysTime();
  });

  test('callers cannot slip username, digest or seq into a request: only the connection authenticates', async () => {
    const s = await server({ anonymous: { streaming: true, dvr: false } });
    const conn = await connect(s, { authOnDemand: true });
    const forged = { username: 'admin', digest: Buffer.alloc(20, 1), seq: 4242 };
    await conn.callRaw('getSysTime', { ...forged });
    const [sys] = s.requestsFor('getSysTime');
    assert.equal(sys.username, undefined);
    assert.equal(sys.digest, undefined);
    assert.notEqual(sys.seq, 4242);
    // The on-demand resend carries the connection's own credentials, not the caller's.
    await conn.call('addDvrEntry', { channelId: 1, start: 1, stop: 2, title: 't', ...forged } as Parameters<typeof conn.addDvrEntry>[0]);
    const adds = s.requestsFor('addDvrEntry');
    assert.equal(adds.length, 2);
    assert.equal(adds[0].username, undefined);
    assert.equal(adds[0].digest, undefined);
    assert.equal(adds[1].username, 'demo');
    assert.deepEqual(adds[1].digest, createHash('sha1').update('demo').update(s.last!.challenge).digest());
    conn.send({ method: 'getSysTime', username: 'admin', digest: Buffer.alloc(20, 1) });
    await conn.getSysTime();
    const sent = s.requestsFor('getSysTime').find((r) => r.seq === undefined);
    assert.ok(sent, 'the fire-and-forget message arrived');
    assert.equal(sent.username, undefined);
    assert.equal(sent.digest, undefined);
  });

  test('a message listener that throws: contained, reported, the connection goes on', async () => {
    const s = await server();
    const conn = await connect(s);
    const faults: Array<[unknown, string]> = [];
    conn.on('listenerError', (err, event) => faults.push([err, event]));
    const seen: number[] = [];
    conn.on('message', (m) => {
      seen.push(m.channelId as number);
      throw new Error('consumer bug');
    });
    s.last!.send({ method: 'channelDelete', channelId: 1 });
    s.last!.send({ method: 'channelDelete', channelId: 2 });
    await conn.getSysTime();
    assert.deepEqual(seen, [1, 2]);
    assert.equal(faults.length, 2);
    assert.equal(faults[0][1], 'message');
    assert.equal(conn.closed, false);
  });

  test('close() rejects pending requests with disconnected and emits close once', async () => {
    const s = await server({ handlers: { getEvents: () => undefined } });
    const conn = await connect(s);
    let closes = 0;
    conn.on('close', () => closes++);
    const p = conn.getEvents({});
    conn.close();
    conn.close();
    await rejectsWith(p, 'disconnected');
    await rejectsWith(conn.getSysTime(), 'disconnected');
    assert.equal(closes, 1);
    assert.equal(conn.closed, true);
  });

  test('server going away rejects pending requests with disconnected', async () => {
    const s = await server({ handlers: { getEvents: () => undefined } });
    const conn = await connect(s);
    const closed = closeEvent(conn);
    const p = conn.getEvents({});
    await new Promise((r) => setTimeout(r, 20));
    s.last!.close();
    await rejectsWith(p, 'disconnected');
    assert.equal((await closed)?.code, 'disconnected');
  });
});

test('handling a burst yields to the event loop between slices and keeps the order', async () => {
  const s = await server();
  const conn = await connect(s);
  const seen: number[] = [];
  conn.on('message', (m) => {
    seen.push(m.n as number);
    const until = performance.now() + 1;
    while (performance.now() < until) {
      // a slow consumer: 1 ms per message
    }
  });
  let maxGap = 0;
  let last = performance.now();
  const tick = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
  }, 1);
  cleanups.push(() => clearInterval(tick));
  const burst = Buffer.concat(Array.from({ length: 300 }, (_, n) => encodeFrame({ method: 'tagDelete', tagId: 1, n })));
  last = performance.now();
  const t0 = last;
  s.last!.sendRaw(burst);
  await until(() => seen.length === 300, 'all 300 messages', 30_000);
  const total = performance.now() - t0;
  clearInterval(tick);
  assert.deepEqual(seen, Array.from({ length: 300 }, (_, n) => n));
  // Unsliced, the 300 ms of work would run as one block (gap ≈ total); relative, so a loaded machine doesn't matter.
  assert.ok(maxGap < total / 2, `the event loop was blocked for ${maxGap.toFixed(0)} of ${total.toFixed(0)} ms`);
});

describe('bad data from the server', () => {
  test('a malformed frame closes the connection with a protocol error, no crash', async () => {
    const s = await server();
    const conn = await connect(s);
    const closed = closeEvent(conn);
    const pending = conn.getEvents({});
    // A field claims 200 bytes of data inside a 10-byte body.
    const body = Buffer.from([3, 1, 0, 0, 0, 200, 0x61, 0, 0, 0]);
    const frame = Buffer.alloc(4 + body.length);
    frame.writeUInt32BE(body.length, 0);
    body.copy(frame, 4);
    s.last!.sendRaw(frame);
    const err = await closed;
    assert.equal(err?.code, 'protocol');
    assert.match(err!.message, /malformed/);
    await rejectsWith(pending, 'disconnected');
  });

  test('an oversized length closes with a protocol error before allocating', async () => {
    const s = await server();
    const conn = await connect(s, { maxFrameBytes: 1024 });
    const closed = closeEvent(conn);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(0x7fffffff, 0);
    s.last!.sendRaw(head);
    const err = await closed;
    assert.equal(err?.code, 'protocol');
    assert.match(err!.message, /oversized/);
  });

  test('garbage during the handshake rejects connect with protocol', async () => {
    const s = await server({
      handlers: {
        hello: (_req, c) => {
          c.sendRaw(Buffer.from([0, 0, 0, 6, 9, 0, 0, 0, 0, 0]));
          return undefined;
        },
      },
    });
    await rejectsWith(connect(s), 'protocol');
  });
});

describe('liveness', () => {
  test('an unanswered ping closes with timeout (half-open connection)', async () => {
    let answer = true;
    const s = await server({ handlers: { getSysTime: () => (answer ? { time: 1, timezone: 0, gmtoffset: 0 } : undefined) } });
    const conn = await connect(s, { pingIntervalMs: 50, pingTimeoutMs: 400 });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(conn.closed, false, 'answered pings keep it open');
    assert.ok(s.requestsFor('getSysTime').length >= 2);
    const closed = closeEvent(conn);
    answer = false;
    const err = await closed;
    assert.equal(err?.code, 'timeout');
    assert.match(err!.message, /liveness/);
  });

  test('without the streaming right the ping is an empty authenticate', async () => {
    const s = await server({ users: { rec: { password: 'pw', rights: { streaming: false, dvr: true } } } });
    const conn = await connect(s, { username: 'rec', password: 'pw', pingIntervalMs: 30, pingTimeoutMs: 500 });
    await until(() => s.requestsFor('authenticate').length >= 3, 'two pings after the login');
    assert.equal(conn.closed, false);
    assert.equal(s.requestsFor('getSysTime').length, 0);
    const pings = s.requestsFor('authenticate').slice(1);
    assert.ok(pings.every((p) => p.username === undefined && p.digest === undefined));
  });
});

test('peekMuxpkt finds the subscription id without decoding, and only for muxpkt', () => {
  assert.equal(peekMuxpkt(encodeBody({ method: 'muxpkt', subscriptionId: 7, stream: 1, payload: Buffer.alloc(10) })), 7);
  assert.equal(peekMuxpkt(encodeBody({ subscriptionId: 300, payload: Buffer.alloc(1), method: 'muxpkt' })), 300);
  assert.equal(peekMuxpkt(encodeBody({ method: 'queueStatus', subscriptionId: 7 })), undefined);
  assert.equal(peekMuxpkt(encodeBody({ method: 'muxpk', subscriptionId: 7 })), undefined);
  assert.equal(peekMuxpkt(encodeFrame({ seq: 1 }).subarray(4)), undefined);
});
