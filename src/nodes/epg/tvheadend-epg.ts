/**
 * `tvheadend-epg`: answers EPG questions — now/next, a channel's schedule, searches — from the
 * server node's live cache, or by asking the server when the server node does not sync the EPG.
 */
import { epgSource, type EpgSource } from '../../htsp';
import { NodeError, badInput, evaluateProperty, linkServer, onInput, payloadParams, readyTimeoutMs, requireLink, whenReady } from '../shared';
import type { Node, NodeAPI } from '../shared';
import { answer, buildRequest } from './query';
import { EPG_TYPE, epgSettings, type EpgNodeDef } from './settings';

export = function register(RED: NodeAPI): void {
  function TvheadendEpg(this: Node, def: EpgNodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const { settings, problem } = epgSettings(def);
    const channelValue = def.channel ?? '';
    const channelType = def.channelType || 'str';
    const queryValue = def.query ?? '';
    const queryType = def.queryType || 'str';

    const link = linkServer(RED, node, def.server);
    if (link && problem) link.showError('invalid genre');
    // Fixed for the node's life: the server node's settings only change with a redeploy, which restarts this node too.
    let source: EpgSource | undefined;

    onInput(
      node,
      async (msg, send) => {
        const { server, session } = requireLink(link);
        if (problem) throw badInput(problem);
        const params = payloadParams(msg);
        const typed = {
          channel: await evaluateProperty(RED, node, channelValue, channelType, msg, 'the channel'),
          query: await evaluateProperty(RED, node, queryValue, queryType, msg, 'the search text'),
        };
        const request = buildRequest(settings, typed, params, msg.topic);
        await whenReady(session, readyTimeoutMs(server));
        // Without it the session holds no channels, and every channel would look unknown.
        if (session.rights && !session.rights.streaming) {
          throw new NodeError('noaccess', 'the Tvheadend user of the server node may not read the programme guide (no streaming right)');
        }
        source ??= epgSource(session, server.config.epg, server.config.epgDays);
        const result = await answer(session, source, request);
        msg.payload = result.events;
        if (result.channel) (msg as Record<string, unknown>).channel = result.channel;
        send(msg);
      },
      { link },
    );
  }

  RED.nodes.registerType(EPG_TYPE, TvheadendEpg);
};
