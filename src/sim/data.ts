/**
 * The simulator's data model: plain records plus the functions that turn them
 * into HTSMSG maps shaped like the ones a real Tvheadend 4.3 sends.
 */
import type { HtsmsgMap, HtsmsgValue } from '../htsp/codec';

// ---------------------------------------------------------------- helpers

/** Deterministic PRNG (mulberry32): the same seed must give the same channels, ids and EPG. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(min: number, maxInclusive: number): number {
    return min + Math.floor(this.next() * (maxInclusive - min + 1));
  }
  pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.next() * list.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  hex(chars: number): string {
    let out = '';
    while (out.length < chars) out += Math.floor(this.next() * 0x10000).toString(16).padStart(4, '0');
    return out.slice(0, chars);
  }
}

/**
 * Tvheadend's short ids are 31 bits taken from the object's UUID. Collisions
 * are possible in theory, so the caller passes the ids already in use.
 */
export function shortIdFromUuid(uuid: string, taken: { has(id: number): boolean }): number {
  let id = parseInt(uuid.slice(0, 8), 16) & 0x7fffffff;
  if (id === 0) id = 1;
  while (taken.has(id)) id = (id + 1) & 0x7fffffff || 1;
  return id;
}

type Fields = Record<string, HtsmsgValue | undefined>;

