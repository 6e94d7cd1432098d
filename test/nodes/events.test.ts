// The tvheadend-events node against the simulator: changes as messages, filters that drop what
// they should, snapshots, automation events as the simulated clock moves, server-wide activity
// with and without admin rights, and what a reconnect reports.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeMessage, NodeStatus } from 'node-red';
import serverModule = require('../../src/nodes/server/tvheadend-server');
import eventsModule = require('../../src/nodes/events/tvheadend-events');
import { ChannelFilter, parseEventsSettings, SettingsError } from '../../src/nodes/events/filters';
import type { SimDvrEntrySpec } from '../../src/sim';
import { helper, eventsNode, serverNode, serverOf as server, ready, tab, catchAll, credentials, waitFor, collect, statusesOf, delay, type SimHandle, type FlowNode } from './helpers';
import { simPerSuite } from './suite';
import { ServerStatusPoller } from '../../src/htsp';
import { joinStatusPoll } from '../../src/nodes/events/status-poll';

const TAB: FlowNode = tab('events');
const NODES = [serverModule, eventsModule];

type Msg = NodeMessage & {
  kind?: string;
  action?: string;
  changed?: string[];
  previous?: Record<string, unknown>;
  initial?: boolean;
  resync?: boolean;
  id?: number | string;
};

/** Events nodes (each wired to its own helper `<id>-out`) and a Catch node for all of them. */
function flow(port: number, nodes: FlowNode[], serverExtra: Record<string, unknown> = {}): FlowNode[] {
  const outs = nodes.map((n) => ({ id: `${n.id}-out`, type: 'helper', z: 'f1' }));
  return [
    TAB,
    serverNode('s1', port, { epg: true, epgDays: 0, ...serverExtra }),
    ...nodes.map((n) => ({ ...n, wires: [[`${n.id}-out`]] })),
    ...outs,
    ...catchAll(),
  ];
}

function received(id: string): Msg[] {
  return collect(`${id}-out`) as Msg[];
}

/** Deploys one events node with the test user, collects what it sends, and waits for the server. */
async function deploy(port: number, node: FlowNode, serverExtra: Record<string, unknown> = {}): Promise<Msg[]> {
  await helper.load(NODES, flow(port, [node], serverExtra), credentials('s1'));
  const got = received(node.id);
  await ready();
  return got;
}

/** Scheduled entries far from now, so that the simulated clock does not touch them. */
function quietEntries(): SimDvrEntrySpec[] {
  const now = Math.floor(Date.now() / 1000);
  return [
    { channelIndex: 0, start: now + 6 * 3600, stop: now + 7 * 3600, title: 'Alpha Show', comment: 'first' },
    { channelIndex: 1, start: now + 8 * 3600, stop: now + 9 * 3600, title: 'Beta News', comment: 'second' },
    { channelIndex: 2, start: now + 10 * 3600, stop: now + 11 * 3600, title: 'Gamma Movie', comment: 'third' },
  ];
}

function entryId(sim: SimHandle, title: string): number {
  const e = sim.sim.dvrEntries.find((d) => d.title === title);
  assert.ok(e, `the simulator has no DVR entry "${title}"`);
  return e.id;
}

describe('tvheadend-events: settings (no runtime)', () => {
  it('reads arrays and comma lists, drops unknown kinds, refuses a broken title pattern', () => {
    const s = parseEventsSettings({ kinds: 'dvrEntry, bogus, session', actions: ['update'], channels: '1, Sim News 24', pollInterval: '0.2' });
    assert.deepEqual([...s.kinds], ['dvrEntry', 'session']);
    assert.deepEqual([...s.actions], ['update']);
    assert.deepEqual(s.channels, ['1', 'Sim News 24']);
    assert.equal(s.pollIntervalMs, 1000, 'clamped to at least one second');
    assert.throws(() => parseEventsSettings({ title: '(' }), SettingsError);
    assert.throws(() => parseEventsSettings({ automations: ['reminder'], reminderMinutes: 'soon' }), SettingsError);
  });

  it('resolves channel names lazily and matches DVR entries of deleted channels by name', () => {
    const channels = new Map([[7, { channelId: 7, channelName: 'Seven', channelNumber: 7 }]]);
    const f = new ChannelFilter(['seven', 'Gone Channel'], {
      findChannel: (ref) => [...channels.values()].find((c) => c.channelName.toLowerCase() === String(ref).toLowerCase()) as never,
    });
    assert.equal(f.matches(7), true);
    assert.equal(f.matches(8), false);
    assert.equal(f.matches(undefined, 'gone channel'), true);
    assert.deepEqual(f.channelIds(), [7]);
  });
});

