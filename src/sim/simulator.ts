/**
 * A Tvheadend simulator speaking real HTSP over TCP, for tests, benchmarks
 * and demos. The data (channels, EPG, DVR …) lives in this object and
 * survives `restart()`, so reconnecting clients see a server that kept state.
 */
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { HtsmsgMap } from '../htsp/codec';
import { SimConnection, type ConnectionHost } from './connection';
import {
  DEFAULT_USERS,
  Rng,
  autorecFields,
  channelFields,
  dvrFields,
  dvrStatsFields,
  eventFields,
  isFailed,
  shortIdFromUuid,
  tagFields,
  timerecFields,
  type Genre,
  type SimAutorec,
  type SimAutorecSpec,
  type SimChannel,
  type SimChannelSpec,
  type SimDiskSpace,
  type SimDvrConfig,
  type SimDvrEntry,
  type SimDvrEntrySpec,
  type SimEvent,
  type SimEventSpec,
  type SimProfile,
  type SimRights,
  type SimTag,
  type SimTagSpec,
  type SimTimerec,
  type SimTimerecSpec,
  type SimUser,
} from './data';
import { DvrStore, type DvrChange } from './dvr';
import { EpgStore } from './epg';
import { dispatch } from './rpc';
import type { SimInput } from './streaming';

export interface SimOptions {
  /** 127.0.0.1 */
  host?: string;
  /** 9982; 0 = ephemeral. */
  port?: number;
  /** Default: demo/demo with every right. */
  users?: SimUser[];
  /** Rights of a connection before (or without) authentication, i.e. IP-based rights. Default: none. */
  anonymousRights?: SimRights;
  /** A count (default 8) or explicit specs. */
  channels?: number | SimChannelSpec[];
  /** Tag names or specs; default a typical set (TV, Radio, HD, genres). */
  tags?: Array<string | SimTagSpec>;
  /** Hours of EPG ahead of now (default 24). */
  epgHours?: number;
  /** Average programme length in minutes (default 30). */
  eventMinutes?: number;
  /** Clock factor (default 1; 60 = one simulated minute per real second). */
  speed?: number;
  /** Simulated epoch seconds at construction (default now). */
  startTime?: number;
  /** Seed for all generated data (default 1): same seed, same ids and EPG. */
  seed?: number;
  serverName?: string;
  serverVersion?: string;
  /** The server's maximum HTSP version (default 44). */
  htspVersion?: number;
  /** `api_version` in the hello reply (default 19). */
  apiVersion?: number;
  /** Bits per second of simulated stream packets (default 1 000 000). */
  bitrate?: number;
  /** Initial DVR entries; default a few in different states. */
  dvrEntries?: SimDvrEntrySpec[];
  /** Initial autorec rules; default one enabled, one disabled. */
  autorecEntries?: SimAutorecSpec[];
  /** Initial timerec rules; default one enabled, one disabled. */
  timerecEntries?: SimTimerecSpec[];
  /** Stream profiles (default htsp, pass, matroska, audio). */
  profiles?: Array<{ name: string; comment?: string }>;
  /** DVR configs (default one: the default config, name ""). */
  dvrConfigs?: Array<{ name: string; comment?: string }>;
  /** Bytes; `used` excludes what the simulated recordings add. */
  diskSpace?: Partial<SimDiskSpace> & { free?: number };
  /** `servercapability` list in the hello reply. */
  capabilities?: string[];
  /** Minutes east of UTC reported by getSysTime (default 0). */
  gmtOffsetMinutes?: number;
  /** Real milliseconds between clock ticks (default 500). */
  tickMs?: number;
}

export interface ExternalViewerSpec {
  username?: string;
  client?: string;
  hostname?: string;
  channelId: number;
  title?: string;
}

export interface ExternalViewer extends Required<Omit<ExternalViewerSpec, 'title'>> {
  id: number;
  title: string;
  start: number;
}

export interface SimConnectionInfo {
  id: number;
  peer: string;
  peerPort: number;
  username: string | undefined;
  clientName: string | undefined;
  htspVersion: number;
  async: boolean;
  subscriptions: number[];
}

export interface SimRequestEvent {
  connectionId: number;
  method: string | undefined;
  seq: number | undefined;
  message: HtsmsgMap;
}

type ReplyDelay = { ms: number; methods: Set<string> | undefined };

const DEFAULT_CHANNELS: Array<SimChannelSpec & { genre: Genre }> = [
  { name: 'Sim One HD', genre: 'entertainment', input: 'dvb', serviceType: 'HDTV' },
  { name: 'Sim News 24', genre: 'news', input: 'iptv', serviceType: 'HDTV' },
  { name: 'Sim Movies', genre: 'movies', input: 'dvb', serviceType: 'HDTV' },
  { name: 'Sim Sports', genre: 'sports', input: 'iptv', serviceType: 'HDTV' },
  { name: 'Sim Kids', genre: 'kids', input: 'dvb', serviceType: 'SDTV', scrambled: true },
  { name: 'Sim Docs', genre: 'docs', input: 'iptv', serviceType: 'SDTV' },
  { name: 'Sim Music', genre: 'music', input: 'dvb', serviceType: 'SDTV', scrambled: true },
  { name: 'Sim Radio Jazz', genre: 'radio', input: 'iptv', serviceType: 'Radio' },
];
const GENRES: Genre[] = ['entertainment', 'news', 'movies', 'sports', 'kids', 'docs', 'music'];
const DEFAULT_TAGS = ['TV', 'Radio', 'HD', 'News', 'Movies', 'Sports', 'Kids', 'Documentaries', 'Music', 'Entertainment'];
const GENRE_TAG: Record<Genre, string> = {
  news: 'News',
  movies: 'Movies',
  sports: 'Sports',
  kids: 'Kids',
  docs: 'Documentaries',
  music: 'Music',
  entertainment: 'Entertainment',
  radio: 'Radio',
};

export class TvheadendSimulator extends EventEmitter implements ConnectionHost {
  readonly host: string;
  private _port: number;
  readonly serverName: string;
  readonly serverVersion: string;
  readonly htspVersion: number;
  readonly apiVersion: number;
  readonly capabilities: string[];
  readonly gmtOffsetMinutes: number;
  bitrate: number;
  users: SimUser[];
  anonymousRights: SimRights;

