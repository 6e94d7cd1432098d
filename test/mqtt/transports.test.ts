// The bridge over the transports and logins real installations use, against Debian's mosquitto:
// MQTT over TLS with a CA made for this run, WebSocket plain and over TLS, and a password file.
// A wrong CA, a certificate for another name or a wrong password must end in one clear refusal
// that the status explains, never in a reconnect loop.
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HtspSession } from '../../src/htsp';
import { TvheadendSimulator } from '../../src/sim';
import { MqttBridge, type BridgeOptions, type BrokerOptions, type BridgeStatus } from '../../src/mqtt';
import {
  findMosquitto,
  findMosquittoPasswd,
  findOpenssl,
  loudWarning,
  makePasswordFile,
  makeTestPki,
  MosquittoBroker,
  type TestPki,
} from './brokers';
import { retainedSnapshot, sleep, waitFor, Watcher } from './helpers';

const ORIGIN = { name: 'node-red-contrib-tvheadend', sw: '0.1.0', url: 'https://example.invalid/node-red-contrib-tvheadend' };
const FAST = { publishIntervalMs: 50, readbackMs: 200, statsIntervalMs: 300, statusPollMs: 200 };
const USER = 'tvh-bridge';
const PASSWORD = 'Mosq-Pass-8842-unlikely';
/** How long a refused bridge is watched for a second attempt (its reconnect period is 100 ms). */
const QUIET_MS = 1500;

const onCi = process.env.CI === 'true';
const mosquittoBin = findMosquitto();
const opensslBin = findOpenssl();
const passwdBin = findMosquittoPasswd();
const missing = [!mosquittoBin && 'mosquitto', !opensslBin && 'openssl'].filter((m): m is string => typeof m === 'string');

test('mosquitto and openssl are installed (required on CI)', { skip: !onCi && 'only enforced with CI=true' }, () => {
  assert.deepEqual(missing, [], `${missing.join(' and ')} missing, and CI=true requires them (apt-get install mosquitto openssl)`);
});

if (missing.length && !onCi) {
  loudWarning([
    `WARNING: ${missing.join(' and ')} not installed: the MQTT TLS, WebSocket and password tests are SKIPPED.`,
    `Install ${missing.join(' and ')} (apt-get install mosquitto openssl) to run them; CI fails without.`,
  ]);
}
if (!missing.length && !passwdBin) {
  loudWarning([
    'WARNING: mosquitto_passwd not found: the broker user name and password test is SKIPPED.',
    'It comes with Debian\'s mosquitto package; install that to run it.',
  ]);
}

