/**
 * What the bridge needs from the protocol library, stated structurally so that tests can hand
 * in a session double and the bridge never reaches into session internals.
 */
import type { EventEmitter } from 'node:events';
import type { HtsmsgMap } from '../htsp/codec';
import type { MetadataCache } from '../htsp/cache';
import type { AccessRights, Channel, EpgEvent, ServerInfo } from '../htsp/messages';
import type { SessionState } from '../htsp/session';

/** `HtspSession` satisfies this (checked in the tests). */
export interface BridgeSession extends EventEmitter {
  readonly state: SessionState;
  readonly serverInfo?: ServerInfo | undefined;
  readonly rights?: AccessRights | undefined;
  readonly cache: MetadataCache;
  callRaw(method: string, fields?: HtsmsgMap, opts?: { timeoutMs?: number }): Promise<HtsmsgMap>;
  findChannel(ref: number | string): Channel | undefined;
  nowNext(channelId: number, at?: number): { now?: EpgEvent; next?: EpgEvent };
  /** The server's clock, epoch seconds. */
  serverNow(): number;
}

/** Which channels get a now/next topic. */
export type ChannelSelection = { mode: 'none' } | { mode: 'all' } | { mode: 'selected'; refs: readonly string[] };

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Logger = (level: LogLevel, text: string) => void;
