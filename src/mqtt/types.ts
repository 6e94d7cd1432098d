/**
 * What the bridge needs from the protocol library, stated structurally so that tests can hand
 * in a session double and the bridge never reaches into session internals.
 */
import type { EventEmitter } from 'node:events';
import type { HtsmsgMap } from '../htsp/codec';
import type { MetadataCache } from '../htsp/cache';
import type {
  AccessRights,
  Channel,
  EpgEvent,
  QueueStatusMessage,
  ServerInfo,
  SignalStatusMessage,
  SourceInfo,
  Stream,
  SubscriptionStatusMessage,
} from '../htsp/messages';
import type { SessionState } from '../htsp/session';
import type { SubscriptionState } from '../htsp/subscription';

/** What the bridge reads of a live subscription; `HtspSubscription` satisfies it. */
export interface BridgeSubscription {
  /** Server-side id; 0 while waiting to be (re-)made. */
  readonly id: number;
  /** 0 until a name or number has been resolved. */
  readonly channelId: number;
  readonly channelRef: number | string;
  readonly state: SubscriptionState;
  readonly streams: readonly Stream[];
  readonly sourceInfo: SourceInfo | undefined;
  readonly lastSignal: SignalStatusMessage | undefined;
  readonly lastQueue: QueueStatusMessage | undefined;
  readonly lastStatus: SubscriptionStatusMessage | undefined;
  /** `ninetyKHz` changes the unit of the queue delay. */
  readonly options: Readonly<{ ninetyKHz?: boolean }>;
}

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
  /** Every subscription the session holds, whichever node made it. */
  subscriptions(): readonly BridgeSubscription[];
}

/** Which channels get a now/next topic. */
export type ChannelSelection = { mode: 'none' } | { mode: 'all' } | { mode: 'selected'; refs: readonly string[] };

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Logger = (level: LogLevel, text: string) => void;
