/**
 * `tvheadend-subscription`: watches one channel live. Output 1 carries the subscription's
 * lifecycle and status; output 2 (only when "emit packets" is on) its media packets.
 *
 * The session owns the subscription's life across reconnects (it re-subscribes with a new id);
 * this node only shows it, rate-limits the chatty status messages and turns commands into
 * subscribe/unsubscribe. Without output 2 no packet listener exists, so the protocol library
 * counts and drops packets without decoding them.
 */
import type { HtspError, HtspSubscription, Packet, SubscribeOptions, SubscriptionStopInfo } from '../../htsp';
import { frameTypeLetter } from '../../htsp/messages';
import { badInput, ERROR_STATUS_TEXT, linkServer, onInput, requireLink, sendPlain, toNodeError } from '../shared';
import type { Node, NodeAPI, NodeMessage, NodeStatus, ServerLink } from '../shared';
import { parseCommand, parseSubscriptionSettings, sameOptions, SUBSCRIPTION_TYPE, type SubscriptionNodeDef } from './commands';

/** Close must not wait for an unanswered unsubscribe longer than this (Node-RED allows 15 s for all). */
const UNSUBSCRIBE_WAIT_MS = 2000;
/** Status texts are drawn on the canvas, which has room for about 20 characters. */
const MAX_STATUS_TEXT = 20;

interface Watching {
  sub: HtspSubscription;
  /** As asked for: id, name or number. */
  ref: number | string;
  /** What the status and messages call the channel. */
  label: string;
  options: SubscribeOptions;
  /** The command message, for errors that happen after it was handled. */
  msg: NodeMessage | undefined;
  lastId: number;
  started: boolean;
  /** The server's problem text from `subscriptionStatus`, or its stop reason. */
  problem: string | undefined;
  streamTypes: Map<number, string>;
  lastSent: { signal: number; queue: number };
}

function short(text: string): string {
  return text.length > MAX_STATUS_TEXT ? `${text.slice(0, MAX_STATUS_TEXT - 1)}…` : text;
}

/** A streaming message's fields without the routing ones. */
function fieldsOf(msg: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(msg)) {
    if (k === 'method' || k === 'subscriptionId' || v === undefined) continue;
    out[k] = v;
  }
  return out;
}

