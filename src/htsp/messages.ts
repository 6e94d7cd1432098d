/**
 * Public types for every HTSP (v44) request, reply and async message, plus
 * the method tables the connection and the tests rely on.
 *
 * Conventions:
 * - Field names are the wire names, spelled exactly as the server spells them
 *   (so `minduration` in autorec requests but `minDuration` in autorec messages).
 * - Integers are `number`; the codec only yields `bigint` above 2^53, which
 *   in practice only happens for `DvrFile.fsid`.
 * - A field is required only when the server always sends it and it exists
 *   since v26 or earlier (the oldest server worth supporting). Anything
 *   conditional, or newer than v26, is optional, because presence also depends
 *   on server settings and user rights (see the protocol reference, G33).
 * - "Flag" fields are integers 0/1: HTSP never uses the BOOL type itself.
 * - Request types are `type` aliases (not interfaces) so that they can be
 *   passed wherever an `HtsmsgMap` is expected.
 *
 * Checked against a real Tvheadend capture (client negotiated v34): fields
 * the reference dates as v36–v43 (`rds_uecp`, `providername`, `broadcastType`,
 * `configId`, `comment`, `isNew`, `mergetext`, `*IdStr`) were all sent anyway,
 * so those version numbers say when a field appeared, not that the server
 * gates it on the negotiated version. Never gate field handling on version.
 */

import type { HtsmsgMap } from './codec';

// ======================================================================
// Enumerations
// ======================================================================

/** DVR entry `state` values. */
export const DVR_STATES = ['scheduled', 'recording', 'completed', 'missed', 'invalid'] as const;
export type DvrState = (typeof DVR_STATES)[number];

/** DVR / autorec / timerec `priority`. */
export const DVR_PRIORITY = {
  important: 0,
  high: 1,
  normal: 2,
  low: 3,
  unimportant: 4,
  /** In `updateDvrEntry`: leave the priority as it is. The server reports it as `normal`. */
  notSet: 5,
  /** Use the DVR config's priority; the default for new autorec/timerec rules. */
  default: 6,
} as const;
export type DvrPriority = (typeof DVR_PRIORITY)[keyof typeof DVR_PRIORITY];

/**
 * Special `retention` / `removal` day counts. Any other positive value is a
 * number of days. `retention` governs the DVR entry, `removal` the file.
 */
export const DVR_RETENTION = {
  /** In requests: take the DVR config's value (the server never reports 0). */
  useConfig: 0,
  /** `retention` only: keep the entry until its file has been removed. */
  untilFileRemoved: 2147483646,
  forever: 2147483647,
} as const;
export type DvrRetentionSpecial = (typeof DVR_RETENTION)[keyof typeof DVR_RETENTION];

/**
 * `playcount` values with a special meaning in `updateDvrEntry` and
 * `fileClose`; any other value sets the count as given.
 */
export const DVR_PLAYCOUNT = {
  reset: 0,
  /** Set to 1 only if it is currently 0. */
  setIfZero: 1,
  /** Leave the count alone (send this on `fileClose` if you count plays yourself). */
  keep: 2147483646,
  /** Add one; the server's default on `fileClose`. */
  increment: 2147483647,
} as const;

/**
 * Autorec `dupDetect`: when a matching broadcast is recorded. "All" modes
 * compare with every recording, "local" modes only with this rule's.
 */
export const DUP_DETECT = {
  always: 0,
  differentEpisode: 1,
  differentSubtitle: 2,
  differentDescription: 3,
  oncePerWeek: 4,
  oncePerDay: 5,
  differentEpisodeLocal: 6,
  differentTitleLocal: 7,
  differentSubtitleLocal: 8,
  differentDescriptionLocal: 9,
  oncePerWeekLocal: 10,
  oncePerDayLocal: 11,
  oncePerMonth: 12,
  oncePerMonthLocal: 13,
  /** Only if the EPG marks the programme as unique (v31). */
  unique: 14,
  /** Defer to the DVR configuration. */
  useConfig: 15,
} as const;
export type DupDetect = (typeof DUP_DETECT)[keyof typeof DUP_DETECT];

/** Autorec `broadcastType` (v39). */
export const BROADCAST_TYPE = {
  any: 0,
  /** New/premiere, or not known to be a repeat. */
  newOrUnknown: 1,
  repeat: 2,
  newOnly: 3,
} as const;
export type BroadcastType = (typeof BROADCAST_TYPE)[keyof typeof BROADCAST_TYPE];

/** Machine-readable `subscriptionError` codes. */
export const SUBSCRIPTION_ERRORS = [
  'noFreeAdapter',
  'scrambled',
  'badSignal',
  'tuningFailed',
  'subscriptionOverridden',
  'muxNotEnabled',
  'invalidTarget',
  'userAccess',
  'userLimit',
  'weakStream',
  'noDiskSpace',
] as const;
/**
 * A known code, or, for causes without a code, the server's English reason
 * text itself (e.g. "Source reconfigured").
 */
export type SubscriptionErrorCode = (typeof SUBSCRIPTION_ERRORS)[number] | (string & {});

/** Elementary stream `type` strings; unknown strings must be tolerated. */
export type StreamType =
  | 'MPEG2VIDEO'
  | 'H264'
  | 'HEVC'
  | 'VP8'
  | 'VP9'
  | 'THEORA'
  | 'MPEG2AUDIO'
  | 'AC3'
  | 'EAC3'
  | 'AAC'
  | 'VORBIS'
  | 'OPUS'
  | 'FLAC'
  | 'AC-4'
  | 'DVBSUB'
  | 'TEXTSUB'
  | 'TELETEXT'
  | 'RDS'
  | 'MPEGTS'
  | 'HBBTV'
  | 'CA'
  | 'CAT'
  | 'PCR'
  | 'RAW'
  | 'UNKNOWN'
  | 'NONE'
  | 'INVALID'
  | (string & {});

/** Channel service `type`. */
export type ServiceType = 'SDTV' | 'HDTV' | 'FHDTV' | 'UHDTV' | 'Radio' | 'Other' | (string & {});

/** The access right a method needs (the `api` proxy checks its own rights). */
export type MethodRight = 'none' | 'streaming' | 'dvr';

// ======================================================================
// Friendly forms exposed by the connection
// ======================================================================

export interface ServerInfo {
  /** Negotiated version: min(what we asked for, the server's maximum). Gate features on this. */
  htspVersion: number;
  /** The server's own maximum, as sent in the hello reply. */
  serverHtspVersion: number;
  serverName: string;
  serverVersion: string;
  /** Build/config features, e.g. `timeshift` (only while enabled), `caclient`, `satip_server`. */
  capabilities: string[];
  /** HTTP path prefix to put in front of every HTTP URL path (ticket paths, imagecache). */
  webroot?: string;
  /** JSON API version (v26+). */
  apiVersion?: number;
  /** Server default EPG language list, e.g. "eng". */
  language?: string;
}

export interface AccessRights {
  admin: boolean;
  streaming: boolean;
  dvr: boolean;
  /** May see failed recordings. */
  failedDvr: boolean;
  /** "Anonymize HTSP" is set: less source/signal detail, no descrambleInfo. */
  anonymous: boolean;
  /** Connection limits from the ACL; 0 = unlimited. */
  limitAll: number;
  limitDvr: number;
  limitStreaming: number;
  /** 0 basic, 1 advanced, 2 expert. */
  uiLevel: number;
  /** Empty when neither the user nor the server sets one. */
  uiLanguage: string;
}

// ======================================================================
// Objects the server sends
// ======================================================================

/** One HbbTV application title. */
export type HbbtvTitle = { name?: string; lang?: string };
/** One HbbTV application of a service (not seen in the capture; shape per the reference). */
export type HbbtvApplication = { title?: HbbtvTitle[]; url?: string; visibility?: number };

export type ChannelService = {
  name: string;
  type: ServiceType;
  /** 1 TV, 2 radio, 0 other (v26). */
  content: number;
  /** Present only for scrambled services, and then always 65535: a marker, not the real CA id. */
  caid?: number;
  /** Localised "Encrypted service" text; scrambled services only. */
  caname?: string;
  /** HbbTV applications keyed by section number (as text) (v28). */
  hbbtv?: Record<string, HbbtvApplication[]>;
  /** v38. */
  providername?: string;
};