describe('MQTT bridge over TLS, WebSocket and with a broker login (mosquitto)', { skip: missing.length > 0 && !onCi && `${missing.join(' and ')} not installed` }, () => {
  let dir = '';
  let pki: TestPki;
  let broker: MosquittoBroker;
  let sim: TvheadendSimulator;
  let session: HtspSession;
  let bridges: MqttBridge[] = [];
  let watchers: Watcher[] = [];
  let counter = 0;

  before(async () => {
    if (!mosquittoBin || !opensslBin) throw new Error(`${missing.join(' and ')} not installed, and CI=true requires them (apt-get install mosquitto openssl)`);
    dir = mkdtempSync(join(tmpdir(), 'tvh-mqtt-tls-'));
    pki = makeTestPki(opensslBin, dir);
    const passwordFile = passwdBin ? join(dir, 'passwords') : undefined;
    if (passwdBin && passwordFile) makePasswordFile(passwdBin, passwordFile, USER, PASSWORD);
    broker = new MosquittoBroker(mosquittoBin, {
      tls: { caFile: pki.caFile, certFile: pki.certFile, keyFile: pki.keyFile },
      websockets: true,
      ...(passwordFile ? { passwordFile } : {}),
    });
    await broker.start();
    // A frozen clock: the demo recording due 90 s after start must not change the count mid-suite.
    sim = new TvheadendSimulator({ port: 0, tickMs: 100, speed: 0 });
    const where = await sim.start();
    session = new HtspSession({ ...where, username: 'demo', password: 'demo', pingIntervalMs: 0 });
    session.start();
    await waitFor('session ready', () => session.state === 'ready');
  });

  after(async () => {
    await session?.stop();
    await sim?.stop();
    await broker?.stop();
    broker?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  afterEach(async () => {
    for (const b of bridges.splice(0)) await b.stop(1000);
    for (const w of watchers.splice(0)) await w.close();
  });

  function bridge(brokerOpts: Partial<BrokerOptions> & { url: string }, logs: string[] = []): { b: MqttBridge; base: string } {
    const base = `tvheadend/transport${++counter}`;
    const opts: BridgeOptions = {
      session,
      broker: { reconnectPeriodMs: 100, connectTimeoutMs: 3000, ...brokerOpts },
      baseTopic: base,
      discoveryPrefix: 'hatransport',
      origin: ORIGIN,
      serverStatus: false,
      timing: FAST,
      log: (level, text) => logs.push(`${level} ${text}`),
    };
    const b = new MqttBridge(opts);
    bridges.push(b);
    b.start();
    return { b, base };
  }

  /** Watches over the plain listener: whatever the bridge sent over TLS or WebSocket shows here too. */
  async function watch(base: string): Promise<Watcher> {
    const w = await Watcher.open(broker.url, [`${base}/#`]);
    watchers.push(w);
    return w;
  }

  /** Connection attempts mosquitto logged on one port. */
  function attemptsOn(port: number): number {
    const re = new RegExp(`New connection from \\S+ on port ${port}\\.`, 'g');
    return broker.output.match(re)?.length ?? 0;
  }

  async function expectOnline(b: MqttBridge, base: string, w: Watcher): Promise<void> {
    await waitFor('bridge connected', () => b.status.broker === 'connected');
    await waitFor('retained online', () => w.value(`${base}/status`) === 'online');
    const server = await waitFor('server state', () => w.json<{ name: string; htspVersion: number }>(`${base}/server`));
    assert.equal(server.name, sim.serverName);
    assert.equal(server.htspVersion, 44);
    await waitFor('recording state', () => w.json<{ count: number }>(`${base}/recording`)?.count === 1);
    const snap = await retainedSnapshot(broker.url, [`${base}/status`, `${base}/server`], 200);
    assert.equal(snap.get(`${base}/status`), 'online', 'online is retained');
    assert.ok(snap.has(`${base}/server`), 'the state is retained');
    assert.equal(b.status.protocolVersion, 5);
    assert.equal(b.status.error, undefined);
  }

  /** Refused once, the status saying why, and no second attempt while we watch. */
  async function expectRefusedOnce(b: MqttBridge, port: number, attemptsBefore: number, logs: string[]): Promise<BridgeStatus> {
    await waitFor('refused', () => b.status.broker === 'refused');
    await sleep(QUIET_MS);
    assert.equal(attemptsOn(port) - attemptsBefore, 1, 'one connection attempt, no reconnect loop');
    assert.equal(b.status.broker, 'refused', 'the refusal stays on the status');
    assert.equal(logs.filter((l) => l.startsWith('error ')).length, 1, `one error line: ${logs.join(' | ')}`);
    return b.status;
  }

  test('mqtts:// with the CA that signed the broker certificate: connects and publishes retained state', async () => {
    const before = attemptsOn(broker.tlsPort);
    const { b, base } = bridge({ url: broker.tlsUrl, tls: { ca: pki.ca } });
    const w = await watch(base);
    await expectOnline(b, base, w);
    assert.ok(attemptsOn(broker.tlsPort) > before, 'the bridge used the TLS listener');
    // A client trusting the same CA reads it back over TLS.
    const tlsWatcher = await Watcher.open(broker.tlsUrl, [`${base}/status`], { ca: pki.ca });
    watchers.push(tlsWatcher);
    await waitFor('online over TLS', () => tlsWatcher.value(`${base}/status`) === 'online');
  });

  test('ws:// (WebSocket): connects and publishes retained state', async () => {
    const { b, base } = bridge({ url: broker.wsUrl });
    const w = await watch(base);
    await expectOnline(b, base, w);
  });

  test('wss:// (WebSocket over TLS) with the CA: connects and publishes retained state', async () => {
    const { b, base } = bridge({ url: broker.wssUrl, tls: { ca: pki.ca } });
    const w = await watch(base);
    await expectOnline(b, base, w);
  });

  test('mqtts:// trusting another CA: refused once, saying the certificate is not trusted', async () => {
    const logs: string[] = [];
    const before = attemptsOn(broker.tlsPort);
    const { b, base } = bridge({ url: broker.tlsUrl, tls: { ca: pki.otherCa } }, logs);
    const st = await expectRefusedOnce(b, broker.tlsPort, before, logs);
    assert.equal(st.problem, 'tls-untrusted');
    assert.match(st.error ?? '', /certificate is not trusted .*CA/);
    const snap = await Watcher.open(broker.url, [`${base}/#`]);
    watchers.push(snap);
    await sleep(100);
    assert.equal(snap.last.size, 0, 'nothing was published');
  });

  test('wss:// trusting another CA: refused the same way', async () => {
    const logs: string[] = [];
    const { b } = bridge({ url: broker.wssUrl, tls: { ca: pki.otherCa } }, logs);
    await waitFor('refused', () => b.status.broker === 'refused');
    assert.equal(b.status.problem, 'tls-untrusted');
    await sleep(500);
    assert.equal(logs.filter((l) => l.startsWith('error ')).length, 1, logs.join(' | '));
  });

  test('mqtts:// to a certificate for another name: refused, saying so', async () => {
    const logs: string[] = [];
    const before = attemptsOn(broker.tlsPort);
    // The certificate names 127.0.0.1; asking for another name must fail the identity check.
    const { b } = bridge({ url: broker.tlsUrl, tls: { ca: pki.ca, servername: 'broker.example.invalid' } }, logs);
    const st = await expectRefusedOnce(b, broker.tlsPort, before, logs);
    assert.equal(st.problem, 'tls-hostname');
    assert.match(st.error ?? '', /not for this host name/);
  });

  test('a broker login: the right password connects, a wrong one is refused once and stays refused', { skip: !passwdBin && 'mosquitto_passwd not installed' }, async () => {
    const { b: good, base } = bridge({ url: broker.authUrl, username: USER, password: PASSWORD });
    const w = await watch(base);
    await expectOnline(good, base, w);

    const logs: string[] = [];
    const before = attemptsOn(broker.authPort);
    const { b: bad } = bridge({ url: broker.authUrl, username: USER, password: 'wrong-password-1234' }, logs);
    const st = await expectRefusedOnce(bad, broker.authPort, before, logs);
    assert.equal(st.problem, 'credentials');
    assert.match(st.error ?? '', /refused the user name or password/);
    for (const text of [...logs, JSON.stringify(st)]) {
      assert.ok(!text.includes('wrong-password-1234') && !text.includes(PASSWORD), `a password leaked: ${text}`);
    }

    // No login at all on a listener that wants one.
    const anonLogs: string[] = [];
    const { b: anon } = bridge({ url: broker.authUrl }, anonLogs);
    await waitFor('anonymous refused', () => anon.status.broker === 'refused');
    assert.equal(anon.status.problem, 'credentials');
    assert.match(anon.status.error ?? '', /wants a user name and password/);
  });
});