  /** @internal */ readonly channelMap = new Map<number, SimChannel>();
  /** @internal */ readonly tagMap = new Map<number, SimTag>();
  /** @internal */ readonly epg: EpgStore;
  /** @internal */ readonly dvr: DvrStore;
  /** @internal */ readonly profiles: SimProfile[];
  /** @internal */ readonly dvrConfigs: SimDvrConfig[];
  /** @internal */ readonly inputs: SimInput[];
  /** @internal */ readonly diskSpace: SimDiskSpace;
  /** @internal */ readonly connections = new Map<number, SimConnection>();
  /** @internal */ readonly externalViewers = new Map<number, ExternalViewer>();
  /** @internal */ readonly rng: Rng;

  private server: Server | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private readonly tickMs: number;
  private speed: number;
  private clockBase: number;
  private realBase = Date.now();
  private lastStatsAt = 0;
  private nextConnId = 1;
  private nextTagId = 1;
  /** Tvheadend numbers every subscription (HTSP, HTTP, DVR) from one counter as it starts. */
  private nextSubscriptionStatusId = 1;
  private readonly lastNowNext = new Map<number, { eventId: number; nextEventId: number }>();
  private stalled = false;
  private stallTimer: NodeJS.Timeout | undefined;
  private stallWaiters: Array<() => void> = [];
  private replyDelays: ReplyDelay[] = [];

  constructor(opts: SimOptions = {}) {
    super();
    this.host = opts.host ?? '127.0.0.1';
    this._port = opts.port ?? 9982;
    this.serverName = opts.serverName ?? 'Tvheadend';
    this.serverVersion = opts.serverVersion ?? '4.3-2715~g80729d2f6-sim';
    this.htspVersion = opts.htspVersion ?? 44;
    this.apiVersion = opts.apiVersion ?? 19;
    this.capabilities = opts.capabilities ?? ['caclient', 'tvadapters', 'satip_client', 'satip_server', 'timeshift', 'trace'];
    this.gmtOffsetMinutes = opts.gmtOffsetMinutes ?? 0;
    this.bitrate = opts.bitrate ?? 1_000_000;
    this.users = (opts.users ?? DEFAULT_USERS).map((u) => ({ ...u, rights: { ...u.rights } }));
    this.anonymousRights = { ...(opts.anonymousRights ?? {}) };
    this.speed = opts.speed ?? 1;
    this.tickMs = opts.tickMs ?? 500;
    this.clockBase = opts.startTime ?? Date.now() / 1000;
    const seed = opts.seed ?? 1;
    this.rng = new Rng(seed);

    const total = opts.diskSpace?.total ?? 270_553_174_016;
    const used = opts.diskSpace?.used ?? (opts.diskSpace?.free !== undefined ? total - opts.diskSpace.free : 120_000_000_000);
    this.diskSpace = { total, used };

    this.profiles = (opts.profiles ?? [
      { name: 'htsp', comment: 'HTSP Default Stream Settings' },
      { name: 'pass', comment: 'MPEG-TS Pass-thru/built-in' },
      { name: 'matroska', comment: 'Matroska (mkv)/built-in' },
      { name: 'audio', comment: 'Audio only/built-in' },
    ]).map((p) => ({ uuid: this.rng.hex(32), name: p.name, comment: p.comment ?? '' }));
    this.dvrConfigs = (opts.dvrConfigs ?? [{ name: '', comment: 'Default profile' }]).map((c) => ({
      uuid: this.rng.hex(32),
      name: c.name,
      comment: c.comment ?? '',
    }));
    this.inputs = [
      { uuid: this.rng.hex(32), name: 'IPTV #1', kind: 'iptv', networkUuid: this.rng.hex(32), network: 'Sim IPTV' },
      { uuid: this.rng.hex(32), name: 'Sim DVB-T #0 : DVB-T #0', kind: 'dvb', networkUuid: this.rng.hex(32), network: 'Sim DVB-T' },
      { uuid: this.rng.hex(32), name: 'Sim DVB-T #1 : DVB-T #0', kind: 'dvb', networkUuid: '', network: 'Sim DVB-T' },
    ];
    this.inputs[2].networkUuid = this.inputs[1].networkUuid;

    this.epg = new EpgStore(seed, opts.epgHours ?? 24, opts.eventMinutes ?? 30);
    this.dvr = new DvrStore(this.rng, {
      channel: (id) => this.channelMap.get(id),
      event: (id) => this.epg.byId.get(id),
      firstChannel: () => this.channelMap.values().next().value,
      defaultConfigId: this.dvrConfigs[0]?.uuid ?? this.rng.hex(32),
      newSubscriptionId: () => this.newSubscriptionId(),
    });

    const now = this.now();
    for (const t of opts.tags ?? DEFAULT_TAGS) this.createTag(typeof t === 'string' ? { name: t } : t);
    const specs = Array.isArray(opts.channels) ? opts.channels : this.defaultChannelSpecs(opts.channels ?? 8);
    specs.forEach((spec, i) => this.createChannel(spec, i, now));
    for (const ch of this.channelMap.values()) this.lastNowNext.set(ch.id, this.epg.nowNext(ch.id, now));

    for (const a of opts.autorecEntries ?? this.defaultAutorecs()) this.dvr.createAutorec(a);
    for (const t of opts.timerecEntries ?? this.defaultTimerecs()) this.dvr.createTimerec(t);
    for (const spec of opts.dvrEntries ?? this.defaultDvrEntries(now)) {
      const { channelIndex, ...rest } = spec;
      const ch = channelIndex !== undefined ? [...this.channelMap.values()][channelIndex] : undefined;
      this.dvr.create(ch ? { ...rest, channelId: ch.id } : rest, now);
    }
    this.dvr.applyTimerecs(now);
    this.dvr.applyAutorecs(this.epg.byId.values(), now);
  }

  // ================================================================ lifecycle

