/**
 * Set-up the client suites share: a simulator on a free port, an `HtspSession` to it with the
 * test defaults, waiting for its events, collecting what it emits, and closing everything when
 * the test ends (in reverse order of creation: sessions before the servers they talk to).
 */
import type { TestContext } from 'node:test';
import type { EventEmitter } from 'node:events';
import { TvheadendSimulator, type SimOptions } from '../../src/sim';
import { HtspSession, type SessionOptions, type SessionState, type SessionStatus } from '../../src/htsp/session';
import type { ChangeEvent } from '../../src/htsp/cache';

const stacks = new WeakMap<TestContext, Array<() => unknown>>();

/** Runs `fn` when the test ends; cleanups run last registered first, one after the other. */
export function onCleanup(t: TestContext, fn: () => unknown): void {
  let stack = stacks.get(t);
  if (!stack) {
    const fresh: Array<() => unknown> = [];
    stacks.set(t, fresh);
    t.after(async () => {
      while (fresh.length) await fresh.pop()?.();
    });
    stack = fresh;
  }
  stack.push(fn);
}

/** A started simulator on a free port (`opts` as given: no defaults but the port), stopped at the end. */
export async function startSim(t: TestContext, opts: SimOptions = {}): Promise<TvheadendSimulator> {
  const sim = new TvheadendSimulator({ port: 0, ...opts });
  await sim.start();
  onCleanup(t, () => sim.stop());
  return sim;
}

/** The simulator's demo user, no pings, and quick reconnects without jitter. */
export const TEST_SESSION_OPTIONS = {
  host: '127.0.0.1',
  username: 'demo',
  password: 'demo',
  pingIntervalMs: 0,
  reconnect: { initialDelayMs: 20, maxDelayMs: 200, jitter: 0 },
} as const satisfies Partial<SessionOptions>;

/** A session to `port` with the test defaults, not started yet; stopped at the end. */
export function newSession(t: TestContext, port: number, opts: Partial<SessionOptions> = {}): HtspSession {
  const session = new HtspSession({ ...TEST_SESSION_OPTIONS, port, ...opts });
  onCleanup(t, () => session.stop());
  return session;
}

/** Resolves with the first value of `event` that passes `pred`; rejects after `ms`. */
export function waitFor<T = unknown>(em: EventEmitter, event: string, pred: (v: T) => boolean = () => true, ms = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      em.off(event, on);
      reject(new Error(`timed out waiting for ${event}`));
    }, ms);
    const on = (v: T): void => {
      if (!pred(v)) return;
      clearTimeout(timer);
      em.off(event, on);
      resolve(v);
    };
    em.on(event, on);
  });
}

/** The session's next `ready`. */
export function untilReady(session: HtspSession, ms?: number): Promise<unknown> {
  return waitFor(session, 'ready', undefined, ms);
}

/** The session's next state change to `state`. */
export function untilState(session: HtspSession, state: SessionState, ms?: number): Promise<SessionStatus> {
  return waitFor<SessionStatus>(session, 'state', (st) => st.state === state, ms);
}

/** A session to `port` with the test defaults, started and ready. */
export async function readySession(t: TestContext, port: number, opts: Partial<SessionOptions> = {}): Promise<HtspSession> {
  const session = newSession(t, port, opts);
  const ready = untilReady(session);
  session.start();
  await ready;
  return session;
}

/** Every value `event` emits from now on. */
export function collect<T>(em: EventEmitter, event: string): T[] {
  const seen: T[] = [];
  em.on(event, (v: T) => seen.push(v));
  return seen;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Polls until `pred` holds, failing after `ms` with `what` in the message. For state that must
 * first cross a socket: a fixed sleep is either too short on a loaded machine or wasted time.
 */
export async function until(pred: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

export interface SimSession {
  sim: TvheadendSimulator;
  /** Ready: the first sync is in. */
  session: HtspSession;
  /** The session's change events since it became ready. */
  changes: ChangeEvent[];
  /** Waits for an event of the session (see `waitFor`). */
  until<T = unknown>(event: string, pred?: (v: T) => boolean, ms?: number): Promise<T>;
}

/** A simulator (`simOpts` as given) and a ready session to it; both closed when the test ends. */
export async function withSimSession(t: TestContext, simOpts: SimOptions = {}, sessionOpts: Partial<SessionOptions> = {}): Promise<SimSession> {
  const sim = await startSim(t, simOpts);
  const session = newSession(t, sim.port, sessionOpts);
  session.start();
  await untilReady(session);
  const changes = collect<ChangeEvent>(session, 'change');
  return { sim, session, changes, until: (event, pred, ms) => waitFor(session, event, pred, ms) };
}

/**
 * Stops the simulator's clock at least `marginS` before its next programme boundary. A session's
 * "now" is the server clock read at connect plus the real time since, and a test reads the
 * simulator at another moment: neither may cross a boundary, so both see the same now/next.
 * Call it before the session connects, so that the clock it measures is the stopped one.
 */
export function freezeAwayFromBoundaries(sim: TvheadendSimulator, marginS = 300): void {
  sim.setSpeed(0);
  for (let i = 0; i < 20; i++) {
    const now = sim.now();
    let next = Infinity;
    for (const e of sim.getEvents()) {
      if (e.start > now) next = Math.min(next, e.start);
      if (e.stop > now) next = Math.min(next, e.stop);
    }
    if (next - now >= marginS) return;
    sim.advance(next - now + 1);
  }
  throw new Error(`the simulator has no ${marginS} s without a programme change`);
}
