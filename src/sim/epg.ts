/**
 * Rolling EPG: every channel has back-to-back programmes from the running one
 * to `hours` ahead. As the clock moves, finished programmes go and new ones are
 * appended at the far end, which is what a live Tvheadend EPG looks like.
 */
import { Rng, type Genre, type SimChannel, type SimEvent, type SimEventSpec } from './data';

interface Programme {
  title: string;
  /** DVB content byte: high nibble major category, low nibble sub-category. */
  contentType: number;
  subtitles?: string[];
  description: string;
  movie?: boolean;
  series?: boolean;
}

const CATALOG: Record<Genre, Programme[]> = {
  news: [
    { title: 'World Report', contentType: 0x21, description: 'Headlines from around the globe.', subtitles: ['Morning Edition', 'Evening Edition'] },
    { title: 'Weather Update', contentType: 0x21, description: 'Sunny with a chance of colour bars.' },
    { title: 'Business Today', contentType: 0x24, description: 'Markets, money and bitrates.', subtitles: ['Markets', 'Interviews'] },
    { title: 'Tech Talk', contentType: 0x91, description: 'A weekly look at streaming protocols.', series: true },
    { title: 'Late Night Lab', contentType: 0x90, description: 'Experiments nobody asked for, explained slowly.', series: true },
  ],
  movies: [
    { title: 'The Test Pattern Strikes Back', contentType: 0x10, description: 'A synthetic video signal fights for airtime.', movie: true },
    { title: 'Colour Bars: Origins', contentType: 0x10, description: 'How the bars got their colours.', movie: true },
    { title: 'Return of the Packet', contentType: 0x11, description: 'A lost packet finds its way home.', movie: true },
    { title: 'Buffer Overflow', contentType: 0x12, description: 'Too much data, too little time.', movie: true },
  ],
  sports: [
    { title: 'Match Day Live', contentType: 0x43, description: 'Live football from the loopback league.', subtitles: ['First Half', 'Second Half'] },
    { title: 'Sports Roundup', contentType: 0x40, description: 'All results of the day.' },
    { title: 'Tennis: Final', contentType: 0x44, description: 'Championship final, centre court.' },
  ],
  kids: [
    { title: 'Pixel Pals', contentType: 0x55, description: 'The pixels learn to share a frame.', series: true },
    { title: 'Story Time', contentType: 0x51, description: 'Bedtime stories read aloud.', series: true },
  ],
  docs: [
    { title: 'Night Sky', contentType: 0x92, description: 'What to look for above you this month.', series: true },
    { title: 'Deep Ocean', contentType: 0x91, description: 'Life far below the surface.', series: true },
    { title: 'History of Broadcasting', contentType: 0x93, description: 'From the first transmitter to HTSP.', series: true },
  ],
  music: [
    { title: 'Sine Wave Serenade', contentType: 0x60, description: 'Four hundred and forty hertz, live.' },
    { title: 'Top Forty', contentType: 0x61, description: 'The charts of the week.' },
    { title: 'Jazz at Night', contentType: 0x64, description: 'Smooth sounds until the morning.' },
  ],
  entertainment: [
    { title: 'Comedy Hour', contentType: 0x14, description: 'Jokes about packet loss.', subtitles: ['Stand-up Night', 'Sketch Special'], series: true },
    { title: 'Quiz Master', contentType: 0x31, description: 'Contestants answer questions about codecs.', series: true },
    { title: 'Loopback Detectives', contentType: 0x10, description: 'Two detectives solve crimes at 127.0.0.1.', series: true },
  ],
  radio: [
    { title: 'Morning Show', contentType: 0x60, description: 'Music and chat to start the day.' },
    { title: 'Classical Hour', contentType: 0x63, description: 'Orchestral works.' },
  ],
};

const PEOPLE = ['Ada Stream', 'Max Bitrate', 'Iris Frame', 'Otto Codec', 'Lena Pixel', 'Sam Mux'];
const ROLES = ['actor', 'actor', 'director', 'writer', 'presenter', 'guest'];

export interface EpgRollResult {
  removed: SimEvent[];
  added: SimEvent[];
}

interface ChannelState {
  events: SimEvent[];
  /** End of the last generated programme. */
  generatedUntil: number;
  rng: Rng;
  airings: Map<string, number>;
  genre: Genre;
}

export class EpgStore {
  readonly byId = new Map<number, SimEvent>();
  private readonly channels = new Map<number, ChannelState>();
  private nextId = 1;
  private imageSeq = 1;

