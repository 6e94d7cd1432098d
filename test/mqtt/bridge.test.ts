// The MQTT bridge against real brokers: Aedes (in process) and mosquitto (a child process, when
// installed), with the Tvheadend simulator behind a real HTSP session. The same suite runs
// against each broker.
import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { HtspSession } from '../../src/htsp';
import { TvheadendSimulator } from '../../src/sim';
import { MqttBridge, discoveryProblems, type BridgeOptions, type BridgeSession } from '../../src/mqtt';
import { DesiredState } from '../../src/mqtt/desired';
import { brokerMatrix, findMosquitto, type TestBroker } from './brokers';
import { brokerPerSuite, retainedSnapshot, simWithSession, sleep, stopBridgeTest, waitFor, Watcher } from './helpers';
import { joinStatusPoll } from '../../src/nodes/events/status-poll';

const ORIGIN = { name: 'node-red-contrib-tvheadend', sw: '0.1.0', url: 'https://example.invalid/node-red-contrib-tvheadend' };
const PREFIX = 'hatest';

// Compile-time: the real session is what the bridge is written against.
const sessionFits = (s: HtspSession): BridgeSession => s;
void sessionFits;

const FAST = {
  publishIntervalMs: 50,
  readbackMs: 300,
  haBirthDelayMs: 100,
  statsIntervalMs: 300,
  statusPollMs: 200,
  progressIntervalMs: 60_000,
};

let counter = 0;

test('mosquitto is installed (required on CI)', { skip: process.env.CI !== 'true' && 'only enforced with CI=true' }, () => {
  assert.ok(findMosquitto(), 'mosquitto is not installed, and CI=true requires it (apt-get install mosquitto)');
});

