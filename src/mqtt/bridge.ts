/**
 * The MQTT bridge: owns one mqtt.js client and mirrors one HTSP session onto the broker.
 *
 * Publishing is "desired state minus published state": the retained topics (states and
 * discovery configs) are kept in a `DesiredState`, which rebuilds only the parts that the
 * session's change events, the clock and the bridge's own sources (disk, server status) touched,
 * and says which topics changed; a flush diffs those against what it published and sends the
 * differences, a retained empty payload for each topic that is gone. Flushes are throttled
 * (`publishIntervalMs`) and capped (`maxPerFlush`), so a burst of EPG or DVR changes costs one
 * flush, not one message per change. After a (re)connect or HA's birth message everything is
 * rebuilt and sent again.
 *
 * Stale topics from an earlier run (a deleted DVR entry, an entity no longer announced) are
 * found by a brief subscription to the bridge's own topic levels on every connect: whatever
 * retained topic it yields that the bridge does not publish once its state is complete is
 * deleted.
 *
 * A bridge given an `instanceId` also keeps a retained note of where it publishes (see
 * registry.ts). When the note names another base topic or discovery prefix, the connect's
 * read-back is followed by one of the old place, and what the bridge published there is
 * cleared, so that a changed base topic leaves no dead device behind in Home Assistant.
 */
import { EventEmitter } from 'node:events';
import mqtt from 'mqtt';
import type { IClientOptions, IClientPublishOptions, IPublishPacket, MqttClient } from 'mqtt';
import { ServerStatusPoller, type StatusPollLease } from '../htsp/server-status';
import { redact } from '../htsp/redact';
import type { ChangeEvent } from '../htsp/cache';
import { withTimeout } from '../htsp/util';
import { brokerProblem, type BrokerProblem } from './broker-errors';
import { CommandRunner, normaliseAllowList, type CommandReply } from './commands';
import { DesiredState, type DesiredBuilders } from './desired';
import {
  encodePlace,
  filterMatches,
  instanceIdProblem,
  leftoverFilters,
  leftovers,
  notedPlaces,
  parsePlace,
  placeOf,
  readbackFilters,
  REGISTRY_FILTER,
  REGISTRY_ROOT,
  registryInstanceOf,
  registryTopic,
  samePlace,
  type BridgePlace,
} from './registry';
import type { Origin } from './discovery';
import { diskSpaceOf, subscriptionsShape, subscriptionsState, type DiskSpace, type StatusView } from './state';
import { topicProblem, Topics } from './topics';
import type { BridgeSession, ChannelSelection, Logger } from './types';

export interface BrokerTls {
  ca?: string | Buffer | Array<string | Buffer>;
  cert?: string | Buffer;
  key?: string | Buffer;
  passphrase?: string;
  rejectUnauthorized?: boolean;
  servername?: string;
  alpnProtocols?: string[];
}

export interface BrokerOptions {
  /** mqtt://, mqtts://, ws:// or wss:// */
  url: string;
  username?: string;
  password?: string;
  clientId?: string;
  /** 'auto' (default): MQTT 5, and 3.1.1 when the broker refuses 5. */
  protocolVersion?: 4 | 5 | 'auto';
  /** Seconds (default 60, mqtt.js' default). */
  keepalive?: number;
  /** Default 1000 ms, mqtt.js' default. */
  reconnectPeriodMs?: number;
  /** Default 30 000 ms, mqtt.js' default. */
  connectTimeoutMs?: number;
  tls?: BrokerTls;
}

export interface BridgeTiming {
  /** Least time between two flushes (default 1000 ms). */
  publishIntervalMs?: number;
  /** At most this many messages per flush (default 100); the rest follows a flush later. */
  maxPerFlush?: number;
  /** How often signal and queue figures are sampled (default 10 000 ms). */
  statsIntervalMs?: number;
  /** Step of programme progress and of the now/next refresh (default 60 000 ms). */
  progressIntervalMs?: number;
  /** getDiskSpace polling (default 300 000 ms). */
  diskIntervalMs?: number;
  /** Wait after HA's `online` before republishing (default 2000 ms), so that HA is subscribed. */
  haBirthDelayMs?: number;
  /** How long retained topics are collected on connect (default 1500 ms). */
  readbackMs?: number;
  /** Server status polling (default 5000 ms). */
  statusPollMs?: number;
}

