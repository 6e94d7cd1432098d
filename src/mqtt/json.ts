/**
 * HTSMSG values as JSON: replies can hold 64-bit integers (bigint), binary fields (Buffer) and
 * UUIDs, none of which `JSON.stringify` handles.
 */
import { HtsUuid } from '../htsp/codec';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function toJson(value: unknown, depth = 0): Json {
  if (depth > 32) return null;
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'boolean':
    case 'string':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : null;
    case 'bigint':
      return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value.toString();
    case 'object':
      break;
    default:
      return null;
  }
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (value instanceof HtsUuid) return value.bytes.toString('hex');
  if (Array.isArray(value)) return value.map((v) => toJson(v, depth + 1));
  const out: { [key: string]: Json } = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (v !== undefined) out[k] = toJson(v, depth + 1);
  }
  return out;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}
