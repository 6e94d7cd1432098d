import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withTimeout } from '../src/htsp/util';

test('withTimeout: settles with the promise, either way, or after the time, and never rejects', async () => {
  let t0 = Date.now();
  await withTimeout(Promise.resolve(1), 5000);
  await withTimeout(Promise.reject(new Error('closing failed')), 5000);
  assert.ok(Date.now() - t0 < 1000, 'did not wait for the timer');

  t0 = Date.now();
  await withTimeout(new Promise(() => undefined), 60);
  assert.ok(Date.now() - t0 >= 50, 'a promise that never settles is given up on');

  // Settling first clears the timer: nothing is left to keep the process alive.
  const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  await withTimeout(Promise.resolve(), 60_000);
  assert.equal(timers(), before);
});
