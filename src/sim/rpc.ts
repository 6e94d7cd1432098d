/**
 * The 39 HTSP methods as the simulator answers them: required right,
 * argument checks, replies and the async messages they cause.
 */
import { randomBytes } from 'node:crypto';
import type { HtsmsgMap, HtsmsgValue } from '../htsp/codec';
import { handleApi } from './api';
import type { SimConnection } from './connection';
import { compact, type SimAutorecSpec, type SimEvent, type SimRights, type SimTimerecSpec } from './data';
import { safeRegex } from './dvr';
import { SimSubscription } from './streaming';
import type { TvheadendSimulator } from './simulator';

type Right = keyof Pick<SimRights, 'streaming' | 'dvr'>;
type Result = HtsmsgMap | { reply: HtsmsgMap; after: () => void };
type Handler = (sim: TvheadendSimulator, conn: SimConnection, req: HtsmsgMap) => Result | Promise<Result>;

/** The server waits this long before any `noaccess` reply. */
export const NOACCESS_DELAY_MS = 250;

class RpcError extends Error {}
const fail = (text: string): never => {
  throw new RpcError(text);
};
const INVALID = 'Invalid arguments';

// ---------------------------------------------------------------- field readers (server-side coercion, §2.7)

function int(req: HtsmsgMap, name: string): number | undefined {
  const v: HtsmsgValue | undefined = req[name];
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isInteger(n) ? n : undefined;
  }
  return undefined;
}

function u32(req: HtsmsgMap, name: string): number | undefined {
  const n = int(req, name);
  return n !== undefined && n >= 0 && n <= 0xffffffff ? n : undefined;
}

function str(req: HtsmsgMap, name: string): string | undefined {
  const v = req[name];
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return undefined;
}

function bin(req: HtsmsgMap, name: string): Buffer | undefined {
  const v = req[name];
  if (Buffer.isBuffer(v)) return v;
  if (typeof v === 'string' && /^([0-9a-fA-F]{2})+$/.test(v)) return Buffer.from(v, 'hex');
  return undefined;
}

function intList(req: HtsmsgMap, name: string): number[] {
  const v = req[name];
  if (!Array.isArray(v)) return [];
  return v.filter((x): x is number => typeof x === 'number');
}

// ---------------------------------------------------------------- dispatch

export async function dispatch(sim: TvheadendSimulator, conn: SimConnection, req: HtsmsgMap): Promise<void> {
  const method = typeof req.method === 'string' ? req.method : undefined;
  const seq = u32(req, 'seq');
  sim.emit('request', { connectionId: conn.id, method, seq, message: req });

  const delay = sim.replyDelayFor(method);
  if (delay > 0) {
    await conn.sleep(delay);
    if (conn.closed) return;
  }

  // Any request may carry credentials, not only `authenticate`.
  const username = str(req, 'username');
  if (username !== undefined) sim.authenticate(conn, username, bin(req, 'digest'));

  if (method === undefined) return conn.reply(seq, { error: INVALID });
  const def = METHODS[method];
  if (!def) return conn.reply(seq, { error: 'Method not found' });
  if (def.right && !conn.rights[def.right]) {
    await conn.sleep(NOACCESS_DELAY_MS);
    return conn.reply(seq, { noaccess: 1 });
  }
  let result: Result;
  try {
    result = await def.handler(sim, conn, req);
  } catch (err) {
    const text = err instanceof RpcError ? err.message : 'Internal error';
    if (!(err instanceof RpcError)) sim.emit('warning', err);
    return conn.reply(seq, { error: text });
  }
  if (conn.closed) return;
  if ('after' in result && typeof result.after === 'function') {
    conn.reply(seq, result.reply as HtsmsgMap);
    result.after();
  } else if (method === 'api') {
    conn.sendEncoded(seq === undefined ? (result as HtsmsgMap) : { ...(result as HtsmsgMap), seq }, { booleansAsBool: true });
  } else {
    conn.reply(seq, result as HtsmsgMap);
  }
}

