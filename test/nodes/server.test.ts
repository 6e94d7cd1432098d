// The tvheadend-server config node: migration, status texts, session sharing and lifecycle,
// credentials hygiene, and the admin routes, against the simulator.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeAPI } from 'node-red';
import type { Request, Response, NextFunction } from 'express';
import serverModule = require('../../src/nodes/server/tvheadend-server');
import callModule = require('../../src/nodes/call/tvheadend-call');
import { migrateServerConfig, SERVER_CONFIG_VERSION, SERVER_DEFAULTS, sessionOptions } from '../../src/nodes/server/config';
import { describeTestFailure } from '../../src/nodes/server/routes';
import { clockTime, sessionNodeStatus, sessionStateText } from '../../src/nodes/shared/status';
import type { TvheadendServerNode } from '../../src/nodes/shared/types';
import { HtspError } from '../../src/htsp';
import type { SessionStatus } from '../../src/htsp';
import {
  helper,
  closedPort,
  serverNode,
  credentials,
  waitFor,
  events,
  delay,
  loggedText,
  exportedFlows,
  serialise,
  PASSWORD,
  USER,
  serverOf as server,
  tab,
  type FlowNode,
} from './helpers';
import { simPerSuite } from './suite';

const TAB: FlowNode = tab();
const nodes = [serverModule, callModule];

function call(id: string, extra: Record<string, unknown> = {}): FlowNode {
  return { id, type: 'tvheadend-call', z: 'f1', name: '', server: 's1', method: 'getSysTime', fields: '{}', fieldsType: 'json', timeout: '', wires: [[]], ...extra };
}


describe('migrateServerConfig', () => {
  it('fills every default for an unversioned, empty definition', () => {
    assert.deepEqual(migrateServerConfig({}), { ...SERVER_DEFAULTS, version: SERVER_CONFIG_VERSION });
  });

  it('coerces the strings older editors saved and keeps valid values', () => {
    const c = migrateServerConfig({ host: ' tv.lan ', port: '9983', epg: 'false', epgDays: '0', pingInterval: '0', requestTimeout: '20', clientName: 'Kitchen' });
    assert.deepEqual(c, {
      version: SERVER_CONFIG_VERSION,
      name: '',
      host: 'tv.lan',
      port: 9983,
      clientName: 'Kitchen',
      epg: false,
      epgDays: 0,
      pingInterval: 0,
      requestTimeout: 20,
    });
  });

  it('replaces unusable values by defaults and clamps out-of-range ones', () => {
    const c = migrateServerConfig({ host: '', port: 'abc', epgDays: -3, requestTimeout: 15000, pingInterval: null, epg: 'maybe' });
    assert.equal(c.host, SERVER_DEFAULTS.host);
    assert.equal(c.port, SERVER_DEFAULTS.port);
    assert.equal(c.epgDays, 0);
    assert.equal(c.requestTimeout, 600);
    assert.equal(c.pingInterval, SERVER_DEFAULTS.pingInterval);
    assert.equal(c.epg, true);
  });

  it('leaves a current definition as it is and drops unknown properties', () => {
    const current = { version: 1, name: 'tv', host: '10.0.0.2', port: 9982, clientName: 'NR', epg: true, epgDays: 7, pingInterval: 10, requestTimeout: 30 };
    assert.deepEqual(migrateServerConfig({ ...current, id: 'x', type: 'tvheadend-server', z: '', legacy: 1 }), current);
  });

  it('maps seconds to the session options and leaves anonymous logins without credentials', () => {
    const c = migrateServerConfig({ pingInterval: 12, requestTimeout: 3 });
    const anon = sessionOptions(c, { username: ' ', password: 'x' }, '1.0.0');
    assert.equal(anon.username, undefined);
    assert.equal(anon.password, undefined);
    assert.equal(anon.pingIntervalMs, 12_000);
    assert.equal(anon.requestTimeoutMs, 3_000);
    const named = sessionOptions(c, { username: 'u', password: 'p' }, '1.0.0');
    assert.equal(named.username, 'u');
    assert.equal(named.password, 'p');
  });
});

