/**
 * HTSMSG binary codec (the v1 format Tvheadend uses on HTSP sockets).
 *
 * Wire layout of one field: type(1) nameLength(1) dataLength(4, BE) name data.
 * A message body is the fields of the root map back to back.
 */

export const enum FieldType {
  MAP = 1,
  S64 = 2,
  STR = 3,
  BIN = 4,
  LIST = 5,
  DBL = 6,
  BOOL = 7,
  UUID = 8,
}

/** A 16-byte UUID field. Kept apart from BIN so that it survives a round trip. */
export class HtsUuid {
  readonly bytes: Buffer;
  constructor(bytes: Uint8Array) {
    if (bytes.length !== 16) {
      throw new HtsmsgError('bad-uuid', `a UUID has 16 bytes, got ${bytes.length}`);
    }
    this.bytes = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  toString(): string {
    return this.bytes.toString('hex');
  }
  toJSON(): string {
    return this.toString();
  }
}

export type HtsmsgValue =
  | number
  | bigint
  | string
  | boolean
  | Buffer
  | HtsUuid
  | HtsmsgValue[]
  | HtsmsgMap;

export interface HtsmsgMap {
  [name: string]: HtsmsgValue;
}

/**
 * Where a map repeats a field name (the server does this with `meta` in
 * `subscriptionStart`), the first value is the property and the later ones
 * are kept under this symbol, so that JSON output stays clean.
 */
export const DUPLICATE_FIELDS: unique symbol = Symbol('htsmsg.duplicateFields');

export type HtsmsgErrorCode =
  | 'truncated'
  | 'trailing-bytes'
  | 'unknown-type'
  | 'dbl-not-supported'
  | 's64-too-long'
  | 'bad-uuid'
  | 'frame-too-large'
  | 'name-too-long'
  | 'not-integer'
  | 'unencodable';

export class HtsmsgError extends Error {
  readonly code: HtsmsgErrorCode;
  /** Byte offset in the body where the problem was found, when decoding. */
  readonly offset: number | undefined;
  constructor(code: HtsmsgErrorCode, message: string, offset?: number) {
    super(offset === undefined ? message : `${message} (at byte ${offset})`);
    this.name = 'HtsmsgError';
    this.code = code;
    this.offset = offset;
  }
}

/** Whether a decoded value is a MAP (not a list, BIN or UUID). */
export function isHtsmsgMap(v: HtsmsgValue | undefined): v is HtsmsgMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v) && !(v instanceof HtsUuid);
}

export function duplicatesOf(map: HtsmsgMap, name: string): HtsmsgValue[] {
  const extra = (map as { [DUPLICATE_FIELDS]?: Record<string, HtsmsgValue[]> })[DUPLICATE_FIELDS];
  if (!Object.prototype.hasOwnProperty.call(map, name)) return [];
  const first = map[name];
  return extra?.[name] ? [first, ...extra[name]] : [first];
}

// ---------------------------------------------------------------- decoding

const TWO_POW_32 = 0x1_0000_0000;

/** Field names repeat endlessly (every eventAdd has the same dozen), so intern them. */
const nameCache = new Map<number, string>();

function readName(buf: Buffer, start: number, length: number): string {
  if (length === 0) return '';
  if (length <= 16) {
    // A cheap hash over the bytes; a hit is confirmed byte by byte.
    let h = length;
    for (let i = 0; i < length; i++) h = (Math.imul(h, 31) + buf[start + i]) | 0;
    const hit = nameCache.get(h);
    if (hit !== undefined && hit.length === length) {
      let same = true;
      for (let i = 0; i < length; i++) {
        if (hit.charCodeAt(i) !== buf[start + i]) {
          same = false;
          break;
        }
      }
      if (same) return hit;
    }
    const name = buf.toString('utf8', start, start + length);
    if (name.length === length && nameCache.size < 4096) nameCache.set(h, name);
    return name;
  }
  return buf.toString('utf8', start, start + length);
}

