// tvheadend-epg against the simulator: every answer is checked against the simulator's own EPG.
import { test, before, after, afterEach, describe } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_USERS, type TvheadendSimulator, type SimEvent, type SimChannel } from '../../src/sim';
import serverModule from '../../src/nodes/server/tvheadend-server';
import epgModule from '../../src/nodes/epg/tvheadend-epg';
import { SERVER, OUT, TAB_ID, tab, catchAll, failure, helper, load as loadFlow, ready, result, serverNode, singleNodeFlow, startSim, type FlowNode } from './helpers';
import { freezeAwayFromBoundaries } from '../helpers/sim-session';

const MODULES = [serverModule, epgModule];
/** The server node syncs the whole EPG, so that answers come from the cache unless a test says otherwise. */
const EPG_SERVER = { epg: true, epgDays: 0, pingInterval: 0 };

function flow(port: number, def: Record<string, unknown>, extra: FlowNode[] = []): FlowNode[] {
  return singleNodeFlow(port, { type: 'tvheadend-epg', ...def }, extra, EPG_SERVER);
}

function load(nodes: FlowNode[], creds?: Record<string, Record<string, string>>): Promise<void> {
  return loadFlow(MODULES, nodes, creds);
}

type OutEvent = Record<string, unknown> & { eventId: number; channelId: number; start: number; stop: number; slot?: string };

let sim: TvheadendSimulator;

before(async () => {
  sim = (await startSim({ channels: 6, epgHours: 12, eventMinutes: 30, seed: 7 })).sim;
  freezeAwayFromBoundaries(sim);
});
afterEach(async () => {
  await helper.unload();
});
after(async () => {
  await sim.stop();
});

const ids = (events: Array<{ eventId?: number; id?: number }>): number[] => events.map((e) => e.eventId ?? e.id ?? -1);
const byStart = (a: SimEvent, b: SimEvent): number => a.start - b.start || a.id - b.id;

/** The simulator's events that have not ended, optionally filtered, in the node's order. */
function simEvents(filter: (e: SimEvent) => boolean): SimEvent[] {
  const now = sim.now();
  return sim
    .getEvents()
    .filter((e) => e.stop > now && filter(e))
    .sort(byStart);
}

function channel(i: number): SimChannel {
  return sim.channels[i];
}

async function epgFlow(def: Record<string, unknown> = {}, extra: FlowNode[] = []): Promise<void> {
  await load(flow(sim.port, { type: 'tvheadend-epg', operation: 'msg', ...def }, extra));
  await ready();
}

