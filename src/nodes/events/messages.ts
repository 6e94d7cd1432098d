/**
 * The messages of the `tvheadend-events` node. Built only for changes that passed the filters.
 *
 * The objects come straight from the protocol library's cache and status poller, which share
 * them: the node clones each message before sending (see `tvheadend-events.ts`), so that a
 * function node changing `msg.payload` cannot change the cache.
 */
import { valueEquals } from '../../htsp';
import type {
  ChangeEvent,
  HtsmsgValue,
  NowPlayingEvent,
  RecordingEvent,
  RecordingFailedEvent,
  ReminderEvent,
  SessionStatus,
  StatusChangeEvent,
} from '../../htsp';
import type { NodeMessage } from '../shared/types';

export interface ChangeMessage extends NodeMessage {
  topic: string;
  payload: object;
  previous?: object;
  changed: string[];
  kind: string;
  action: string;
  id?: number | string;
  initial?: boolean;
  resync?: boolean;
}

/** A cache or server-status change as a message. */
export function changeMessage(c: ChangeEvent | StatusChangeEvent): ChangeMessage {
  const msg: ChangeMessage = {
    topic: `${c.kind}/${c.action}`,
    payload: c.object,
    changed: c.changed,
    kind: c.kind,
    action: c.action,
    id: c.id,
  };
  if (c.previous !== undefined) msg.previous = c.previous;
  if (c.resync) msg.resync = true;
  if (c.initial) msg.initial = true;
  return msg;
}

/** One object of the current state, for a snapshot. */
export function snapshotMessage(kind: string, id: number | string, object: object): ChangeMessage {
  return { topic: `${kind}/add`, payload: object, changed: Object.keys(object), kind, action: 'add', id, initial: true };
}

/** The session status without anything that could carry a secret (the error's reply or cause). */
export function sessionPayload(status: SessionStatus, redact: (text: string) => string): Record<string, unknown> {
  const out: Record<string, unknown> = { state: status.state, since: status.since, attempt: status.attempt };
  if (status.error) out.error = { code: status.error.code, message: redact(status.error.message) };
  if (status.nextRetryAt !== undefined) out.nextRetryAt = status.nextRetryAt;
  if (status.sync) out.sync = { ...status.sync };
  return out;
}

export function sessionMessage(payload: Record<string, unknown>, previous: Record<string, unknown> | undefined, initial: boolean): ChangeMessage {
  const state = String(payload.state);
  const msg: ChangeMessage = { topic: `session/${state}`, payload, changed: ['state'], kind: 'session', action: state };
  if (previous) msg.previous = previous;
  if (initial) msg.initial = true;
  return msg;
}

type RecordingAction = 'started' | 'finished' | 'failed';

export function recordingMessage(action: RecordingAction, ev: RecordingEvent | RecordingFailedEvent): ChangeMessage {
  const payload: Record<string, unknown> = {
    id: ev.id,
    state: ev.state,
    title: ev.title,
    channelId: ev.channelId,
    channelName: ev.channelName,
    start: ev.entry.start,
    stop: ev.entry.stop,
    entry: ev.entry,
  };
  if (ev.previousState !== undefined) payload.previousState = ev.previousState;
  if ('cause' in ev) {
    payload.cause = ev.cause;
    payload.error = ev.error;
    if (ev.subscriptionError !== undefined) payload.subscriptionError = ev.subscriptionError;
  }
  const msg: ChangeMessage = {
    topic: `recording/${action}`,
    payload: dropUndefined(payload),
    changed: ev.previous ? changedFields(ev.previous, ev.entry) : Object.keys(ev.entry),
    kind: 'recording',
    action,
    id: ev.id,
  };
  if (ev.previous) msg.previous = ev.previous;
  if (ev.resync) msg.resync = true;
  if (ev.initial) msg.initial = true;
  return msg;
}

export function nowPlayingMessage(ev: NowPlayingEvent): ChangeMessage {
  const payload: Record<string, unknown> = {
    channelId: ev.channelId,
    channelName: ev.channelName,
    eventId: ev.eventId,
    nextEventId: ev.nextEventId,
    now: ev.now,
    next: ev.next,
    title: ev.now?.title,
    previousEventId: ev.previousEventId,
    previous: ev.previous,
  };
  const msg: ChangeMessage = {
    topic: `nowPlaying/${ev.channelName ?? ev.channelId}`,
    payload: dropUndefined(payload),
    changed: ['eventId'],
    kind: 'nowPlaying',
    action: 'changed',
    id: ev.channelId,
  };
  if (ev.previous) msg.previous = ev.previous;
  if (ev.resync) msg.resync = true;
  return msg;
}

export function reminderMessage(ev: ReminderEvent): ChangeMessage {
  const payload: Record<string, unknown> = {
    eventId: ev.eventId,
    title: ev.title,
    channelId: ev.channelId,
    channelName: ev.channelName,
    start: ev.start,
    stop: ev.stop,
    leadMinutes: ev.leadMinutes,
    startsInSeconds: ev.startsInSeconds,
    late: ev.late,
    event: ev.event,
  };
  return {
    topic: 'reminder',
    payload: dropUndefined(payload),
    changed: [],
    kind: 'reminder',
    action: 'due',
    id: ev.eventId,
  };
}

function dropUndefined(o: Record<string, unknown>): Record<string, unknown> {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

/** What changed between two cache snapshots of an entry, compared as the cache compares. */
function changedFields(before: object, after: object): string[] {
  const a = before as Record<string, HtsmsgValue | undefined>;
  const b = after as Record<string, HtsmsgValue | undefined>;
  const out: string[] = [];
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (!valueEquals(a[k], b[k])) out.push(k);
  }
  return out;
}
