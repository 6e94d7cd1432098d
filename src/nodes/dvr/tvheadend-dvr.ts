/**
 * `tvheadend-dvr`: records programmes and channels, stops, cancels and deletes recordings, lists
 * them by status, and manages autorec rules — one action per message.
 */
import { epgSource } from '../../htsp';
import { evaluateProperty, isPlainObject, linkServer, onInput, readyTimeoutMs, requireLink, whenReady } from '../shared';
import type { Node, NodeAPI } from '../shared';
import { CHANGE_WAIT_MS, messageParams, parseAction, runAction } from './actions';
import { DVR_TYPE, dvrSettings, type DvrNodeDef } from './settings';

export = function register(RED: NodeAPI): void {
  function TvheadendDvr(this: Node, def: DvrNodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const settings = dvrSettings(def);
    const link = linkServer(RED, node, def.server);

    onInput(
      node,
      async (msg, send) => {
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
        msg.payload = await runAction(
          { session, source: epgSource(session, server.config.epg, server.config.epgDays), waitMs: CHANGE_WAIT_MS },
          action,
          params,
          { channel, configName: settings.configName, list: settings.list },
        );
        send(msg);
      },
      { link },
    );
  }

  RED.nodes.registerType(DVR_TYPE, TvheadendDvr);
};
