/**
 * A server link whose status the node can take over.
 *
 * The shared `linkServer` shows the session's status as it is; a subscription node has more to
 * say ("watching Sim One HD", "reconnecting") and must unsubscribe before it leaves the session.
 * This is the same contract (`ServerLink`, so `onInput` works with it) with a `compose` hook that
 * turns the session's status into the node's, and a `beforeClose` step.
 */
import { isServerNode } from '../shared/types';
import { NO_SERVER_STATUS } from '../shared/status';
import type { ServerLink } from '../shared/link';
import type { Node, NodeAPI, NodeStatus, StatusUser } from '../shared/types';

export interface ComposedLink extends ServerLink {
  /** Draws the status again (call after the node's own state changed). */
  refresh(): void;
}

export interface ComposedLinkOptions {
  /** The node's status given the session's; called on every session push and `refresh()`. */
  compose(sessionStatus: NodeStatus): NodeStatus;
  /** Runs on close before the node deregisters from the config node (which may stop the session). */
  beforeClose(): Promise<void>;
}

export function linkServerComposed(RED: NodeAPI, node: Node, serverId: string | undefined, opts: ComposedLinkOptions): ComposedLink | undefined {
  const found = serverId ? RED.nodes.getNode(serverId) : undefined;
  if (!isServerNode(found)) {
    node.status(NO_SERVER_STATUS);
    return undefined;
  }
  const server = found;
  let sessionStatus: NodeStatus = server.currentStatus;
  let errorShown = false;
  let shown = '';

  const draw = (): void => {
    if (errorShown) return;
    const status = opts.compose(sessionStatus);
    // Packets and status messages call refresh() often; the editor only needs real changes.
    const key = `${status.fill ?? ''}|${status.shape ?? ''}|${status.text ?? ''}`;
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
    opts.beforeClose().then(leave, leave).then(done, done);
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