describe('tvheadend-events: changes and filters', () => {
  // A frozen clock: no programme boundary (a channel and EPG change) can fall into a test.
  const sim = simPerSuite(() => ({ dvrEntries: quietEntries(), autorecEntries: [], timerecEntries: [], speed: 0 }));

  it('a DVR entry changed at the server gives one dvrEntry/update with what changed', async () => {
    const got = await deploy(sim.port, eventsNode('e1', ''));
    const id = entryId(sim, 'Alpha Show');
    sim.sim.updateDvrEntry(id, { comment: 'changed by the test' });
    await waitFor(() => got.length >= 1, 'the update message');
    await delay(300);
    assert.equal(got.length, 1, `one message, got ${got.map((m) => m.topic).join(', ')}`);
    const m = got[0];
    assert.equal(m.topic, 'dvrEntry/update');
    assert.equal(m.kind, 'dvrEntry');
    assert.equal(m.action, 'update');
    assert.equal(m.id, id);
    assert.deepEqual(m.changed, ['comment']);
    const payload = m.payload as Record<string, unknown>;
    assert.equal(payload.comment, 'changed by the test');
    assert.equal(payload.title, 'Alpha Show', 'the whole merged object, not just the delta');
    assert.equal(m.previous?.comment, 'first');
    assert.equal(m.initial, undefined);
  });

  it('the flow gets a copy: changing msg.payload does not change the cache', async () => {
    const got = await deploy(sim.port, eventsNode('e1', ''));
    const id = entryId(sim, 'Gamma Movie');
    sim.sim.updateDvrEntry(id, { comment: 'copy check' });
    await waitFor(() => got.length >= 1, 'the update message');
    (got[0].payload as Record<string, unknown>).title = 'mutated downstream';
    assert.equal(server().session.cache.dvrEntriesById.get(id)?.title, 'Gamma Movie');
  });

  it('kinds, actions, channels and title filters drop what they should', async () => {
    const nodes = [
      eventsNode('onlyChannels', '', { kinds: ['channel'] }),
      eventsNode('onlyDeletes', '', { kinds: ['dvrEntry'], actions: ['delete'] }),
      eventsNode('byChannel', '', { kinds: ['dvrEntry'], channels: 'Sim One HD' }),
      eventsNode('byNumber', '', { kinds: ['dvrEntry'], channels: '2' }),
      eventsNode('byTitle', '', { kinds: ['dvrEntry'], title: '^gamma' }),
      eventsNode('epg', '', { kinds: ['event'], channels: 'Sim News 24', title: 'filter me' }),
    ];
    await helper.load(NODES, flow(sim.port, nodes), credentials('s1'));
    const got = Object.fromEntries(nodes.map((n) => [n.id, received(n.id)]));
    await ready();
    const [ch0, ch1] = sim.sim.channels;
    const alpha = entryId(sim, 'Alpha Show');
    const beta = entryId(sim, 'Beta News');
    const gamma = entryId(sim, 'Gamma Movie');

    sim.sim.updateDvrEntry(alpha, { comment: 'a2' });
    sim.sim.updateDvrEntry(beta, { comment: 'b2' });
    sim.sim.updateDvrEntry(gamma, { comment: 'g2' });
    sim.sim.deleteDvrEntry(beta);
    sim.sim.updateChannel(ch1.id, { name: 'Sim News 24' });
    sim.sim.updateChannel(ch0.id, { icon: 'http://example.invalid/one.png' });
    const now = sim.sim.now();
    sim.sim.addEvent({ channelId: ch1.id, start: now + 20 * 3600, stop: now + 20 * 3600 + 600, title: 'Please filter me' });
    sim.sim.addEvent({ channelId: ch0.id, start: now + 20 * 3600, stop: now + 20 * 3600 + 600, title: 'Please filter me too' });
    sim.sim.addEvent({ channelId: ch1.id, start: now + 21 * 3600, stop: now + 21 * 3600 + 600, title: 'Something else' });

    await waitFor(() => got.epg.length >= 1 && got.onlyDeletes.length >= 1 && got.onlyChannels.length >= 1, 'the filtered messages');
    await delay(400);
    const topics = (id: string): string[] => got[id].map((m) => `${m.topic}:${String(m.id)}`);

    assert.deepEqual(topics('onlyChannels'), [`channel/update:${ch0.id}`], 'the rename to the same name is no change; the icon is');
    assert.deepEqual(topics('onlyDeletes'), [`dvrEntry/delete:${beta}`]);
    assert.deepEqual(topics('byChannel'), [`dvrEntry/update:${alpha}`]);
    assert.deepEqual(topics('byNumber'), [`dvrEntry/update:${beta}`, `dvrEntry/delete:${beta}`]);
    assert.deepEqual(topics('byTitle'), [`dvrEntry/update:${gamma}`]);
    // The later event on the same channel gives the first one a nextEventId: an update of it.
    assert.equal(got.epg[0].topic, 'event/add');
    assert.ok(
      got.epg.every((m) => (m.payload as Record<string, unknown>).title === 'Please filter me'),
      `only the matching programme: ${got.epg.map((m) => `${m.topic} ${String((m.payload as { title?: string }).title)}`).join(', ')}`,
    );
  });

  it('the initial sync is not sent as changes; "start" sends a filtered snapshot, "snapshot" sends it again', async () => {
    const nodes = [
      eventsNode('quiet', '', { kinds: ['dvrEntry', 'channel', 'tag', 'event'] }),
      eventsNode('snap', '', { kinds: ['dvrEntry', 'channel'], initial: 'start', channels: 'Sim One HD, Sim News 24' }),
    ];
    await helper.load(NODES, flow(sim.port, nodes), credentials('s1'));
    const quiet = received('quiet');
    const snap = received('snap');
    await ready();
    const ids = sim.sim.channels.slice(0, 2).map((c) => c.id);
    const expectedEntries = sim.sim.dvrEntries.filter((e) => e.channelId !== undefined && ids.includes(e.channelId)).length;
    const expected = 2 + expectedEntries;
    await waitFor(() => snap.length >= expected, `${expected} snapshot messages`);
    await delay(300);
    assert.equal(snap.length, expected);
    assert.ok(snap.every((m) => m.initial === true && m.action === 'add'), 'snapshot messages are adds marked initial');
    assert.deepEqual(new Set(snap.filter((m) => m.kind === 'channel').map((m) => m.id)), new Set(ids));
    assert.equal(quiet.filter((m) => m.action === 'add' || m.initial).length, 0, 'no message for what the first sync found');

    snap.length = 0;
    helper.getNode('snap').receive({ payload: 'snapshot' });
    await waitFor(() => snap.length >= expected, 'the snapshot again');
    assert.ok(snap.every((m) => m.initial === true));

    const caught = collect('caught');
    helper.getNode('snap').receive({ payload: 12345 });
    await waitFor(() => caught.length === 1, 'the bad input at the Catch node');
    const error = caught[0].error as { message: string; code: string };
    assert.equal(error.code, 'bad-input');
    assert.match(error.message, /snapshot/);
  });
});

