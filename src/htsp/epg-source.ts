/**
 * Where EPG answers come from: the session's live cache, or — when the session has EPG sync off
 * and the cache holds no events — the server itself (`getEvents`, `epgQuery`).
 *
 * Both sources answer the same questions with the same shapes and the same ordering, so that a
 * caller does not change when someone switches EPG sync off to save memory. The RPC source cannot
 * return events that already ended: the server keeps none.
 */
import type { EpgSearch } from './cache';
import type { Channel, EpgEvent } from './messages';
import type { HtspSession } from './session';

export interface NowNext {
  now?: EpgEvent;
  next?: EpgEvent;
}

export interface EpgSource {
  /** `cache` or `rpc`, for the output message and for tests. */
  readonly kind: 'cache' | 'rpc';
  /** The server's clock, epoch seconds. */
  now(): Promise<number>;
  nowNext(channel: Channel, at: number): Promise<NowNext>;
  /** Now/next of every channel that has any, keyed by channel id. */
  nowNextAll(channels: readonly Channel[], at: number): Promise<Map<number, NowNext>>;
  /** Events of a channel overlapping [from, to), in start order. */
  window(channel: Channel, from: number, to: number): Promise<EpgEvent[]>;
  /** Matching events in (start, eventId) order. */
  search(q: EpgSearch): Promise<EpgEvent[]>;
}

/**
 * The source for a session, given whether the session syncs the EPG (`SessionOptions.epg`) and
 * for how many days ahead (`epgDays`, 0 = everything the server has).
 */
export function epgSource(session: HtspSession, epgSync: boolean, epgDays = 0): EpgSource {
  return epgSync ? new CacheSource(session, epgDays) : new RpcSource(session);
}

function byStart(a: EpgEvent, b: EpgEvent): number {
  return a.start - b.start || a.eventId - b.eventId;
}

/** The running event at `at` and the one after it, from one channel's events. */
export function pickNowNext(events: readonly EpgEvent[], at: number): NowNext {
  const sorted = [...events].sort(byStart);
  const i = sorted.findIndex((e) => e.stop > at);
  if (i < 0) return {};
  const first = sorted[i];
  if (first.start <= at) return { now: first, next: sorted[i + 1] };
  return { next: first };
}

class CacheSource implements EpgSource {
  readonly kind = 'cache' as const;
  private readonly rpc: RpcSource;
  constructor(
    private readonly session: HtspSession,
    private readonly days: number,
  ) {
    this.rpc = new RpcSource(session);
  }

  now(): Promise<number> {
    return Promise.resolve(this.session.serverNow());
  }

  nowNext(channel: Channel, at: number): Promise<NowNext> {
    return Promise.resolve(this.session.nowNext(channel.channelId, at));
  }

  nowNextAll(channels: readonly Channel[], at: number): Promise<Map<number, NowNext>> {
    const out = new Map<number, NowNext>();
    for (const ch of channels) {
      const nn = this.session.nowNext(ch.channelId, at);
      if (nn.now || nn.next) out.set(ch.channelId, nn);
    }
    return Promise.resolve(out);
  }

  window(channel: Channel, from: number, to: number): Promise<EpgEvent[]> {
    // The server only streams events up to `days` ahead; a window reaching past that would
    // look empty in the cache although the server knows the programmes.
    if (this.days > 0 && to > this.session.serverNow() + this.days * 86400) return this.rpc.window(channel, from, to);
    return Promise.resolve(this.session.cache.eventsInWindow(channel.channelId, from, to));
  }

  search(q: EpgSearch): Promise<EpgEvent[]> {
    return Promise.resolve(this.session.searchEpg(q));
  }
}

/** Characters that have a meaning in a regular expression (JavaScript's and POSIX ERE alike). */
function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

class RpcSource implements EpgSource {
  readonly kind = 'rpc' as const;
  constructor(private readonly session: HtspSession) {}

  /** Asked each time: a server's clock (or a simulator's) can be far from ours. */
  async now(): Promise<number> {
    const reply = await this.session.call('getSysTime');
    return typeof reply.time === 'number' ? reply.time : this.session.serverNow();
  }

  async nowNext(channel: Channel, at: number): Promise<NowNext> {
    // The server starts at the channel's running event (or the next one in a gap), so three
    // events cover now, next, and one that ended between its clock and ours.
    const reply = await this.session.call('getEvents', { channelId: channel.channelId, numFollowing: 3 });
    return pickNowNext(reply.events ?? [], at);
  }

  async nowNextAll(channels: readonly Channel[], at: number): Promise<Map<number, NowNext>> {
    // One request for all channels; the server applies `numFollowing` per channel from each
    // channel's first stored event, which a few extra events cover.
    const reply = await this.session.call('getEvents', { numFollowing: 4 });
    const grouped = new Map<number, EpgEvent[]>();
    for (const ev of reply.events ?? []) {
      if (ev.channelId === undefined) continue;
      let list = grouped.get(ev.channelId);
      if (!list) grouped.set(ev.channelId, (list = []));
      list.push(ev);
    }
    const wanted = new Set(channels.map((c) => c.channelId));
    const out = new Map<number, NowNext>();
    for (const [id, list] of grouped) {
      if (!wanted.has(id)) continue;
      const nn = pickNowNext(list, at);
      if (nn.now || nn.next) out.set(id, nn);
    }
    return out;
  }

  async window(channel: Channel, from: number, to: number): Promise<EpgEvent[]> {
    const reply = await this.session.call('getEvents', { channelId: channel.channelId, maxTime: to });
    return (reply.events ?? []).filter((e) => e.stop > from && e.start < to).sort(byStart);
  }

  async search(q: EpgSearch): Promise<EpgEvent[]> {
    const text = q.fullText ?? q.title;
    const query = text === undefined ? '' : text instanceof RegExp ? text.source : escapeRegex(text);
    const ct = q.contentType;
    const reply = await this.session.call('epgQuery', {
      query,
      full: 1,
      ...(q.fullText !== undefined ? { fulltext: 1 } : {}),
      ...(q.channelId !== undefined ? { channelId: q.channelId } : {}),
      // The server matches a whole category when the sub-category nibble is 0.
      ...(ct !== undefined ? { contentType: ct < 16 ? ct << 4 : ct } : {}),
    });
    // Neither `events` nor `eventIds` when nothing matched (G21).
    const events = (reply.events ?? []).filter((e) => {
      if (q.from !== undefined && e.stop <= q.from) return false;
      if (q.to !== undefined && e.start >= q.to) return false;
      if (ct !== undefined && ct >= 16 && e.contentType !== ct) return false;
      if (ct !== undefined && ct < 16 && (e.contentType === undefined || e.contentType >> 4 !== ct)) return false;
      return true;
    });
    events.sort(byStart);
    if (q.limit !== undefined && q.limit >= 0 && events.length > q.limit) events.length = q.limit;
    return events;
  }
}