export type Channel = {
  /** 31 bits of the channel UUID; stable across server restarts. */
  channelId: number;
  /** Full channel UUID, 32 hex chars (v41). */
  channelIdStr?: string;
  /** Major number; 0 = no number. */
  channelNumber: number;
  /** Minor part of "major.minor"; only sent when non-zero. */
  channelNumberMinor?: number;
  channelName: string;
  /** Image reference: relative `imagecache/<n>` (needs host, HTTP port, webroot) or the raw URL. */
  channelIcon?: string;
  /** Current EPG event; 0 = none. */
  eventId: number;
  /** Next EPG event; 0 = none. */
  nextEventId: number;
  services: ChannelService[];
  /** Ids of the tags (visible to this user) the channel belongs to. */
  tags: number[];
};

export type Tag = {
  /** Numbered per server run: not stable across server restarts; persist `tagIdStr`. */
  tagId: number;
  /** Full tag UUID (v41). */
  tagIdStr?: string;
  /** Sort index. */
  tagIndex: number;
  tagName: string;
  tagIcon?: string;
  /** Flag: the icon already shows the name. */
  tagTitledIcon: number;
  /** Channel ids in the tag. Only in `tagUpdate`; may list channels this user cannot see. */
  members?: number[];
};

/** Per-stream info recorded with a DVR file; keys appear as applicable to the stream kind. */
export type DvrFileStreamInfo = {
  type?: StreamType;
  language?: string;
  audio_type?: number;
  audio_version?: number;
  width?: number;
  height?: number;
  duration?: number;
  aspect_num?: number;
  aspect_den?: number;
  composition_id?: number;
  ancillary_id?: number;
};

export type DvrFile = {
  /** Path below the DVR storage directory, starting with '/'. Not an absolute path. */
  filename: string;
  /** UNIX seconds (v32). */
  start?: number;
  /** UNIX seconds (v32). Absent while the file is still being written (seen in the capture). */
  stop?: number;
  /** Bytes (v35). */
  size?: number;
  info?: DvrFileStreamInfo[];
  /** Internal filesystem id; can exceed 2^53, then it decodes as a bigint. */
  fsid?: number | bigint;
};

/**
 * A DVR entry as sent in full records (`dvrEntryAdd`, full `dvrEntryUpdate`,
 * nothing else carries them).
 */
export type DvrEntry = {
  /** 31 bits of the entry UUID. */
  id: number;
  /** Full entry UUID (v41). */
  idStr?: string;
  /** Flag. */
  enabled: number;
  /** Channel id; absent once the channel no longer exists. */
  channel?: number;
  /** Channel name stored with the entry; survives deletion of the channel. */
  channelName?: string;
  eventId?: number;
  /** UUID of the autorec rule that created the entry. */
  autorecId?: string;
  /** UUID of the timerec rule that created the entry. */
  timerecId?: string;
  /** Programme start, UNIX seconds, padding not included. */
  start: number;
  /** Programme stop, UNIX seconds, padding not included. */
  stop: number;
  /** Effective padding before `start`, in minutes. */
  startExtra: number;
  /** Effective padding after `stop`, in minutes. */
  stopExtra: number;
  /** Days the entry is kept; see DVR_RETENTION for special values. */
  retention: number;
  /** Days the file is kept; see DVR_RETENTION. */
  removal: number;
  priority: DvrPriority;
  /** DVB major category only (0–15), unlike events which carry the whole content byte. */
  contentType: number;
  /** Minimum age (v37). */
  ageRating?: number;
  /** Parental rating fields: only when the server processes rating labels. */
  ratingLabel?: string;
  ratingIcon?: string;
  ratingAuthority?: string;
  ratingCountry?: string;
  /** Only for recording / completed entries. */
  playcount?: number;
  /** Opaque to the server (Kodi stores seconds); recording / completed entries only. */
  playposition?: number;
  title?: string;
  subtitle?: string;
  summary?: string;
  description?: string;
  /** Season/episode/part numbers: each only when non-zero. */
  seasonNumber?: number;
  seasonCount?: number;
  episodeNumber?: number;
  episodeCount?: number;
  partNumber?: number;
  partCount?: number;
  /** On-screen episode text; the same thing is called `episodeOnscreen` in events. */
  episode?: string;
  /** User name of the owner. */
  owner?: string;
  /** User name or client address that created the entry. */
  creator?: string;
  comment?: string;
  image?: string;
  fanartImage?: string;
  copyrightYear?: number;
  files?: DvrFile[];
  /** Last file's path relative to the DVR storage directory (leading '/'). */
  path?: string;
  /** DVR config UUID (v40). */
  configId?: string;
  /** Flag, upcoming entries only: 1 = skipped as a duplicate of another recording. */
  duplicate?: number;
  state: DvrState;
  /** English error text, e.g. "Aborted by user", "File missing". */
  error?: string;
  subscriptionError?: SubscriptionErrorCode;
  /** Only when > 0. */
  streamErrors?: number;
  /** Only when > 0. */
  dataErrors?: number;
  /** Bytes recorded so far. */
  dataSize?: number;
};

export type AutorecEntry = {
  /** UUID. */
  id: string;
  /** Flag. */
  enabled: number;
  name?: string;
  /** Regular expression matched against event titles. */
  title?: string;
  /** Flag: match all text fields; only sent with `title`. */
  fulltext?: number;
  /** Flag: match all text fields joined together; only sent with `title`. */
  mergetext?: number;
  /** Seconds; 0 = any. */
  minDuration: number;
  /** Seconds; 0 = any. */
  maxDuration: number;
  retention: number;
  removal: number;
  /** Bit 0 = Monday … bit 6 = Sunday; 0x7f = every day. */
  daysOfWeek: number;
  /** Earliest start, minutes after midnight; -1 = any. */
  start: number;
  /** Latest start, minutes after midnight (may wrap past midnight); -1 = any. */
  startWindow: number;
  /** Legacy: middle of the start window in minutes after midnight, -1 if no window. */
  approxTime: number;
  priority: DvrPriority;
  /** Padding in minutes. */
  startExtra: number;
  /** Padding in minutes. */
  stopExtra: number;
  dupDetect: DupDetect;
  /** Maximum recordings kept/scheduled; 0 = unlimited. */
  maxCount: number;
  /** v39. */
  broadcastType?: BroadcastType;
  comment?: string;
  /** Forced recording sub-directory. */
  directory?: string;
  owner?: string;
  creator?: string;
  /** Channel id; absent = any channel. */
  channel?: number;
  serieslinkUri?: string;
  /** DVR config UUID (v40). */
  configId?: string;
};

export type TimerecEntry = {
  /** UUID. */
  id: string;
  /** Flag. */
  enabled: number;
  /** Bit 0 = Monday … bit 6 = Sunday. */
  daysOfWeek: number;
  retention: number;
  removal: number;
  priority: DvrPriority;
  /** Minutes after midnight. */
  start: number;
  /** Minutes after midnight. */
  stop: number;
  /** Recording title; may contain strftime-style placeholders such as %F. */
  title?: string;
  name?: string;
  directory?: string;
  comment?: string;
  owner?: string;
  creator?: string;
  /** Channel id; absent = any channel. */
  channel?: number;
  /** DVR config UUID (v40). */
  configId?: string;
};

export type EpgEvent = {
  eventId: number;
  channelId?: number;
  /** UNIX seconds. */
  start: number;
  /** UNIX seconds. */
  stop: number;
  title?: string;
  /** The long texts are omitted when the user's "HTSP output format" is Basic. */
  subtitle?: string;
  summary?: string;
  description?: string;
  /** Person name → role (`actor`, `director`, …). */
  credits?: Record<string, string>;
  category?: string[];
  keyword?: string[];
  serieslinkUri?: string;
  episodeUri?: string;
  /** First genre only: high nibble = DVB major category, low nibble = subcategory. */
  contentType?: number;
  /** Minimum age; only when > 0. */
  ageRating?: number;
  ratingLabel?: string;
  ratingIcon?: string;
  ratingAuthority?: string;
  ratingCountry?: string;
  /** Percentage 1–100 (not 1–5). */
  starRating?: number;
  copyrightYear?: number;
  /** UNIX seconds. */
  firstAired?: number;
  /** Flag: new / premiere. */
  isNew?: number;
  seasonNumber?: number;
  seasonCount?: number;
  episodeNumber?: number;
  episodeCount?: number;
  partNumber?: number;
  partCount?: number;
  /** On-screen episode text, e.g. "S02E01". */
  episodeOnscreen?: string;
  image?: string;
  /** DVR entry (visible to this user) that records this event. */
  dvrId?: number;
  nextEventId?: number;
};

