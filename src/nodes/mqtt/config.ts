/**
 * Settings of the `tvheadend-mqtt` node: defaults and the normalisation of saved flows. Pure, so
 * that it is tested without Node-RED.
 */
import { createHash } from 'node:crypto';
import { DEFAULT_ALLOWED, defaultBaseTopic } from '../../mqtt';
import type { ChannelSelection } from '../../mqtt';

export const MQTT_TYPE = 'tvheadend-mqtt';
/** Bump with a migration step in `migrateMqttConfig` when a saved property changes meaning. */
export const MQTT_CONFIG_VERSION = 1;

export interface MqttNodeConfig {
  version: number;
  name: string;
  broker: string;
  clientId: string;
  protocol: 'auto' | '5' | '4';
  /** Id of a core `tls-config` node, or ''. */
  tls: string;
  /** '' = `tvheadend/<server name>`. */
  baseTopic: string;
  discovery: boolean;
  discoveryPrefix: string;
  channelMode: 'none' | 'selected' | 'all';
  /** Channel names or numbers, one per line or comma-separated. */
  channels: string[];
  nowPlaying: boolean;
  serverStatus: boolean;
  allow: string[];
}

export interface MqttCredentials {
  username?: string;
  password?: string;
}

export const MQTT_DEFAULTS: Readonly<MqttNodeConfig> = Object.freeze({
  version: MQTT_CONFIG_VERSION,
  name: '',
  broker: 'mqtt://localhost:1883',
  clientId: '',
  protocol: 'auto',
  tls: '',
  baseTopic: '',
  discovery: true,
  discoveryPrefix: 'homeassistant',
  channelMode: 'none',
  channels: [],
  nowPlaying: true,
  serverStatus: true,
  allow: [...DEFAULT_ALLOWED],
});

function text(v: unknown, fallback: string): string {
  return typeof v === 'string' ? v.trim() : fallback;
}
function bool(v: unknown, fallback: boolean): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  return fallback;
}
function oneOf<T extends string>(v: unknown, allowed: readonly T[], fallback: T): T {
  return typeof v === 'string' && (allowed as readonly string[]).includes(v) ? (v as T) : fallback;
}

/** Channel references from the editor's text: one per line or comma-separated. */
export function parseChannelList(v: unknown): string[] {
  const list = Array.isArray(v) ? v.map(String) : typeof v === 'string' ? v.split(/[\n,]/) : [];
  return list.map((s) => s.trim()).filter((s) => s !== '');
}

/** Brings a saved node (any version) to the current shape; never throws. */
export function migrateMqttConfig(raw: Readonly<Record<string, unknown>>): MqttNodeConfig {
  const allow = Array.isArray(raw.allow) ? raw.allow.filter((m): m is string => typeof m === 'string') : [...MQTT_DEFAULTS.allow];
  return {
    version: MQTT_CONFIG_VERSION,
    name: text(raw.name, ''),
    broker: text(raw.broker, '') || MQTT_DEFAULTS.broker,
    clientId: text(raw.clientId, ''),
    protocol: oneOf(raw.protocol, ['auto', '5', '4'] as const, 'auto'),
    tls: text(raw.tls, ''),
    baseTopic: text(raw.baseTopic, '').replace(/^\/+|\/+$/g, ''),
    discovery: bool(raw.discovery, MQTT_DEFAULTS.discovery),
    discoveryPrefix: text(raw.discoveryPrefix, '').replace(/^\/+|\/+$/g, '') || MQTT_DEFAULTS.discoveryPrefix,
    channelMode: oneOf(raw.channelMode, ['none', 'selected', 'all'] as const, 'none'),
    channels: parseChannelList(raw.channels),
    nowPlaying: bool(raw.nowPlaying, MQTT_DEFAULTS.nowPlaying),
    serverStatus: bool(raw.serverStatus, MQTT_DEFAULTS.serverStatus),
    allow,
  };
}

/** The base topic in use: the configured one, or `tvheadend/<server name>`. */
export function effectiveBaseTopic(config: MqttNodeConfig, serverName: string): string {
  return config.baseTopic || defaultBaseTopic(serverName);
}

export function channelSelection(config: MqttNodeConfig): ChannelSelection {
  if (config.channelMode === 'all') return { mode: 'all' };
  if (config.channelMode === 'selected' && config.channels.length) return { mode: 'selected', refs: config.channels };
  return { mode: 'none' };
}

/**
 * The MQTT client id when none is set: stable per node (mqtt.js would pick a random one per
 * start), and at most 23 characters, the most MQTT 3.1.1 obliges a broker to accept; a strict
 * broker refuses a longer one (CONNACK 2), which the bridge takes as a lasting refusal.
 */
export function defaultClientId(nodeId: string): string {
  return `tvh_${createHash('sha256').update(nodeId).digest('hex').slice(0, 16)}`;
}