export interface BridgeOptions {
  session: BridgeSession;
  broker: BrokerOptions;
  baseTopic: string;
  /** Default true. */
  discovery?: boolean;
  /** Default `homeassistant`. */
  discoveryPrefix?: string;
  /** Which channels get a now/next topic (default none). */
  channels?: ChannelSelection;
  /** A now-playing HA sensor for each selected channel (only with mode `selected`; default true). */
  nowPlayingSensors?: boolean;
  /** Commands the broker may run (default: read-only methods and recording add/stop/cancel). */
  allow?: readonly string[];
  /**
   * Server-wide viewers and tuners: true (default) polls the server's status (admin only), a
   * `StatusView` uses one given, false leaves them out.
   */
  serverStatus?: boolean | StatusView;
  origin: Origin;
  /** Device name shown until the server's own name is known. */
  deviceName?: string;
  /** Values that must never reach the broker or a log line. */
  secrets?: () => string[];
  log?: Logger;
  timing?: BridgeTiming;
  /**
   * A stable identity of this bridge (the Node-RED node's id). With it the bridge notes where it
   * publishes in the retained topic `tvheadend-bridge/<instanceId>` and, after the base topic or
   * discovery prefix changed, clears what it had published at the old place. Without it nothing
   * is noted or cleared.
   */
  instanceId?: string;
  /** @internal Replaces state builders (tests count what a flush rebuilds). */
  builders?: Partial<DesiredBuilders>;
}

/**
 * `refused`: turned down for a reason the next attempt would meet again (see `problem`). Refused
 * credentials are not tried again until the bridge is restarted; TLS failures only every
 * minute, because a broker's certificate can be fixed on the broker's side.
 */
export type BrokerState = 'idle' | 'connecting' | 'connected' | 'disconnected' | 'refused' | 'stopped';

export interface BridgeStatus {
  broker: BrokerState;
  /** Session state, as the bridge last saw it. */
  session: BridgeSession['state'];
  /** Text of the last broker problem, without secrets. */
  error?: string;
  /** Why the broker state is `refused`. */
  problem?: BrokerProblem;
  /** MQTT protocol version in use once connected. */
  protocolVersion?: number;
}

export declare interface MqttBridge {
  on(event: 'status', listener: (status: BridgeStatus) => void): this;
  on(event: 'command', listener: (info: { method: string; ok: boolean }) => void): this;
  on(event: string, listener: (...args: never[]) => void): this;
}

/** CONNACK codes meaning "that protocol version, no" (3.1.1 and 5). */
const BAD_PROTOCOL = new Set([1, 132]);
const CONNACK_RETRY_MS = 15_000;
const TLS_RETRY_MS = 60_000;

const QOS1: IClientPublishOptions = { qos: 1, retain: true };
/** The old place's read-back lasts at most this many `readbackMs` (see `armOldReadback`). */
const OLD_READBACK_CAP = 5;

/** The read-back of the place a note named. */
interface OldReadback {
  client: MqttClient;
  old: BridgePlace;
  place: BridgePlace;
  /** The note naming `place`, written once the old place is cleared. */
  payload: string;
  /** The old place, for log lines. */
  where: string;
  filters: string[];
  /** Whether `filters` cover the whole old place (see `leftoverFilters`). */
  complete: boolean;
  seen: Set<string>;
  /** `<old base>/status`; undefined when the base did not move (it is this bridge's own). */
  status: string | undefined;
  /** Whether `status` said `online` during the read-back. */
  online: boolean;
  startedAt: number;
  /** When the last retained message of the old place came. */
  lastAt: number;
  timer: NodeJS.Timeout | undefined;
}

export class MqttBridge extends EventEmitter {
  readonly topics: Topics;
  private readonly opts: BridgeOptions;
  private readonly session: BridgeSession;
  private readonly log: Logger;
  private readonly secrets: () => string[];
  private readonly t: Required<BridgeTiming>;
  private readonly commands: CommandRunner;
  private readonly allowed: ReadonlySet<string>;
  /** The session's shared poller (events nodes poll through it too), when not given a view. */
  private readonly ownPoller: ServerStatusPoller | undefined;
  private statusLease: StatusPollLease | undefined;
  private readonly statusView: StatusView | undefined;

  private client: MqttClient | undefined;
  private protocolVersion: 4 | 5;
  private started = false;
  private stopped = false;
  private connected = false;
  private brokerState: BrokerState = 'idle';
  private lastError: string | undefined;
  private problem: BrokerProblem | undefined;
  private connackRetry: NodeJS.Timeout | undefined;

  /** topic → payload as last sent on the current broker (retained). */
  private readonly published = new Map<string, string>();
  /** What should be retained, rebuilt part by part; it also knows which topics changed. */
  private readonly model: DesiredState;
  /** Topics to send again even if unchanged (after a connect or HA's birth). */
  private forced: Set<string> | undefined;
  private forceRequested = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private lastFlushAt = 0;
  private haTimer: NodeJS.Timeout | undefined;
  private timers: NodeJS.Timeout[] = [];

  /** Retained topics seen during the connect-time read-back; undefined when none is running. */
  private readback: Set<string> | undefined;
  private readbackDone = false;
  /** Found by a read-back, waiting for the state to be complete before they are judged. */
  private staleCandidates = new Set<string>();

  /** Where this bridge publishes, and the topic of its note; undefined without an instance id. */
  private readonly place: BridgePlace | undefined;
  private readonly noteTopic: string | undefined;
  /** Instance id → note payload, followed from the read-back until a move is judged; undefined otherwise. */
  private notes: Map<string, string> | undefined;
  /** The read-back of the place the note named; undefined when none runs. */
  private oldReadback: OldReadback | undefined;
  /** The broker refused the note on this connection (an ACL): it is not tried again until the next. */
  private noteRefused = false;
  /** Clear the note when stopping (see `forget`). */
  private forgetting = false;
  /** Old-place topics still to clear (a capped flush leaves some for the next). */
  private readonly leftovers = new Set<string>();
  /** The note to write once `leftovers` is empty: written last, so that an interrupted cleanup is found again. */
  private noteDue: string | undefined;