/** One elementary stream of a `subscriptionStart`. Time values use the subscription's unit. */
export type Stream = {
  /** Component index; matches `muxpkt.stream`. */
  index: number;
  type: StreamType;
  /** ISO 639 code. */
  language?: string;
  width?: number;
  height?: number;
  /** Video frame duration, in µs (or 90 kHz ticks when subscribed with `90khz`). */
  duration?: number;
  /** Display aspect ratio numerator (unreliable). */
  aspect_num?: number;
  aspect_den?: number;
  /** 0 normal, 1 clean effects, 2 hearing impaired, 3 visually impaired commentary. */
  audio_type?: number;
  audio_version?: number;
  channels?: number;
  /**
   * Sample-rate *index*, not Hz: 1 88200, 2 64000, 3 48000, 4 44100, 5 32000,
   * 6 24000, 7 22050, 8 16000, 9 12000, 10 11025, 11 8000, 12 7350. Absent
   * for index 0 (96000).
   */
  rate?: number;
  /** Flag: carries RDS (UECP) data. */
  rds_uecp?: number;
  /** DVB subtitle page ids. */
  composition_id?: number;
  ancillary_id?: number;
};

/** Where a subscription's data comes from. Anonymised users only get the UUIDs. */
export type SourceInfo = {
  adapter_uuid?: string;
  mux_uuid?: string;
  network_uuid?: string;
  adapter?: string;
  mux?: string;
  network?: string;
  network_type?: string;
  provider?: string;
  service?: string;
  satpos?: string;
};

/** A DVR config as listed by `getDvrConfigs`. */
export type DvrConfigInfo = {
  uuid: string;
  /** "" = the default config. */
  name: string;
  comment: string;
};

/** A streaming profile as listed by `getProfiles`. */
export type StreamProfileInfo = {
  uuid: string;
  name: string;
  comment: string;
};

export type DvrCutpoint = {
  /** Milliseconds. */
  start: number;
  /** Milliseconds. */
  end: number;
  /** 0 cut, 1 mute, 2 scene, 3 commercial break. */
  type: number;
};

/**
 * Tvheadend's internal EPG record as returned by `getEpgObject` (not the
 * `eventAdd` layout). Unstable: only the fields below are given types.
 */
export type EpgObject = HtsmsgMap & {
  id?: number;
  start?: number;
  stop?: number;
  /** Channel UUID. */
  ch?: string;
  /** Title per language code. */
  tit?: Record<string, string>;
  sti?: Record<string, string>;
  sum?: Record<string, string>;
  des?: Record<string, string>;
  genre?: number[];
};

// ======================================================================
// Async messages (server → client, carry `method`, never `seq`)
// ======================================================================

export type ChannelAddMessage = { method: 'channelAdd' } & Channel;
/**
 * Either a full record or only `channelId` + `eventId` + `nextEventId` (the
 * now/next change): merge, never replace.
 */
export type ChannelUpdateMessage = { method: 'channelUpdate'; channelId: number } & Partial<Omit<Channel, 'channelId'>>;
/** Also sent for channels that were disabled, or never sent to this client. */
export type ChannelDeleteMessage = { method: 'channelDelete'; channelId: number };

/** Sent only during the initial sync, without `members`. */
export type TagAddMessage = { method: 'tagAdd' } & Tag;
/** Full record with `members`; after the initial sync new tags arrive this way too (upsert). */
export type TagUpdateMessage = { method: 'tagUpdate' } & Tag;
export type TagDeleteMessage = { method: 'tagDelete'; tagId: number };

export type DvrEntryAddMessage = { method: 'dvrEntryAdd' } & DvrEntry;
/**
 * Full record, or (while recording, at most every 5 s) a stats-only update
 * with `id`, `idStr`, `duplicate`, `state` and the error/size counters.
 */
export type DvrEntryUpdateMessage = { method: 'dvrEntryUpdate'; id: number } & Partial<Omit<DvrEntry, 'id'>>;
export type DvrEntryDeleteMessage = { method: 'dvrEntryDelete'; id: number };

export type AutorecEntryAddMessage = { method: 'autorecEntryAdd' } & AutorecEntry;
export type AutorecEntryUpdateMessage = { method: 'autorecEntryUpdate' } & AutorecEntry;
export type AutorecEntryDeleteMessage = { method: 'autorecEntryDelete'; id: string };

export type TimerecEntryAddMessage = { method: 'timerecEntryAdd' } & TimerecEntry;
export type TimerecEntryUpdateMessage = { method: 'timerecEntryUpdate' } & TimerecEntry;
export type TimerecEntryDeleteMessage = { method: 'timerecEntryDelete'; id: string };

export type EventAddMessage = { method: 'eventAdd' } & EpgEvent;
export type EventUpdateMessage = { method: 'eventUpdate' } & EpgEvent;
/** Sent to every EPG-enabled connection, whatever its window or channel filter. */
export type EventDeleteMessage = { method: 'eventDelete'; eventId: number };

/** End of the initial burst; once per connection. */
export type InitialSyncCompletedMessage = { method: 'initialSyncCompleted' };

export type SubscriptionStartMessage = {
  method: 'subscriptionStart';
  subscriptionId: number;
  /** Enabled components only. */
  streams: Stream[];
  sourceinfo: SourceInfo;
  /**
   * Codec configuration (extradata) at the message root, one `meta` field per
   * stream that has any, in stream order, with no stream index. Several can
   * share the name: this is the first; use `duplicatesOf(msg, 'meta')` for all.
   */
  meta?: Buffer;
};

/** The source stopped. Not final: a new `subscriptionStart` may follow for the same id. */
export type SubscriptionStopMessage = {
  method: 'subscriptionStop';
  subscriptionId: number;
  /** English reason text ("OK", "User request", …); use `subscriptionError` for logic. */
  status: string;
  /** Only for a non-zero reason. */
  subscriptionError?: SubscriptionErrorCode;
};

export type SubscriptionStatusMessage = {
  method: 'subscriptionStatus';
  subscriptionId: number;
  /** Absent = OK (valid packets flowing); otherwise a problem text such as "No free adapter". */
  status?: string;
  subscriptionError?: SubscriptionErrorCode;
};

export type SubscriptionGraceMessage = {
  method: 'subscriptionGrace';
  subscriptionId: number;
  /** Seconds the server will wait for data after tuning. */
  graceTimeout: number;
};

/** Result of skip/seek/live, or a reposition by timeshift. */
export type SubscriptionSkipMessage = {
  method: 'subscriptionSkip';
  subscriptionId: number;
  /** Flag: `time` is absolute rather than relative. */
  absolute?: number;
  /** Flag: the skip failed (then there is no `time`/`size`). */
  error?: number;
  /** New position, in µs (or 90 kHz ticks). */
  time?: number;
  /** Byte position (unused in practice). */
  size?: number;
};

export type SubscriptionSpeedMessage = {
  method: 'subscriptionSpeed';
  subscriptionId: number;
  /** 100 = normal, 0 = paused, negative = backwards. */
  speed: number;
};

/** Periodic while timeshift is active; times in µs (or 90 kHz ticks). */
export type TimeshiftStatusMessage = {
  method: 'timeshiftStatus';
  subscriptionId: number;
  /** Flag: the buffer is full. */
  full: number;
  /** Distance behind live. */
  shift: number;
  /** Oldest buffered position (PTS). */
  start?: number;
  /** Newest buffered position (PTS). */
  end?: number;
};

