/**
 * The `api` method: a few paths of Tvheadend's JSON API, with the shapes the
 * web UI's status grids get. Booleans stay booleans here because the real
 * server encodes JSON data with the BOOL type.
 */
import type { HtsmsgMap, HtsmsgValue } from '../htsp/codec';
import type { SimConnection } from './connection';
import { compact, type SimChannel } from './data';
import type { TvheadendSimulator } from './simulator';

type Grid = { entries: HtsmsgMap[]; totalCount: number };

function grid(entries: HtsmsgMap[], args: HtsmsgMap): Grid & HtsmsgMap {
  const start = typeof args.start === 'number' ? args.start : 0;
  const limit = typeof args.limit === 'number' && args.limit > 0 ? args.limit : entries.length;
  return { entries: entries.slice(start, start + limit), totalCount: entries.length };
}

/** Returns the `response` map, or undefined for an unknown path (the server then replies empty). */
export function handleApi(sim: TvheadendSimulator, _conn: SimConnection, path: string, args: HtsmsgMap): HtsmsgMap | undefined {
  switch (path) {
    case 'serverinfo':
      return {
        sw_version: sim.serverVersion,
        api_version: sim.apiVersion,
        name: sim.serverName,
        capabilities: [...sim.capabilities],
      };
    case 'status/subscriptions':
      return grid(subscriptions(sim), args);
    case 'status/inputs':
      return grid(inputs(sim), args);
    case 'status/connections':
      return grid(connections(sim), args);
    case 'channel/grid':
      return grid(
        sim.channels.map((ch) =>
          compact({
            uuid: ch.uuid,
            enabled: true,
            autoname: false,
            name: ch.name,
            number: ch.number,
            icon: ch.icon,
            icon_public_url: ch.icon,
            epgauto: true,
            dvr_pre_time: 0,
            dvr_pst_time: 0,
            tags: ch.tags.map((t) => sim.getTag(t)?.uuid ?? ''),
            services: [ch.muxUuid],
          }),
        ),
        args,
      );
    default:
      return undefined;
  }
}

function serviceName(ch: SimChannel): string {
  return ch.services[0]?.name ?? ch.name;
}

/**
 * Every subscription on the server, with the id it got when it started: Tvheadend numbers all of
 * them (HTSP, HTTP, DVR) from one counter and keeps the id for the subscription's life, so a
 * client can follow one across polls.
 */
function subscriptions(sim: TvheadendSimulator): HtsmsgMap[] {
  const out: HtsmsgMap[] = [];
  for (const c of sim.connections.values()) {
    for (const sub of c.subscriptions.values()) {
      out.push(
        compact({
          id: sub.statusId,
          start: Math.floor(sub.startedAt / 1000),
          errors: sub.errors,
          state: sub.state === 'running' ? 'Running' : 'Idle',
          hostname: c.peer,
          username: c.username ?? '',
          client: c.clientName ?? '',
          title: c.clientName ? `HTSP ${c.clientName}` : 'HTSP',
          channel: sub.channel.name,
          service: serviceName(sub.channel),
          profile: sub.profile,
          pids: [-1] as HtsmsgValue[],
          descramble: sub.channel.scrambled ? 'CryptoWorks (0D95:000000)' : undefined,
          in: Math.round(sim.bitrate / 8),
          out: sub.outRate,
          total_in: Math.round(((Date.now() - sub.startedAt) / 1000) * (sim.bitrate / 8)),
          total_out: sub.bytesOut,
        }),
      );
    }
  }
  for (const v of sim.externalViewers.values()) {
    const ch = sim.getChannel(v.channelId);
    if (!ch) continue;
    const secs = Math.max(1, Math.floor(Date.now() / 1000) - v.start);
    out.push({
      id: v.id,
      start: v.start,
      errors: 0,
      state: 'Running',
      hostname: v.hostname,
      username: v.username,
      client: v.client,
      title: v.title,
      channel: ch.name,
      service: serviceName(ch),
      profile: 'pass',
      in: Math.round(sim.bitrate / 8),
      out: Math.round(sim.bitrate / 8),
      total_in: Math.round((secs * sim.bitrate) / 8),
      total_out: Math.round((secs * sim.bitrate) / 8),
    });
  }
  for (const e of sim.dvrEntries) {
    if (e.state !== 'recording' || e.channelId === undefined) continue;
    const ch = sim.getChannel(e.channelId);
    if (!ch) continue;
    // Entries put into `recording` by hand (tests poke the data) get theirs on first sight.
    e.statusSubscriptionId ??= sim.newSubscriptionId();
    out.push({
      id: e.statusSubscriptionId,
      start: e.start - e.startExtra * 60,
      errors: e.dataErrors ?? 0,
      state: e.subscriptionError ? 'Bad' : 'Running',
      hostname: '',
      username: e.owner,
      client: '',
      title: `DVR: ${e.title}`,
      channel: ch.name,
      service: serviceName(ch),
      profile: 'pass',
      in: Math.round(sim.bitrate / 8),
      out: Math.round(sim.bitrate / 8),
      total_in: e.dataSize,
      total_out: e.dataSize,
    });
  }
  return out.sort((a, b) => (a.id as number) - (b.id as number));
}