  constructor(
    private readonly seed: number,
    public hours: number,
    public eventMinutes: number,
  ) {}

  get size(): number {
    return this.byId.size;
  }

  /** Start (or restart) a channel's schedule at `now`. */
  addChannel(ch: SimChannel, now: number): SimEvent[] {
    const rng = new Rng((this.seed * 7919) ^ ch.id);
    const slot = Math.max(60, Math.round(this.eventMinutes * 60));
    // Stagger channels so their programmes do not all change at the same second.
    const offset = rng.int(0, 3) * Math.round(slot / 4);
    const st: ChannelState = {
      events: [],
      generatedUntil: Math.floor(now / slot) * slot - offset,
      rng,
      airings: new Map(),
      genre: ch.genre,
    };
    this.channels.set(ch.id, st);
    const added = this.generate(ch.id, st, now + this.hours * 3600);
    this.dropFinished(st, now);
    return added.filter((e) => this.byId.has(e.id));
  }

  removeChannel(channelId: number): SimEvent[] {
    const st = this.channels.get(channelId);
    if (!st) return [];
    this.channels.delete(channelId);
    for (const e of st.events) this.byId.delete(e.id);
    return st.events;
  }

  channelEvents(channelId: number): readonly SimEvent[] {
    return this.channels.get(channelId)?.events ?? [];
  }

  channelIds(): IterableIterator<number> {
    return this.channels.keys();
  }

  /** Delete what has finished, append what came into range. */
  roll(now: number): EpgRollResult {
    const removed: SimEvent[] = [];
    const added: SimEvent[] = [];
    for (const [id, st] of this.channels) {
      removed.push(...this.dropFinished(st, now));
      added.push(...this.generate(id, st, now + this.hours * 3600));
    }
    // A big clock jump can append programmes that are already over.
    if (added.length > 0) {
      for (const st of this.channels.values()) this.dropFinished(st, now);
      const gone = added.filter((e) => !this.byId.has(e.id));
      if (gone.length > 0) {
        const goneSet = new Set(gone);
        return { removed, added: added.filter((e) => !goneSet.has(e)) };
      }
    }
    return { removed, added };
  }

  nowNext(channelId: number, now: number): { eventId: number; nextEventId: number } {
    const evs = this.channels.get(channelId)?.events;
    if (!evs || evs.length === 0) return { eventId: 0, nextEventId: 0 };
    let i = 0;
    while (i < evs.length && evs[i].stop <= now) i++;
    if (i >= evs.length) return { eventId: 0, nextEventId: 0 };
    if (evs[i].start <= now) return { eventId: evs[i].id, nextEventId: evs[i + 1]?.id ?? 0 };
    return { eventId: 0, nextEventId: evs[i].id };
  }