  private disk: DiskSpace | undefined;
  private diskAttempted = false;
  private diskBusy = false;
  private lastDiskAt = 0;
  private fastDue = true;
  private readySince = 0;

  constructor(opts: BridgeOptions) {
    super();
    const base = opts.baseTopic.trim();
    const prefix = (opts.discoveryPrefix ?? 'homeassistant').trim();
    const bad = topicProblem(base);
    if (bad) throw new Error(`the base topic ${bad}`);
    const badPrefix = topicProblem(prefix);
    if (badPrefix) throw new Error(`the discovery prefix ${badPrefix}`);
    if (opts.instanceId !== undefined) {
      const badId = instanceIdProblem(opts.instanceId);
      if (badId) throw new Error(`the instance id ${badId}`);
    }
    if (!/^(mqtts?|wss?):\/\//i.test(opts.broker.url)) throw new Error('the broker URL must start with mqtt://, mqtts://, ws:// or wss://');
    this.opts = opts;
    this.session = opts.session;
    this.topics = new Topics(base, prefix);
    this.place = opts.instanceId === undefined ? undefined : placeOf(this.topics, opts.discovery !== false);
    this.noteTopic = opts.instanceId === undefined ? undefined : registryTopic(opts.instanceId);
    this.log = opts.log ?? (() => undefined);
    this.secrets = opts.secrets ?? (() => []);
    const tm = opts.timing ?? {};
    this.t = {
      publishIntervalMs: tm.publishIntervalMs ?? 1000,
      maxPerFlush: Math.max(1, tm.maxPerFlush ?? 100),
      statsIntervalMs: tm.statsIntervalMs ?? 10_000,
      progressIntervalMs: Math.max(1000, tm.progressIntervalMs ?? 60_000),
      diskIntervalMs: tm.diskIntervalMs ?? 300_000,
      haBirthDelayMs: tm.haBirthDelayMs ?? 2000,
      readbackMs: tm.readbackMs ?? 1500,
      statusPollMs: tm.statusPollMs ?? 5000,
    };
    this.protocolVersion = opts.broker.protocolVersion === 4 ? 4 : 5;
    this.allowed = normaliseAllowList(opts.allow);
    this.commands = new CommandRunner({ session: this.session, allowed: this.allowed, secrets: this.secrets });
    if (opts.serverStatus === false) {
      this.statusView = undefined;
    } else if (opts.serverStatus === undefined || opts.serverStatus === true) {
      this.ownPoller = ServerStatusPoller.for(this.session);
      this.statusView = this.ownPoller;
    } else {
      this.statusView = opts.serverStatus;
    }
    this.model = new DesiredState({
      session: this.session,
      topics: this.topics,
      channels: opts.channels ?? { mode: 'none' },
      discovery:
        opts.discovery === false
          ? undefined
          : {
              origin: opts.origin,
              deviceName: opts.deviceName ?? 'Tvheadend',
              nowPlayingSensors: opts.nowPlayingSensors !== false,
              allowed: this.allowed,
            },
      status: this.statusView,
      // The shared poller tells of every change of what it shows; a view handed in may not.
      statusReportsChanges: this.ownPoller !== undefined,
      progressIntervalMs: this.t.progressIntervalMs,
      log: this.log,
      ...(opts.builders ? { builders: opts.builders } : {}),
    });
  }

  get status(): BridgeStatus {
    return {
      broker: this.brokerState,
      session: this.session.state,
      ...(this.lastError ? { error: this.lastError } : {}),
      ...(this.brokerState === 'refused' && this.problem ? { problem: this.problem } : {}),
      ...(this.connected ? { protocolVersion: this.protocolVersion } : {}),
    };
  }

  /** Connects and starts mirroring. Returns at once; the client keeps retrying in the background. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.session.on('state', this.onSessionState);
    this.session.on('change', this.onChange);
    if (this.ownPoller) {
      this.ownPoller.on('change', this.onStatusChange);
      this.ownPoller.on('unavailable', this.onStatusChange);
      this.ownPoller.on('poll', this.onStatusPoll);
      this.statusLease = this.ownPoller.acquire({ intervalMs: this.t.statusPollMs });
    }
    this.every(this.t.statsIntervalMs, () => {
      this.fastDue = true;
      this.scheduleFlush();
    });
    this.every(this.t.progressIntervalMs, () => this.scheduleFlush());
    // Subscriptions are made and ended by other nodes, some without any message from the server
    // (a local unsubscribe): looking at them costs next to nothing, so look often.
    this.every(Math.max(50, Math.min(1000, this.t.publishIntervalMs)), this.checkSubscriptions);
    this.every(this.t.diskIntervalMs, () => void this.refreshDisk());
    if (this.session.state === 'ready') this.onSessionState({ state: 'ready' });
    this.connect();
  }

  /**
   * Publishes `offline`, disconnects and stops following the session. Settles within about
   * `timeoutMs` whatever the broker does.
   */
  async stop(timeoutMs = 2000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.session.off('state', this.onSessionState);
    this.session.off('change', this.onChange);
    if (this.ownPoller) {
      this.ownPoller.off('change', this.onStatusChange);
      this.ownPoller.off('unavailable', this.onStatusChange);
      this.ownPoller.off('poll', this.onStatusPoll);
      this.statusLease?.release();
      this.statusLease = undefined;
    }
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.haTimer) clearTimeout(this.haTimer);
    if (this.connackRetry) clearTimeout(this.connackRetry);
    const client = this.client;
    this.client = undefined;
    if (client) {
      const wasConnected = this.connected;
      this.connected = false;
      await withTimeout(
        (async () => {
          if (wasConnected && this.forgetting && this.noteTopic !== undefined && !this.noteRefused) {
            await client.publishAsync(this.noteTopic, '', QOS1).catch(() => undefined);
          }
          if (wasConnected) await client.publishAsync(this.topics.availability, 'offline', QOS1).catch(() => undefined);
          await client.endAsync();
        })(),
        timeoutMs,
      );
      client.end(true);
      client.removeAllListeners();
      client.on('error', () => undefined);
    }
    this.setBroker('stopped');
  }

