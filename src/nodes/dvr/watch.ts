/**
 * Waits for the cache change a DVR request causes. The server may push the change before or
 * after its reply, so the watch starts before the request is sent and keeps what it sees.
 */
import type { ChangeEvent, HtspSession } from '../../htsp';

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
    // Bounded: an autorec rule can create many entries while we wait for the rule itself.
    if (this.seen.length < 10_000) this.seen.push(c);
  };

  constructor(private readonly session: HtspSession) {
    session.on('change', this.onChange);
  }

  /** The first change (already seen or still to come) that `match` accepts, or undefined after `timeoutMs`. */
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