function readS64(buf: Buffer, start: number, length: number, offset: number): number | bigint {
  switch (length) {
    case 0:
      return 0;
    case 1:
      return buf[start];
    case 2:
      return buf[start] | (buf[start + 1] << 8);
    case 3:
      return buf[start] | (buf[start + 1] << 8) | (buf[start + 2] << 16);
    case 4:
      return (buf[start] | (buf[start + 1] << 8) | (buf[start + 2] << 16)) + buf[start + 3] * 0x100_0000;
    case 5:
    case 6:
      return buf.readUIntLE(start, length);
    case 7: {
      const v = buf.readUIntLE(start, 6) + buf[start + 6] * 2 ** 48;
      if (Number.isSafeInteger(v)) return v;
      return BigInt(buf.readUIntLE(start, 6)) + (BigInt(buf[start + 6]) << 48n);
    }
    case 8: {
      const lo = buf.readUInt32LE(start);
      const hi = buf.readInt32LE(start + 4);
      const v = hi * TWO_POW_32 + lo;
      if (Number.isSafeInteger(v)) return v;
      return buf.readBigInt64LE(start);
    }
    default:
      throw new HtsmsgError('s64-too-long', `integer field has ${length} bytes, at most 8 are allowed`, offset);
  }
}

/**
 * Decoding builds thousands of maps with the same fields in the same order (every eventAdd,
 * every muxpkt). Adding properties one by one to `{}` under names known only at run time is the
 * slowest part of decoding (a megamorphic keyed store per field), so the field sequences seen are
 * kept in a trie. A node knows its name's bytes, so the common case matches a field name by
 * comparing bytes, without making a string; and a sequence seen often enough gets a factory that
 * creates the whole map in one object literal, as JSON.parse would.
 */
interface Shape {
  /** The field name that leads here; '' for the root. */
  readonly name: string;
  /** The name's UTF-8 bytes. */
  readonly bytes: Uint8Array;
  /** Field names from the root to here, in order. */
  readonly names: readonly string[];
  readonly children: Shape[];
  /** The child that matched last: the next map usually repeats it. */
  last: Shape | undefined;
  /** No factory can exist (a repeated name, `__proto__`, too many fields). */
  readonly plain: boolean;
  hits: number;
  make: ((v: HtsmsgValue[]) => HtsmsgMap) | undefined;
}

/**
 * A sequence must end this many maps before it gets a factory. Compiling one costs about as much
 * as a few hundred maps built property by property, and an EPG has hundreds of sequences (each
 * combination of optional fields is one): the simulator's 100k events have 640, most of them
 * rare, and compiling a factory for each made a sync slower, not faster.
 */
const SHAPE_FACTORY_HITS = 1024;
const SHAPE_MAX_FIELDS = 64;
/** Bounds the trie's memory against a server sending ever-new field names. */
const SHAPE_MAX_NODES = 8192;
let shapeNodes = 0;

function newShape(name: string, bytes: Uint8Array, parent: Shape | undefined): Shape {
  const names = parent ? [...parent.names, name] : [];
  const plain =
    (parent?.plain ?? false) || name === '__proto__' || names.length > SHAPE_MAX_FIELDS || (parent?.names.includes(name) ?? false);
  shapeNodes++;
  return { name, bytes, names, children: [], last: undefined, plain, hits: 0, make: undefined };
}

const ROOT_SHAPE = newShape('', new Uint8Array(0), undefined);

function sameBytes(buf: Buffer, start: number, length: number, bytes: Uint8Array): boolean {
  if (bytes.length !== length) return false;
  for (let i = 0; i < length; i++) if (buf[start + i] !== bytes[i]) return false;
  return true;
}

/** The child of `shape` for the name at buf[start, start+length), added if new; undefined when the trie is full. */
function childShape(shape: Shape, buf: Buffer, start: number, length: number): Shape | undefined {
  const last = shape.last;
  if (last !== undefined && sameBytes(buf, start, length, last.bytes)) return last;
  const children = shape.children;
  for (let i = 0; i < children.length; i++) {
    const c = children[i];
    if (sameBytes(buf, start, length, c.bytes)) {
      shape.last = c;
      return c;
    }
  }
  if (shapeNodes >= SHAPE_MAX_NODES) return undefined;
  const bytes = Uint8Array.prototype.slice.call(buf, start, start + length);
  const c = newShape(buf.toString('utf8', start, start + length), bytes, shape);
  children.push(c);
  shape.last = c;
  return c;
}

