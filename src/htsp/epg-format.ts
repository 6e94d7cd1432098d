/**
 * Presentation of EPG data: DVB genre names and events in a form a flow (or a person) can read
 * without knowing the protocol — channel name and number next to the event, ISO times, duration.
 *
 * Genres: an event's `contentType` is the DVB content descriptor byte (EN 300 468, content
 * nibbles): the high nibble is the major category, the low nibble the sub-category. DVR entries
 * carry the major category only (0–15). Pure functions, no I/O.
 */
import type { Channel, EpgEvent } from './messages';

/** Major DVB categories 0x1–0xB by number; 0 is "undefined", 0xC–0xE reserved, 0xF user defined. */
export const GENRES: Readonly<Record<number, string>> = Object.freeze({
  1: 'Movie/Drama',
  2: 'News/Current affairs',
  3: 'Show/Game show',
  4: 'Sports',
  5: "Children's/Youth",
  6: 'Music/Ballet/Dance',
  7: 'Arts/Culture',
  8: 'Social/Political issues/Economics',
  9: 'Education/Science/Factual topics',
  10: 'Leisure hobbies',
  11: 'Special characteristics',
});

/** Sub-categories by full content byte; sub-category 0 of each major is "general". */
const SUB_GENRES: Readonly<Record<number, string>> = Object.freeze({
  0x11: 'Detective/Thriller',
  0x12: 'Adventure/Western/War',
  0x13: 'Science fiction/Fantasy/Horror',
  0x14: 'Comedy',
  0x15: 'Soap/Melodrama/Folklore',
  0x16: 'Romance',
  0x17: 'Serious/Classical/Religious/Historical',
  0x18: 'Adult movie/Drama',
  0x21: 'News/Weather report',
  0x22: 'News magazine',
  0x23: 'Documentary',
  0x24: 'Discussion/Interview/Debate',
  0x31: 'Game show/Quiz/Contest',
  0x32: 'Variety show',
  0x33: 'Talk show',
  0x41: 'Special events',
  0x42: 'Sports magazines',
  0x43: 'Football/Soccer',
  0x44: 'Tennis/Squash',
  0x45: 'Team sports',
  0x46: 'Athletics',
  0x47: 'Motor sport',
  0x48: 'Water sport',
  0x49: 'Winter sports',
  0x4a: 'Equestrian',
  0x4b: 'Martial sports',
  0x51: "Pre-school children's programmes",
  0x52: 'Entertainment for 6 to 14',
  0x53: 'Entertainment for 10 to 16',
  0x54: 'Informational/Educational/School',
  0x55: 'Cartoons/Puppets',
  0x61: 'Rock/Pop',
  0x62: 'Serious music/Classical music',
  0x63: 'Folk/Traditional music',
  0x64: 'Jazz',
  0x65: 'Musical/Opera',
  0x66: 'Ballet',
  0x71: 'Performing arts',
  0x72: 'Fine arts',
  0x73: 'Religion',
  0x74: 'Popular culture/Traditional arts',
  0x75: 'Literature',
  0x76: 'Film/Cinema',
  0x77: 'Experimental film/Video',
  0x78: 'Broadcasting/Press',
  0x79: 'New media',
  0x7a: 'Arts/Culture magazines',
  0x7b: 'Fashion',
  0x81: 'Magazines/Reports/Documentary',
  0x82: 'Economics/Social advisory',
  0x83: 'Remarkable people',
  0x91: 'Nature/Animals/Environment',
  0x92: 'Technology/Natural sciences',
  0x93: 'Medicine/Physiology/Psychology',
  0x94: 'Foreign countries/Expeditions',
  0x95: 'Social/Spiritual sciences',
  0x96: 'Further education',
  0x97: 'Languages',
  0xa1: 'Tourism/Travel',
  0xa2: 'Handicraft',
  0xa3: 'Motoring',
  0xa4: 'Fitness and health',
  0xa5: 'Cooking',
  0xa6: 'Advertisement/Shopping',
  0xa7: 'Gardening',
  0xb0: 'Original language',
  0xb1: 'Black and white',
  0xb2: 'Unpublished',
  0xb3: 'Live broadcast',
  0xb4: 'Plano-stereoscopic',
  0xb5: 'Local or regional',
});

/** Words people use for a category that are not part of its DVB name. */
const GENRE_ALIASES: Readonly<Record<string, number>> = Object.freeze({
  film: 1,
  films: 1,
  movies: 1,
  kids: 5,
  children: 5,
  childrens: 5,
  arts: 7,
  hobby: 10,
});

