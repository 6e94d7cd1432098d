/**
 * Bounded waiting for shutdown. Node-RED gives all nodes together 15 s to close; one stuck
 * socket must not use them up.
 */

/** How long a config node waits for its session to stop before it reports itself closed. */
export const CLOSE_TIMEOUT_MS = 3000;

/** Resolves when `stop` settles or after `ms`, whichever is first; never rejects. */
export function settleWithin(stop: () => Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    const finish = (): void => {
      clearTimeout(timer);
      resolve();
    };
    // Through a promise so that a synchronous throw in `stop` counts as settled too.
    Promise.resolve().then(stop).then(finish, finish);
  });
}