/**
 * A function returning `{name0: v[0], name1: v[1], …}`. The names come from the server, so each
 * is written as a JSON string literal (valid JS, nothing can escape it); `__proto__`, which would
 * set the prototype in a literal, never gets here (see `plain`).
 */
function makeFactory(names: readonly string[]): (v: HtsmsgValue[]) => HtsmsgMap {
  const body = names.map((n, i) => `${JSON.stringify(n)}: v[${i}]`).join(',\n');
  try {
    return new Function('v', `'use strict';\nreturn {\n${body}\n};`) as (v: HtsmsgValue[]) => HtsmsgMap;
  } catch {
    // A process started with --disallow-code-generation-from-strings: the slower generic path.
    return (v) => assemble(names, v);
  }
}

type Utf8Slicer = { utf8Slice(start: number, end: number): string };
/**
 * `toString('utf8', …)` checks its arguments and looks the encoding up before it calls the
 * native `utf8Slice`; for the many short strings of an EPG that wrapper costs as much as the
 * conversion. Bounds are already checked by the caller.
 */
const hasUtf8Slice = typeof (Buffer.prototype as unknown as Partial<Utf8Slicer>).utf8Slice === 'function';
function utf8(buf: Buffer, start: number, end: number): string {
  if (start === end) return '';
  return hasUtf8Slice ? (buf as unknown as Utf8Slicer).utf8Slice(start, end) : buf.toString('utf8', start, end);
}

/**
 * Short ASCII strings repeat all the time (titles, `S01E02`, states, stream types, channel
 * names): a small direct-mapped table returns the string made last time for the same bytes. That
 * is cheaper than making it again, and a cache of 100k events then holds one copy of each title.
 */
const SHORT_STRING = 32;
const STRING_SLOTS = 4096;
const stringTable: Array<string | undefined> = new Array<string | undefined>(STRING_SLOTS).fill(undefined);

function str(buf: Buffer, start: number, end: number): string {
  const n = end - start;
  if (n > SHORT_STRING) return utf8(buf, start, end);
  let h = n;
  for (let i = start; i < end; i++) {
    const c = buf[i];
    if (c > 0x7f) return utf8(buf, start, end);
    h = (Math.imul(h, 31) + c) | 0;
  }
  const slot = (h ^ (h >>> 13)) & (STRING_SLOTS - 1);
  const hit = stringTable[slot];
  if (hit !== undefined && hit.length === n) {
    let i = 0;
    while (i < n && hit.charCodeAt(i) === buf[start + i]) i++;
    if (i === n) return hit;
  }
  const made = utf8(buf, start, end);
  stringTable[slot] = made;
  return made;
}

function decodeValue(buf: Buffer, type: number, dataStart: number, dataEnd: number, p: number): HtsmsgValue {
  switch (type) {
    case FieldType.MAP:
      return decodeMap(buf, dataStart, dataEnd);
    case FieldType.LIST:
      return decodeList(buf, dataStart, dataEnd);
    case FieldType.S64:
      return readS64(buf, dataStart, dataEnd - dataStart, p);
    case FieldType.STR:
      return str(buf, dataStart, dataEnd);
    case FieldType.BIN:
      return buf.subarray(dataStart, dataEnd);
    case FieldType.BOOL:
      return dataEnd === dataStart ? false : buf[dataStart] !== 0;
    case FieldType.UUID:
      if (dataEnd - dataStart !== 16) {
        throw new HtsmsgError('bad-uuid', `UUID field has ${dataEnd - dataStart} bytes, must be 16`, p);
      }
      return new HtsUuid(buf.subarray(dataStart, dataEnd));
    case FieldType.DBL:
      throw new HtsmsgError('dbl-not-supported', 'DBL fields have no wire form in HTSP', p);
    default:
      throw new HtsmsgError('unknown-type', `unknown field type ${type}`, p);
  }
}

