/**
 * Settings of the `tvheadend-server` config node: defaults, migration of saved flows, and the
 * mapping to session options. Pure functions, so they are tested without Node-RED.
 */
import type { SessionOptions } from '../../htsp';
import type { ServerConfig, ServerCredentials } from '../shared/types';
import { settingBoolean } from '../shared/values';

/**
 * Bump when the meaning or shape of a saved property changes, and add a step to `migrateServerConfig`.
 * Version 1 is the first released shape; flows without `version` predate it.
 */
export const SERVER_CONFIG_VERSION = 1;

export const SERVER_DEFAULTS: Readonly<ServerConfig> = Object.freeze({
  version: SERVER_CONFIG_VERSION,
  name: '',
  host: '127.0.0.1',
  port: 9982,
  clientName: 'Node-RED',
  epg: true,
  epgDays: 2,
  pingInterval: 30,
  requestTimeout: 15,
});

/** Upper bounds keep a typo (ms instead of s) from producing a session that never times out. */
const LIMITS = {
  port: [1, 65535],
  epgDays: [0, 365],
  pingInterval: [0, 3600],
  requestTimeout: [1, 600],
} as const;

function toNumber(value: unknown, fallback: number, [min, max]: readonly [number, number]): number {
  // The editor saves number inputs as strings unless told otherwise, and older flows did so.
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isFinite(n)) return fallback;
  return Math.min(max, Math.max(min, n));
}

function toText(value: unknown, fallback: string): string {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : fallback;
}

/**
 * Brings a saved node definition (any version, including none) to the current shape. Unknown
 * properties are dropped; missing or unusable ones get their default. Never throws, so that a
 * damaged flow still deploys with defaults rather than not at all.
 */
export function migrateServerConfig(raw: Readonly<Record<string, unknown>>): ServerConfig {
  // v0 → v1: v0 (no `version`) had the same names, but any property could be missing or a
  // string; the coercion below covers it. A later version that renames or re-scales a property
  // adds a step here, keyed on `raw.version`, before this normalisation.
  return {
    version: SERVER_CONFIG_VERSION,
    name: typeof raw.name === 'string' ? raw.name : SERVER_DEFAULTS.name,
    host: toText(raw.host, SERVER_DEFAULTS.host),
    port: Math.round(toNumber(raw.port, SERVER_DEFAULTS.port, LIMITS.port)),
    clientName: toText(raw.clientName, SERVER_DEFAULTS.clientName),
    epg: settingBoolean(raw.epg, SERVER_DEFAULTS.epg),
    epgDays: toNumber(raw.epgDays, SERVER_DEFAULTS.epgDays, LIMITS.epgDays),
    pingInterval: toNumber(raw.pingInterval, SERVER_DEFAULTS.pingInterval, LIMITS.pingInterval),
    requestTimeout: toNumber(raw.requestTimeout, SERVER_DEFAULTS.requestTimeout, LIMITS.requestTimeout),
  };
}

/** Options for `new HtspSession(...)`. An empty username means anonymous (IP-based rights). */
export function sessionOptions(config: ServerConfig, credentials: ServerCredentials | undefined, clientVersion: string): SessionOptions {
  const username = credentials?.username?.trim() || undefined;
  return {
    host: config.host,
    port: config.port,
    ...(username ? { username, password: credentials?.password ?? '' } : {}),
    clientName: config.clientName,
    clientVersion,
    epg: config.epg,
    epgDays: config.epgDays,
    pingIntervalMs: Math.round(config.pingInterval * 1000),
    requestTimeoutMs: Math.round(config.requestTimeout * 1000),
  };
}
