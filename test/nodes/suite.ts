// One simulator for a whole `describe` of Node-RED tests: started before its first test, stopped
// after its last, the flows unloaded after each test. Apart from ./helpers because that file is
// also loaded by bench/latency.bench.ts, which must not pull in node:test.
import { before, after, afterEach } from 'node:test';
import type { SimOptions } from '../../src/sim';
import { helper, startSim, type SimHandle } from './helpers';

export interface SuiteSimOptions {
  /** Once the simulator is up (before the first test). */
  started?: (sim: SimHandle) => unknown;
  /** After each test, before its flows are unloaded. */
  beforeUnload?: (sim: SimHandle) => unknown;
  /** After each test, once its flows are unloaded. */
  afterUnload?: (sim: SimHandle) => unknown;
}

/**
 * Registers the suite's hooks (call it in the `describe` body) and returns the simulator, usable
 * inside its tests. `opts` may be a function, read when the simulator starts (for times relative
 * to then).
 */
export function simPerSuite(opts: SimOptions | (() => SimOptions) = {}, hooks: SuiteSimOptions = {}): SimHandle {
  let running: SimHandle | undefined;
  const current = (): SimHandle => {
    if (!running) throw new Error('the suite simulator runs only while its suite does');
    return running;
  };
  before(async () => {
    running = await startSim(typeof opts === 'function' ? opts() : opts);
    await hooks.started?.(running);
  });
  after(async () => {
    await current().stop();
  });
  afterEach(async () => {
    await hooks.beforeUnload?.(current());
    await helper.unload();
    await hooks.afterUnload?.(current());
  });
  return {
    get sim() {
      return current().sim;
    },
    get port() {
      return current().port;
    },
    connections: () => current().connections(),
    failedLogins: () => current().failedLogins(),
    stop: () => current().stop(),
  };
}