const METHODS: Record<string, { right?: Right; handler: Handler }> = {
  hello: { handler: hello },
  authenticate: { handler: authenticate },
  api: { handler: api },
  getDiskSpace: { right: 'streaming', handler: getDiskSpace },
  getSysTime: { right: 'streaming', handler: getSysTime },
  enableAsyncMetadata: { right: 'streaming', handler: enableAsyncMetadata },
  getChannel: { right: 'streaming', handler: getChannel },
  getEvent: { right: 'streaming', handler: getEvent },
  getEvents: { right: 'streaming', handler: getEvents },
  epgQuery: { right: 'streaming', handler: epgQuery },
  getEpgObject: { right: 'streaming', handler: getEpgObject },
  getDvrConfigs: { right: 'dvr', handler: (sim) => ({ dvrconfigs: sim.dvrConfigs.map((c) => ({ uuid: c.uuid, name: c.name, comment: c.comment })) }) },
  getProfiles: { right: 'streaming', handler: (sim) => ({ profiles: sim.profiles.map((p) => ({ uuid: p.uuid, name: p.name, comment: p.comment })) }) },
  addDvrEntry: { right: 'dvr', handler: addDvrEntry },
  updateDvrEntry: { right: 'dvr', handler: updateDvrEntry },
  stopDvrEntry: { right: 'dvr', handler: stopDvrEntry },
  cancelDvrEntry: { right: 'dvr', handler: cancelDvrEntry },
  deleteDvrEntry: { right: 'dvr', handler: deleteDvrEntry },
  addAutorecEntry: { right: 'dvr', handler: addAutorecEntry },
  updateAutorecEntry: { right: 'dvr', handler: updateAutorecEntry },
  deleteAutorecEntry: { right: 'dvr', handler: deleteAutorecEntry },
  addTimerecEntry: { right: 'dvr', handler: addTimerecEntry },
  updateTimerecEntry: { right: 'dvr', handler: updateTimerecEntry },
  deleteTimerecEntry: { right: 'dvr', handler: deleteTimerecEntry },
  getDvrCutpoints: { right: 'dvr', handler: getDvrCutpoints },
  getTicket: { right: 'streaming', handler: getTicket },
  subscribe: { right: 'streaming', handler: subscribe },
  unsubscribe: { right: 'streaming', handler: unsubscribe },
  subscriptionChangeWeight: { right: 'streaming', handler: changeWeight },
  subscriptionSkip: { right: 'streaming', handler: skip },
  subscriptionSeek: { right: 'streaming', handler: skip },
  subscriptionSpeed: { right: 'streaming', handler: speed },
  subscriptionLive: { right: 'streaming', handler: live },
  subscriptionFilterStream: { right: 'streaming', handler: filterStream },
  fileOpen: { right: 'dvr', handler: fileOpen },
  fileRead: { right: 'dvr', handler: fileRead },
  fileClose: { right: 'dvr', handler: fileClose },
  fileStat: { right: 'dvr', handler: fileStat },
  fileSeek: { right: 'dvr', handler: fileSeek },
};

/** Names of every method the simulator implements (39). */
export const METHOD_NAMES: readonly string[] = Object.keys(METHODS);

// ---------------------------------------------------------------- session

function hello(sim: TvheadendSimulator, conn: SimConnection, req: HtsmsgMap): Result {
  const version = u32(req, 'htspversion');
  const clientName = str(req, 'clientname');
  if (version === undefined || clientName === undefined) fail(INVALID);
  conn.htspVersion = Math.min(version as number, sim.htspVersion);
  conn.clientName = clientName;
  conn.clientVersion = str(req, 'clientversion');
  sim.emit('hello', { connectionId: conn.id, clientName, htspVersion: conn.htspVersion });
  return {
    htspversion: sim.htspVersion,
    servername: sim.serverName,
    serverversion: sim.serverVersion,
    challenge: conn.challenge,
    language: 'eng',
    servercapability: [...sim.capabilities],
    api_version: sim.apiVersion,
  };
}

async function authenticate(_sim: TvheadendSimulator, conn: SimConnection): Promise<Result> {
  const r = conn.rights;
  if (!r.streaming) {
    await conn.sleep(NOACCESS_DELAY_MS);
    return { noaccess: 1 };
  }
  if (conn.htspVersion < 26) return {};
  return {
    admin: r.admin ? 1 : 0,
    streaming: 1,
    dvr: r.dvr ? 1 : 0,
    faileddvr: r.failedRecorder ? 1 : 0,
    anonymous: r.anonymize ? 1 : 0,
    limitall: r.limitAll ?? 0,
    limitdvr: r.limitDvr ?? 0,
    limitstreaming: r.limitStreaming ?? 0,
    uilevel: r.uilevel ?? 0,
    uilanguage: r.uilanguage ?? '',
  };
}

async function api(sim: TvheadendSimulator, conn: SimConnection, req: HtsmsgMap): Promise<Result> {
  const path = str(req, 'path');
  if (path === undefined) return { error: 'Bad request' };
  if (!conn.rights.admin) {
    await conn.sleep(NOACCESS_DELAY_MS);
    return { noaccess: 1 };
  }
  const args = req.args;
  const response = handleApi(sim, conn, path.replace(/^\/+/, ''), args && typeof args === 'object' && !Array.isArray(args) && !Buffer.isBuffer(args) ? (args as HtsmsgMap) : {});
  return response === undefined ? {} : { response };
}

function getDiskSpace(sim: TvheadendSimulator): Result {
  let recorded = 0;
  for (const e of sim.dvr.entries.values()) recorded += e.dataSize;
  const used = sim.diskSpace.used + recorded;
  return { freediskspace: Math.max(0, sim.diskSpace.total - used), useddiskspace: used, totaldiskspace: sim.diskSpace.total };
}

function getSysTime(sim: TvheadendSimulator): Result {
  return { time: sim.now(), timezone: -Math.trunc(sim.gmtOffsetMinutes / 60), gmtoffset: sim.gmtOffsetMinutes };
}