describe('now and next', () => {
  test('for a channel by name: the simulator’s running and next programme, with channel and times', async () => {
    await epgFlow({ operation: 'nownext', channel: channel(1).name.toUpperCase(), channelType: 'str' });
    const { payload, msg } = await result<OutEvent[]>({ payload: 1700000000000 });
    const expected = sim.getNowNext(channel(1).id);
    assert.ok(expected.now && expected.next, 'the simulator has now and next');
    assert.deepEqual(ids(payload), [expected.now.id, expected.next.id]);
    const [now, next] = payload;
    assert.equal(now.slot, 'now');
    assert.equal(next.slot, 'next');
    assert.equal(now.title, expected.now.title);
    assert.equal(now.channelName, channel(1).name);
    assert.equal(now.channelNumber, String(channel(1).number));
    assert.equal(now.startIso, new Date(expected.now.start * 1000).toISOString());
    assert.equal(now.stopIso, new Date(expected.now.stop * 1000).toISOString());
    assert.equal(now.duration, expected.now.stop - expected.now.start);
    assert.equal(typeof now.progress, 'number');
    assert.ok((now.progress as number) >= 0 && (now.progress as number) <= 100);
    assert.ok((now.remaining as number) > 0 && (now.remaining as number) <= expected.now.stop - expected.now.start);
    assert.equal(next.progress, undefined, 'only the running programme has progress');
    if (expected.now.contentType !== undefined) assert.equal(typeof now.genre, 'string');
    assert.deepEqual(msg.channel, { id: channel(1).id, name: channel(1).name, number: String(channel(1).number) });
  });

  test('for a channel by number from msg.payload.channel', async () => {
    await epgFlow();
    const ch = channel(3);
    const { payload } = await result<OutEvent[]>({ payload: { operation: 'nownext', channel: String(ch.number) } });
    const expected = sim.getNowNext(ch.id);
    assert.deepEqual(ids(payload), [expected.now?.id, expected.next?.id].filter((x) => x !== undefined));
    assert.ok(payload.every((e) => e.channelId === ch.id));
  });

  test('the operation from msg.topic, the channel through a msg typedInput', async () => {
    await epgFlow({ channel: 'channelName', channelType: 'msg' });
    const ch = channel(2);
    const { payload } = await result<OutEvent[]>({ topic: 'Now/Next', channelName: ch.name, payload: 'x' });
    assert.equal(payload[0]?.eventId, sim.getNowNext(ch.id).now?.id);
  });

  test('for all channels: now and next of each, in channel-number order', async () => {
    await epgFlow({ operation: 'nownext' });
    const { payload } = await result<OutEvent[]>({ payload: '' });
    const expected: number[] = [];
    for (const ch of [...sim.channels].sort((a, b) => a.number - b.number)) {
      const nn = sim.getNowNext(ch.id);
      if (nn.now) expected.push(nn.now.id);
      if (nn.next) expected.push(nn.next.id);
    }
    assert.deepEqual(ids(payload), expected);
    assert.equal(payload.filter((e) => e.slot === 'now').length, sim.channels.length);
  });
});

describe('schedule', () => {
  test('the programmes of a channel overlapping a time window', async () => {
    await epgFlow();
    const ch = channel(0);
    const from = sim.now() + 3600;
    const to = from + 3 * 3600;
    const { payload } = await result<OutEvent[]>({
      payload: { operation: 'schedule', channel: ch.id, from: new Date(from * 1000).toISOString(), to: to * 1000 },
    });
    const expected = sim.getEvents(ch.id).filter((e) => e.stop > from && e.start < to);
    assert.ok(expected.length >= 5, 'a 3-hour window holds several programmes');
    assert.deepEqual(ids(payload), ids(expected.map((e) => ({ eventId: e.id }))));
    assert.ok(payload.every((e) => e.channelName === ch.name));
  });

  test('a window beyond the days the server node syncs is asked from the server', async () => {
    await load(flow(sim.port, { operation: 'schedule', channel: channel(2).name }).map((n) => (n.id === SERVER ? { ...n, epgDays: 0.25 } : n)));
    const server = await ready();
    const from = sim.now() + 8 * 3600;
    const to = from + 2 * 3600;
    assert.equal(server.session.cache.eventsInWindow(channel(2).id, from, to).length, 0, 'not in the cache');
    const { payload } = await result<OutEvent[]>({ payload: { from, to } });
    const expected = sim.getEvents(channel(2).id).filter((e) => e.stop > from && e.start < to);
    assert.ok(expected.length > 0);
    assert.deepEqual(ids(payload), ids(expected.map((e) => ({ eventId: e.id }))));
  });

  test('the node’s window length applies when the message gives no end', async () => {
    await epgFlow({ operation: 'schedule', channel: channel(4).name, hours: 2 });
    const { payload } = await result<OutEvent[]>({ payload: {} });
    const now = sim.now();
    const expected = sim.getEvents(channel(4).id).filter((e) => e.stop > now && e.start < now + 2 * 3600);
    assert.deepEqual(ids(payload), ids(expected.map((e) => ({ eventId: e.id }))));
  });
});