/** At most once a second while packets flow; can arrive before `subscriptionStart`. */
export type QueueStatusMessage = {
  method: 'queueStatus';
  subscriptionId: number;
  /** Messages waiting in this subscription's send queue. */
  packets: number;
  /** Payload bytes waiting. */
  bytes: number;
  /** Span between the smallest and largest queued DTS, in µs (or 90 kHz ticks). */
  delay: number;
  /** Cumulative dropped B frames. */
  Bdrops: number;
  /** Cumulative dropped P frames. */
  Pdrops: number;
  /** Cumulative dropped I frames. */
  Idrops: number;
  /** Cumulative data errors; only when > 0. */
  errors?: number;
};

/** Tuner inputs only (IPTV never sends it). */
export type SignalStatusMessage = {
  method: 'signalStatus';
  subscriptionId: number;
  /** "GOOD", "BAD", "FAINT", "NONE", …; "" for anonymised users. */
  feStatus: string;
  /** Relative SNR: 0 = 0 %, 65535 = 100 %. Not sent together with `feAbsoluteSNR`. */
  feSNR?: number;
  /** SNR in dB × 1000 (v44). */
  feAbsoluteSNR?: number;
  /** Relative strength: 0 = 0 %, 65535 = 100 %. Not sent together with `feAbsoluteSignal`. */
  feSignal?: number;
  /** Strength in dBm × 1000 (v44). */
  feAbsoluteSignal?: number;
  /** Bit error rate. */
  feBER?: number;
  /** Uncorrected blocks. */
  feUNC?: number;
};

/** Active descrambler details; not sent to anonymised users. */
export type DescrambleInfoMessage = {
  method: 'descrambleInfo';
  subscriptionId: number;
  pid: number;
  caid: number;
  provid: number;
  /** As reported by the CA client (milliseconds for OSCam-style clients). */
  ecmtime: number;
  hops: number;
  cardsystem?: string;
  reader?: string;
  from?: string;
  protocol?: string;
};

/** One media packet; times in µs, or 90 kHz ticks when subscribed with `90khz`. */
export type MuxpktMessage = {
  method: 'muxpkt';
  subscriptionId: number;
  /** Stream `index`. */
  stream: number;
  /** Video only: ASCII 'I' (73), 'P' (80) or 'B' (66); 0 if unknown. */
  frametype?: number;
  /** 0 unknown, 1 commercial, 2 programme. */
  com: number;
  pts?: number;
  dts?: number;
  duration: number;
  /** One complete access unit / audio frame, without PES or TS wrapping. */
  payload: Buffer;
};

export interface HtspAsyncMessages {
  channelAdd: ChannelAddMessage;
  channelUpdate: ChannelUpdateMessage;
  channelDelete: ChannelDeleteMessage;
  tagAdd: TagAddMessage;
  tagUpdate: TagUpdateMessage;
  tagDelete: TagDeleteMessage;
  dvrEntryAdd: DvrEntryAddMessage;
  dvrEntryUpdate: DvrEntryUpdateMessage;
  dvrEntryDelete: DvrEntryDeleteMessage;
  autorecEntryAdd: AutorecEntryAddMessage;
  autorecEntryUpdate: AutorecEntryUpdateMessage;
  autorecEntryDelete: AutorecEntryDeleteMessage;
  timerecEntryAdd: TimerecEntryAddMessage;
  timerecEntryUpdate: TimerecEntryUpdateMessage;
  timerecEntryDelete: TimerecEntryDeleteMessage;
  eventAdd: EventAddMessage;
  eventUpdate: EventUpdateMessage;
  eventDelete: EventDeleteMessage;
  initialSyncCompleted: InitialSyncCompletedMessage;
  subscriptionStart: SubscriptionStartMessage;
  subscriptionStop: SubscriptionStopMessage;
  subscriptionStatus: SubscriptionStatusMessage;
  subscriptionGrace: SubscriptionGraceMessage;
  subscriptionSkip: SubscriptionSkipMessage;
  subscriptionSpeed: SubscriptionSpeedMessage;
  timeshiftStatus: TimeshiftStatusMessage;
  queueStatus: QueueStatusMessage;
  signalStatus: SignalStatusMessage;
  descrambleInfo: DescrambleInfoMessage;
  muxpkt: MuxpktMessage;
}

export type HtspAsyncMethod = keyof HtspAsyncMessages;
/** Any async message; narrow on `method`. */
export type HtspAsyncMessage = HtspAsyncMessages[HtspAsyncMethod];

// ======================================================================
// Requests
// ======================================================================

/**
 * Any request may carry credentials: with both, the server re-authenticates
 * the connection before handling the request (on-demand auth).
 */
export type RequestCommon = {
  username?: string;
  /** SHA-1(password bytes ‖ 32-byte hello challenge), 20 bytes. */
  digest?: Buffer;
};

/** For methods that take no fields of their own. */
export type EmptyRequest = RequestCommon;

export type HelloRequest = RequestCommon & {
  /** Highest version the client understands. */
  htspversion: number;
  clientname: string;
  /** Never read by current servers. */
  clientversion?: string;
};

/** Credentials only; the reply reports the resulting rights. */
export type AuthenticateRequest = RequestCommon;

export type ApiRequest = RequestCommon & {
  /** As after `/api/` in the HTTP URL, without a leading slash, e.g. "serverinfo". */
  path: string;
  /** Query/form arguments as fields (or a JSON string of them). */
  args?: HtsmsgMap | string;
};

export type GetDiskSpaceRequest = EmptyRequest;
export type GetSysTimeRequest = EmptyRequest;

export type EnableAsyncMetadataRequest = RequestCommon & {
  /** Flag: also stream EPG events. Absent = keep the connection's setting (initially off). */
  epg?: number;
  /**
   * Absolute UNIX time: the EPG window becomes `epgMaxTime − now` seconds
   * (at least 600) and then slides forward. 0 or past = unlimited.
   */
  epgMaxTime?: number;
  /** Only consulted on a repeated call, as a start-time lower bound for events pushed. */
  lastUpdate?: number;
  /** Comma-separated language codes, e.g. "ger,eng"; also used to translate error texts. */
  language?: string;
};

export type GetChannelRequest = RequestCommon & { channelId: number };

export type GetEventRequest = RequestCommon & {
  eventId: number;
  language?: string;
};

export type GetEventsRequest = RequestCommon & {
  /** Start at this event. */
  eventId?: number;
  /** Start at this channel's current (or next) event. With neither, all channels. */
  channelId?: number;
  /** Events to return including the first; 0/absent = no limit (per channel). */
  numFollowing?: number;
  /** Stop at the first event starting after this UNIX time. */
  maxTime?: number;
  language?: string;
};

export type EpgQueryRequest = RequestCommon & {
  /** Case-insensitive regular expression, matched against the title by default. */
  query: string;
  /** Flag: match title, subtitle, summary, description, credits or keywords. */
  fulltext?: number;
  /** Flag: match against all text fields joined; overrides `fulltext`. */
  mergetext?: number;
  channelId?: number;
  tagId?: number;
  /** DVB content code (major nibble high, minor low). */
  contentType?: number;
  /** Seconds (lower-case name). */
  minduration?: number;
  /** Seconds (lower-case name). */
  maxduration?: number;
  language?: string;
  /** Flag: reply with full `events` instead of `eventIds`. */
  full?: number;
};

export type GetEpgObjectRequest = RequestCommon & {
  id: number;
  /** Object type; must be 1 (broadcast), anything else never matches. */
  type: 1;
};

export type GetDvrConfigsRequest = EmptyRequest;
export type GetProfilesRequest = EmptyRequest;

/** Fields shared by both ways of adding a DVR entry. */
type AddDvrEntryCommon = RequestCommon & {
  /** Language tag under which the texts are stored. */
  language?: string;
  /** Flag (v23). */
  enabled?: number;
  /** DVR config name or UUID. */
  configName?: string;
  /** Padding in minutes. */
  startExtra?: number;
  /** Padding in minutes. */
  stopExtra?: number;
  priority?: DvrPriority;
  /** Days; 0 = the DVR config's value. */
  retention?: number;
  /** Days; 0 = the DVR config's value. */
  removal?: number;
  comment?: string;
};

/**
 * Record an EPG event (channel, times and texts come from the EPG), or set a
 * manual timer. An unknown `eventId` silently falls back to a manual timer.
 * Owner/creator are always the authenticated user.
 */
export type AddDvrEntryRequest = AddDvrEntryCommon & ({ eventId: number; channelId?: number } | ({ eventId?: undefined } & ManualTimerFields));