function enableAsyncMetadata(sim: TvheadendSimulator, conn: SimConnection, req: HtsmsgMap): Result {
  const epg = u32(req, 'epg');
  const maxTime = int(req, 'epgMaxTime');
  const language = str(req, 'language');
  if (language !== undefined) conn.language = language || undefined;
  const now = sim.now();
  if (conn.async) {
    // A repeated call only changes EPG settings; no second burst, no second initialSyncCompleted.
    const turnOn = epg === 1 && !conn.epg;
    if (epg !== undefined) conn.epg = epg > 0;
    if (conn.epgWindow !== undefined && maxTime !== undefined && maxTime > conn.epgSentUntil) {
      conn.epgWindow = Math.max(600, maxTime - now);
    }
    if (!turnOn) return {};
    const lastUpdate = int(req, 'lastUpdate') ?? -Infinity;
    return {
      reply: {},
      after: () => {
        const dvrByEvent = sim.dvrByEvent();
        const until = conn.epgSentUntil;
        const events: SimEvent[] = [];
        for (const ch of sim.channelMap.keys()) {
          for (const ev of sim.epg.channelEvents(ch)) if (ev.start > lastUpdate && ev.start <= until) events.push(ev);
        }
        conn.sendMany(events.map((ev) => ({ method: 'eventAdd', ...sim.eventMsg(ev, conn, dvrByEvent) }))[Symbol.iterator]());
      },
    };
  }
  conn.async = true;
  conn.epg = epg !== undefined && epg > 0;
  if (maxTime !== undefined && maxTime > now) {
    conn.epgWindow = Math.max(600, maxTime - now);
    conn.epgSentUntil = now + conn.epgWindow;
  } else {
    conn.epgWindow = undefined;
    conn.epgSentUntil = Infinity;
  }
  return { reply: {}, after: () => conn.sendMany(sim.burst(conn)) };
}

// ---------------------------------------------------------------- EPG

function getChannel(sim: TvheadendSimulator, _conn: SimConnection, req: HtsmsgMap): Result {
  const id = u32(req, 'channelId');
  if (id === undefined) fail(INVALID);
  const ch = sim.channelMap.get(id as number);
  if (!ch) fail('Channel does not exist');
  return sim.channelMsg(ch!);
}

function getEvent(sim: TvheadendSimulator, conn: SimConnection, req: HtsmsgMap): Result {
  const id = u32(req, 'eventId');
  if (id === undefined) fail(INVALID);
  const ev = sim.epg.byId.get(id as number);
  if (!ev) fail('Event does not exist');
  return sim.eventMsg(ev!, conn);
}

function getEvents(sim: TvheadendSimulator, conn: SimConnection, req: HtsmsgMap): Result {
  const eventId = u32(req, 'eventId');
  const channelId = u32(req, 'channelId');
  const numFollowing = u32(req, 'numFollowing') ?? 0;
  const maxTime = int(req, 'maxTime') ?? 0;
  const dvrByEvent = sim.dvrByEvent();
  const out: HtsmsgMap[] = [];
  const take = (list: readonly SimEvent[]): void => {
    let n = 0;
    for (const ev of list) {
      if (maxTime > 0 && ev.start > maxTime) break;
      out.push(sim.eventMsg(ev, conn, dvrByEvent));
      if (numFollowing > 0 && ++n >= numFollowing) break;
    }
  };
  if (eventId !== undefined) {
    const ev = sim.epg.byId.get(eventId);
    if (!ev) fail('Event does not exist');
    take(sim.epg.following(ev!));
  } else if (channelId !== undefined) {
    if (!sim.channelMap.has(channelId)) fail('Channel does not exist');
    const now = sim.now();
    take(sim.epg.channelEvents(channelId).filter((e) => e.stop > now));
  } else {
    for (const id of sim.channelMap.keys()) take(sim.epg.channelEvents(id));
  }
  return { events: out };
}