describe('sessionNodeStatus', () => {
  const base = { since: 0, attempt: 1 };
  const st = (s: Partial<SessionStatus> & Pick<SessionStatus, 'state'>): SessionStatus => ({ ...base, ...s });

  it('says what the session is doing, in a few words', () => {
    assert.deepEqual(sessionNodeStatus(st({ state: 'connecting' })), { fill: 'yellow', shape: 'ring', text: 'connecting' });
    assert.equal(sessionNodeStatus(st({ state: 'connecting', attempt: 3 })).text, 'connecting (try 3)');
    assert.equal(sessionNodeStatus(st({ state: 'authenticating' })).text, 'authenticating');
    assert.equal(sessionNodeStatus(st({ state: 'syncing', sync: { channels: 12, tags: 3, dvrEntries: 2, events: 1234 } })).text, 'syncing 1234 events');
    assert.equal(sessionNodeStatus(st({ state: 'syncing', sync: { channels: 12, tags: 3, dvrEntries: 2, events: 0 } })).text, 'syncing 12 channels');
    assert.deepEqual(sessionNodeStatus(st({ state: 'ready' })), { fill: 'green', shape: 'dot', text: 'connected' });
    assert.equal(sessionNodeStatus(st({ state: 'ready' }), { serverName: 'Tvheadend', htspVersion: 44 }).text, 'Tvheadend · HTSP 44');
    assert.equal(sessionNodeStatus(st({ state: 'ready' }), { serverName: 'Living room server', htspVersion: 34 }).text, 'Living ro… · HTSP 34');
    assert.deepEqual(sessionNodeStatus(st({ state: 'auth-failed' })), { fill: 'red', shape: 'ring', text: 'auth failed' });
    const at = new Date(2026, 0, 1, 10, 42, 5).getTime();
    assert.equal(clockTime(at), '10:42:05');
    assert.deepEqual(sessionNodeStatus(st({ state: 'disconnected', nextRetryAt: at })), { fill: 'red', shape: 'ring', text: 'down, retry 10:42:05' });
    assert.deepEqual(sessionNodeStatus(st({ state: 'disconnected', attempt: 0 })), { fill: 'grey', shape: 'ring', text: 'disconnected' });
  });

  it('keeps every text the canvas shows within about 20 characters', () => {
    const at = new Date(2026, 0, 1, 10, 42, 5).getTime();
    const error = new HtspError('protocol', 'x');
    const all: SessionStatus[] = [
      st({ state: 'connecting', attempt: 12 }),
      st({ state: 'authenticating' }),
      st({ state: 'syncing', sync: { channels: 120, tags: 3, dvrEntries: 2, events: 99999 } }),
      st({ state: 'ready' }),
      st({ state: 'auth-failed' }),
      st({ state: 'disconnected', nextRetryAt: at, error }),
      st({ state: 'disconnected', error }),
      st({ state: 'disconnected', error: new HtspError('auth-failed', 'x') }),
      st({ state: 'disconnected', error: new HtspError('disconnected', 'x') }),
    ];
    for (const s of all) {
      const text = sessionNodeStatus(s, { serverName: 'A very long server name', htspVersion: 44 }).text ?? '';
      assert.ok(text.length <= 20, `"${text}" (${s.state}) is short`);
    }
    assert.equal(sessionNodeStatus(st({ state: 'disconnected', error })).text, 'down: protocol');
  });

  it('says more where there is room: the server dialog and the status route', () => {
    assert.equal(sessionStateText(st({ state: 'ready' }), { serverName: 'Living room', htspVersion: 44 }), 'connected to Living room (HTSP v44)');
    assert.equal(sessionStateText(st({ state: 'connecting', attempt: 3 })), 'connecting (attempt 3)');
    const at = new Date(2026, 0, 1, 10, 42, 5).getTime();
    assert.equal(
      sessionStateText(st({ state: 'disconnected', nextRetryAt: at, error: new HtspError('timeout', 'no answer') })),
      'disconnected: timeout, next try at 10:42:05',
    );
  });
});

describe('describeTestFailure', () => {
  it('names the usual failures in words', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    assert.equal(describeTestFailure(new HtspError('disconnected', 'x', { cause: refused }), 'h:1').result, 'refused');
    const dns = Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
    assert.match(describeTestFailure(new HtspError('disconnected', 'x', { cause: dns }), 'nohost:1').message, /host not found/);
    assert.match(describeTestFailure(new HtspError('timeout', 'x'), 'h:1').message, /timeout/);
    assert.match(describeTestFailure(new HtspError('auth-failed', 'x'), 'h:1').message, /wrong user or password/);
  });
});

