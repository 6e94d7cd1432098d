/**
 * Input helpers used by the EPG and the DVR node. They belong in `src/nodes/shared` once its
 * owner takes them; until then the DVR node imports them from here.
 */
import { NodeError, badInput } from '../shared';
import type { HtspSession, Node, NodeAPI, NodeMessage, TvheadendServerNode } from '../shared';

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v) && !(v instanceof Date) && !(v instanceof RegExp);
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (Buffer.isBuffer(v)) return 'a buffer';
  if (v instanceof Date) return 'a date';
  if (typeof v === 'string') return `"${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`;
  if (typeof v === 'number') return String(v);
  return `a ${typeof v}`;
}

/** `msg.payload` when it is an object of parameters, else an empty one (a timestamp from an inject node is not). */
export function payloadParams(msg: NodeMessage): Record<string, unknown> {
  return isPlainObject(msg.payload) ? msg.payload : {};
}

/** The value of a typedInput property for this message; an empty `str` value reads as undefined. */
export function evaluateProperty(RED: NodeAPI, node: Node, value: string, type: string, msg: NodeMessage, what: string): Promise<unknown> {
  if ((type === 'str' || type === 'num' || type === '') && value.trim() === '') return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    RED.util.evaluateNodeProperty(value, type || 'str', node, msg, (err: Error | null, result: unknown) => {
      if (err) reject(badInput(`cannot read ${what} from ${type} ${value}: ${err.message}`));
      else resolve(result);
    });
  });
}

/**
 * A point in time as UNIX seconds. Accepts UNIX seconds, milliseconds (anything above 10^11, so
 * `Date.now()` works), a `Date`, or text: digits, or a date the JavaScript `Date` understands
 * (ISO 8601 is the safe choice).
 */
export function parseTime(value: unknown, field: string): number {
  let ms: number;
  if (value instanceof Date) {
    ms = value.getTime();
  } else if (typeof value === 'number') {
    ms = Math.abs(value) >= 1e11 ? value : value * 1000;
  } else if (typeof value === 'string' && value.trim() !== '') {
    const text = value.trim();
    if (/^-?\d+(\.\d+)?$/.test(text)) return parseTime(Number(text), field);
    ms = Date.parse(text);
  } else {
    throw badInput(`${field} must be a time (UNIX seconds or milliseconds, a Date, or ISO 8601 text), got ${describe(value)}`);
  }
  if (!Number.isFinite(ms)) throw badInput(`${field} is not a valid time: ${describe(value)}`);
  return Math.floor(ms / 1000);
}

/** A non-negative number from a flow value (number or numeric text). */
export function parseCount(value: unknown, field: string): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isFinite(n) || n < 0) throw badInput(`${field} must be a number of 0 or more, got ${describe(value)}`);
  return n;
}

/** A channel reference as `HtspSession.findChannel` takes it. */
export function channelRef(value: unknown, field = 'channel'): number | string {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '') return value.trim();
  throw badInput(`${field} must be a channel name, number or id, got ${describe(value)}`);
}

/**
 * Resolves when the session is ready. A session that is still connecting or syncing (just
 * deployed, or reconnecting) gets up to `timeoutMs`; one that is waiting to retry, or was refused,
 * fails at once, because messages are not queued while the server is unreachable.
 */
export function whenReady(session: HtspSession, timeoutMs: number): Promise<void> {
  const state = session.state;
  if (state === 'ready') return Promise.resolve();
  if (state === 'auth-failed') {
    return Promise.reject(new NodeError('noaccess', 'Tvheadend refused the user name or password of the server node'));
  }
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
      else if (s === 'auth-failed' || s === 'disconnected') finish(s === 'auth-failed' ? new NodeError('noaccess', 'Tvheadend refused the user name or password of the server node') : notConnected(session));
    };
    const timer = setTimeout(() => finish(new NodeError('timeout', `Tvheadend did not finish connecting within ${Math.round(timeoutMs / 1000)} s (${session.state})`)), timeoutMs);
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