function epgQuery(sim: TvheadendSimulator, conn: SimConnection, req: HtsmsgMap): Result {
  const query = str(req, 'query');
  if (query === undefined) fail(INVALID);
  const re = safeRegex(query as string);
  if (!re) fail(INVALID);
  const fulltext = (u32(req, 'fulltext') ?? 0) > 0 || (u32(req, 'mergetext') ?? 0) > 0;
  const channelId = u32(req, 'channelId');
  const tagId = u32(req, 'tagId');
  const contentType = u32(req, 'contentType');
  const minDuration = u32(req, 'minduration') ?? 0;
  const maxDuration = u32(req, 'maxduration') ?? 0;
  const full = (u32(req, 'full') ?? 0) > 0;
  if (channelId !== undefined && !sim.channelMap.has(channelId)) fail('Channel does not exist');
  if (tagId !== undefined && !sim.tagMap.has(tagId)) fail('Channel tag does not exist');
  const channels = [...sim.channelMap.values()].filter(
    (ch) => (channelId === undefined || ch.id === channelId) && (tagId === undefined || ch.tags.includes(tagId)),
  );
  const hits: SimEvent[] = [];
  for (const ch of channels) {
    for (const ev of sim.epg.channelEvents(ch.id)) {
      const texts = fulltext
        ? [ev.title, ev.subtitle, ev.summary, ev.description, ...(ev.keyword ?? []), ...Object.keys(ev.credits ?? {})]
        : [ev.title];
      if (!texts.some((t) => t !== undefined && re!.test(t))) continue;
      if (contentType !== undefined) {
        const ct = ev.contentType ?? 0;
        if (contentType % 16 === 0 ? ct >> 4 !== contentType >> 4 : ct !== contentType) continue;
      }
      const d = ev.stop - ev.start;
      if (minDuration > 0 && d < minDuration) continue;
      if (maxDuration > 0 && d > maxDuration) continue;
      hits.push(ev);
    }
  }
  if (hits.length === 0) return {};
  hits.sort((a, b) => a.start - b.start || a.id - b.id);
  if (full) {
    const dvrByEvent = sim.dvrByEvent();
    return { events: hits.map((ev) => sim.eventMsg(ev, conn, dvrByEvent)) };
  }
  return { eventIds: hits.map((ev) => ev.id) };
}

function getEpgObject(sim: TvheadendSimulator, _conn: SimConnection, req: HtsmsgMap): Result {
  const id = u32(req, 'id');
  if (id === undefined) fail(INVALID);
  const ev = u32(req, 'type') === 1 ? sim.epg.byId.get(id as number) : undefined;
  if (!ev) fail('Invalid EPG object request');
  const ch = sim.channelMap.get(ev!.channelId);
  const lang = (t: string | undefined): HtsmsgMap | undefined => (t === undefined ? undefined : { eng: t });
  const e = ev!;
  return compact({
    id: e.id,
    tp: 1,
    gr: 'xmltv',
    up: Math.min(e.start, sim.now()) - 86400,
    start: e.start,
    stop: e.stop,
    ch: ch?.uuid,
    eid: e.id & 0xffff,
    is_hd: ch?.services[0]?.type === 'HDTV' ? 1 : undefined,
    is_n: e.isNew ? 1 : undefined,
    star: e.starRating,
    age: e.ageRating,
    img: e.image,
    tit: lang(e.title),
    sti: lang(e.subtitle),
    sum: lang(e.summary),
    des: lang(e.description),
    epn: e.seasonNumber !== undefined ? compact({ s: e.seasonNumber, e: e.episodeNumber, t: e.episodeOnscreen }) : undefined,
    genre: e.contentType !== undefined ? [e.contentType] : undefined,
    cyear: e.copyrightYear,
    cred: e.credits ? { ...e.credits } : undefined,
    cat: e.category ? [...e.category] : undefined,
    key: e.keyword ? [...e.keyword] : undefined,
    slink: e.serieslinkUri,
  });
}

// ---------------------------------------------------------------- DVR entries

function entryFor(sim: TvheadendSimulator, conn: SimConnection, req: HtsmsgMap) {
  const id = u32(req, 'id');
  if (id === undefined) fail(INVALID);
  const e = sim.dvr.entries.get(id as number);
  if (!e) fail('DVR entry not found');
  if (!sim.canSeeDvr(conn, e!)) fail('User does not have access');
  return e!;
}

function addDvrEntry(sim: TvheadendSimulator, conn: SimConnection, req: HtsmsgMap): Result {
  const now = sim.now();
  const eventId = u32(req, 'eventId');
  const ev = eventId !== undefined ? sim.epg.byId.get(eventId) : undefined;
  const owner = conn.username ?? '';
  const common = {
    startExtra: int(req, 'startExtra'),
    stopExtra: int(req, 'stopExtra'),
    priority: u32(req, 'priority'),
    retention: u32(req, 'retention'),
    removal: u32(req, 'removal'),
    enabled: u32(req, 'enabled') === undefined ? undefined : u32(req, 'enabled')! > 0,
    comment: str(req, 'comment'),
    owner,
    creator: owner || conn.peer,
  };
  let entry;
  if (ev) {
    entry = sim.dvr.create({ ...common, eventId: ev.id }, now);
  } else {
    const channelId = u32(req, 'channelId');
    const start = int(req, 'start');
    const stop = int(req, 'stop');
    const title = str(req, 'title');
    if (channelId === undefined) fail('User does not have access');
    if (!sim.channelMap.has(channelId as number)) fail('Channel does not exist');
    if (start === undefined || stop === undefined || !title) fail(INVALID);
    if ((stop as number) <= (start as number)) return { success: 0, error: 'Could not add dvrEntry' };
    entry = sim.dvr.create(
      {
        ...common,
        channelId,
        start,
        stop,
        title,
        subtitle: str(req, 'subtitle'),
        summary: str(req, 'summary'),
        description: str(req, 'description'),
        ageRating: u32(req, 'ageRating'),
      },
      now,
    );
  }
  sim.dvrCreated(entry);
  sim.dvrClockNow();
  return { success: 1, id: entry.id };
}