/** A size no real disk has, but one the protocol carries: beyond 2^53 it decodes as a bigint. */
const HUGE = 2n ** 60n + 7n;

describe('tvheadend-events: values beyond 2^53', () => {
  const sim = simPerSuite({ dvrEntries: [], autorecEntries: [], timerecEntries: [] });

  it('a recording whose file size is beyond 2^53 reaches the flow as JSON-safe text', async () => {
    const got = await deploy(sim.port, eventsNode('e1', '', { actions: ['update'] }));
    const now = sim.sim.now();
    const entry = sim.sim.addDvrEntry({ channelIndex: 0, start: now - 3 * 3600, stop: now - 2 * 3600, title: 'Huge File' });
    await waitFor(() => server().session.cache.dvrEntriesById.has(entry.id), 'the entry in the cache');
    // The simulator's file list has no `fsid`; its `size` goes over the wire the same way (s64).
    const files = [{ filename: '/recordings/huge.ts', start: now - 3 * 3600, stop: now - 2 * 3600, size: HUGE as unknown as number }];
    sim.sim.updateDvrEntry(entry.id, { state: 'completed', files });
    const fileOf = (o: unknown): { filename?: string; size?: unknown } | undefined => (o as { files?: Array<{ filename?: string; size?: unknown }> } | undefined)?.files?.[0];
    const cachedFile = (): { filename?: string; size?: unknown } | undefined => fileOf(server().session.cache.dvrEntriesById.get(entry.id));
    await waitFor(() => cachedFile()?.filename === '/recordings/huge.ts', 'the new file in the cache');
    assert.equal(typeof cachedFile()?.size, 'bigint', 'the cache holds the value as decoded');
    await waitFor(() => got.some((x) => x.id === entry.id && fileOf(x.payload)?.filename === '/recordings/huge.ts'), 'the update message');
    const m = got.filter((x) => x.id === entry.id).pop() as Msg;
    let text = '';
    assert.doesNotThrow(() => {
      text = JSON.stringify({ payload: m.payload, previous: m.previous });
    });
    assert.match(text, new RegExp(`"size":"${HUGE}"`));
    assert.equal(typeof cachedFile()?.size, 'bigint', 'the cache is not changed by the conversion');
  });
});