  get port(): number {
    return this._port;
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  async start(): Promise<{ host: string; port: number }> {
    if (this.server) return { host: this.host, port: this._port };
    const server = createServer((sock) => this.accept(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this._port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', () => undefined);
    this.server = server;
    this._port = (server.address() as AddressInfo).port;
    this.tick();
    this.ticker = setInterval(() => this.tick(), this.tickMs);
    this.ticker.unref();
    const where = { host: this.host, port: this._port };
    this.emit('listening', where);
    return where;
  }

  async stop(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    this.resume();
    const server = this.server;
    this.server = undefined;
    for (const c of [...this.connections.values()]) c.destroy();
    if (server) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      this.emit('stopped');
    }
  }

  /**
   * Stop, wait, and listen again on the same port; all data is kept. Tag ids are renumbered as
   * Tvheadend does on every start (protocol reference §5.2, G13; `tagIdStr` stays), unless
   * `keepTagIds`. stop() + start() keeps every id (a connection outage rather than a restart).
   */
  async restart(opts: { downtimeMs?: number; keepTagIds?: boolean } = {}): Promise<void> {
    await this.stop();
    if (!opts.keepTagIds) this.renumberTags();
    if (opts.downtimeMs && opts.downtimeMs > 0) await new Promise((r) => setTimeout(r, opts.downtimeMs));
    await this.start();
  }

  /**
   * Gives every tag another id. The ids are shuffled among the tags (a rotation) rather than all
   * new: a client that keys tags by id then sees ids that still exist but mean another tag,
   * the hardest case to reconcile.
   */
  private renumberTags(): void {
    const tags = [...this.tagMap.values()];
    if (tags.length === 0) return;
    const ids = tags.map((t) => t.id);
    const rotated = tags.length > 1 ? [...ids.slice(1), ids[0]] : [this.nextTagId++];
    const newId = new Map<number, number>();
    tags.forEach((t, i) => newId.set(t.id, rotated[i]));
    this.tagMap.clear();
    for (const t of tags) {
      t.id = newId.get(t.id) as number;
      this.tagMap.set(t.id, t);
    }
    for (const ch of this.channelMap.values()) ch.tags = ch.tags.map((id) => newId.get(id) ?? id);
  }

  // ================================================================ clock

  /** Simulated time, epoch seconds. */
  now(): number {
    return Math.floor(this.nowExact());
  }

  nowExact(): number {
    return this.clockBase + ((Date.now() - this.realBase) / 1000) * this.speed;
  }

  setSpeed(speed: number): void {
    this.clockBase = this.nowExact();
    this.realBase = Date.now();
    this.speed = speed;
  }

  getSpeed(): number {
    return this.speed;
  }

  /** Move the simulated clock forward; EPG and DVR react as if the time had passed. */
  advance(seconds: number): void {
    this.clockBase += seconds;
    this.tick(true);
  }

  /** @internal Run the clock-driven changes; called by the ticker and by advance(). */
  tick(forceStats = false): void {
    const now = this.now();
    const { removed, added } = this.epg.roll(now);
    for (const ev of removed) this.pushEvent('delete', ev);
    const epgConns = this.epgConnections();
    if (added.length > 0 && epgConns.length > 0) {
      const dvrByEvent = this.dvrByEvent();
      const addedSet = new Set(added);
      for (const ev of added) {
        // The programme before a new one just got a nextEventId.
        const prev = this.previousEvent(ev);
        for (const c of epgConns) {
          if (ev.start > c.epgSentUntil) continue;
          if (prev && prev.start <= c.epgSentUntil && !addedSet.has(prev)) {
            c.send({ method: 'eventUpdate', ...this.eventMsg(prev, c, dvrByEvent) });
          }
          c.send({ method: 'eventAdd', ...this.eventMsg(ev, c, dvrByEvent) });
        }
      }
    }
    this.slideEpgWindows(now);
    this.updateNowNext(now);
    this.runDvrClock(now);
    if (added.length > 0) for (const e of this.dvr.applyAutorecs(added, now)) this.dvrCreated(e);
    if (forceStats || Date.now() - this.lastStatsAt >= 5000) {
      this.lastStatsAt = Date.now();
      for (const ch of this.dvr.stats(now)) this.pushDvr(ch);
    }
    this.emit('tick', now);
  }

  private runDvrClock(now: number): void {
    for (const ch of this.dvr.tick(now)) {
      this.pushDvr(ch);
      this.emit('dvrState', { id: ch.entry.id, state: ch.entry.state, entry: ch.entry });
    }
    for (const e of this.dvr.applyTimerecs(now)) this.dvrCreated(e);
  }

  private slideEpgWindows(now: number): void {
    for (const c of this.epgConnections()) {
      if (c.epgWindow === undefined) continue;
      const end = now + c.epgWindow;
      if (end <= c.epgSentUntil) continue;
      const from = c.epgSentUntil;
      c.epgSentUntil = end;
      const dvrByEvent = this.dvrByEvent();
      for (const id of this.epg.channelIds()) {
        for (const ev of this.epg.startingIn(id, from, end)) c.send({ method: 'eventAdd', ...this.eventMsg(ev, c, dvrByEvent) });
      }
    }
  }

  private updateNowNext(now: number): void {
    for (const ch of this.channelMap.values()) {
      const nn = this.epg.nowNext(ch.id, now);
      const last = this.lastNowNext.get(ch.id);
      if (last && last.eventId === nn.eventId && last.nextEventId === nn.nextEventId) continue;
      this.lastNowNext.set(ch.id, nn);
      for (const c of this.asyncConnections()) {
        c.send({ channelId: ch.id, eventId: nn.eventId, nextEventId: nn.nextEventId, method: 'channelUpdate' });
      }
    }
  }

  // ================================================================ fault injection

  /** Destroy every client socket abruptly (no FIN handshake courtesy, no goodbye). */
  dropConnections(): void {
    for (const c of [...this.connections.values()]) {
      c.socket.resetAndDestroy();
      c.destroy();
    }
  }

  /**
   * Stop answering and sending anything (a half-open connection as seen from
   * the client). `ms` 0 or Infinity: until resume().
   */
  stall(ms = 0): void {
    this.stalled = true;
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    if (ms > 0 && Number.isFinite(ms)) {
      this.stallTimer = setTimeout(() => this.resume(), ms);
    }
    this.emit('stall', ms);
  }

  resume(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    if (!this.stalled) return;
    this.stalled = false;
    const waiters = this.stallWaiters;
    this.stallWaiters = [];
    for (const w of waiters) w();
    this.emit('resume');
  }

  get isStalledNow(): boolean {
    return this.stalled;
  }

  /** Write bytes that are not a valid HTSMSG frame to every client. */
  sendGarbage(bytes = 32): void {
    for (const c of this.connections.values()) {
      const body = randomBytes(Math.max(8, bytes));
      // An unknown field type (0x0f) guarantees the decoder fails, whatever the random rest is.
      body[0] = 0x0f;
      const frame = Buffer.alloc(4 + body.length);
      frame.writeUInt32BE(body.length, 0);
      body.copy(frame, 4);
      c.writeRaw(frame);
    }
  }

  /** Write a frame header announcing `length` bytes (default ~2 GiB), and nothing else. */
  sendOversizeLength(length = 0x7fff_fff0): void {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(length >>> 0, 0);
    for (const c of this.connections.values()) c.writeRaw(head);
  }

  /** Answer slowly: `ms` before each reply, for all methods or only the ones listed. 0 clears. */
  setReplyDelay(ms: number, methods?: string[]): void {
    if (ms <= 0) {
      this.replyDelays = methods ? this.replyDelays.filter((d) => d.methods && !methods.every((m) => d.methods?.has(m))) : [];
      return;
    }
    this.replyDelays.push({ ms, methods: methods ? new Set(methods) : undefined });
  }

  /** @internal */
  replyDelayFor(method: string | undefined): number {
    let ms = 0;
    for (const d of this.replyDelays) if (!d.methods || (method !== undefined && d.methods.has(method))) ms = Math.max(ms, d.ms);
    return ms;
  }

  // ================================================================ ConnectionHost

  /** @internal */
  isStalled(): boolean {
    return this.stalled;
  }

  /** @internal */
  waitUnstalled(): Promise<void> {
    if (!this.stalled) return Promise.resolve();
    return new Promise((resolve) => this.stallWaiters.push(resolve));
  }

  /** @internal */
  async onRequest(conn: SimConnection, msg: HtsmsgMap): Promise<void> {
    if (this.stalled) await Promise.race([this.waitUnstalled(), conn.whenClosed()]);
    if (conn.closed) return;
    await dispatch(this, conn, msg);
  }

  /** @internal */
  onClose(conn: SimConnection): void {
    if (!this.connections.delete(conn.id)) return;
    this.emit('disconnect', { id: conn.id, username: conn.username });
  }

  private accept(sock: Socket): void {
    const conn = new SimConnection(this.nextConnId++, sock, this, this.anonymousRights);
    this.connections.set(conn.id, conn);
    this.emit('connection', { id: conn.id, peer: conn.peer, peerPort: conn.peerPort });
  }

  /** @internal Verify a digest; success replaces the connection's rights, failure keeps them. */
  authenticate(conn: SimConnection, username: string, digest: Buffer | undefined): boolean {
    if (digest === undefined) {
      conn.username ??= username;
      return false;
    }
    if (username === '') {
      conn.rights = { ...this.anonymousRights };
      conn.username = undefined;
      conn.verified = false;
      return true;
    }
    const user = this.users.find((u) => u.username === username);
    const ok =
      user !== undefined &&
      createHash('sha1').update(Buffer.from(user.password, 'utf8')).update(conn.challenge).digest().equals(digest);
    if (ok && user) {
      conn.rights = { ...this.anonymousRights, ...user.rights };
      conn.username = username;
      conn.verified = true;
      conn.language ??= user.language;
    }
    this.emit('auth', { connectionId: conn.id, username, ok });
    return ok;
  }

  // ================================================================ broadcasting

  /** @internal */
  asyncConnections(): SimConnection[] {
    const out: SimConnection[] = [];
    for (const c of this.connections.values()) if (c.async && !c.closed) out.push(c);
    return out;
  }

  private epgConnections(): SimConnection[] {
    return this.asyncConnections().filter((c) => c.epg);
  }

  /** @internal */
  canSeeDvr(conn: SimConnection, e: SimDvrEntry): boolean {
    if (!conn.rights.dvr) return false;
    if (!conn.rights.allRecorder && e.owner !== (conn.username ?? '')) return false;
    if (isFailed(e) && !conn.rights.failedRecorder) return false;
    return true;
  }

  /** @internal */
  nowNext(channelId: number): { eventId: number; nextEventId: number } {
    return this.epg.nowNext(channelId, this.now());
  }

  /** @internal */
  channelMsg(ch: SimChannel): HtsmsgMap {
    return channelFields(ch, this.nowNext(ch.id));
  }

  /** @internal */
  tagMembers(tagId: number): number[] {
    const out: number[] = [];
    for (const ch of this.channelMap.values()) if (ch.tags.includes(tagId)) out.push(ch.id);
    return out;
  }

  /** @internal */
  dvrMsg(e: SimDvrEntry): HtsmsgMap {
    return dvrFields(e, e.channelId !== undefined && this.channelMap.has(e.channelId));
  }

  /** @internal */
  autorecMsg(a: SimAutorec): HtsmsgMap {
    return autorecFields(a, a.channelId !== undefined && this.channelMap.has(a.channelId));
  }

  /** @internal */
  timerecMsg(t: SimTimerec): HtsmsgMap {
    return timerecFields(t, t.channelId !== undefined && this.channelMap.has(t.channelId));
  }

  /** @internal */
  dvrByEvent(): Map<number, SimDvrEntry> {
    const m = new Map<number, SimDvrEntry>();
    for (const e of this.dvr.entries.values()) if (e.eventId !== undefined) m.set(e.eventId, e);
    return m;
  }

  /** @internal */
  eventMsg(ev: SimEvent, conn: SimConnection | undefined, dvrByEvent?: Map<number, SimDvrEntry>): HtsmsgMap {
    const de = (dvrByEvent ?? this.dvrByEvent()).get(ev.id);
    const dvrId = de && (!conn || this.canSeeDvr(conn, de)) ? de.id : undefined;
    return eventFields(ev, dvrId, this.epg.nextOf(ev)?.id);
  }

  private previousEvent(ev: SimEvent): SimEvent | undefined {
    const evs = this.epg.channelEvents(ev.channelId);
    const i = evs.indexOf(ev);
    return i > 0 ? evs[i - 1] : undefined;
  }

  /** @internal The initial burst, generated lazily so that big EPGs stream with backpressure. */
  *burst(conn: SimConnection): Generator<HtsmsgMap> {
    const tags = [...this.tagMap.values()];
    const channels = [...this.channelMap.values()];
    const withDvr = conn.rights.dvr === true;
    const autorecs = withDvr ? [...this.dvr.autorecs.values()] : [];
    const timerecs = withDvr ? [...this.dvr.timerecs.values()] : [];
    const dvrEntries = withDvr ? [...this.dvr.entries.values()].filter((e) => this.canSeeDvr(conn, e)) : [];
    for (const e of dvrEntries) conn.knownDvr.add(e.id);
    const until = conn.epgSentUntil;
    const schedule = conn.epg ? channels.map((ch) => this.epg.channelEvents(ch.id).slice()) : [];
    const dvrByEvent = this.dvrByEvent();

    for (const t of tags) yield { ...tagFields(t), method: 'tagAdd' };
    for (const ch of channels) yield { ...this.channelMsg(ch), method: 'channelAdd' };
    for (const t of tags) yield { ...tagFields(t, this.tagMembers(t.id)), method: 'tagUpdate' };
    for (const a of autorecs) yield { ...this.autorecMsg(a), method: 'autorecEntryAdd' };
    for (const t of timerecs) yield { ...this.timerecMsg(t), method: 'timerecEntryAdd' };
    for (const e of dvrEntries) yield { ...this.dvrMsg(e), method: 'dvrEntryAdd' };
    for (const evs of schedule) {
      for (const ev of evs) {
        if (ev.start > until) break;
        yield { method: 'eventAdd', ...this.eventMsg(ev, conn, dvrByEvent) };
      }
    }
    yield { method: 'initialSyncCompleted' };
    this.emit('initialSyncSent', { connectionId: conn.id });
  }

  private pushChannel(action: 'add' | 'update' | 'delete', ch: SimChannel): void {
    for (const c of this.asyncConnections()) {
      if (action === 'delete') c.send({ channelId: ch.id, method: 'channelDelete' });
      else c.send({ ...this.channelMsg(ch), method: action === 'add' ? 'channelAdd' : 'channelUpdate' });
    }
  }

  private pushTag(action: 'update' | 'delete', tag: SimTag): void {
    for (const c of this.asyncConnections()) {
      // After the initial sync Tvheadend announces new tags with tagUpdate, never tagAdd.
      if (action === 'delete') c.send({ tagId: tag.id, method: 'tagDelete' });
      else c.send({ ...tagFields(tag, this.tagMembers(tag.id)), method: 'tagUpdate' });
    }
  }

  /** @internal */
  pushDvr(change: DvrChange): void {
    const e = change.entry;
    for (const c of this.asyncConnections()) {
      if (!c.rights.dvr) continue;
      if (change.kind === 'delete') {
        c.knownDvr.delete(e.id);
        c.send({ id: e.id, method: 'dvrEntryDelete' });
        continue;
      }
      const visible = this.canSeeDvr(c, e);
      const known = c.knownDvr.has(e.id);
      if (!visible) {
        if (known) {
          c.knownDvr.delete(e.id);
          c.send({ id: e.id, method: 'dvrEntryDelete' });
        }
        continue;
      }
      if (!known) {
        c.knownDvr.add(e.id);
        c.send({ ...this.dvrMsg(e), method: 'dvrEntryAdd' });
      } else if (change.kind === 'stats' && c.htspVersion >= 26) {
        c.send({ ...dvrStatsFields(e), method: 'dvrEntryUpdate' });
      } else {
        c.send({ ...this.dvrMsg(e), method: 'dvrEntryUpdate' });
      }
    }
  }

  /** @internal */
  pushAutorec(action: 'add' | 'update' | 'delete', a: SimAutorec): void {
    for (const c of this.asyncConnections()) {
      if (!c.rights.dvr) continue;
      if (action === 'delete') c.send({ id: a.id, method: 'autorecEntryDelete' });
      else c.send({ ...this.autorecMsg(a), method: action === 'add' ? 'autorecEntryAdd' : 'autorecEntryUpdate' });
    }
  }

  /** @internal */
  pushTimerec(action: 'add' | 'update' | 'delete', t: SimTimerec): void {
    for (const c of this.asyncConnections()) {
      if (!c.rights.dvr) continue;
      if (action === 'delete') c.send({ id: t.id, method: 'timerecEntryDelete' });
      else c.send({ ...this.timerecMsg(t), method: action === 'add' ? 'timerecEntryAdd' : 'timerecEntryUpdate' });
    }
  }

  /** @internal */
  pushEvent(action: 'add' | 'update' | 'delete', ev: SimEvent): void {
    for (const c of this.epgConnections()) {
      if (action === 'delete') {
        c.send({ method: 'eventDelete', eventId: ev.id });
      } else if (ev.start <= c.epgSentUntil) {
        c.send({ method: action === 'add' ? 'eventAdd' : 'eventUpdate', ...this.eventMsg(ev, c) });
      }
    }
  }

  /** @internal A new DVR entry: announce it, and the event it now records. */
  dvrCreated(e: SimDvrEntry): void {
    this.pushDvr({ kind: 'add', entry: e });
    const ev = e.eventId !== undefined ? this.epg.byId.get(e.eventId) : undefined;
    if (ev) this.pushEvent('update', ev);
    this.emit('dvrEntryAdded', e);
  }

  /** @internal A DVR entry is gone: announce it, and refresh the event it recorded. */
  dvrRemoved(e: SimDvrEntry): void {
    this.pushDvr({ kind: 'delete', entry: e });
    const ev = e.eventId !== undefined ? this.epg.byId.get(e.eventId) : undefined;
    if (ev) this.pushEvent('update', ev);
  }

  /** @internal The id a new server subscription gets in `api` status/subscriptions (never reused). */
  newSubscriptionId(): number {
    return this.nextSubscriptionStatusId++;
  }

  /** @internal Run the DVR clock now (e.g. after an RPC created an entry that is already due). */
  dvrClockNow(): void {
    this.runDvrClock(this.now());
  }

  // ================================================================ data: read

  get channels(): SimChannel[] {
    return [...this.channelMap.values()];
  }

  get tags(): SimTag[] {
    return [...this.tagMap.values()];
  }

  get dvrEntries(): SimDvrEntry[] {
    return [...this.dvr.entries.values()];
  }

  get autorecEntries(): SimAutorec[] {
    return [...this.dvr.autorecs.values()];
  }

  get timerecEntries(): SimTimerec[] {
    return [...this.dvr.timerecs.values()];
  }

  /** Number of EPG events held. */
  get eventCount(): number {
    return this.epg.size;
  }

  getChannel(id: number): SimChannel | undefined {
    return this.channelMap.get(id);
  }

  findChannel(name: string): SimChannel | undefined {
    const n = name.toLowerCase();
    for (const ch of this.channelMap.values()) if (ch.name.toLowerCase() === n) return ch;
    return undefined;
  }

  getTag(id: number): SimTag | undefined {
    return this.tagMap.get(id);
  }

  getDvrEntry(id: number): SimDvrEntry | undefined {
    return this.dvr.entries.get(id);
  }

  getAutorecEntry(id: string): SimAutorec | undefined {
    return this.dvr.autorecs.get(id);
  }

  getTimerecEntry(id: string): SimTimerec | undefined {
    return this.dvr.timerecs.get(id);
  }

  getEvent(id: number): SimEvent | undefined {
    return this.epg.byId.get(id);
  }

  /** Events of one channel (start order), or of all channels. */
  getEvents(channelId?: number): SimEvent[] {
    if (channelId !== undefined) return [...this.epg.channelEvents(channelId)];
    const out: SimEvent[] = [];
    for (const id of this.epg.channelIds()) out.push(...this.epg.channelEvents(id));
    return out;
  }

  /** The running and the next programme of a channel. */
  getNowNext(channelId: number): { now?: SimEvent; next?: SimEvent } {
    const nn = this.nowNext(channelId);
    return { now: this.epg.byId.get(nn.eventId), next: this.epg.byId.get(nn.nextEventId) };
  }

  get connectionList(): SimConnectionInfo[] {
    return [...this.connections.values()].map((c) => ({
      id: c.id,
      peer: c.peer,
      peerPort: c.peerPort,
      username: c.username,
      clientName: c.clientName,
      htspVersion: c.htspVersion,
      async: c.async,
      subscriptions: [...c.subscriptions.keys()],
    }));
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Live subscriptions of all connections (not counting external viewers). */
  get subscriptionCount(): number {
    let n = 0;
    for (const c of this.connections.values()) n += c.subscriptions.size;
    return n;
  }

  // ================================================================ data: mutate

  addUser(user: SimUser): void {
    this.users = this.users.filter((u) => u.username !== user.username).concat({ ...user, rights: { ...user.rights } });
  }

  removeUser(username: string): void {
    this.users = this.users.filter((u) => u.username !== username);
  }

  addChannel(spec: SimChannelSpec = {}): SimChannel {
    const now = this.now();
    const ch = this.createChannel(spec, this.channelMap.size, now);
    this.lastNowNext.set(ch.id, this.epg.nowNext(ch.id, now));
    this.pushChannel('add', ch);
    for (const tagId of ch.tags) {
      const tag = this.tagMap.get(tagId);
      if (tag) this.pushTag('update', tag);
    }
    for (const ev of this.epg.channelEvents(ch.id)) this.pushEvent('add', ev);
    return ch;
  }

  updateChannel(id: number, patch: SimChannelSpec): SimChannel {
    const ch = this.mustChannel(id);
    const oldTags = ch.tags;
    if (patch.name !== undefined) ch.name = patch.name;
    if (patch.number !== undefined) ch.number = patch.number;
    if (patch.numberMinor !== undefined) ch.numberMinor = patch.numberMinor;
    if (patch.icon !== undefined) ch.icon = patch.icon || undefined;
    if (patch.tags !== undefined) ch.tags = this.resolveTags(patch.tags);
    if (patch.scrambled !== undefined || patch.serviceType !== undefined || patch.provider !== undefined) {
      if (patch.scrambled !== undefined) ch.scrambled = patch.scrambled;
      if (patch.provider !== undefined) ch.provider = patch.provider;
      ch.services = [this.makeService(ch, patch.serviceType ?? ch.services[0]?.type ?? 'SDTV')];
    }
    this.pushChannel('update', ch);
    const touched = new Set([...oldTags, ...ch.tags].filter((t) => !(oldTags.includes(t) && ch.tags.includes(t))));
    for (const tagId of touched) {
      const tag = this.tagMap.get(tagId);
      if (tag) this.pushTag('update', tag);
    }
    return ch;
  }

  deleteChannel(id: number): void {
    const ch = this.mustChannel(id);
    this.channelMap.delete(id);
    this.lastNowNext.delete(id);
    for (const ev of this.epg.removeChannel(id)) this.pushEvent('delete', ev);
    this.pushChannel('delete', ch);
    for (const tagId of ch.tags) {
      const tag = this.tagMap.get(tagId);
      if (tag) this.pushTag('update', tag);
    }
    for (const c of this.connections.values()) {
      for (const [sid, sub] of c.subscriptions) {
        if (sub.channel.id !== id) continue;
        sub.stop(true, 'No service assigned to channel', 'No service assigned to channel');
        c.subscriptions.delete(sid);
      }
    }
  }

  addTag(spec: SimTagSpec): SimTag {
    const tag = this.createTag(spec);
    this.pushTag('update', tag);
    return tag;
  }

  updateTag(id: number, patch: Partial<SimTagSpec> & { members?: number[] }): SimTag {
    const tag = this.tagMap.get(id);
    if (!tag) throw new Error(`no tag ${id}`);
    if (patch.name !== undefined) tag.name = patch.name;
    if (patch.index !== undefined) tag.index = patch.index;
    if (patch.icon !== undefined) tag.icon = patch.icon || undefined;
    if (patch.titledIcon !== undefined) tag.titledIcon = patch.titledIcon;
    if (patch.members) {
      const members = new Set(patch.members);
      for (const ch of this.channelMap.values()) {
        const has = ch.tags.includes(id);
        if (members.has(ch.id) && !has) ch.tags = [...ch.tags, id];
        else if (!members.has(ch.id) && has) ch.tags = ch.tags.filter((t) => t !== id);
        else continue;
        this.pushChannel('update', ch);
      }
    }
    this.pushTag('update', tag);
    return tag;
  }

  deleteTag(id: number): void {
    const tag = this.tagMap.get(id);
    if (!tag) throw new Error(`no tag ${id}`);
    this.tagMap.delete(id);
    this.pushTag('delete', tag);
    for (const ch of this.channelMap.values()) {
      if (!ch.tags.includes(id)) continue;
      ch.tags = ch.tags.filter((t) => t !== id);
      this.pushChannel('update', ch);
    }
  }

  addDvrEntry(spec: SimDvrEntrySpec): SimDvrEntry {
    const { channelIndex, ...rest } = spec;
    const ch = channelIndex !== undefined ? this.channels[channelIndex] : undefined;
    const e = this.dvr.create(ch ? { ...rest, channelId: ch.id } : rest, this.now());
    this.dvrCreated(e);
    this.dvrClockNow();
    return e;
  }

  updateDvrEntry(id: number, patch: Partial<Omit<SimDvrEntry, 'id' | 'uuid'>>): SimDvrEntry {
    const e = this.mustDvr(id);
    Object.assign(e, patch);
    if (e.state !== 'recording') e.statusSubscriptionId = undefined;
    else e.statusSubscriptionId ??= this.newSubscriptionId();
    this.pushDvr({ kind: 'update', entry: e });
    this.dvrClockNow();
    return e;
  }

  deleteDvrEntry(id: number): void {
    const e = this.dvr.remove(id);
    if (!e) throw new Error(`no DVR entry ${id}`);
    this.dvrRemoved(e);
  }

  /**
   * Make a recording fail: a running one ends now as completed with `error`;
   * a scheduled one records nothing when its time comes and ends with `error`.
   */
  failDvrEntry(id: number, error = 'No free adapter'): SimDvrEntry {
    const e = this.mustDvr(id);
    if (e.state === 'recording') {
      this.dvr.finish(e, this.now(), error);
      this.pushDvr({ kind: 'update', entry: e });
      this.emit('dvrState', { id: e.id, state: e.state, entry: e });
    } else if (e.state === 'scheduled') {
      e.pendingFailure = error;
    }
    return e;
  }

  /**
   * A failing recording gets its source back (a tuner freed, the signal regained): the error
   * is gone and data flows again. Tvheadend announces a change of a recording's error with the
   * full record, so clients that merge stats-only updates still see the error cleared.
   */
  recoverDvrEntry(id: number): SimDvrEntry {
    const e = this.mustDvr(id);
    if (e.state !== 'recording') throw new Error(`DVR entry ${id} is ${e.state}, not recording`);
    e.error = undefined;
    e.subscriptionError = undefined;
    e.pendingFailure = undefined;
    this.pushDvr({ kind: 'update', entry: e });
    return e;
  }

  /** Mark a scheduled entry as missed (its time passed without a recording). */
  missDvrEntry(id: number): SimDvrEntry {
    const e = this.mustDvr(id);
    if (e.state === 'scheduled') {
      e.state = 'missed';
      this.pushDvr({ kind: 'update', entry: e });
      this.emit('dvrState', { id: e.id, state: e.state, entry: e });
    }
    return e;
  }

  addAutorecEntry(spec: SimAutorecSpec): SimAutorec {
    const a = this.dvr.createAutorec(spec);
    this.pushAutorec('add', a);
    for (const e of this.dvr.applyAutorecs(this.epg.byId.values(), this.now(), a)) this.dvrCreated(e);
    return a;
  }

  updateAutorecEntry(id: string, patch: SimAutorecSpec): SimAutorec {
    const a = this.dvr.autorecs.get(id);
    if (!a) throw new Error(`no autorec ${id}`);
    Object.assign(a, stripUndefined(patch));
    if (a.channelId !== undefined && a.channelId < 0) a.channelId = undefined;
    this.pushAutorec('update', a);
    if (a.enabled) for (const e of this.dvr.applyAutorecs(this.epg.byId.values(), this.now(), a)) this.dvrCreated(e);
    return a;
  }

  deleteAutorecEntry(id: string): void {
    const a = this.dvr.autorecs.get(id);
    if (!a) throw new Error(`no autorec ${id}`);
    this.removeAutorec(a);
  }

  /** @internal Tvheadend removes a rule's upcoming recordings with the rule. */
  removeAutorec(a: SimAutorec): void {
    this.dvr.autorecs.delete(a.id);
    this.removeScheduledOf('autorecId', a.id);
    this.pushAutorec('delete', a);
  }

  addTimerecEntry(spec: SimTimerecSpec): SimTimerec {
    const t = this.dvr.createTimerec(spec);
    this.pushTimerec('add', t);
    this.dvrClockNow();
    return t;
  }

  updateTimerecEntry(id: string, patch: SimTimerecSpec): SimTimerec {
    const t = this.dvr.timerecs.get(id);
    if (!t) throw new Error(`no timerec ${id}`);
    const slot = (r: SimTimerec): string => [r.enabled, r.channelId, r.start, r.stop, r.daysOfWeek].join();
    const before = slot(t);
    Object.assign(t, stripUndefined(patch));
    if (t.channelId !== undefined && t.channelId < 0) t.channelId = undefined;
    this.pushTimerec('update', t);
    // Tvheadend replaces the upcoming recording of a rule whose times moved; the DVR clock
    // below schedules the new one.
    if (slot(t) !== before) this.removeScheduledOf('timerecId', t.id);
    this.dvrClockNow();
    return t;
  }

  deleteTimerecEntry(id: string): void {
    const t = this.dvr.timerecs.get(id);
    if (!t) throw new Error(`no timerec ${id}`);
    this.removeTimerec(t);
  }

  /** @internal */
  removeTimerec(t: SimTimerec): void {
    this.dvr.timerecs.delete(t.id);
    this.removeScheduledOf('timerecId', t.id);
    this.pushTimerec('delete', t);
  }

  /** Removes the upcoming recordings a rule created. */
  private removeScheduledOf(rule: 'autorecId' | 'timerecId', ruleId: string): void {
    for (const e of [...this.dvr.entries.values()]) {
      if (e[rule] === ruleId && e.state === 'scheduled') {
        this.dvr.remove(e.id);
        this.dvrRemoved(e);
      }
    }
  }

  addEvent(spec: SimEventSpec): SimEvent {
    this.mustChannel(spec.channelId);
    const ev = this.epg.insert(spec);
    const prev = this.previousEvent(ev);
    this.pushEvent('add', ev);
    if (prev) this.pushEvent('update', prev);
    this.updateNowNext(this.now());
    for (const e of this.dvr.applyAutorecs([ev], this.now())) this.dvrCreated(e);
    return ev;
  }

  updateEvent(id: number, patch: Partial<Omit<SimEvent, 'id' | 'channelId'>>): SimEvent {
    const ev = this.epg.update(id, patch);
    if (!ev) throw new Error(`no event ${id}`);
    this.pushEvent('update', ev);
    this.updateNowNext(this.now());
    return ev;
  }

  deleteEvent(id: number): void {
    const ev = this.epg.byId.get(id);
    if (!ev) throw new Error(`no event ${id}`);
    const prev = this.previousEvent(ev);
    this.epg.remove(id);
    this.pushEvent('delete', ev);
    if (prev) this.pushEvent('update', prev);
    this.updateNowNext(this.now());
  }

  /**
   * Another client watching a channel: shows in `api` status/subscriptions and status/inputs.
   * Returns its id, which is also its id in status/subscriptions.
   */
  addExternalViewer(spec: ExternalViewerSpec): number {
    const ch = this.mustChannel(spec.channelId);
    const id = this.newSubscriptionId();
    this.externalViewers.set(id, {
      id,
      username: spec.username ?? '',
      client: spec.client ?? 'VLC media player',
      hostname: spec.hostname ?? '192.168.1.50',
      channelId: ch.id,
      title: spec.title ?? 'HTTP',
      start: Math.floor(Date.now() / 1000),
    });
    return id;
  }

  removeExternalViewer(id: number): boolean {
    return this.externalViewers.delete(id);
  }

  // ================================================================ construction helpers

  private mustChannel(id: number): SimChannel {
    const ch = this.channelMap.get(id);
    if (!ch) throw new Error(`no channel ${id}`);
    return ch;
  }

  private mustDvr(id: number): SimDvrEntry {
    const e = this.dvr.entries.get(id);
    if (!e) throw new Error(`no DVR entry ${id}`);
    return e;
  }

  private createTag(spec: SimTagSpec): SimTag {
    const tag: SimTag = {
      id: this.nextTagId++,
      uuid: this.rng.hex(32),
      index: spec.index ?? 0,
      name: spec.name,
      icon: spec.icon,
      titledIcon: spec.titledIcon ?? false,
    };
    this.tagMap.set(tag.id, tag);
    return tag;
  }

  private resolveTags(refs: Array<number | string>): number[] {
    const out: number[] = [];
    for (const r of refs) {
      let id: number | undefined;
      if (typeof r === 'number') id = this.tagMap.has(r) ? r : undefined;
      else for (const t of this.tagMap.values()) if (t.name.toLowerCase() === r.toLowerCase()) id = t.id;
      if (id !== undefined && !out.includes(id)) out.push(id);
    }
    return out;
  }

  private defaultChannelSpecs(count: number): SimChannelSpec[] {
    const out: SimChannelSpec[] = [];
    for (let i = 0; i < count; i++) {
      if (i < DEFAULT_CHANNELS.length && count <= DEFAULT_CHANNELS.length) {
        out.push(DEFAULT_CHANNELS[i]);
        continue;
      }
      if (i < DEFAULT_CHANNELS.length - 1) {
        out.push(DEFAULT_CHANNELS[i]);
        continue;
      }
      const genre = GENRES[i % GENRES.length];
      out.push({
        name: `Sim Channel ${i + 1}`,
        genre,
        input: i % 2 === 0 ? 'dvb' : 'iptv',
        serviceType: i % 3 === 0 ? 'HDTV' : 'SDTV',
        scrambled: i % 11 === 4,
      });
    }
    return out;
  }

  private makeService(ch: SimChannel, type: SimChannel['services'][number]['type']): SimChannel['services'][number] {
    return {
      name: `${ch.network}/${ch.mux}/${ch.name}`,
      type,
      content: type === 'Radio' ? 2 : type === 'Other' ? 0 : 1,
      providername: ch.provider,
      caid: ch.scrambled ? 65535 : undefined,
      caname: ch.scrambled ? 'Encrypted service' : undefined,
    };
  }

  private createChannel(spec: SimChannelSpec, index: number, now: number): SimChannel {
    const uuid = this.rng.hex(32);
    const genre = spec.genre ?? GENRES[index % GENRES.length];
    const input = spec.input ?? (index % 2 === 0 ? 'dvb' : 'iptv');
    const serviceType = spec.serviceType ?? (genre === 'radio' ? 'Radio' : index % 3 === 0 ? 'HDTV' : 'SDTV');
    const name = spec.name ?? `Sim Channel ${index + 1}`;
    const dvbInputs = this.inputs.filter((i) => i.kind === 'dvb');
    const inputRef = input === 'dvb' ? dvbInputs[index % dvbInputs.length] : this.inputs[0];
    const ch: SimChannel = {
      id: shortIdFromUuid(uuid, this.channelMap),
      uuid,
      number: spec.number ?? index + 1,
      numberMinor: spec.numberMinor,
      name,
      icon: spec.icon ?? `imagecache/${9000 + index}`,
      tags: [],
      services: [],
      input,
      scrambled: spec.scrambled ?? false,
      genre,
      network: inputRef.network,
      mux: input === 'iptv' ? `Mux ${name}` : `${474 + 8 * (index % 8)}MHz`,
      muxUuid: this.rng.hex(32),
      provider: spec.provider ?? 'SimLab',
      inputIndex: this.inputs.indexOf(inputRef),
    };
    ch.services = [this.makeService(ch, serviceType)];
    if (spec.tags) {
      ch.tags = this.resolveTags(spec.tags);
    } else {
      const names = [genre === 'radio' ? 'Radio' : 'TV', GENRE_TAG[genre]];
      if (serviceType === 'HDTV' || serviceType === 'FHDTV' || serviceType === 'UHDTV') names.push('HD');
      ch.tags = this.resolveTags(names);
      if (ch.tags.length === 0 && this.tagMap.size > 0) {
        const all = [...this.tagMap.keys()];
        ch.tags = [all[index % all.length]];
      }
    }
    this.channelMap.set(ch.id, ch);
    this.epg.addChannel(ch, now);
    return ch;
  }

  private defaultAutorecs(): SimAutorecSpec[] {
    return [
      { name: 'All Night Sky', title: 'Night Sky', comment: 'records every Night Sky episode', maxCount: 5 },
      { name: 'All Loopback Detectives', title: 'Loopback Detectives', enabled: false, comment: 'disabled autorec rule' },
    ];
  }

  private defaultTimerecs(): SimTimerecSpec[] {
    const chans = this.channels;
    return [
      { name: 'Nightly News', title: 'Nightly News %F', channelId: chans[1 % chans.length]?.id, start: 22 * 60, stop: 22 * 60 + 30 },
      { name: 'Weekend Movie', title: 'Weekend Movie %F', channelId: chans[2 % chans.length]?.id, start: 20 * 60 + 15, stop: 22 * 60, daysOfWeek: 0x60, enabled: false },
    ];
  }

  private defaultDvrEntries(now: number): SimDvrEntrySpec[] {
    const chans = this.channels;
    if (chans.length === 0) return [];
    const at = (i: number): number => chans[i % chans.length].id;
    const future = this.epg.channelEvents(at(2)).find((e) => e.start > now + 3600);
    const out: SimDvrEntrySpec[] = [
      // A demo sees something happen soon after start-up.
      { channelId: at(0), start: now + 90, stop: now + 90 + 240, title: 'Demo Recording', subtitle: 'starts 90 s after start-up', comment: 'manual demo recording' },
      { channelId: at(2), start: now - 600, stop: now + 1200, title: 'The Test Pattern Strikes Back', state: 'recording', comment: 'running now' },
      { channelId: at(1), start: now - 3 * 3600, stop: now - 2.5 * 3600, title: 'World Report', subtitle: 'Morning Edition', state: 'completed' },
      { channelId: at(3), start: now - 2 * 3600, stop: now - 3600, title: 'Match Day Live', state: 'completed', error: 'Aborted by user', dataSize: 1_204_224 },
      { channelId: at(5), start: now - 5 * 3600, stop: now - 4 * 3600, title: 'Deep Ocean', state: 'missed', owner: 'family', creator: 'family' },
    ];
    if (future) out.push({ eventId: future.id, comment: 'future recording from EPG' });
    return out;
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const k of Object.keys(o) as Array<keyof T>) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