  /**
   * Clears this bridge's note when it stops: the node was deleted. A note outlives its bridge,
   * and the place it names would be shielded from every other bridge's cleanup for ever.
   */
  forget(): void {
    this.forgetting = true;
    this.noteDue = undefined;
  }

  /** Sends discovery and state again, as after HA's birth message. */
  republish(): void {
    this.forceRequested = true;
    this.scheduleFlush(0);
  }

  /** @internal The underlying client (tests destroy its socket to trigger the last will). */
  get mqttClient(): MqttClient | undefined {
    return this.client;
  }

  // ------------------------------------------------------------------ broker connection

  private clientOptions(): IClientOptions {
    const b = this.opts.broker;
    const o: IClientOptions = {
      protocolVersion: this.protocolVersion,
      clean: true,
      keepalive: b.keepalive ?? 60,
      reconnectPeriod: b.reconnectPeriodMs ?? 1000,
      connectTimeout: b.connectTimeoutMs ?? 30_000,
      // Subscriptions are made afresh on every connect (see onConnect).
      resubscribe: false,
      will: { topic: this.topics.availability, payload: Buffer.from('offline'), qos: 1, retain: true },
    };
    if (b.clientId) o.clientId = b.clientId;
    if (b.username) {
      o.username = b.username;
      if (b.password !== undefined) o.password = b.password;
    }
    const tls = b.tls;
    if (tls) {
      if (tls.ca !== undefined) o.ca = tls.ca as string | string[] | Buffer | Buffer[];
      if (tls.cert !== undefined) o.cert = tls.cert;
      if (tls.key !== undefined) o.key = tls.key;
      if (tls.rejectUnauthorized !== undefined) o.rejectUnauthorized = tls.rejectUnauthorized;
      if (tls.servername) o.servername = tls.servername;
      if (tls.alpnProtocols?.length) o.ALPNProtocols = tls.alpnProtocols;
      if (tls.passphrase !== undefined) (o as IClientOptions & { passphrase?: string }).passphrase = tls.passphrase;
    }
    return o;
  }

  private connect(): void {
    if (this.stopped) return;
    // A retry after a TLS failure keeps showing that failure until it succeeds.
    if (this.brokerState !== 'refused') this.setBroker('connecting');
    const client = mqtt.connect(this.opts.broker.url, this.clientOptions());
    this.client = client;
    client.on('connect', () => this.onConnect(client));
    client.on('message', (topic, payload, packet) => this.onBrokerMessage(topic, payload, packet));
    client.on('close', () => {
      if (this.client !== client) return;
      if (this.connected) this.log('warn', `lost the connection to the MQTT broker ${this.where()}`);
      this.connected = false;
      this.readback = undefined;
      this.notes = undefined;
      this.endOldReadback();
      // After a TLS failure the retries may fail differently (broker down): say so then.
      if (this.brokerState !== 'refused' || !this.refusedForGood()) this.setBroker('disconnected');
    });
    client.on('error', (err: Error & { code?: number | string }) => this.onBrokerError(client, err));
  }