/** Header of the field at `p`; returns where its data ends, after checking it fits in `end`. */
function fieldEnd(buf: Buffer, p: number, end: number): number {
  if (end - p < 6) {
    throw new HtsmsgError('trailing-bytes', `${end - p} stray bytes where a field header (6 bytes) was expected`, p);
  }
  const nameLength = buf[p + 1];
  const dataLength = buf[p + 2] * 0x100_0000 + ((buf[p + 3] << 16) | (buf[p + 4] << 8) | buf[p + 5]);
  const dataEnd = p + 6 + nameLength + dataLength;
  if (dataEnd > end) {
    throw new HtsmsgError('truncated', `field of ${nameLength}+${dataLength} bytes runs past the end of its container`, p);
  }
  return dataEnd;
}

/**
 * Lists are sized exactly. A list grown by `push` keeps the 17-slot backing store V8 gives an
 * empty array on its first push: a one-element `category` then holds about 190 bytes instead of
 * 56, and the cache keeps one or two such lists per EPG event (and every scavenge copies them).
 */
function decodeList(buf: Buffer, start: number, end: number): HtsmsgValue[] {
  const n = countFields(buf, start, end);
  if (n < 0) return decodeListGrowing(buf, start, end);
  const list = new Array<HtsmsgValue>(n);
  let p = start;
  for (let i = 0; i < n; i++) {
    const dataEnd = fieldEnd(buf, p, end);
    list[i] = decodeValue(buf, buf[p], p + 6 + buf[p + 1], dataEnd, p);
    p = dataEnd;
  }
  return list;
}

/** Fields in buf[start, end), or -1 when the headers do not tile it exactly (decoding will throw). */
function countFields(buf: Buffer, start: number, end: number): number {
  let n = 0;
  let p = start;
  while (p < end) {
    if (end - p < 6) return -1;
    p += 6 + buf[p + 1] + (buf[p + 2] * 0x100_0000 + ((buf[p + 3] << 16) | (buf[p + 4] << 8) | buf[p + 5]));
    n++;
  }
  return p === end ? n : -1;
}

/** For malformed lists: decodes in order, so the error thrown is the first one met, as always. */
function decodeListGrowing(buf: Buffer, start: number, end: number): HtsmsgValue[] {
  const list: HtsmsgValue[] = [];
  let p = start;
  while (p < end) {
    const dataEnd = fieldEnd(buf, p, end);
    list.push(decodeValue(buf, buf[p], p + 6 + buf[p + 1], dataEnd, p));
    p = dataEnd;
  }
  return list;
}

function decodeMap(buf: Buffer, start: number, end: number): HtsmsgMap {
  const values: HtsmsgValue[] = [];
  let shape: Shape | undefined = ROOT_SHAPE;
  let p = start;
  while (p < end) {
    const dataEnd = fieldEnd(buf, p, end);
    const nameStart = p + 6;
    const nameLength = buf[p + 1];
    values.push(decodeValue(buf, buf[p], nameStart + nameLength, dataEnd, p));
    if (shape !== undefined) {
      shape = childShape(shape, buf, nameStart, nameLength);
      if (shape === undefined) return decodeMapByName(buf, start, end);
    }
    p = dataEnd;
  }
  const s = shape as Shape;
  if (s.make !== undefined) return s.make(values);
  if (!s.plain && ++s.hits >= SHAPE_FACTORY_HITS && s.names.length > 0) {
    s.make = makeFactory(s.names);
    return s.make(values);
  }
  return assemble(s.names, values);
}

/** Builds a map property by property; repeated names go under DUPLICATE_FIELDS. */
function assemble(names: readonly string[], values: HtsmsgValue[]): HtsmsgMap {
  const m: HtsmsgMap = {};
  let duplicates: Record<string, HtsmsgValue[]> | undefined;
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    const value = values[i];
    if (!Object.prototype.hasOwnProperty.call(m, name)) {
      // A server-sent name such as "__proto__" must stay data, never a prototype.
      if (name === '__proto__') {
        Object.defineProperty(m, name, { value, enumerable: true, writable: true, configurable: true });
      } else {
        m[name] = value;
      }
    } else {
      duplicates ??= {};
      (duplicates[name] ??= []).push(value);
    }
  }
  if (duplicates) Object.defineProperty(m, DUPLICATE_FIELDS, { value: duplicates, enumerable: false });
  return m;
}