describe('tvheadend-events: automation events', () => {
  const sim = simPerSuite({ autorecEntries: [], timerecEntries: [] });

  it('recording started, finished and failed as the simulated clock moves', async () => {
    const node = eventsNode('rec', '', { kinds: [], automations: ['recordingStarted', 'recordingFinished', 'recordingFailed'] });
    const got = await deploy(sim.port, node);
    const demo = sim.sim.dvrEntries.find((e) => e.title === 'Demo Recording');
    assert.ok(demo && demo.state === 'scheduled');
    const running = sim.sim.dvrEntries.find((e) => e.state === 'recording');
    assert.ok(running);

    sim.sim.advance(demo.start - sim.sim.now() + 5);
    await waitFor(() => got.some((m) => m.topic === 'recording/started'), 'recording/started');
    const started = got.find((m) => m.topic === 'recording/started') as Msg;
    const sp = started.payload as Record<string, unknown>;
    assert.equal(sp.title, 'Demo Recording');
    assert.equal(sp.state, 'recording');
    assert.equal(sp.previousState, 'scheduled');
    assert.equal(started.kind, 'recording');
    assert.equal(started.action, 'started');

    sim.sim.advance(demo.stop - sim.sim.now() + 5);
    await waitFor(() => got.some((m) => m.topic === 'recording/finished' && m.id === demo.id), 'recording/finished');

    sim.sim.failDvrEntry(running.id, 'Tuning failed');
    await waitFor(() => got.some((m) => m.topic === 'recording/failed'), 'recording/failed');
    const failed = got.find((m) => m.topic === 'recording/failed') as Msg;
    assert.equal((failed.payload as Record<string, unknown>).error, 'Tuning failed');
    assert.equal((failed.payload as Record<string, unknown>).cause, 'completed-with-error');
    assert.equal(got.filter((m) => m.topic === 'recording/started' && m.id === demo.id).length, 1, 'started once');
  });

  it('a reminder fires once for a matching programme, none for others', async () => {
    const node = eventsNode('rem', '', { kinds: [], automations: ['reminder'], reminderMinutes: '1', title: 'reminder target', channels: 'Sim One HD' });
    const got = await deploy(sim.port, node);
    const [ch0, ch1] = sim.sim.channels;
    // Server time as the session sees it: the reminder is due two seconds from now.
    const start = server().session.serverNow() + 60 + 2;
    sim.sim.addEvent({ channelId: ch0.id, start, stop: start + 900, title: 'The Reminder Target' });
    sim.sim.addEvent({ channelId: ch1.id, start, stop: start + 900, title: 'The Reminder Target (other channel)' });
    sim.sim.addEvent({ channelId: ch0.id, start: start + 1, stop: start + 901, title: 'Not wanted' });
    await waitFor(() => got.length >= 1, 'the reminder', 8000);
    await delay(1500);
    assert.equal(got.length, 1, `one reminder, got ${got.map((m) => String((m.payload as { title?: string }).title)).join(', ')}`);
    const p = got[0].payload as Record<string, unknown>;
    assert.equal(got[0].topic, 'reminder');
    assert.equal(p.title, 'The Reminder Target');
    assert.equal(p.channelId, ch0.id);
    assert.equal(p.leadMinutes, 1);
    assert.ok(typeof p.startsInSeconds === 'number' && p.startsInSeconds > 50 && p.startsInSeconds <= 61, `starts in about a minute: ${String(p.startsInSeconds)}`);
  });

  it('a redeployed node does not remind again of a programme it already announced', async () => {
    const node = eventsNode('rem', '', { kinds: [], automations: ['reminder'], reminderMinutes: '1', title: 'redeploy target', channels: 'Sim One HD' });
    const got = await deploy(sim.port, node);
    const ch0 = sim.sim.channels[0];
    // Due two seconds from now; still inside its window (until the start) a minute later.
    const start = server().session.serverNow() + 60 + 2;
    sim.sim.addEvent({ channelId: ch0.id, start, stop: start + 900, title: 'The Redeploy Target' });
    await waitFor(() => got.length >= 1, 'the reminder', 8000);
    // A changed node is a new instance; `rem-out` is unchanged, so `got` keeps listening.
    const instance = helper.getNode('rem');
    const renamed = { ...node, name: 'renamed' };
    await helper.setFlows(flow(sim.port, [renamed]), 'nodes', credentials('s1'));
    await waitFor(() => helper.getNode('rem') !== instance, 'a new instance');
    await delay(1000);
    assert.deepEqual(got.map((m) => m.topic), ['reminder'], 'no second reminder after the redeploy');
    // The premise: a node of its own with the same rule, wired to the same sink, does remind:
    // the programme was still inside its reminder window.
    const withOther = flow(sim.port, [renamed]);
    withOther.push({ ...node, id: 'other', wires: [['rem-out']] });
    await helper.setFlows(withOther, 'nodes', credentials('s1'));
    await waitFor(() => got.length >= 2, "the other node's reminder", 8000);
    assert.deepEqual(got.map((m) => m.topic), ['reminder', 'reminder']);
  });

  it('now playing changes with the EPG event resolved', async () => {
    const node = eventsNode('np', '', { kinds: [], automations: ['nowPlaying'], channels: 'Sim One HD' });
    const got = await deploy(sim.port, node);
    const ch0 = sim.sim.channels[0];
    const { now } = sim.sim.getNowNext(ch0.id);
    assert.ok(now);
    sim.sim.advance(now.stop - sim.sim.now() + 1);
    await waitFor(() => got.length >= 1, 'nowPlaying');
    const m = got[0];
    assert.equal(m.topic, `nowPlaying/${ch0.name}`);
    const p = m.payload as { eventId: number; now?: { title?: string; eventId: number }; channelId: number };
    assert.equal(p.channelId, ch0.id);
    assert.equal(p.eventId, sim.sim.getNowNext(ch0.id).now?.id);
    assert.equal(p.now?.eventId, p.eventId, 'the EPG event is resolved');
    assert.ok(got.every((x) => x.topic === `nowPlaying/${ch0.name}`), 'other channels are filtered out');
  });
});