function updateDvrEntry(sim: TvheadendSimulator, conn: SimConnection, req: HtsmsgMap): Result {
  const e = entryFor(sim, conn, req);
  const upcoming = e.state === 'scheduled';
  const started = e.state === 'recording' || e.state === 'completed';
  const enabled = int(req, 'enabled');
  if (enabled !== undefined) e.enabled = enabled > 0;
  const stop = int(req, 'stop');
  if (stop) e.stop = stop;
  const stopExtra = int(req, 'stopExtra');
  if (stopExtra) e.stopExtra = stopExtra;
  if (upcoming) {
    const channelId = u32(req, 'channelId');
    if (channelId !== undefined && sim.channelMap.has(channelId)) {
      e.channelId = channelId;
      e.channelName = sim.channelMap.get(channelId)?.name;
    }
    const start = int(req, 'start');
    if (start) e.start = start;
    const startExtra = int(req, 'startExtra');
    if (startExtra) e.startExtra = startExtra;
    const priority = u32(req, 'priority');
    if (priority !== undefined && priority !== 5) e.priority = priority;
    const description = str(req, 'description');
    if (description !== undefined) e.description = description;
    const ageRating = u32(req, 'ageRating');
    if (ageRating !== undefined) e.ageRating = ageRating;
    const comment = str(req, 'comment');
    if (comment !== undefined) e.comment = comment;
  }
  if (upcoming || started) {
    const retention = u32(req, 'retention');
    if (retention) e.retention = retention;
    const removal = u32(req, 'removal');
    if (removal) e.removal = removal;
    for (const k of ['title', 'subtitle', 'summary'] as const) {
      const v = str(req, k);
      if (v !== undefined) e[k] = v;
    }
  }
  if (started) {
    const playcount = u32(req, 'playcount');
    if (playcount !== undefined) e.playcount = applyPlaycount(e.playcount, playcount);
    const playposition = u32(req, 'playposition');
    if (playposition !== undefined) e.playposition = Math.min(playposition, 0x7fffffff);
  }
  sim.pushDvr({ kind: 'update', entry: e });
  sim.dvrClockNow();
  return { success: 1 };
}

function applyPlaycount(current: number, v: number): number {
  if (v === 0) return 0;
  if (v === 1) return current === 0 ? 1 : current;
  if (v === 2147483646) return current;
  if (v >= 2147483647) return current + 1;
  return v;
}

function stopDvrEntry(sim: TvheadendSimulator, conn: SimConnection, req: HtsmsgMap): Result {
  const e = entryFor(sim, conn, req);
  if (e.state === 'recording') {
    sim.dvr.finish(e, sim.now());
    sim.pushDvr({ kind: 'update', entry: e });
    sim.emit('dvrState', { id: e.id, state: e.state, entry: e });
  }
  return { success: 1 };
}

function cancelDvrEntry(sim: TvheadendSimulator, conn: SimConnection, req: HtsmsgMap): Result {
  const e = entryFor(sim, conn, req);
  if (e.state === 'recording') {
    sim.dvr.finish(e, sim.now(), 'Aborted by user');
    sim.pushDvr({ kind: 'update', entry: e });
    sim.emit('dvrState', { id: e.id, state: e.state, entry: e });
  } else if (e.state === 'scheduled') {
    sim.dvr.remove(e.id);
    sim.dvrRemoved(e);
  }
  return { success: 1 };
}

function deleteDvrEntry(sim: TvheadendSimulator, conn: SimConnection, req: HtsmsgMap): Result {
  const e = entryFor(sim, conn, req);
  sim.dvr.remove(e.id);
  sim.dvrRemoved(e);
  return { success: 1 };
}

function getDvrCutpoints(sim: TvheadendSimulator, conn: SimConnection, req: HtsmsgMap): Result {
  const id = u32(req, 'id');
  if (id === undefined) fail(INVALID);
  const e = sim.dvr.entries.get(id as number);
  if (!e) fail('DVR schedule not found');
  if (!sim.canSeeDvr(conn, e!)) fail('User does not have access');
  // Only finished recordings have a comskip file, and not all of them.
  if (e!.state !== 'completed' || e!.error !== undefined || e!.id % 2 === 1) return {};
  const len = (e!.stop - e!.start) * 1000;
  return {
    cutpoints: [
      { start: Math.floor(len * 0.3), end: Math.floor(len * 0.3) + 180_000, type: 3 },
      { start: Math.floor(len * 0.7), end: Math.floor(len * 0.7) + 240_000, type: 3 },
    ],
  };
}

function getTicket(sim: TvheadendSimulator, _conn: SimConnection, req: HtsmsgMap): Result {
  const channelId = u32(req, 'channelId');
  const dvrId = u32(req, 'dvrId');
  let path: string;
  if (channelId !== undefined) {
    if (!sim.channelMap.has(channelId)) fail('Channel not found');
    path = `/stream/channelid/${channelId}`;
  } else if (dvrId !== undefined) {
    if (!sim.dvr.entries.has(dvrId)) fail('DVR schedule does not exist');
    path = `/dvrfile/${dvrId}`;
  } else {
    return fail(INVALID);
  }
  return { path, ticket: randomBytes(20).toString('hex').toUpperCase() };
}

