/**
 * The one way out for messages of this package's nodes.
 *
 * Protocol values that JSON cannot carry (a `bigint` such as a recording's `fsid`, a UUID
 * object) are made plain here, on the way out, so that the debug sidebar, an HTTP response or
 * an MQTT publish downstream never fails on them. Only the properties a node fills with
 * protocol data are converted: the rest of a message belongs to the flow and may hold anything
 * (an HTTP request object, say) that must pass through untouched.
 */
import { toPlain } from '../../htsp';
import type { HtsmsgValue } from '../../htsp';
import type { Node, NodeMessage, SendFunction } from './types';

/** What `send` and `node.send` accept: one message, or one entry (message, list, null) per output. */
export type Outgoing = Parameters<SendFunction>[0];

const DATA_PROPERTIES = ['payload', 'previous'] as const;

/** `msg` with its data properties made plain; changes `msg` in place (it is the node's to send). */
export function plainMessage<M extends NodeMessage>(msg: M): M {
  const fields = msg as Record<string, unknown>;
  for (const key of DATA_PROPERTIES) {
    const value = fields[key];
    if (value === undefined || value === null) continue;
    const plain: unknown = toPlain(value as HtsmsgValue);
    if (plain !== value) fields[key] = plain;
  }
  return msg;
}

export function plainOutput(out: Outgoing): Outgoing {
  if (!Array.isArray(out)) return plainMessage(out);
  return out.map((port) => (port === null ? null : Array.isArray(port) ? port.map((m) => plainMessage(m)) : plainMessage(port)));
}

/** `node.send` for messages built outside an input handler (events, subscription lifecycle). */
export function sendPlain(node: Node, out: Outgoing): void {
  node.send(plainOutput(out));
}

/** Wraps the `send` Node-RED hands an input handler. */
export function plainSend(send: SendFunction): SendFunction {
  return (out) => send(plainOutput(out));
}