  private onBrokerError(client: MqttClient, err: Error & { code?: number | string }): void {
    if (this.client !== client) return;
    const code = typeof err.code === 'number' ? err.code : undefined;
    if (code !== undefined && BAD_PROTOCOL.has(code) && this.protocolVersion === 5 && this.opts.broker.protocolVersion !== 5) {
      this.log('info', `the MQTT broker ${this.where()} does not speak MQTT 5; using 3.1.1`);
      this.protocolVersion = 4;
      this.replaceClient(client, 0);
      return;
    }
    const known = brokerProblem(err, !!this.opts.broker.username);
    this.lastError = this.scrub(known?.text ?? err.message);
    if (known) {
      const again = this.brokerState === 'refused' && this.problem === known.problem;
      this.problem = known.problem;
      if (known.problem === 'credentials' || known.problem === 'refused') {
        this.log('error', `the MQTT broker ${this.where()} refused the connection: ${this.lastError}; not retrying until redeployed`);
        this.setBroker('refused');
        client.end(true);
        return;
      }
      // One line per problem, not one per minute.
      this.log(again ? 'debug' : 'error', `MQTT broker ${this.where()}: ${this.lastError}; trying again every ${TLS_RETRY_MS / 1000} s`);
      this.setBroker('refused');
      this.replaceClient(client, TLS_RETRY_MS);
      return;
    }
    if (code !== undefined) {
      this.log('warn', `the MQTT broker ${this.where()} refused the connection: ${this.lastError}; retrying in ${CONNACK_RETRY_MS / 1000} s`);
      this.replaceClient(client, CONNACK_RETRY_MS);
      return;
    }
    this.log('debug', `MQTT ${this.where()}: ${this.lastError}`);
    this.emitStatus();
  }

  private refusedForGood(): boolean {
    return this.problem === 'credentials' || this.problem === 'refused';
  }

  private replaceClient(client: MqttClient, delayMs: number): void {
    client.removeAllListeners();
    client.on('error', () => undefined);
    client.end(true);
    this.client = undefined;
    this.connected = false;
    if (this.connackRetry) clearTimeout(this.connackRetry);
    this.connackRetry = setTimeout(() => {
      this.connackRetry = undefined;
      this.connect();
    }, delayMs);
  }

  private onConnect(client: MqttClient): void {
    if (this.client !== client) return;
    this.connected = true;
    this.lastError = undefined;
    this.problem = undefined;
    this.setBroker('connected');
    this.log('info', `connected to the MQTT broker ${this.where()} (MQTT ${this.protocolVersion === 5 ? '5' : '3.1.1'})`);
    const subs: Record<string, { qos: 0 | 1 }> = { [this.topics.commandFilter]: { qos: 1 } };
    if (this.opts.discovery !== false) subs[this.topics.haStatus] = { qos: 1 };
    client.subscribe(subs, (err) => {
      if (err) this.log('warn', `MQTT subscribe failed: ${this.scrub(err.message)}`);
    });
    this.startReadback(client);
    this.forceRequested = true;
    this.scheduleFlush(0);
  }

  /**
   * Collects the retained topics under the bridge's levels (see `readbackFilters`) and, with an
   * instance id, the bridges' notes.
   */
  private startReadback(client: MqttClient): void {
    const filters = readbackFilters(this.topics);
    const seen = new Set<string>();
    this.readback = seen;
    // What an earlier connection found is found again: the note may have been written since.
    this.endOldReadback();
    this.leftovers.clear();
    this.noteDue = undefined;
    this.noteRefused = false;
    this.notes = undefined;
    if (this.noteTopic) {
      // With the base topic `tvheadend-bridge` one of the filters is this one: subscribe it once.
      if (!filters.includes(REGISTRY_FILTER)) filters.push(REGISTRY_FILTER);
      this.notes = new Map<string, string>();
    }
    client.subscribe(filters, { qos: 0 }, (err) => {
      if (err || this.client !== client) return;
      setTimeout(() => {
        if (this.client !== client || this.readback !== seen) return;
        this.readback = undefined;
        // The notes stay subscribed while a move is judged: a bridge writes its note only after
        // its own read-back, so one that started with this one is known only later.
        const keep = this.noteTopic !== undefined;
        client.unsubscribe(
          filters.filter((f) => !keep || f !== REGISTRY_FILTER),
          () => undefined,
        );
        for (const t of seen) this.staleCandidates.add(t);
        this.readbackDone = true;
        if (this.place && this.opts.instanceId !== undefined) this.afterNotes(client, this.place, this.opts.instanceId);
        this.scheduleFlush(0);
      }, this.t.readbackMs).unref();
    });
  }

  /** Stops following the notes. */
  private dropNotes(client: MqttClient): void {
    if (!this.notes) return;
    this.notes = undefined;
    client.unsubscribe(REGISTRY_FILTER, () => undefined);
  }

