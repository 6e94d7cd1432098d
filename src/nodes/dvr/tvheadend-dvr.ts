/**
 * `tvheadend-dvr`: records programmes and channels, changes, stops, cancels and deletes
 * recordings, lists them by status, and manages autorec and timerec rules — one action per message.
 */
import { epgSource, type EpgSource } from '../../htsp';
import { badInput, evaluateProperty, isPlainObject, linkServer, onInput, readyTimeoutMs, requireLink, toNodeError, whenReady } from '../shared';
import type { Node, NodeAPI, NodeStatus } from '../shared';
import { ACTIONS, CHANGE_WAIT_MS, messageParams, parseAction, runAction } from './actions';
import { DVR_TYPE, dvrSettings, type DvrNodeDef } from './settings';

export = function register(RED: NodeAPI): void {
  function TvheadendDvr(this: Node, def: DvrNodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const settings = dvrSettings(def);
    const { unknownAction } = settings;
    // Kept over every session status, so that the broken setting stays visible until fixed.
    const badActionStatus: NodeStatus | undefined = unknownAction ? { fill: 'red', shape: 'ring', text: `unknown action "${unknownAction}"` } : undefined;
    const link = linkServer(RED, node, def.server, badActionStatus ? { statusFor: () => badActionStatus } : {});
    if (badActionStatus) {
      node.status(badActionStatus);
      node.error(`unknown action "${unknownAction}" in the node's settings; choose one of ${ACTIONS.join(', ')} or "From the message"`);
    }

    // Fixed for the node's life: the server node's settings only change with a redeploy, which restarts this node too.
    let source: EpgSource | undefined;

    onInput(
      node,
      async (msg, send) => {
        if (unknownAction !== undefined) {
          throw badInput(`the node's action "${unknownAction}" is unknown; choose one of ${ACTIONS.join(', ')} or "From the message" in the node`);
        }
        const { server, session } = requireLink(link);
        const payload: unknown = msg.payload;
        const action = settings.action
          ? settings.action
          : isPlainObject(payload) && payload.action !== undefined
            ? parseAction(payload.action, 'msg.payload.action')
            : parseAction(msg.topic, 'msg.payload.action (or msg.topic)');
        const params = messageParams(payload);
        const channel = await evaluateProperty(RED, node, settings.channel, settings.channelType, msg, 'the channel');
        await whenReady(session, readyTimeoutMs(server));
        source ??= epgSource(session, server.config.epg, server.config.epgDays);
        const out = await runAction(
          { session, source, waitMs: CHANGE_WAIT_MS },
          action,
          params,
          { channel, configName: settings.configName, list: settings.list },
        );
        msg.payload = out.payload;
        // Only a stop of several recordings can half succeed; the stopped ones are in the payload.
        // Described as an error would be for a Catch node: the same code and scrubbed text.
        if (out.failed) {
          msg.failed = out.failed.map(({ error, ...f }) => {
            const e = toNodeError(error, server.secrets());
            return { ...f, code: e.code, message: e.message };
          });
        }
        send(msg);
      },
      { link },
    );
  }

  RED.nodes.registerType(DVR_TYPE, TvheadendDvr);
};
