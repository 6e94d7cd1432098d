/**
 * `tvheadend-mqtt`: mirrors a Tvheadend server onto an MQTT broker, with Home Assistant
 * discovery and allow-listed commands. The work is done by `MqttBridge` (src/mqtt); this node
 * reads its settings, picks up the shared HTSP session and shows a combined status.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MqttBridge } from '../../mqtt';
import type { BrokerTls, Origin } from '../../mqtt';
import { redact } from '../shared/errors';
import { linkServer } from '../shared/link';
import { NO_SERVER_STATUS } from '../shared/status';
import { isServerNode } from '../shared/types';
import type { Node, NodeAPI, NodeDef } from '../shared/types';
import { channelSelection, defaultClientId, effectiveBaseTopic, migrateMqttConfig, MQTT_TYPE } from './config';
import type { MqttCredentials } from './config';
import { mqttNodeStatus } from './status';

/** Node-RED waits 15 s for all nodes; the bridge needs a moment to say `offline`. */
const CLOSE_TIMEOUT_MS = 3000;
/** The bridge's own stop is bounded by CLOSE_TIMEOUT_MS; this only guards against a stuck promise. */
const CLOSE_GUARD_MS = CLOSE_TIMEOUT_MS + 500;

type MqttNodeDef = NodeDef & Record<string, unknown>;

/** The core `tls-config` node, as far as this node uses it. */
interface TlsConfigNode {
  addTLSOptions(opts: Record<string, unknown>): Record<string, unknown>;
  /** False when its certificate files could not be read (it logs why itself). */
  valid?: boolean;
}

function isTlsNode(n: unknown): n is TlsConfigNode {
  return !!n && typeof (n as Partial<TlsConfigNode>).addTLSOptions === 'function';
}

function packageOrigin(): Origin {
  const origin: Origin = { name: 'node-red-contrib-tvheadend', sw: '0.0.0', url: 'https://flows.nodered.org/node/node-red-contrib-tvheadend' };
  try {
    // Same relative path from src/nodes/mqtt (tests) and dist/nodes/mqtt (installed).
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as Record<string, unknown>;
    if (typeof pkg.name === 'string') origin.name = pkg.name;
    if (typeof pkg.version === 'string') origin.sw = pkg.version;
    const repo = pkg.repository as { url?: unknown } | string | undefined;
    const url = typeof repo === 'string' ? repo : typeof repo?.url === 'string' ? repo.url : undefined;
    if (url) origin.url = url.replace(/^git\+/, '').replace(/\.git$/, '');
  } catch {
    // Without package.json HA only shows a less precise origin.
  }
  return origin;
}

function tlsFrom(node: TlsConfigNode): BrokerTls {
  const o = node.addTLSOptions({});
  const tls: BrokerTls = {};
  const bufOrText = (v: unknown): string | Buffer | undefined => (typeof v === 'string' || Buffer.isBuffer(v) ? v : undefined);
  const ca = bufOrText(o.ca);
  const cert = bufOrText(o.cert);
  const key = bufOrText(o.key);
  if (ca !== undefined) tls.ca = ca;
  if (cert !== undefined) tls.cert = cert;
  if (key !== undefined) tls.key = key;
  if (typeof o.passphrase === 'string') tls.passphrase = o.passphrase;
  if (typeof o.rejectUnauthorized === 'boolean') tls.rejectUnauthorized = o.rejectUnauthorized;
  if (typeof o.servername === 'string' && o.servername) tls.servername = o.servername;
  if (Array.isArray(o.ALPNProtocols)) tls.alpnProtocols = o.ALPNProtocols.filter((p): p is string => typeof p === 'string');
  return tls;
}