/** The slow path once the shape trie is full: names read one by one. */
function decodeMapByName(buf: Buffer, start: number, end: number): HtsmsgMap {
  const names: string[] = [];
  const values: HtsmsgValue[] = [];
  let p = start;
  while (p < end) {
    const dataEnd = fieldEnd(buf, p, end);
    const nameStart = p + 6;
    const nameLength = buf[p + 1];
    values.push(decodeValue(buf, buf[p], nameStart + nameLength, dataEnd, p));
    names.push(readName(buf, nameStart, nameLength));
    p = dataEnd;
  }
  return assemble(names, values);
}

/**
 * Decode one message body (without the 4-byte length prefix).
 * BIN fields are views into `body`, not copies.
 */
export function decodeBody(body: Buffer): HtsmsgMap {
  return decodeMap(body, 0, body.length);
}

// ---------------------------------------------------------------- encoding

export interface EncodeOptions {
  /**
   * Write booleans as the BOOL type. Tvheadend only does that inside `api`
   * replies and older servers drop the connection on it, so by default a
   * boolean is written as the integer 0 or 1.
   */
  booleansAsBool?: boolean;
}

const U64 = (1n << 64n) - 1n;

function s64Length(v: number | bigint): number {
  if (typeof v === 'number') {
    if (v === 0) return 0;
    if (v < 0) return 8;
    let n = 0;
    while (v >= 1) {
      v = Math.floor(v / 256);
      n++;
    }
    return n;
  }
  if (v === 0n) return 0;
  if (v < 0n) return 8;
  let n = 0;
  while (v > 0n) {
    v >>= 8n;
    n++;
  }
  return n;
}

function checkInteger(v: number | bigint, name: string): void {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) {
      throw new HtsmsgError('not-integer', `field "${name}" is ${v}; HTSP has no floating-point type`);
    }
    if (!Number.isSafeInteger(v)) {
      throw new HtsmsgError('not-integer', `field "${name}" is beyond 2^53; pass it as a bigint`);
    }
  } else if (v > (1n << 63n) - 1n || v < -(1n << 63n)) {
    throw new HtsmsgError('not-integer', `field "${name}" does not fit in 64 bits`);
  }
}

/**
 * Only plain objects become a MAP. A Date, Map, Set or class instance has no enumerable fields
 * of its own worth sending, so it used to go out as an empty MAP without a word.
 */