describe('tvheadend-events: server-wide activity', () => {
  const sim = simPerSuite({}, {
    started: (s) => {
      s.sim.addUser({ username: 'viewer', password: 'viewer', rights: { streaming: true, dvr: true } });
    },
  });

  it('viewers appear and leave with an admin user; two nodes share one poll', async () => {
    const apiCalls: number[] = [];
    const onRequest = (r: { method?: string; message: Record<string, unknown> }): void => {
      if (r.method === 'api' && r.message.path === 'status/subscriptions') apiCalls.push(Date.now());
    };
    sim.sim.on('request', onRequest);
    try {
      const nodes = [
        eventsNode('srv1', '', { kinds: ['serverSubscription'], pollInterval: 1 }),
        eventsNode('srv2', '', { kinds: ['serverSubscription', 'connection'], pollInterval: 1 }),
        eventsNode('srv3', '', { kinds: ['input'], pollInterval: 4 }),
      ];
      await helper.load(NODES, flow(sim.port, nodes), credentials('s1'));
      const got = received('srv1');
      const srv = await ready();
      // A viewer added before the first poll has finished would be part of that (ignored) poll.
      const poller = ServerStatusPoller.for(srv.session);
      await waitFor(() => !poller.current().stale, 'the first completed poll');
      const ch = sim.sim.channels[1];
      const viewer = sim.sim.addExternalViewer({ channelId: ch.id, username: 'grandma', hostname: '192.168.1.77', client: 'Kodi' });
      await waitFor(() => got.some((m) => m.topic === 'serverSubscription/add'), 'the viewer', 4000);
      const add = got.find((m) => m.topic === 'serverSubscription/add') as Msg;
      const p = add.payload as Record<string, unknown>;
      assert.equal(p.hostname, '192.168.1.77');
      assert.equal(p.channel, ch.name);
      assert.equal(add.kind, 'serverSubscription');

      sim.sim.removeExternalViewer(viewer);
      await waitFor(() => got.some((m) => m.topic === 'serverSubscription/delete'), 'the viewer leaving', 4000);

      // Four more polls of status/subscriptions: one shared poller spaces them a second apart;
      // nodes polling on their own would ask two or three times per second. Load can only
      // spread polls out, so the lower bound on the span holds on a busy machine too.
      const before = apiCalls.length;
      await waitFor(() => apiCalls.length >= before + 4, 'four more polls', 15000);
      const span = apiCalls[before + 3] - apiCalls[before];
      assert.ok(span >= 3 * 1000 * 0.9, `one poll per second for all nodes, got 4 polls in ${span} ms`);
      assert.equal(got.filter((m) => m.initial).length, 0, 'what the first poll found is not a change');
    } finally {
      sim.sim.off('request', onRequest);
    }
  });

  it('a node joining mid-way does not make the others miss a viewer leaving', async () => {
    const nodes = [eventsNode('mid1', '', { kinds: ['serverSubscription'], pollInterval: 1 })];
    await helper.load(NODES, flow(sim.port, nodes), credentials('s1'));
    const got = received('mid1');
    const srv = await ready();
    // Same wishes as the node: joins its poll without changing it, and sees when a poll is done.
    let polls = 0;
    const probe = joinStatusPoll(srv.session, {
      intervalMs: 1000,
      kinds: new Set(['serverSubscription'] as const),
      change: () => undefined,
      unavailable: () => undefined,
      polled: () => void polls++,
    });
    await waitFor(() => polls > 0, 'the first completed poll');
    const viewer = sim.sim.addExternalViewer({ channelId: sim.sim.channels[0].id, username: 'grandpa', hostname: '192.168.1.78' });
    await waitFor(() => got.some((m) => m.topic === 'serverSubscription/add'), 'the viewer', 4000);

    // The viewer leaves, and before the next poll another node (other interval, more kinds) joins.
    sim.sim.removeExternalViewer(viewer);
    const late = joinStatusPoll(srv.session, {
      intervalMs: 2000,
      kinds: new Set(['serverSubscription', 'connection'] as const),
      change: () => undefined,
      unavailable: () => undefined,
      polled: () => undefined,
    });
    try {
      await waitFor(() => got.some((m) => m.topic === 'serverSubscription/delete'), 'the viewer leaving', 4000);
      const del = got.find((m) => m.topic === 'serverSubscription/delete') as Msg;
      assert.equal((del.payload as Record<string, unknown>).username, 'grandpa');
    } finally {
      late.leave();
      probe.leave();
    }
  });

  it('without admin rights: "no admin rights" once in the status, and no polling', async () => {
    let apiCalls = 0;
    const onRequest = (r: { method?: string }): void => {
      if (r.method === 'api') apiCalls++;
    };
    sim.sim.on('request', onRequest);
    try {
      const nodes = [eventsNode('na', '', { kinds: ['serverSubscription', 'input', 'dvrEntry'], pollInterval: 1 })];
      await helper.load(NODES, flow(sim.port, nodes), credentials('s1', 'viewer', 'viewer'));
      const statuses: NodeStatus[] = statusesOf('na');
      await ready();
      await delay(3500);
      const noAdmin = statuses.filter((s) => /no admin rights/.test(String(s.text)));
      assert.equal(noAdmin.length, 1, `statuses: ${statuses.map((s) => s.text).join(' | ')}`);
      assert.equal(apiCalls, 0, 'no status request is sent without the admin right');
    } finally {
      sim.sim.off('request', onRequest);
    }
  });
});

