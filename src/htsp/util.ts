/**
 * Small helpers shared by the protocol library and the layers above it.
 */

/**
 * Waits until `promise` settles or `ms` have passed, whichever comes first, and never rejects.
 * Meant for shutdown paths: a peer that never answers must not hold up a stop, and a failure
 * while closing is no reason to stop closing. The promise's outcome is deliberately dropped.
 */
export function withTimeout(promise: PromiseLike<unknown>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, Math.max(0, ms));
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    promise.then(done, done);
  });
}
