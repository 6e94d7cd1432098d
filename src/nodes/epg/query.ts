/**
 * The EPG node's questions: what a message asks (parsed from the node's settings and the
 * message) and how the answer is put together. Independent of Node-RED, so that it can be
 * reasoned about and tested on its own.
 */
import type { Channel, EpgEvent, EpgSearch, EpgSource, HtspSession } from '../../htsp';
import { GENRES, channelNumberText, friendlyEvent, parseGenre, type FriendlyEvent } from '../../htsp/epg-format';
import { NodeError, badInput, describe, parseBoolean, parseCount, parseTime, resolveChannel } from '../shared';

export const OPERATIONS = ['nownext', 'schedule', 'search'] as const;
export type Operation = (typeof OPERATIONS)[number];

/** What one message asks for, after the node's settings and the message are combined. */
export type EpgRequest =
  | { op: 'nownext'; channel?: number | string }
  | { op: 'schedule'; channel: number | string; from?: number; to?: number; hours: number }
  | {
      op: 'search';
      /** Title search (text or regular expression). */
      title?: string | RegExp;
      /** Full-text search (text or regular expression). */
      text?: string | RegExp;
      genre?: number;
      channel?: number | string;
      from?: number;
      to?: number;
      /** 0 = no limit. */
      limit: number;
    };

/** An event as the node outputs it; now/next answers say which of the two it is. */
export type EpgResultEvent = FriendlyEvent & { slot?: 'now' | 'next' };

/** "now/next", "Now-Next", "nowNext" … all name the same operation. */
export function parseOperation(value: unknown, source: string): Operation {
  if (typeof value !== 'string' || value.trim() === '') {
    throw badInput(`no operation: set one in the node, or send ${source} as one of ${OPERATIONS.join(', ')}`);
  }
  const key = value.toLowerCase().replace(/[^a-z]/g, '');
  const found = OPERATIONS.find((op) => op === key);
  if (!found) throw badInput(`unknown operation ${describe(value)} in ${source}: use one of ${OPERATIONS.join(', ')}`);
  return found;
}

/** A genre from a flow value, or a bad-input error that lists the names the node knows. */
export function genreOf(value: unknown): number {
  const g = parseGenre(value);
  if (g === undefined) {
    throw badInput(`unknown genre ${describe(value)}: use a DVB content code (0–15, or 16–255 for a sub-genre) or a name: ${Object.values(GENRES).join(', ')}`);
  }
  return g;
}