describe('search', () => {
  test('by title as text: every programme that has not ended, in start order', async () => {
    await epgFlow({ operation: 'search', query: 'payload', queryType: 'msg', limit: 0 });
    const title = sim.getEvents(channel(1).id)[2].title;
    const { payload } = await result<OutEvent[]>({ payload: title.toLowerCase() });
    const expected = simEvents((e) => e.title.toLowerCase().includes(title.toLowerCase()));
    assert.ok(expected.length > 0);
    assert.deepEqual(ids(payload), ids(expected.map((e) => ({ eventId: e.id }))));
    assert.ok(payload.every((e) => e.title === title));
  });

  test('by title as a regular expression, on one channel, with a limit', async () => {
    await epgFlow();
    const ch = channel(0);
    const { payload } = await result<OutEvent[]>({ payload: { operation: 'search', title: '^(comedy|quiz)', regex: true, channel: ch.name, limit: 3 } });
    const expected = simEvents((e) => e.channelId === ch.id && /^(comedy|quiz)/i.test(e.title)).slice(0, 3);
    assert.ok(expected.length > 0);
    assert.deepEqual(ids(payload), ids(expected.map((e) => ({ eventId: e.id }))));
  });

  test('by genre name: the DVB major category of the content type', async () => {
    await epgFlow({ operation: 'search', limit: 0 });
    const { payload } = await result<OutEvent[]>({ payload: { genre: 'Sports' } });
    const expected = simEvents((e) => e.contentType !== undefined && e.contentType >> 4 === 4);
    assert.ok(expected.length > 0);
    assert.deepEqual(ids(payload), ids(expected.map((e) => ({ eventId: e.id }))));
    assert.ok(payload.every((e) => e.genre === 'Sports'));
  });

  test('by the node’s genre setting and a sub-genre code from the message', async () => {
    await epgFlow({ operation: 'search', genre: '1', limit: 0 });
    const movies = await result<OutEvent[]>({ payload: {} });
    assert.deepEqual(
      ids(movies.payload),
      ids(simEvents((e) => (e.contentType ?? 0) >> 4 === 1).map((e) => ({ eventId: e.id }))),
    );
    const football = await result<OutEvent[]>({ payload: { genre: '0x43' } });
    assert.deepEqual(ids(football.payload), ids(simEvents((e) => e.contentType === 0x43).map((e) => ({ eventId: e.id }))));
    assert.ok(football.payload.every((e) => e.subGenre === 'Football/Soccer'));
  });

  test('in the full text (descriptions), not only titles', async () => {
    await epgFlow({ operation: 'search', limit: 0 });
    const { payload } = await result<OutEvent[]>({ payload: { text: 'airing 1.' } });
    const expected = simEvents((e) => [e.title, e.subtitle, e.summary, e.description].some((t) => t?.toLowerCase().includes('airing 1.')));
    assert.ok(expected.length > 0);
    assert.deepEqual(ids(payload), ids(expected.map((e) => ({ eventId: e.id }))));
  });
});

describe('with EPG sync off the server is asked, with the same answers', () => {
  const questions: Array<{ what: string; payload: () => Record<string, unknown> }> = [
    { what: 'now/next of a channel', payload: () => ({ operation: 'nownext', channel: channel(2).name }) },
    { what: 'now/next of all channels', payload: () => ({ operation: 'nownext' }) },
    { what: 'a schedule window', payload: () => ({ operation: 'schedule', channel: channel(5).number, from: sim.now() + 1800, to: sim.now() + 5 * 3600 }) },
    { what: 'a title search', payload: () => ({ operation: 'search', title: 'news|report', regex: true, limit: 0 }) },
    { what: 'a genre search on a channel', payload: () => ({ operation: 'search', genre: 'kids', channel: channel(4).name, limit: 0 }) },
    { what: 'a full-text search', payload: () => ({ operation: 'search', text: 'airing 2.', limit: 0 }) },
  ];

  test('cache and RPC agree on every question', async () => {
    const extra: FlowNode[] = [
      serverNode('srv-rpc', sim.port, { ...EPG_SERVER, epg: false }),
      { id: 'epg-rpc', type: 'tvheadend-epg', server: 'srv-rpc', operation: 'msg', wires: [['out-rpc']] },
      { id: 'out-rpc', type: 'helper' },
    ];
    await epgFlow({}, extra);
    const rpcServer = await ready('srv-rpc');
    assert.equal(rpcServer.session.cache.counts.events, 0, 'without EPG sync the cache holds no events');
    assert.ok(rpcServer.session.cache.counts.channels > 0);
    for (const q of questions) {
      const payload = q.payload();
      const fromCache = await result<OutEvent[]>({ payload });
      const fromRpc = await result<OutEvent[]>({ payload }, { node: 'epg-rpc', out: 'out-rpc' });
      assert.ok(fromCache.payload.length > 0, `${q.what}: something found`);
      assert.deepEqual(ids(fromRpc.payload), ids(fromCache.payload), q.what);
      assert.deepEqual(
        fromRpc.payload.map((e) => [e.title, e.channelName, e.startIso, e.slot]),
        fromCache.payload.map((e) => [e.title, e.channelName, e.startIso, e.slot]),
        q.what,
      );
    }
  });
});