  /**
   * The notes are in: when this instance's names another place, read that place back; otherwise
   * (first start, or nothing moved) only write the note if it says something else.
   */
  private afterNotes(client: MqttClient, place: BridgePlace, instanceId: string): void {
    const payload = encodePlace(place);
    const raw = this.notes?.get(instanceId);
    const old = raw === undefined ? undefined : parsePlace(raw);
    if (!old || samePlace(old, place)) {
      this.dropNotes(client);
      if (raw !== payload) this.noteDue = payload;
      return;
    }
    const { filters, complete } = leftoverFilters(old, place);
    const where = `${old.base} (discovery prefix ${old.prefix})`;
    if (filters.length === 0) {
      this.dropNotes(client);
      this.oldPlaceIncomplete(where, complete);
      if (complete) this.noteDue = payload;
      return;
    }
    const run: OldReadback = {
      client,
      old,
      place,
      payload,
      where,
      filters,
      complete,
      seen: new Set<string>(),
      status: old.base === place.base ? undefined : `${old.base}/status`,
      online: false,
      startedAt: 0,
      lastAt: 0,
      timer: undefined,
    };
    this.oldReadback = run;
    // Unsubscribing the old filters must not end the notes' subscription when one is the same.
    const subscribed = filters.filter((f) => f !== REGISTRY_FILTER);
    client.subscribe(subscribed, { qos: 0 }, (err) => {
      if (this.client !== client || this.oldReadback !== run) return;
      if (err) {
        // The note still names the old place: the next connect tries again.
        this.oldReadback = undefined;
        this.dropNotes(client);
        this.log('warn', `MQTT: could not look for what was left under ${where}: ${this.scrub(err.message)}`);
        return;
      }
      run.startedAt = Date.now();
      run.lastAt = run.startedAt;
      this.armOldReadback(run);
    });
  }

  /**
   * The old place's read-back ends once no retained message came for `readbackMs`, but at most
   * after OLD_READBACK_CAP of those: a broker may replay a large retained set slowly, and what it
   * replays after the end would never be cleared, since the note moves.
   */
  private armOldReadback(run: OldReadback): void {
    const now = Date.now();
    const quietAt = run.lastAt + this.t.readbackMs;
    const capAt = run.startedAt + OLD_READBACK_CAP * this.t.readbackMs;
    const at = Math.min(quietAt, capAt);
    if (now >= at) {
      this.finishOldReadback(run);
      return;
    }
    run.timer = setTimeout(() => {
      run.timer = undefined;
      if (this.oldReadback === run) this.armOldReadback(run);
    }, at - now);
    run.timer.unref();
  }

  private finishOldReadback(run: OldReadback): void {
    const { client, old, place, where } = run;
    if (this.client !== client || this.oldReadback !== run) return;
    this.oldReadback = undefined;
    client.unsubscribe(
      run.filters.filter((f) => f !== REGISTRY_FILTER),
      () => undefined,
    );
    // Judged now, not when the read-back began: a bridge that started with this one (a copied
    // node keeping the base this one left) has written its note by now.
    const others = notedPlaces(this.notes ?? new Map<string, string>(), this.opts.instanceId);
    this.dropNotes(client);
    if (run.online) {
      // A bridge that moved always leaves `offline` there (its stop or its will): whoever says
      // `online` publishes there now, perhaps without a note, and everything there may be its.
      this.log('warn', `MQTT: ${old.base}/status says online: another bridge publishes under ${where}, so nothing the bridge left there is cleared`);
      this.noteDue = run.payload;
      this.scheduleFlush(0);
      return;
    }
    const found = leftovers(old, run.seen, place, others);
    for (const t of found.clear) this.leftovers.add(t);
    if (found.clear.length) this.log('info', `MQTT: the bridge moved from ${where}; clearing the ${found.clear.length} retained topics it left there`);
    if (found.othersUse.length) {
      this.log('info', `MQTT: leaving ${found.othersUse.length} retained topics under ${where} alone: another bridge publishes there`);
    }
    this.oldPlaceIncomplete(where, run.complete);
    if (run.complete) this.noteDue = run.payload;
    this.scheduleFlush(0);
  }

  private oldPlaceIncomplete(where: string, complete: boolean): void {
    if (complete) return;
    this.log(
      'warn',
      `MQTT: the bridge moved from ${where}, but its old states there lie under the new base topic's commands (${this.topics.commandFilter}) and cannot be read back; clear them by hand`,
    );
  }

  /** Ends an old place's read-back, if one runs, without judging it. */
  private endOldReadback(): void {
    const run = this.oldReadback;
    if (!run) return;
    if (run.timer) clearTimeout(run.timer);
    this.oldReadback = undefined;
  }