// ---------------------------------------------------------------- autorec / timerec

function serieRec(conn: SimConnection, req: HtsmsgMap, kind: 'autorec' | 'timerec'): SimAutorecSpec & SimTimerecSpec {
  // A missing or unknown channelId means "any channel", also on update (as the real server does).
  const channelId = int(req, 'channelId');
  const spec: SimAutorecSpec & SimTimerecSpec = {
    title: str(req, 'title'),
    name: str(req, 'name'),
    channelId: channelId !== undefined && channelId >= 0 ? channelId : -1,
    directory: str(req, 'directory'),
    comment: str(req, 'comment'),
    daysOfWeek: u32(req, 'daysOfWeek'),
    priority: u32(req, 'priority'),
    retention: u32(req, 'retention'),
    removal: u32(req, 'removal'),
  };
  const enabled = u32(req, 'enabled');
  if (enabled !== undefined) spec.enabled = enabled > 0;
  if (kind === 'autorec') {
    spec.minDuration = u32(req, 'minduration');
    spec.maxDuration = u32(req, 'maxduration');
    const fulltext = u32(req, 'fulltext');
    if (fulltext !== undefined) spec.fulltext = fulltext > 0;
    spec.dupDetect = u32(req, 'dupDetect');
    spec.maxCount = u32(req, 'maxCount');
    spec.broadcastType = u32(req, 'broadcastType');
    const se = int(req, 'startExtra');
    if (se !== undefined) spec.startExtra = Math.max(0, se);
    const pe = int(req, 'stopExtra');
    if (pe !== undefined) spec.stopExtra = Math.max(0, pe);
    spec.serieslinkUri = str(req, 'serieslinkUri');
    let start = int(req, 'start');
    let window = int(req, 'startWindow');
    const approx = int(req, 'approxTime');
    if ((start === undefined || window === undefined) && approx !== undefined && approx >= 0) {
      start = (approx - 15 + 1440) % 1440;
      window = (approx + 15) % 1440;
    }
    spec.start = start;
    (spec as SimAutorecSpec).startWindow = window;
  } else {
    spec.start = u32(req, 'start');
    spec.stop = u32(req, 'stop');
  }
  spec.owner = conn.username ?? '';
  spec.creator = conn.username || conn.peer;
  return spec;
}

function addAutorecEntry(sim: TvheadendSimulator, conn: SimConnection, req: HtsmsgMap): Result {
  if (str(req, 'title') === undefined) fail(INVALID);
  const spec = serieRec(conn, req, 'autorec');
  if (spec.channelId !== undefined && spec.channelId >= 0 && !sim.channelMap.has(spec.channelId)) spec.channelId = -1;
  const a = sim.addAutorecEntry(spec);
  return { success: 1, id: a.id };
}

function updateAutorecEntry(sim: TvheadendSimulator, conn: SimConnection, req: HtsmsgMap): Result {
  const id = str(req, 'id');
  if (id === undefined) fail(INVALID);
  const a = sim.dvr.autorecs.get(id as string);
  if (!a) fail('Automatic schedule entry not found');
  const spec = serieRec(conn, req, 'autorec');
  delete spec.owner;
  delete spec.creator;
  const channelId = spec.channelId !== undefined && sim.channelMap.has(spec.channelId) ? spec.channelId : undefined;
  a!.channelId = channelId;
  sim.updateAutorecEntry(a!.id, { ...spec, channelId: undefined });
  return { success: 1 };
}

function deleteAutorecEntry(sim: TvheadendSimulator, _conn: SimConnection, req: HtsmsgMap): Result {
  const id = str(req, 'id');
  if (id === undefined) fail(INVALID);
  const a = sim.dvr.autorecs.get(id as string);
  if (!a) fail('Automatic schedule entry not found');
  sim.removeAutorec(a!);
  return { success: 1 };
}

function addTimerecEntry(sim: TvheadendSimulator, conn: SimConnection, req: HtsmsgMap): Result {
  if (str(req, 'title') === undefined) fail(INVALID);
  const spec = serieRec(conn, req, 'timerec');
  if (spec.channelId !== undefined && spec.channelId >= 0 && !sim.channelMap.has(spec.channelId)) spec.channelId = -1;
  const t = sim.addTimerecEntry(spec);
  return { success: 1, id: t.id };
}

function updateTimerecEntry(sim: TvheadendSimulator, conn: SimConnection, req: HtsmsgMap): Result {
  const id = str(req, 'id');
  if (id === undefined) fail(INVALID);
  const t = sim.dvr.timerecs.get(id as string);
  if (!t) fail('Automatic time scheduler entry not found');
  const spec = serieRec(conn, req, 'timerec');
  delete spec.owner;
  delete spec.creator;
  const channelId = spec.channelId !== undefined && sim.channelMap.has(spec.channelId) ? spec.channelId : undefined;
  t!.channelId = channelId;
  sim.updateTimerecEntry(t!.id, { ...spec, channelId: undefined });
  return { success: 1 };
}

