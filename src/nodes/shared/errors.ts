/**
 * The errors flow nodes hand to `done(err)`, so that a Catch node sees `msg.error.code`.
 *
 * Node-RED builds `msg.error` from `String(err)` and the error's own `code`, `stack` and `cause`
 * properties; a `code` set here therefore reaches the flow. Everything that could carry a
 * secret (the protocol error's `reply`, `cause`, stack of a foreign error) is left behind.
 */
import { HtspError, callerErrorCode, type CallerErrorCode } from '../../htsp/errors';
import { HtsmsgError } from '../../htsp/codec';
import { redact } from '../../htsp/redact';

// Moved to the library (the MQTT bridge needs it too); still exported from here for the nodes.
export { redact };

/** The codes a flow can branch on. */
export type NodeErrorCode = CallerErrorCode;


export class NodeError extends Error {
  readonly code: NodeErrorCode;
  /** The HTSP method concerned, when there is one. */
  readonly method: string | undefined;
  constructor(code: NodeErrorCode, message: string, method?: string) {
    super(message);
    this.name = 'NodeError';
    this.code = code;
    this.method = method;
  }

  /** Node-RED puts `String(err)` into `msg.error.message`; without the class name it reads better. */
  override toString(): string {
    return this.message;
  }
}

/** Shorthand for the error every node throws when a message cannot be used. */
export function badInput(message: string): NodeError {
  return new NodeError('bad-input', message);
}

/** Short status texts for each code: the canvas has room for about 20 characters. */
export const ERROR_STATUS_TEXT: Readonly<Record<NodeErrorCode, string>> = {
  noaccess: 'no access',
  server: 'server error',
  timeout: 'timeout',
  disconnected: 'not connected',
  'bad-input': 'bad input',
};

/**
 * Converts anything thrown by a handler or by the protocol library into a `NodeError`.
 * `secrets` are removed from the message as a last line of defence.
 */
export function toNodeError(err: unknown, secrets: readonly (string | undefined)[] = []): NodeError {
  if (err instanceof NodeError) {
    return err.message === redact(err.message, secrets) ? err : new NodeError(err.code, redact(err.message, secrets), err.method);
  }
  if (err instanceof HtspError) {
    return new NodeError(callerErrorCode(err), redact(err.message, secrets), err.method);
  }
  if (err instanceof HtsmsgError) {
    // Raised while encoding the request: the fields cannot be sent as HTSMSG.
    return new NodeError('bad-input', redact(`cannot encode the request: ${err.message}`, secrets));
  }
  const message = err instanceof Error ? err.message : String(err);
  return new NodeError('server', redact(message, secrets));
}
