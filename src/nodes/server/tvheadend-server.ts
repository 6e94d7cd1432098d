/**
 * `tvheadend-server`: the config node that owns one HTSP session for all the nodes using it.
 *
 * The first user to register starts the session; every state change is pushed to all users; the
 * last user leaving because it was deleted stops it. Closing the config node always finishes
 * within `CLOSE_TIMEOUT_MS`, whatever the socket does.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HtspSession } from '../../htsp';
import { redact } from '../shared/errors';
import { sessionNodeStatus } from '../shared/status';
import { CLOSE_TIMEOUT_MS, settleWithin } from '../shared/timing';
import { SERVER_TYPE } from '../shared/types';
import type { NodeAPI, NodeDef, NodeStatus, ServerConfig, ServerCredentials, SessionStatus, StatusUser, TvheadendServerNode } from '../shared/types';
import { migrateServerConfig, sessionOptions } from './config';
import { registerAdminRoutes } from './routes';

type ServerNodeDef = NodeDef & Record<string, unknown>;

/** The node object while it is being built: the public fields are set once, then read-only. */
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function packageVersion(): string {
  try {
    // Same relative path from src/nodes/server (tests) and dist/nodes/server (installed).
    const pkg: unknown = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8'));
    if (pkg && typeof pkg === 'object' && 'version' in pkg && typeof pkg.version === 'string') return pkg.version;
  } catch {
    // A missing package.json only costs the version in the server's connection list.
  }
  return '0.0.0';
}

export = function register(RED: NodeAPI): void {
  const clientVersion = packageVersion();

  function TvheadendServer(this: Mutable<TvheadendServerNode>, def: ServerNodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const config: ServerConfig = migrateServerConfig(def);
    const session = new HtspSession(sessionOptions(config, node.credentials, clientVersion));
    const users = new Map<string, StatusUser>();
    let closed = false;
    let previous: SessionStatus['state'] = session.status.state;

    const statusNow = (): NodeStatus =>
      sessionNodeStatus(session.status, { serverName: session.serverInfo?.serverName, htspVersion: session.serverInfo?.htspVersion });
    let current = statusNow();

    const onState = (status: SessionStatus): void => {
      current = statusNow();
      for (const user of users.values()) user.status(current);
      logTransition(status);
      previous = status.state;
    };

    // One line per outage, not one per retry: a server that is down for an hour must not flood the log.
    const where = `${config.host}:${config.port}`;
    const logTransition = (status: SessionStatus): void => {
      if (status.state === previous) return;
      if (status.state === 'ready') {
        const info = session.serverInfo;
        node.log(`connected to ${where}${info ? ` (${info.serverName}, HTSP v${info.htspVersion})` : ''}`);
      } else if (status.state === 'auth-failed') {
        node.warn(`${where}: wrong user or password; not retrying until the node is deployed again`);
      } else if (status.state === 'disconnected' && status.error && (previous === 'ready' || status.attempt <= 1)) {
        node.warn(redact(`${where}: ${status.error.message}`, node.secrets()));
      }
    };
    session.on('state', onState);

    node.config = config;
    node.session = session;
    Object.defineProperty(node, 'currentStatus', { get: () => current, enumerable: false });

    node.secrets = (): string[] => [node.credentials?.username, node.credentials?.password].filter((s): s is string => !!s);

    node.register = (user: StatusUser): void => {
      if (closed) return;
      users.set(user.id, user);
      user.status(current);
      if (users.size === 1) session.start();
    };

    node.deregister = (user: StatusUser, removed: boolean): Promise<void> => {
      users.delete(user.id);
      if (removed && users.size === 0 && !closed) {
        return settleWithin(() => session.stop(), CLOSE_TIMEOUT_MS);
      }
      return Promise.resolve();
    };

    node.on('close', (_removed: boolean, done: () => void) => {
      closed = true;
      users.clear();
      settleWithin(() => session.stop(), CLOSE_TIMEOUT_MS).then(() => {
        session.off('state', onState);
        done();
      });
    });
  }

  RED.nodes.registerType<Mutable<TvheadendServerNode>, ServerNodeDef, object, ServerCredentials>(SERVER_TYPE, TvheadendServer, {
    credentials: {
      username: { type: 'text' },
      password: { type: 'password' },
    },
  });
  registerAdminRoutes(RED);
};