function deleteTimerecEntry(sim: TvheadendSimulator, _conn: SimConnection, req: HtsmsgMap): Result {
  const id = str(req, 'id');
  if (id === undefined) fail(INVALID);
  const t = sim.dvr.timerecs.get(id as string);
  if (!t) fail('Automatic time scheduler entry not found');
  sim.removeTimerec(t!);
  return { success: 1 };
}

// ---------------------------------------------------------------- subscriptions

function subscribe(sim: TvheadendSimulator, conn: SimConnection, req: HtsmsgMap): Result {
  const id = u32(req, 'subscriptionId');
  if (id === undefined) fail(INVALID);
  const channelId = u32(req, 'channelId');
  const channelName = str(req, 'channelName');
  if (channelId === undefined && channelName === undefined) fail(INVALID);
  const channel = channelId !== undefined ? sim.channelMap.get(channelId) : sim.findChannel(channelName as string);
  if (!channel) fail('Channel does not exist');
  const ch = channel!;
  const profileName = str(req, 'profile');
  const profile = sim.profiles.find((p) => p.name === profileName || p.uuid === profileName) ?? sim.profiles.find((p) => p.name === 'htsp');
  const ninetyKHz = (u32(req, '90khz') ?? 0) > 0;
  const requestedTs = u32(req, 'timeshiftPeriod') ?? 0;
  const timeshiftOn = sim.capabilities.includes('timeshift');
  const timeshiftPeriod = timeshiftOn ? (requestedTs === 0xffffffff ? 3600 : Math.min(requestedTs, 3600)) : 0;
  const weight = u32(req, 'weight') || (profile?.name === 'htsp' || !profile ? 150 : 100);
  const old = conn.subscriptions.get(id as number);
  if (old) old.stop(false);
  const sub = new SimSubscription(conn, {
    id: id as number,
    statusId: sim.newSubscriptionId(),
    channel: ch,
    input: sim.inputs[ch.inputIndex] ?? sim.inputs[0],
    muxUuid: ch.muxUuid,
    bitrate: sim.bitrate,
    weight,
    ninetyKHz,
    queueDepth: u32(req, 'queueDepth') || 500_000,
    timeshiftPeriod,
    profile: profile?.name ?? 'htsp',
  });
  conn.subscriptions.set(sub.id, sub);
  sim.emit('subscribe', { connectionId: conn.id, subscriptionId: sub.id, channelId: ch.id });
  return {
    reply: compact({ '90khz': ninetyKHz ? 1 : undefined, normts: 1, timeshiftPeriod: timeshiftPeriod > 0 ? timeshiftPeriod : undefined }),
    after: () => sub.start(),
  };
}

function unsubscribe(sim: TvheadendSimulator, conn: SimConnection, req: HtsmsgMap): Result {
  const id = u32(req, 'subscriptionId');
  if (id === undefined) fail(INVALID);
  const sub = conn.subscriptions.get(id as number);
  if (!sub) return {};
  sub.stop(false);
  conn.subscriptions.delete(sub.id);
  sim.emit('unsubscribe', { connectionId: conn.id, subscriptionId: sub.id });
  // The real server sometimes lets one `subscriptionStop` through after the reply.
  return { reply: {}, after: () => conn.send({ method: 'subscriptionStop', subscriptionId: sub.id, status: 'OK' }) };
}

function subFor(conn: SimConnection, req: HtsmsgMap): SimSubscription {
  const id = u32(req, 'subscriptionId');
  if (id === undefined) fail(INVALID);
  const sub = conn.subscriptions.get(id as number);
  if (!sub) fail('Subscription does not exist');
  return sub!;
}

function changeWeight(_sim: TvheadendSimulator, conn: SimConnection, req: HtsmsgMap): Result {
  const sub = subFor(conn, req);
  sub.weight = u32(req, 'weight') || 150;
  return {};
}

function skip(_sim: TvheadendSimulator, conn: SimConnection, req: HtsmsgMap): Result {
  const sub = subFor(conn, req);
  const time = int(req, 'time');
  const size = int(req, 'size');
  if (time === undefined && size === undefined) fail(INVALID);
  const absolute = (u32(req, 'absolute') ?? 0) > 0;
  return { reply: {}, after: () => sub.skip(time, absolute) };
}

function speed(_sim: TvheadendSimulator, conn: SimConnection, req: HtsmsgMap): Result {
  const sub = subFor(conn, req);
  const s = int(req, 'speed');
  if (s === undefined) fail(INVALID);
  return { reply: {}, after: () => sub.setSpeed(s as number) };
}

function live(_sim: TvheadendSimulator, conn: SimConnection, req: HtsmsgMap): Result {
  const sub = subFor(conn, req);
  return { reply: {}, after: () => sub.live() };
}