describe('tvheadend-server with the simulator', () => {
  const sim = simPerSuite();

  it('connects on the first user and pushes connecting → connected to every user', async () => {
    // Deploy the watchers first, then the users, so that the very first status is seen.
    const watch = [TAB, serverNode('s1', sim.port), { id: 'w1', type: 'status', z: 'f1', scope: null, wires: [['out']] }, { id: 'out', type: 'helper', z: 'f1' }];
    await helper.load(nodes, watch, credentials('s1'));
    // What the config node pushes, recorded at the source...
    const pushed: { id: string; text: string }[] = [];
    const srv = server() as { register: TvheadendServerNode['register'] };
    const register = srv.register;
    srv.register = (user) =>
      register({
        id: user.id,
        status: (st) => {
          pushed.push({ id: user.id, text: st.text ?? '' });
          user.status(st);
        },
      });
    // ...and what reaches the flow through a Status node.
    const seen: { id: string; text: string }[] = [];
    events('out').on('input', (msg: { status: { text: string; source: { id: string } } }) => seen.push({ id: msg.status.source.id, text: msg.status.text }));
    await helper.setFlows([...watch, call('c1'), call('c2')], 'nodes', credentials('s1'));
    await waitFor(() => server().session.state === 'ready', 'ready');
    await waitFor(() => seen.filter((s) => s.text === 'Tvheadend · HTSP 44').length >= 2, 'connected status on both');
    for (const id of ['c1', 'c2']) {
      const texts = pushed.filter((s) => s.id === id).map((s) => s.text);
      assert.ok(texts.some((t) => t.startsWith('connecting')), `${id} was told connecting: ${texts.join(', ')}`);
      assert.equal(texts[texts.length - 1], 'Tvheadend · HTSP 44');
      const shown = seen.filter((s) => s.id === id).map((s) => s.text);
      assert.equal(shown[shown.length - 1], 'Tvheadend · HTSP 44', `${id} showed: ${shown.join(', ')}`);
    }
    assert.equal(sim.sim.connectionCount, 1, 'one TCP connection for two users');
  });

  it('after a lost connection users see the retry time, then connected again', async () => {
    await helper.load(nodes, [TAB, serverNode('s1', sim.port), call('c1')], credentials('s1'));
    await waitFor(() => server().session.state === 'ready', 'ready');
    const shown: string[] = [];
    events('c1').on('call:status', (c: { args: [{ text?: string }] }) => shown.push(c.args[0].text ?? ''));
    sim.sim.dropConnections();
    await waitFor(() => shown.some((t) => /^down, retry \d\d:\d\d:\d\d$/.test(t)), 'retry status');
    await waitFor(() => server().session.state === 'ready', 'ready again', 8000);
    await waitFor(() => shown[shown.length - 1] === 'Tvheadend · HTSP 44', 'connected status');
    const WARN = 30; // Node-RED's log level number for warnings
    const warnings = helper.log().args.filter((a: unknown[]) => {
      const entry = a[0] as { level?: number; id?: string };
      return entry.level === WARN && entry.id === 's1';
    });
    assert.equal(warnings.length, 1, 'one warning for one outage');
  });

  it('a config node without users does not connect', async () => {
    const before = sim.connections();
    await helper.load(nodes, [TAB, serverNode('s1', sim.port)], credentials('s1'));
    await delay(300);
    assert.equal(sim.connections(), before);
    assert.equal(server().session.state, 'disconnected');
  });

  it('shows "auth failed" after a wrong password and does not retry', async () => {
    const before = sim.connections();
    await helper.load(nodes, [TAB, serverNode('s1', sim.port), call('c1')], credentials('s1', USER, 'wrong-password-123'));
    await waitFor(() => server().session.state === 'auth-failed', 'auth-failed');
    assert.deepEqual(server().currentStatus, { fill: 'red', shape: 'ring', text: 'auth failed' });
    // The first retry would come after about a second; wait well past it.
    await delay(2500);
    assert.equal(sim.connections() - before, 1, 'exactly one connection attempt');
    assert.equal(server().session.state, 'auth-failed');
    assert.doesNotMatch(loggedText(), /wrong-password-123/);
  });

  it('never puts the credentials in the exported flow, the status or the log', async () => {
    await helper.load(nodes, [TAB, serverNode('s1', sim.port), call('c1')], credentials('s1'));
    await waitFor(() => server().session.state === 'ready', 'ready');
    const flows = serialise(exportedFlows());
    assert.doesNotMatch(flows, new RegExp(PASSWORD));
    assert.doesNotMatch(flows, new RegExp(USER));
    assert.doesNotMatch(serialise(server().currentStatus), new RegExp(PASSWORD));
    const res = await helper.request().get('/tvheadend/s1/status').expect(200);
    assert.doesNotMatch(JSON.stringify(res.body), new RegExp(`${PASSWORD}|${USER}`));
    assert.doesNotMatch(loggedText(), new RegExp(PASSWORD));
  });

  it('the last user leaving with removed=true stops the session; a restarted user keeps it', async () => {
    const flow = [TAB, serverNode('s1', sim.port), call('c1')];
    await helper.load(nodes, flow, credentials('s1'));
    await waitFor(() => server().session.state === 'ready', 'ready');
    const session = server().session;
    const opened = sim.connections();

    // Changing the call node restarts it (removed=false): the session must survive.
    await helper.setFlows([TAB, serverNode('s1', sim.port), call('c1', { name: 'renamed' })], 'nodes', credentials('s1'));
    await delay(200);
    assert.equal(server().session, session, 'same config node instance');
    assert.equal(session.state, 'ready');
    assert.equal(sim.connections(), opened, 'no reconnect on a restart');

    // Deleting it (removed=true) leaves the config node without users: disconnect.
    await helper.setFlows([TAB, serverNode('s1', sim.port)], 'nodes', credentials('s1'));
    await waitFor(() => session.state === 'disconnected', 'session stopped');
    await waitFor(() => sim.sim.connectionCount === 0, 'socket closed at the server');
    assert.equal(server().session, session, 'the config node itself stayed');
  });

  it('closes within a few seconds even when the server stops answering', async () => {
    await helper.load(nodes, [TAB, serverNode('s1', sim.port), call('c1')], credentials('s1'));
    await waitFor(() => server().session.state === 'ready', 'ready');
    sim.sim.stall();
    const t0 = Date.now();
    await helper.unload();
    sim.sim.resume();
    assert.ok(Date.now() - t0 < 4000, `closed in ${Date.now() - t0} ms`);
  });
});