/** What a manual timer (an `addDvrEntry` without an event) says about its recording. */
export type ManualTimerFields = {
  channelId: number;
  /** UNIX seconds. */
  start: number;
  /** UNIX seconds. */
  stop: number;
  /** Must not be empty. */
  title: string;
  subtitle?: string;
  summary?: string;
  description?: string;
  ageRating?: number;
};

/** Only the fields present change. Running/finished entries accept only a few of them. */
export type UpdateDvrEntryRequest = RequestCommon & {
  id: number;
  channelId?: number;
  /** Flag. */
  enabled?: number;
  configName?: string;
  /** UNIX seconds; 0 = unchanged. */
  start?: number;
  /** UNIX seconds; 0 = unchanged. */
  stop?: number;
  /** Minutes; 0 = unchanged (padding cannot be set to 0 this way). */
  startExtra?: number;
  /** Minutes; 0 = unchanged. */
  stopExtra?: number;
  /** Days; 0 = unchanged. */
  retention?: number;
  /** Days; 0 = unchanged. */
  removal?: number;
  /** 5 (notSet) = unchanged. */
  priority?: DvrPriority;
  title?: string;
  subtitle?: string;
  summary?: string;
  description?: string;
  language?: string;
  ageRating?: number;
  comment?: string;
  /** See DVR_PLAYCOUNT for special values. */
  playcount?: number;
  /** Stored as-is; Kodi uses seconds. */
  playposition?: number;
};

export type StopDvrEntryRequest = RequestCommon & { id: number };
export type CancelDvrEntryRequest = RequestCommon & { id: number };
export type DeleteDvrEntryRequest = RequestCommon & { id: number };

/** Request fields shared by autorec and timerec rules (add and update). */
type SeriesRecFields = {
  /** Display name of the rule. */
  name?: string;
  /**
   * Channel id, -1 = any channel. On update, omitting it (or an unknown id)
   * resets the rule to "any channel": always send it.
   */
  channelId?: number;
  /** Flag; default 1. */
  enabled?: number;
  /** Forced sub-directory. */
  directory?: string;
  comment?: string;
  /** DVR config name or UUID. */
  configName?: string;
  /** Bit 0 = Monday … bit 6 = Sunday; default every day. */
  daysOfWeek?: number;
  /** Default 6 (use the config's priority). */
  priority?: DvrPriority;
  /** Days; 0 = the DVR config's value. */
  retention?: number;
  /** Days; 0 = the DVR config's value. */
  removal?: number;
};

type AutorecFields = SeriesRecFields & {
  /** Seconds, 0 = any. Lower-case here; camelCase in the async messages. */
  minduration?: number;
  /** Seconds, 0 = any. */
  maxduration?: number;
  /** Flag: match all text fields. */
  fulltext?: number;
  /** Flag: match all text fields joined together. */
  mergetext?: number;
  dupDetect?: DupDetect;
  /** 0 = unlimited. */
  maxCount?: number;
  broadcastType?: BroadcastType;
  /** Padding in minutes; 0 = config value. */
  startExtra?: number;
  /** Padding in minutes; 0 = config value. */
  stopExtra?: number;
  serieslinkUri?: string;
  /** Earliest start, minutes after midnight; -1 = any. */
  start?: number;
  /** Latest start, minutes after midnight; -1 = any. */
  startWindow?: number;
};

type TimerecFields = SeriesRecFields & {
  /** Minutes after midnight. */
  start?: number;
  /** Minutes after midnight. */
  stop?: number;
};

export type AddAutorecEntryRequest = RequestCommon &
  AutorecFields & {
    /** Title regular expression; required, may be "". */
    title: string;
    /** Legacy: when `start`/`startWindow` are not both given, window = this ±15 minutes. */
    approxTime?: number;
  };
/**
 * The server treats an update without `channelId` as "any channel" and silently widens the rule
 * (G18), so it is required here: send the rule's channel again, or -1 for any.
 */
type UpdateChannel = { channelId: number };
export type UpdateAutorecEntryRequest = RequestCommon & AutorecFields & UpdateChannel & { id: string; title?: string };
export type DeleteAutorecEntryRequest = RequestCommon & { id: string };

export type AddTimerecEntryRequest = RequestCommon & TimerecFields & { title: string };
/** `channelId` required for the same reason as in UpdateAutorecEntryRequest (G18); -1 = any. */
export type UpdateTimerecEntryRequest = RequestCommon & TimerecFields & UpdateChannel & { id: string; title?: string };
export type DeleteTimerecEntryRequest = RequestCommon & { id: string };

export type GetDvrCutpointsRequest = RequestCommon & { id: number };

/** A ticket for either a live channel or a recording. */
export type GetTicketRequest = RequestCommon & ({ channelId: number; dvrId?: undefined } | { dvrId: number; channelId?: undefined });

type SubscribeOptionsFields = {
  /** Client-chosen id echoed in every related message; not checked for uniqueness. */
  subscriptionId: number;
  /** Priority against other subscriptions and recordings; 0/absent = profile default. */
  weight?: number;
  /** Flag: timestamps in 90 kHz ticks instead of µs. */
  '90khz'?: number;
  /** Ignored since v17. */
  normts?: number;
  /** Payload bytes queued before video frames are dropped (B above 1×, P 2×, all 3×); default 500 000. */
  queueDepth?: number;
  /** Seconds of timeshift buffer; 4294967295 = unlimited. */
  timeshiftPeriod?: number;
  /** Stream profile name or UUID; default `htsp`. */
  profile?: string;
};

export type SubscribeRequest = RequestCommon &
  SubscribeOptionsFields &
  ({ channelId: number; channelName?: undefined } | { channelName: string; channelId?: undefined });

export type UnsubscribeRequest = RequestCommon & { subscriptionId: number };

export type SubscriptionChangeWeightRequest = RequestCommon & {
  subscriptionId: number;
  /** 0/absent = profile default. */
  weight?: number;
};

/** Give `time` (or `size`); the result arrives as an async `subscriptionSkip`. */
export type SubscriptionSkipRequest = RequestCommon & {
  subscriptionId: number;
  /** µs (or 90 kHz ticks). */
  time?: number;
  /** Bytes; unused in practice. */
  size?: number;
  /** Flag: absolute position; 0 = relative. */
  absolute?: number;
};
export type SubscriptionSeekRequest = SubscriptionSkipRequest;

export type SubscriptionSpeedRequest = RequestCommon & {
  subscriptionId: number;
  /** 100 = normal, 0 = pause, 200 = 2×, negative = backwards. */
  speed: number;
};

export type SubscriptionLiveRequest = RequestCommon & { subscriptionId: number };

export type SubscriptionFilterStreamRequest = RequestCommon & {
  subscriptionId: number;
  /** Stream indexes to let through (only 0–31 work reliably). */
  enable?: number[];
  /** Stream indexes to drop. */
  disable?: number[];
};

export type FileOpenRequest = RequestCommon & {
  /** `dvrfile/<dvrId>` (or `dvr/<dvrId>`) for a recording, `imagecache/<n>` for an image. */
  file: string;
};

export type FileReadRequest = RequestCommon & {
  id: number;
  /** Bytes to read; the server allocates this much, so read in chunks. */
  size: number;
  /** Seek here first. */
  offset?: number;
};

export type FileCloseRequest = RequestCommon & {
  id: number;
  /** Default increments the play count; DVR_PLAYCOUNT.keep leaves it alone. */
  playcount?: number;
  playposition?: number;
};

export type FileStatRequest = RequestCommon & { id: number };

export type FileSeekRequest = RequestCommon & {
  id: number;
  offset: number;
  /** Default SEEK_SET. */
  whence?: 'SEEK_SET' | 'SEEK_CUR' | 'SEEK_END';
};

// ======================================================================
// Replies
// ======================================================================

/** Fields any reply may carry. A reply with `error` or `noaccess` is a failure. */
export type ReplyEnvelope = {
  /** Echo of the request's `seq`. */
  seq?: number;
  /** Human-readable, possibly translated; never match on the text. */
  error?: string;
  /** Flag: a right is missing (or the API refused). */
  noaccess?: number;
  /** Flag: a per-user connection limit was hit (the server also disconnects). */
  connlimit?: number;
};

