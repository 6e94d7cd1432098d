/**
 * Settings and input commands of the `tvheadend-subscription` node. Pure, so that every refusal
 * is tested without a runtime; each throws a `bad-input` error with a message a user can act on.
 */
import type { SubscribeOptions } from '../../htsp';
import { badInput } from '../shared/errors';
import type { NodeDef } from '../shared/types';
import { describe, isPlainObject, settingBoolean } from '../shared/values';

export const SUBSCRIPTION_TYPE = 'tvheadend-subscription';

export interface SubscriptionNodeDef extends NodeDef {
  server?: string;
  channel?: unknown;
  profile?: unknown;
  weight?: unknown;
  autoStart?: unknown;
  rateLimit?: unknown;
  packets?: unknown;
}

export interface SubscriptionSettings {
  /** Id, name or number as typed; '' = none (subscribe by message). */
  channel: string;
  options: SubscribeOptions;
  /** Subscribe when deployed (only with a channel). */
  autoStart: boolean;
  /** Least time between two `signal` (and two `queue`) messages; 0 = every one. */
  rateLimitMs: number;
  packets: boolean;
}

export const SUBSCRIPTION_DEFAULTS = Object.freeze({ rateLimit: 5, autoStart: true, packets: false });

const MAX_RATE_LIMIT_S = 3600;
/** The protocol's "unlimited" timeshift period. */
const UNLIMITED = 4294967295;

function num(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** The node's saved settings. Never throws: unusable values fall back to their defaults. */
export function parseSubscriptionSettings(def: Readonly<Record<string, unknown>>): SubscriptionSettings {
  const channel = typeof def.channel === 'number' ? String(def.channel) : typeof def.channel === 'string' ? def.channel.trim() : '';
  const options: SubscribeOptions = {};
  if (typeof def.profile === 'string' && def.profile.trim() !== '') options.profile = def.profile.trim();
  const weight = num(def.weight);
  if (weight !== undefined && weight > 0) options.weight = Math.round(weight);
  const rate = num(def.rateLimit);
  return {
    channel,
    options,
    autoStart: settingBoolean(def.autoStart, SUBSCRIPTION_DEFAULTS.autoStart),
    rateLimitMs: Math.round(Math.min(MAX_RATE_LIMIT_S, Math.max(0, rate ?? SUBSCRIPTION_DEFAULTS.rateLimit)) * 1000),
    packets: settingBoolean(def.packets, SUBSCRIPTION_DEFAULTS.packets),
  };
}

export type Command =
  | { action: 'subscribe'; channel: number | string; options: SubscribeOptions }
  | { action: 'unsubscribe' };

const ACTION_HINT = 'msg.payload must be "subscribe", "unsubscribe" or {action: "subscribe"|"unsubscribe", channel, profile, weight, timeshiftPeriod}';

function channelOf(v: unknown, fallback: string): number | string {
  if (v === undefined || v === null || v === '') {
    if (fallback === '') throw badInput('no channel: set one in the node or send msg.payload.channel (id, name or number)');
    return fallback;
  }
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0) throw badInput(`msg.payload.channel must be a channel id, name or number, got ${v}`);
    return v;
  }
  if (typeof v === 'string' && v.trim() !== '') return v.trim();
  throw badInput(`msg.payload.channel must be a channel id, name or number, got ${describe(v)}`);
}

function nonNegative(field: string, v: unknown, max: number): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = num(v);
  if (n === undefined || n < 0 || n > max) throw badInput(`msg.payload.${field} must be a number from 0 to ${max}, got ${describe(v)}`);
  return Math.round(n);
}

/**
 * The command a message asks for. `defaults` are the node's channel and options; a field of the
 * message replaces the node's.
 */
export function parseCommand(payload: unknown, defaults: { channel: string; options: SubscribeOptions }): Command {
  if (typeof payload === 'string') {
    const action = payload.trim().toLowerCase();
    if (action === 'subscribe') return { action, channel: channelOf(undefined, defaults.channel), options: { ...defaults.options } };
    if (action === 'unsubscribe') return { action };
    throw badInput(`${ACTION_HINT}; got ${describe(payload)}`);
  }
  if (!isPlainObject(payload)) throw badInput(`${ACTION_HINT}; got ${describe(payload)}`);
  const action = typeof payload.action === 'string' ? payload.action.trim().toLowerCase() : payload.action;
  if (action === undefined) throw badInput(`msg.payload.action is missing: use "subscribe" or "unsubscribe"`);
  if (action === 'unsubscribe') return { action };
  if (action !== 'subscribe') throw badInput(`msg.payload.action must be "subscribe" or "unsubscribe", got ${describe(payload.action)}`);

  const options: SubscribeOptions = { ...defaults.options };
  if (payload.profile !== undefined && payload.profile !== null && payload.profile !== '') {
    if (typeof payload.profile !== 'string') throw badInput(`msg.payload.profile must be a profile name, got ${describe(payload.profile)}`);
    options.profile = payload.profile.trim();
  }
  const weight = nonNegative('weight', payload.weight, 10000);
  if (weight !== undefined) {
    if (weight > 0) options.weight = weight;
    else delete options.weight;
  }
  const timeshift = nonNegative('timeshiftPeriod', payload.timeshiftPeriod, UNLIMITED);
  if (timeshift !== undefined) options.timeshiftPeriod = timeshift;
  return { action, channel: channelOf(payload.channel, defaults.channel), options };
}

/** Whether two option sets would make the same subscription. */
export function sameOptions(a: SubscribeOptions, b: SubscribeOptions): boolean {
  return a.profile === b.profile && a.weight === b.weight && a.timeshiftPeriod === b.timeshiftPeriod;
}
