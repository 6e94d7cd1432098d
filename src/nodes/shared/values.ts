/**
 * Reading values a flow supplies: message parameters, typedInput properties, times, channel
 * references. Every refusal is a `bad-input` error whose text names the field and shows what
 * arrived, so that the user can fix the flow from the Catch node's message alone.
 */
import { badInput } from './errors';
import type { Node, NodeAPI, NodeMessage } from './types';

/** A plain object of parameters: not an array, buffer, date or regular expression. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v) && !(v instanceof Date) && !(v instanceof RegExp);
}

/** A short description of a wrong value, for error texts. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  if (Buffer.isBuffer(v)) return 'a buffer';
  if (v instanceof Date) return 'a date';
  if (typeof v === 'string') return `"${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`;
  if (typeof v === 'number') return String(v);
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** `msg.payload` when it is an object of parameters, else an empty one (a timestamp from an inject node is not). */
export function payloadParams(msg: NodeMessage): Record<string, unknown> {
  return isPlainObject(msg.payload) ? msg.payload : {};
}

/** The value of a typedInput property for this message; an empty `str` or `num` value reads as undefined. */
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

/** A yes/no from a flow value: `true`/`false`, 1/0 or their text. */
export function parseBoolean(value: unknown, field: string): boolean {
  if (value === true || value === 1 || value === 'true') return true;
  if (value === false || value === 0 || value === 'false') return false;
  throw badInput(`${field} must be true or false, got ${describe(value)}`);
}

/** A saved yes/no setting (older flows saved text); anything else reads as `fallback`. Never throws. */
export function settingBoolean(value: unknown, fallback: boolean): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  return fallback;
}