/** Replies of DVR-changing methods. */
export type SuccessReply = ReplyEnvelope & {
  /** Flag; often 1 whenever the target was found, whatever the effect. */
  success?: number;
};

export type EmptyReply = ReplyEnvelope;

export type HelloReply = ReplyEnvelope & {
  /** The server's maximum, not the negotiated version. */
  htspversion: number;
  servername: string;
  serverversion: string;
  /** 32 random bytes, fixed for the TCP connection. */
  challenge: Buffer;
  webroot?: string;
  /** Default EPG language list. */
  language: string;
  servercapability: string[];
  /** JSON API version. */
  api_version: number;
};

/** Rights flags are only sent for negotiated v26+ and when access is granted. */
export type AuthenticateReply = ReplyEnvelope & {
  admin?: number;
  streaming?: number;
  dvr?: number;
  faileddvr?: number;
  anonymous?: number;
  limitall?: number;
  limitdvr?: number;
  limitstreaming?: number;
  uilevel?: number;
  uilanguage?: string;
};

/** An unknown path yields an empty reply (no `response`). May contain BOOL values. */
export type ApiReply = ReplyEnvelope & { response?: HtsmsgMap };

export type GetDiskSpaceReply = ReplyEnvelope & {
  /** Bytes. */
  freediskspace: number;
  /** Bytes. */
  useddiskspace: number;
  /** Bytes. */
  totaldiskspace: number;
};

export type GetSysTimeReply = ReplyEnvelope & {
  /** UNIX seconds. */
  time: number;
  /** Deprecated: whole hours *west* of UTC (−1 for UTC+1). */
  timezone: number;
  /** Minutes *east* of UTC (60 for UTC+1). */
  gmtoffset: number;
};

/** Arrives before the initial metadata burst. */
export type EnableAsyncMetadataReply = EmptyReply;
export type GetChannelReply = ReplyEnvelope & Channel;
export type GetEventReply = ReplyEnvelope & EpgEvent;
export type GetEventsReply = ReplyEnvelope & { events: EpgEvent[] };
/** Neither list is present when nothing matched. */
export type EpgQueryReply = ReplyEnvelope & { eventIds?: number[]; events?: EpgEvent[] };
export type GetEpgObjectReply = ReplyEnvelope & EpgObject;
export type GetDvrConfigsReply = ReplyEnvelope & { dvrconfigs: DvrConfigInfo[] };
export type GetProfilesReply = ReplyEnvelope & { profiles: StreamProfileInfo[] };
export type AddDvrEntryReply = SuccessReply & { id?: number };
export type UpdateDvrEntryReply = SuccessReply;
export type StopDvrEntryReply = SuccessReply;
export type CancelDvrEntryReply = SuccessReply;
export type DeleteDvrEntryReply = SuccessReply;
/** `id` is the new rule's UUID. */
export type AddAutorecEntryReply = SuccessReply & { id?: string };
export type UpdateAutorecEntryReply = SuccessReply;
export type DeleteAutorecEntryReply = SuccessReply;
export type AddTimerecEntryReply = SuccessReply & { id?: string };
export type UpdateTimerecEntryReply = SuccessReply;
export type DeleteTimerecEntryReply = SuccessReply;
/** No `cutpoints` when the recording has no cut file. */
export type GetDvrCutpointsReply = ReplyEnvelope & { cutpoints?: DvrCutpoint[] };

export type GetTicketReply = ReplyEnvelope & {
  /** `/stream/channelid/<id>` or `/dvrfile/<id>`; use as http://host:9981{webroot}{path}?ticket={ticket}. */
  path: string;
  /** 40 hex chars; valid for the server's ticket lifetime (default 300 s). */
  ticket: string;
};

export type SubscribeReply = ReplyEnvelope & {
  /** Flag, 1 if 90 kHz timestamps were requested. */
  '90khz'?: number;
  /** Flag: timestamps are normalised. */
  normts?: number;
  /** Effective timeshift buffer in seconds, when timeshift is active. */
  timeshiftPeriod?: number;
  /** Never sent by current servers. */
  weight?: number;
};

export type UnsubscribeReply = EmptyReply;
export type SubscriptionChangeWeightReply = EmptyReply;
export type SubscriptionSkipReply = EmptyReply;
export type SubscriptionSeekReply = EmptyReply;
export type SubscriptionSpeedReply = EmptyReply;
export type SubscriptionLiveReply = EmptyReply;
export type SubscriptionFilterStreamReply = EmptyReply;

export type FileOpenReply = ReplyEnvelope & {
  /** Per-connection file handle. */
  id: number;
  /** Bytes. */
  size: number;
  /** UNIX seconds. */
  mtime: number;
};

export type FileReadReply = ReplyEnvelope & {
  /** May be shorter than asked; empty at end of file. */
  data: Buffer;
};

export type FileCloseReply = EmptyReply;

/** Both absent if the stat failed. */
export type FileStatReply = ReplyEnvelope & { size?: number; mtime?: number };

export type FileSeekReply = ReplyEnvelope & {
  /** New absolute position in bytes. */
  offset: number;
};

// ======================================================================
// Method tables
// ======================================================================

export interface HtspMethods {
  hello: { request: HelloRequest; reply: HelloReply };
  authenticate: { request: AuthenticateRequest; reply: AuthenticateReply };
  api: { request: ApiRequest; reply: ApiReply };
  getDiskSpace: { request: GetDiskSpaceRequest; reply: GetDiskSpaceReply };
  getSysTime: { request: GetSysTimeRequest; reply: GetSysTimeReply };
  enableAsyncMetadata: { request: EnableAsyncMetadataRequest; reply: EnableAsyncMetadataReply };
  getChannel: { request: GetChannelRequest; reply: GetChannelReply };
  getEvent: { request: GetEventRequest; reply: GetEventReply };
  getEvents: { request: GetEventsRequest; reply: GetEventsReply };
  epgQuery: { request: EpgQueryRequest; reply: EpgQueryReply };
  getEpgObject: { request: GetEpgObjectRequest; reply: GetEpgObjectReply };
  getDvrConfigs: { request: GetDvrConfigsRequest; reply: GetDvrConfigsReply };
  getProfiles: { request: GetProfilesRequest; reply: GetProfilesReply };
  addDvrEntry: { request: AddDvrEntryRequest; reply: AddDvrEntryReply };
  updateDvrEntry: { request: UpdateDvrEntryRequest; reply: UpdateDvrEntryReply };
  stopDvrEntry: { request: StopDvrEntryRequest; reply: StopDvrEntryReply };
  cancelDvrEntry: { request: CancelDvrEntryRequest; reply: CancelDvrEntryReply };
  deleteDvrEntry: { request: DeleteDvrEntryRequest; reply: DeleteDvrEntryReply };
  addAutorecEntry: { request: AddAutorecEntryRequest; reply: AddAutorecEntryReply };
  updateAutorecEntry: { request: UpdateAutorecEntryRequest; reply: UpdateAutorecEntryReply };
  deleteAutorecEntry: { request: DeleteAutorecEntryRequest; reply: DeleteAutorecEntryReply };
  addTimerecEntry: { request: AddTimerecEntryRequest; reply: AddTimerecEntryReply };
  updateTimerecEntry: { request: UpdateTimerecEntryRequest; reply: UpdateTimerecEntryReply };
  deleteTimerecEntry: { request: DeleteTimerecEntryRequest; reply: DeleteTimerecEntryReply };
  getDvrCutpoints: { request: GetDvrCutpointsRequest; reply: GetDvrCutpointsReply };
  getTicket: { request: GetTicketRequest; reply: GetTicketReply };
  subscribe: { request: SubscribeRequest; reply: SubscribeReply };
  unsubscribe: { request: UnsubscribeRequest; reply: UnsubscribeReply };
  subscriptionChangeWeight: { request: SubscriptionChangeWeightRequest; reply: SubscriptionChangeWeightReply };
  subscriptionSkip: { request: SubscriptionSkipRequest; reply: SubscriptionSkipReply };
  subscriptionSeek: { request: SubscriptionSeekRequest; reply: SubscriptionSeekReply };
  subscriptionSpeed: { request: SubscriptionSpeedRequest; reply: SubscriptionSpeedReply };
  subscriptionLive: { request: SubscriptionLiveRequest; reply: SubscriptionLiveReply };
  subscriptionFilterStream: { request: SubscriptionFilterStreamRequest; reply: SubscriptionFilterStreamReply };
  fileOpen: { request: FileOpenRequest; reply: FileOpenReply };
  fileRead: { request: FileReadRequest; reply: FileReadReply };
  fileClose: { request: FileCloseRequest; reply: FileCloseReply };
  fileStat: { request: FileStatRequest; reply: FileStatReply };
  fileSeek: { request: FileSeekRequest; reply: FileSeekReply };
}

