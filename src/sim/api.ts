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

function subscriptions(sim: TvheadendSimulator): HtsmsgMap[] {
  const out: HtsmsgMap[] = [];
  let id = 1;
  for (const c of sim.connections.values()) {
    for (const sub of c.subscriptions.values()) {
      out.push(
        compact({
          id: id++,
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
      id: id++,
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
    out.push({
      id: id++,
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
  return out;
}

function inputs(sim: TvheadendSimulator): HtsmsgMap[] {
  const subsPerInput = new Map<number, number>();
  const bump = (ch: SimChannel | undefined): void => {
    if (ch) subsPerInput.set(ch.inputIndex, (subsPerInput.get(ch.inputIndex) ?? 0) + 1);
  };
  for (const c of sim.connections.values()) for (const s of c.subscriptions.values()) bump(s.channel);
  for (const v of sim.externalViewers.values()) bump(sim.getChannel(v.channelId));
  for (const e of sim.dvrEntries) if (e.state === 'recording' && e.channelId !== undefined) bump(sim.getChannel(e.channelId));
  return sim.inputs.map((input, i) => {
    const subs = subsPerInput.get(i) ?? 0;
    const tuner = input.kind === 'dvb';
    const active = subs > 0;
    const muxes = new Set<string>();
    for (const ch of sim.channels) if (ch.inputIndex === i) muxes.add(ch.mux);
    return {
      uuid: input.uuid,
      input: input.name,
      stream: active ? `${input.network}/${[...muxes][0] ?? ''}` : '',
      subs,
      weight: active ? 150 : 0,
      signal: tuner && active ? 47000 + (i * 977) % 3000 : 0,
      signal_scale: tuner ? 1 : 0,
      snr: tuner && active ? 52000 + (i * 613) % 2000 : 0,
      snr_scale: tuner ? 1 : 0,
      ber: 0,
      unc: 0,
      bps: active ? Math.round((sim.bitrate * subs) / 8) * 8 : 0,
      cc: 0,
      te: 0,
      ec_bit: 0,
      tc_bit: 0,
      ec_block: 0,
      tc_block: 0,
      pids: active ? [0, 16, 17, 18] : [],
    };
  });
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
