/**
 * `tvheadend-call`: sends one HTSP request per message and puts the reply in `msg.payload`.
 *
 * Unknown method names are sent as they are, so that methods of newer servers work without an
 * update here; the server answers "Method not found", which reaches the flow as code `server`.
 * Only the handshake and subscription methods the session owns are refused before sending (see
 * `REFUSED_METHODS`).
 */
import { badInput, linkServer, onInput, readyTimeoutMs, requireLink, whenReady } from '../shared';
import type { Node, NodeAPI, NodeMessage } from '../shared';
import { CALL_TYPE, mergeFields, methodFor } from './request';
import type { CallNodeDef } from './request';

export = function register(RED: NodeAPI): void {
  function TvheadendCall(this: Node, def: CallNodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const configured = (def.method ?? '').trim();
    const fieldsType = def.fieldsType || 'json';
    const fieldsValue = def.fields ?? '';
    const timeoutS = Number(def.timeout);
    const callOpts = Number.isFinite(timeoutS) && timeoutS > 0 ? { timeoutMs: Math.round(timeoutS * 1000) } : {};

    // Static JSON is parsed once, so that a typo shows at deploy time and not on every message.
    let staticFields: unknown;
    let staticError: string | undefined;
    if (fieldsType === 'json') {
      try {
        staticFields = fieldsValue.trim() === '' ? undefined : (JSON.parse(fieldsValue) as unknown);
      } catch (err) {
        staticError = `the node's fields are not valid JSON: ${err instanceof Error ? err.message : String(err)}`;
      }
    }

    const evaluateFields = (msg: NodeMessage): Promise<unknown> => {
      if (fieldsType === 'json') {
        return staticError ? Promise.reject(badInput(staticError)) : Promise.resolve(staticFields);
      }
      if (fieldsValue.trim() === '' && fieldsType !== 'env') return Promise.resolve(undefined);
      return new Promise((resolve, reject) => {
        RED.util.evaluateNodeProperty(fieldsValue, fieldsType, node, msg, (err: Error | null, value: unknown) => {
          if (err) return reject(badInput(`cannot read the fields (${fieldsType} ${fieldsValue}): ${err.message}`));
          // Environment variables are text; the only useful text here is JSON.
          if (fieldsType !== 'env' || typeof value !== 'string') return resolve(value);
          if (value.trim() === '') return resolve(undefined);
          try {
            resolve(JSON.parse(value) as unknown);
          } catch {
            reject(badInput(`the environment variable ${fieldsValue} does not hold JSON fields`));
          }
        });
      });
    };

    const link = linkServer(RED, node, def.server);
    if (link && staticError) link.showError('invalid fields JSON');

    onInput(
      node,
      async (msg, send) => {
        const { server, session } = requireLink(link);
        const method = methodFor(configured, msg);
        const fields = mergeFields(await evaluateFields(msg), msg.payload);
        // Right after a deploy or during a reconnect the session is on its way to ready; the
        // wait is bounded by the timeout the request itself gets.
        await whenReady(session, callOpts.timeoutMs ?? readyTimeoutMs(server));
        const reply = await session.callRaw(method, fields, callOpts);
        msg.payload = reply;
        msg.topic = method;
        send(msg);
      },
      { link },
    );
  }

  RED.nodes.registerType(CALL_TYPE, TvheadendCall);
};
