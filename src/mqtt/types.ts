/**
 * What the bridge needs from the protocol library, stated structurally so that tests can hand
 * in a session double and the bridge never reaches into session internals.
 */
import type { EventEmitter } from 'node:events';
import type {
  QueueStatusMessage,
  ServerInfo,
  SignalStatusMessage,
  SourceInfo,
  Stream,
  SubscriptionStatusMessage,
} from '../htsp/messages';
import type { SessionState } from '../htsp/session';
import type { DvrSession } from '../htsp/dvr';
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

/**
 * `HtspSession` satisfies this (checked in the tests). The DVR operations' view of a session
 * (cache, channel lookup, raw calls, server clock) plus what the bridge publishes.
 */
export interface BridgeSession extends EventEmitter, Omit<DvrSession, 'on' | 'off'> {
  readonly state: SessionState;
  readonly serverInfo?: ServerInfo | undefined;
  /** Every subscription the session holds, whichever node made it. */
  subscriptions(): readonly BridgeSubscription[];
}

/** Which channels get a now/next topic. */
export type ChannelSelection = { mode: 'none' } | { mode: 'all' } | { mode: 'selected'; refs: readonly string[] };

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Logger = (level: LogLevel, text: string) => void;
