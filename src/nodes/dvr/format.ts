/**
 * DVR entries, autorec and timerec rules as the DVR node outputs them: every protocol field,
 * plus a `status` a flow can switch on, readable times and the channel's name and number.
 */
import { dvrStatus, type AutorecEntry, type Channel, type DvrEntry, type DvrStatus, type TimerecEntry } from '../../htsp';
import { channelNumberText, genreName, isoTime, plainCopy } from '../../htsp/epg-format';

/**
 * The library's status, plus `removed`: given only to an entry that this node's own action made
 * disappear, so that a flow can tell "deleted just now" from the four states of a recording.
 */
export type FriendlyStatus = DvrStatus | 'removed';

export type FriendlyDvrEntry = DvrEntry & {
  status: FriendlyStatus;
  channelNumber?: string;
  startIso: string;
  stopIso: string;
  /** Seconds, without padding. */
  duration: number;
  /** Name of the major DVB category. */
  genre?: string;
};

export function friendlyDvrEntry(entry: DvrEntry, channel?: Channel, removed = false): FriendlyDvrEntry {
  const out: FriendlyDvrEntry = {
    ...plainCopy(entry),
    status: removed ? 'removed' : dvrStatus(entry),
    startIso: isoTime(entry.start),
    stopIso: isoTime(entry.stop),
    duration: Math.max(0, entry.stop - entry.start),
  };
  if (channel) {
    if (out.channelName === undefined) out.channelName = channel.channelName;
    const number = channelNumberText(channel);
    if (number !== undefined) out.channelNumber = number;
  }
  // DVR entries carry the major category only (0–15).
  const genre = entry.contentType ? genreName(entry.contentType, true) : undefined;
  if (genre) out.genre = genre;
  return out;
}

export type FriendlyAutorec = AutorecEntry & { channelName?: string; channelNumber?: string };

export function friendlyAutorec(rule: AutorecEntry, channel?: Channel): FriendlyAutorec {
  const out: FriendlyAutorec = plainCopy(rule);
  if (channel) {
    out.channelName = channel.channelName;
    const number = channelNumberText(channel);
    if (number !== undefined) out.channelNumber = number;
  }
  return out;
}

export type FriendlyTimerec = TimerecEntry & {
  channelName?: string;
  channelNumber?: string;
  /** `start` as "HH:MM" (the server's local time). */
  startTime: string;
  /** `stop` as "HH:MM"; before `startTime` when the recording runs past midnight. */
  stopTime: string;
};

/** Minutes after midnight as "HH:MM". */
export function timeOfDayText(minutes: number): string {
  const m = ((Math.trunc(minutes) % 1440) + 1440) % 1440;
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}

export function friendlyTimerec(rule: TimerecEntry, channel?: Channel): FriendlyTimerec {
  const out: FriendlyTimerec = { ...plainCopy(rule), startTime: timeOfDayText(rule.start), stopTime: timeOfDayText(rule.stop) };
  if (channel) {
    out.channelName = channel.channelName;
    const number = channelNumberText(channel);
    if (number !== undefined) out.channelNumber = number;
  }
  return out;
}