describe('admin routes', () => {
  const sim = simPerSuite();
  const asked: string[] = [];

  // The test helper's RED.auth lets everything through; this stand-in records which permission
  // each route asked for and grants it only when the request carries it.
  const guarded = (RED: NodeAPI): void => {
    const auth = {
      needsPermission(permission: string) {
        asked.push(permission);
        return (req: Request, res: Response, next: NextFunction): void => {
          const granted = String(req.headers['x-test-permissions'] ?? '').split(',');
          if (granted.includes(permission)) next();
          else res.status(401).end();
        };
      },
    };
    serverModule({ ...RED, auth } as NodeAPI);
  };
  const READ = { 'x-test-permissions': 'tvheadend-server.read' };
  const WRITE = { 'x-test-permissions': 'tvheadend-server.write' };

  it('asks for tvheadend-server.read and .write and refuses requests without them', async () => {
    await helper.load([guarded, callModule], [TAB, serverNode('s1', sim.port), call('c1')], credentials('s1'));
    assert.ok(asked.includes('tvheadend-server.read'));
    assert.ok(asked.includes('tvheadend-server.write'));
    for (const path of ['status', 'channels', 'profiles', 'dvrconfigs']) {
      await helper.request().get(`/tvheadend/s1/${path}`).expect(401);
    }
    await helper.request().post('/tvheadend/test-connection').send({ host: '127.0.0.1', port: sim.port }).expect(401);
    // Reading does not grant testing.
    await helper.request().post('/tvheadend/test-connection').set(READ).send({ host: '127.0.0.1', port: sim.port }).expect(401);
    await helper.request().get('/tvheadend/s1/status').set(READ).expect(200);
  });

  it('answers 503 "deploy first" for a config node that is not running, and 404 for a node of another type', async () => {
    await helper.load([guarded, callModule], [TAB, serverNode('s1', sim.port), call('c1')], credentials('s1'));
    const res = await helper.request().get('/tvheadend/0123456789abcdef/channels').set(READ).expect(503);
    assert.equal(res.body.error, 'not-deployed');
    assert.match(res.body.message, /deploy the server node first/);
    const other = await helper.request().get('/tvheadend/c1/profiles').set(READ).expect(404);
    assert.match(other.body.message, /not a tvheadend-server/);
  });

  it('answers 503 "not connected" while the deployed server has no users', async () => {
    await helper.load([guarded, callModule], [TAB, serverNode('s1', sim.port)], credentials('s1'));
    const res = await helper.request().get('/tvheadend/s1/channels').set(READ).expect(503);
    assert.equal(res.body.error, 'not-connected');
    const status = await helper.request().get('/tvheadend/s1/status').set(READ).expect(200);
    assert.equal(status.body.state, 'disconnected');
  });

  it('lists channels, profiles and DVR configurations of a connected server', async () => {
    await helper.load([guarded, callModule], [TAB, serverNode('s1', sim.port), call('c1')], credentials('s1'));
    await waitFor(() => server().session.state === 'ready', 'ready');
    const channels = await helper.request().get('/tvheadend/s1/channels').set(READ).expect(200);
    assert.equal(channels.body.length, sim.sim.channels.length);
    const first = sim.sim.channels[0];
    assert.ok(
      (channels.body as { id: number; name: string }[]).some((c) => c.id === first.id && c.name === first.name),
      'simulated channel listed',
    );
    const profiles = await helper.request().get('/tvheadend/s1/profiles').set(READ).expect(200);
    assert.ok((profiles.body as { name: string }[]).some((p) => p.name === 'htsp'));
    const dvr = await helper.request().get('/tvheadend/s1/dvrconfigs').set(READ).expect(200);
    assert.ok(Array.isArray(dvr.body) && dvr.body.length >= 1);
    const status = await helper.request().get('/tvheadend/s1/status').set(READ).expect(200);
    assert.equal(status.body.state, 'ready');
    assert.match(status.body.text, /^connected to Tvheadend \(HTSP v\d+\)$/);
  });

  it('takes the credentials out of a server error before the editor sees it', async () => {
    await helper.load([guarded, callModule], [TAB, serverNode('s1', sim.port), call('c1')], credentials('s1'));
    await waitFor(() => server().session.state === 'ready', 'ready');
    // The simulator never quotes the user; a real server's error text can, so one is stood in here.
    const session = server().session;
    const original = session.call.bind(session);
    session.call = () => Promise.reject(new HtspError('server', `profile list of user "${USER}" (password ${PASSWORD}) unavailable`));
    try {
      for (const path of ['profiles', 'dvrconfigs']) {
        const res = await helper.request().get(`/tvheadend/s1/${path}`).set(READ).expect(502);
        assert.equal(res.body.error, 'server');
        assert.match(res.body.message, /profile list of user "\*\*\*" \(password \*\*\*\) unavailable/, path);
        assert.doesNotMatch(JSON.stringify(res.body), new RegExp(`${USER}|${PASSWORD}`), path);
      }
    } finally {
      session.call = original;
    }
  });

  it('test-connection answers in words and leaves no socket open', async () => {
    await helper.load([guarded, callModule], [TAB, serverNode('s1', sim.port)], credentials('s1'));
    const ok = await helper.request().post('/tvheadend/test-connection').set(WRITE).send({ host: '127.0.0.1', port: sim.port, username: USER, password: PASSWORD }).expect(200);
    assert.equal(ok.body.ok, true);
    assert.match(ok.body.message, /^connected to Tvheadend \S+ \(Tvheadend\), HTSP v44$/);
    await waitFor(() => sim.sim.connectionCount === 0, 'the test socket closed');

    const wrong = await helper.request().post('/tvheadend/test-connection').set(WRITE).send({ host: '127.0.0.1', port: sim.port, username: USER, password: 'nope-nope' }).expect(200);
    assert.equal(wrong.body.ok, false);
    assert.match(wrong.body.message, /wrong user or password/);
    assert.doesNotMatch(JSON.stringify(wrong.body), /nope-nope/);

    const refused = await helper.request().post('/tvheadend/test-connection').set(WRITE).send({ host: '127.0.0.1', port: await closedPort() }).expect(200);
    assert.equal(refused.body.result, 'refused');
    assert.match(refused.body.message, /refused/);

    const bad = await helper.request().post('/tvheadend/test-connection').set(WRITE).send({ host: '127.0.0.1', port: 'x' }).expect(400);
    assert.match(bad.body.message, /port/);
    await waitFor(() => sim.sim.connectionCount === 0, 'no socket left');
  });

  it('test-connection uses the stored password for "__PWRD__", but only for the stored host and port', async () => {
    await helper.load([guarded, callModule], [TAB, serverNode('s1', sim.port)], credentials('s1'));
    const stored = await helper.request().post('/tvheadend/test-connection').set(WRITE).send({ id: 's1', host: '127.0.0.1', port: sim.port, username: USER, password: '__PWRD__' }).expect(200);
    assert.equal(stored.body.ok, true, stored.body.message);
    // Another host (here: the same server under another name) does not get the stored password.
    const elsewhere = await helper.request().post('/tvheadend/test-connection').set(WRITE).send({ id: 's1', host: 'localhost', port: sim.port, username: USER, password: '__PWRD__' }).expect(200);
    assert.equal(elsewhere.body.ok, false, elsewhere.body.message);
  });
});