function isPlainObject(v: object): v is HtsmsgMap {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function unencodableObject(v: object, name: string): string {
  if (v instanceof Date) return `field "${name}" is a Date, which HTSMSG cannot carry: send epoch seconds (Math.floor(date.getTime() / 1000))`;
  const ctor: unknown = (v as { constructor?: unknown }).constructor;
  const what = typeof ctor === 'function' && ctor.name ? ctor.name : 'non-plain object';
  return `field "${name}" is a ${what}, which HTSMSG cannot carry: only plain objects, arrays, Buffers and HtsUuid`;
}

function fieldDataLength(v: HtsmsgValue, name: string, opts: EncodeOptions): number {
  switch (typeof v) {
    case 'number':
    case 'bigint':
      checkInteger(v, name);
      return s64Length(v);
    case 'string':
      return Buffer.byteLength(v, 'utf8');
    case 'boolean':
      return opts.booleansAsBool ? (v ? 1 : 0) : v ? 1 : 0;
    case 'object':
      if (Buffer.isBuffer(v)) return v.length;
      if (v instanceof Uint8Array) return (v as Uint8Array).length;
      if (v instanceof HtsUuid) return 16;
      if (Array.isArray(v)) {
        let n = 0;
        for (const item of v) {
          if (item === undefined || item === null) continue;
          n += 6 + fieldDataLength(item, name, opts);
        }
        return n;
      }
      if (isPlainObject(v)) return mapLength(v, opts);
      throw new HtsmsgError('unencodable', unencodableObject(v, name));
    default:
      break;
  }
  throw new HtsmsgError('unencodable', `field "${name}" has a value of type ${typeof v} that HTSMSG cannot carry`);
}

function mapLength(map: HtsmsgMap, opts: EncodeOptions): number {
  let n = 0;
  for (const name of Object.keys(map)) {
    const v = map[name];
    if (v === undefined || v === null) continue;
    const nameBytes = Buffer.byteLength(name, 'utf8');
    if (nameBytes > 255) {
      throw new HtsmsgError('name-too-long', `field name "${name.slice(0, 32)}…" is longer than 255 bytes`);
    }
    n += 6 + nameBytes + fieldDataLength(v, name, opts);
  }
  return n;
}

function typeOf(v: HtsmsgValue, opts: EncodeOptions): FieldType {
  switch (typeof v) {
    case 'number':
    case 'bigint':
      return FieldType.S64;
    case 'string':
      return FieldType.STR;
    case 'boolean':
      return opts.booleansAsBool ? FieldType.BOOL : FieldType.S64;
    default:
      if (Buffer.isBuffer(v) || v instanceof Uint8Array) return FieldType.BIN;
      if (v instanceof HtsUuid) return FieldType.UUID;
      if (Array.isArray(v)) return FieldType.LIST;
      return FieldType.MAP;
  }
}

function writeS64(buf: Buffer, p: number, v: number | bigint, length: number): void {
  if (length === 0) return;
  if (typeof v === 'number' && v > 0 && length <= 6) {
    buf.writeUIntLE(v, p, length);
    return;
  }
  let u = BigInt.asUintN(64, BigInt(v)) & U64;
  for (let i = 0; i < length; i++) {
    buf[p + i] = Number(u & 0xffn);
    u >>= 8n;
  }
}

function writeField(buf: Buffer, p: number, name: string, v: HtsmsgValue, opts: EncodeOptions): number {
  const type = typeOf(v, opts);
  buf[p] = type;
  const nameBytes = name.length === 0 ? 0 : buf.write(name, p + 6, 'utf8');
  buf[p + 1] = nameBytes;
  const dataStart = p + 6 + nameBytes;
  let dataEnd: number;
  switch (type) {
    case FieldType.S64: {
      const n = typeof v === 'boolean' ? (v ? 1 : 0) : (v as number | bigint);
      const length = s64Length(n);
      writeS64(buf, dataStart, n, length);
      dataEnd = dataStart + length;
      break;
    }
    case FieldType.STR:
      dataEnd = dataStart + buf.write(v as string, dataStart, 'utf8');
      break;
    case FieldType.BIN: {
      const b = v as Uint8Array;
      buf.set(b, dataStart);
      dataEnd = dataStart + b.length;
      break;
    }
    case FieldType.UUID:
      (v as HtsUuid).bytes.copy(buf, dataStart);
      dataEnd = dataStart + 16;
      break;
    case FieldType.BOOL:
      if (v) {
        buf[dataStart] = 1;
        dataEnd = dataStart + 1;
      } else {
        dataEnd = dataStart;
      }
      break;
    case FieldType.LIST: {
      let q = dataStart;
      for (const item of v as HtsmsgValue[]) {
        if (item === undefined || item === null) continue;
        q = writeField(buf, q, '', item, opts);
      }
      dataEnd = q;
      break;
    }
    default:
      dataEnd = writeMap(buf, dataStart, v as HtsmsgMap, opts);
      break;
  }
  buf.writeUInt32BE(dataEnd - dataStart, p + 2);
  return dataEnd;
}

function writeMap(buf: Buffer, p: number, map: HtsmsgMap, opts: EncodeOptions): number {
  for (const name of Object.keys(map)) {
    const v = map[name];
    if (v === undefined || v === null) continue;
    p = writeField(buf, p, name, v, opts);
  }
  return p;
}

/** Encode a message body (no length prefix). `undefined`/`null` fields are left out. */
export function encodeBody(msg: HtsmsgMap, opts: EncodeOptions = {}): Buffer {
  const length = mapLength(msg, opts);
  const buf = Buffer.allocUnsafe(length);
  const end = writeMap(buf, 0, msg, opts);
  return end === length ? buf : buf.subarray(0, end);
}

/** Encode a whole frame: 4-byte big-endian length, then the body. */
export function encodeFrame(msg: HtsmsgMap, opts: EncodeOptions = {}): Buffer {
  const length = mapLength(msg, opts);
  const buf = Buffer.allocUnsafe(4 + length);
  buf.writeUInt32BE(length, 0);
  writeMap(buf, 4, msg, opts);
  return buf;
}