export type HtspMethodName = keyof HtspMethods;
export type HtspRequest<M extends HtspMethodName> = HtspMethods[M]['request'];
export type HtspReply<M extends HtspMethodName> = HtspMethods[M]['reply'];

const METHOD_LIST = [
  'hello',
  'authenticate',
  'api',
  'getDiskSpace',
  'getSysTime',
  'enableAsyncMetadata',
  'getChannel',
  'getEvent',
  'getEvents',
  'epgQuery',
  'getEpgObject',
  'getDvrConfigs',
  'getProfiles',
  'addDvrEntry',
  'updateDvrEntry',
  'stopDvrEntry',
  'cancelDvrEntry',
  'deleteDvrEntry',
  'addAutorecEntry',
  'updateAutorecEntry',
  'deleteAutorecEntry',
  'addTimerecEntry',
  'updateTimerecEntry',
  'deleteTimerecEntry',
  'getDvrCutpoints',
  'getTicket',
  'subscribe',
  'unsubscribe',
  'subscriptionChangeWeight',
  'subscriptionSkip',
  'subscriptionSeek',
  'subscriptionSpeed',
  'subscriptionLive',
  'subscriptionFilterStream',
  'fileOpen',
  'fileRead',
  'fileClose',
  'fileStat',
  'fileSeek',
] as const satisfies readonly HtspMethodName[];

/** All 39 RPC methods, in the order of the server's method table. */
export const HTSP_METHODS: readonly HtspMethodName[] = METHOD_LIST;

/** The connection handshake: done once per connection, by whoever owns it. */
export const HANDSHAKE_METHODS: ReadonlySet<string> = new Set<string>(['hello', 'authenticate', 'enableAsyncMetadata'] satisfies HtspMethodName[]);

/** Methods on file handles, which are numbered per connection. */
export const FILE_METHODS: ReadonlySet<string> = new Set<string>(['fileOpen', 'fileRead', 'fileSeek', 'fileStat', 'fileClose'] satisfies HtspMethodName[]);

/** A muxpkt `frametype` as its letter ('I', 'P', 'B'); undefined for 0 (unknown) or none. */
export function frameTypeLetter(frametype: number | undefined): string | undefined {
  return frametype ? String.fromCharCode(frametype) : undefined;
}

/**
 * Methods that belong to the session and must never be run on its connection by anyone else
 * (a flow, an MQTT command). The handshake and the metadata stream exist once per connection;
 * subscription ids and file handles are per connection too, and the session owns them: a
 * stranger's `subscribe` would stream into a subscription nobody reads, and its `unsubscribe`,
 * playback controls or file calls could hit a subscription or file that the session (or another
 * node) holds.
 */
export const SESSION_OWNED_METHODS: ReadonlySet<string> = new Set<string>([
  ...HANDSHAKE_METHODS,
  // subscribe, unsubscribe and the subscription* playback controls
  ...METHOD_LIST.filter((m) => m === 'subscribe' || m === 'unsubscribe' || m.startsWith('subscription')),
  ...FILE_METHODS,
]);

/**
 * Methods that change nothing on the server. `api` is not among them: it reaches every write
 * path of the web API.
 */
export const READ_ONLY_METHODS = [
  'getDiskSpace',
  'getSysTime',
  'getChannel',
  'getEvent',
  'getEvents',
  'epgQuery',
  'getEpgObject',
  'getDvrConfigs',
  'getProfiles',
  'getDvrCutpoints',
] as const satisfies readonly HtspMethodName[];

/**
 * The right each method needs. Without it the server waits 250 ms and
 * replies `noaccess: 1`. The file methods need the DVR right even for images.
 */
export const METHOD_RIGHTS: Readonly<Record<HtspMethodName, MethodRight>> = {
  hello: 'none',
  authenticate: 'none',
  api: 'none',
  getDiskSpace: 'streaming',
  getSysTime: 'streaming',
  enableAsyncMetadata: 'streaming',
  getChannel: 'streaming',
  getEvent: 'streaming',
  getEvents: 'streaming',
  epgQuery: 'streaming',
  getEpgObject: 'streaming',
  getDvrConfigs: 'dvr',
  getProfiles: 'streaming',
  addDvrEntry: 'dvr',
  updateDvrEntry: 'dvr',
  stopDvrEntry: 'dvr',
  cancelDvrEntry: 'dvr',
  deleteDvrEntry: 'dvr',
  addAutorecEntry: 'dvr',
  updateAutorecEntry: 'dvr',
  deleteAutorecEntry: 'dvr',
  addTimerecEntry: 'dvr',
  updateTimerecEntry: 'dvr',
  deleteTimerecEntry: 'dvr',
  getDvrCutpoints: 'dvr',
  getTicket: 'streaming',
  subscribe: 'streaming',
  unsubscribe: 'streaming',
  subscriptionChangeWeight: 'streaming',
  subscriptionSkip: 'streaming',
  subscriptionSeek: 'streaming',
  subscriptionSpeed: 'streaming',
  subscriptionLive: 'streaming',
  subscriptionFilterStream: 'streaming',
  fileOpen: 'dvr',
  fileRead: 'dvr',
  fileClose: 'dvr',
  fileStat: 'dvr',
  fileSeek: 'dvr',
};

const ASYNC_METHOD_LIST = [
  'channelAdd',
  'channelUpdate',
  'channelDelete',
  'tagAdd',
  'tagUpdate',
  'tagDelete',
  'dvrEntryAdd',
  'dvrEntryUpdate',
  'dvrEntryDelete',
  'autorecEntryAdd',
  'autorecEntryUpdate',
  'autorecEntryDelete',
  'timerecEntryAdd',
  'timerecEntryUpdate',
  'timerecEntryDelete',
  'eventAdd',
  'eventUpdate',
  'eventDelete',
  'initialSyncCompleted',
  'subscriptionStart',
  'subscriptionStop',
  'subscriptionStatus',
  'subscriptionGrace',
  'subscriptionSkip',
  'subscriptionSpeed',
  'timeshiftStatus',
  'queueStatus',
  'signalStatus',
  'descrambleInfo',
  'muxpkt',
] as const satisfies readonly HtspAsyncMethod[];

/** All 30 async message names, in the reference's order. */
export const HTSP_ASYNC_METHODS: readonly HtspAsyncMethod[] = ASYNC_METHOD_LIST;

// ======================================================================
// Runtime field lists (kept in sync with the types by the checks below)
// ======================================================================

const CHANNEL_FIELDS = [
  'channelId',
  'channelIdStr',
  'channelNumber',
  'channelNumberMinor',
  'channelName',
  'channelIcon',
  'eventId',
  'nextEventId',
  'services',
  'tags',
] as const satisfies readonly (keyof Channel)[];

const TAG_FIELDS = [
  'tagId',
  'tagIdStr',
  'tagIndex',
  'tagName',
  'tagIcon',
  'tagTitledIcon',
  'members',
] as const satisfies readonly (keyof Tag)[];

const DVR_ENTRY_FIELDS = [
  'id',
  'idStr',
  'enabled',
  'channel',
  'channelName',
  'eventId',
  'autorecId',
  'timerecId',
  'start',
  'stop',
  'startExtra',
  'stopExtra',
  'retention',
  'removal',
  'priority',
  'contentType',
  'ageRating',
  'ratingLabel',
  'ratingIcon',
  'ratingAuthority',
  'ratingCountry',
  'playcount',
  'playposition',
  'title',
  'subtitle',
  'summary',
  'description',
  'seasonNumber',
  'seasonCount',
  'episodeNumber',
  'episodeCount',
  'partNumber',
  'partCount',
  'episode',
  'owner',
  'creator',
  'comment',
  'image',
  'fanartImage',
  'copyrightYear',
  'files',
  'path',
  'configId',
  'duplicate',
  'state',
  'error',
  'subscriptionError',
  'streamErrors',
  'dataErrors',
  'dataSize',
] as const satisfies readonly (keyof DvrEntry)[];