  /** Events of a channel with `from < start <= to`. */
  startingIn(channelId: number, from: number, to: number): SimEvent[] {
    const evs = this.channels.get(channelId)?.events ?? [];
    let lo = 0;
    let hi = evs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (evs[mid].start <= from) lo = mid + 1;
      else hi = mid;
    }
    const out: SimEvent[] = [];
    for (let i = lo; i < evs.length && evs[i].start <= to; i++) out.push(evs[i]);
    return out;
  }

  nextOf(ev: SimEvent): SimEvent | undefined {
    const evs = this.channels.get(ev.channelId)?.events;
    if (!evs) return undefined;
    const i = this.indexOf(evs, ev);
    return i >= 0 ? evs[i + 1] : undefined;
  }

  /** Events of a channel starting at or after `ev` (inclusive). */
  following(ev: SimEvent): SimEvent[] {
    const evs = this.channels.get(ev.channelId)?.events ?? [];
    const i = this.indexOf(evs, ev);
    return i >= 0 ? evs.slice(i) : [];
  }

  insert(spec: SimEventSpec): SimEvent {
    const ev: SimEvent = { ...spec, id: this.nextId++ };
    this.byId.set(ev.id, ev);
    let st = this.channels.get(ev.channelId);
    if (!st) {
      st = { events: [], generatedUntil: ev.stop, rng: new Rng(ev.id), airings: new Map(), genre: 'entertainment' };
      this.channels.set(ev.channelId, st);
    }
    const evs = st.events;
    let i = evs.length;
    while (i > 0 && evs[i - 1].start > ev.start) i--;
    evs.splice(i, 0, ev);
    return ev;
  }

  update(id: number, patch: Partial<Omit<SimEvent, 'id' | 'channelId'>>): SimEvent | undefined {
    const ev = this.byId.get(id);
    if (!ev) return undefined;
    Object.assign(ev, patch);
    if (patch.start !== undefined) {
      const evs = this.channels.get(ev.channelId)?.events;
      evs?.sort((a, b) => a.start - b.start);
    }
    return ev;
  }

  remove(id: number): SimEvent | undefined {
    const ev = this.byId.get(id);
    if (!ev) return undefined;
    this.byId.delete(id);
    const evs = this.channels.get(ev.channelId)?.events;
    if (evs) {
      const i = this.indexOf(evs, ev);
      if (i >= 0) evs.splice(i, 1);
    }
    return ev;
  }

  private indexOf(evs: SimEvent[], ev: SimEvent): number {
    let lo = 0;
    let hi = evs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (evs[mid].start < ev.start) lo = mid + 1;
      else hi = mid - 1;
    }
    for (let i = Math.max(0, lo - 1); i < evs.length && evs[i].start <= ev.start; i++) if (evs[i] === ev) return i;
    return evs.indexOf(ev);
  }

  private dropFinished(st: ChannelState, now: number): SimEvent[] {
    let n = 0;
    while (n < st.events.length && st.events[n].stop <= now) n++;
    if (n === 0) return [];
    const gone = st.events.splice(0, n);
    for (const e of gone) this.byId.delete(e.id);
    return gone;
  }

  private generate(channelId: number, st: ChannelState, until: number): SimEvent[] {
    const out: SimEvent[] = [];
    const slot = Math.max(60, Math.round(this.eventMinutes * 60));
    // Factors averaging 1, so that `eventMinutes` predicts the EPG size.
    const factors = [0.5, 1, 1, 1.5];
    while (st.generatedUntil < until) {
      const start = st.generatedUntil;
      const stop = start + Math.max(60, Math.round((slot * st.rng.pick(factors)) / 60) * 60);
      const ev = this.makeEvent(channelId, st, start, stop);
      st.events.push(ev);
      this.byId.set(ev.id, ev);
      out.push(ev);
      st.generatedUntil = stop;
    }
    return out;
  }

  private makeEvent(channelId: number, st: ChannelState, start: number, stop: number): SimEvent {
    const rng = st.rng;
    const p = rng.pick(CATALOG[st.genre]);
    const airing = (st.airings.get(p.title) ?? 0) + 1;
    st.airings.set(p.title, airing);
    const season = p.movie ? undefined : 1 + ((channelId + p.title.length) % 5);
    const episode = p.movie ? undefined : airing;
    const ev: SimEvent = {
      id: this.nextId++,
      channelId,
      start,
      stop,
      title: p.title,
      description: `${p.description} (Airing ${airing}.)`,
      contentType: p.contentType,
      starRating: rng.int(1, 5) * 20,
    };
    if (p.subtitles) ev.subtitle = rng.pick(p.subtitles);
    if (rng.chance(0.3)) ev.summary = p.description;
    if (season !== undefined && episode !== undefined) {
      ev.seasonNumber = season;
      ev.episodeNumber = episode;
      ev.episodeOnscreen = `S${String(season).padStart(2, '0')}E${String(episode).padStart(2, '0')}`;
      if (p.series) ev.serieslinkUri = `crid://sim.invalid/${encodeURIComponent(p.title.toLowerCase())}`;
      if (rng.chance(0.2)) {
        ev.partNumber = 1;
        ev.partCount = 1;
      }
    }
    if (airing === 1) ev.isNew = true;
    if (p.movie) {
      ev.copyrightYear = 1970 + rng.int(0, 55);
      ev.ageRating = rng.pick([0, 6, 12, 16]) || undefined;
    }
    if (p.movie || rng.chance(0.15)) {
      const credits: Record<string, string> = {};
      const n = rng.int(1, 3);
      for (let i = 0; i < n; i++) credits[rng.pick(PEOPLE)] = rng.pick(ROLES);
      ev.credits = credits;
    }
    if (rng.chance(0.4)) ev.category = [p.title.includes('Live') ? 'Sports' : CATEGORY[st.genre]];
    if (rng.chance(0.2)) ev.keyword = [p.title.split(' ')[0].toLowerCase()];
    if (rng.chance(0.25)) ev.image = `imagecache/${this.imageSeq++}`;
    return ev;
  }
}

const CATEGORY: Record<Genre, string> = {
  news: 'News',
  movies: 'Movie',
  sports: 'Sports',
  kids: 'Children',
  docs: 'Documentary',
  music: 'Music',
  entertainment: 'Entertainment',
  radio: 'Radio',
};