describe('tvheadend-events: reconnect', () => {
  // A frozen clock: no programme boundary (a channel and EPG change) can fall into a test.
  const sim = simPerSuite(() => ({ dvrEntries: quietEntries(), autorecEntries: [], timerecEntries: [], speed: 0 }));

  it('a restart with changes made while away reports exactly those changes', async () => {
    const node = eventsNode('rc', '', { kinds: ['dvrEntry', 'autorecEntry', 'timerecEntry', 'session'] });
    const got = await deploy(sim.port, node, { pingInterval: 0 });
    const alpha = entryId(sim, 'Alpha Show');
    const beta = entryId(sim, 'Beta News');

    await sim.sim.stop();
    await waitFor(() => server().session.state !== 'ready', 'the session to notice');
    sim.sim.updateDvrEntry(alpha, { comment: 'changed while away' });
    sim.sim.deleteDvrEntry(beta);
    const now = sim.sim.now();
    const added = sim.sim.addDvrEntry({ channelIndex: 3, start: now + 12 * 3600, stop: now + 13 * 3600, title: 'Delta Added' });
    const mark = got.length;
    await sim.sim.start();
    await waitFor(() => got.slice(mark).some((m) => m.topic === 'session/ready'), 'the session to be ready again', 15_000);
    await delay(500);

    const objects = got.slice(mark).filter((m) => m.kind !== 'session');
    assert.equal(got.slice(0, mark).filter((m) => m.kind !== 'session').length, 0, 'nothing before the restart');
    const seen = objects.map((m) => `${m.topic}:${String(m.id)}`).sort();
    assert.deepEqual(seen, [`dvrEntry/add:${added.id}`, `dvrEntry/delete:${beta}`, `dvrEntry/update:${alpha}`].sort());
    assert.ok(objects.every((m) => m.resync === true), 'marked as found by the reconnect');
    const update = objects.find((m) => m.action === 'update') as Msg;
    assert.deepEqual(update.changed, ['comment']);

    const states = got.filter((m) => m.kind === 'session').map((m) => m.action);
    assert.ok(states.indexOf('disconnected') > states.indexOf('ready'), `states: ${states.join(', ')}`);
    assert.equal(states[states.length - 1], 'ready');
  });
});