/** Title or full text: a RegExp stays one; text becomes one only when `regex` is set. */
export function searchPattern(value: unknown, regex: boolean, field: string): string | RegExp | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  // Global and sticky flags make `test` depend on the previous call.
  if (value instanceof RegExp) return new RegExp(value.source, value.flags.replace(/[gy]/g, ''));
  if (typeof value !== 'string') throw badInput(`${field} must be text or a regular expression, got ${describe(value)}`);
  if (!regex) return value;
  try {
    // Case-insensitive, as Tvheadend matches its own EPG searches.
    return new RegExp(value, 'i');
  } catch (err) {
    throw badInput(`${field} is not a valid regular expression: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Channel order as in a TV's list: by number (major, minor), channels without a number last, then by name. */
export function channelOrder(a: Channel, b: Channel): number {
  const na = a.channelNumber || Infinity;
  const nb = b.channelNumber || Infinity;
  if (na !== nb) return na < nb ? -1 : 1;
  const ma = a.channelNumberMinor ?? 0;
  const mb = b.channelNumberMinor ?? 0;
  if (ma !== mb) return ma - mb;
  return (a.channelName ?? '').localeCompare(b.channelName ?? '');
}

export interface EpgAnswer {
  events: EpgResultEvent[];
  /** The channel the question named, if it named one. */
  channel?: { id: number; name: string; number?: string };
}

function channelInfo(ch: Channel): NonNullable<EpgAnswer['channel']> {
  const number = channelNumberText(ch);
  return { id: ch.channelId, name: ch.channelName, ...(number !== undefined ? { number } : {}) };
}

function nowNextEvents(ch: Channel | undefined, nn: { now?: EpgEvent; next?: EpgEvent }, at: number): EpgResultEvent[] {
  const out: EpgResultEvent[] = [];
  if (nn.now) out.push({ ...friendlyEvent(nn.now, ch, at), slot: 'now' });
  if (nn.next) out.push({ ...friendlyEvent(nn.next, ch), slot: 'next' });
  return out;
}

/** Runs one request against a source. Channel names are resolved from the session's channel list. */
export async function answer(session: HtspSession, source: EpgSource, req: EpgRequest): Promise<EpgAnswer> {
  const channelOf = (id: number | undefined): Channel | undefined => (id === undefined ? undefined : session.cache.channelsById.get(id));

  if (req.op === 'nownext') {
    if (req.channel !== undefined) {
      const ch = resolveChannel(session, req.channel);
      const at = await source.now();
      return { events: nowNextEvents(ch, await source.nowNext(ch, at), at), channel: channelInfo(ch) };
    }
    const channels = session.cache.channels().sort(channelOrder);
    const at = await source.now();
    const all = await source.nowNextAll(channels, at);
    const events: EpgResultEvent[] = [];
    for (const ch of channels) {
      const nn = all.get(ch.channelId);
      if (nn) events.push(...nowNextEvents(ch, nn, at));
    }
    return { events };
  }

  if (req.op === 'schedule') {
    const ch = resolveChannel(session, req.channel);
    const from = req.from ?? (await source.now());
    const to = req.to ?? from + Math.round(req.hours * 3600);
    if (to <= from) throw badInput('the time window is empty: "to" must be after "from"');
    const list = await source.window(ch, from, to);
    return { events: list.map((e) => friendlyEvent(e, ch)), channel: channelInfo(ch) };
  }

  if (req.title !== undefined && req.text !== undefined) {
    throw badInput('search by title or by full text, not both in one message');
  }
  if (req.title === undefined && req.text === undefined && req.genre === undefined) {
    throw badInput('nothing to search for: give a title, a text or a genre');
  }
  const ch = req.channel !== undefined ? resolveChannel(session, req.channel) : undefined;
  const q: EpgSearch = { from: req.from ?? (await source.now()) };
  if (req.to !== undefined) q.to = req.to;
  if (req.title !== undefined) q.title = req.title;
  if (req.text !== undefined) q.fullText = req.text;
  if (req.genre !== undefined) q.contentType = req.genre;
  if (ch) q.channelId = ch.channelId;
  if (req.limit > 0) q.limit = req.limit;
  const found = await source.search(q);
  return {
    events: found.map((e) => friendlyEvent(e, channelOf(e.channelId))),
    ...(ch ? { channel: channelInfo(ch) } : {}),
  };
}

/** The node's settings after `tvheadend-epg`'s editor defaults are applied. */
export interface EpgSettings {
  /** '' = from the message. */
  operation: Operation | '';
  hours: number;
  searchIn: 'title' | 'text';
  regex: boolean;
  genre: number | undefined;
  limit: number;
}

/** Values a message supplies through the node's typedInputs (already evaluated). */
export interface TypedValues {
  channel: unknown;
  query: unknown;
}

/**
 * Combines the node's settings, its typedInput values and `msg.payload` parameters (which win)
 * into one request. `topic` is `msg.topic`, used for the operation when neither the node nor the
 * payload sets one.
 */
export function buildRequest(settings: EpgSettings, typed: TypedValues, params: Record<string, unknown>, topic: unknown): EpgRequest {
  const has = (k: string): boolean => params[k] !== undefined;
  const op: Operation = settings.operation
    ? settings.operation
    : has('operation')
      ? parseOperation(params.operation, 'msg.payload.operation')
      : parseOperation(topic, 'msg.topic');

  const rawChannel = has('channel') ? params.channel : typed.channel;
  let channel: number | string | undefined;
  if (rawChannel !== undefined && rawChannel !== null && rawChannel !== '') {
    if (typeof rawChannel === 'number' && Number.isFinite(rawChannel)) channel = rawChannel;
    else if (typeof rawChannel === 'string' && rawChannel.trim() !== '') channel = rawChannel.trim();
    else throw badInput(`the channel must be a name, number or id, got ${describe(rawChannel)}`);
  }
  const from = has('from') ? parseTime(params.from, 'msg.payload.from') : undefined;
  const to = has('to') ? parseTime(params.to, 'msg.payload.to') : undefined;

  switch (op) {
    case 'nownext':
      return channel === undefined ? { op } : { op, channel };
    case 'schedule': {
      if (channel === undefined) throw badInput('the schedule needs a channel: set one in the node or send msg.payload.channel');
      const hours = has('hours') ? parseCount(params.hours, 'msg.payload.hours') : settings.hours;
      if (from === undefined && to === undefined && hours <= 0) throw badInput('the schedule needs a time window: hours must be more than 0');
      return { op, channel, hours, ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) };
    }
    case 'search': {
      const regex = has('regex') ? parseBoolean(params.regex, 'msg.payload.regex') : settings.regex;
      let title: string | RegExp | undefined;
      let text: string | RegExp | undefined;
      if (has('title') || has('text')) {
        title = searchPattern(params.title, regex, 'msg.payload.title');
        text = searchPattern(params.text, regex, 'msg.payload.text');
      } else if (settings.searchIn === 'text') {
        text = searchPattern(typed.query, regex, 'the search text');
      } else {
        title = searchPattern(typed.query, regex, 'the search title');
      }
      const genre = has('genre') ? (params.genre === '' || params.genre === null ? undefined : genreOf(params.genre)) : settings.genre;
      const limit = has('limit') ? parseCount(params.limit, 'msg.payload.limit') : settings.limit;
      return {
        op,
        limit: Math.floor(limit),
        ...(title !== undefined ? { title } : {}),
        ...(text !== undefined ? { text } : {}),
        ...(genre !== undefined ? { genre } : {}),
        ...(channel !== undefined ? { channel } : {}),
        ...(from !== undefined ? { from } : {}),
        ...(to !== undefined ? { to } : {}),
      };
    }
    default:
      throw new NodeError('bad-input', `unknown operation ${String(op)}`);
  }
}