/**
 * The streams the inputs receive: one entry per input and mux in use. Like Tvheadend, an idle
 * input is not listed at all; an IPTV input receiving several muxes has one entry for each.
 */
function inputs(sim: TvheadendSimulator): HtsmsgMap[] {
  const streams = new Map<string, { index: number; mux: string; subs: number }>();
  const use = (ch: SimChannel | undefined): void => {
    if (!ch) return;
    const key = `${ch.inputIndex}\u0000${ch.mux}`;
    const s = streams.get(key);
    if (s) s.subs++;
    else streams.set(key, { index: ch.inputIndex, mux: ch.mux, subs: 1 });
  };
  for (const c of sim.connections.values()) for (const s of c.subscriptions.values()) use(s.channel);
  for (const v of sim.externalViewers.values()) use(sim.getChannel(v.channelId));
  // A recording that got no input (no free adapter) holds none.
  for (const e of sim.dvrEntries) if (e.state === 'recording' && e.channelId !== undefined && !e.subscriptionError) use(sim.getChannel(e.channelId));
  const out: HtsmsgMap[] = [];
  for (const { index: i, mux, subs } of [...streams.values()].sort((a, b) => a.index - b.index || a.mux.localeCompare(b.mux))) {
    const input = sim.inputs[i];
    if (!input) continue;
    const tuner = input.kind === 'dvb';
    out.push({
      uuid: input.uuid,
      input: input.name,
      stream: `${input.network}/${mux}`,
      subs,
      weight: 150,
      signal: tuner ? 47000 + ((i * 977) % 3000) : 0,
      signal_scale: tuner ? 1 : 0,
      snr: tuner ? 52000 + ((i * 613) % 2000) : 0,
      snr_scale: tuner ? 1 : 0,
      ber: 0,
      unc: 0,
      bps: Math.round((sim.bitrate * subs) / 8) * 8,
      cc: 0,
      te: 0,
      ec_bit: 0,
      tc_bit: 0,
      ec_block: 0,
      tc_block: 0,
      pids: [0, 16, 17, 18],
    });
  }
  return out;
}

function connections(sim: TvheadendSimulator): HtsmsgMap[] {
  return [...sim.connections.values()].map((c) => ({
    id: c.id,
    server: c.serverAddress,
    server_port: c.serverPort,
    peer: c.peer,
    peer_port: c.peerPort,
    started: c.startedAt,
    type: 'HTSP',
    user: c.username ?? '',
    streaming: c.subscriptions.size,
    dvr: c.files.size,
  }));
}