function filterStream(_sim: TvheadendSimulator, conn: SimConnection, req: HtsmsgMap): Result {
  const sub = subFor(conn, req);
  for (const i of intList(req, 'enable')) sub.disabledStreams.delete(i);
  for (const i of intList(req, 'disable')) if (i < 512) sub.disabledStreams.add(i);
  return {};
}

// ---------------------------------------------------------------- files

/** Deterministic MPEG-TS-looking bytes: a sync byte every 188 bytes. */
export function recordingBytes(dvrId: number, offset: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) {
    const p = offset + i;
    out[i] = p % 188 === 0 ? 0x47 : (Math.imul(p ^ dvrId, 2654435761) >>> 24) & 0xff;
  }
  return out;
}

const PNG_1x1 = Buffer.from(
  '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360f80f0000010101005d1f6a5d0000000049454e44ae426082',
  'hex',
);

function fileOpen(sim: TvheadendSimulator, conn: SimConnection, req: HtsmsgMap): Result {
  const file = str(req, 'file');
  if (file === undefined) fail(INVALID);
  const m = /^\/?(dvrfile|dvr|imagecache)\/(\d+)$/.exec(file as string);
  if (!m) fail('Unknown file');
  const n = Number(m![2]);
  const handle = conn.nextFileId++;
  if (m![1] === 'imagecache') {
    conn.files.set(handle, { image: n, size: PNG_1x1.length, mtime: sim.now() - 86400, offset: 0 });
    return { id: handle, size: PNG_1x1.length, mtime: sim.now() - 86400 };
  }
  const e = sim.dvr.entries.get(n);
  if (!e) fail('DVR schedule does not exist');
  if (!sim.canSeeDvr(conn, e!)) fail('User does not have access');
  if (e!.dataSize <= 0 || (e!.state !== 'completed' && e!.state !== 'recording')) fail('DVR schedule does not have a file yet');
  const mtime = Math.min(sim.now(), e!.stop + e!.stopExtra * 60);
  conn.files.set(handle, { dvrId: e!.id, size: e!.dataSize, mtime, offset: 0 });
  return { id: handle, size: e!.dataSize, mtime };
}

function fileFor(sim: TvheadendSimulator, conn: SimConnection, req: HtsmsgMap) {
  const id = u32(req, 'id');
  const f = id !== undefined ? conn.files.get(id) : undefined;
  if (!f) fail('Invalid file');
  // A growing recording: re-read its size.
  if (f!.dvrId !== undefined) {
    const e = sim.dvr.entries.get(f!.dvrId);
    if (e) f!.size = e.dataSize;
  }
  return f!;
}

function fileRead(sim: TvheadendSimulator, conn: SimConnection, req: HtsmsgMap): Result {
  const f = fileFor(sim, conn, req);
  const size = int(req, 'size');
  if (size === undefined || size < 0) fail('Invalid parameters');
  const offset = int(req, 'offset');
  if (offset !== undefined) {
    if (offset < 0) fail('Seek error');
    f.offset = offset;
  }
  if ((size as number) > 64 * 1024 * 1024) fail('Not enough memory');
  const n = Math.max(0, Math.min(size as number, f.size - f.offset));
  const data = f.image !== undefined ? PNG_1x1.subarray(f.offset, f.offset + n) : recordingBytes(f.dvrId ?? 0, f.offset, n);
  f.offset += n;
  return { data };
}

function fileSeek(sim: TvheadendSimulator, conn: SimConnection, req: HtsmsgMap): Result {
  const f = fileFor(sim, conn, req);
  const offset = int(req, 'offset');
  if (offset === undefined) fail('Invalid parameters');
  const whence = str(req, 'whence') ?? 'SEEK_SET';
  const base = whence === 'SEEK_CUR' ? f.offset : whence === 'SEEK_END' ? f.size : whence === 'SEEK_SET' ? 0 : NaN;
  const pos = base + (offset as number);
  if (!Number.isFinite(pos) || pos < 0) fail('Seek error');
  f.offset = pos;
  return { offset: pos };
}

function fileStat(sim: TvheadendSimulator, conn: SimConnection, req: HtsmsgMap): Result {
  const f = fileFor(sim, conn, req);
  return { size: f.size, mtime: f.mtime };
}

function fileClose(sim: TvheadendSimulator, conn: SimConnection, req: HtsmsgMap): Result {
  const f = fileFor(sim, conn, req);
  conn.files.delete(u32(req, 'id') as number);
  if (f.dvrId !== undefined) {
    const e = sim.dvr.entries.get(f.dvrId);
    if (e) {
      const pc = conn.htspVersion < 27 ? 2147483647 : u32(req, 'playcount') ?? 2147483647;
      const pp = conn.htspVersion >= 27 ? u32(req, 'playposition') : undefined;
      const before = [e.playcount, e.playposition];
      e.playcount = applyPlaycount(e.playcount, pc);
      if (pp !== undefined) e.playposition = pp;
      if (before[0] !== e.playcount || before[1] !== e.playposition) sim.pushDvr({ kind: 'update', entry: e });
    }
  }
  return {};
}