for (const entry of brokerMatrix()) {
  describe(`MQTT bridge on ${entry.name}`, { skip: entry.skip }, () => {
    let broker: TestBroker;
    let sim: TvheadendSimulator;
    let session: HtspSession;
    let bridges: MqttBridge[] = [];
    let watchers: Watcher[] = [];
    let base = '';

    brokerPerSuite(entry.make, (b) => (broker = b));

    beforeEach(async () => {
      ({ sim, session } = await simWithSession());
      base = `tvheadend/test${++counter}_${entry.name}`;
    });

    afterEach(async () => {
      await stopBridgeTest(bridges, watchers, session, sim);
    });

    function bridge(extra: Partial<BridgeOptions> = {}, brokerExtra: Partial<BridgeOptions['broker']> = {}): MqttBridge {
      const b = new MqttBridge({
        session,
        broker: { url: broker.url, reconnectPeriodMs: 200, connectTimeoutMs: 3000, ...brokerExtra },
        baseTopic: base,
        discoveryPrefix: PREFIX,
        origin: ORIGIN,
        timing: FAST,
        ...extra,
      });
      bridges.push(b);
      b.start();
      return b;
    }

    async function watch(filters = [`${base}/#`, `${PREFIX}/#`]): Promise<Watcher> {
      const w = await Watcher.open(broker.url, filters);
      watchers.push(w);
      return w;
    }

    const settled = (w: Watcher): boolean =>
      w.value(`${base}/status`) === 'online' &&
      w.value(`${base}/disk`) !== undefined &&
      w.value(`${base}/viewers`) !== undefined &&
      w.value(`${PREFIX}/sensor/${nodeIdOf(base)}/viewers/config`) !== undefined;

    test('publishes availability, server, disk, recordings and one topic per DVR entry, retained', async () => {
      const w = await watch();
      const b = bridge();
      await waitFor('settled state', () => settled(w));
      // 'auto' speaks MQTT 5 where the broker does and falls back to 3.1.1 where it does not.
      assert.equal(b.status.protocolVersion, broker.v5 ? 5 : 4);
      const snap = await retainedSnapshot(broker.url, [`${base}/#`]);
      assert.equal(snap.get(`${base}/status`), 'online');
      const server = JSON.parse(snap.get(`${base}/server`) ?? '{}') as Record<string, unknown>;
      assert.equal(server.name, sim.serverName);
      assert.equal(server.version, sim.serverVersion);
      assert.equal(server.htspVersion, 44);
      const disk = JSON.parse(snap.get(`${base}/disk`) ?? '{}') as Record<string, number>;
      assert.ok(disk.total > 0 && disk.free > 0 && disk.used > 0, JSON.stringify(disk));

      const rec = JSON.parse(snap.get(`${base}/recording`) ?? '{}') as { count: number; titles: string[]; title: string };
      assert.equal(rec.count, 1);
      assert.deepEqual(rec.titles, ['The Test Pattern Strikes Back']);
      const up = JSON.parse(snap.get(`${base}/upcoming`) ?? '{}') as { count: number; next: { title: string } };
      const scheduled = sim.dvrEntries.filter((e) => e.state === 'scheduled');
      assert.equal(up.count, scheduled.length);
      assert.equal(up.next.title, 'Demo Recording');
      const done = JSON.parse(snap.get(`${base}/last_completed`) ?? '{}') as { title: string };
      assert.equal(done.title, 'World Report');
      const failed = JSON.parse(snap.get(`${base}/last_failed`) ?? '{}') as { title: string; error: string };
      assert.equal(failed.title, 'Match Day Live');
      assert.equal(failed.error, 'Aborted by user');

      assert.ok(sim.dvrEntries.length > 0, 'the simulator has DVR entries');
      for (const e of sim.dvrEntries) {
        const d = JSON.parse(snap.get(`${base}/dvr/${e.id}`) ?? 'null') as { id: number; state: string } | null;
        assert.ok(d, `dvr/${e.id} is retained`);
        assert.equal(d.id, e.id);
        assert.equal(d.state, e.state);
      }
      const subs = JSON.parse(snap.get(`${base}/subscriptions`) ?? '{}') as { count: number };
      assert.equal(subs.count, 0);
    });

    test('announces valid Home Assistant discovery configs with availability and origin', async () => {
      const w = await watch();
      bridge({ channels: { mode: 'selected', refs: ['Sim News 24', '1'] } });
      await waitFor('settled', () => settled(w));
      await waitFor('now-playing sensor', () => w.value(`${PREFIX}/sensor/${nodeIdOf(base)}/now_sim_news_24/config`));
      const snap = await retainedSnapshot(broker.url, [`${PREFIX}/#`]);
      const node = nodeIdOf(base);
      const expected = [
        `binary_sensor/${node}/recording`,
        `sensor/${node}/disk_free`,
        `sensor/${node}/upcoming_recordings`,
        `sensor/${node}/current_recording`,
        `sensor/${node}/active_subscriptions`,
        `sensor/${node}/signal_quality`,
        `sensor/${node}/viewers`,
        `sensor/${node}/tuners_in_use`,
        `sensor/${node}/now_sim_news_24`,
        `sensor/${node}/now_sim_one_hd`,
        `button/${node}/stop_recording`,
      ];
      for (const e of expected) assert.ok(snap.has(`${PREFIX}/${e}/config`), `${e} announced`);
      const devices = new Set<string>();
      for (const [topic, payload] of snap) {
        if (!topic.includes(`/${node}/`)) continue;
        assert.deepEqual(discoveryProblems(topic, payload), [], topic);
        const cfg = JSON.parse(payload) as Record<string, unknown> & { device: { identifiers: string[] }; origin: Record<string, string> };
        assert.equal(cfg['~'], base);
        assert.deepEqual(cfg.availability, [{ topic: '~/status' }]);
        assert.equal(cfg.origin.name, ORIGIN.name);
        assert.equal(cfg.origin.sw, ORIGIN.sw);
        assert.equal(cfg.origin.url, ORIGIN.url);
        devices.add(JSON.stringify(cfg.device));
        // Every state topic it names is published.
        for (const k of ['state_topic', 'json_attributes_topic']) {
          const t = cfg[k];
          if (typeof t === 'string') assert.ok(w.value(t.replace('~', base)) !== undefined, `${topic}: ${k} ${t} is published`);
        }
      }
      assert.equal(devices.size, 1, 'one device for the server');
      const disk = JSON.parse(snap.get(`${PREFIX}/sensor/${node}/disk_free/config`) ?? '{}') as Record<string, string>;
      assert.equal(disk.device_class, 'data_size');
      assert.equal(disk.unit_of_measurement, 'GiB');

      const news = w.json<{ channel: { name: string }; now: { title: string; progress: number } | null; next: unknown }>(`${base}/channel/sim_news_24`);
      assert.equal(news?.channel.name, 'Sim News 24');
      assert.ok(news?.now && typeof news.now.progress === 'number' && news.now.progress >= 0 && news.now.progress <= 100);
    });

    test('publishes only changes, coalesces bursts, and removes a deleted DVR entry', async () => {
      const w = await watch();
      bridge();
      await waitFor('settled', () => settled(w));
      await sleep(300);
      const target = sim.dvrEntries.find((e) => e.title === 'Demo Recording');
      assert.ok(target);
      const topic = `${base}/dvr/${target.id}`;
      const count = (t: string): number => w.log.filter((m) => m.topic === t).length;
      const before = count(topic);
      const upcomingBefore = count(`${base}/upcoming`);
      const serverBefore = count(`${base}/server`);
      await sleep(400);
      assert.equal(count(topic), before, 'nothing republished without a change');

      for (let i = 0; i < 40; i++) sim.updateDvrEntry(target.id, { title: `Burst ${i}` });
      await waitFor('last burst value', () => w.json<{ title: string }>(topic)?.title === 'Burst 39');
      await sleep(200);
      assert.ok(count(topic) - before <= 4, `40 changes → ${count(topic) - before} publishes`);
      assert.ok(count(`${base}/upcoming`) - upcomingBefore <= 4);
      assert.equal(count(`${base}/server`), serverBefore, 'unchanged topics are not sent again');

      sim.deleteDvrEntry(target.id);
      await waitFor('retained empty for the deleted entry', () => w.value(topic) === '');
      const snap = await retainedSnapshot(broker.url, [`${base}/dvr/+`]);
      assert.ok(!snap.has(topic), 'the deleted entry is gone from the broker');
      assert.equal(snap.size, sim.dvrEntries.length);
    });

    test('shows server-wide viewers and tuners from the api status', async () => {
      const w = await watch();
      bridge();
      await waitFor('settled', () => settled(w));
      const ch = sim.channels[1];
      sim.addExternalViewer({ channelId: ch.id, username: 'alice', hostname: '192.168.1.77', client: 'Kodi' });
      const v = await waitFor('a viewer', () => {
        const j = w.json<{ count: number; watching: Array<{ channel: string; username: string }> }>(`${base}/viewers`);
        return j && j.count >= 1 ? j : undefined;
      });
      assert.ok(v.watching.some((x) => x.username === 'alice' && x.channel === ch.name));
      const tuners = await waitFor('tuner in use', () => {
        const j = w.json<{ inUse: number }>(`${base}/tuners`);
        return j && j.inUse >= 1 ? j : undefined;
      });
      assert.ok(tuners.inUse >= 1);
    });

    test('shares the status poll with events nodes of the same session: one poll per interval', async () => {
      const polls: number[] = [];
      const onRequest = (r: { method?: string; message: Record<string, unknown> }): void => {
        if (r.method === 'api' && r.message.path === 'status/subscriptions') polls.push(Date.now());
      };
      sim.on('request', onRequest);
      const w = await watch();
      bridge();
      const node = joinStatusPoll(session, {
        intervalMs: FAST.statusPollMs,
        kinds: new Set(['serverSubscription'] as const),
        change: () => undefined,
        unavailable: () => undefined,
        polled: () => undefined,
      });
      try {
        await waitFor('settled', () => settled(w));
        // Five polls from here on: one poller needs four intervals between the first and the last,
        // two would need about two. A loaded machine only spreads the polls out, so waiting for
        // them (not counting what a fixed sleep happened to catch) cannot flake.
        const before = polls.length;
        await waitFor('five more polls', () => polls.length >= before + 5, 10_000);
        const span = polls[before + 4] - polls[before];
        assert.ok(span >= 4 * FAST.statusPollMs * 0.9, `5 polls in ${span} ms: one poll per ${FAST.statusPollMs} ms`);
      } finally {
        node.leave();
        sim.off('request', onRequest);
      }
    });

    test("shows the session's subscriptions with channel, signal and queue, and drops one at once", async () => {
      const w = await watch();
      bridge();
      await waitFor('settled', () => settled(w));
      const ch = sim.channels.find((c) => c.name === 'Sim One HD');
      assert.ok(ch);
      type Subs = {
        count: number;
        signal: number | null;
        subscriptions: Array<{
          channelId: number;
          channel: string;
          state: string;
          status: string;
          service: string;
          signal: { status: string; snr: number } | null;
          queue: { packets: number; drops: number } | null;
        }>;
      };
      // Made by name, as a subscription node would; the bridge shows the channel the server runs.
      const sub = session.subscribe('sim one hd');
      const topic = `${base}/subscriptions`;
      const seen = await waitFor('a running subscription with figures', () => {
        const j = w.json<Subs>(topic);
        const s0 = j?.subscriptions[0];
        return j && s0?.state === 'running' && s0.signal && s0.queue ? j : undefined;
      });
      assert.equal(seen.count, 1);
      const one = seen.subscriptions[0];
      assert.equal(one.channelId, ch.id);
      assert.equal(one.channel, 'Sim One HD');
      assert.equal(one.status, 'OK');
      assert.equal(one.service, 'Sim One HD');
      assert.equal(one.signal?.status, 'GOOD');
      assert.ok(typeof one.signal?.snr === 'number' && one.signal.snr > 0 && one.signal.snr <= 100);
      assert.equal(seen.signal, one.signal?.snr, 'the quality HA shows');
      const quality = w.json<{ value_template: string; state_topic: string }>(`${PREFIX}/sensor/${nodeIdOf(base)}/signal_quality/config`);
      assert.equal(quality?.state_topic, '~/subscriptions');

      // Ended here, without a word from the server (the timing is checked in units.test.ts).
      await sub.unsubscribe();
      await waitFor('no subscription', () => w.json<Subs>(topic)?.count === 0, 2000);
      assert.equal(w.json<Subs>(topic)?.signal, null);
    });

    test('runs allowed commands, refuses others, and answers with MQTT 5 correlation', async () => {
      const w = await watch();
      bridge();
      await waitFor('settled', () => settled(w));
      const pub = watchers[0].client;

      await pub.publishAsync(`${base}/cmd/getSysTime`, '{"requestId": 7}', { qos: 1 });
      const r1 = await waitFor('getSysTime reply', () => w.json<{ ok: boolean; requestId: number; result: { time: number } }>(`${base}/reply/getSysTime`));
      assert.equal(r1.ok, true);
      assert.equal(r1.requestId, 7);
      assert.ok(Math.abs(r1.result.time - sim.now()) < 5);
      assert.equal(w.last.get(`${base}/reply/getSysTime`)?.retain, false);

      const victim = sim.dvrEntries.find((e) => e.state === 'completed');
      assert.ok(victim);
      await pub.publishAsync(`${base}/cmd/deleteDvrEntry`, JSON.stringify({ id: victim.id }), { qos: 1 });
      const r2 = await waitFor('refusal', () => w.json<{ ok: boolean; error: { code: string; message: string } }>(`${base}/reply/deleteDvrEntry`));
      assert.equal(r2.ok, false);
      assert.equal(r2.error.code, 'refused');
      assert.match(r2.error.message, /allow-list/);
      assert.ok(sim.getDvrEntry(victim.id), 'the entry was not deleted');

      await pub.publishAsync(`${base}/cmd/subscribe`, '{"channelId": 1}', { qos: 1 });
      const r3 = await waitFor('refusal of a session method', () => w.json<{ ok: boolean; error: { code: string } }>(`${base}/reply/subscribe`));
      assert.equal(r3.error.code, 'refused');

      await pub.publishAsync(`${base}/cmd/getChannel`, 'not json', { qos: 1 });
      const r4 = await waitFor('bad input', () => w.json<{ ok: boolean; error: { code: string } }>(`${base}/reply/getChannel`));
      assert.equal(r4.error.code, 'bad-input');

      // Friendly commands: record what is on now, then stop every running recording.
      const ch = sim.channels[3];
      const before = sim.dvrEntries.length;
      await pub.publishAsync(`${base}/cmd/recordNow`, JSON.stringify({ channel: ch.name }), { qos: 1 });
      const r5 = await waitFor('recordNow reply', () => w.json<{ ok: boolean; result: { id: number; title: string } }>(`${base}/reply/recordNow`));
      assert.equal(r5.ok, true, JSON.stringify(r5));
      assert.equal(sim.dvrEntries.length, before + 1);
      assert.equal(r5.result.title, sim.getNowNext(ch.id).now?.title);
      await waitFor('recording count 2', () => w.json<{ count: number }>(`${base}/recording`)?.count === 2);

      await pub.publishAsync(`${base}/cmd/stopRecording`, '{}', { qos: 1 });
      const r6 = await waitFor('stopRecording reply', () => w.json<{ ok: boolean; result: { stopped: unknown[] } }>(`${base}/reply/stopRecording`));
      assert.equal(r6.ok, true, JSON.stringify(r6));
      assert.equal(r6.result.stopped.length, 2);
      await waitFor('nothing recording', () => w.json<{ count: number }>(`${base}/recording`)?.count === 0);

      if (broker.v5) {
        const c5 = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0 });
        try {
          const got = new Promise<{ body: string; corr: string | undefined }>((resolve) => {
            c5.on('message', (topic, payload, packet) => {
              if (topic === 'client/answers') resolve({ body: payload.toString(), corr: packet.properties?.correlationData?.toString() });
            });
          });
          await c5.subscribeAsync('client/answers', { qos: 1 });
          await c5.publishAsync(`${base}/cmd/getDiskSpace`, '{}', {
            qos: 1,
            properties: { responseTopic: 'client/answers', correlationData: Buffer.from('req-42') },
          });
          const answer = await Promise.race([got, sleep(5000).then(() => undefined)]);
          assert.ok(answer, 'an answer on the response topic');
          assert.equal(answer.corr, 'req-42');
          const body = JSON.parse(answer.body) as { ok: boolean; result: { totaldiskspace: number } };
          assert.equal(body.ok, true);
          assert.ok(body.result.totaldiskspace > 0);
        } finally {
          await c5.endAsync(true);
        }
      }
    });

    test("a throwing or rejecting 'command' listener neither crashes the process nor stops the reply", async () => {
      const problems: unknown[] = [];
      const onUnhandled = (e: unknown): void => void problems.push(e);
      process.on('unhandledRejection', onUnhandled);
      process.on('uncaughtException', onUnhandled);
      const logs: string[] = [];
      try {
        const w = await watch();
        const b = bridge({ log: (level, text) => logs.push(`${level} ${text}`) });
        b.on('command', () => {
          throw new Error('sync listener bug');
        });
        b.on('command', (async () => {
          throw new Error('async listener bug');
        }) as () => void);
        await waitFor('settled', () => settled(w));
        await watchers[0].client.publishAsync(`${base}/cmd/getSysTime`, '{"requestId": 1}', { qos: 1 });
        const r = await waitFor('reply', () => w.json<{ ok: boolean }>(`${base}/reply/getSysTime`));
        assert.equal(r.ok, true);
        await sleep(100);
        assert.deepEqual(problems, []);
        assert.ok(logs.some((l) => l.includes('sync listener bug')), logs.join('\n'));
        assert.ok(logs.some((l) => l.includes('async listener bug')), logs.join('\n'));
      } finally {
        process.off('unhandledRejection', onUnhandled);
        process.off('uncaughtException', onUnhandled);
      }
    });

    test('never runs a retained command', async () => {
      const seed = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
      const victim = sim.dvrEntries.find((e) => e.state === 'scheduled');
      assert.ok(victim);
      await seed.publishAsync(`${base}/cmd/cancelDvrEntry`, JSON.stringify({ id: victim.id }), { qos: 1, retain: true });
      await seed.endAsync();
      const w = await watch();
      bridge();
      await waitFor('settled', () => settled(w));
      await sleep(300);
      assert.ok(sim.getDvrEntry(victim.id), 'the retained command did not run');
      assert.equal(w.value(`${base}/reply/cancelDvrEntry`), undefined);
      // Not ours to delete either.
      const snap = await retainedSnapshot(broker.url, [`${base}/cmd/+`]);
      assert.ok(snap.has(`${base}/cmd/cancelDvrEntry`));
      const clean = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
      await clean.publishAsync(`${base}/cmd/cancelDvrEntry`, '', { qos: 1, retain: true });
      await clean.endAsync();
    });

    test('the last will says offline when the connection is lost abruptly', async () => {
      const w = await watch();
      // Reconnecting late enough for the retained will to be read before "online" replaces it.
      const b = bridge({}, { reconnectPeriodMs: 4000, keepalive: 5 });
      await waitFor('online', () => settled(w));
      w.clear();
      const client = b.mqttClient;
      assert.ok(client);
      client.stream.destroy();
      await waitFor('offline from the will', () => w.value(`${base}/status`) === 'offline', 8000);
      const snap = await retainedSnapshot(broker.url, [`${base}/status`], 200);
      assert.equal(snap.get(`${base}/status`), 'offline', 'the will is retained');
      await waitFor('online again after reconnecting', () => w.value(`${base}/status`) === 'online', 8000);
    });

    test('republishes everything after a broker restart', async () => {
      const w = await watch();
      const b = bridge();
      await waitFor('settled', () => settled(w));
      const before = await retainedSnapshot(broker.url, [`${base}/#`, `${PREFIX}/+/${nodeIdOf(base)}/+/config`]);
      await w.close();
      watchers = [];
      await broker.restart();
      await waitFor('bridge reconnected', () => b.status.broker === 'connected', 10_000);
      let after = new Map<string, string>();
      const deadline = Date.now() + 8000;
      while (Date.now() < deadline) {
        after = await retainedSnapshot(broker.url, [`${base}/#`, `${PREFIX}/+/${nodeIdOf(base)}/+/config`], 300);
        if (after.size >= before.size) break;
      }
      assert.equal(after.get(`${base}/status`), 'online');
      let compared = 0;
      for (const topic of before.keys()) {
        if (topic.endsWith('/subscriptions') || topic.endsWith('/tuners') || topic.endsWith('/viewers') || topic.includes('/channel/')) continue;
        assert.equal(after.get(topic), before.get(topic), `${topic} republished`);
        compared++;
      }
      assert.ok(compared > 0, 'there were retained topics to compare');
    });

    test('goes offline while the HTSP session is down and corrects the state after it reconnects', async () => {
      const w = await watch();
      bridge();
      await waitFor('settled', () => settled(w));
      const gone = sim.dvrEntries.find((e) => e.title === 'World Report');
      assert.ok(gone);
      await sim.stop();
      await waitFor('offline while HTSP is down', () => w.value(`${base}/status`) === 'offline');
      // Changes made while the bridge cannot see them.
      sim.deleteDvrEntry(gone.id);
      const added = sim.addDvrEntry({ channelIndex: 2, start: sim.now() + 7200, stop: sim.now() + 9000, title: 'Added While Away' });
      await sim.start();
      await waitFor('online again', () => w.value(`${base}/status`) === 'online', 10_000);
      await waitFor('new entry published', () => w.json<{ title: string }>(`${base}/dvr/${added.id}`)?.title === 'Added While Away');
      await waitFor('removed entry cleared', () => w.value(`${base}/dvr/${gone.id}`) === '');
      await waitFor('last completed corrected', () => w.json<{ title: string | null }>(`${base}/last_completed`)?.title !== 'World Report');
      const up = w.json<{ count: number }>(`${base}/upcoming`);
      assert.equal(up?.count, sim.dvrEntries.filter((e) => e.state === 'scheduled').length);
    });

    test('cleans stale retained topics of an earlier run, and republishes on HA birth', async () => {
      const node = nodeIdOf(base);
      const seed = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
      const stale = [`${base}/dvr/999999`, `${base}/channel/old_channel`, `${PREFIX}/sensor/${node}/old_entity/config`, `${base}/old_topic`];
      for (const t of stale) await seed.publishAsync(t, '{"old":true}', { qos: 1, retain: true });
      const foreign = `${PREFIX}/sensor/someone_else/thing/config`;
      await seed.publishAsync(foreign, '{"theirs":true}', { qos: 1, retain: true });
      await seed.endAsync();

      const w = await watch();
      bridge();
      await waitFor('settled', () => settled(w));
      await waitFor('stale topics deleted', () => stale.every((t) => w.value(t) === ''), 5000);
      const snap = await retainedSnapshot(broker.url, [`${base}/#`, `${PREFIX}/#`]);
      for (const t of stale) assert.ok(!snap.has(t), `${t} deleted`);
      assert.equal(snap.get(foreign), '{"theirs":true}', 'other devices are left alone');

      // HA restarts: it announces itself and expects the configs again.
      w.clear();
      await watchers[0].client.publishAsync(`${PREFIX}/status`, 'online', { qos: 1 });
      await waitFor('configs again', () => w.value(`${PREFIX}/binary_sensor/${node}/recording/config`), 3000);
      await waitFor('states again', () => w.value(`${base}/recording`), 3000);

      const cleanup = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
      await cleanup.publishAsync(foreign, '', { qos: 1, retain: true });
      await cleanup.endAsync();
    });

    test('stale retained topics beyond the cap of one flush are all cleaned, over several flushes', async () => {
      const seed = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
      const stale = Array.from({ length: 40 }, (_, i) => `${base}/dvr/${900_000 + i}`);
      for (const t of stale) await seed.publishAsync(t, '{"old":true}', { qos: 1, retain: true });
      await seed.endAsync();
      const w = await watch();
      // Unsent removals wait in the bridge's own set: handing them to the model does nothing.
      const requeued = new Set<string>();
      const requeue = DesiredState.prototype.requeue;
      DesiredState.prototype.requeue = function (this: DesiredState, topics: Iterable<string>): void {
        const list = [...topics];
        for (const t of list) requeued.add(t);
        requeue.call(this, list);
      };
      try {
        bridge({ timing: { ...FAST, maxPerFlush: 7 } });
        await waitFor('every stale topic deleted', () => stale.every((t) => w.value(t) === ''), 15_000);
      } finally {
        DesiredState.prototype.requeue = requeue;
      }
      const snap = await retainedSnapshot(broker.url, [`${base}/dvr/#`]);
      for (const t of stale) assert.ok(!snap.has(t), `${t} deleted`);
      assert.ok(requeued.size > 0, 'capped flushes requeued what the model offered');
      assert.deepEqual(stale.filter((t) => requeued.has(t)), [], 'no stale removal was handed to the model');
    });

    test('stop() publishes offline and removes nothing else', async () => {
      const w = await watch();
      const b = bridge();
      await waitFor('settled', () => settled(w));
      await b.stop();
      bridges = [];
      const snap = await retainedSnapshot(broker.url, [`${base}/#`]);
      assert.equal(snap.get(`${base}/status`), 'offline');
      assert.ok(snap.has(`${base}/recording`));
    });
  });
}

function nodeIdOf(base: string): string {
  return base.replace(/\//g, '_').toLowerCase().replace(/[^a-z0-9]+/g, '_');
}
