/**
 * What the call node does with a message before anything is sent: pick the method, build the
 * request fields. Pure, so the rules are tested without Node-RED.
 */
import type { HtsmsgMap } from '../../htsp';
import { FILE_METHODS, HANDSHAKE_METHODS, SESSION_OWNED_METHODS } from '../../htsp/messages';
import { badInput } from '../shared/errors';
import type { NodeDef, NodeMessage } from '../shared/types';

export const CALL_TYPE = 'tvheadend-call';

/**
 * What the call node refuses: the session's methods except the file ones. The session never opens
 * a file, so a flow reading a recording or an image through the shared connection cannot disturb
 * it; a second handshake would change what every node relies on.
 */
export const REFUSED_METHODS: ReadonlySet<string> = new Set([...SESSION_OWNED_METHODS].filter((m) => !FILE_METHODS.has(m)));

function refusal(method: string): string {
  if (HANDSHAKE_METHODS.has(method)) {
    return `${method} is part of the connection handshake, which the server node's session does once for all nodes; a call node cannot send it`;
  }
  return (
    `${method} controls live subscriptions, which belong to the server node's session (their stream messages reach ` +
    'no call node): use a tvheadend-subscription node'
  );
}

const METHOD_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

export interface CallNodeDef extends NodeDef {
  server?: string;
  method?: string;
  fields?: string;
  fieldsType?: string;
  timeout?: string | number;
}

/** The method for this message: the node's own, else `msg.topic`. Throws `bad-input`. */
export function methodFor(configured: string, msg: NodeMessage): string {
  const method = configured || (typeof msg.topic === 'string' ? msg.topic.trim() : '');
  if (!method) throw badInput('no method: set one in the node or send it in msg.topic');
  if (!METHOD_NAME.test(method)) throw badInput(`"${method.slice(0, 64)}" is not an HTSP method name`);
  if (REFUSED_METHODS.has(method)) throw badInput(refusal(method));
  return method;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (Buffer.isBuffer(v)) return 'a buffer';
  return `a ${typeof v}`;
}

/**
 * The request fields: the node's fields overlaid with `msg.payload`, one level deep (a payload
 * field replaces the node's field of the same name). Throws `bad-input` for anything but objects.
 */
export function mergeFields(base: unknown, payload: unknown): HtsmsgMap {
  if (base !== undefined && !isPlainObject(base)) throw badInput(`the node's fields must be an object, got ${kindOf(base)}`);
  if (payload !== undefined && payload !== null && !isPlainObject(payload)) {
    throw badInput(`msg.payload must be an object of request fields (or absent), got ${kindOf(payload)}`);
  }
  const merged: Record<string, unknown> = { ...(base ?? {}), ...(payload ?? {}) };
  for (const [k, v] of Object.entries(merged)) {
    // JSON has no "absent"; null is the closest thing a flow can write for it.
    if (v === undefined || v === null) delete merged[k];
  }
  // The codec checks every value while encoding and rejects what HTSMSG cannot carry.
  return merged as HtsmsgMap;
}