  private onBrokerMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const instance = registryInstanceOf(topic);
    if (instance !== undefined && (this.notes || this.readback)) {
      // A note written after the subscription comes live (retain flag clear), and a removed one
      // as an empty payload.
      if (payload.length > 0) this.notes?.set(instance, payload.toString());
      else this.notes?.delete(instance);
      // Never a stale candidate, even with the base topic `tvheadend-bridge`: it is another bridge's.
      return;
    }
    if (packet.retain && payload.length > 0 && this.readback && this.topics.isOwned(topic)) {
      this.readback.add(topic);
      return;
    }
    const old = this.oldReadback;
    if (old && old.filters.some((f) => filterMatches(f, topic))) {
      // Live or retained: a bridge that went online there during the read-back counts too.
      if (topic === old.status && payload.toString() === 'online') old.online = true;
      if (packet.retain && payload.length > 0) {
        old.seen.add(topic);
        old.lastAt = Date.now();
        return;
      }
    }
    if (topic === this.topics.haStatus) {
      // A retained `online` is HA's old birth message: what the connect sends anyway covers it.
      if (!packet.retain && payload.toString().trim() === 'online') this.onHaBirth();
      return;
    }
    const method = this.topics.commandOf(topic);
    // A retained command would run again on every connect: never act on one.
    if (method === undefined || packet.retain) return;
    // Nothing awaits this: a failure must end up in the log, never as an unhandled rejection.
    this.runCommand(method, payload, packet).catch((err: unknown) => {
      this.log('error', this.scrub(`command ${method} failed: ${err instanceof Error ? err.message : String(err)}`));
    });
  }

  private onHaBirth(): void {
    if (this.haTimer) clearTimeout(this.haTimer);
    this.haTimer = setTimeout(() => {
      this.haTimer = undefined;
      this.republish();
    }, this.t.haBirthDelayMs);
  }

  private async runCommand(method: string, payload: Buffer, packet: IPublishPacket): Promise<void> {
    const reply: CommandReply = await this.commands.run(method, payload);
    this.notifyCommand({ method, ok: reply.ok });
    const client = this.client;
    if (!client || !this.connected) return;
    const body = JSON.stringify(reply);
    client.publish(this.topics.reply(method), body, { qos: 1, retain: false });
    const props = packet.properties;
    if (this.protocolVersion === 5 && props?.responseTopic && !/[+#]/.test(props.responseTopic)) {
      const o: IClientPublishOptions = { qos: 1, retain: false, properties: { contentType: 'application/json' } };
      if (props.correlationData) o.properties = { ...o.properties, correlationData: props.correlationData };
      client.publish(props.responseTopic, body, o);
    }
  }

  // ------------------------------------------------------------------ session and sources

  private readonly onSessionState = (status: { state: string }): void => {
    // A (re)sync may have changed anything, and its change events are not tracked one by one.
    this.model.markAll();
    if (status.state === 'ready') {
      if (!this.readySince) this.readySince = Date.now();
      this.fastDue = true;
      void this.refreshDisk(true);
    } else {
      this.readySince = 0;
    }
    this.emitStatus();
    this.scheduleFlush(0);
  };

  private readonly onChange = (change: ChangeEvent): void => {
    // Whether the change matters (events only with a channel selection) is the model's to say.
    this.model.noteChange(change);
    if (change.kind === 'dvrEntry' && change.changed.includes('state')) void this.refreshDisk();
    this.scheduleFlush();
  };

  private readonly checkSubscriptions = (): void => {
    if (this.session.state !== 'ready' || !this.connected) return;
    const now = subscriptionsShape(subscriptionsState(this.session));
    if (now !== this.model.subsShape) this.scheduleFlush();
  };

  private readonly onStatusChange = (): void => {
    this.model.markServerStatus();
    this.fastDue = true;
    this.scheduleFlush();
  };

  private readonly onStatusPoll = (): void => {
    // A poll can move figures that are below the poller's change threshold: read them again.
    this.model.markServerStatus();
    // The first poll after ready completes the state (the stale read-back may now be judged).
    if (!this.statusSeen) {
      this.statusSeen = true;
      this.fastDue = true;
      this.scheduleFlush();
    }
  };
  private statusSeen = false;

  private async refreshDisk(force = false): Promise<void> {
    if (this.diskBusy || this.session.state !== 'ready') return;
    // Recordings starting and stopping can come in bursts; disk space does not move that fast.
    if (!force && Date.now() - this.lastDiskAt < 30_000) return;
    this.diskBusy = true;
    this.lastDiskAt = Date.now();
    try {
      const disk = diskSpaceOf(await this.session.callRaw('getDiskSpace'));
      if (disk) this.disk = disk;
    } catch (err) {
      // No right, or no storage path: the disk entities simply are not announced.
      const code = (err as { code?: unknown }).code;
      if (code === 'noaccess' || code === 'server') this.disk = undefined;
    } finally {
      this.diskBusy = false;
      this.diskAttempted = true;
      this.model.setDisk(this.disk);
      this.scheduleFlush();
    }
  }

  // ------------------------------------------------------------------ publishing

  private scheduleFlush(delayMs?: number): void {
    if (this.stopped) return;
    const wait = delayMs ?? Math.max(0, this.lastFlushAt + this.t.publishIntervalMs - Date.now());
    if (this.flushTimer) {
      if (delayMs !== 0) return;
      clearTimeout(this.flushTimer);
    }
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.flush();
    }, wait);
  }

  /** The state is complete enough to judge which old retained topics are stale. */
  private settled(): boolean {
    if (this.session.state !== 'ready' || !this.diskAttempted) return false;
    const v = this.statusView;
    if (!v || !v.available) return true;
    if (this.ownPoller) return this.statusSeen || Date.now() - this.readySince > 15_000;
    return true;
  }

  private flush(): void {
    const client = this.client;
    if (!client || !this.connected || this.stopped) return;
    this.lastFlushAt = Date.now();
    const sends: Array<[string, string]> = [];

    const avail = this.session.state === 'ready' ? 'online' : 'offline';
    const availTopic = this.topics.availability;
    if (this.forceRequested || this.published.get(availTopic) !== avail) sends.push([availTopic, avail]);

    const model = this.model;
    if (this.session.state === 'ready' && this.session.cache.hasSynced) {
      // Everything is sent now: rebuilding it all as well costs less than the sends, and holds
      // the republished state to the cache as it is, whatever the change events said.
      if (this.forceRequested) model.markAll();
      model.update(this.fastDue);
      this.fastDue = false;
      if (this.forceRequested) this.forced = new Set(Array.from(model.entries(), ([topic]) => topic));
      this.forceRequested = false;
      // Configs go first (HA must know an entity before its state matters); removals last.
      const diff = this.forced ? model.allChanges(this.published, this.forced, availTopic) : model.changes(this.published);
      for (const send of diff) sends.push(send);
      if (this.readbackDone && this.settled()) {
        // A candidate stays until its removal is sent (a capped flush leaves some for the next).
        for (const topic of this.staleCandidates) {
          if (model.has(topic) || this.published.has(topic)) this.staleCandidates.delete(topic);
          else sends.push([topic, '']);
        }
      }
    }
    // Without a ready session `forceRequested` stays set: the states go out once it is back.

    // The old place does not wait for the session: nothing there depends on its state.
    for (const topic of this.leftovers) sends.push([topic, '']);
    const note = this.noteTopic;
    if (note !== undefined && this.noteDue !== undefined && !this.noteRefused && !this.forgetting) sends.push([note, this.noteDue]);

    const batch = sends.slice(0, this.t.maxPerFlush);
    for (const [topic, payload] of batch) {
      if (topic === note) {
        this.noteDue = undefined;
        client.publish(topic, payload, QOS1, (err) => this.noteFailed(client, err));
        continue;
      }
      client.publish(topic, payload, QOS1);
      // Not a topic of the current place: `published` must not learn of it.
      if (this.leftovers.delete(topic)) continue;
      if (payload === '' && topic !== availTopic) this.published.delete(topic);
      else this.published.set(topic, payload);
      this.forced?.delete(topic);
      this.staleCandidates.delete(topic);
    }
    // Left for the next flush: the model offers them again. Stale removals and the old place's
    // are offered again by their own sets, and the model has nothing to say about them.
    model.requeue(
      sends
        .slice(batch.length)
        .map(([topic]) => topic)
        .filter((topic) => topic !== availTopic && topic !== note && !this.leftovers.has(topic) && !this.staleCandidates.has(topic)),
    );
    if (this.forced) {
      // A forced topic that went unsent and unpublished needs no send; keeping it would keep
      // every later flush on the full diff.
      for (const topic of this.forced) if (!model.has(topic)) this.forced.delete(topic);
      if (this.forced.size === 0) this.forced = undefined;
    }
    if (sends.length > batch.length) {
      this.log('debug', `MQTT: ${sends.length - batch.length} messages left for the next flush`);
      this.scheduleFlush();
    }
  }

  /**
   * A refused note (an ACL without `tvheadend-bridge/#`) would be refused again: say so once and
   * leave it for this connection. MQTT 3.1.1 brokers drop a refused publish silently; only MQTT 5
   * ones say so.
   */
  private noteFailed(client: MqttClient, err: Error | undefined): void {
    if (!err || this.client !== client || this.noteRefused) return;
    this.noteRefused = true;
    this.log('warn', `MQTT: the broker refused the note ${this.noteTopic ?? ''} (does its ACL allow ${REGISTRY_ROOT}/#?): ${this.scrub(err.message)}`);
  }

  // ------------------------------------------------------------------ helpers

  private every(ms: number, fn: () => void): void {
    if (!(ms > 0)) return;
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  /**
   * Each listener on its own: one that throws (or returns a promise that rejects) must neither
   * keep the reply from being published nor reach the broker client's event loop as a crash.
   */
  private notifyCommand(info: { method: string; ok: boolean }): void {
    for (const l of this.rawListeners('command') as Array<(i: { method: string; ok: boolean }) => unknown>) {
      try {
        const r = l.call(this, info);
        if (r instanceof Promise) r.catch((err: unknown) => this.listenerFailed(err));
      } catch (err) {
        this.listenerFailed(err);
      }
    }
  }

  private listenerFailed(err: unknown): void {
    this.log('error', this.scrub(`a 'command' listener failed: ${err instanceof Error ? err.message : String(err)}`));
  }

  private setBroker(state: BrokerState): void {
    this.brokerState = state;
    this.emitStatus();
  }

  private emitStatus(): void {
    this.emit('status', this.status);
  }

  /** The broker's address without user info (which could hold a password). */
  private where(): string {
    try {
      const u = new URL(this.opts.broker.url);
      return `${u.protocol}//${u.host}`;
    } catch {
      return '(invalid URL)';
    }
  }

  private scrub(text: string): string {
    return redact(text, [...this.secrets(), this.opts.broker.password, this.opts.broker.username]);
  }
}
