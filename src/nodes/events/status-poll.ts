/**
 * One `ServerStatusPoller` per session, shared by every events node of that session.
 *
 * Each node asks for an interval and for some kinds; the poller runs at the shortest interval
 * asked for and polls the union of the kinds, so that N nodes never cost N polls. When the
 * users' wishes change (a node added or removed), the poller is replaced; its first poll then
 * reports everything again as `initial`, which users that already have the state ignore.
 */
import { ServerStatusPoller } from '../../htsp';
import type { ServerStatusSnapshot, StatusChangeEvent, StatusKind, StatusSession, StatusUnavailable } from '../../htsp';

export interface StatusPollUser {
  readonly intervalMs: number;
  readonly kinds: ReadonlySet<StatusKind>;
  change(change: StatusChangeEvent): void;
  unavailable(info: StatusUnavailable): void;
  /** After each poll that produced data. */
  polled(): void;
}

export interface StatusPollHandle {
  /** The shared poller's last lists; undefined while there is none. */
  current(): ServerStatusSnapshot | undefined;
  leave(): void;
}

class SharedPoll {
  private poller: ServerStatusPoller | undefined;
  private key = '';
  readonly users = new Set<StatusPollUser>();

  constructor(
    private readonly session: StatusSession,
    private readonly onEmpty: () => void,
  ) {}

  add(user: StatusPollUser): void {
    this.users.add(user);
    if (this.reconfigure()) return;
    // A poller that already knows it may not poll never says so again: tell the newcomer.
    const refused = this.poller?.current().unavailable;
    if (refused) user.unavailable(refused);
  }

  remove(user: StatusPollUser): void {
    if (!this.users.delete(user)) return;
    this.reconfigure();
  }

  current(): ServerStatusSnapshot | undefined {
    return this.poller?.current();
  }

  /** Returns true when a new poller was started (it tells every user what it finds). */
  private reconfigure(): boolean {
    if (this.users.size === 0) {
      this.poller?.stop();
      this.poller = undefined;
      this.key = '';
      this.onEmpty();
      return false;
    }
    let intervalMs = Infinity;
    const kinds = new Set<StatusKind>();
    for (const u of this.users) {
      intervalMs = Math.min(intervalMs, u.intervalMs);
      for (const k of u.kinds) kinds.add(k);
    }
    const sorted = [...kinds].sort();
    const key = `${intervalMs}|${sorted.join(',')}`;
    if (this.poller && key === this.key) return false;
    this.poller?.stop();
    const poller = new ServerStatusPoller(this.session, { intervalMs, kinds: sorted });
    poller.on('change', (c) => {
      for (const u of this.users) u.change(c);
    });
    poller.on('unavailable', (info) => {
      for (const u of this.users) u.unavailable(info);
    });
    poller.on('poll', () => {
      for (const u of this.users) u.polled();
    });
    // Failed polls are retried at the next interval; the last known lists stay valid meanwhile.
    poller.on('pollError', () => undefined);
    this.poller = poller;
    this.key = key;
    poller.start();
    return true;
  }
}

const shared = new WeakMap<StatusSession, SharedPoll>();

/** Joins (or starts) the session's shared status poll. */
export function joinStatusPoll(session: StatusSession, user: StatusPollUser): StatusPollHandle {
  let poll = shared.get(session);
  if (!poll) {
    const created = new SharedPoll(session, () => {
      if (shared.get(session) === created) shared.delete(session);
    });
    shared.set(session, created);
    poll = created;
  }
  const joined = poll;
  joined.add(user);
  let left = false;
  return {
    current: () => (left ? undefined : joined.current()),
    leave: () => {
      if (left) return;
      left = true;
      joined.remove(user);
    },
  };
}