export = function register(RED: NodeAPI): void {
  const origin = packageOrigin();

  function TvheadendMqtt(this: Node, def: MqttNodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const config = migrateMqttConfig(def);
    const serverId = typeof def.server === 'string' ? def.server : '';
    const server = serverId ? RED.nodes.getNode(serverId) : undefined;
    if (!isServerNode(server)) {
      node.status(NO_SERVER_STATUS);
      return;
    }
    const creds: MqttCredentials = (node.credentials as MqttCredentials | undefined) ?? {};
    const secrets = (): string[] => [...server.secrets(), creds.username ?? '', creds.password ?? ''].filter((s) => s !== '');
    const serverName = server.config.name || server.name || server.config.host;
    let tls: BrokerTls | undefined;
    if (config.tls) {
      const tlsNode: unknown = RED.nodes.getNode(config.tls);
      const secure = /^(mqtts|wss):/i.test(config.broker);
      if (!isTlsNode(tlsNode)) {
        // Deleted or disabled: a broker with a public certificate still works without it.
        node.warn('the TLS configuration this node names does not exist (deleted or disabled?); connecting without it');
      } else if (!secure) {
        node.warn('the TLS configuration is not used: only mqtts:// and wss:// URLs use TLS');
      } else if (tlsNode.valid === false) {
        // Connecting without the CA or client certificate the user meant to give only fails later, less clearly.
        node.error('the TLS configuration is invalid (see its own error); not connecting');
        node.status({ fill: 'red', shape: 'ring', text: 'invalid TLS settings' });
        return;
      } else {
        tls = tlsFrom(tlsNode);
      }
    }

    let bridge: MqttBridge;
    try {
      bridge = new MqttBridge({
        session: server.session,
        broker: {
          url: config.broker,
          ...(creds.username ? { username: creds.username } : {}),
          ...(creds.username && creds.password ? { password: creds.password } : {}),
          clientId: config.clientId || defaultClientId(node.id),
          protocolVersion: config.protocol === '5' ? 5 : config.protocol === '4' ? 4 : 'auto',
          ...(tls ? { tls } : {}),
        },
        baseTopic: effectiveBaseTopic(config, serverName),
        discovery: config.discovery,
        discoveryPrefix: config.discoveryPrefix,
        channels: channelSelection(config),
        nowPlayingSensors: config.nowPlaying,
        serverStatus: config.serverStatus,
        allow: config.allow,
        origin,
        deviceName: `Tvheadend ${serverName}`,
        // Stable across redeploys and restarts (as for the client id): the bridge finds its note of
        // where it published before, and clears that place when the base topic or prefix changed.
        instanceId: node.id,
        secrets,
        log: (level, text) => {
          const line = redact(text, secrets());
          if (level === 'error') node.error(line);
          else if (level === 'warn') node.warn(line);
          else if (level === 'info') node.log(line);
          else node.debug(line);
        },
      });
    } catch (err) {
      node.error(redact(err instanceof Error ? err.message : String(err), secrets()));
      node.status({ fill: 'red', shape: 'ring', text: 'invalid settings' });
      return;
    }

    // Node-RED calls close handlers in the order they were added, synchronously: this one runs
    // before the link's `beforeClose`, which does not learn whether the node was deleted.
    node.on('close', (removed: boolean, done: () => void) => {
      // A deleted node's note would shield its place from other bridges' cleanups for ever.
      if (removed) bridge.forget();
      done();
    });
    const link = linkServer(RED, node, serverId, {
      statusFor: (sessionStatus) => mqttNodeStatus(bridge.status, sessionStatus),
      // The bridge publishes `offline` (and clears its note when deleted) through the broker
      // before the session may stop.
      beforeClose: () => {
        bridge.off('status', refresh);
        return bridge.stop(CLOSE_TIMEOUT_MS).catch(() => undefined);
      },
      beforeCloseMs: CLOSE_GUARD_MS,
    });
    const refresh = (): void => link?.refresh();
    bridge.on('status', refresh);
    bridge.start();
    refresh();
  }

  RED.nodes.registerType(MQTT_TYPE, TvheadendMqtt, {
    credentials: {
      username: { type: 'text' },
      password: { type: 'password' },
    },
  });
};