/** The major category's name for an event's content byte (or a DVR entry's 0–15 value with `majorOnly`). */
export function genreName(contentType: number | undefined, majorOnly = false): string | undefined {
  if (contentType === undefined || !Number.isInteger(contentType) || contentType < 0 || contentType > 255) return undefined;
  return GENRES[majorOnly ? contentType : contentType >> 4];
}

/** The sub-category's name for a full content byte; undefined for "general" and unknown ones. */
export function subGenreName(contentType: number | undefined): string | undefined {
  if (contentType === undefined || !Number.isInteger(contentType)) return undefined;
  return SUB_GENRES[contentType];
}

function normalise(text: string): string {
  return text
    .toLowerCase()
    .replace(/['’]/g, '')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

/** Name → major category, built once: full names, each part between slashes, and aliases. */
const GENRE_WORDS: ReadonlyMap<string, number> = (() => {
  const words = new Map<string, number>();
  for (const [num, name] of Object.entries(GENRES)) {
    const n = Number(num);
    words.set(normalise(name), n);
    for (const part of name.split('/')) if (!words.has(normalise(part))) words.set(normalise(part), n);
  }
  for (const [word, n] of Object.entries(GENRE_ALIASES)) words.set(word, n);
  return words;
})();

/**
 * A genre as given by a person or a flow: a major category 0–15, a full content byte 16–255
 * (as a number, or text such as "0x43"), or a name — the DVB name ("Movie/Drama"), one of its
 * parts ("drama", "current affairs") or a common word ("kids"), case-insensitive, plural or not.
 * Returns what `EpgSearch.contentType` takes, or undefined when the value names no genre.
 */
export function parseGenre(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 && value <= 255 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (!text) return undefined;
  if (/^(0x[0-9a-f]{1,2}|\d{1,3})$/i.test(text)) return parseGenre(Number(text));
  const key = normalise(text);
  const found = GENRE_WORDS.get(key) ?? (key.endsWith('s') ? GENRE_WORDS.get(key.slice(0, -1)) : GENRE_WORDS.get(`${key}s`));
  return found;
}

/** "3", "3.1", or undefined for a channel without a number. */
export function channelNumberText(channel: Pick<Channel, 'channelNumber' | 'channelNumberMinor'>): string | undefined {
  const major = channel.channelNumber;
  if (!major) return undefined;
  return channel.channelNumberMinor ? `${major}.${channel.channelNumberMinor}` : String(major);
}

/** ISO 8601 (UTC) for UNIX seconds. */
export function isoTime(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString();
}

/** An event with what a flow usually needs next to it. All protocol fields are kept as they are. */
export type FriendlyEvent = EpgEvent & {
  channelName?: string;
  channelNumber?: string;
  /** `start` as ISO 8601 (UTC). */
  startIso: string;
  /** `stop` as ISO 8601 (UTC). */
  stopIso: string;
  /** Seconds. */
  duration: number;
  /** Name of the major DVB category. */
  genre?: string;
  /** Name of the DVB sub-category, when it has one. */
  subGenre?: string;
  /** Running events only (when `now` is given): percent elapsed, 0–100. */
  progress?: number;
  /** Running events only: seconds left. */
  remaining?: number;
};

/**
 * A deep copy of a decoded HTSMSG value made of plain data, so that a flow changing a message
 * cannot change the cache the value came from. 64-bit integers beyond 2^53 become text, because
 * Node-RED's debug sidebar and JSON cannot show a bigint.
 */
export function plainCopy<T>(value: T): T {
  return copyValue(value) as T;
}

function copyValue(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(copyValue);
  if (Buffer.isBuffer(v)) return Buffer.from(v);
  if (Object.getPrototypeOf(v) !== Object.prototype && Object.getPrototypeOf(v) !== null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = copyValue(x);
  return out;
}

/**
 * `event` with its channel's name and number, ISO times, duration and genre names. With `now`
 * (UNIX seconds) a running event also gets `progress` and `remaining`.
 */
export function friendlyEvent(event: EpgEvent, channel?: Channel, now?: number): FriendlyEvent {
  const out: FriendlyEvent = {
    ...plainCopy(event),
    startIso: isoTime(event.start),
    stopIso: isoTime(event.stop),
    duration: Math.max(0, event.stop - event.start),
  };
  if (channel) {
    out.channelName = channel.channelName;
    const number = channelNumberText(channel);
    if (number !== undefined) out.channelNumber = number;
  }
  const genre = genreName(event.contentType);
  if (genre) out.genre = genre;
  const sub = subGenreName(event.contentType);
  if (sub) out.subGenre = sub;
  if (now !== undefined && event.start <= now && now < event.stop) {
    const length = event.stop - event.start;
    out.progress = length > 0 ? Math.min(100, Math.max(0, Math.round(((now - event.start) / length) * 100))) : 0;
    out.remaining = event.stop - now;
  }
  return out;
}