const AUTOREC_FIELDS = [
  'id',
  'enabled',
  'name',
  'title',
  'fulltext',
  'mergetext',
  'minDuration',
  'maxDuration',
  'retention',
  'removal',
  'daysOfWeek',
  'start',
  'startWindow',
  'approxTime',
  'priority',
  'startExtra',
  'stopExtra',
  'dupDetect',
  'maxCount',
  'broadcastType',
  'comment',
  'directory',
  'owner',
  'creator',
  'channel',
  'serieslinkUri',
  'configId',
] as const satisfies readonly (keyof AutorecEntry)[];

const TIMEREC_FIELDS = [
  'id',
  'enabled',
  'daysOfWeek',
  'retention',
  'removal',
  'priority',
  'start',
  'stop',
  'title',
  'name',
  'directory',
  'comment',
  'owner',
  'creator',
  'channel',
  'configId',
] as const satisfies readonly (keyof TimerecEntry)[];

const EVENT_FIELDS = [
  'eventId',
  'channelId',
  'start',
  'stop',
  'title',
  'subtitle',
  'summary',
  'description',
  'credits',
  'category',
  'keyword',
  'serieslinkUri',
  'episodeUri',
  'contentType',
  'ageRating',
  'ratingLabel',
  'ratingIcon',
  'ratingAuthority',
  'ratingCountry',
  'starRating',
  'copyrightYear',
  'firstAired',
  'isNew',
  'seasonNumber',
  'seasonCount',
  'episodeNumber',
  'episodeCount',
  'partNumber',
  'partCount',
  'episodeOnscreen',
  'image',
  'dvrId',
  'nextEventId',
] as const satisfies readonly (keyof EpgEvent)[];

const FIELD_TABLE = {
  channelAdd: ['method', ...CHANNEL_FIELDS],
  channelUpdate: ['method', ...CHANNEL_FIELDS],
  channelDelete: ['method', 'channelId'],
  tagAdd: ['method', ...TAG_FIELDS],
  tagUpdate: ['method', ...TAG_FIELDS],
  tagDelete: ['method', 'tagId'],
  dvrEntryAdd: ['method', ...DVR_ENTRY_FIELDS],
  dvrEntryUpdate: ['method', ...DVR_ENTRY_FIELDS],
  dvrEntryDelete: ['method', 'id'],
  autorecEntryAdd: ['method', ...AUTOREC_FIELDS],
  autorecEntryUpdate: ['method', ...AUTOREC_FIELDS],
  autorecEntryDelete: ['method', 'id'],
  timerecEntryAdd: ['method', ...TIMEREC_FIELDS],
  timerecEntryUpdate: ['method', ...TIMEREC_FIELDS],
  timerecEntryDelete: ['method', 'id'],
  eventAdd: ['method', ...EVENT_FIELDS],
  eventUpdate: ['method', ...EVENT_FIELDS],
  eventDelete: ['method', 'eventId'],
  initialSyncCompleted: ['method'],
  subscriptionStart: ['method', 'subscriptionId', 'streams', 'sourceinfo', 'meta'],
  subscriptionStop: ['method', 'subscriptionId', 'status', 'subscriptionError'],
  subscriptionStatus: ['method', 'subscriptionId', 'status', 'subscriptionError'],
  subscriptionGrace: ['method', 'subscriptionId', 'graceTimeout'],
  subscriptionSkip: ['method', 'subscriptionId', 'absolute', 'error', 'time', 'size'],
  subscriptionSpeed: ['method', 'subscriptionId', 'speed'],
  timeshiftStatus: ['method', 'subscriptionId', 'full', 'shift', 'start', 'end'],
  queueStatus: ['method', 'subscriptionId', 'packets', 'bytes', 'delay', 'Bdrops', 'Pdrops', 'Idrops', 'errors'],
  signalStatus: [
    'method',
    'subscriptionId',
    'feStatus',
    'feSNR',
    'feAbsoluteSNR',
    'feSignal',
    'feAbsoluteSignal',
    'feBER',
    'feUNC',
  ],
  descrambleInfo: [
    'method',
    'subscriptionId',
    'pid',
    'caid',
    'provid',
    'ecmtime',
    'hops',
    'cardsystem',
    'reader',
    'from',
    'protocol',
  ],
  muxpkt: ['method', 'subscriptionId', 'stream', 'frametype', 'com', 'pts', 'dts', 'duration', 'payload'],
} as const satisfies { readonly [M in HtspAsyncMethod]: readonly (keyof HtspAsyncMessages[M])[] };

/** The field names each async message type declares (including `method`). */
export const KNOWN_FIELDS: Readonly<Record<HtspAsyncMethod, readonly string[]>> = FIELD_TABLE;

const SUBFIELD_TABLE = {
  /** `services[]` of channel messages. */
  channelService: ['name', 'type', 'content', 'caid', 'caname', 'hbbtv', 'providername'],
  /** `files[]` of DVR entries. */
  dvrFile: ['filename', 'start', 'stop', 'size', 'info', 'fsid'],
  /** `files[].info[]` of DVR entries. */
  dvrFileStreamInfo: [
    'type',
    'language',
    'audio_type',
    'audio_version',
    'width',
    'height',
    'duration',
    'aspect_num',
    'aspect_den',
    'composition_id',
    'ancillary_id',
  ],
  /** `streams[]` of `subscriptionStart`. */
  stream: [
    'index',
    'type',
    'language',
    'width',
    'height',
    'duration',
    'aspect_num',
    'aspect_den',
    'audio_type',
    'audio_version',
    'channels',
    'rate',
    'rds_uecp',
    'composition_id',
    'ancillary_id',
  ],
  /** `sourceinfo` of `subscriptionStart`. */
  sourceInfo: [
    'adapter_uuid',
    'mux_uuid',
    'network_uuid',
    'adapter',
    'mux',
    'network',
    'network_type',
    'provider',
    'service',
    'satpos',
  ],
} as const satisfies {
  readonly channelService: readonly (keyof ChannelService)[];
  readonly dvrFile: readonly (keyof DvrFile)[];
  readonly dvrFileStreamInfo: readonly (keyof DvrFileStreamInfo)[];
  readonly stream: readonly (keyof Stream)[];
  readonly sourceInfo: readonly (keyof SourceInfo)[];
};

/** The field names declared for the maps nested inside async messages. */
export const KNOWN_SUBFIELDS: Readonly<Record<keyof typeof SUBFIELD_TABLE, readonly string[]>> = SUBFIELD_TABLE;

// Compile-time completeness checks (the `satisfies` clauses above only catch
// names that are not declared). Each `Unlisted*` type names what a list
// misses and must be `never`; a failing check reports those names.

type Unlisted<T, L extends readonly PropertyKey[]> = Exclude<keyof T, L[number]>;
type UnlistedFields = {
  [M in HtspAsyncMethod]: Unlisted<HtspAsyncMessages[M], (typeof FIELD_TABLE)[M]>;
}[HtspAsyncMethod];
type UnlistedSubfields =
  | Unlisted<ChannelService, typeof SUBFIELD_TABLE.channelService>
  | Unlisted<DvrFile, typeof SUBFIELD_TABLE.dvrFile>
  | Unlisted<DvrFileStreamInfo, typeof SUBFIELD_TABLE.dvrFileStreamInfo>
  | Unlisted<Stream, typeof SUBFIELD_TABLE.stream>
  | Unlisted<SourceInfo, typeof SUBFIELD_TABLE.sourceInfo>;
type UnlistedMethods = Exclude<HtspMethodName, (typeof METHOD_LIST)[number]>;
type UnlistedAsyncMethods = Exclude<HtspAsyncMethod, (typeof ASYNC_METHOD_LIST)[number]>;
type NeverOr<T> = [T] extends [never] ? true : T;

true satisfies NeverOr<UnlistedFields | UnlistedSubfields | UnlistedMethods | UnlistedAsyncMethods>;
