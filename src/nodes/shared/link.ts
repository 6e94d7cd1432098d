/**
 * How a flow node attaches to its `tvheadend-server` config node.
 *
 * The config node pushes the session status to each registered user. The link sits between the
 * two so that an input error can take over the node's status for a while (red ring) and the
 * session status comes back on the next push or the next successful message.
 */
import { NodeError } from './errors';
import { NO_SERVER_STATUS } from './status';
import { isServerNode } from './types';
import type { HtspSession, Node, NodeAPI, NodeStatus, StatusUser, TvheadendServerNode } from './types';

export interface ServerLink {
  readonly server: TvheadendServerNode;
  readonly session: HtspSession;
  /** Shows a red ring with `text` until the next session status push or `clearError()`. */
  showError(text: string): void;
  /** Puts the last session status back if an error is being shown. */
  clearError(): void;
  /** Values that must never appear in a message, an error or a log line. */
  secrets(): string[];
}

/**
 * Registers `node` with the config node `serverId` and deregisters it when the node closes.
 * Returns `undefined` (and shows "no server configured") when `serverId` does not name a running
 * `tvheadend-server`; handlers should then fail every message with `requireLink`.
 */
export function linkServer(RED: NodeAPI, node: Node, serverId: string | undefined): ServerLink | undefined {
  const found = serverId ? RED.nodes.getNode(serverId) : undefined;
  if (!isServerNode(found)) {
    node.status(NO_SERVER_STATUS);
    return undefined;
  }
  const server = found;
  let sessionStatus: NodeStatus = {};
  let errorShown = false;
  const user: StatusUser = {
    id: node.id,
    status(status: NodeStatus) {
      sessionStatus = status;
      errorShown = false;
      node.status(status);
    },
  };
  server.register(user);
  node.on('close', (removed: boolean, done: () => void) => {
    server.deregister(user, removed).then(done, done);
  });
  return {
    server,
    session: server.session,
    showError(text: string) {
      errorShown = true;
      node.status({ fill: 'red', shape: 'ring', text });
    },
    clearError() {
      if (!errorShown) return;
      errorShown = false;
      node.status(sessionStatus);
    },
    secrets: () => server.secrets(),
  };
}

/** The link, or the error every message gets when the node has no server. */
export function requireLink(link: ServerLink | undefined): ServerLink {
  if (!link) throw new NodeError('disconnected', 'no Tvheadend server configured: select a tvheadend-server in the node');
  return link;
}
