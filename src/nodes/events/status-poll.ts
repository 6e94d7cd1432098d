/**
 * Events nodes on the session's shared `ServerStatusPoller` (the MQTT bridge uses the same one).
 *
 * Each node holds a lease with its interval and kinds; the poller runs at the shortest interval
 * and polls the union of the kinds, so that N nodes never cost N polls. A node coming or going
 * only reconfigures the poller: it keeps what it tracks, so a change that happens meanwhile is
 * still reported to the nodes that stay (a replaced poller would report it as `initial`, which
 * they ignore). A joining node gets the state so far from `current()`.
 */
import { ServerStatusPoller } from '../../htsp';
import type { ServerStatusSnapshot, StatusChangeEvent, StatusKind, StatusPollInfo, StatusSession, StatusUnavailable } from '../../htsp';

export interface StatusPollUser {
  readonly intervalMs: number;
  readonly kinds: ReadonlySet<StatusKind>;
  change(change: StatusChangeEvent): void;
  unavailable(info: StatusUnavailable): void;
  /** After each poll that produced data. */
  polled(): void;
}

export interface StatusPollHandle {
  /** The shared poller's last lists; undefined once left. */
  current(): ServerStatusSnapshot | undefined;
  leave(): void;
}

/** Joins the session's shared status poll (starting it if nobody polls yet). */
export function joinStatusPoll(session: StatusSession, user: StatusPollUser): StatusPollHandle {
  const poller = ServerStatusPoller.for(session);
  const onChange = (c: StatusChangeEvent): void => {
    // Kinds another user asked for are not this node's business.
    if (user.kinds.has(c.kind)) user.change(c);
  };
  const onUnavailable = (info: StatusUnavailable): void => user.unavailable(info);
  const onPoll = (_info: StatusPollInfo): void => user.polled();
  // Failed polls are retried at the next interval; the last known lists stay valid meanwhile.
  const onPollError = (): void => undefined;
  poller.on('change', onChange);
  poller.on('unavailable', onUnavailable);
  poller.on('poll', onPoll);
  poller.on('pollError', onPollError);
  const lease = poller.acquire({ intervalMs: user.intervalMs, kinds: [...user.kinds] });
  // A poller that already knows it may not poll never says so again: tell the newcomer.
  const refused = poller.current().unavailable;
  if (refused) user.unavailable(refused);
  let left = false;
  return {
    current: () => (left ? undefined : poller.current()),
    leave: () => {
      if (left) return;
      left = true;
      poller.off('change', onChange);
      poller.off('unavailable', onUnavailable);
      poller.off('poll', onPoll);
      poller.off('pollError', onPollError);
      lease.release();
    },
  };
}