/** Builds a map leaving out absent fields, as the server leaves out unknown values. */
export function compact(fields: Fields): HtsmsgMap {
  const out: HtsmsgMap = {};
  for (const k in fields) {
    const v = fields[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

// ---------------------------------------------------------------- rights and users

export interface SimRights {
  streaming?: boolean;
  dvr?: boolean;
  admin?: boolean;
  /** "View all" DVR entries (otherwise only entries owned by the user). */
  allRecorder?: boolean;
  /** "Manage all" DVR entries. */
  allRwRecorder?: boolean;
  /** May see failed recordings. */
  failedRecorder?: boolean;
  anonymize?: boolean;
  limitAll?: number;
  limitDvr?: number;
  limitStreaming?: number;
  uilevel?: number;
  uilanguage?: string;
}

export interface SimUser {
  username: string;
  password: string;
  rights: SimRights;
  language?: string;
}

export const DEFAULT_USERS: SimUser[] = [
  {
    username: 'demo',
    password: 'demo',
    rights: { streaming: true, dvr: true, admin: true, allRecorder: true, failedRecorder: true },
  },
];

// ---------------------------------------------------------------- channels and tags

export type InputKind = 'iptv' | 'dvb';
export type Genre = 'news' | 'movies' | 'sports' | 'kids' | 'docs' | 'music' | 'entertainment' | 'radio';

export interface SimService {
  name: string;
  type: 'HDTV' | 'SDTV' | 'Radio' | 'FHDTV' | 'UHDTV' | 'Other';
  content: number;
  providername?: string;
  caid?: number;
  caname?: string;
}

export interface SimChannel {
  id: number;
  uuid: string;
  number: number;
  numberMinor?: number;
  name: string;
  icon?: string;
  /** Tag ids. */
  tags: number[];
  services: SimService[];
  input: InputKind;
  scrambled: boolean;
  genre: Genre;
  network: string;
  mux: string;
  muxUuid: string;
  provider: string;
  /** Index into the simulator's list of inputs (tuners / IPTV). */
  inputIndex: number;
}

/** What a caller may pass for a channel; everything has a default. */
export interface SimChannelSpec {
  name?: string;
  number?: number;
  numberMinor?: number;
  icon?: string;
  /** Tag ids or tag names. */
  tags?: Array<number | string>;
  input?: InputKind;
  scrambled?: boolean;
  genre?: Genre;
  serviceType?: SimService['type'];
  provider?: string;
}

export interface SimTag {
  id: number;
  uuid: string;
  index: number;
  name: string;
  icon?: string;
  titledIcon: boolean;
}

export interface SimTagSpec {
  name: string;
  index?: number;
  icon?: string;
  titledIcon?: boolean;
}

export function channelFields(ch: SimChannel, nowNext: { eventId: number; nextEventId: number }): HtsmsgMap {
  return compact({
    channelId: ch.id,
    channelIdStr: ch.uuid,
    channelNumber: ch.number,
    channelNumberMinor: ch.numberMinor ? ch.numberMinor : undefined,
    channelName: ch.name,
    channelIcon: ch.icon,
    eventId: nowNext.eventId,
    nextEventId: nowNext.nextEventId,
    services: ch.services.map((s) =>
      compact({
        name: s.name,
        type: s.type,
        content: s.content,
        caid: s.caid,
        caname: s.caname,
        providername: s.providername,
      }),
    ),
    tags: [...ch.tags],
  });
}

export function tagFields(tag: SimTag, members?: number[]): HtsmsgMap {
  return compact({
    tagId: tag.id,
    tagIdStr: tag.uuid,
    tagIndex: tag.index,
    tagName: tag.name,
    tagIcon: tag.icon,
    tagTitledIcon: tag.titledIcon ? 1 : 0,
    members,
  });
}

// ---------------------------------------------------------------- EPG events

export interface SimEvent {
  id: number;
  channelId: number;
  start: number;
  stop: number;
  title: string;
  subtitle?: string;
  summary?: string;
  description?: string;
  contentType?: number;
  starRating?: number;
  ageRating?: number;
  copyrightYear?: number;
  firstAired?: number;
  isNew?: boolean;
  seasonNumber?: number;
  episodeNumber?: number;
  partNumber?: number;
  partCount?: number;
  episodeOnscreen?: string;
  category?: string[];
  keyword?: string[];
  credits?: Record<string, string>;
  image?: string;
  serieslinkUri?: string;
  episodeUri?: string;
}

export type SimEventSpec = Partial<Omit<SimEvent, 'id'>> & { channelId: number; start: number; stop: number; title: string };

export function eventFields(ev: SimEvent, dvrId: number | undefined, nextEventId: number | undefined): HtsmsgMap {
  return compact({
    eventId: ev.id,
    channelId: ev.channelId,
    start: ev.start,
    stop: ev.stop,
    title: ev.title,
    subtitle: ev.subtitle,
    summary: ev.summary,
    description: ev.description,
    credits: ev.credits ? { ...ev.credits } : undefined,
    category: ev.category ? [...ev.category] : undefined,
    keyword: ev.keyword ? [...ev.keyword] : undefined,
    serieslinkUri: ev.serieslinkUri,
    episodeUri: ev.episodeUri,
    contentType: ev.contentType,
    ageRating: ev.ageRating || undefined,
    starRating: ev.starRating || undefined,
    copyrightYear: ev.copyrightYear || undefined,
    firstAired: ev.firstAired || undefined,
    isNew: ev.isNew ? 1 : undefined,
    seasonNumber: ev.seasonNumber || undefined,
    episodeNumber: ev.episodeNumber || undefined,
    partNumber: ev.partNumber || undefined,
    partCount: ev.partCount || undefined,
    episodeOnscreen: ev.episodeOnscreen,
    image: ev.image,
    dvrId,
    nextEventId: nextEventId || undefined,
  });
}

// ---------------------------------------------------------------- DVR

export type DvrState = 'scheduled' | 'recording' | 'completed' | 'missed' | 'invalid';

export interface SimDvrFile {
  filename: string;
  start: number;
  stop?: number;
  size: number;
}

export interface SimDvrEntry {
  id: number;
  uuid: string;
  enabled: boolean;
  channelId?: number;
  channelName?: string;
  eventId?: number;
  autorecId?: string;
  timerecId?: string;
  start: number;
  stop: number;
  /** Minutes. */
  startExtra: number;
  stopExtra: number;
  retention: number;
  removal: number;
  priority: number;
  contentType: number;
  ageRating: number;
  title: string;
  subtitle?: string;
  summary?: string;
  description?: string;
  seasonNumber?: number;
  episodeNumber?: number;
  episode?: string;
  copyrightYear?: number;
  image?: string;
  owner: string;
  creator: string;
  comment?: string;
  configId: string;
  state: DvrState;
  error?: string;
  subscriptionError?: string;
  streamErrors?: number;
  dataErrors?: number;
  dataSize: number;
  playcount: number;
  playposition: number;
  files: SimDvrFile[];
  /** Injected: the next time this entry would start or is running, it fails with this text. */
  pendingFailure?: string;
  /** While recording: the id of the recording's subscription in the `api` status lists. */
  statusSubscriptionId?: number;
}

export interface SimDvrEntrySpec {
  channelId?: number;
  /** Convenience for constructor options: index into the simulator's channel list. */
  channelIndex?: number;
  eventId?: number;
  start?: number;
  stop?: number;
  title?: string;
  subtitle?: string;
  summary?: string;
  description?: string;
  startExtra?: number;
  stopExtra?: number;
  priority?: number;
  retention?: number;
  removal?: number;
  enabled?: boolean;
  comment?: string;
  owner?: string;
  creator?: string;
  state?: DvrState;
  error?: string;
  dataSize?: number;
  autorecId?: string;
  timerecId?: string;
  ageRating?: number;
  contentType?: number;
}

/** Failed = finished with an error; hidden from users without the "failed recorder" right. */
export function isFailed(e: SimDvrEntry): boolean {
  return e.state === 'completed' && e.error !== undefined;
}

export function isUpcoming(e: SimDvrEntry): boolean {
  return e.state === 'scheduled' || e.state === 'recording' || e.state === 'invalid';
}

export function dvrFields(e: SimDvrEntry, channelExists: boolean): HtsmsgMap {
  const hasFile = e.files.length > 0 && (e.state === 'recording' || e.state === 'completed');
  const playable = e.state === 'recording' || e.state === 'completed';
  return compact({
    id: e.id,
    idStr: e.uuid,
    enabled: e.enabled ? 1 : 0,
    channel: channelExists ? e.channelId : undefined,
    channelName: e.channelName,
    eventId: e.eventId,
    autorecId: e.autorecId,
    timerecId: e.timerecId,
    start: e.start,
    stop: e.stop,
    startExtra: e.startExtra,
    stopExtra: e.stopExtra,
    retention: e.retention,
    removal: e.removal,
    priority: e.priority,
    contentType: e.contentType,
    ageRating: e.ageRating,
    playcount: playable ? e.playcount : undefined,
    playposition: playable ? e.playposition : undefined,
    title: e.title,
    subtitle: e.subtitle,
    summary: e.summary,
    description: e.description,
    seasonNumber: e.seasonNumber || undefined,
    episodeNumber: e.episodeNumber || undefined,
    episode: e.episode,
    owner: e.owner || undefined,
    creator: e.creator || undefined,
    comment: e.comment,
    image: e.image,
    copyrightYear: e.copyrightYear || undefined,
    files: hasFile
      ? e.files.map((f) =>
          compact({
            filename: f.filename,
            size: f.size,
            info: [
              { type: 'H264', width: 1280, height: 720, duration: 40000, aspect_num: 16, aspect_den: 9 },
              { type: 'AAC', audio_type: 0 },
            ],
            start: f.start,
            stop: f.stop,
          }),
        )
      : undefined,
    path: hasFile ? e.files[e.files.length - 1].filename : undefined,
    configId: e.configId,
    duplicate: isUpcoming(e) ? 0 : undefined,
    state: e.state,
    error: e.error,
    subscriptionError: e.subscriptionError,
    streamErrors: e.streamErrors || undefined,
    dataErrors: e.dataErrors || undefined,
    dataSize: playable && e.dataSize > 0 ? e.dataSize : undefined,
  });
}

/** The small update the server sends every few seconds while recording (v26+). */
export function dvrStatsFields(e: SimDvrEntry): HtsmsgMap {
  return compact({
    id: e.id,
    idStr: e.uuid,
    duplicate: 0,
    state: e.state,
    error: e.error,
    subscriptionError: e.subscriptionError,
    streamErrors: e.streamErrors || undefined,
    dataErrors: e.dataErrors || undefined,
    dataSize: e.dataSize,
  });
}

// ---------------------------------------------------------------- autorec / timerec

export interface SimAutorec {
  id: string;
  enabled: boolean;
  name?: string;
  title?: string;
  fulltext: boolean;
  channelId?: number;
  /** Seconds, 0 = any. */
  minDuration: number;
  maxDuration: number;
  daysOfWeek: number;
  /** Minutes after midnight, -1 = any. */
  start: number;
  startWindow: number;
  priority: number;
  startExtra: number;
  stopExtra: number;
  retention: number;
  removal: number;
  dupDetect: number;
  maxCount: number;
  broadcastType: number;
  comment?: string;
  directory?: string;
  owner?: string;
  creator?: string;
  serieslinkUri?: string;
  configId: string;
}

export type SimAutorecSpec = Partial<Omit<SimAutorec, 'id' | 'configId'>>;

export interface SimTimerec {
  id: string;
  enabled: boolean;
  name?: string;
  title?: string;
  channelId?: number;
  daysOfWeek: number;
  /** Minutes after midnight. */
  start: number;
  stop: number;
  priority: number;
  retention: number;
  removal: number;
  comment?: string;
  directory?: string;
  owner?: string;
  creator?: string;
  configId: string;
}

export type SimTimerecSpec = Partial<Omit<SimTimerec, 'id' | 'configId'>>;

function approxTime(start: number, window: number): number {
  if (start < 0 || window < 0) return -1;
  let w = window;
  if (w < start) w += 24 * 60;
  return Math.floor((start + w) / 2) % (24 * 60);
}

export function autorecFields(a: SimAutorec, channelExists: boolean): HtsmsgMap {
  return compact({
    id: a.id,
    enabled: a.enabled ? 1 : 0,
    maxDuration: a.maxDuration,
    minDuration: a.minDuration,
    retention: a.retention,
    removal: a.removal,
    daysOfWeek: a.daysOfWeek,
    approxTime: approxTime(a.start, a.startWindow),
    start: a.start,
    startWindow: a.startWindow,
    priority: a.priority,
    startExtra: a.startExtra,
    stopExtra: a.stopExtra,
    dupDetect: a.dupDetect,
    maxCount: a.maxCount,
    broadcastType: a.broadcastType,
    comment: a.comment,
    directory: a.directory,
    title: a.title,
    fulltext: a.title !== undefined ? (a.fulltext ? 1 : 0) : undefined,
    mergetext: a.title !== undefined ? 0 : undefined,
    name: a.name,
    owner: a.owner,
    creator: a.creator,
    channel: channelExists ? a.channelId : undefined,
    serieslinkUri: a.serieslinkUri,
    configId: a.configId,
  });
}

export function timerecFields(t: SimTimerec, channelExists: boolean): HtsmsgMap {
  return compact({
    id: t.id,
    enabled: t.enabled ? 1 : 0,
    daysOfWeek: t.daysOfWeek,
    retention: t.retention,
    removal: t.removal,
    priority: t.priority,
    start: t.start,
    stop: t.stop,
    comment: t.comment,
    title: t.title,
    name: t.name,
    directory: t.directory,
    owner: t.owner,
    creator: t.creator,
    channel: channelExists ? t.channelId : undefined,
    configId: t.configId,
  });
}

// ---------------------------------------------------------------- profiles, configs, disk

export interface SimProfile {
  uuid: string;
  name: string;
  comment: string;
}

export interface SimDvrConfig {
  uuid: string;
  /** "" is the default config. */
  name: string;
  comment: string;
}

export interface SimDiskSpace {
  total: number;
  /** Used by things other than the simulated recordings. */
  used: number;
}

export const RETENTION_UNTIL_REMOVED = 2147483646;
export const FOREVER = 2147483647;

/** Bit 0 = Monday … bit 6 = Sunday, as in autorec/timerec `daysOfWeek`. */
export function weekdayBit(epochSeconds: number): number {
  const jsDay = new Date(epochSeconds * 1000).getUTCDay(); // 0 = Sunday
  return 1 << ((jsDay + 6) % 7);
}

export function minutesOfDay(epochSeconds: number): number {
  return Math.floor((((epochSeconds % 86400) + 86400) % 86400) / 60);
}
