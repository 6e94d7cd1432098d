/**
 * Waits for the cache change a request causes. Replies of the DVR methods say little more than
 * "success" (G19), so what a request did is only known from the async update that follows it.
 * The server may push that update before or after its reply: the watch therefore starts before
 * the request is sent and keeps what it sees.
 */
import type { ChangeEvent } from './cache';

/**
 * What a watch needs of a session: its change events. `HtspSession` has them, and so do the
 * narrower views of a session that other layers hand in (the MQTT bridge's, test doubles).
 */
export interface ChangeSource {
  on(event: 'change', listener: (change: ChangeEvent) => void): unknown;
  off(event: 'change', listener: (change: ChangeEvent) => void): unknown;
}

/** Changes kept for a later `waitFor`; an autorec rule can create many entries while we wait for the rule itself. */
const MAX_SEEN = 10_000;

export class ChangeWatch {
  private readonly seen: ChangeEvent[] = [];
  private waiter: { match: (c: ChangeEvent) => boolean; resolve: (c: ChangeEvent | undefined) => void } | undefined;
  private readonly onChange = (c: ChangeEvent): void => {
    if (this.waiter?.match(c)) {
      const { resolve } = this.waiter;
      this.waiter = undefined;
      resolve(c);
      return;
    }
    if (this.seen.length < MAX_SEEN) this.seen.push(c);
  };

  constructor(private readonly session: ChangeSource) {
    session.on('change', this.onChange);
  }

  /**
   * The first change (already seen or still to come) that `match` accepts, or undefined after
   * `timeoutMs` or when the watch is closed. One wait at a time.
   */
  waitFor<C extends ChangeEvent>(match: (c: ChangeEvent) => c is C, timeoutMs: number): Promise<C | undefined>;
  waitFor(match: (c: ChangeEvent) => boolean, timeoutMs: number): Promise<ChangeEvent | undefined>;
  waitFor(match: (c: ChangeEvent) => boolean, timeoutMs: number): Promise<ChangeEvent | undefined> {
    const early = this.seen.find(match);
    if (early) return Promise.resolve(early);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.waiter = {
        match,
        resolve: (c) => {
          clearTimeout(timer);
          resolve(c);
        },
      };
    });
  }

  close(): void {
    this.session.off('change', this.onChange);
    this.waiter?.resolve(undefined);
    this.waiter = undefined;
  }
}

/** Runs `run` with a watch that is started first and closed however `run` ends. */
export async function withChangeWatch<T>(session: ChangeSource, run: (watch: ChangeWatch) => Promise<T>): Promise<T> {
  const watch = new ChangeWatch(session);
  try {
    return await run(watch);
  } finally {
    watch.close();
  }
}
