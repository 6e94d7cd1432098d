/**
 * Waiting for the shared session before a message is answered. Messages are not queued while
 * the server is unreachable; they only wait for a session that is on its way to ready.
 */
import { NodeError } from './errors';
import type { HtspSession, TvheadendServerNode } from './types';

const REFUSED = 'Tvheadend refused the user name or password of the server node';

/**
 * Resolves when the session is ready. A session that is still connecting or syncing (just
 * deployed, or reconnecting) gets up to `timeoutMs`; one that is waiting to retry, or was refused,
 * fails at once.
 */
export function whenReady(session: HtspSession, timeoutMs: number): Promise<void> {
  const state = session.state;
  if (state === 'ready') return Promise.resolve();
  if (state === 'auth-failed') return Promise.reject(new NodeError('noaccess', REFUSED));
  if (state === 'disconnected') return Promise.reject(notConnected(session));
  return new Promise((resolve, reject) => {
    const finish = (err?: NodeError): void => {
      clearTimeout(timer);
      session.off('state', onState);
      if (err) reject(err);
      else resolve();
    };
    const onState = (): void => {
      const s = session.state;
      if (s === 'ready') finish();
      else if (s === 'auth-failed') finish(new NodeError('noaccess', REFUSED));
      else if (s === 'disconnected') finish(notConnected(session));
    };
    const timer = setTimeout(
      () => finish(new NodeError('timeout', `Tvheadend did not finish connecting within ${Math.round(timeoutMs / 1000)} s (${session.state})`)),
      timeoutMs,
    );
    session.on('state', onState);
  });
}

function notConnected(session: HtspSession): NodeError {
  const err = session.status.error;
  return new NodeError('disconnected', `not connected to Tvheadend${err ? ` (${err.message})` : ''}`);
}

/** How long a message waits for the session: the server node's request timeout. */
export function readyTimeoutMs(server: TvheadendServerNode): number {
  const s = server.config.requestTimeout;
  return Math.round((Number.isFinite(s) && s > 0 ? s : 15) * 1000);
}
