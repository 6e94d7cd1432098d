/** The status under the node, from the broker's and the session's state. */
import type { BridgeStatus, BrokerProblem } from '../../mqtt';
import type { NodeStatus } from '../shared/types';

const MAX_TEXT = 20;

function shorten(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text;
}

/** Why the broker said no, in the words a user would look up in the node's help. */
const REFUSED_TEXT: Readonly<Record<BrokerProblem, string>> = {
  credentials: 'broker auth failed',
  refused: 'broker refused',
  'tls-untrusted': 'TLS: cert untrusted',
  'tls-expired': 'TLS: cert expired',
  'tls-hostname': 'TLS: wrong host name',
  tls: 'TLS failed',
};

/** Texts stay short: the canvas has room for about 20 characters. */
export function mqttNodeStatus(bridge: BridgeStatus, session: NodeStatus): NodeStatus {
  switch (bridge.broker) {
    case 'refused':
      return { fill: 'red', shape: 'ring', text: bridge.problem ? REFUSED_TEXT[bridge.problem] : 'broker refused' };
    case 'disconnected':
      return { fill: 'red', shape: 'ring', text: 'broker offline' };
    case 'idle':
    case 'connecting':
      return { fill: 'yellow', shape: 'ring', text: 'broker connecting' };
    case 'stopped':
      return { fill: 'grey', shape: 'ring', text: 'stopped' };
    case 'connected':
      if (bridge.session === 'ready') return { fill: 'green', shape: 'dot', text: 'online' };
      return { fill: 'yellow', shape: 'dot', text: shorten(`offline: ${session.text ?? bridge.session}`) };
    default:
      return {};
  }
}