describe('bad input reaches a Catch node with code bad-input', () => {
  const cases: Array<{ what: string; def?: Record<string, unknown>; msg: Record<string, unknown>; message: RegExp }> = [
    { what: 'no operation', msg: { payload: {} }, message: /no operation/ },
    { what: 'an unknown operation', msg: { payload: { operation: 'tomorrow' } }, message: /unknown operation "tomorrow"/ },
    { what: 'an unknown channel', msg: { payload: { operation: 'nownext', channel: 'No Such TV' } }, message: /unknown channel "No Such TV"/ },
    { what: 'a channel that is an object', msg: { payload: { operation: 'nownext', channel: { name: 'x' } } }, message: /channel must be a name, number or id/ },
    { what: 'a schedule without a channel', msg: { payload: { operation: 'schedule' } }, message: /needs a channel/ },
    { what: 'an invalid time', msg: { payload: { operation: 'schedule', channel: 1, from: 'yesterday-ish' } }, message: /not a valid time/ },
    { what: 'an empty window', msg: { payload: { operation: 'schedule', channel: 1, from: 2000000000, to: 1900000000 } }, message: /window is empty/ },
    { what: 'an invalid regular expression', msg: { payload: { operation: 'search', title: 'a(b', regex: true } }, message: /not a valid regular expression/ },
    { what: 'an unknown genre', msg: { payload: { operation: 'search', genre: 'Telenovela' } }, message: /unknown genre "Telenovela".*Movie\/Drama/ },
    { what: 'a search for nothing', msg: { payload: { operation: 'search' } }, message: /nothing to search for/ },
    { what: 'a negative limit', msg: { payload: { operation: 'search', title: 'x', limit: -1 } }, message: /limit must be a number/ },
  ];

  test('each case, with a red ring under the node', async () => {
    await epgFlow();
    for (const c of cases) {
      const err = await failure(c.msg);
      assert.equal(err.code, 'bad-input', c.what);
      assert.match(err.message, c.message, c.what);
      assert.ok(err.statuses.some((s) => s.fill === 'red' && s.shape === 'ring'), `${c.what}: red ring`);
    }
    // A good message afterwards works and the node recovers.
    const ok = await result<OutEvent[]>({ payload: { operation: 'nownext', channel: channel(0).name } });
    assert.equal(ok.payload.length, 2);
  });

  test('a user without the streaming right gets code noaccess', async () => {
    const own = await startSim({ users: [...DEFAULT_USERS, { username: 'rec', password: 'rec', rights: { dvr: true } }] });
    try {
      await load(flow(own.port, { operation: 'nownext' }), { [SERVER]: { username: 'rec', password: 'rec' } });
      await ready();
      const err = await failure({ payload: {} });
      assert.equal(err.code, 'noaccess');
      assert.match(err.message, /streaming right/);
    } finally {
      await helper.unload();
      await own.stop();
    }
  });

  test('a node without a server fails with code disconnected', async () => {
    await load([tab(), { id: 'lonely', type: 'tvheadend-epg', z: TAB_ID, operation: 'nownext', wires: [[OUT]] }, { id: OUT, type: 'helper', z: TAB_ID }, ...catchAll()]);
    const err = await failure({ payload: {} }, { node: 'lonely' });
    assert.equal(err.code, 'disconnected');
    assert.match(err.message, /no Tvheadend server configured/);
  });
});
