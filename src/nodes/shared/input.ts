/**
 * The one wrapper for every input handler of this package.
 *
 * A handler returns (or resolves) when the message is handled and throws (or rejects) when it
 * cannot be. The wrapper turns a failure into a red ring with a short text and `done(err)` with
 * a `NodeError`, so that Catch nodes fire with `msg.error.code`; a success calls `done()`, which
 * Complete nodes rely on. The handler's `send` makes protocol values JSON-safe (see `output.ts`).
 */
import { ERROR_STATUS_TEXT, toNodeError } from './errors';
import type { ServerLink } from './link';
import { plainSend } from './output';
import type { DoneFunction, Node, NodeMessageInFlow, SendFunction } from './types';

export type InputHandler = (msg: NodeMessageInFlow, send: SendFunction) => void | Promise<void>;

export interface InputOptions {
  /** The node's server link: errors are shown through it and secrets redacted with it. */
  link?: ServerLink | undefined;
}

export function onInput(node: Node, handler: InputHandler, opts: InputOptions = {}): void {
  const { link } = opts;
  node.on('input', (msg: NodeMessageInFlow, nodeSend: SendFunction, done: DoneFunction) => {
    const send = plainSend(nodeSend);
    const fail = (thrown: unknown): void => {
      const err = toNodeError(thrown, link ? link.secrets() : []);
      const text = ERROR_STATUS_TEXT[err.code];
      if (link) link.showError(text);
      else node.status({ fill: 'red', shape: 'ring', text });
      done(err);
    };
    let result: void | Promise<void>;
    try {
      result = handler(msg, send);
    } catch (thrown) {
      fail(thrown);
      return;
    }
    Promise.resolve(result).then(() => {
      link?.clearError();
      done();
    }, fail);
  });
}