export = function register(RED: NodeAPI): void {
  function TvheadendSubscription(this: Node, def: SubscriptionNodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const settings = parseSubscriptionSettings(def as unknown as Record<string, unknown>);
    const twoOutputs = settings.packets;
    let watching: Watching | undefined;
    let closed = false;
    // Assigned once the config node is found; the status callbacks below may run before that.
    let link: ServerLink | undefined;

    const statusFor = (sessionStatus: NodeStatus): NodeStatus => {
      const w = watching;
      if (!w || !link) return sessionStatus;
      const state = link.session.state;
      if (state === 'auth-failed') return sessionStatus;
      switch (w.sub.state) {
        case 'running':
          // The server's problem text ("No free adapter") says more than the channel name.
          if (w.problem) return { fill: 'yellow', shape: 'ring', text: short(w.problem) };
          return { fill: 'green', shape: 'dot', text: short(`watching ${w.label}`) };
        case 'pending':
          if (state === 'ready' || state === 'syncing') {
            if (w.problem) return { fill: 'yellow', shape: 'ring', text: short(w.problem) };
            return { fill: 'yellow', shape: 'dot', text: short(`starting ${w.label}`) };
          }
          // Before the first start the session's own status ("connecting") says more.
          return w.started ? { fill: 'yellow', shape: 'ring', text: 'reconnecting' } : sessionStatus;
        case 'stopped':
          return { fill: 'yellow', shape: 'ring', text: short(`stopped: ${w.problem || w.label}`) };
        default:
          return sessionStatus;
      }
    };

    link = linkServer(RED, node, def.server, {
      statusFor,
      // Unsubscribe before leaving: the last user leaving may stop the session under it.
      beforeClose: () => {
        closed = true;
        const w = watching;
        watching = undefined;
        if (!w) return;
        return w.sub
          .unsubscribe()
          .catch(() => undefined)
          .finally(() => {
            w.sub.removeAllListeners();
            // Late events of an unsubscribed subscription are dropped, but must not throw.
            w.sub.on('error', () => undefined);
          });
      },
      beforeCloseMs: UNSUBSCRIBE_WAIT_MS,
    });

    const info = (w: Watching): Record<string, unknown> => {
      const channelId = w.sub.channelId || undefined;
      return { id: w.sub.id || w.lastId, channelId, channelName: w.label, channel: w.ref };
    };

    const sendLifecycle = (w: Watching, topic: string, payload: Record<string, unknown>): void => {
      if (closed) return;
      const msg: NodeMessage = { topic, payload, subscription: info(w) };
      sendPlain(node, twoOutputs ? [msg, null] : msg);
    };

    /** At most one message per kind and period: tuners report every second, for hours. */
    const sendLimited = (w: Watching, kind: 'signal' | 'queue', payload: Record<string, unknown>): void => {
      const now = Date.now();
      if (settings.rateLimitMs > 0 && now - w.lastSent[kind] < settings.rateLimitMs) return;
      w.lastSent[kind] = now;
      sendLifecycle(w, kind, payload);
    };

    const sendPacket = (w: Watching, p: Packet): void => {
      if (closed) return;
      const msg: NodeMessage = {
        topic: 'packet',
        payload: p.payload,
        stream: p.stream,
        streamType: w.streamTypes.get(p.stream),
        pts: p.pts,
        dts: p.dts,
        duration: p.duration,
        subscription: info(w),
      };
      const frametype = frameTypeLetter(p.frametype);
      if (frametype) msg.frametype = frametype;
      sendPlain(node, [null, msg]);
    };

    const reportError = (w: Watching, err: HtspError): void => {
      if (closed || !link) return;
      const e = toNodeError(err, link.secrets());
      link.showError(e.code === 'bad-input' ? 'unknown channel' : ERROR_STATUS_TEXT[e.code]);
      // After the command was handled: node.error with the message still reaches Catch nodes.
      if (w.msg) node.error(e, w.msg);
      else node.error(e);
    };

    const listen = (w: Watching): void => {
      const sub = w.sub;
      const mine = (): boolean => watching === w && !closed;
      sub.on('start', (start) => {
        if (!mine()) return;
        w.started = true;
        w.problem = undefined;
        w.lastId = sub.id;
        const ch = link?.session.cache.get('channel', sub.channelId);
        if (ch?.channelName) w.label = ch.channelName;
        w.streamTypes = new Map(start.streams.map((s) => [s.index, s.type]));
        sendLifecycle(w, 'start', { streams: start.streams, sourceinfo: start.sourceinfo, meta: start.meta });
        link?.refresh();
      });
      sub.on('status', (m) => {
        if (!mine()) return;
        if (sub.id) w.lastId = sub.id;
        w.problem = m.status || undefined;
        sendLifecycle(w, 'status', fieldsOf(m));
        link?.refresh();
      });
      sub.on('grace', (m) => {
        if (!mine()) return;
        if (sub.id) w.lastId = sub.id;
        sendLifecycle(w, 'grace', fieldsOf(m));
      });
      sub.on('stop', (stop: SubscriptionStopInfo) => {
        if (!mine()) return;
        if (stop.reason === 'server') w.problem = stop.status && stop.status !== 'OK' ? stop.status : stop.subscriptionError;
        sendLifecycle(w, 'stop', { ...stop });
        link?.refresh();
      });
      sub.on('signal', (m) => {
        if (mine()) sendLimited(w, 'signal', fieldsOf(m));
      });
      sub.on('queue', (m) => {
        if (mine()) sendLimited(w, 'queue', fieldsOf(m));
      });
      sub.on('descramble', (m) => {
        if (mine()) sendLifecycle(w, 'descrambling', fieldsOf(m));
      });
      sub.on('timeshift', (m) => {
        if (mine()) sendLifecycle(w, 'timeshift', fieldsOf(m));
      });
      sub.on('skip', (m) => {
        if (mine()) sendLifecycle(w, 'skip', fieldsOf(m));
      });
      sub.on('speed', (m) => {
        if (mine()) sendLifecycle(w, 'speed', fieldsOf(m));
      });
      sub.on('error', (err) => {
        if (!mine()) return;
        reportError(w, err);
      });
      if (twoOutputs) {
        sub.on('packet', (p) => {
          if (mine()) sendPacket(w, p);
        });
      }
    };

    /** Ends the current subscription; its 'stop' message is sent before it goes. */
    const stopWatching = async (): Promise<void> => {
      const w = watching;
      if (!w) return;
      // A subscription that never reached the server ends without a 'stop' of its own.
      const silent = w.sub.state !== 'closed' && w.sub.id === 0 && w.sub.state !== 'running';
      const done = w.sub.unsubscribe();
      if (silent) sendLifecycle(w, 'stop', { status: 'unsubscribed', reason: 'unsubscribed' });
      watching = undefined;
      link?.refresh();
      try {
        await done;
      } finally {
        w.sub.removeAllListeners();
        // Late events of an unsubscribed subscription are dropped, but must not throw.
        w.sub.on('error', () => undefined);
      }
    };

    const startWatching = async (ref: number | string, options: SubscribeOptions, msg: NodeMessage | undefined): Promise<void> => {
      const l = requireLink(link);
      const session = l.session;
      let target: number | string = ref;
      let label = String(ref);
      // Names and numbers are checked as soon as the channel list is known; before that the
      // session resolves them when it connects and reports an unknown one as an error.
      if (session.cache.hasSynced || session.state === 'ready') {
        const ch = session.findChannel(ref);
        if (!ch) throw badInput(`no channel ${JSON.stringify(ref)} on the server: give a channel id, its exact name or its number`);
        target = ch.channelId;
        label = ch.channelName || label;
        const w = watching;
        if (w && w.sub.state !== 'closed' && w.sub.channelId === ch.channelId && sameOptions(w.options, options)) {
          // Already watching exactly this: a repeated command must not restart the stream.
          w.msg = msg;
          return;
        }
      }
      await stopWatching();
      if (closed) return;
      const sub = session.subscribe(target, options);
      const w: Watching = {
        sub,
        ref,
        label,
        options,
        msg,
        lastId: sub.id,
        started: false,
        problem: undefined,
        streamTypes: new Map(),
        lastSent: { signal: 0, queue: 0 },
      };
      watching = w;
      listen(w);
      link?.refresh();
    };

    const linked = link;
    if (!linked) {
      onInput(node, () => {
        requireLink(linked);
      });
      return;
    }

    onInput(
      node,
      async (msg) => {
        const cmd = parseCommand(msg.payload, settings);
        if (cmd.action === 'unsubscribe') await stopWatching();
        else await startWatching(cmd.channel, cmd.options, msg);
      },
      { link: linked },
    );

    if (settings.channel !== '' && settings.autoStart) {
      startWatching(settings.channel, { ...settings.options }, undefined).catch((err: unknown) => {
        const e = toNodeError(err, linked.secrets());
        linked.showError(e.code === 'bad-input' ? 'unknown channel' : ERROR_STATUS_TEXT[e.code]);
        node.error(e);
      });
    }
  }

  RED.nodes.registerType(SUBSCRIPTION_TYPE, TvheadendSubscription);
};
