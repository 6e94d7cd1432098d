/**
 * DVR entries and autorec rules as the DVR node outputs them: every protocol field, plus a
 * `status` a flow can switch on and readable times.
 */
import type { AutorecEntry, Channel, DvrEntry } from '../../htsp';
import { channelNumberText, genreName, isoTime, plainCopy } from '../../htsp/epg-format';

/**
 * What a person means by the state of a recording. Tvheadend reports a failed recording as
 * `completed` with an `error`, and one that never started as `missed`; both are `failed` here.
 * `removed` is only given to an entry that this node's own action made disappear.
 */
export const DVR_STATUSES = ['upcoming', 'recording', 'completed', 'failed'] as const;
export type DvrStatus = (typeof DVR_STATUSES)[number] | 'removed';

export function dvrStatus(entry: Pick<DvrEntry, 'state' | 'error'>): Exclude<DvrStatus, 'removed'> {
  switch (entry.state) {
    case 'scheduled':
      return 'upcoming';
    case 'recording':
      return 'recording';
    case 'completed':
      return entry.error ? 'failed' : 'completed';
    default:
      // `missed`, `invalid`, and states of newer servers: nothing usable was recorded.
      return 'failed';
  }
}

export type FriendlyDvrEntry = DvrEntry & {
  status: DvrStatus;
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
