/**
 * Maps the protocol session's state to the small coloured status under a node.
 *
 * Texts stay within about 20 characters because the editor draws them on the canvas; the
 * server dialog, which has room, shows the longer `sessionStateText`. They are plain English:
 * the editor looks status texts up in the node's catalog and falls back to the text itself.
 */
import type { NodeStatus, SessionStatus } from './types';

/** What the long `ready` text says about the server; taken from `session.serverInfo`. */
export interface StatusServerInfo {
  serverName?: string;
  htspVersion?: number;
}

/** HH:MM:SS in the runtime's local time zone, which is what the user reads the logs in. */
export function clockTime(epochMs: number): string {
  const d = new Date(epochMs);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

function syncText(sync: SessionStatus['sync']): string {
  if (!sync) return 'syncing';
  // Events dominate the burst by far, so they are the number that shows progress.
  if (sync.events > 0) return `syncing ${sync.events} events`;
  if (sync.channels > 0) return `syncing ${sync.channels} channels`;
  return 'syncing';
}

/**
 * "Tvheadend · HTSP 44": which server and protocol, in little room (a long server name is cut).
 * Without server information it is just "connected".
 */
function readyText(info: StatusServerInfo): string {
  if (!info.serverName) return 'connected';
  const name = info.serverName.length > 10 ? `${info.serverName.slice(0, 9)}…` : info.serverName;
  return info.htspVersion ? `${name} · HTSP ${info.htspVersion}` : name;
}

/** The Node-RED status for a session status. Pure: the same input gives the same output. */
export function sessionNodeStatus(status: SessionStatus, info: StatusServerInfo = {}): NodeStatus {
  switch (status.state) {
    case 'connecting':
      return {
        fill: 'yellow',
        shape: 'ring',
        text: status.attempt > 1 ? `connecting (try ${status.attempt})` : 'connecting',
      };
    case 'authenticating':
      return { fill: 'yellow', shape: 'ring', text: 'authenticating' };
    case 'syncing':
      return { fill: 'yellow', shape: 'dot', text: syncText(status.sync) };
    case 'ready':
      return { fill: 'green', shape: 'dot', text: readyText(info) };
    case 'auth-failed':
      return { fill: 'red', shape: 'ring', text: 'auth failed' };
    case 'disconnected':
      if (status.nextRetryAt !== undefined) {
        return { fill: 'red', shape: 'ring', text: `down, retry ${clockTime(status.nextRetryAt)}` };
      }
      if (status.error && status.error.code !== 'disconnected') return { fill: 'red', shape: 'ring', text: `down: ${status.error.code}` };
      if (status.error) return { fill: 'red', shape: 'ring', text: 'disconnected' };
      return { fill: 'grey', shape: 'ring', text: 'disconnected' };
    default:
      return assertNever(status.state);
  }
}

/** The session's state in a sentence, for the server dialog and the status route. */
export function sessionStateText(status: SessionStatus, info: StatusServerInfo = {}): string {
  switch (status.state) {
    case 'ready': {
      const name = info.serverName ? `connected to ${info.serverName}` : 'connected';
      return info.htspVersion ? `${name} (HTSP v${info.htspVersion})` : name;
    }
    case 'connecting':
      return status.attempt > 1 ? `connecting (attempt ${status.attempt})` : 'connecting';
    case 'disconnected': {
      const why = status.error ? `: ${status.error.code}` : '';
      return status.nextRetryAt !== undefined ? `disconnected${why}, next try at ${clockTime(status.nextRetryAt)}` : `disconnected${why}`;
    }
    default:
      return sessionNodeStatus(status).text ?? status.state;
  }
}

function assertNever(state: never): NodeStatus {
  return { fill: 'grey', shape: 'ring', text: String(state) };
}

/** The status shown when a flow node has no (or an unknown) config node selected. */
export const NO_SERVER_STATUS: NodeStatus = { fill: 'red', shape: 'ring', text: 'no server configured' };
