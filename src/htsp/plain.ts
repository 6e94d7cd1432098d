import { HtsUuid, type HtsmsgValue } from './codec';

/**
 * What `toPlain` turns an HTSMSG value into: data that JSON, Node-RED's debug sidebar and
 * message cloning all handle. Buffers stay Buffers (Node-RED shows and clones them).
 */
export type PlainValue = number | string | boolean | Buffer | PlainValue[] | { [key: string]: PlainValue };

/**
 * Integers beyond 2^53 (a recording's `fsid`, for one) decode as `bigint`, which
 * `JSON.stringify` refuses; they become decimal strings. UUID fields become hex strings.
 */
export function toPlain(value: HtsmsgValue): PlainValue;
export function toPlain<T extends object>(value: T): T;
export function toPlain(value: unknown): unknown {
  switch (typeof value) {
    case 'bigint':
      return value.toString();
    case 'object': {
      if (value === null || Buffer.isBuffer(value)) return value;
      if (value instanceof HtsUuid) return value.toString();
      if (Array.isArray(value)) {
        let out: unknown[] | undefined;
        for (let i = 0; i < value.length; i++) {
          const v = toPlain(value[i] as HtsmsgValue);
          if (v !== value[i]) (out ??= value.slice())[i] = v;
        }
        return out ?? value;
      }
      // Copy only where something changes: most objects have no bigint at all.
      let out: Record<string, unknown> | undefined;
      const src = value as Record<string, unknown>;
      for (const key of Object.keys(src)) {
        const v = toPlain(src[key] as HtsmsgValue);
        if (v !== src[key]) (out ??= { ...src })[key] = v;
      }
      return out ?? value;
    }
    default:
      return value;
  }
}
