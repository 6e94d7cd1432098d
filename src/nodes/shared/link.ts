/**
 * How a flow node attaches to its `tvheadend-server` config node.
 *
 * The config node pushes the session status to each registered user. The link sits between the
 * two so that an input error can take over the node's status for a while (red ring), so that a
 * node can show more than the session's state (`statusFor`), and so that a node can finish its
 * own business with the session before it leaves (`beforeClose`).
 */
import { NodeError } from './errors';
import { NO_SERVER_STATUS } from './status';
import { settleWithin } from './timing';
import { isServerNode } from './types';
import type { HtspSession, Node, NodeAPI, NodeStatus, StatusUser, TvheadendServerNode } from './types';

export interface ServerLink {
  readonly server: TvheadendServerNode;
  readonly session: HtspSession;
  /** Shows a red ring with `text` until the next session status push, `clearError()` or `refresh()` after it. */
  showError(text: string): void;
  /** Puts the node's status back if an error is being shown. */
  clearError(): void;
  /** Draws the status again; for nodes whose `statusFor` depends on their own state. */
  refresh(): void;
  /** Values that must never appear in a message, an error or a log line. */
  secrets(): string[];
}

/**
 * The longest `beforeClose` may take. Node-RED gives all nodes together 15 s to close, and the
 * config node needs its own share after the users have left.
 */
export const BEFORE_CLOSE_MS = 2000;

export interface LinkOptions {
  /** The node's status given the session's; called on every session push and on `refresh()`. */
  statusFor?(sessionStatus: NodeStatus): NodeStatus;
  /**
   * Runs when the node closes, before it deregisters from the config node (which may stop the
   * session). Waited for at most `beforeCloseMs`; a failure does not stop the close.
   */
  beforeClose?(): Promise<void> | void;
  /** Default `BEFORE_CLOSE_MS`. */
  beforeCloseMs?: number;
}

function statusKey(s: NodeStatus): string {
  return `${s.fill ?? ''}|${s.shape ?? ''}|${s.text ?? ''}`;
}

/**
 * Registers `node` with the config node `serverId` and deregisters it when the node closes.
 * Returns `undefined` (and shows "no server configured") when `serverId` does not name a running
 * `tvheadend-server`; handlers should then fail every message with `requireLink`.
 */
export function linkServer(RED: NodeAPI, node: Node, serverId: string | undefined, opts: LinkOptions = {}): ServerLink | undefined {
  const found = serverId ? RED.nodes.getNode(serverId) : undefined;
  if (!isServerNode(found)) {
    node.status(NO_SERVER_STATUS);
    return undefined;
  }
  const server = found;
  const statusFor = opts.statusFor ?? ((s: NodeStatus): NodeStatus => s);
  let sessionStatus: NodeStatus = server.currentStatus;
  let errorShown = false;
  // What the editor shows now: nodes that refresh on every packet must not flood it with repeats.
  let shown = '';

  const draw = (): void => {
    if (errorShown) return;
    const status = statusFor(sessionStatus);
    const key = statusKey(status);
    if (key === shown) return;
    shown = key;
    node.status(status);
  };

  const user: StatusUser = {
    id: node.id,
    status(status: NodeStatus) {
      sessionStatus = status;
      errorShown = false;
      draw();
    },
  };
  server.register(user);
  node.on('close', (removed: boolean, done: () => void) => {
    const leave = (): Promise<void> => server.deregister(user, removed);
    const before = opts.beforeClose;
    const first = before ? settleWithin(() => Promise.resolve(before()), opts.beforeCloseMs ?? BEFORE_CLOSE_MS) : Promise.resolve();
    first.then(leave).then(done, done);
  });
  return {
    server,
    session: server.session,
    showError(text: string) {
      errorShown = true;
      shown = '';
      node.status({ fill: 'red', shape: 'ring', text });
    },
    clearError() {
      if (!errorShown) return;
      errorShown = false;
      draw();
    },
    refresh: draw,
    secrets: () => server.secrets(),
  };
}

/** The link, or the error every message gets when the node has no server. */
export function requireLink(link: ServerLink | undefined): ServerLink {
  if (!link) throw new NodeError('disconnected', 'no Tvheadend server configured: select a tvheadend-server in the node');
  return link;
}
