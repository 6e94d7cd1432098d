/**
 * Node-RED types used by every node in this package.
 *
 * `@types/node-red` describes the runtime API well enough; what it lacks (the shape of our own
 * config node, the `done` callback of an input handler) is declared here so that no node needs
 * `any`. Import Node-RED types from this module rather than from `node-red` directly, so that a
 * change of the upstream typings is absorbed in one place.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow, NodeStatus } from 'node-red';
import type { HtspSession, SessionStatus } from '../../htsp';

export type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow, NodeStatus };

/** The type name of the config node; flow nodes point at it with their `server` property. */
export const SERVER_TYPE = 'tvheadend-server';

/** `send` as handed to an input handler (Node-RED ≥ 1.0). */
export type SendFunction = (msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void;
/** `done` as handed to an input handler: with an error, Catch nodes fire. */
export type DoneFunction = (err?: Error) => void;

/**
 * Anything the config node can push a status to. A flow node satisfies it as it is; the
 * indirection exists so that helpers can intercept the pushes (see `linkServer`).
 */
export interface StatusUser {
  readonly id: string;
  status(status: NodeStatus): void;
}

/** Credentials of the config node. Never logged, never put in a message or an error. */
export interface ServerCredentials {
  username?: string;
  password?: string;
}

/** The config node's settings after migration (see `migrateServerConfig`), without credentials. */
export interface ServerConfig {
  version: number;
  name: string;
  host: string;
  port: number;
  clientName: string;
  epg: boolean;
  /** 0 = everything the server has. */
  epgDays: number;
  /** Seconds; 0 = no liveness ping. */
  pingInterval: number;
  /** Seconds, per request. */
  requestTimeout: number;
}

/** The running `tvheadend-server` config node, as flow nodes see it. */
export interface TvheadendServerNode extends Node<ServerCredentials> {
  readonly config: ServerConfig;
  /** One session per config node, shared by all its users. Started by the first `register`. */
  readonly session: HtspSession;
  /** The Node-RED status last pushed to users (what a new user is shown at once). */
  readonly currentStatus: NodeStatus;
  /**
   * Adds a user: it gets the current status at once and every change after. The first user
   * starts the session.
   */
  register(user: StatusUser): void;
  /**
   * Removes a user. When the last one leaves with `removed` (it was deleted, not just
   * restarted) the session is stopped; the promise settles when it is.
   */
  deregister(user: StatusUser, removed: boolean): Promise<void>;
  /** The user name and password, for `redact`: they must never reach a message, error or log. */
  secrets(): string[];
}

/** Type guard for `RED.nodes.getNode(id)` results. */
export function isServerNode(node: Node | null | undefined): node is TvheadendServerNode {
  return (
    !!node &&
    node.type === SERVER_TYPE &&
    typeof (node as Partial<TvheadendServerNode>).register === 'function' &&
    typeof (node as Partial<TvheadendServerNode>).session === 'object'
  );
}

export type { HtspSession, SessionStatus };
