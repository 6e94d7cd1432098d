/**
 * Channel references as flows give them: an id, an exact name (any case) or a number ("3",
 * "3.1"), resolved with the session's channel list.
 */
import type { Channel, HtspSession } from '../../htsp';
import { badInput } from './errors';
import { describe } from './values';

/** A channel reference as `HtspSession.findChannel` takes it, or `bad-input`. */
export function channelRef(value: unknown, field = 'channel'): number | string {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '') return value.trim();
  throw badInput(`${field} must be a channel name, number or id, got ${describe(value)}`);
}

/** The channel a reference names; an unknown channel is the flow's mistake, so `bad-input`. */
export function resolveChannel(session: HtspSession, ref: number | string): Channel {
  const ch = session.findChannel(ref);
  if (!ch) {
    throw badInput(`unknown channel ${typeof ref === 'string' ? `"${ref}"` : ref}: no channel has this name, number or id`);
  }
  return ch;
}
