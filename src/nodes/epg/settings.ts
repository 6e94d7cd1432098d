/**
 * The saved settings of a `tvheadend-epg` node, read once at deploy.
 */
import type { NodeDef } from '../shared';
import { OPERATIONS, genreOf, type EpgSettings, type Operation } from './query';

export const EPG_TYPE = 'tvheadend-epg';

export interface EpgNodeDef extends NodeDef {
  server?: string;
  /** One of OPERATIONS, or 'msg' for the message's choice. */
  operation?: string;
  channel?: string;
  channelType?: string;
  hours?: string | number;
  query?: string;
  queryType?: string;
  searchIn?: string;
  regex?: boolean | string;
  genre?: string | number;
  limit?: string | number;
}

const DEFAULT_HOURS = 6;
const DEFAULT_LIMIT = 100;

function numberOr(value: unknown, fallback: number): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}

/**
 * The node's saved settings with defaults for anything missing or unusable, so that an old or
 * hand-edited flow deploys; what cannot be repaired (an unknown genre) is reported per message.
 */
export function epgSettings(def: EpgNodeDef): { settings: EpgSettings; problem?: string } {
  const op = (def.operation ?? 'nownext').trim();
  const operation: Operation | '' = (OPERATIONS as readonly string[]).includes(op) ? (op as Operation) : '';
  let genre: number | undefined;
  let problem: string | undefined;
  if (def.genre !== undefined && def.genre !== '') {
    try {
      genre = genreOf(def.genre);
    } catch (err) {
      problem = err instanceof Error ? err.message : String(err);
    }
  }
  return {
    settings: {
      operation,
      hours: numberOr(def.hours, DEFAULT_HOURS),
      searchIn: def.searchIn === 'text' ? 'text' : 'title',
      regex: def.regex === true || def.regex === 'true',
      genre,
      limit: numberOr(def.limit, DEFAULT_LIMIT),
    },
    ...(problem ? { problem } : {}),
  };
}
